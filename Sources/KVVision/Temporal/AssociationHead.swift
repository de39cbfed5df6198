import Foundation

/// The default model's `asso` head: P(track | detection) from a single-head attention read of the
/// tracks' cached tokens, normalised per track, with a learned "new track" logit (docs/model.md,
/// "asso"; the formula is `OwnerAssociation`'s with one head and no RoPE).
///
/// Per stream the head keeps a `KVWindow` of `asso.window` frames holding `k_j = asso.k(x_j)` for
/// every track token written (owner = the track's key); `probabilities` projects each detection's
/// query token with `asso.q` and reads the window *before* the frame's own tokens are written, so a
/// detection at frame t is compared with tokens of the last `window` written frames (t − W … t − 1
/// when every frame is written). Every frame must be written (`write`, with no tokens when nothing
/// was tracked), so that the window slides by frames.
///
/// Invariants: weights checked at load; the window is preallocated for `maxObjects` tokens per frame.
/// Thread-safety: immutable and `Sendable`; each stream owns a `State`.
public struct AssociationHead: Sendable {
    public let config: ModelConfig.AssociationHead
    /// Width of the object tokens read.
    public let tokenDim: Int
    let q: Tensor, qBias: Tensor, k: Tensor, kBias: Tensor
    /// The learned "new track" logit.
    public let nullLogit: Float

    /// Per-stream window and scratch.
    public struct State: Sendable {
        /// Cached keys of the tracks' tokens (one placeholder token of owner 0 in frames without any).
        public internal(set) var window: KVWindow
        var association = OwnerAssociation()
        var queries = Tensor(shape: [0])
        var keys = Tensor(shape: [0])
        init(window: KVWindow) { self.window = window }
        /// Bytes held (window + scratch capacities).
        public var allocatedBytes: Int {
            window.allocatedBytes + association.allocatedBytes + (queries.storage.capacity + keys.storage.capacity) * MemoryLayout<Float>.stride
        }
    }

    /// Takes `asso.*` from `loader`.
    public static func load(_ loader: inout WeightsLoader, model: ModelConfig) throws(WeightsError) -> AssociationHead {
        guard let c = model.asso, let tok = model.tok else {
            throw .invalidConfig(field: "asso", problem: "the model config has no asso/tok head")
        }
        let t = tok.tokenDim
        let null = try loader.take("asso.null_logit", shape: [1]).storage[0]
        guard null.isFinite else { throw .invalidConfig(field: "asso.null_logit", problem: "not finite (\(null))") }
        return AssociationHead(config: c, tokenDim: t,
                               q: try loader.take("asso.q.weight", shape: [c.dim, t]), qBias: try loader.take("asso.q.bias", shape: [c.dim]),
                               k: try loader.take("asso.k.weight", shape: [c.dim, t]), kBias: try loader.take("asso.k.bias", shape: [c.dim]),
                               nullLogit: null)
    }

    private init(config: ModelConfig.AssociationHead, tokenDim: Int, q: Tensor, qBias: Tensor, k: Tensor, kBias: Tensor, nullLogit: Float) {
        self.config = config; self.tokenDim = tokenDim; self.q = q; self.qBias = qBias; self.k = k; self.kBias = kBias
        self.nullLogit = nullLogit
    }

    /// A fresh state for up to `maxObjects` tokens per frame; `frames` (default: the model's
    /// window), `policy` and `storage` set the window (lossy ones are measured against fifo f32).
    public func makeState(maxObjects: Int, frames: Int? = nil, policy: KVWindowPolicy = .fifo,
                          storage: KVStorageFormat = .f32) throws(TemporalError) -> State {
        State(window: try KVWindow(config: KVWindowConfig(window: frames ?? config.window, maxObjects: maxObjects, kvHeads: 1,
                                                          headDim: config.dim, policy: policy, storage: storage)))
    }

    /// `[n, candidates.count + 1]`: P(candidate | query token row), then P(new track); each row sums
    /// to 1. `queryTokens` `[n, tokenDim]`; `candidates` distinct owner ids (track keys).
    public func probabilities(_ state: inout State, queryTokens: Tensor, candidates: [Int], into output: inout Tensor) throws(TemporalError) {
        guard queryTokens.rank == 2, queryTokens.shape[1] == tokenDim else {
            throw .tokens(frame: state.window.lastFrame ?? -1, expected: "association query tokens [n, \(tokenDim)]", found: queryTokens.shape)
        }
        do {
            try GEMM.matmul(queryTokens, q, transposeB: true, bias: qBias, into: &state.queries)
        } catch { throw .kernel(frame: state.window.lastFrame ?? -1, underlying: error) }
        try state.association.probabilities(window: state.window, queries: state.queries, queryHeads: 1, candidates: candidates,
                                            nullLogit: nullLogit, into: &output)
    }

    /// Writes frame `frame`'s track tokens (`tokens` `[m, tokenDim]`, m ≤ maxObjects, owners one
    /// per row). With m = 0 a zero placeholder token of owner 0 is written, which no track reads.
    public func write(_ state: inout State, tokens: Tensor, owners: [Int], frame: Int) throws(TemporalError) {
        let m = tokens.rank == 2 ? tokens.shape[0] : -1
        guard tokens.rank == 2, tokens.shape[1] == tokenDim, owners.count == m else {
            throw .tokens(frame: frame, expected: "association tokens [\(owners.count), \(tokenDim)]", found: tokens.shape)
        }
        do {
            if m == 0 {
                state.keys.resize([1, config.dim])
                for i in 0..<config.dim { state.keys.storage[i] = 0 }
            } else {
                try GEMM.matmul(tokens, k, transposeB: true, bias: kBias, into: &state.keys)
            }
        } catch { throw .kernel(frame: frame, underlying: error) }
        try state.window.admit(frame: frame, time: Double(frame), owners: m == 0 ? [0] : owners, keys: state.keys,
                               values: state.keys, contentKeys: state.keys)
    }
}
