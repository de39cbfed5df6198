/// Loading the temporal head from a kvvision model file.
///
/// The dimensions come from the `temporal` object of the file's `kvvision.config`
/// (`ModelConfig.Temporal`: `dim` = H_q·d, `heads` = H_q, `kv_heads` = H_kv, `window` = W) and the
/// encoder width `dim` (D); temporal RoPE uses its defaults (all channels, base 10 000). Tensors are
/// read by name under `temporal.` (see `TemporalWeights`); F32, F16 and BF16 load as F32.
extension TemporalConfig {
    /// The temporal dimensions a model config declares; throws `.invalidConfig` when it has none.
    public init(model: ModelConfig) throws(TemporalError) {
        guard let t = model.temporal else {
            throw .invalidConfig(field: "temporal", value: "absent", reason: "model '\(model.name)' has no temporal head in its config")
        }
        guard t.heads > 0, t.dim % t.heads == 0 else {
            throw .invalidConfig(field: "temporal.heads", value: "\(t.heads)", reason: "must divide temporal.dim = \(t.dim)")
        }
        self.init(modelDim: model.dim, queryHeads: t.heads, kvHeads: t.kvHeads, headDim: t.dim / t.heads)
        try validate()
    }
}

extension TemporalAttention {
    /// Loads the temporal head from `file` (whose config is `model`); the window length the model
    /// was trained with is returned alongside, as the default for `KVWindowConfig.window`.
    public static func load(_ file: SafetensorsFile, model: ModelConfig) throws -> (head: TemporalAttention, window: Int) {
        let config = try TemporalConfig(model: model)
        let weights = try TemporalWeights(config: config) { name in
            file.entries[name] == nil ? nil : try file.tensor(name)
        }
        return (try TemporalAttention(config: config, weights: weights), model.temporal?.window ?? 16)
    }
}
