/// The temporal attention head's parameters, in PyTorch `nn.Linear` layout (`[out, in]`).
///
/// Model-file names (see docs/model.md, "Temporal tensors and the KV window"):
/// `temporal.q.weight [H_q·d, D]`, `temporal.k.weight [H_kv·d, D]`, `temporal.v.weight [H_kv·d, D]`,
/// `temporal.o.weight [D, H_q·d]`, and optional biases `temporal.{q,k,v,o}.bias` (absent = zero).
///
/// Invariants: shapes match the `TemporalConfig` they were checked against. Thread-safety:
/// immutable after init; share one instance between streams.
public struct TemporalWeights: Sendable {
    public let q: Tensor, k: Tensor, v: Tensor, o: Tensor
    public let qBias: Tensor?, kBias: Tensor?, vBias: Tensor?, oBias: Tensor?

    /// Tensor-name prefix in the model file.
    public static let prefix = "temporal."

    /// Checks every shape against `config`.
    public init(config: TemporalConfig, q: Tensor, k: Tensor, v: Tensor, o: Tensor,
                qBias: Tensor? = nil, kBias: Tensor? = nil, vBias: Tensor? = nil, oBias: Tensor? = nil) throws(TemporalError) {
        try config.validate()
        let dq = config.queryHeads * config.headDim, dkv = config.kvHeads * config.headDim, d = config.modelDim
        func check(_ t: Tensor?, _ name: String, _ shape: [Int]) throws(TemporalError) {
            if let t, t.shape != shape { throw .tensorShape(name: Self.prefix + name, expected: shape, found: t.shape) }
        }
        try check(q, "q.weight", [dq, d]); try check(qBias, "q.bias", [dq])
        try check(k, "k.weight", [dkv, d]); try check(kBias, "k.bias", [dkv])
        try check(v, "v.weight", [dkv, d]); try check(vBias, "v.bias", [dkv])
        try check(o, "o.weight", [d, dq]); try check(oBias, "o.bias", [d])
        self.q = q; self.k = k; self.v = v; self.o = o
        self.qBias = qBias; self.kBias = kBias; self.vBias = vBias; self.oBias = oBias
    }

    /// Loads from a name → tensor lookup (e.g. a safetensors file), names under `temporal.`.
    /// The lookup returns nil for an absent name and may throw its own (file) errors.
    public init(config: TemporalConfig, lookup: (String) throws -> Tensor?) throws {
        func required(_ name: String) throws -> Tensor {
            guard let t = try lookup(Self.prefix + name) else { throw TemporalError.missingTensor(name: Self.prefix + name) }
            return t
        }
        try self.init(config: config, q: required("q.weight"), k: required("k.weight"), v: required("v.weight"),
                      o: required("o.weight"), qBias: lookup(Self.prefix + "q.bias"), kBias: lookup(Self.prefix + "k.bias"),
                      vBias: lookup(Self.prefix + "v.bias"), oBias: lookup(Self.prefix + "o.bias"))
    }
}
