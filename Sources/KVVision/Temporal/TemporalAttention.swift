import Foundation

/// Streaming temporal attention: each frame's tokens attend over the K/V of the frames resident in
/// the stream's `KVWindow`, their own frame included.
///
/// `step` for frame t with tokens X (`[n, D]`, scene token first, then object tokens):
/// `Q = rope_t(X·Wqᵀ + bq)`, `K = rope_t(X·Wkᵀ + bk)`, `V = X·Wvᵀ + bv`; K and V are written into the
/// window (the policy picks or merges the slot), then for each query head h (K/V head
/// h / (H_q / H_kv)) `A_h = softmax(Q_h·K_gᵀ/√d + log w + mask)·V_g` over every resident token, and
/// the step returns `A·Woᵀ + bo` (`[n, D]`). RoPE rotates keys once, by their own frame index, and
/// queries by the current one, so scores depend only on the frame offset and cached keys are never
/// rewritten. `w` is a slot's merge weight (1 unless `merge` folded frames into it); the mask hides
/// empty rows and, with a restriction, other owners' tokens.
///
/// Invariants: weights are checked against `config` at init. Thread-safety: immutable and
/// `Sendable`; share one instance between streams, each with its own `TemporalState` and
/// `ComputeContext`.
public struct TemporalAttention: Sendable {
    /// Dimensions.
    public let config: TemporalConfig
    /// `.sameOwner` reads take each query's rows as a list from the window (`KVWindow.fillOwnerLists`)
    /// instead of a `[n, rows]` bias matrix: the same bits; false (tests) forces the matrix.
    var useRowLists = true
    /// Projections.
    public let weights: TemporalWeights
    let rope: RotaryEmbedding

    /// Builds the head from checked weights.
    public init(config: TemporalConfig, weights: TemporalWeights) throws(TemporalError) {
        try config.validate()
        _ = try TemporalWeights(config: config, q: weights.q, k: weights.k, v: weights.v, o: weights.o,
                                qBias: weights.qBias, kBias: weights.kBias, vBias: weights.vBias, oBias: weights.oBias)
        self.config = config
        self.weights = weights
        do {
            rope = try RotaryEmbedding(headDim: config.headDim, rotaryDim: config.rotaryDim, base: config.ropeBase)
        } catch {
            throw .invalidConfig(field: "rotary_dim", value: "\(config.rotaryDim)", reason: error.description)
        }
    }

    /// A fresh per-stream state; the window's heads and head size must match the model's.
    public func makeState(window: KVWindowConfig) throws(TemporalError) -> TemporalState {
        guard window.kvHeads == config.kvHeads else { throw .windowMismatch(field: "kvHeads", model: config.kvHeads, window: window.kvHeads) }
        guard window.headDim == config.headDim else { throw .windowMismatch(field: "headDim", model: config.headDim, window: window.headDim) }
        return TemporalState(window: try KVWindow(config: window), modelDim: config.modelDim,
                             queryWidth: config.queryHeads * config.headDim)
    }

    /// Processes one frame: writes its K/V into the window, attends, and returns the outputs
    /// (`[n, modelDim]`, also left in `state.output`).
    /// - Parameters:
    ///   - tokens: `[n, modelDim]`, 1 ≤ n ≤ 1 + maxObjects.
    ///   - frame: the frame index (strictly increasing along the stream); the RoPE position.
    ///   - time: presentation time in seconds, kept as bookkeeping (default: the frame index).
    ///   - owners: one id per token (default: all 0).
    ///   - restriction: which cached tokens the queries may see.
    ///   - context: the threads of the projections (default: one thread); the window attention
    ///     itself runs on the caller's thread.
    @discardableResult
    public func step(_ state: inout TemporalState, tokens: Tensor, frame: Int, time: Double? = nil,
                     owners: [Int]? = nil, restriction: AttentionRestriction = .all,
                     context: ComputeContext = .serial) throws(TemporalError) -> Tensor {
        let n = try checkTokens(tokens, frame: frame, window: state.window.config)
        let owners = owners ?? [Int](repeating: 0, count: n)
        do {
            try GEMM.matmul(tokens, weights.q, transposeB: true, bias: weights.qBias, into: &state.queries, context: context)
            try rope.apply(&state.queries, heads: config.queryHeads, position: Double(frame))
            try project(tokens, frame: frame, state: &state, context: context)
        } catch {
            throw .kernel(frame: frame, underlying: error)
        }
        try state.window.admit(frame: frame, time: time ?? Double(frame), owners: owners, keys: state.keys,
                               values: state.values, contentKeys: state.contentKeys)
        try attend(&state, frame: frame, owners: owners, restriction: restriction, context: context)
        return state.output
    }

    /// The association signal, read without writing: how much attention each of this frame's
    /// tokens would pay to each candidate owner's cached tokens.
    ///
    /// `a[i, o] = mean over query heads h of log Σ_{j owned by o} w_j · exp(q_{i,h} · k_{j,g} / √d)`
    /// — the log of the unnormalised attention mass on owner o (so it is comparable across owners
    /// and a merged slot counts as its frames); −∞ when o has no resident tokens. Queries are rotated
    /// for `frame`, the index the frame will be written at, so offsets are those `step` will see.
    /// The window is not modified (only scratch in `state`); a caller typically assigns owners from
    /// this (Tracking: detections × tracks) and then calls `step` with them.
    /// - Returns: `[n, candidates.count]`.
    public func ownerAffinity(_ state: inout TemporalState, tokens: Tensor, frame: Int, candidates: [Int],
                              context: ComputeContext = .serial) throws(TemporalError) -> Tensor {
        let n = try checkTokens(tokens, frame: frame, window: state.window.config)
        if let last = state.window.lastFrame, frame <= last { throw .frameOrder(frame: frame, previous: last) }
        do {
            try GEMM.matmul(tokens, weights.q, transposeB: true, bias: weights.qBias, into: &state.queries, context: context)
            try rope.apply(&state.queries, heads: config.queryHeads, position: Double(frame))
            try WindowAttention.scores(queries: state.queries, queryHeads: config.queryHeads, keys: state.window.keys,
                                       into: &state.headScores)
        } catch {
            throw .kernel(frame: frame, underlying: error)
        }
        state.window.fillBias(queryOwners: [0], restriction: .all, into: &state.bias)
        let r = state.window.config.tokenRows, hq = config.queryHeads, m = candidates.count
        // Candidate index of every finite key, −1 for keys of other owners or empty rows.
        var column = [Int](repeating: -1, count: r)
        for j in 0..<r where state.bias.storage[j] > -.infinity {
            column[j] = candidates.firstIndex(of: state.window.owner(row: j)) ?? -1
        }
        var out = Tensor(shape: [n, m])
        var peak = [Float](repeating: -.infinity, count: m), mass = [Float](repeating: 0, count: m)
        for i in 0..<n {
            for h in 0..<hq {
                let base = (h * n + i) * r
                for o in 0..<m { peak[o] = -.infinity; mass[o] = 0 }
                for j in 0..<r where column[j] >= 0 {
                    peak[column[j]] = max(peak[column[j]], state.headScores.storage[base + j] + state.bias.storage[j])
                }
                for j in 0..<r where column[j] >= 0 {
                    mass[column[j]] += expf(state.headScores.storage[base + j] + state.bias.storage[j] - peak[column[j]])
                }
                for o in 0..<m { out.storage[i * m + o] += peak[o] == -.infinity ? -.infinity : (peak[o] + logf(mass[o])) / Float(hq) }
            }
        }
        return out
    }

    /// One frame of a window that `recompute` rebuilds from scratch.
    public struct Frame: Sendable {
        public var tokens: Tensor
        public var frame: Int
        public var owners: [Int]?
        public init(tokens: Tensor, frame: Int, owners: [Int]? = nil) {
            self.tokens = tokens
            self.frame = frame
            self.owners = owners
        }
    }

    /// Scratch for the no-cache baseline `recompute`: a window and the stacked projections of
    /// all its frames. Sized by the first call and reused after.
    public struct RecomputeScratch: Sendable {
        var state: TemporalState
        var tokens = Tensor(shape: [0, 0])
        var contentKeys = Tensor(shape: [0, 0])
        var keys = Tensor(shape: [0, 0])
        var values = Tensor(shape: [0, 0])
    }

    /// Scratch for `recompute` over windows of up to `window.window` frames.
    public func makeRecomputeScratch(window: KVWindowConfig) throws(TemporalError) -> RecomputeScratch {
        RecomputeScratch(state: try makeState(window: window))
    }

    /// The no-cache baseline: projects the K/V of every frame in `frames` afresh (all tokens of all
    /// frames in one matrix product each for K and V, then RoPE per frame), writes them into an
    /// emptied window, and attends with the current frame's queries (the last frame is the current
    /// one; `frames` oldest first). Equals `step`'s output for a `fifo` f32 window holding the same
    /// frames.
    @discardableResult
    public func recompute(_ scratch: inout RecomputeScratch, frames: [Frame], restriction: AttentionRestriction = .all,
                          context: ComputeContext = .serial) throws(TemporalError) -> Tensor {
        guard let current = frames.last else { throw .tokens(frame: -1, expected: "at least one frame", found: []) }
        let window = scratch.state.window.config
        guard frames.count <= window.window else {
            throw .invalidConfig(field: "window", value: "\(window.window)", reason: "recompute needs \(frames.count) slots")
        }
        var total = 0
        for f in frames { total += try checkTokens(f.tokens, frame: f.frame, window: window) }
        scratch.state.window.reset()
        do {
            scratch.tokens.resize([total, config.modelDim])
            var row = 0
            for f in frames {
                try scratch.tokens.copyRows(from: f.tokens, to: row)
                row += f.tokens.shape[0]
            }
            try GEMM.matmul(scratch.tokens, weights.k, transposeB: true, bias: weights.kBias, into: &scratch.contentKeys, context: context)
            try GEMM.matmul(scratch.tokens, weights.v, transposeB: true, bias: weights.vBias, into: &scratch.values, context: context)
            scratch.keys.assign(from: scratch.contentKeys)
            row = 0
            for f in frames {
                let rows = row..<(row + f.tokens.shape[0])
                try rope.apply(&scratch.keys, heads: config.kvHeads, position: Double(f.frame), rows: rows)
                row = rows.upperBound
            }
        } catch {
            throw .kernel(frame: current.frame, underlying: error)
        }
        var row = 0
        for f in frames {
            let n = f.tokens.shape[0]
            try scratch.state.window.admit(frame: f.frame, time: Double(f.frame), owners: f.owners ?? [Int](repeating: 0, count: n),
                                           keys: scratch.keys, values: scratch.values, contentKeys: scratch.contentKeys,
                                           rows: row..<(row + n))
            row += n
        }
        let n = current.tokens.shape[0]
        do {
            try GEMM.matmul(current.tokens, weights.q, transposeB: true, bias: weights.qBias, into: &scratch.state.queries, context: context)
            try rope.apply(&scratch.state.queries, heads: config.queryHeads, position: Double(current.frame))
        } catch {
            throw .kernel(frame: current.frame, underlying: error)
        }
        try attend(&scratch.state, frame: current.frame, owners: current.owners ?? [Int](repeating: 0, count: n), restriction: restriction, context: context)
        return scratch.state.output
    }

    // MARK: - Pieces

    func checkTokens(_ tokens: Tensor, frame: Int, window: KVWindowConfig) throws(TemporalError) -> Int {
        guard tokens.rank == 2, tokens.shape[1] == config.modelDim, tokens.shape[0] >= 1,
              tokens.shape[0] <= window.tokensPerFrame else {
            throw .tokens(frame: frame, expected: "[1...\(window.tokensPerFrame), \(config.modelDim)]", found: tokens.shape)
        }
        // A NaN or ∞ would stay in the cache for W frames and poison every output that reads it.
        var finite = true
        for x in tokens.storage { finite = finite && x.isFinite }
        guard finite else { throw .nonFiniteTokens(frame: frame) }
        return tokens.shape[0]
    }

    /// contentKeys = X·Wkᵀ + bk, keys = rope(contentKeys), values = X·Wvᵀ + bv.
    private func project(_ tokens: Tensor, frame: Int, state: inout TemporalState, context: ComputeContext) throws(TensorError) {
        try GEMM.matmul(tokens, weights.k, transposeB: true, bias: weights.kBias, into: &state.contentKeys, context: context)
        state.keys.assign(from: state.contentKeys)
        try rope.apply(&state.keys, heads: config.kvHeads, position: Double(frame))
        try GEMM.matmul(tokens, weights.v, transposeB: true, bias: weights.vBias, into: &state.values, context: context)
    }

    /// Attention of `state.queries` over the window, then the output projection.
    private func attend(_ state: inout TemporalState, frame: Int, owners: [Int], restriction: AttentionRestriction,
                        context: ComputeContext) throws(TemporalError) {
        do {
            if case .sameOwner = restriction, useRowLists, WindowAttention.readsRowLists(state.window.keys) {
                // Each query's own rows as a list (the same bits as the bias matrix's listed read).
                state.window.fillOwnerLists(queryOwners: owners, into: &state.lists)
                try WindowAttention.attend(queries: state.queries, queryHeads: config.queryHeads, keys: state.window.keys,
                                           values: state.window.values, lists: state.lists, scores: &state.scores,
                                           into: &state.attended)
            } else {
                state.window.fillBias(queryOwners: owners, restriction: restriction, into: &state.bias)
                try WindowAttention.attend(queries: state.queries, queryHeads: config.queryHeads, keys: state.window.keys,
                                           values: state.window.values, bias: state.bias, scores: &state.scores,
                                           into: &state.attended)
            }
            try GEMM.matmul(state.attended, weights.o, transposeB: true, bias: weights.oBias, into: &state.output, context: context)
        } catch {
            throw .kernel(frame: frame, underlying: error)
        }
    }
}
