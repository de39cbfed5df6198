/// A stream's temporal KV window settings in the serve config; a key left out takes the model's
/// own value (the pipeline fills them in when it builds the stream's `KVWindowConfig`).
///
/// JSON: `{"frames": 16, "max_objects": 16, "policy": {"kind": "sinks", "count": 4},
/// "storage": "f32"}`, every key optional. Invariants (checked by `validate(key:)`): `frames` in
/// 1...4096, `max_objects` in 0...1024, a `sinks` count below `frames`, a `merge` threshold in
/// [-1, 1] and alpha in (0, 1].
///
/// Thread-safety: a value type, `Sendable`.
public struct StreamWindowSettings: Codable, Sendable, Equatable {
    /// Frames resident in the window (W). Default: the model's.
    public var frames: Int?
    /// Object tokens per frame at most. Default: the model's.
    public var maxObjects: Int?
    /// Eviction / compression policy. Default: the model's.
    public var policy: KVWindowPolicy?
    /// Element format of cached keys and values. Default: the model's.
    public var storage: KVStorageFormat?

    public init(frames: Int? = nil, maxObjects: Int? = nil, policy: KVWindowPolicy? = nil, storage: KVStorageFormat? = nil) {
        self.frames = frames
        self.maxObjects = maxObjects
        self.policy = policy
        self.storage = storage
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case frames, maxObjects = "max_objects", policy, storage
    }

    public init(from decoder: any Decoder) throws {
        try ConfigKeys.rejectUnknown(decoder, allowed: CodingKeys.allCases.map(\.stringValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        frames = try c.decodeIfPresent(Int.self, forKey: .frames)
        maxObjects = try c.decodeIfPresent(Int.self, forKey: .maxObjects)
        policy = try c.decodeIfPresent(KVWindowPolicy.self, forKey: .policy)
        storage = try c.decodeIfPresent(KVStorageFormat.self, forKey: .storage)
    }

    /// Throws `.invalidConfig` naming `key.field` for the first value out of range.
    public func validate(key: String) throws(ServeError) {
        if let frames { try ServeError.require((1...4096).contains(frames), "\(key).frames", "\(frames) is outside 1...4096") }
        if let maxObjects {
            try ServeError.require((0...1024).contains(maxObjects), "\(key).max_objects", "\(maxObjects) is outside 0...1024")
        }
        switch policy {
        case nil, .fifo?: break
        case let .sinks(count)?:
            let limit = frames.map { "\($0 - 1)" } ?? "frames − 1"
            try ServeError.require(count >= 1 && count < (frames ?? Int.max), "\(key).policy.count", "\(count) sinks: need 1...\(limit)")
        case let .merge(threshold, alpha)?:
            try ServeError.require(threshold.isFinite && abs(threshold) <= 1, "\(key).policy.threshold", "\(threshold) is not a cosine in [-1, 1]")
            try ServeError.require(alpha.isFinite && alpha > 0 && alpha <= 1, "\(key).policy.alpha", "\(alpha) is outside (0, 1]")
        }
    }
}
