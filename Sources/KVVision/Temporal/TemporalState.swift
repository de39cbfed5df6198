/// Per-stream state of the temporal attention head: the KV window and the scratch tensors one
/// step needs, sized at creation and reused every frame.
///
/// Create with `TemporalAttention.makeState(window:)`; pass `inout` to `step`. The model
/// (`TemporalAttention`) stays immutable and shared; each stream owns one state.
///
/// Invariants: scratch tensors are sized for `1 + M` token rows at creation and reused, so a step
/// allocates no tensor memory (the only per-step heap allocation is the default owner list when
/// `owners` is nil; `ownerAffinity` sizes `headScores` on first use and returns a fresh result). Thread-safety: a value type; one stream, one thread.
public struct TemporalState: Sendable {
    /// The stream's KV window.
    public internal(set) var window: KVWindow
    /// Output of the last step, `[n, modelDim]`.
    public internal(set) var output: Tensor
    var queries: Tensor
    var contentKeys: Tensor
    var keys: Tensor
    var values: Tensor
    var bias: Tensor
    var scores: Tensor
    var attended: Tensor
    /// Per-head scores for `ownerAffinity`, sized on first use.
    var headScores = Tensor(shape: [0])
    /// Scratch of `associate`, sized on first use.
    var association = OwnerAssociation()
    /// `.sameOwner` reads' row lists (capacity: one entry per window row, what distinct owners
    /// can list at most; more only when queries share an owner).
    var lists = WindowRowLists()

    init(window: KVWindow, modelDim: Int, queryWidth: Int) {
        self.window = window
        let t = window.config.tokensPerFrame, kv = window.config.kvHeads * window.config.headDim
        output = Tensor(shape: [t, modelDim])
        queries = Tensor(shape: [t, queryWidth])
        contentKeys = Tensor(shape: [t, kv])
        keys = Tensor(shape: [t, kv])
        values = Tensor(shape: [t, kv])
        bias = Tensor(shape: [t, window.config.tokenRows])
        scores = Tensor(shape: [t, window.config.tokenRows])
        attended = Tensor(shape: [t, queryWidth])
        lists.rows.reserveCapacity(window.config.tokenRows)
        lists.bias.reserveCapacity(window.config.tokenRows)
        lists.starts.reserveCapacity(t + 1)
    }

    /// Bytes allocated for the window plus the scratch tensors (array capacities).
    public var allocatedBytes: Int {
        let scratch = [output, queries, contentKeys, keys, values, bias, scores, attended, headScores]
            .reduce(0) { $0 + $1.storage.capacity * MemoryLayout<Float>.stride }
        let listBytes = lists.rows.capacity * MemoryLayout<Int32>.stride + lists.bias.capacity * MemoryLayout<Float>.stride
            + lists.starts.capacity * MemoryLayout<Int>.stride
        return window.allocatedBytes + scratch + association.allocatedBytes + listBytes
    }
}
