/// The `stream` record: what is being analysed and how. First record of a stream, and again after
/// each reconnect of a live source (`connection` counts from 1).
///
/// Thread-safety: immutable value, `Sendable`.
public struct StreamRecord: Sendable, Equatable, Codable {
    /// The input as given (path, URL, or `-`).
    public var source: String
    /// Source picture size in pixels (boxes are in this coordinate system).
    public var width: Int
    public var height: Int
    /// Frames per second of the source, when known.
    public var fps: Double?
    /// Model name and a hash of its file (16 hex digits of FNV-1a 64; nil without a model).
    public var model: String?
    public var modelHash: String?
    /// Input size of the encoder `[height, width]` (nil without a model).
    public var inputSize: [Int]?
    /// Analyse every k-th decoded frame.
    public var every: Int
    /// Temporal window (frames) and KV policy/storage, when a temporal model runs.
    public var window: Int?
    public var kvPolicy: String?
    public var kvStorage: String?
    /// Where detections come from: `model` or the detections file path.
    public var detections: String
    /// 1 for the first connection, +1 per reconnect.
    public var connection: Int

    public init(source: String, width: Int, height: Int, fps: Double?, model: String?, modelHash: String?,
                inputSize: [Int]?, every: Int, window: Int?, kvPolicy: String?, kvStorage: String?,
                detections: String, connection: Int) {
        self.source = source; self.width = width; self.height = height; self.fps = fps
        self.model = model; self.modelHash = modelHash; self.inputSize = inputSize; self.every = every
        self.window = window; self.kvPolicy = kvPolicy; self.kvStorage = kvStorage
        self.detections = detections; self.connection = connection
    }

    enum CodingKeys: String, CodingKey {
        case source, width, height, fps, model, modelHash = "model_hash", inputSize = "input_size", every, window
        case kvPolicy = "kv_policy", kvStorage = "kv_storage", detections, connection
    }

    func writeFields(_ j: inout JSONText) {
        j.field("source", source)
        j.field("width", width)
        j.field("height", height)
        if let fps { j.field("fps", fps, decimals: 3) }
        if let model { j.field("model", model) }
        if let modelHash { j.field("model_hash", modelHash) }
        if let inputSize { j.key("input_size"); j.beginArray(); for v in inputSize { j.int(v) }; j.endArray() }
        j.field("every", every)
        if let window { j.field("window", window) }
        if let kvPolicy { j.field("kv_policy", kvPolicy) }
        if let kvStorage { j.field("kv_storage", kvStorage) }
        j.field("detections", detections)
        j.field("connection", connection)
    }
}
