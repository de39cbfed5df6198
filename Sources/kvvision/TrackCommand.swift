import Foundation
import KVVision

/// `kvvision track INPUT`: who is who in a video, frame by frame, as JSON Lines (or MOT text, or
/// track events). Parses arguments and runs the library's `StreamPipeline`.
enum TrackCommand: Command {
    static let name = "track"
    static let summary = "track objects in a video and print JSON Lines (or MOT text / events)"
    static let help = """
    Usage: kvvision track INPUT --detections DET.txt [--model FILE|none] [OPTIONS]

    Tracks the objects of INPUT (a video file, an FFmpeg URL such as rtsp://…, or - for stdin)
    and writes, frame by frame, each object's id, class, score and box in source pixels.
    Output records follow docs/schema.json: a "stream" record, one "frame" record per analysed
    frame, and an "end" record (counters, and why the stream ended).

    Until the default model ships, detections come from a file: --detections takes a MOTChallenge
    det.txt (frame,-1,x,y,w,h,score[,class], frames 1-based; any detector's output). With a ViT
    checkpoint (--model FILE, plain timm or kvvision) appearance for re-identification is the
    encoder's tokens pooled in each box; with --model none it is a colour histogram of each box.

    Options:
      --detections FILE    external detections (MOT det.txt)
      --model FILE|none    ViT checkpoint (default: the installed default model)
      --out FILE           output file (default: stdout)
      --format F           jsonl (default) | mot (frame,id,x,y,w,h,score,-1,-1,-1) | events (new/update/end)
      --every K            analyse every K-th decoded frame (default 1)
      --max-frames N       stop after N analysed frames
      --input-size WxH     encoder input size (default: the model's trained size)
      --tracker FILE       tracker settings as JSON (snake_case keys, see docs/cli.md)
      --threads N          threads of this stream (decoder and encoder; default 1)
      --timings            add per-stage milliseconds to the end record (not reproducible)
      --progress P         auto (default: on a terminal) | always | never: frames and frames/s on stderr

    Exit codes: 0 the input was read to its end; 1 failure (one line on stderr) — a damaged or
    truncated input first delivers every decodable frame, then ends with an "end" record whose
    reason is "error"; 64 bad usage.
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let detections = try args.option("--detections")
        let model = try args.option("--model")
        let outPath = try args.option("--out")
        let format = try args.option("--format", expected: "jsonl, mot or events") { OutputFormat(rawValue: $0) } ?? .jsonl
        let every = try args.int("--every", in: 1...1_000_000) ?? 1
        let maxFrames = try args.int("--max-frames", in: 0...Int.max)
        let inputSize = try args.size("--input-size")
        let trackerPath = try args.option("--tracker")
        let threads = try args.int("--threads", in: 1...256) ?? 1
        let timings = args.flag("--timings")
        let progress = try args.option("--progress", expected: "auto, always or never") { ["auto", "always", "never"].contains($0) ? $0 : nil } ?? "auto"
        for unsupported in ["--window", "--kv-policy", "--kv-storage", "--annotate"] where try args.option(unsupported) != nil {
            throw UsageError("\(unsupported) needs a model with temporal heads or annotation support, which this build does not have yet")
        }
        let input = try args.positional("INPUT (a video file, URL, or - for stdin)")
        try args.finish()

        var options = TrackOptions(input: input)
        options.model = model
        options.detections = detections
        options.every = every
        options.maxFrames = maxFrames
        options.inputSize = inputSize.map { [$0.height, $0.width] }
        options.threads = threads
        options.recordTimings = timings
        if let trackerPath {
            guard let data = FileManager.default.contents(atPath: trackerPath) else { throw UsageError("--tracker \(trackerPath): cannot read the file") }
            do {
                options.tracker = try JSONDecoder().decode(TrackerConfig.self, from: data)
            } catch {
                throw UsageError("--tracker \(trackerPath): not a tracker settings JSON object (\(error))")
            }
        }
        let output = try TextOutput.file(outPath ?? "-")
        let pipeline = try options.makePipeline(sink: format.makeWriter(output))
        let show = progress == "always" || (progress == "auto" && Console.stderrIsTerminal)
        if show {
            let start = Date()
            pipeline.onFrame = { n in
                guard n % 10 == 0 else { return }
                let fps = Double(n) / max(Date().timeIntervalSince(start), 1e-6)
                let line = "track: \(n) frames, \(String(format: "%.1f", fps)) frames/s"
                if Console.stderrIsTerminal { Console.progress(line) } else { Console.err(line) }
            }
        }
        let end = try pipeline.run()
        if show { Console.endProgress() }
        if let error = end.error {
            Console.err("kvvision: error: \(error) (after \(end.framesAnalysed) analysed frames)")
            return ExitCode.failure
        }
        return ExitCode.success
    }
}
