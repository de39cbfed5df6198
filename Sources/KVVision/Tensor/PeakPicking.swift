/// CenterNet's heatmap decoding without NMS: 3×3 max-pool peak suppression, top-K, score threshold.
///
/// For a heatmap `heat` `[C, H, W]` (class scores, typically after a sigmoid):
/// `hmax = max_pool2d(heat, 3, stride=1, padding=1)` (padding never wins: a border cell is compared
/// with its in-map neighbours only); `peaks = heat · (hmax == heat)` — every cell equal to the
/// maximum of its 3×3 neighbourhood is kept, so a plateau of equal values keeps all its cells;
/// then the top K of `peaks` flattened over `[C, H, W]` (flat index `(c·H + y)·W + x`), ranked as
/// `TopK` ranks (higher score first, equal scores by ascending flat index; `torch.topk` agrees
/// except for the order inside groups of exactly equal scores), and finally the ones with
/// `score ≥ threshold`. With a threshold ≤ 0 suppressed cells (score 0) can be returned, as in
/// the PyTorch reference.
///
/// Invariants: `decode` reuses `scratch`, `topK` and `peaks` (no allocation at a fixed size after
/// the first call). Thread-safety: a value type; one stream owns one decoder.
public struct PeakPicking: Sendable {
    /// One decoded peak.
    public struct Peak: Sendable, Equatable {
        /// Channel (class index).
        public var channel: Int
        /// Row and column in the heatmap.
        public var y: Int, x: Int
        /// The heatmap value there.
        public var score: Float
        public init(channel: Int, y: Int, x: Int, score: Float) {
            self.channel = channel
            self.y = y
            self.x = x
            self.score = score
        }
    }

    /// Suppressed heatmap of the last `decode` (`peaks` above).
    public private(set) var suppressed = Tensor(shape: [0])
    private var topK = TopK()
    /// Peaks of the last `decode`, best first.
    public private(set) var peaks: [Peak] = []

    /// Per cell of `heat` `[C, H, W]`: the maximum over channels into `best` `[1, H, W]` and its
    /// channel into `channel` (the lowest on ties; a NaN in channel 0 stays, a later NaN never
    /// replaces a value), both resized as needed.
    public static func channelMaximum(_ heat: Tensor, into best: inout Tensor, channel: inout [Int]) throws(TensorError) {
        guard heat.rank == 3, heat.shape[0] > 0 else { throw .shapeMismatch(op: "channel maximum", expected: [-1, -1, -1], found: heat.shape) }
        let classes = heat.shape[0], cells = heat.shape[1] * heat.shape[2]
        best.resize([1, heat.shape[1], heat.shape[2]])
        if channel.count != cells { channel = [Int](repeating: 0, count: cells) }
        heat.storage.withUnsafeBufferPointer { h in
            best.storage.withUnsafeMutableBufferPointer { b in
                channel.withUnsafeMutableBufferPointer { a in
                    for cell in 0..<cells {
                        var top = h[cell], arg = 0
                        for c in 1..<classes where h[c * cells + cell] > top { top = h[c * cells + cell]; arg = c }
                        b[cell] = top
                        a[cell] = arg
                    }
                }
            }
        }
    }

    public init(capacity k: Int = 0) {
        topK = TopK(capacity: k)
        peaks.reserveCapacity(k)
    }

    /// `output = heat · (max_pool2d(heat, 3, 1, 1) == heat)` for `heat` `[C, H, W]`.
    public static func suppress(_ heat: Tensor, into output: inout Tensor) throws(TensorError) {
        guard heat.rank == 3 else { throw .shapeMismatch(op: "peak picking heatmap [C, H, W]", expected: [-1, -1, -1], found: heat.shape) }
        let c = heat.shape[0], h = heat.shape[1], w = heat.shape[2]
        output.resize(heat.shape)
        guard output.count > 0 else { return }
        heat.storage.withUnsafeBufferPointer { hp in
            output.storage.withUnsafeMutableBufferPointer { op in
                for ch in 0..<c {
                    let p = hp.baseAddress! + ch * h * w
                    for y in 0..<h {
                        for x in 0..<w {
                            let v = p[y * w + x]
                            var m = v
                            for yy in max(0, y - 1)...min(h - 1, y + 1) {
                                for xx in max(0, x - 1)...min(w - 1, x + 1) where p[yy * w + xx] > m { m = p[yy * w + xx] }
                            }
                            op[(ch * h + y) * w + x] = m == v ? v : 0 * v
                        }
                    }
                }
            }
        }
    }

    /// Decodes `heat` `[C, H, W]`: the top `k` peaks with `score ≥ threshold`, best first (also in `peaks`).
    @discardableResult
    public mutating func decode(_ heat: Tensor, k: Int, threshold: Float) throws(TensorError) -> [Peak] {
        try Self.suppress(heat, into: &suppressed)
        peaks.removeAll(keepingCapacity: true)
        guard suppressed.count > 0 else { return peaks }
        topK.select(suppressed, k: k)
        let h = heat.shape[1], w = heat.shape[2]
        for (i, score) in zip(topK.indices, topK.values) where score >= threshold {
            peaks.append(Peak(channel: i / (h * w), y: (i / w) % h, x: i % w, score: score))
        }
        return peaks
    }
}
