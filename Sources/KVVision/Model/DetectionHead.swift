import Foundation

/// One object found by `DetectionHead.decode`: a box in model pixels, its peak score and class.
///
/// Invariants: `box` is `[cx − w/2, cy − h/2, w, h]` with `w, h > 0` (exponentials); `score` in 0…1.
/// Thread-safety: a value type.
public struct HeadDetection: Sendable, Equatable {
    /// Box in model-input pixels (x, y, w, h).
    public var box: Box
    public var score: Float
    /// Index into the model's `class_names`.
    public var classIndex: Int
    public init(box: Box, score: Float, classIndex: Int) { self.box = box; self.score = score; self.classIndex = classIndex }
}

/// The default model's `det` head: CenterNet-style class heatmaps, centre offsets and log sizes at
/// stride 8, from the encoder's patch tokens (Linear + pixel shuffle, ViTDet's up-sampling) joined
/// with a small conv stem on the pixels (docs/model.md, "det").
///
/// Per frame: `U = pixel_shuffle(up(tokens[1...]))` `[up, h, w]`; `S = stem(pixels)` (3×3 stride-2
/// convs + ReLU) `[stem₋₁, h, w]`; `F = relu(neck₁(relu(neck₀([U; S]))))` `[neck, h, w]`; then one
/// fused 1×1 conv gives `[classes heat logits; offset x, y; ln w, ln h]`. `decode` takes
/// `sigmoid(heat)` and its maximum over classes per cell (the argmax, lowest index on ties, is the
/// class), keeps that map's 3×3 max-pool peaks, the top K over (y, x) with score ≥ `min_score`
/// (no NMS), and turns each into a box: `cx = stride·(x + off_x)`, `w = exp(ln w)`. One box per
/// peak: a shape whose evidence is split between two class maps gives one box, not two (per-class
/// peaks gave such duplicates and cost the preliminary model 0.25 of AP50 on validation).
///
/// Invariants: weights are checked against the config at load; `State` buffers are sized on the
/// first frame and reused (no allocation per frame at a fixed input size).
/// Thread-safety: immutable and `Sendable`, shared by streams; each stream owns a `State`.
public struct DetectionHead: Sendable {
    public let config: ModelConfig.DetectionHead
    /// Model input [height, width] and the patch grid of the encoder tokens.
    public let imageSize: (height: Int, width: Int)
    public let grid: (h: Int, w: Int)
    public let classes: Int
    let up: Tensor, upBias: Tensor
    /// The token up-projection packed for int8 (nil: f32 through OpenBLAS).
    let int8Up: PackedLinear?
    /// The first stem conv in int8 on the frame's RGB bytes (nil: f32 on the normalised pixels).
    let int8Pixels: Int8PixelConv?
    /// The model's mean/std, for `stem(rgb:)` when the first conv runs f32 on normalised pixels.
    let normalization: ImageNormalization
    let stem: [Conv2D]
    let neck: [Conv2D]
    /// Fused 1×1 outputs: `classes` heat logits, 2 offsets, 2 log sizes.
    let outputs: Conv2D
    /// int8 versions of the stem and neck convs that run in int8 (nil: f32), index for index.
    let int8Stem: [Int8Conv2D?], int8Neck: [Int8Conv2D?]
    /// The precision the head's 3×3 convs run at: `.int8` runs those with at least
    /// `int8MinInputs` inputs per output (all but the first stem conv) in int8 (`Int8Conv2D`), the
    /// first stem conv from the frame's bytes (`Int8PixelConv`, where the CPU has its kernel and
    /// the caller passes the bytes), and the token up-projection as an int8 `PackedLinear`; any
    /// other precision keeps every layer f32. The 1×1 outputs stay f32.
    public let precision: Precision
    public static let int8MinInputs = 64

    /// Per-stream buffers and the last frame's maps.
    public struct State: Sendable {
        /// `[neck, h, w]`: the features every 1×1 output reads (also the token head's input).
        public internal(set) var features = Tensor(shape: [0])
        /// `[classes + 4, h, w]`: heat logits, offset x, offset y, ln w, ln h.
        public internal(set) var maps = Tensor(shape: [0])
        /// `[classes, h, w]`: sigmoid of the heat logits.
        public internal(set) var heat = Tensor(shape: [0])
        /// `[1, h, w]`: the maximum of `heat` over classes, and each cell's argmax class.
        public internal(set) var best = Tensor(shape: [0])
        public internal(set) var bestClass: [Int] = []
        var upTokens = Tensor(shape: [0])
        var upScratch = PackedLinear.Scratch()
        var joined = Tensor(shape: [0])
        var stem: [Tensor] = []
        /// The normalised frame `stem(rgb:)` gives an f32 first conv (unused when it reads bytes).
        var pixels = Tensor(shape: [0])
        var neck = Tensor(shape: [0])
        var scratch = Tensor(shape: [0])
        var int8Scratch = Int8Conv2D.Scratch()
        var peaks = PeakPicking()
        /// The stem's output range (when tracked) and whether `stem` ran since the last `forward`.
        var stemRange: ValueRange?
        var stemReady = false
        public init() {}
    }

    /// Takes `det.*` from `loader` for `model` (which must have a `det` config and class names),
    /// its 3×3 convs at `precision` (see `precision`; layers named in the model's
    /// `precision.keep_f32`, e.g. `det.neck.0` or `det`, stay f32).
    public static func load(_ loader: inout WeightsLoader, model: ModelConfig, precision: Precision = .f32) throws(WeightsError) -> DetectionHead {
        guard let c = model.det, let names = model.classNames else {
            throw .invalidConfig(field: "det", problem: "the model config has no det head or class_names")
        }
        let d = model.dim, k = names.count
        let up = try loader.take("det.up.weight", shape: [4 * c.upChannels, d])
        let upBias = try loader.take("det.up.bias", shape: [4 * c.upChannels])
        var stem: [Conv2D] = []
        var cin = 3
        for (i, cout) in c.stemChannels.enumerated() {
            stem.append(try conv(&loader, "det.stem.\(i)", [cout, cin, 3, 3], stride: 2, padding: 1))
            cin = cout
        }
        let neck = [try conv(&loader, "det.neck.0", [c.neckChannels, c.upChannels + cin, 3, 3], stride: 1, padding: 1),
                    try conv(&loader, "det.neck.1", [c.neckChannels, c.neckChannels, 3, 3], stride: 1, padding: 1)]
        // The three 1×1 outputs as one conv: rows stacked heat, offset, size.
        var w = try loader.take("det.heatmap.weight", shape: [k, c.neckChannels, 1, 1]).storage
        var b = try loader.take("det.heatmap.bias", shape: [k]).storage
        for part in ["offset", "size"] {
            w += try loader.take("det.\(part).weight", shape: [2, c.neckChannels, 1, 1]).storage
            b += try loader.take("det.\(part).bias", shape: [2]).storage
        }
        let outputs: Conv2D
        do {
            outputs = try Conv2D(weight: Tensor(shape: [k + 4, c.neckChannels, 1, 1], storage: w), bias: Tensor(shape: [k + 4], storage: b))
        } catch { throw .kernel(error) }
        let keep = model.precision ?? ModelConfig.PrecisionDefaults()
        func int8(_ conv: Conv2D, _ name: String) throws(WeightsError) -> Int8Conv2D? {
            guard precision == .int8, conv.inChannels * conv.kernelHeight * conv.kernelWidth >= int8MinInputs,
                  !keep.keepsF32(name) else { return nil }
            do { return try Int8Conv2D(conv) } catch { throw .kernel(error) }
        }
        var int8Stem: [Int8Conv2D?] = [], int8Neck: [Int8Conv2D?] = []
        for (i, conv) in stem.enumerated() { int8Stem.append(try int8(conv, "det.stem.\(i)")) }
        for (i, conv) in neck.enumerated() { int8Neck.append(try int8(conv, "det.neck.\(i)")) }
        // The first stem conv reads the frame's bytes in int8 where the CPU has the kernel.
        let norm = try ImageNormalization(config: model)
        var int8Pixels: Int8PixelConv?
        if precision == .int8, !keep.keepsF32("det.stem.0") {
            int8Pixels = Int8PixelConv(stem[0], scale: norm.scale, offset: norm.offset)
        }
        var int8Up: PackedLinear?
        if precision == .int8, !keep.keepsF32("det.up") {
            do { int8Up = try PackedLinear(weight: up, precision: .int8) } catch { throw .kernel(error) }
        }
        return DetectionHead(config: c, imageSize: (model.imageSize[0], model.imageSize[1]), grid: model.grid, classes: k,
                             up: up, upBias: upBias, int8Up: int8Up, int8Pixels: int8Pixels, normalization: norm, stem: stem, neck: neck,
                             outputs: outputs, int8Stem: int8Stem, int8Neck: int8Neck, precision: precision == .int8 ? .int8 : .f32)
    }

    private static func conv(_ loader: inout WeightsLoader, _ name: String, _ shape: [Int], stride: Int, padding: Int) throws(WeightsError) -> Conv2D {
        let w = try loader.take(name + ".weight", shape: shape)
        let b = try loader.take(name + ".bias", shape: [shape[0]])
        do { return try Conv2D(weight: w, bias: b, stride: stride, padding: padding) } catch { throw .kernel(error) }
    }

    private init(config: ModelConfig.DetectionHead, imageSize: (height: Int, width: Int), grid: (h: Int, w: Int), classes: Int,
                 up: Tensor, upBias: Tensor, int8Up: PackedLinear?, int8Pixels: Int8PixelConv?, normalization: ImageNormalization,
                 stem: [Conv2D], neck: [Conv2D], outputs: Conv2D,
                 int8Stem: [Int8Conv2D?], int8Neck: [Int8Conv2D?], precision: Precision) {
        self.config = config; self.imageSize = imageSize; self.grid = grid; self.classes = classes
        self.up = up; self.upBias = upBias; self.int8Up = int8Up; self.int8Pixels = int8Pixels
        self.normalization = normalization; self.stem = stem; self.neck = neck; self.outputs = outputs
        self.int8Stem = int8Stem; self.int8Neck = int8Neck; self.precision = precision
    }

    /// Output map size `(h, w)` = image / stride.
    public var mapSize: (h: Int, w: Int) { (imageSize.height / config.stride, imageSize.width / config.stride) }

    /// Multiply-accumulates per frame.
    public var macs: Int {
        let (h, w) = mapSize
        var total = grid.h * grid.w * up.shape[0] * up.shape[1]
        var ih = imageSize.height, iw = imageSize.width
        for c in stem { total += c.macs(height: ih, width: iw); (ih, iw) = c.outputSize(height: ih, width: iw) }
        for c in neck { total += c.macs(height: h, width: w) }
        return total + outputs.macs(height: h, width: w)
    }

    /// `relu(conv(input))` through the int8 layer when there is one, else the f32 layer. `inputRange`
    /// is the input's range when its producer tracked it; returns the output's when tracked.
    private static func convReLU(_ conv: Conv2D, _ int8: Int8Conv2D?, _ input: Tensor, inputRange: ValueRange?,
                                 into output: inout Tensor, _ scratch: inout Tensor, _ int8Scratch: inout Int8Conv2D.Scratch,
                                 _ context: ComputeContext) throws(TensorError) -> ValueRange? {
        if let int8 {
            return try int8.forward(input, into: &output, scratch: &int8Scratch, relu: true, inputRange: inputRange, context: context)
        }
        return try conv.forward(input, into: &output, scratch: &scratch, relu: true, context: context)
    }

    /// Runs the head: `pixels` `[3, H, W]` is the normalised encoder input, `tokens` `[1 + P, D]`
    /// the encoder's output for it. Leaves `features`, `maps` and `heat` in `state`. The same as
    /// `stem(pixels:)` then `forward(tokens:)`.
    public func forward(pixels: Tensor, rgb: [UInt8]? = nil, tokens: Tensor, state: inout State,
                        context: ComputeContext = .serial) throws(WeightsError) {
        try stem(pixels: pixels, rgb: rgb, state: &state, context: context)
        try forward(tokens: tokens, state: &state, context: context)
    }

    /// The first part of the head, the conv stem on the pixels, which needs no tokens. A pipeline
    /// runs it before the encoder, while the freshly normalised pixels are still in cache (after
    /// the encoder they are not, and the first conv waits on memory), then `forward(tokens:)`.
    /// `rgb`, the frame's bytes that `pixels` was normalised from (rows of 3·W bytes), lets the int8
    /// head run its first conv on them (`int8Pixels`); without it that conv runs f32 on `pixels`.
    public func stem(pixels: Tensor, rgb: [UInt8]? = nil, state: inout State, context: ComputeContext = .serial) throws(WeightsError) {
        guard pixels.shape == [3, imageSize.height, imageSize.width] else {
            throw .badInput(expected: "det pixels [3, \(imageSize.height), \(imageSize.width)]", found: pixels.shape)
        }
        try runStem(pixels: pixels, rgb: rgb, state: &state, context: context)
    }

    /// Whether the first stem conv reads the frame's bytes itself (an int8 head on a CPU with
    /// `Int8PixelConv`'s kernel); otherwise `stem(rgb:)` normalises them for it first.
    public var readsFrameBytes: Bool { int8Pixels != nil }

    /// `stem(pixels:rgb:)` from the frame's bytes alone (rows of 3·W bytes): a head that
    /// `readsFrameBytes` runs its first conv on them; any other normalises them into its state's
    /// `pixels` first (the same values `ImageNormalization.apply` gives the encoder's input).
    public func stem(rgb: [UInt8], state: inout State, context: ComputeContext = .serial) throws(WeightsError) {
        if readsFrameBytes {
            try runStem(pixels: nil, rgb: rgb, state: &state, context: context)
        } else {
            try normalization.apply(rgb: rgb, width: imageSize.width, height: imageSize.height, into: &state.pixels)
            try runStem(pixels: state.pixels, rgb: nil, state: &state, context: context)
        }
    }

    /// The stem: its first conv on `rgb` (when `int8Pixels`) or on `pixels`, then the rest. The
    /// two callers pass one of them that applies.
    private func runStem(pixels: Tensor?, rgb: [UInt8]?, state: inout State, context: ComputeContext) throws(WeightsError) {
        state.stemReady = false
        do {
            // One buffer per conv (an input never aliases its output).
            if state.stem.count != stem.count { state.stem = stem.map { _ in Tensor(shape: [0]) } }
            var range: ValueRange?
            if let int8Pixels, let rgb {
                range = try int8Pixels.forward(rgb: rgb, width: imageSize.width, height: imageSize.height, into: &state.stem[0],
                                               context: context)
            } else if let pixels {
                range = try Self.convReLU(stem[0], int8Stem[0], pixels, inputRange: nil, into: &state.stem[0],
                                          &state.scratch, &state.int8Scratch, context)
            }
            for i in 1..<stem.count {
                range = try Self.convReLU(stem[i], int8Stem[i], state.stem[i - 1], inputRange: range, into: &state.stem[i],
                                          &state.scratch, &state.int8Scratch, context)
            }
            state.stemRange = range
        } catch { throw .kernel(error) }
        state.stemReady = true
    }

    /// The rest of the head for the frame whose `stem(pixels:)` ran last on `state`: `tokens`
    /// `[1 + P, D]` is the encoder's output for it. Leaves `features`, `maps` and `heat` in `state`.
    ///
    /// Each int8 conv takes its input's quantisation range from the conv that wrote it (tracked
    /// while writing; the joined map's adds one pass over its `U` part) instead of a pass over the
    /// whole input: the same range, hence the same bits. With an int8 `neck₀` the joined map is
    /// never formed: `Int8Conv2D.forwardJoined` quantises the up-projected tokens and the stem's
    /// map straight into that conv's input image (the same bytes as quantising the map).
    public func forward(tokens: Tensor, state: inout State, context: ComputeContext = .serial) throws(WeightsError) {
        let (h, w) = mapSize, p = grid.h * grid.w, d = up.shape[1]
        guard tokens.shape == [1 + p, d] else { throw .badInput(expected: "det tokens [\(1 + p), \(d)]", found: tokens.shape) }
        guard state.stemReady else { throw .badInput(expected: "det stem(pixels:) run for this frame before forward(tokens:)", found: []) }
        state.stemReady = false
        do {
            // Patch tokens (class token skipped) → up; their pixel shuffle is the joined map's
            // first `up` channels.
            if let int8Up {
                try int8Up.apply(tokens, bias: upBias, into: &state.upTokens, skippingRows: 1, scratch: &state.upScratch, context: context)
            } else {
                try GEMM.matmul(tokens, up, transposeB: true, bias: upBias, into: &state.upTokens, skippingRows: 1, context: context)
            }
            let r = (imageSize.height / grid.h) / config.stride
            var range = state.stemRange
            var x = state.stem[stem.count - 1]
            let cu = config.upChannels, cs = x.shape[0]
            if let int8 = int8Neck[0] {
                // [U; S] quantised straight into neck₀'s input image (no f32 joined map): its range
                // is U's (every token value lands in the map) with S's as tracked.
                let joinedRange = ValueRange(of: state.upTokens).union(range ?? ValueRange(of: x))
                range = try int8.forwardJoined(tokens: state.upTokens, gridHeight: grid.h, gridWidth: grid.w, upscale: r, stem: x,
                                               inputRange: joinedRange, into: &state.neck, scratch: &state.int8Scratch, relu: true,
                                               context: context)
            } else {
                // [U; S] along channels: U shuffled straight into the joined map's first channels,
                // then S copied after it.
                try PixelShuffle.fromTokens(state.upTokens, height: grid.h, width: grid.w, upscale: r, into: &state.joined, channels: cu + cs)
                try state.joined.reshape([cu + cs, h * w])
                try x.reshape([cs, h * w])
                try state.joined.copyRows(from: x, to: cu)
                try state.joined.reshape([cu + cs, h, w])
                range = try Self.convReLU(neck[0], nil, state.joined, inputRange: nil, into: &state.neck,
                                          &state.scratch, &state.int8Scratch, context)
            }
            _ = try Self.convReLU(neck[1], int8Neck[1], state.neck, inputRange: range, into: &state.features,
                                  &state.scratch, &state.int8Scratch, context)
            try outputs.forward(state.features, into: &state.maps, scratch: &state.scratch, context: context)
            state.heat.resize([classes, h, w])
            try Activation.sigmoid(state.maps, into: &state.heat)
            try PeakPicking.channelMaximum(state.heat, into: &state.best, channel: &state.bestClass)
        } catch { throw .kernel(error) }
    }

    /// The detections of the last `forward`, best first (at most `top_k`, score ≥ `min_score`).
    public func decode(_ state: inout State) throws(WeightsError) -> [HeadDetection] {
        let (h, w) = mapSize, k = classes, s = Float(config.stride)
        let peaks: [PeakPicking.Peak]
        do { peaks = try state.peaks.decode(state.best, k: config.topK, threshold: config.minScore) } catch { throw .kernel(error) }
        return peaks.map { peak in
            let cell = peak.y * w + peak.x, m = state.maps.storage
            let cx = (Float(peak.x) + m[k * h * w + cell]) * s
            let cy = (Float(peak.y) + m[(k + 1) * h * w + cell]) * s
            let bw = expf(m[(k + 2) * h * w + cell]), bh = expf(m[(k + 3) * h * w + cell])
            let box = Box(x: Double(cx - bw / 2), y: Double(cy - bh / 2), w: Double(bw), h: Double(bh))
            return HeadDetection(box: box, score: peak.score, classIndex: state.bestClass[cell])
        }
    }
}
