import Foundation

/// The default model's `act` head: each track's newest token attends over the track's own tokens
/// of the last `act.window` frames (grouped-query attention, RoPE over frames, `.sameOwner`), then
/// `logits = fc2(gelu(fc1([x ‖ o(attention)])))` (docs/model.md, "act"). With `change_dim` P > 0
/// the act token is `x = [token ‖ change·a + b]`, a the caller's appearance-change input
/// (`[m, changeInputs]`, changeInputs = grid points + 1: cosine distances between the box's grid
/// samples and those of the track's previous observation, see `ModelSession`; zeros for a track's
/// first token), so the model width is token + P.
///
/// The attention is a `TemporalAttention` (weights `act.q/k/v/o`, model width = token width,
/// every channel rotated) with its own `KVWindow` per stream; `step` writes the frame's tokens
/// (owner = track key) and returns one row of action logits per token. Every frame must be stepped
/// (with no tokens when nothing was tracked: a zero placeholder of owner 0 is written, which no
/// track reads), so that the window slides by frames.
///
/// Invariants: weights checked at load; buffers reused at a fixed token count.
/// Thread-safety: immutable and `Sendable`; each stream owns a `State`.
public struct ActionHead: Sendable {
    public let config: ModelConfig.ActionHead
    public let attention: TemporalAttention
    public let actions: Int
    /// Width of the token written by the tracker side (`tok.token_dim`), without the change part.
    public let tokenDim: Int
    /// Width of the appearance-change input (app_grid² + 1 = 10) when `config.changeDim > 0`, else 0.
    public var changeInputs: Int { change?.shape[1] ?? 0 }
    let fc1: Tensor, fc1Bias: Tensor, fc2: Tensor, fc2Bias: Tensor
    let change: Tensor?, changeBias: Tensor?

    /// Per-stream window and scratch.
    public struct State: Sendable {
        public internal(set) var temporal: TemporalState
        /// `[m, actions]` logits of the last `step`.
        public internal(set) var logits = Tensor(shape: [0])
        var input = Tensor(shape: [0])
        var changed = Tensor(shape: [0])
        var joined = Tensor(shape: [0])
        var hidden = Tensor(shape: [0])
        init(temporal: TemporalState) { self.temporal = temporal }
        /// Bytes held (window + scratch capacities).
        public var allocatedBytes: Int {
            temporal.allocatedBytes + (logits.storage.capacity + input.storage.capacity + changed.storage.capacity
                                       + joined.storage.capacity + hidden.storage.capacity) * MemoryLayout<Float>.stride
        }
    }

    /// Takes `act.*` from `loader`.
    public static func load(_ loader: inout WeightsLoader, model: ModelConfig) throws(WeightsError) -> ActionHead {
        guard let c = model.act, let tok = model.tok, let names = model.actionNames else {
            throw .invalidConfig(field: "act", problem: "the model config has no act/tok head or action_names")
        }
        let p = c.changeDim, f = tok.appGrid * tok.appGrid + 1
        let t = tok.tokenDim + p, d = c.headDim
        let config = TemporalConfig(modelDim: t, queryHeads: c.heads, kvHeads: c.kvHeads, headDim: d, rotaryDim: d, ropeBase: c.ropeBase)
        let weights: TemporalWeights
        let attention: TemporalAttention
        do {
            weights = try TemporalWeights(config: config,
                                          q: try loader.take("act.q.weight", shape: [c.heads * d, t]),
                                          k: try loader.take("act.k.weight", shape: [c.kvHeads * d, t]),
                                          v: try loader.take("act.v.weight", shape: [c.kvHeads * d, t]),
                                          o: try loader.take("act.o.weight", shape: [t, c.heads * d]),
                                          qBias: try loader.take("act.q.bias", shape: [c.heads * d]),
                                          kBias: try loader.take("act.k.bias", shape: [c.kvHeads * d]),
                                          vBias: try loader.take("act.v.bias", shape: [c.kvHeads * d]),
                                          oBias: try loader.take("act.o.bias", shape: [t]))
            attention = try TemporalAttention(config: config, weights: weights)
        } catch let error as WeightsError {
            throw error
        } catch {
            throw .invalidConfig(field: "act", problem: "\(error)")
        }
        let change = p > 0 ? try loader.take("act.change.weight", shape: [p, f]) : nil
        let changeBias = p > 0 ? try loader.take("act.change.bias", shape: [p]) : nil
        return ActionHead(config: c, attention: attention, actions: names.count, tokenDim: tok.tokenDim,
                          change: change, changeBias: changeBias,
                          fc1: try loader.take("act.fc1.weight", shape: [c.hidden, 2 * t]), fc1Bias: try loader.take("act.fc1.bias", shape: [c.hidden]),
                          fc2: try loader.take("act.fc2.weight", shape: [names.count, c.hidden]),
                          fc2Bias: try loader.take("act.fc2.bias", shape: [names.count]))
    }

    private init(config: ModelConfig.ActionHead, attention: TemporalAttention, actions: Int, tokenDim: Int,
                 change: Tensor?, changeBias: Tensor?,
                 fc1: Tensor, fc1Bias: Tensor, fc2: Tensor, fc2Bias: Tensor) {
        self.config = config; self.attention = attention; self.actions = actions
        self.tokenDim = tokenDim; self.change = change; self.changeBias = changeBias
        self.fc1 = fc1; self.fc1Bias = fc1Bias; self.fc2 = fc2; self.fc2Bias = fc2Bias
    }

    /// Writes one row of the change input (`[·, points + 1]`, row `outRow` of `out`, already sized):
    /// `10·(1 − cos)` between row `row` of `current` (`[n, points·channels]` grid samples,
    /// point-major) and `previous` at each point, then over the whole vector, with
    /// `cos(a, b) = a·b / max(‖a‖‖b‖, 1e-6)`; zeros when `previous` is nil (a track's first token).
    /// The same as PyTorch's `model.appearance_change` (tools/train/model.py).
    public static func writeChange(current: Tensor, row: Int, previous: [Float]?, channels: Int, into out: inout Tensor, outRow: Int) {
        let width = out.shape[1], points = width - 1, f = points * channels, src = row * f, dst = outRow * width
        guard let previous, previous.count == f else {
            for j in 0..<width { out.storage[dst + j] = 0 }
            return
        }
        func distance(_ dot: Float, _ a: Float, _ b: Float) -> Float { 10 * (1 - dot / max(a.squareRoot() * b.squareRoot(), 1e-6)) }
        var dotAll: Float = 0, aAll: Float = 0, bAll: Float = 0
        for p in 0..<points {
            var dot: Float = 0, a: Float = 0, b: Float = 0
            for j in (p * channels)..<((p + 1) * channels) {
                let x = current.storage[src + j], y = previous[j]
                dot += x * y; a += x * x; b += y * y
            }
            out.storage[dst + p] = distance(dot, a, b)
            dotAll += dot; aAll += a; bAll += b
        }
        out.storage[dst + points] = distance(dotAll, aAll, bAll)
    }

    /// A fresh state for up to `maxObjects` tokens per frame; `frames` (default: the model's
    /// window), `policy` and `storage` set the window.
    public func makeState(maxObjects: Int, frames: Int? = nil, policy: KVWindowPolicy = .fifo,
                          storage: KVStorageFormat = .f32) throws(TemporalError) -> State {
        let c = attention.config
        return State(temporal: try attention.makeState(window: KVWindowConfig(window: frames ?? config.window, maxObjects: maxObjects,
                                                                                kvHeads: c.kvHeads, headDim: c.headDim,
                                                                                policy: policy, storage: storage)))
    }

    /// Writes frame `frame`'s tokens (`[m, tokenDim]`, owners one per row, distinct track keys)
    /// and returns their action logits `[m, actions]` (also in `state.logits`). `changes`
    /// (`[m, changeInputs]`) is required when the head has a change input and ignored otherwise.
    @discardableResult
    public func step(_ state: inout State, tokens: Tensor, changes: Tensor? = nil, owners: [Int], frame: Int,
                     context: ComputeContext = .serial) throws(TemporalError) -> Tensor {
        let t = attention.config.modelDim, tk = tokenDim, p = t - tk
        let m = tokens.rank == 2 ? tokens.shape[0] : -1
        guard tokens.rank == 2, tokens.shape[1] == tk, owners.count == m else {
            throw .tokens(frame: frame, expected: "action tokens [\(owners.count), \(tk)]", found: tokens.shape)
        }
        state.logits.resize([m, actions])
        if m == 0 {
            state.input.resize([1, t])
            for i in 0..<t { state.input.storage[i] = 0 }
            try attention.step(&state.temporal, tokens: state.input, frame: frame, owners: [0], restriction: .sameOwner, context: context)
            return state.logits
        }
        let x: Tensor
        if let change, let changeBias {
            guard let changes, changes.shape == [m, changeInputs] else {
                throw .tokens(frame: frame, expected: "appearance changes [\(m), \(changeInputs)]", found: changes?.shape ?? [])
            }
            do {
                try GEMM.matmul(changes, change, transposeB: true, bias: changeBias, into: &state.changed, context: context)
            } catch { throw .kernel(frame: frame, underlying: error) }
            state.input.resize([m, t])
            for i in 0..<m {
                for j in 0..<tk { state.input.storage[i * t + j] = tokens.storage[i * tk + j] }
                for j in 0..<p { state.input.storage[i * t + tk + j] = state.changed.storage[i * p + j] }
            }
            x = state.input
        } else {
            x = tokens
        }
        let out = try attention.step(&state.temporal, tokens: x, frame: frame, owners: owners, restriction: .sameOwner, context: context)
        state.joined.resize([m, 2 * t])
        for i in 0..<m {
            for j in 0..<t {
                state.joined.storage[i * 2 * t + j] = x.storage[i * t + j]
                state.joined.storage[i * 2 * t + t + j] = out.storage[i * t + j]
            }
        }
        do {
            try GEMM.matmul(state.joined, fc1, transposeB: true, into: &state.hidden, context: context)
            try Activation.gelu(&state.hidden, bias: fc1Bias, pool: context.pool)
            try GEMM.matmul(state.hidden, fc2, transposeB: true, bias: fc2Bias, into: &state.logits, context: context)
        } catch { throw .kernel(frame: frame, underlying: error) }
        return state.logits
    }
}
