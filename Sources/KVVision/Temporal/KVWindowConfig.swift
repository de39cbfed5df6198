/// Shape, policy and storage of one stream's temporal KV window.
///
/// Defaults (used for fields absent from JSON): `window` 16 frames, `maxObjects` 16,
/// `policy` fifo, `storage` f32, `keyScales` perToken, `association` `AssociationConfig()` (no pinned memory). `kvHeads` and `headDim` must match the temporal model
/// (`TemporalAttention.makeState` checks). Memory is a function of these fields only
/// (`memoryBytes`); the window allocates exactly that at creation and never grows.
///
/// Thread-safety: an immutable-by-convention value.
public struct KVWindowConfig: Codable, Sendable, Equatable {
    /// W: frames (slots) resident at once, 1…4096.
    public var window: Int
    /// M: object tokens per frame at most (each frame also has one scene token), 0…1024.
    public var maxObjects: Int
    /// H_kv: key/value heads.
    public var kvHeads: Int
    /// d: channels per head.
    public var headDim: Int
    /// Eviction / compression policy.
    public var policy: KVWindowPolicy
    /// Element format of cached keys and values.
    public var storage: KVStorageFormat
    /// int8 key scales: one per token and head, or (KIVI) one per channel and head per frame slot.
    /// Values always use per-token scales.
    public var keyScales: KeyScales
    /// Association settings that shape the window's storage (the pinned memory of lost owners).
    public var association: AssociationConfig

    /// How int8 keys are scaled.
    public enum KeyScales: String, Codable, Sendable, CaseIterable {
        /// One scale per token and head (as values).
        case perToken
        /// One scale per channel and head for each frame slot (KIVI): robust to outlier channels.
        case perChannel
    }

    public init(window: Int = 16, maxObjects: Int = 16, kvHeads: Int, headDim: Int,
                policy: KVWindowPolicy = .fifo, storage: KVStorageFormat = .f32, keyScales: KeyScales = .perToken,
                association: AssociationConfig = AssociationConfig()) {
        self.window = window
        self.maxObjects = maxObjects
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.policy = policy
        self.storage = storage
        self.keyScales = keyScales
        self.association = association
    }

    private enum CodingKeys: String, CodingKey {
        case window, maxObjects = "max_objects", kvHeads = "kv_heads", headDim = "head_dim", policy, storage, keyScales = "key_scales"
        case association
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        window = try c.decodeIfPresent(Int.self, forKey: .window) ?? 16
        maxObjects = try c.decodeIfPresent(Int.self, forKey: .maxObjects) ?? 16
        kvHeads = try c.decode(Int.self, forKey: .kvHeads)
        headDim = try c.decode(Int.self, forKey: .headDim)
        policy = try c.decodeIfPresent(KVWindowPolicy.self, forKey: .policy) ?? .fifo
        storage = try c.decodeIfPresent(KVStorageFormat.self, forKey: .storage) ?? .f32
        keyScales = try c.decodeIfPresent(KeyScales.self, forKey: .keyScales) ?? .perToken
        association = try c.decodeIfPresent(AssociationConfig.self, forKey: .association) ?? AssociationConfig()
    }

    /// Rows per key-scale group for `KVRowStore` (the slot's token rows for per-channel int8, else 0).
    public var keyChannelGroup: Int { storage == .int8 && keyScales == .perChannel ? tokensPerFrame : 0 }

    /// Tokens per frame slot: one scene token plus `maxObjects`.
    public var tokensPerFrame: Int { 1 + maxObjects }
    /// Token rows in the whole window (`window · tokensPerFrame`).
    public var tokenRows: Int { window * tokensPerFrame }

    /// Checks every field's range; throws `.invalidConfig` naming the first bad one.
    public func validate() throws(TemporalError) {
        let check = TemporalError.require
        try check((1...4096).contains(window), "window", window, "must be in 1...4096")
        try check((0...1024).contains(maxObjects), "max_objects", maxObjects, "must be in 0...1024")
        try check((1...256).contains(kvHeads), "kv_heads", kvHeads, "must be in 1...256")
        try check((1...1024).contains(headDim), "head_dim", headDim, "must be in 1...1024")
        try check(tokenRows * kvHeads * headDim <= 1 << 28, "window", window, "window × tokens × heads × headDim exceeds 2^28 elements")
        try check(keyScales == .perToken || storage == .int8, "key_scales", keyScales.rawValue, "perChannel applies to int8 storage only")
        try association.validate()
        switch policy {
        case .fifo: break
        case let .sinks(count):
            try check(count >= 1 && count < window, "policy.count", count, "sinks need 1 ≤ S < window (at least one recent slot)")
        case let .merge(threshold, alpha):
            try check(threshold.isFinite && threshold >= -1 && threshold <= 1, "policy.threshold", threshold, "must be a cosine in -1...1")
            try check(alpha.isFinite && alpha > 0 && alpha <= 1, "policy.alpha", alpha, "must be in (0, 1]")
        }
    }

    /// Bytes of key/value storage alone (elements plus int8 scales), both stores.
    public var storageBytes: Int {
        KVRowStore.bytes(format: storage, rows: tokenRows, heads: kvHeads, headDim: headDim, channelGroup: keyChannelGroup)
            + KVRowStore.bytes(format: storage, rows: tokenRows, heads: kvHeads, headDim: headDim)
    }

    /// Bytes the window allocates: K/V storage, per-token owners, per-slot bookkeeping and, for
    /// `merge`, the newest slot's un-rotated keys in f32 (plus, with f16/int8 storage, its rotated
    /// keys and values as exact f32 running means), and the pinned memory of
    /// `association.pinnedOwners` lost owners. Equal to `KVWindow.memoryBytes`.
    public var memoryBytes: Int {
        let perSlot = 3 * MemoryLayout<Int>.stride + MemoryLayout<Double>.stride + MemoryLayout<Float>.stride
            + MemoryLayout<Int>.stride // first frame, last frame, sequence, time, weight, token count
        var bytes = storageBytes + tokenRows * MemoryLayout<Int32>.stride + window * perSlot
            + association.pinnedBytes(width: kvHeads * headDim)
        if case .merge = policy {
            let slot = tokensPerFrame * kvHeads * headDim * MemoryLayout<Float>.stride
            bytes += storage == .f32 ? slot : 3 * slot
        }
        return bytes
    }
}
