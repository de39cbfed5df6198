/// Association through a temporal head: the head's query projection (and RoPE) applied to a frame's
/// tokens, then `OwnerAssociation` over the stream's window.
extension TemporalAttention {
    /// P(owner | token) for each of `tokens` (`[n, modelDim]`) over `candidates`, plus P(new track)
    /// in the last column (`[n, candidates.count + 1]`, each row summing to 1); see `OwnerAssociation`
    /// for the formula. Queries are `rope_frame(tokens·Wqᵀ + bq)` as `step` would form them for
    /// `frame`; the window is not modified. `state.association.logits` holds the logits afterwards.
    public func associate(_ state: inout TemporalState, tokens: Tensor, frame: Int, candidates: [Int],
                          nullLogit: Float) throws(TemporalError) -> Tensor {
        _ = try checkTokens(tokens, frame: frame, window: state.window.config)
        if let last = state.window.lastFrame, frame <= last { throw .frameOrder(frame: frame, previous: last) }
        do {
            try GEMM.matmul(tokens, weights.q, transposeB: true, bias: weights.qBias, into: &state.queries)
            try rope.apply(&state.queries, heads: config.queryHeads, position: Double(frame))
        } catch {
            throw .kernel(frame: frame, underlying: error)
        }
        var out = Tensor(shape: [0])
        try state.association.probabilities(window: state.window, queries: state.queries, queryHeads: config.queryHeads,
                                            candidates: candidates, nullLogit: nullLogit, into: &out)
        return out
    }
}
