import Foundation

/// One stream's use of a `TrackingModel`: its encoder and head states, its two temporal windows
/// (association keys, action K/V) and each track's last observation. It is the pipeline's
/// detector, appearance model and temporal model at once.
///
/// Per frame (the order `StreamPipeline` calls it in):
/// 1. `prepare`: normalise, encode once, run `det` (maps, peaks);
/// 2. `detect`: the decoded detections, boxes mapped from model to source pixels;
/// 3. `embeddings`: `e_app` of each box (kept for the tokens), returned at unit length for the
///    tracker's re-identification;
/// 4. `associate`: query tokens (`e_app ‖ e_mot` without a previous observation) read the
///    association window → P(track | detection) for every live track (by `Track.key`);
/// 5. `observe`: after the tracker, each matched track's token (`e_app ‖ e_mot` against its last
///    observation) is written to both windows under its key, and the act head returns its action
///    (argmax, with its softmax probability). Every frame is written, tracked or not. A model whose
///    act head has a change input also gets, per matched track, how much the box's grid samples
///    changed since the track's last observation (`makeChanges`); each live track keeps its last
///    grid samples (9 · app_channels floats) for that.
///
/// Boxes handed in from elsewhere (`--detections` with a model) work the same way: their class
/// index is the position of their label in `class_names` (none: no class bit set).
///
/// Lanes (`makeLane`): sessions made from one share its stream state — the two windows and the
/// per-track memory (`StreamState`) — and each has its own frame scratch (encoder, det and tok
/// states) and `ComputeContext`, so that `StreamPipeline` can prepare several frames at once and
/// run steps 4–5 in frame order, one lane at a time.
///
/// Invariants: buffers are sized on the first frame and reused; the per-track memory holds only
/// live tracks (pruned every frame). Thread-safety: one pipeline thread; the model is shared.
/// Lanes of one session may `prepare` (steps 1–3) concurrently; `associate` and `observe` of any
/// of them must be serialised by the caller (they share the stream state).
public final class ModelSession: Detector, AppearanceModel, TemporalModel {
    /// The stream's temporal window settings (both heads' windows).
    public struct Windows: Sendable, Equatable {
        /// Frames resident (default: the model's `asso.window` / `act.window`).
        public var frames: Int?
        public var policy: KVWindowPolicy = .fifo
        public var storage: KVStorageFormat = .f32
        public init(frames: Int? = nil, policy: KVWindowPolicy = .fifo, storage: KVStorageFormat = .f32) {
            self.frames = frames; self.policy = policy; self.storage = storage
        }
    }

    public let model: TrackingModel
    public let windows: Windows
    let context: ComputeContext
    var encoderState: EncoderState
    var detState = DetectionHead.State()
    var tokState = TokenHead.State()
    /// The stream state shared by a session and its lanes: both windows and the track memory.
    final class StreamState {
        var asso: AssociationHead.State
        var act: ActionHead.State
        /// Each live track's memory, by `Track.key`.
        var memory: [Int: TrackMemory] = [:]
        init(asso: AssociationHead.State, act: ActionHead.State) { self.asso = asso; self.act = act }
    }
    let stream: StreamState
    var motionInputs = Tensor(shape: [0])
    var queryTokens = Tensor(shape: [0])
    var trackTokens = Tensor(shape: [0])
    var probabilities = Tensor(shape: [0])
    /// e_app rows of the last `embeddings` call.
    var appearanceRows = Tensor(shape: [0])
    var changeInputs = Tensor(shape: [0])
    var modelBoxes: [Box] = []
    var ownDetections: [Detection] = []
    var geometry: FrameGeometry?
    var prepared = false
    /// Nanoseconds of the last `prepare` spent after the encoder (det head and its peak decoding, plus the det stem that runs before it).
    public private(set) var headNanoseconds: UInt64 = 0
    /// What the session keeps of a live track between frames: its last written observation.
    struct TrackMemory {
        /// Box in model pixels and stream position of the observation.
        var box: Box
        var position: Int
        /// The box's grid samples (`9 · app_channels` floats; empty unless the act head reads changes).
        var features: [Float]
    }
    /// Each live track's memory, by `Track.key` (the stream state's).
    var memory: [Int: TrackMemory] {
        get { stream.memory }
        _modify { yield &stream.memory }
    }
    /// Floats of grid samples kept per track: `g² · app_channels` when the act head reads changes, else 0.
    private var keptFeatures: Int {
        model.act.changeInputs > 0 ? (model.act.changeInputs - 1) * model.tok.config.appChannels : 0
    }

    public convenience init(model: TrackingModel, context: ComputeContext, windows: Windows = Windows()) throws(PipelineError) {
        let stream: StreamState
        do {
            stream = StreamState(
                asso: try model.asso.makeState(maxObjects: model.maxObjects, frames: windows.frames, policy: windows.policy, storage: windows.storage),
                act: try model.act.makeState(maxObjects: model.maxObjects, frames: windows.frames, policy: windows.policy, storage: windows.storage))
        } catch { throw .temporal(error) }
        try self.init(model: model, context: context, windows: windows, stream: stream)
    }

    private init(model: TrackingModel, context: ComputeContext, windows: Windows, stream: StreamState) throws(PipelineError) {
        self.model = model
        self.windows = windows
        self.context = context
        self.stream = stream
        let h = model.config.imageSize[0], w = model.config.imageSize[1]
        do {
            encoderState = try model.encoder.makeState(height: h, width: w)
        } catch { throw .model(error) }
    }

    /// Another lane of this stream: its own frame scratch and `context`, this session's windows and
    /// track memory (see the type's notes on lanes).
    public func makeLane(context: ComputeContext) throws(PipelineError) -> ModelSession {
        try ModelSession(model: model, context: context, windows: windows, stream: stream)
    }

    public var origin: String { "model" }
    /// Frames of the action window (what the `stream` record reports as `window`).
    public var windowFrames: Int { stream.act.temporal.window.config.window }
    /// Bytes held by the two windows and their scratch.
    public var windowBytes: Int { stream.asso.allocatedBytes + stream.act.allocatedBytes }
    public var tokens: Tensor? { prepared ? encoderState.tokens : nil }

    public func prepare(_ frame: VideoFrame) throws(PipelineError) {
        prepared = false
        headNanoseconds = 0
        let h = model.config.imageSize[0], w = model.config.imageSize[1]
        guard frame.width == w, frame.height == h else {
            throw .frameFailed(stage: "encode", frame: frame.index, reason: "frame is \(frame.width)x\(frame.height), the model expects \(w)x\(h)")
        }
        let raw: [HeadDetection]
        do {
            // The det stem first, while the frame's bytes are in cache; its time is the heads',
            // not the encoder's. Both read the bytes: the encoder unfolds its patches from them,
            // and only an f32 first stem conv gets a normalised image (in the det state).
            let stemStart = DispatchTime.now().uptimeNanoseconds
            try model.det.stem(rgb: frame.pixels, state: &detState, context: context)
            let stemNanoseconds = DispatchTime.now().uptimeNanoseconds &- stemStart
            try model.encoder.encode(rgb: frame.pixels, width: w, height: h, state: &encoderState, context: context)
            let encoded = DispatchTime.now().uptimeNanoseconds
            defer { headNanoseconds = stemNanoseconds &+ (DispatchTime.now().uptimeNanoseconds &- encoded) }
            try model.det.forward(tokens: encoderState.tokens, state: &detState, context: context)
            raw = try model.det.decode(&detState)
        } catch { throw .model(error) }
        let g = frame.geometry
        geometry = g
        let names = model.classNames
        ownDetections.removeAll(keepingCapacity: true)
        for d in raw {
            let b = d.box
            let box = Box(x: (b.x - Double(g.offsetX)) / g.scaleX, y: (b.y - Double(g.offsetY)) / g.scaleY,
                          w: b.w / g.scaleX, h: b.h / g.scaleY)
            ownDetections.append(Detection(box: box, score: Double(d.score), label: names[d.classIndex]))
        }
        prepared = true
    }

    public func detect(_ frame: VideoFrame, tokens: Tensor?) throws(PipelineError) -> [Detection] {
        guard prepared else { throw .frameFailed(stage: "detect", frame: frame.index, reason: "the frame was not prepared") }
        return ownDetections
    }

    public func embeddings(for boxes: [Box], in frame: VideoFrame) -> [[Float]] {
        guard prepared, (try? computeAppearance(boxes, geometry: frame.geometry)) != nil else {
            return boxes.map { _ in [] }
        }
        let d = model.tok.config.appDim
        return boxes.indices.map { i in
            var v = Array(appearanceRows.storage[(i * d)..<((i + 1) * d)])
            var s: Float = 0
            for x in v { s += x * x }
            if s > 0 { let inv = 1 / s.squareRoot(); for j in v.indices { v[j] *= inv } }
            return v
        }
    }

    /// e_app of `boxes` (source pixels) into `appearanceRows`; remembers their model-pixel boxes.
    private func computeAppearance(_ boxes: [Box], geometry g: FrameGeometry) throws(PipelineError) {
        modelBoxes.removeAll(keepingCapacity: true)
        for b in boxes {
            modelBoxes.append(Box(x: b.x * g.scaleX + Double(g.offsetX), y: b.y * g.scaleY + Double(g.offsetY),
                                  w: b.w * g.scaleX, h: b.h * g.scaleY))
        }
        do { try model.tok.appearance(boxes: modelBoxes, features: detState.features, state: &tokState, context: context) } catch { throw .model(error) }
        appearanceRows.assign(from: tokState.appearance)
    }

    /// Makes sure `appearanceRows`/`modelBoxes` describe `detections` (the pipeline normally
    /// called `embeddings` with exactly their boxes).
    private func ensureAppearance(_ detections: [Detection], position: Int) throws(PipelineError) {
        guard let g = geometry else { throw .frameFailed(stage: "associate", frame: position, reason: "no prepared frame") }
        if modelBoxes.count != detections.count || appearanceRows.shape.first != detections.count {
            try computeAppearance(detections.map(\.box), geometry: g)
        }
    }

    /// Writes row `row` of `out` (`[n, token_dim]`): `e_app` row `app` ‖ e_mot of `motion` row.
    private func classIndex(_ d: Detection) -> Int { d.label.flatMap { model.classNames.firstIndex(of: $0) } ?? -1 }

    /// Tokens of `rows` (detection indices) with their previous observations → `out` `[rows, T]`.
    private func makeTokens(_ detections: [Detection], rows: [Int], previous: [TokenHead.Previous?], into out: inout Tensor) throws(PipelineError) {
        let tok = model.tok, a = tok.config.appDim, m = tok.config.motDim, t = tok.config.tokenDim
        motionInputs.resize([rows.count, tok.config.motInputs])
        for (r, k) in rows.enumerated() {
            tok.motionInputs(box: modelBoxes[k], score: Float(detections[k].score), classIndex: classIndex(detections[k]),
                             previous: previous[r], row: r, into: &motionInputs)
        }
        do { try tok.motion(inputs: motionInputs, state: &tokState, context: context) } catch { throw .model(error) }
        out.resize([rows.count, t])
        for (r, k) in rows.enumerated() {
            for j in 0..<a { out.storage[r * t + j] = appearanceRows.storage[k * a + j] }
            for j in 0..<m { out.storage[r * t + a + j] = tokState.motion.storage[r * m + j] }
        }
    }

    /// The act head's change inputs of `matched` (detection `rows`) → `changeInputs` `[m, g² + 1]`:
    /// each box's grid samples against its track's last written ones (`ActionHead.writeChange`;
    /// zeros for a track without a last observation, or seen at this position already).
    /// The grid samples are `tokState.features` (`[n, g²·C]`), written by `computeAppearance` for
    /// this frame's detections, as `appearanceRows` is.
    private func makeChanges(_ matched: [Track], rows: [Int], position: Int) -> Tensor {
        let c = model.tok.config.appChannels, f = keptFeatures
        changeInputs.resize([matched.count, model.act.changeInputs])
        for (r, t) in matched.enumerated() {
            let last = memory[t.key].flatMap { $0.position < position && $0.features.count == f ? $0.features : nil }
            ActionHead.writeChange(current: tokState.features, row: rows[r], previous: last, channels: c, into: &changeInputs, outRow: r)
        }
        return changeInputs
    }

    public func associate(_ detections: [Detection], candidates: [Track], position: Int) throws(PipelineError) -> AssociationProbabilities? {
        let keys = candidates.filter { $0.state != .removed }.map(\.key)
        guard !detections.isEmpty, !keys.isEmpty else { return nil }
        try ensureAppearance(detections, position: position)
        try makeTokens(detections, rows: Array(detections.indices), previous: [TokenHead.Previous?](repeating: nil, count: detections.count),
                       into: &queryTokens)
        do {
            try model.asso.probabilities(&stream.asso, queryTokens: queryTokens, candidates: keys, into: &probabilities)
        } catch { throw .temporal(error) }
        let m = keys.count
        var values = [Double](repeating: 0, count: detections.count * m)
        for i in detections.indices { for c in 0..<m { values[i * m + c] = Double(probabilities.storage[i * (m + 1) + c]) } }
        return AssociationProbabilities(trackKeys: keys, values: values)
    }

    public func observe(_ tracks: [Track], detections: [Detection], position: Int) throws(PipelineError) -> [Int: TrackedObject.Action] {
        let matched = tracks.filter { $0.matchedNow && $0.detectionIndex < detections.count }.sorted { $0.key < $1.key }
        // Entries are added only for matched (live) tracks, so more entries than live tracks means
        // some were removed: prune only then (no set or dictionary built on an ordinary frame; stale
        // entries left meanwhile are at most the tracks created in one frame).
        if memory.count > tracks.count {
            let live = Set(tracks.map(\.key))
            memory = memory.filter { live.contains($0.key) }
        }
        let rows = matched.map(\.detectionIndex), owners = matched.map(\.key)
        if !rows.isEmpty { try ensureAppearance(detections, position: position) }
        let previous: [TokenHead.Previous?] = matched.map { t in
            memory[t.key].map { TokenHead.Previous(box: $0.box, frames: position - $0.position) }
        }
        try makeTokens(detections, rows: rows, previous: previous, into: &trackTokens)
        let changes = model.act.changeInputs > 0 ? makeChanges(matched, rows: rows, position: position) : nil
        let logits: Tensor
        do {
            try model.asso.write(&stream.asso, tokens: trackTokens, owners: owners, frame: position)
            logits = try model.act.step(&stream.act, tokens: trackTokens, changes: changes, owners: owners, frame: position, context: context)
        } catch { throw .temporal(error) }
        var actions: [Int: TrackedObject.Action] = [:]
        let names = model.actionNames, n = names.count
        let f = keptFeatures
        for (r, t) in matched.enumerated() {
            // Moved out of the dictionary and back: the feature buffer stays uniquely owned (no copy).
            var entry = memory.removeValue(forKey: t.key) ?? TrackMemory(box: modelBoxes[rows[r]], position: position, features: [])
            entry.box = modelBoxes[rows[r]]
            entry.position = position
            if entry.features.count != f { entry.features = [Float](repeating: 0, count: f) }
            for j in 0..<f { entry.features[j] = tokState.features.storage[rows[r] * f + j] }
            memory[t.key] = entry
            var best = 0, peak = -Float.infinity
            for j in 0..<n where logits.storage[r * n + j] > peak { peak = logits.storage[r * n + j]; best = j }
            var sum: Float = 0
            for j in 0..<n { sum += expf(logits.storage[r * n + j] - peak) }
            actions[t.key] = TrackedObject.Action(label: names[best], score: Double(1 / sum))
        }
        return actions
    }
}
