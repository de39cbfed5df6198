/// The spatial encoder: a timm-compatible ViT (class token, learned absolute position embedding,
/// pre-norm blocks with qkv bias, exact GELU MLP, final LayerNorm). Output per frame: tokens
/// `[1+P, D]`, the same as timm's `forward_features`.
///
/// Weights use timm names (see docs/model.md "Spatial encoder tensors"). Block order per layer:
/// `x += proj(attn(norm1(x)))`, `x += fc2(gelu(fc1(norm2(x))))`. In the implementation the proj
/// and fc2 biases are not added by their GEMMs but folded into the next LayerNorm pass, which adds
/// them to the residual stream first (one pass over memory fewer per GEMM).
///
/// Invariants: immutable after load; every weight has the shape the config implies
/// (block Linear weights transposed, see `Block`).
/// Thread-safety: `Sendable` and immutable — share one model across threads and streams; each
/// stream owns its `EncoderState` and its `ComputeContext` (threads).
public struct VisionTransformer: Sendable {
    /// Linear weights (`qkvW`, `projW`, `fc1W`, `fc2W`) in f32 are stored transposed, `[in, out]`,
    /// so each GEMM is a plain `a · w` (OpenBLAS's NN path, a few % faster here than NT on these
    /// shapes); the checkpoint's `[out, in]` is transposed once at load. At int8 or bf16 they are
    /// packed from `[out, in]` at load instead, and the f32 tensor is dropped (`LinearWeights`).
    struct Block: Sendable {
        var norm1W, norm1B, qkvB, projB, norm2W, norm2B, fc1B, fc2B: Tensor
        var qkvW, projW, fc1W, fc2W: LinearWeights
    }

    /// The Linear layers of block `i`, by timm module path, in `Block` order (qkv, proj, fc1, fc2).
    public static func linearLayers(block i: Int) -> [String] {
        ["blocks.\(i).attn.qkv", "blocks.\(i).attn.proj", "blocks.\(i).mlp.fc1", "blocks.\(i).mlp.fc2"]
    }

    public let config: ModelConfig
    /// The precision the encoder's block Linear layers run at (those named in the config's
    /// `precision.keep_f32` stay f32; the patch embedding is always f32).
    public let precision: Precision
    let cls: Tensor        // [D]
    let pos: Tensor        // [1+P, D]
    let patchW: Tensor     // [D, 3·p·p]
    let patchB: Tensor     // [D]
    let blocks: [Block]
    let normW: Tensor, normB: Tensor
    /// The config's mean/std as applied to a frame's bytes (`encode(rgb:…)`).
    public let normalization: ImageNormalization

    /// Names and shapes of every tensor the encoder needs, in load order.
    public static func requiredTensors(_ c: ModelConfig) -> [(name: String, shape: [Int])] {
        let d = c.dim, p = c.patchSize, n = 1 + c.grid.h * c.grid.w
        var list: [(String, [Int])] = [("cls_token", [1, 1, d]), ("pos_embed", [1, n, d]),
                                       ("patch_embed.proj.weight", [d, 3, p, p]), ("patch_embed.proj.bias", [d])]
        for i in 0..<c.depth {
            let b = "blocks.\(i)."
            list += [(b + "norm1.weight", [d]), (b + "norm1.bias", [d]), (b + "attn.qkv.weight", [3 * d, d]), (b + "attn.qkv.bias", [3 * d]),
                     (b + "attn.proj.weight", [d, d]), (b + "attn.proj.bias", [d]), (b + "norm2.weight", [d]), (b + "norm2.bias", [d]),
                     (b + "mlp.fc1.weight", [c.mlpDim, d]), (b + "mlp.fc1.bias", [c.mlpDim]), (b + "mlp.fc2.weight", [d, c.mlpDim]),
                     (b + "mlp.fc2.bias", [d])]
        }
        list += [("norm.weight", [d]), ("norm.bias", [d])]
        return list
    }

    /// Loads the encoder from `file` with `config` at `precision` (default: the config's
    /// `precision.default`, else f32) with `kernels` (default: the process's `KernelISA`
    /// selection); returns the tensors it did not use.
    public static func load(_ file: SafetensorsFile, config: ModelConfig, precision: Precision? = nil,
                            kernels: KernelISA? = nil) throws(WeightsError) -> (model: VisionTransformer, unused: [String]) {
        try config.validate()
        let precision = precision ?? config.precision?.default ?? .f32
        var loader = WeightsLoader(file: file)
        var byName: [String: Tensor] = [:], linears: [String: LinearWeights] = [:]
        let d = config.dim, p = config.patchSize, n = 1 + config.grid.h * config.grid.w
        for (name, shape) in requiredTensors(config) {
            let view: [Int]? = switch name {
            case "cls_token": [d]
            case "pos_embed": [n, d]
            case "patch_embed.proj.weight": [d, 3 * p * p]
            default: nil
            }
            let t = try loader.take(name, shape: shape, as: view)
            if let layer = linearLayer(name) {
                linears[name] = try linearWeights(layer, t, precision: precision, config: config, kernels: kernels)
            } else {
                byName[name] = t
            }
        }
        return (try VisionTransformer(config: config, precision: precision, tensors: byName, linears: linears), loader.unused)
    }

    /// Opens `path`, reads or infers its config, and loads the encoder at `precision` (default:
    /// the config's).
    public static func load(path: String, heads: Int? = nil, imageSize: [Int]? = nil, precision: Precision? = nil,
                            kernels: KernelISA? = nil) throws(WeightsError) -> (model: VisionTransformer, unused: [String]) {
        let file = try SafetensorsFile(path: path)
        return try load(file, config: ModelConfig.from(file, heads: heads, imageSize: imageSize), precision: precision, kernels: kernels)
    }

    /// A model with random weights (uniform, seeded) of `config`'s shape, for benchmarks.
    public static func random(config: ModelConfig, seed: UInt64 = 1, precision: Precision? = nil,
                              kernels: KernelISA? = nil) throws(WeightsError) -> VisionTransformer {
        try config.validate()
        var rng = SplitMix64(seed: seed)
        func next() -> Float { Float(rng.unit() * 0.1 - 0.05) }
        let precision = precision ?? config.precision?.default ?? .f32
        var byName: [String: Tensor] = [:], linears: [String: LinearWeights] = [:]
        let d = config.dim, p = config.patchSize, n = 1 + config.grid.h * config.grid.w
        for (name, shape) in requiredTensors(config) {
            let view: [Int] = switch name {
            case "cls_token": [d]
            case "pos_embed": [n, d]
            case "patch_embed.proj.weight": [d, 3 * p * p]
            default: shape
            }
            let isScale = name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name == "norm.weight"
            let count = view.reduce(1, *)
            if let t = try? Tensor(shape: view, storage: (0..<count).map { _ in isScale ? 1 + next() : next() }) {
                if let layer = linearLayer(name) {
                    linears[name] = try linearWeights(layer, t, precision: precision, config: config, kernels: kernels)
                } else {
                    byName[name] = t
                }
            }
        }
        return try VisionTransformer(config: config, precision: precision, tensors: byName, linears: linears)
    }

    /// The block Linear layer (`blocks.i.attn.qkv`, …) whose weight `name` is, or nil.
    private static func linearLayer(_ name: String) -> String? {
        guard name.hasPrefix("blocks."), name.hasSuffix(".weight") else { return nil }
        let layer = String(name.dropLast(".weight".count))
        return layer.hasSuffix(".attn.qkv") || layer.hasSuffix(".attn.proj") || layer.hasSuffix(".mlp.fc1")
            || layer.hasSuffix(".mlp.fc2") ? layer : nil
    }

    /// A checkpoint Linear weight `[out, in]` in the form the model keeps (see `Block`), one at a
    /// time as they are loaded so the checkpoint copy is freed before the next is read (peak
    /// memory stays one model plus one f32 tensor).
    private static func linearWeights(_ layer: String, _ t: Tensor, precision: Precision, config: ModelConfig,
                                      kernels: KernelISA?) throws(WeightsError) -> LinearWeights {
        let keep = (config.precision ?? ModelConfig.PrecisionDefaults()).keepsF32(layer)
        do { return try LinearWeights(weight: t, precision: keep ? .f32 : precision, isa: kernels) } catch { throw .kernel(error) }
    }

    /// `t` holds every tensor of `requiredTensors` except the block Linear weights, which are in `linears`.
    private init(config: ModelConfig, precision: Precision, tensors t: [String: Tensor], linears: [String: LinearWeights]) throws(WeightsError) {
        func get(_ name: String) throws(WeightsError) -> Tensor {
            guard let v = t[name] else { throw .missingTensor(path: config.name, tensor: name) }
            return v
        }
        func linear(_ name: String) throws(WeightsError) -> LinearWeights {
            guard let v = linears[name] else { throw .missingTensor(path: config.name, tensor: name) }
            return v
        }
        self.config = config
        self.precision = precision
        normalization = try ImageNormalization(config: config)
        cls = try get("cls_token")
        pos = try get("pos_embed")
        patchW = try get("patch_embed.proj.weight")
        patchB = try get("patch_embed.proj.bias")
        var blocks: [Block] = []
        for i in 0..<config.depth {
            let b = "blocks.\(i)."
            blocks.append(Block(norm1W: try get(b + "norm1.weight"), norm1B: try get(b + "norm1.bias"),
                                qkvB: try get(b + "attn.qkv.bias"), projB: try get(b + "attn.proj.bias"),
                                norm2W: try get(b + "norm2.weight"), norm2B: try get(b + "norm2.bias"),
                                fc1B: try get(b + "mlp.fc1.bias"), fc2B: try get(b + "mlp.fc2.bias"),
                                qkvW: try linear(b + "attn.qkv.weight"), projW: try linear(b + "attn.proj.weight"),
                                fc1W: try linear(b + "mlp.fc1.weight"), fc2W: try linear(b + "mlp.fc2.weight")))
        }
        self.blocks = blocks
        normW = try get("norm.weight")
        normB = try get("norm.bias")
    }

    /// Number of parameters of the encoder.
    public var parameterCount: Int {
        var n = cls.count + pos.count + patchW.count + patchB.count + normW.count + normB.count
        for b in blocks {
            n += [b.norm1W, b.norm1B, b.qkvB, b.projB, b.norm2W, b.norm2B, b.fc1B, b.fc2B].reduce(0) { $0 + $1.count }
            n += [b.qkvW, b.projW, b.fc1W, b.fc2W].reduce(0) { $0 + $1.count }
        }
        return n
    }

    /// Bytes the block Linear weights occupy (f32: 4 per weight; int8: 1 plus per-channel tables).
    public var linearWeightBytes: Int {
        blocks.reduce(0) { $0 + [$1.qkvW, $1.projW, $1.fc1W, $1.fc2W].reduce(0) { $0 + $1.bytes } }
    }

    /// How many block Linear layers run at each precision (f32 ones include those kept f32).
    public var linearPrecisions: [Precision: Int] {
        var counts: [Precision: Int] = [:]
        for b in blocks { for w in [b.qkvW, b.projW, b.fc1W, b.fc2W] { counts[w.precision, default: 0] += 1 } }
        return counts
    }

    /// The GEMMs of one frame at `height × width`: (m, n, k, how many per frame, whether `b` is
    /// used transposed — the patch embedding and q·kᵀ are, the NN-stored Linear layers and p·v not).
    public func gemmShapes(height: Int, width: Int) -> [(m: Int, n: Int, k: Int, count: Int, transposeB: Bool)] {
        let c = config, p = c.patchSize, np = (height / p) * (width / p), t = np + 1, d = c.dim
        return [(np, d, 3 * p * p, 1, true), (t, 3 * d, d, c.depth, false), (t, t, c.headDim, c.depth * c.heads, true),
                (t, c.headDim, t, c.depth * c.heads, false), (t, d, d, c.depth, false), (t, c.mlpDim, d, c.depth, false),
                (t, d, c.mlpDim, c.depth, false)]
    }

    /// Multiply-add FLOPs (2 per MAC) of the GEMMs of one frame.
    /// Saturates at `Int.max` for absurd shapes rather than trapping.
    public func flopsPerFrame(height: Int, width: Int) -> Int {
        var total = 0
        for g in gemmShapes(height: height, width: width) {
            var term = 2
            for x in [g.m, g.n, g.k, g.count] {
                let (v, o) = term.multipliedReportingOverflow(by: x)
                if o { return Int.max }
                term = v
            }
            let (t, o) = total.addingReportingOverflow(term)
            if o { return Int.max }
            total = t
        }
        return total
    }

    /// Scratch for `height × width` input (multiples of the patch size); resamples the position
    /// embedding when the grid differs from the trained one.
    public func makeState(height: Int, width: Int) throws(WeightsError) -> EncoderState {
        let p = config.patchSize
        guard height > 0, width > 0, height % p == 0, width % p == 0, height <= 16384, width <= 16384 else {
            throw .badInput(expected: "[3, H, W] with H and W positive multiples of \(p)", found: [3, height, width])
        }
        guard let bytes = EncoderState.scratchBytes(height: height, width: width, config: config),
              bytes <= EncoderState.scratchLimitBytes else {
            throw .invalidConfig(field: "input \(width)x\(height)",
                                 problem: "per-stream scratch would exceed \(EncoderState.scratchLimitBytes >> 30) GiB")
        }
        let d = config.dim
        let gh = height / p, gw = width / p
        var posHere: Tensor
        do {
            posHere = try PositionResampling.resample(pos, prefixTokens: 1, from: config.grid, to: (gh, gw))
        } catch { throw .kernel(error) }
        for j in 0..<d { posHere.storage[j] += cls.storage[j] }
        for r in 1..<(1 + gh * gw) {
            for j in 0..<d { posHere.storage[r * d + j] += patchB.storage[j] }
        }
        return EncoderState(height: height, width: width, config: config, base: posHere)
    }

    /// Encodes one normalised frame `[3, H, W]` (H, W as `state`'s); the tokens are left in
    /// `state.tokens`. Threads come from `context` alone (default: one thread), so encoders with
    /// their own contexts run at the same time; tokens depend only on the context's thread count
    /// and GEMM mode, never on what else runs.
    public func encode(_ image: Tensor, state: inout EncoderState, context: ComputeContext = .serial) throws(WeightsError) {
        guard image.shape == [3, state.height, state.width] else {
            throw .badInput(expected: "[3, \(state.height), \(state.width)]", found: image.shape)
        }
        do {
            try forward(image, &state, context)
        } catch { throw .kernel(error) }
    }

    /// Encodes one frame straight from its interleaved RGB bytes (`height` rows of `3·width`
    /// bytes, `rowBytes` apart; width and height as `state`'s): the same tokens, bit for bit, as
    /// `encode` of `normalization.apply(rgb:…)`, but the normalised f32 image is never written —
    /// the patch rows are unfolded from the bytes and normalised on the way
    /// (`PatchEmbedding.im2col(rgb:…)`). Threads as `encode`'s.
    public func encode(rgb: [UInt8], width: Int, height: Int, rowBytes: Int? = nil, state: inout EncoderState,
                       context: ComputeContext = .serial) throws(WeightsError) {
        guard width == state.width, height == state.height else {
            throw .badInput(expected: "RGB \(state.width)x\(state.height)", found: [height, width, 3])
        }
        do {
            // (The unfold checks the bytes against the rows.)
            try PatchEmbedding.im2col(rgb: rgb, width: width, height: height, rowBytes: rowBytes ?? 3 * width, scale: normalization.scale,
                                      offset: normalization.offset, patch: config.patchSize, into: &state.patches, pool: context.pool)
            try PatchEmbedding.project(state.patches, weight: patchW, base: state.base, into: &state.x, context: context)
            try runBlocks(&state, context)
        } catch { throw .kernel(error) }
    }

    private func forward(_ image: Tensor, _ s: inout EncoderState, _ context: ComputeContext) throws(TensorError) {
        try PatchEmbedding.embed(image, patch: config.patchSize, weight: patchW, base: s.base, patches: &s.patches, into: &s.x, context: context)
        try runBlocks(&s, context)
    }

    /// The transformer blocks and the final norm over `s.x` (the patch embedding's tokens).
    private func runBlocks(_ s: inout EncoderState, _ context: ComputeContext) throws(TensorError) {
        let eps = config.layerNormEps, pool = context.pool
        var pending: Tensor? = nil
        for b in blocks {
            try LayerNorm.apply(&s.x, addingBias: pending, weight: b.norm1W, bias: b.norm1B, eps: eps, into: &s.y, pool: pool)
            try b.qkvW.apply(s.y, bias: b.qkvB, into: &s.qkv, scratch: &s.linear, context: context)
            try MultiHeadAttention.selfAttention(qkv: s.qkv, heads: config.heads, into: &s.attn, scores: &s.scores, context: context)
            try b.projW.apply(s.attn, into: &s.x, accumulate: true, scratch: &s.linear, context: context)
            try LayerNorm.apply(&s.x, addingBias: b.projB, weight: b.norm2W, bias: b.norm2B, eps: eps, into: &s.y, pool: pool)
            try b.fc1W.apply(s.y, into: &s.hidden, scratch: &s.linear, context: context)
            try Activation.gelu(&s.hidden, bias: b.fc1B, pool: pool)
            try b.fc2W.apply(s.hidden, into: &s.x, accumulate: true, scratch: &s.linear, context: context)
            pending = b.fc2B
        }
        try LayerNorm.apply(&s.x, addingBias: pending, weight: normW, bias: normB, eps: eps, into: &s.tokens, pool: pool)
    }
}
