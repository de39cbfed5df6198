import Foundation

/// Runs a tracking model's detection head over a stream and writes its raw detections as
/// MOTChallenge `det.txt` — `frame,-1,x,y,w,h,score,class` per detection, frames 1-based, boxes in
/// source pixels (2 decimals), score with 4 decimals, the class name in column 8 — so any external
/// tracker (or `kvvision track --detections`) can consume them. Every detection the head keeps
/// (score ≥ `det.min_score`, at most `det.top_k` per frame) is written, or those ≥ `minScore`.
///
/// Input errors after frames were delivered end the run with `Summary.error` set (the lines so far
/// are complete and flushed per frame); output errors are thrown.
///
/// Thread-safety: one thread runs an exporter; the model is shared.
public final class DetectionExporter {
    /// Frames analysed, detections written, and the input error that ended the run early.
    public struct Summary: Sendable, Equatable {
        public var frames = 0
        public var detections = 0
        public var error: String?
    }

    let provider: MediaFrameProvider
    let session: ModelSession
    let minScore: Double
    /// Analysed frames to expect, when the input's container says (progress display).
    public var expectedFrames: Int? { provider.expectedFrames }
    /// Called after each frame with the number analysed so far (progress display).
    public var onFrame: ((Int) -> Void)?

    /// Opens `input` for `model` (frames decoded at the model's size), `threads` for decoder and model.
    public init(input: String, model: TrackingModel, every: Int = 1, maxFrames: Int? = nil, threads: Int = 1,
                minScore: Double = 0) throws(PipelineError) {
        guard every >= 1 else { throw .invalidSetting(key: "every", reason: "must be ≥ 1, got \(every)") }
        guard (0...1).contains(minScore) else { throw .invalidSetting(key: "min_score", reason: "must be in 0...1, got \(minScore)") }
        var media = FrameSourceOptions(every: every, maxFrames: maxFrames)
        media.width = model.config.imageSize[1]
        media.height = model.config.imageSize[0]
        media.threads = threads
        provider = try MediaFrameProvider(input, options: media)
        session = try ModelSession(model: model, context: ComputeContext(threads: threads))
        self.minScore = minScore
    }

    /// Writes every frame's detections to `output` (one write per frame).
    public func run(output: TextOutput) throws(PipelineError) -> Summary {
        var summary = Summary()
        var text = ""
        while true {
            let frame: VideoFrame?
            do { frame = try provider.next() } catch {
                summary.error = error.description
                break
            }
            guard let frame else { break }
            try session.prepare(frame)
            text.removeAll(keepingCapacity: true)
            for d in try session.detect(frame, tokens: nil) where d.score >= minScore {
                let b = d.box
                text += "\(frame.index + 1),-1,\(JSONText.format(b.x, decimals: 2)),\(JSONText.format(b.y, decimals: 2)),"
                text += "\(JSONText.format(b.w, decimals: 2)),\(JSONText.format(b.h, decimals: 2)),\(JSONText.format(d.score, decimals: 4)),\(d.label ?? "-1")\n"
                summary.detections += 1
            }
            if !text.isEmpty { do { try output.write(text) } catch { throw .output(error) } }
            summary.frames += 1
            onFrame?(summary.frames)
        }
        return summary
    }
}
