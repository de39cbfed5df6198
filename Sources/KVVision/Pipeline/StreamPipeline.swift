import Foundation

/// Nanoseconds a pipeline spent per stage: `decode` (frame provider), `encode` (the encoder),
/// `heads` (detection and appearance heads, or a detections file), `temporal` (association and
/// action heads with their windows), `tracking` (the tracker), `output` (records and annotation).
///
/// Thread-safety: a value type owned by one pipeline.
public struct StageTimings: Sendable, Equatable {
    public var decode: UInt64 = 0, encode: UInt64 = 0, heads: UInt64 = 0, temporal: UInt64 = 0, tracking: UInt64 = 0, output: UInt64 = 0
    public init() {}
    /// Milliseconds per stage by name (the `end` record's `timings`).
    public var milliseconds: [String: Double] {
        ["decode": Double(decode) / 1e6, "encode": Double(encode) / 1e6, "heads": Double(heads) / 1e6,
         "temporal": Double(temporal) / 1e6, "tracking": Double(tracking) / 1e6, "output": Double(output) / 1e6]
    }
}

/// One stream's analysis: frames → (encoder/appearance) → detections → tracker → records.
///
/// Owns everything per stream: the frame provider, the stages' scratch (the appearance stage's
/// encoder state), the tracker, the counters and the `StreamClock`; the model inside the stages is
/// shared and immutable, so several pipelines can run in one process at once, each on its own
/// thread with its own `ComputeContext` (threads; no shared lock between streams).
///
/// `run()` writes the `stream` record, one `frame` record per delivered frame, and the `end`
/// record. A transient error (`PipelineError.isTransient`) skips the frame (counted); an input
/// error after frames were delivered (a damaged or truncated file, a timeout) ends the stream with
/// an `end` record whose `reason` is `error` and whose `error` says why, and `run` returns it (the
/// caller decides the exit code); an output error is thrown (nothing more can be written).
///
/// Thread-safety: not thread-safe; one thread runs a pipeline. Distinct pipelines are independent.
public final class StreamPipeline {
    /// Settings fixed for the run.
    public struct Settings: Sendable {
        /// Analyse every k-th decoded frame (for the `stream` record; the provider applies it).
        public var every: Int = 1
        /// Model name, file hash and encoder input size, for the `stream` record.
        public var model: String?
        public var modelHash: String?
        public var inputSize: [Int]?
        /// Temporal window frames, KV policy and storage, for the `stream` record (tracking models).
        public var window: Int?
        public var kvPolicy: String?
        public var kvStorage: String?
        /// Include per-stage timings in the `end` record (they differ between runs).
        public var recordTimings = false
        public init() {}
    }

    public let provider: any FrameProvider
    public let detector: any Detector
    public let appearance: (any AppearanceModel)?
    public let temporal: (any TemporalModel)?
    public private(set) var tracker: any ObjectTracker
    public let sink: any RecordSink
    public let settings: Settings
    public private(set) var clock: StreamClock
    /// Frames analysed and frames skipped by transient errors so far.
    public private(set) var framesAnalysed = 0
    public private(set) var framesFailed = 0
    /// Time spent per stage so far.
    public private(set) var timings = StageTimings()
    /// Called after each analysed frame with the number analysed so far (progress display).
    public var onFrame: ((Int) -> Void)?
    /// Analysed frames to expect, when the provider knows (progress display).
    public var expectedFrames: Int? { (provider as? MediaFrameProvider)?.expectedFrames }
    /// Annotated video output (`--annotate`), fed every analysed frame and finished with the stream.
    public var annotation: AnnotatedVideo?

    public init(provider: any FrameProvider, detector: any Detector, appearance: (any AppearanceModel)?,
                temporal: (any TemporalModel)? = nil, tracker: any ObjectTracker, sink: any RecordSink,
                settings: Settings = Settings(), clock: StreamClock = StreamClock()) {
        self.provider = provider
        self.detector = detector
        self.appearance = appearance
        self.temporal = temporal
        self.tracker = tracker
        self.sink = sink
        self.settings = settings
        self.clock = clock
    }

    /// Runs the stream to its end and returns the `end` record (already written).
    public func run() throws(PipelineError) -> EndRecord {
        let size = provider.sourceSize
        try write(.stream(StreamRecord(source: provider.source, width: size.width, height: size.height, fps: provider.fps,
                                       model: settings.model, modelHash: settings.modelHash, inputSize: settings.inputSize,
                                       every: settings.every, window: settings.window, kvPolicy: settings.kvPolicy, kvStorage: settings.kvStorage,
                                       detections: detector.origin, connection: 1)))
        var errorText: String?
        while true {
            let t0 = Self.now()
            let frame: VideoFrame?
            do {
                frame = try provider.next()
            } catch {
                errorText = error.description
                break
            }
            add(\.decode, since: t0)
            guard let frame else { break }
            do {
                try analyse(frame)
            } catch let error where error.isTransient {
                framesFailed += 1
            } catch {
                if case .output = error { throw error }
                errorText = error.description
                break
            }
        }
        let c = provider.counters
        let end = EndRecord(framesDecoded: c.decoded, framesAnalysed: framesAnalysed, framesSkipped: c.skipped,
                            corrupt: c.corrupt, framesFailed: framesFailed,
                            reason: errorText == nil ? (provider.endReason ?? "end_of_file") : "error",
                            error: errorText, tracks: tracker.lastID,
                            timings: settings.recordTimings ? timings.milliseconds : nil)
        try write(.end(end))
        do { try sink.finish() } catch { throw .output(error) }
        try annotation?.finish()
        return end
    }

    /// Runs the stages on one frame and writes its record.
    func analyse(_ frame: VideoFrame) throws(PipelineError) {
        var t = Self.now()
        if let appearance {
            try appearance.prepare(frame)
            let heads = appearance.headNanoseconds
            t = add(\.encode, since: t, minus: heads)
            timings.heads &+= heads
        }
        let detections = try detector.detect(frame, tokens: appearance?.tokens)
        let embeddings = appearance?.embeddings(for: detections.map(\.box), in: frame)
        t = add(\.heads, since: t)
        let position = clock.next(pts: frame.pts)
        let associations = try temporal?.associate(detections, candidates: tracker.tracks, position: position)
        t = add(\.temporal, since: t)
        let tracks: [Track]
        do {
            tracks = try tracker.update(position: position, detections: detections, appearances: embeddings, associations: associations,
                                         bounds: frame.sourceBounds)
        } catch { throw .tracking(error) }
        t = add(\.tracking, since: t)
        let actions = try temporal?.observe(tracker.tracks, detections: detections, position: position)
        t = add(\.temporal, since: t)
        let objects = tracks.map { tr -> TrackedObject in
            let state: TrackedObject.State = switch tr.state {
            case .tentative: .tentative
            case .lost, .removed: .lost
            case .confirmed: .confirmed
            }
            return TrackedObject(id: tr.id, class: tr.label, score: tr.matchedNow ? tr.detection.score : 0,
                                 box: tr.matchedNow ? tr.detection.box : tr.predictedBox, state: state,
                                 action: tr.matchedNow ? actions?[tr.key] : nil)
        }
        try write(.frame(FrameRecord(frame: frame.index, pts: frame.pts, position: position, objects: objects)))
        try annotation?.add(frame, objects: objects)
        add(\.output, since: t)
        framesAnalysed += 1
        onFrame?(framesAnalysed)
    }

    private func write(_ record: OutputRecord) throws(PipelineError) {
        do { try sink.write(record) } catch { throw .output(error) }
    }

    @discardableResult
    private func add(_ stage: WritableKeyPath<StageTimings, UInt64>, since t0: UInt64, minus: UInt64 = 0) -> UInt64 {
        let t = Self.now()
        let spent = t &- t0
        timings[keyPath: stage] &+= spent > minus ? spent - minus : 0
        return t
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}
