import Foundation
import KVVision

/// `kvvision bench track`: end-to-end `track` speed on a video — frames/s, milliseconds per stage
/// per frame (median over runs), and peak RSS.
enum BenchTrackCommand: Command {
    static let name = "track"
    static let summary = "end-to-end track frames/s, per-stage ms per frame, peak RSS"
    static let help = """
    Usage: kvvision bench track INPUT [--model FILE|none] [--detections DET.txt] [--runs N] [--json]
                                [--threads N] [--lanes L] [--decoder-threads N] [--precision P] [--every K] [--max-frames N] [--window N]
                                [--kv-policy P] [--kv-storage S] [--tracker FILE] [--input-size WxH]

    Runs the whole `track` pipeline (decode, encoder, heads, temporal windows, tracker, JSON Lines
    written to /dev/null) over INPUT N times (default 3) and reports the median frames/s, the
    median milliseconds per analysed frame of each stage (decode, encode, heads, temporal,
    tracking, output), the encoder's share of the stages' time within each run (median),
    the same model's encoder alone on as many frames right after each run (the video's first
    frame, same threads and precision; the median of the per-run ratios track / encoder alone is the figure to quote on a
    machine whose speed drifts between separate commands) and the peak resident memory. With
    several lanes the encoder alone runs both ways — all threads on one frame at a time, and one
    frame per lane at once — and the faster is the one compared. The pipeline options are
    `kvvision track`'s (see its --help); --runs N (default 3) and --json are this command's.
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let shared = try PipelineArguments(&args)
        let runs = try args.int("--runs", in: 1...100) ?? 3
        let json = args.flag("--json")
        let input = try args.positional("INPUT")
        try args.finish()
        var options = shared.options(input: input)
        options.recordTimings = true
        let threads = shared.threads, model = shared.model
        // One model for every run and for the encoder-alone pass paired with each run.
        let (vit, tracking) = try options.loadModel()
        let encoder = tracking?.encoder ?? vit
        // The encoder alone: every thread on one frame at a time, and with several lanes also one
        // frame per lane at once.
        var whole: EncoderAlone?, laned: EncoderAlone?
        if let encoder, input != "-" {  // stdin can be read once only
            // Its input: the video's first frame at the model's size, encoded from its bytes as
            // `track` encodes every frame (`VisionTransformer.encode(rgb:…)`).
            let h = encoder.config.imageSize[0], w = encoder.config.imageSize[1]
            let source = try FrameSource(input, options: FrameSourceOptions(width: w, height: h))
            guard let first = try source.next() else { throw PipelineError.invalidSetting(key: "input", reason: "\(input) has no frame") }
            whole = try EncoderAlone(encoder: encoder, rgb: first.pixels, threads: [threads])
            let lanes = options.laneCount(trackingModel: tracking != nil)
            if lanes > 1 { laned = try EncoderAlone(encoder: encoder, rgb: first.pixels, threads: TrackOptions.laneThreads(threads, lanes: lanes)) }
        }
        var fps: [Double] = [], encoderFps: [Double] = [], lanedEncoderFps: [Double] = [], ratios: [Double] = []
        var stages: [String: [Double]] = [:]
        var encodeShares: [Double] = []
        var frames = 0, lanesUsed = 1
        for _ in 0..<runs {
            let sink = JSONLinesWriter(try TextOutput.discarding())
            let pipeline = try options.makePipeline(sink: sink, sharedModel: vit, sharedTrackingModel: tracking)
            lanesUsed = pipeline.lanes.count
            var end: EndRecord?
            let seconds = try BenchStatistics.time { end = try pipeline.run() }
            frames = end?.framesAnalysed ?? 0
            fps.append(Double(frames) / max(seconds, 1e-9))
            // The same model's encoder alone, as many frames, right after: a ratio that a machine
            // whose speed drifts between separate commands does not skew.
            if let whole, frames > 0 {
                var alone = Double(frames) / max(try whole.seconds(frames: frames), 1e-9)
                if let laned {
                    let lanedFps = Double(frames) / max(try laned.seconds(frames: frames), 1e-9)
                    lanedEncoderFps.append(lanedFps)
                    alone = max(alone, lanedFps)
                }
                encoderFps.append(alone)
                ratios.append(fps[fps.count - 1] / encoderFps[encoderFps.count - 1])
            }
            let timings = end?.timings ?? [:]
            for (k, v) in timings { stages[k, default: []].append(v / Double(max(frames, 1))) }
            let total = timings.values.reduce(0, +)
            if total > 0, let encode = timings["encode"] { encodeShares.append(encode / total) }
        }
        let medianStages = stages.mapValues(BenchStatistics.median)
        let peak = ProcessMemory.peakResidentBytes
        if json {
            try Console.json(["frames": Double(frames), "runs": Double(runs), "threads": Double(threads), "lanes": Double(lanesUsed),
                              "frames_per_second": BenchStatistics.median(fps),
                              "peak_rss_mib": Double(peak ?? 0) / 1_048_576,
                              "encode_share": encodeShares.isEmpty ? 0 : BenchStatistics.median(encodeShares),
                              "encoder_alone_fps": encoderFps.isEmpty ? 0 : BenchStatistics.median(encoderFps),
                              "encoder_alone_laned_fps": lanedEncoderFps.isEmpty ? 0 : BenchStatistics.median(lanedEncoderFps),
                              "track_over_encoder": ratios.isEmpty ? 0 : BenchStatistics.median(ratios)].merging(medianStages.map { ("ms_\($0.key)", $0.value) }) { a, _ in a })
        } else {
            Console.out("track \(input): \(frames) frames, \(runs) runs, \(threads) thread(s), \(lanesUsed) lane(s), model \(model ?? "default")")
            Console.out(String(format: "  %.1f frames/s (median)", BenchStatistics.median(fps)))
            for k in ["decode", "encode", "heads", "temporal", "tracking", "output"] where medianStages[k] != nil {
                Console.out(String(format: "  %-8@ %.3f ms/frame", k as NSString, medianStages[k] ?? 0))
            }
            if !lanedEncoderFps.isEmpty {
                Console.out(String(format: "  encoder alone, one frame per lane at once: %.1f frames/s (median)", BenchStatistics.median(lanedEncoderFps)))
            }
            if !ratios.isEmpty {
                Console.out(String(format: "  encoder alone %.1f frames/s (median, the faster way): track / encoder alone %.2f (median of the runs' ratios, each paired with its run)",
                                   BenchStatistics.median(encoderFps), BenchStatistics.median(ratios)))
            }
            if !encodeShares.isEmpty {
                Console.out(String(format: "  encode   %.1f %% of the stages' time (median; the rest is what track adds to the encoder)",
                                   100 * BenchStatistics.median(encodeShares)))
            }
            Console.out("  peak RSS \(BenchStatistics.mib(peak))")
        }
        return ExitCode.success
    }
}

/// The encoder alone over one or more lanes: one state and context per lane, each encoding its
/// share of the frames at the same time as the others (one lane: all its threads on each frame).
///
/// Thread-safety: `seconds` runs one lane on the calling thread, several each on a thread of its
/// own (as `track`'s lanes run), each touching only its `Lane` object, and joins them; not reentrant.
final class EncoderAlone: @unchecked Sendable {
    final class Lane {
        let context: ComputeContext
        var state: EncoderState
        var failure: Error?
        init(context: ComputeContext, state: EncoderState) { self.context = context; self.state = state }
    }
    let encoder: VisionTransformer
    /// The frame's RGB bytes at the model's size.
    let rgb: [UInt8]
    let lanes: [Lane]

    init(encoder: VisionTransformer, rgb: [UInt8], threads: [Int]) throws {
        self.encoder = encoder
        self.rgb = rgb
        let h = encoder.config.imageSize[0], w = encoder.config.imageSize[1]
        lanes = try threads.map { Lane(context: ComputeContext(threads: $0), state: try encoder.makeState(height: h, width: w)) }
        for lane in lanes { for _ in 0..<3 { try encode(lane) } }  // warm-up
    }

    private func encode(_ lane: Lane) throws {
        try encoder.encode(rgb: rgb, width: lane.state.width, height: lane.state.height, state: &lane.state, context: lane.context)
    }

    /// Wall seconds to encode `frames` frames over the lanes (lane k takes frames k, k + lanes, …).
    func seconds(frames: Int) throws -> Double {
        let n = lanes.count
        if n == 1 {
            let lane = lanes[0]
            return try BenchStatistics.time { for _ in 0..<frames { try encode(lane) } }
        }
        let done = DispatchSemaphore(value: 0)
        let t = BenchStatistics.time {
            for k in 0..<n {
                let thread = Thread { [self] in
                    let lane = lanes[k]
                    do {
                        for _ in stride(from: k, to: frames, by: n) { try encode(lane) }
                    } catch { lane.failure = error }
                    done.signal()
                }
                thread.stackSize = 1 << 20
                thread.start()
            }
            for _ in 0..<n { done.wait() }
        }
        if let failure = lanes.lazy.compactMap(\.failure).first { throw failure }
        return t
    }
}
