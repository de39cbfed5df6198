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
/// Lanes: with more than one `Lane` (each its own detector/appearance stage objects and compute
/// threads, sharing the one temporal model's stream state, as `ModelSession.makeLane` gives),
/// `run()` prepares several frames at once — decode (one at a time, in order), encoder, det and
/// appearance heads on each lane's own threads — and runs the rest (temporal heads, tracker,
/// records) one frame at a time in frame order (`LaneScheduler`). Each frame is computed exactly
/// as one lane would compute it, so the records are the same for any lane count; a frame's
/// stage times are added when its turn comes, so with lanes they sum to more than the wall time.
///
/// Thread-safety: not thread-safe; one thread calls `run()` (with lanes, it runs lane 0 and
/// starts one thread per other lane, all joined before `run` returns). Distinct pipelines are
/// independent.
public final class StreamPipeline {
    /// One lane's per-frame stages (see the type's notes on lanes).
    public struct Lane {
        public let detector: any Detector
        public let appearance: (any AppearanceModel)?
        public let temporal: (any TemporalModel)?
        public init(detector: any Detector, appearance: (any AppearanceModel)?, temporal: (any TemporalModel)?) {
            self.detector = detector
            self.appearance = appearance
            self.temporal = temporal
        }
    }

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
    /// The lanes (at least one); lane 0's stages are `detector`, `appearance` and `temporal`.
    public let lanes: [Lane]
    public var detector: any Detector { lanes[0].detector }
    public var appearance: (any AppearanceModel)? { lanes[0].appearance }
    public var temporal: (any TemporalModel)? { lanes[0].temporal }
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

    public convenience init(provider: any FrameProvider, detector: any Detector, appearance: (any AppearanceModel)?,
                            temporal: (any TemporalModel)? = nil, tracker: any ObjectTracker, sink: any RecordSink,
                            settings: Settings = Settings(), clock: StreamClock = StreamClock()) {
        self.init(provider: provider, lanes: [Lane(detector: detector, appearance: appearance, temporal: temporal)],
                  tracker: tracker, sink: sink, settings: settings, clock: clock)
    }

    /// A pipeline over `lanes` (one or more; an empty list is taken as a programming error).
    public init(provider: any FrameProvider, lanes: [Lane], tracker: any ObjectTracker, sink: any RecordSink,
                settings: Settings = Settings(), clock: StreamClock = StreamClock()) {
        precondition(!lanes.isEmpty, "a pipeline needs at least one lane")
        self.provider = provider
        self.lanes = lanes
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
        let (errorText, counters) = lanes.count == 1 ? (try runSerial(), nil) : try LaneScheduler(pipeline: self).run()
        let c = counters ?? provider.counters
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

    /// The frame loop of one lane; returns the text of the error that ended the stream, if any.
    private func runSerial() throws(PipelineError) -> String? {
        while true {
            let t0 = Self.now()
            let frame: VideoFrame?
            do {
                frame = try provider.next()
            } catch {
                return error.description
            }
            add(\.decode, since: t0)
            guard let frame else { return nil }
            do {
                try analyse(frame)
            } catch {
                if let text = try settle(error) { return text }
            }
        }
    }

    /// What a frame's error does to the stream: a transient one is counted (nil: go on), an
    /// output error is thrown, any other ends the stream (its text returned).
    func settle(_ error: PipelineError) throws(PipelineError) -> String? {
        if error.isTransient {
            framesFailed += 1
            return nil
        }
        if case .output = error { throw error }
        return error.description
    }

    /// Runs the stages on one frame and writes its record.
    func analyse(_ frame: VideoFrame) throws(PipelineError) {
        try finish(frame, prepare(frame, lane: lanes[0]), lane: lanes[0])
    }

    /// A frame's per-frame stages, as a lane computes them before the frame's turn.
    struct Prepared {
        var detections: [Detection] = []
        var embeddings: [[Float]]?
        /// Nanoseconds of the frame's decode (set by the caller), encoder and heads.
        var decode: UInt64 = 0, encode: UInt64 = 0, heads: UInt64 = 0
        /// The error that stopped the frame's stages, if any.
        var error: PipelineError?
    }

    /// Encoder, appearance and detection stages of `frame` on `lane` (touches only the lane's
    /// stage objects: lanes may prepare at the same time).
    func prepare(_ frame: VideoFrame, lane: Lane) -> Prepared {
        var p = Prepared()
        var t = Self.now()
        do {
            if let appearance = lane.appearance {
                try appearance.prepare(frame)
                let heads = appearance.headNanoseconds, now = Self.now()
                let spent = now &- t
                p.encode = spent > heads ? spent - heads : 0
                p.heads = heads
                t = now
            }
            p.detections = try lane.detector.detect(frame, tokens: lane.appearance?.tokens)
            p.embeddings = lane.appearance?.embeddings(for: p.detections.map(\.box), in: frame)
            p.heads &+= Self.now() &- t
        } catch {
            p.error = error
        }
        return p
    }

    /// The rest of a frame, in frame order: its stage times are counted, then the temporal heads,
    /// tracker and output run and its record is written (throws the frame's error, if any).
    func finish(_ frame: VideoFrame, _ p: Prepared, lane: Lane) throws(PipelineError) {
        timings.decode &+= p.decode
        timings.encode &+= p.encode
        timings.heads &+= p.heads
        if let error = p.error { throw error }
        let detections = p.detections, embeddings = p.embeddings
        let temporal = lane.temporal
        var t = Self.now()
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
    private func add(_ stage: WritableKeyPath<StageTimings, UInt64>, since t0: UInt64) -> UInt64 {
        let t = Self.now()
        timings[keyPath: stage] &+= t &- t0
        return t
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}
