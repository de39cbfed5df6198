/// Dimensions of the temporal attention head (the model side; the per-stream window has its own
/// `KVWindowConfig`).
///
/// Defaults: `rotaryDim` = `headDim` (all channels rotated), `ropeBase` 10 000.
/// `queryHeads` must be a multiple of `kvHeads` (grouped-query attention).
/// Thread-safety: an immutable-by-convention value.
public struct TemporalConfig: Codable, Sendable, Equatable {
    /// D: width of the tokens in and out (the encoder's embedding width).
    public var modelDim: Int
    /// H_q: query heads.
    public var queryHeads: Int
    /// H_kv: key/value heads (H_q % H_kv == 0).
    public var kvHeads: Int
    /// d: channels per head.
    public var headDim: Int
    /// Leading channels per head rotated by temporal RoPE (even, ≤ headDim; 0 disables RoPE).
    public var rotaryDim: Int
    /// RoPE frequency base.
    public var ropeBase: Double

    public init(modelDim: Int, queryHeads: Int, kvHeads: Int, headDim: Int, rotaryDim: Int? = nil, ropeBase: Double = 10_000) {
        self.modelDim = modelDim
        self.queryHeads = queryHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.rotaryDim = rotaryDim ?? headDim
        self.ropeBase = ropeBase
    }

    private enum CodingKeys: String, CodingKey {
        case modelDim = "model_dim", queryHeads = "query_heads", kvHeads = "kv_heads", headDim = "head_dim", rotaryDim = "rotary_dim", ropeBase = "rope_base"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelDim = try c.decode(Int.self, forKey: .modelDim)
        queryHeads = try c.decode(Int.self, forKey: .queryHeads)
        kvHeads = try c.decode(Int.self, forKey: .kvHeads)
        headDim = try c.decode(Int.self, forKey: .headDim)
        rotaryDim = try c.decodeIfPresent(Int.self, forKey: .rotaryDim) ?? headDim
        ropeBase = try c.decodeIfPresent(Double.self, forKey: .ropeBase) ?? 10_000
    }

    /// Checks ranges and divisibility; throws `.invalidConfig` naming the first bad field.
    public func validate() throws(TemporalError) {
        let check = TemporalError.require
        try check((1...65536).contains(modelDim), "model_dim", modelDim, "must be in 1...65536")
        try check((1...256).contains(queryHeads), "query_heads", queryHeads, "must be in 1...256")
        try check((1...256).contains(kvHeads), "kv_heads", kvHeads, "must be in 1...256")
        try check(queryHeads % kvHeads == 0, "query_heads", queryHeads, "must be a multiple of kvHeads = \(kvHeads)")
        try check((1...1024).contains(headDim), "head_dim", headDim, "must be in 1...1024")
        try check(rotaryDim >= 0 && rotaryDim <= headDim && rotaryDim % 2 == 0, "rotary_dim", rotaryDim, "must be even and in 0...headDim")
        try check(ropeBase.isFinite && ropeBase > 1, "rope_base", ropeBase, "must be > 1")
    }
}
