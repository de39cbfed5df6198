import CKernels

/// A 2-D convolution over one image `[C, H, W]` with PyTorch `nn.Conv2d` semantics (groups 1,
/// dilation 1), run as im2col + one sgemm (output positions split over the context's threads),
/// with an optional fused ReLU.
///
/// Weight layout is PyTorch's `[Cout, Cin, kh, kw]` (kept flattened as `[Cout, Cin·kh·kw]`), bias
/// `[Cout]`; zero padding `padding` on every side; output `[Cout, Ho, Wo]` with
/// `Ho = (H + 2·padding − kh) / stride + 1` (floor), likewise Wo. The unfolded input `cols` is
/// `[Cin·kh·kw, Ho·Wo]` (row `(c·kh + ky)·kw + kx` holds `x[c, oy·stride + ky − padding, ox·stride + kx − padding]`,
/// zero outside the image), so `out = W · cols + b` lands directly in NCHW order. A 1×1 kernel with
/// stride 1 and no padding skips the unfold and multiplies the input in place. A 3×3 kernel with
/// stride 1 or 2, padding 1 and a multiple of 8 output channels (every det head conv) runs direct
/// instead (`kvv_conv3x3_rows`, output rows split over the threads, bias and ReLU fused): the
/// unfold wrote 9 floats per input value and read them back, which cost as much as the
/// multiplications (docs/benchmarks.md, "A direct f32 conv").
///
/// Invariants: shapes are checked at init and per call; `forward` resizes `output` and `scratch`
/// with `Tensor.resize`, so calls at a fixed input size allocate nothing after the first.
/// Accuracy: f32 accumulation (OpenBLAS, or the direct kernel: bias, then inputs in weight order);
/// against PyTorch's CPU conv the tests see ≤ 1e-5 of the
/// output's largest magnitude (see Tests/KVVisionTests/OpsConvTests.swift).
/// Thread-safety: immutable and `Sendable`; callers own `scratch` and `output` (one per stream).
public struct Conv2D: Sendable {
    /// Input and output channels.
    public let inChannels: Int, outChannels: Int
    /// Kernel height and width.
    public let kernelHeight: Int, kernelWidth: Int
    /// Step between output positions, both axes.
    public let stride: Int
    /// Zeros added on every side.
    public let padding: Int
    /// `[Cout, Cin·kh·kw]` (PyTorch's `[Cout, Cin, kh, kw]` flattened).
    public let weight: Tensor
    /// `[Cout]` or nil.
    public let bias: Tensor?
    /// The weights transposed to `[Cin·kh·kw, Cout]` for the direct kernel (empty when unused).
    let directWeight: [Float]

    /// A convolution from PyTorch-layout `weight` `[Cout, Cin, kh, kw]` and optional `bias` `[Cout]`.
    public init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) throws(TensorError) {
        guard weight.rank == 4, weight.shape.allSatisfy({ $0 > 0 }) else {
            throw .shapeMismatch(op: "conv2d weight [Cout, Cin, kh, kw]", expected: [-1, -1, -1, -1], found: weight.shape)
        }
        guard stride >= 1, padding >= 0 else {
            throw .shapeMismatch(op: "conv2d stride \(stride) padding \(padding) (stride ≥ 1, padding ≥ 0)", expected: [], found: [])
        }
        if let bias, bias.count != weight.shape[0] {
            throw .shapeMismatch(op: "conv2d bias", expected: [weight.shape[0]], found: bias.shape)
        }
        outChannels = weight.shape[0]
        inChannels = weight.shape[1]
        kernelHeight = weight.shape[2]
        kernelWidth = weight.shape[3]
        self.stride = stride
        self.padding = padding
        var flat = weight
        try flat.reshape([outChannels, inChannels * kernelHeight * kernelWidth])
        self.weight = flat
        self.bias = bias
        let k = inChannels * kernelHeight * kernelWidth, m = outChannels
        if Self.usesDirect(kernelHeight: kernelHeight, kernelWidth: kernelWidth, stride: stride, padding: padding,
                           inChannels: inChannels, outChannels: outChannels) {
            var t = [Float](repeating: 0, count: k * m)
            for co in 0..<m { for j in 0..<k { t[j * m + co] = flat.storage[co * k + j] } }
            directWeight = t
        } else {
            directWeight = []
        }
    }

    /// Whether the direct 3×3 kernel computes a convolution of this geometry.
    static func usesDirect(kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Int, inChannels: Int, outChannels: Int) -> Bool {
        kernelHeight == 3 && kernelWidth == 3 && (stride == 1 || stride == 2) && padding == 1 && outChannels % 8 == 0
    }

    /// Output height and width for an input of `height × width` (zero when the kernel does not fit).
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        Self.outputSize(height: height, width: width, kernelHeight: kernelHeight, kernelWidth: kernelWidth, stride: stride, padding: padding)
    }

    /// The output size rule shared by every convolution of this geometry (f32 and int8).
    static func outputSize(height: Int, width: Int, kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Int) -> (height: Int, width: Int) {
        let h = height + 2 * padding - kernelHeight, w = width + 2 * padding - kernelWidth
        return (h < 0 ? 0 : h / stride + 1, w < 0 ? 0 : w / stride + 1)
    }

    /// Multiply-accumulates for one input of `height × width` (for GMAC reports).
    public func macs(height: Int, width: Int) -> Int {
        let o = outputSize(height: height, width: width)
        return outChannels * o.height * o.width * inChannels * kernelHeight * kernelWidth
    }

    /// True when the direct 3×3 kernel computes this convolution (see the type's notes).
    private var isDirect: Bool { !directWeight.isEmpty }

    /// True when the unfold is the identity (1×1, stride 1, no padding).
    private var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0 }

    /// `output = conv(input) (+ bias)`, then `max(0, ·)` when `relu`; `input` is `[Cin, H, W]`.
    /// `scratch` holds the unfolded input (`[Cin·kh·kw, Ho·Wo]`; untouched for pointwise kernels).
    /// Returns `ValueRange(of: output)` when the kernel tracked it for free (the direct 3×3 path),
    /// nil otherwise.
    @discardableResult
    public func forward(_ input: Tensor, into output: inout Tensor, scratch: inout Tensor, relu: Bool = false,
                        context: ComputeContext = .serial) throws(TensorError) -> ValueRange? {
        let pool = context.pool
        guard input.rank == 3, input.shape[0] == inChannels else {
            throw .shapeMismatch(op: "conv2d input [Cin, H, W]", expected: [inChannels, -1, -1], found: input.shape)
        }
        let h = input.shape[1], w = input.shape[2]
        let (ho, wo) = outputSize(height: h, width: w)
        output.resize([outChannels, ho, wo])
        let n = ho * wo, k = inChannels * kernelHeight * kernelWidth
        guard n > 0 else { return ValueRange() }
        if isDirect {
            return forwardDirect(input, height: h, width: w, outHeight: ho, outWidth: wo, into: &output, relu: relu, pool: pool)
        }
        if !isPointwise {
            scratch.resize([k, n])
            unfold(input, height: h, width: w, outHeight: ho, outWidth: wo, into: &scratch, pool: pool)
        }
        let cols = isPointwise ? input : scratch
        var beta: Float = 0
        if let bias {
            output.storage.withUnsafeMutableBufferPointer { op in
                for c in 0..<outChannels { (op.baseAddress! + c * n).update(repeating: bias.storage[c], count: n) }
            }
            beta = 1
        }
        weight.storage.withUnsafeBufferPointer { wp in
            cols.storage.withUnsafeBufferPointer { cp in
                output.storage.withUnsafeMutableBufferPointer { op in
                    GEMM.splitColumns(m: outChannels, n: n, k: k, a: wp.baseAddress!, lda: k, b: cp.baseAddress!, ldb: n,
                                      c: op.baseAddress!, ldc: n, beta: beta, context: context)
                }
            }
        }
        if relu {
            output.storage.withUnsafeMutableBufferPointer { op in
                nonisolated(unsafe) let o = op.baseAddress!
                pool.parallelFor(op.count, grain: 16_384) { range in
                    for i in range where !(o[i] > 0) { o[i] = o[i].isNaN ? o[i] : 0 }
                }
            }
        }
        return nil
    }

    /// The direct 3×3 path: output rows split over the pool, bias and ReLU fused; returns
    /// the output's range (each chunk of rows reports its own into a stack slot for its first row).
    private func forwardDirect(_ input: Tensor, height h: Int, width w: Int, outHeight ho: Int, outWidth wo: Int,
                               into output: inout Tensor, relu: Bool, pool: ThreadPool) -> ValueRange {
        let cin = inChannels, cout = outChannels, s = stride
        // About half a million multiply-accumulates a chunk of rows (one row of the stem's first
        // conv is only ~0.07 M; one of a neck conv over 40 columns ~1.1 M).
        let grain = max(1, 500_000 / max(1, wo * cout * cin * 9))
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * ho) { slots in
            slots.initialize(repeating: 0)
            input.storage.withUnsafeBufferPointer { ip in
                directWeight.withUnsafeBufferPointer { wp in
                    output.storage.withUnsafeMutableBufferPointer { op in
                        nonisolated(unsafe) let src = ip.baseAddress!, wgt = wp.baseAddress!, dst = op.baseAddress!, ranges = slots.baseAddress!
                        let run = { (b: UnsafePointer<Float>?) in
                            nonisolated(unsafe) let b = b
                            pool.parallelFor(ho, grain: grain) { rows in
                                kvv_conv3x3_rows(src, cin, h, w, s, wgt, b, cout, dst, ho, wo, rows.lowerBound, rows.upperBound, relu ? 1 : 0,
                                                   ranges + 2 * rows.lowerBound)
                            }
                        }
                        if let bias { bias.storage.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
                    }
                }
            }
            var range = ValueRange()
            for r in 0..<ho { range = range.union(ValueRange(lower: slots[2 * r], upper: slots[2 * r + 1])) }
            return range
        }
    }

    /// ⌊a / b⌋ for b > 0 (Swift's `/` truncates toward zero).
    @inline(__always)
    private static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// im2col in the `[Cin·kh·kw, Ho·Wo]` layout described on the type, rows split over the pool.
    private func unfold(_ input: Tensor, height h: Int, width w: Int, outHeight ho: Int, outWidth wo: Int,
                        into cols: inout Tensor, pool: ThreadPool) {
        let kh = kernelHeight, kw = kernelWidth, s = stride, p = padding, n = ho * wo
        input.storage.withUnsafeBufferPointer { ip in
            cols.storage.withUnsafeMutableBufferPointer { cp in
                nonisolated(unsafe) let src = ip.baseAddress!, dst = cp.baseAddress!
                pool.parallelFor(inChannels * kh * kw, grain: max(1, 8192 / max(1, n))) { range in
                    for row in range {
                        let c = row / (kh * kw), ky = (row / kw) % kh, kx = row % kw
                        let plane = src + c * h * w
                        // Output columns ox whose input column ix = ox·s + kx − p lies inside 0..<w.
                        let oxLo = min(wo, max(0, Self.floorDiv(p - kx + s - 1, s)))
                        let oxHi = max(oxLo, min(wo, Self.floorDiv(w - 1 + p - kx, s) + 1))
                        for oy in 0..<ho {
                            let out = dst + row * n + oy * wo
                            let iy = oy * s + ky - p
                            guard iy >= 0, iy < h, oxHi > oxLo else {
                                out.update(repeating: 0, count: wo)
                                continue
                            }
                            if oxLo > 0 { out.update(repeating: 0, count: oxLo) }
                            let line = plane + iy * w + kx - p
                            if s == 1 {
                                (out + oxLo).update(from: line + oxLo, count: oxHi - oxLo)
                            } else {
                                for ox in oxLo..<oxHi { out[ox] = line[ox * s] }
                            }
                            if oxHi < wo { (out + oxHi).update(repeating: 0, count: wo - oxHi) }
                        }
                    }
                }
            }
        }
    }
}
