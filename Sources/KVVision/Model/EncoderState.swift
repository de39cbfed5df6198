/// Per-stream scratch of the ViT encoder for one input size: every buffer a frame needs,
/// allocated once, so steady-state encoding allocates no tensor buffer (kernels still build a
/// few small shape arrays per call).
///
/// Invariants: all buffers are sized for `height × width` input and the model it was made by
/// (`VisionTransformer.makeState`); `tokens` holds the last frame's output `[1+P, D]`.
/// `base` is `cls + pos[0]` in row 0 and `pos[i] + patch bias` in rows 1… (position embedding
/// resampled to this grid when it differs from the trained one).
///
/// Thread-safety: a value type owned by one stream; never share one state between threads.
public struct EncoderState: Sendable {
    /// Input height and width in pixels.
    public let height: Int
    public let width: Int
    /// Patch grid rows and columns.
    public let grid: (h: Int, w: Int)
    /// Output tokens of the last `encode`, `[1+P, D]`.
    public internal(set) var tokens: Tensor

    var base: Tensor
    var patches: Tensor
    var x: Tensor
    var y: Tensor
    var qkv: Tensor
    var attn: Tensor
    var scores: Tensor
    var hidden: Tensor
    /// Quantised activation rows of int8/bf16 Linear layers (grown by the first frame, then reused).
    var linear = PackedLinear.Scratch()

    /// Largest scratch one stream may ask for (8 GiB): a model or input beyond it is refused
    /// with a typed error instead of failing to allocate.
    static let scratchLimitBytes = 8 << 30

    /// Bytes of scratch `init` allocates for `height × width`, or nil when the count overflows `Int`.
    static func scratchBytes(height: Int, width: Int, config: ModelConfig) -> Int? {
        let p = config.patchSize, d = config.dim
        guard p > 0 else { return nil }
        let (cells, o1) = (height / p).multipliedReportingOverflow(by: width / p)
        guard !o1 else { return nil }
        let n = cells + 1
        let parts: [[Int]] = [[n, d], [cells, 3 * p * p], [n, d], [n, d], [n, 3 * d], [n, d],
                              [config.heads, n, n], [n, config.mlpDim], [n, d]]
        var total = 0
        for dims in parts {
            var count = 1
            for x in dims {
                let (c, o) = count.multipliedReportingOverflow(by: x)
                guard !o else { return nil }
                count = c
            }
            let (t, o) = total.addingReportingOverflow(count)
            guard !o else { return nil }
            total = t
        }
        let (bytes, o) = total.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        return o ? nil : bytes
    }

    init(height: Int, width: Int, config: ModelConfig, base: Tensor) {
        self.height = height
        self.width = width
        let p = config.patchSize
        grid = (height / p, width / p)
        let n = 1 + grid.h * grid.w, d = config.dim
        self.base = base
        tokens = Tensor(shape: [n, d])
        patches = Tensor(shape: [grid.h * grid.w, 3 * p * p])
        x = Tensor(shape: [n, d])
        y = Tensor(shape: [n, d])
        qkv = Tensor(shape: [n, 3 * d])
        attn = Tensor(shape: [n, d])
        scores = Tensor(shape: [config.heads, n, n])
        hidden = Tensor(shape: [n, config.mlpDim])
    }
}
