import Foundation

/// One stream's analysis in `kvvision serve`: the same stages `kvvision track` runs with a
/// tracking model (`TrackOptions.makePipeline`: a `ModelSession` over the shared `TrackingModel`,
/// a `Tracker` with the model's tracker defaults, a counter `StreamClock`), writing JSON Lines to
/// the stream's `LineFileSink`. One lane: all the stream's `threads` work on each frame (`track`
/// runs one lane per thread by default; the records are the same either way).
///
/// Records (docs/schema.json), complete lines, one `write(2)` per frame:
/// - on each connection: `gap` (after an outage: stream-clock `from`/`to`, reason, connection),
///   then `stream` (URL, source size, fps, model, connection number);
/// - per analysed frame: `frame`, whose `frame` and `pts` are the supervisor's stream clock
///   (`StreamPosition.frame`/`.time`: the decoder's index and pts on the first connection,
///   continued after the last ones on a reconnect) and whose `position` is the pipeline's
///   counter clock (analysed frames, never restarting);
/// - on finish: `end` (`frames_decoded`: frames the supervisor read; `frames_skipped`: read but
///   not analysed, i.e. left out by `fps`, dropped from the full queue or discarded at stop;
///   `reason` `cancelled` for a stop, `end_of_file`, or `error` with the error; `corrupt` is 0,
///   the decoder's counts are per connection). A stream that never connected writes nothing.
///
/// So when nothing is dropped, the first connection's `frame` records are those of
/// `kvvision track` on the same frames. The tracker lives as long as the stream: track IDs go
/// on across reconnects and are never reused. An outage does not advance `position` (the gap
/// record and the times say how long it was); tracks not seen again age out as usual.
///
/// An output that cannot be written (a missing directory) loses that frame's record (the
/// supervisor counts and logs the error) but not the `stream`/`gap` records, which are kept
/// (at most 64) and written before the next record that gets through.
///
/// Thread-safety: `connected`, `analyze`, `finish` from the supervisor's analysis thread;
/// `reopenOutputs` from any thread (the `LineFileSink` serialises it with writes).
public final class PipelineAnalyzer: StreamAnalyzer, @unchecked Sendable {
    public let name: String
    public let url: String
    public let model: TrackingModel
    public let output: LineFileSink
    private let pipeline: StreamPipeline
    private let writer: Writer
    private let provider: Placeholder
    private var framesFailed = 0
    private var connections = 0

    /// An analyzer of `stream` writing to `outputPath`, over the shared `model`, with `threads`
    /// compute threads of its own. Throws when the model cannot run this stream's settings
    /// (`window` settings other than the model's own, errors naming `key`).
    public init(stream: StreamConfig, key: String = "stream", outputPath: String, model: TrackingModel, threads: Int) throws(ServeError) {
        try Self.checkWindow(stream.window, model: model, key: "\(key).window")
        name = stream.name
        url = stream.url
        self.model = model
        output = LineFileSink(path: outputPath)
        writer = Writer(file: output)
        provider = Placeholder(source: stream.url)
        var settings = StreamPipeline.Settings()
        if case let .every(n) = stream.rate { settings.every = n }
        settings.model = model.config.name
        settings.modelHash = model.hash
        settings.inputSize = model.config.imageSize
        do throws(PipelineError) {
            let session = try ModelSession(model: model, context: ComputeContext(threads: threads))
            let tracker: Tracker
            do { tracker = try Tracker(config: model.tracker) } catch { throw PipelineError.tracking(error) }
            pipeline = StreamPipeline(provider: provider, detector: session,
                                      appearance: BlendedAppearance.wrapping(session, colorWeight: model.tracker.colorWeight), temporal: session,
                                      tracker: tracker, sink: writer, settings: settings)
        } catch {
            throw .model(path: model.path, message: error.description)
        }
    }

    public func connected(_ connection: StreamConnection) throws {
        connections += 1
        provider.size = (connection.width ?? 0, connection.height ?? 0)
        provider.fps = connection.fps
        if let gap = connection.gap {
            writer.header(.gap(GapRecord(from: gap.from, to: gap.to, reason: gap.reason.rawValue, connection: connection.number)))
        }
        let s = pipeline.settings
        writer.header(.stream(StreamRecord(source: url, width: connection.width ?? 0, height: connection.height ?? 0, fps: connection.fps,
                                           model: s.model, modelHash: s.modelHash, inputSize: s.inputSize, every: s.every,
                                           window: nil, kvPolicy: nil, kvStorage: nil, detections: pipeline.detector.origin,
                                           connection: connection.number)))
        try writer.flushHeaders()
    }

    public func analyze(_ frame: VideoFrame, at position: StreamPosition) throws -> FrameAnalysis {
        var placed = frame  // the pixels are shared, not copied
        placed.index = position.frame
        placed.pts = position.time
        do {
            try pipeline.analyse(placed)
        } catch {
            if error.isTransient { framesFailed += 1 }
            throw ServeError.analysis(stream: name, message: error.description)
        }
        let tracker = pipeline.tracker
        return FrameAnalysis(activeTracks: tracker.tracks.filter { $0.state == .confirmed }.count, tracksStarted: tracker.lastID)
    }

    public func finish(_ summary: StreamSummary) {
        defer { output.close() }
        guard connections > 0 else { return }  // never connected: no `stream` record, so no `end` either
        let c = summary.counters
        let reason = switch summary.reason {
        case .stopped: "cancelled"
        case .endOfFile: "end_of_file"
        case .failed: "error"
        }
        let end = EndRecord(framesDecoded: c.framesRead, framesAnalysed: pipeline.framesAnalysed,
                            framesSkipped: c.framesSkipped + c.framesDropped + c.framesDiscarded, corrupt: 0, framesFailed: framesFailed,
                            reason: reason, error: summary.reason == .failed ? (summary.detail ?? "failed") : nil,
                            tracks: pipeline.tracker.lastID)
        try? writer.write(.end(end))
    }

    public func reopenOutputs() throws { try output.reopen() }

    /// Frames analysed so far (analysis thread).
    public var framesAnalysed: Int { pipeline.framesAnalysed }

    /// The tracking model runs its trained windows; settings that ask for others are refused.
    static func checkWindow(_ w: StreamWindowSettings, model: TrackingModel, key: String) throws(ServeError) {
        let frames = [model.asso.config.window, model.act.config.window]
        let why = "this model runs its trained windows only (association \(frames[0]), action \(frames[1]) frames, "
            + "\(model.maxObjects) objects, fifo, f32); leave window out"
        if let f = w.frames, !frames.allSatisfy({ $0 == f }) { throw .invalidConfig(key: "\(key).frames", reason: "\(f): " + why) }
        if let m = w.maxObjects, m != model.maxObjects { throw .invalidConfig(key: "\(key).max_objects", reason: "\(m): " + why) }
        if let p = w.policy, p != .fifo { throw .invalidConfig(key: "\(key).policy", reason: why) }
        if let s = w.storage, s != .f32 { throw .invalidConfig(key: "\(key).storage", reason: why) }
    }

    /// The pipeline's frame provider: the supervisor reads the frames, so this only describes the
    /// stream (URL, size, fps of the current connection) and is never read.
    final class Placeholder: FrameProvider {
        let source: String
        var size = (width: 0, height: 0)
        var fps: Double?
        init(source: String) { self.source = source }
        var sourceSize: (width: Int, height: Int) { size }
        func next() throws(PipelineError) -> VideoFrame? { nil }
        var counters: (decoded: Int, skipped: Int, corrupt: Int) { (0, 0, 0) }
        var endReason: String? { nil }
    }

    /// Records onto the `LineFileSink`: headers (`stream`, `gap`) wait until written, and go out
    /// in the same `write(2)` as the next record.
    final class Writer: RecordSink {
        let file: LineFileSink
        private var pending: [OutputRecord] = []
        static let maxPending = 64
        init(file: LineFileSink) { self.file = file }

        func header(_ record: OutputRecord) {
            pending.append(record)
            if pending.count > Self.maxPending { pending.removeFirst(pending.count - Self.maxPending) }
        }

        func flushHeaders() throws(ServeError) {
            guard !pending.isEmpty else { return }
            try file.write(pending.map { $0.jsonLine() + "\n" }.joined())
            pending.removeAll()
        }

        func write(_ record: OutputRecord) throws(OutputError) {
            let text = (pending + [record]).map { $0.jsonLine() + "\n" }.joined()
            do {
                try file.write(text)
            } catch let .output(path, message) {
                throw .writeFailed(path: path, reason: message)
            } catch {
                throw .writeFailed(path: file.path, reason: error.description)
            }
            pending.removeAll()
        }
    }
}
