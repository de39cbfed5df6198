import Foundation

/// The default model's `tok` head: one object token per detection, `[e_app ‖ e_mot]`
/// (docs/model.md, "tok").
///
/// - Appearance: a 1×1 conv turns the det features into an appearance map `[app_channels, h, w]`;
///   for a box (model pixels) a 3×3 grid of points at the box's bin centres is sampled bilinearly
///   (PyTorch `grid_sample`, align_corners False, zero padding), laid out point-major
///   (`f[(3·ky + kx)·C + ch]`), and `e_app = fc2(gelu(fc1(f)))`. `appearance` does not compute the
///   map: it samples the det features at the points and applies the 1×1 conv there (`W·s + b·Σw`,
///   see `BilinearSampling.sampleBoxesPointMajor`) — the same values up to float rounding, for
///   9 points per box instead of every cell. `appearanceMap` computes the map itself (reference).
/// - Motion: `e_mot = fc2(gelu(fc1(g)))` over the 11 + classes inputs of `motionInputs`.
///
/// Invariants: weights checked at load; `State` buffers grow to the largest detection count and
/// are reused. Thread-safety: immutable and `Sendable`; each stream owns a `State`.
public struct TokenHead: Sendable {
    public let config: ModelConfig.TokenHead
    public let imageSize: (height: Int, width: Int)
    public let stride: Int
    public let classes: Int
    let appMap: Conv2D
    /// The 1×1 conv's weight as a matrix `[app_channels, neck]`.
    let appMapMatrix: Tensor
    let appFC1: Tensor, appFC1Bias: Tensor, appFC2: Tensor, appFC2Bias: Tensor
    let motFC1: Tensor, motFC1Bias: Tensor, motFC2: Tensor, motFC2Bias: Tensor

    /// Per-stream buffers.
    public struct State: Sendable {
        /// `[app_channels, h, w]` of the last `appearanceMap`.
        public internal(set) var map = Tensor(shape: [0])
        /// `[n, app_dim]` of the last `appearance`.
        public internal(set) var appearance = Tensor(shape: [0])
        /// `[n, mot_dim]` of the last `motion`.
        public internal(set) var motion = Tensor(shape: [0])
        var boxes = Tensor(shape: [0])
        var samples = Tensor(shape: [0])
        var weightSums = Tensor(shape: [0])
        /// `[n, g²·app_channels]`: the grid samples of the last `appearance` (point-major).
        public internal(set) var features = Tensor(shape: [0])
        var hidden = Tensor(shape: [0])
        var scratch = Tensor(shape: [0])
        public init() {}
    }

    /// Takes `tok.*` from `loader` (needs `det`, `tok` and class names in `model`).
    public static func load(_ loader: inout WeightsLoader, model: ModelConfig) throws(WeightsError) -> TokenHead {
        guard let c = model.tok, let det = model.det, let names = model.classNames else {
            throw .invalidConfig(field: "tok", problem: "the model config has no tok/det head or class_names")
        }
        let pts = c.appGrid * c.appGrid
        let w = try loader.take("tok.app_map.weight", shape: [c.appChannels, det.neckChannels, 1, 1])
        let b = try loader.take("tok.app_map.bias", shape: [c.appChannels])
        let appMap: Conv2D, matrix: Tensor
        do {
            appMap = try Conv2D(weight: w, bias: b)
            matrix = try Tensor(shape: [c.appChannels, det.neckChannels], storage: w.storage)
        } catch { throw .kernel(error) }
        return TokenHead(
            config: c, imageSize: (model.imageSize[0], model.imageSize[1]), stride: det.stride, classes: names.count, appMap: appMap, appMapMatrix: matrix,
            appFC1: try loader.take("tok.app_fc1.weight", shape: [c.appHidden, pts * c.appChannels]),
            appFC1Bias: try loader.take("tok.app_fc1.bias", shape: [c.appHidden]),
            appFC2: try loader.take("tok.app_fc2.weight", shape: [c.appDim, c.appHidden]),
            appFC2Bias: try loader.take("tok.app_fc2.bias", shape: [c.appDim]),
            motFC1: try loader.take("tok.mot_fc1.weight", shape: [c.motHidden, c.motInputs]),
            motFC1Bias: try loader.take("tok.mot_fc1.bias", shape: [c.motHidden]),
            motFC2: try loader.take("tok.mot_fc2.weight", shape: [c.motDim, c.motHidden]),
            motFC2Bias: try loader.take("tok.mot_fc2.bias", shape: [c.motDim]))
    }

    private init(config: ModelConfig.TokenHead, imageSize: (height: Int, width: Int), stride: Int, classes: Int, appMap: Conv2D, appMapMatrix: Tensor,
                 appFC1: Tensor, appFC1Bias: Tensor, appFC2: Tensor, appFC2Bias: Tensor,
                 motFC1: Tensor, motFC1Bias: Tensor, motFC2: Tensor, motFC2Bias: Tensor) {
        self.config = config; self.imageSize = imageSize; self.stride = stride; self.classes = classes; self.appMap = appMap
        self.appMapMatrix = appMapMatrix
        self.appFC1 = appFC1; self.appFC1Bias = appFC1Bias; self.appFC2 = appFC2; self.appFC2Bias = appFC2Bias
        self.motFC1 = motFC1; self.motFC1Bias = motFC1Bias; self.motFC2 = motFC2; self.motFC2Bias = motFC2Bias
    }

    /// Computes the appearance map from the det head's features `[neck, h, w]` into `state.map`
    /// (what `appearance` samples, computed whole: for tests and inspection; the pipeline does not
    /// need it).
    public func appearanceMap(features: Tensor, state: inout State, context: ComputeContext = .serial) throws(WeightsError) {
        do { try appMap.forward(features, into: &state.map, scratch: &state.scratch, context: context) } catch { throw .kernel(error) }
    }

    /// `e_app` for each of `boxes` (model pixels) → `state.appearance` `[n, app_dim]`, from the det
    /// head's `features` `[neck, h, w]` of the frame; leaves the boxes' grid samples of the
    /// appearance map in `state.features` `[n, g²·app_channels]`.
    public func appearance(boxes: [Box], features: Tensor, state: inout State, context: ComputeContext = .serial) throws(WeightsError) {
        let n = boxes.count, c = config.appChannels, g = config.appGrid, pts = g * g
        guard features.rank == 3, features.shape[0] == appMap.inChannels else {
            throw .badInput(expected: "det features [\(appMap.inChannels), h, w]", found: features.shape)
        }
        state.appearance.resize([n, config.appDim])
        state.features.resize([n, pts * c])
        guard n > 0 else { return }
        state.boxes.resize([n, 4])
        for (i, b) in boxes.enumerated() {
            state.boxes.storage[4 * i] = Float(b.x); state.boxes.storage[4 * i + 1] = Float(b.y)
            state.boxes.storage[4 * i + 2] = Float(b.x + b.w); state.boxes.storage[4 * i + 3] = Float(b.y + b.h)
        }
        do {
            // The det features at every box's points, point-major [n·g², neck]; then the 1×1 conv
            // at those points: [n·g², C] = W·s + b·Σw, which is [n, g²·C] point-major.
            try BilinearSampling.sampleBoxesPointMajor(features, boxes: state.boxes, stride: Double(stride), points: g,
                                                       into: &state.samples, weightSums: &state.weightSums)
            try GEMM.matmul(state.samples, appMapMatrix, transposeB: true, into: &state.features, context: context)
            if let bias = appMap.bias {
                for r in 0..<(n * pts) {
                    let s = state.weightSums.storage[r]
                    for ch in 0..<c { state.features.storage[r * c + ch] += bias.storage[ch] * s }
                }
            }
            try state.features.reshape([n, pts * c])
            try GEMM.matmul(state.features, appFC1, transposeB: true, into: &state.hidden, context: context)
            try Activation.gelu(&state.hidden, bias: appFC1Bias, pool: context.pool)
            try GEMM.matmul(state.hidden, appFC2, transposeB: true, bias: appFC2Bias, into: &state.appearance, context: context)
        } catch { throw .kernel(error) }
    }

    /// `e_mot` for each row of `inputs` `[n, mot_inputs]` (see `motionInputs`) → `state.motion`.
    public func motion(inputs: Tensor, state: inout State, context: ComputeContext = .serial) throws(WeightsError) {
        guard inputs.rank == 2, inputs.shape[1] == config.motInputs else {
            throw .badInput(expected: "motion inputs [n, \(config.motInputs)]", found: inputs.shape)
        }
        state.motion.resize([inputs.shape[0], config.motDim])
        guard inputs.shape[0] > 0 else { return }
        do {
            try GEMM.matmul(inputs, motFC1, transposeB: true, into: &state.hidden, context: context)
            try Activation.gelu(&state.hidden, bias: motFC1Bias, pool: context.pool)
            try GEMM.matmul(state.hidden, motFC2, transposeB: true, bias: motFC2Bias, into: &state.motion, context: context)
        } catch { throw .kernel(error) }
    }

    /// The previous observation of a detection's owner: its box (model pixels) and how many frames ago.
    public struct Previous: Sendable, Equatable {
        public var box: Box
        public var frames: Int
        public init(box: Box, frames: Int) { self.box = box; self.frames = frames }
    }

    /// Writes the motion/geometry inputs of one detection into row `row` of `inputs`
    /// `[n, 11 + classes]` (docs/model.md; f32 arithmetic in the reference's order):
    /// `[cx/W − ½, cy/H − ½, ln(w'/64), ln(h'/64), s, has·Δcx/d/8, has·Δcy/d/8, has·10·Δln w/d,
    /// has·10·Δln h/d, has·ln(d)/4, has, onehot(class)]` with `w' = max(w, 1)`, `d = max(dt, 1)`,
    /// `has` = 1 when there is a previous observation with `frames > 0`.
    public func motionInputs(box: Box, score: Float, classIndex: Int, previous: Previous?, row: Int, into inputs: inout Tensor) {
        let W = Float(imageSize.width), H = Float(imageSize.height)
        let x = Float(box.x), y = Float(box.y), bw = Float(box.w), bh = Float(box.h)
        let cx = x + bw / 2, cy = y + bh / 2
        let w = max(bw, 1), h = max(bh, 1)
        let dt = previous.map { max($0.frames, 0) } ?? 0
        let has: Float = dt > 0 ? 1 : 0
        let d = Float(max(dt, 1))
        let p = previous?.box ?? box
        let px = Float(p.x), py = Float(p.y), pbw = Float(p.w), pbh = Float(p.h)
        let pcx = px + pbw / 2, pcy = py + pbh / 2
        let pw = max(pbw, 1), ph = max(pbh, 1)
        let base = row * config.motInputs
        inputs.storage[base] = cx / W - 0.5
        inputs.storage[base + 1] = cy / H - 0.5
        inputs.storage[base + 2] = logf(w / 64)
        inputs.storage[base + 3] = logf(h / 64)
        inputs.storage[base + 4] = score
        inputs.storage[base + 5] = has * (cx - pcx) / d / 8
        inputs.storage[base + 6] = has * (cy - pcy) / d / 8
        inputs.storage[base + 7] = has * (logf(w) - logf(pw)) / d * 10
        inputs.storage[base + 8] = has * (logf(h) - logf(ph)) / d * 10
        inputs.storage[base + 9] = has * logf(d) / 4
        inputs.storage[base + 10] = has
        for k in 0..<classes { inputs.storage[base + 11 + k] = k == classIndex ? 1 : 0 }
    }
}
