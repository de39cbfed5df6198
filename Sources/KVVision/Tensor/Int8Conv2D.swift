import CKernels

/// A `Conv2D` run in int8: weights quantised once per output channel (as `PackedLinear`'s), the
/// input image quantised per call with one asymmetric u8 scale for the whole tensor, int32
/// accumulation, f32 output with the bias (and an optional fused ReLU) — NCHW in, NCHW out, the
/// drop-in replacement of the f32 layer it was made from.
///
/// Numerics (CKernels `qgemm.h`, "int8 convolution"): the input `[C, H, W]` becomes a zero-point-
/// padded NHWC u8 image; each output position's `kh·kw·C` window row (the weight permuted to
/// `[Cout, kh, kw, Cin]`, so a row is `kh` runs of `kw·C` contiguous bytes) is multiplied by the
/// packed weight, read in place by the AVX-512 VNNI kernel (implicit GEMM) or unfolded 64 rows at a
/// time into a block that stays in cache by the others, and written back in NCHW with the ReLU;
/// quantisation and positions are split over the threads. Padding reads the zero point, i.e.
/// exactly 0. Per-tensor activation scales suit post-ReLU feature maps; the error against the f32
/// layer is measured in Tests/KVVisionTests/OpsInt8ConvTests.swift. The quantisation range comes
/// from one pass over the input, or from its producer (`inputRange`, e.g. the previous int8 conv's
/// returned `ValueRange`): the same bits either way.
///
/// Invariants: output rows are computed independently and accumulate exactly in int32, so the
/// result does not depend on the thread count; `forward` allocates only when a buffer must grow.
/// Thread-safety: immutable and `Sendable`; callers own their `Scratch` (one per stream).
public struct Int8Conv2D: Sendable {
    /// The f32 layer's geometry and bias (its weight is not used after packing).
    public let inChannels: Int, outChannels: Int, kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Int
    public let bias: Tensor?
    /// The weight `[Cout, kh·kw·Cin]` packed as a Linear layer's (per-channel int8 scales).
    let weights: PackedLinear
    /// The kernel that runs the GEMM.
    public var isa: KernelISA { weights.isa }

    /// Per-caller buffers: the quantised image; per thread an unfold block and its f32 result (used
    /// by the unfolding kernels only) and the range it wrote.
    public struct Scratch: Sendable {
        var image: [UInt8] = []
        var blocks: [UInt8] = []
        var rows: [Float] = []  // one [64, Cout] f32 block per thread
        var ranges: [Float] = []  // per thread: the range it wrote (lower, upper)
        public init() {}
    }

    /// Packs `conv`'s weight for `isa` (default: the process's int8 kernel).
    public init(_ conv: Conv2D, isa: KernelISA? = nil) throws(TensorError) {
        (inChannels, outChannels, kernelHeight, kernelWidth) = (conv.inChannels, conv.outChannels, conv.kernelHeight, conv.kernelWidth)
        (stride, padding, bias) = (conv.stride, conv.padding, conv.bias)
        let (cin, kh, kw, n) = (inChannels, kernelHeight, kernelWidth, outChannels)
        let k = cin * kh * kw
        // [Cout, Cin, kh, kw] → [Cout, kh, kw, Cin]: the unfolded row's order.
        var permuted = Tensor(shape: [n, k])
        for j in 0..<n {
            for c in 0..<cin {
                for ky in 0..<kh {
                    for kx in 0..<kw { permuted.storage[j * k + (ky * kw + kx) * cin + c] = conv.weight.storage[j * k + (c * kh + ky) * kw + kx] }
                }
            }
        }
        weights = try PackedLinear(weight: permuted, precision: .int8, isa: isa)
    }

    /// Quantises `input` `[C, H, W]` into the zero-point-padded NHWC u8 image `image` (at least
    /// `(H + 2·padding)·(W + 2·padding)·C` bytes): `clamp(rint(x · (1 / scale)) + zero, 0, 255)`, NaN → 0,
    /// padding = `zero`; rows split over the context's threads.
    static func quantize(_ input: Tensor, padding: Int, scale: Float, zero: Int32, into image: inout [UInt8],
                         context: ComputeContext) {
        let cin = input.shape[0], h = input.shape[1], w = input.shape[2]
        precondition(image.count >= (h + 2 * padding) * (w + 2 * padding) * cin, "quantised image buffer too small")
        input.storage.withUnsafeBufferPointer { xp in
            image.withUnsafeMutableBufferPointer { qp in
                nonisolated(unsafe) let (x, q) = (xp.baseAddress!, qp.baseAddress!)
                forEachRowChunk(height: h, context: context) { rows in
                    kvv_q8_quantize_image_rows(x, cin, h, w, padding, rows.lowerBound, rows.upperBound, scale, zero, q)
                }
            }
        }
    }

    /// Calls `body` on the image's rows split over the context's threads (at most one chunk per
    /// thread, at least 4 rows each; one chunk on one thread or below 8 rows); chunks are never empty.
    private static func forEachRowChunk(height h: Int, context: ComputeContext, _ body: (Range<Int>) -> Void) {
        let chunks = context.pool.threads > 1 && h >= 8 ? min(context.pool.threads, h / 4) : 1
        guard chunks > 1 else {
            if h > 0 { body(0..<h) }
            return
        }
        let rowsPer = (h + chunks - 1) / chunks
        context.pool.run(chunks) { i in
            let y0 = i * rowsPer, y1 = min(h, y0 + rowsPer)
            if y0 < y1 { body(y0..<y1) }
        }
    }

    /// Output height and width for an input of `height × width`.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        Conv2D.outputSize(height: height, width: width, kernelHeight: kernelHeight, kernelWidth: kernelWidth, stride: stride, padding: padding)
    }

    /// Bytes of the packed weight and its per-channel tables.
    public var bytes: Int { weights.bytes }

    /// The activation scale and zero point for values in `range` (`kvv_q8_range_params`).
    public static func quantization(for range: ValueRange) -> (scale: Float, zero: Int32) {
        var scale: Float = 0, zero: Int32 = 0
        kvv_q8_range_params(range.lower, range.upper, &scale, &zero)
        return (scale, zero)
    }

    /// Makes `scratch.image` hold at least the padded image of an `height × width` input.
    private func reserveImage(height h: Int, width w: Int, scratch: inout Scratch) {
        let bytes = (h + 2 * padding) * (w + 2 * padding) * inChannels
        if scratch.image.count < bytes { scratch.image = [UInt8](repeating: 0, count: bytes) }
    }

    /// `output = conv(input) (+ bias)`, then `max(0, ·)` when `relu`; `input` is `[Cin, H, W]`,
    /// `output` becomes `[Cout, Ho, Wo]`. Output positions are split over the context's threads.
    /// `inputRange`, when given, must be `ValueRange(of: input)` (tracked by its producer; skips
    /// that pass). Returns `ValueRange(of: output)`, tracked during the write-back.
    @discardableResult
    public func forward(_ input: Tensor, into output: inout Tensor, scratch: inout Scratch, relu: Bool = false,
                        inputRange: ValueRange? = nil, context: ComputeContext = .serial) throws(TensorError) -> ValueRange {
        guard input.rank == 3, input.shape[0] == inChannels else {
            throw .shapeMismatch(op: "int8 conv2d input [Cin, H, W]", expected: [inChannels, -1, -1], found: input.shape)
        }
        let h = input.shape[1], w = input.shape[2]
        let (scale, zero) = Self.quantization(for: inputRange ?? ValueRange(of: input))
        reserveImage(height: h, width: w, scratch: &scratch)
        Self.quantize(input, padding: padding, scale: scale, zero: zero, into: &scratch.image, context: context)
        return try forwardQuantized(height: h, width: w, scale: scale, zero: zero, into: &output, scratch: &scratch, relu: relu, context: context)
    }

    /// `forward` of the det head's joined map `[U; S]` without the map: `U` the pixel shuffle
    /// (`upscale`) of `tokens` `[gridH·gridW, Cu·upscale²]` (a Linear's output over the patch grid,
    /// as `PixelShuffle.fromTokens` reads it), `S` the map `stem` `[Cs, H, W]` (H = gridH·upscale,
    /// W likewise, Cu + Cs = `inChannels`). Both are quantised straight into the padded NHWC image
    /// (`kvv_q8_quantize_joined_rows`): the same bytes, hence the same output bits, as `forward` of
    /// the joined map with its `ValueRange` as `inputRange` — which is what `inputRange` must be
    /// (the union of the two parts' ranges).
    @discardableResult
    public func forwardJoined(tokens: Tensor, gridHeight gh: Int, gridWidth gw: Int, upscale r: Int, stem: Tensor,
                              inputRange: ValueRange, into output: inout Tensor, scratch: inout Scratch, relu: Bool = false,
                              context: ComputeContext = .serial) throws(TensorError) -> ValueRange {
        guard (1...64).contains(r), (1...65_536).contains(gh), (1...65_536).contains(gw) else {
            throw .shapeMismatch(op: "int8 conv2d joined input: grid \(gh)×\(gw), upscale \(r)", expected: [], found: [gh, gw, r])
        }
        let h = gh * r, w = gw * r
        guard r >= 1, gh > 0, gw > 0, tokens.rank == 2, tokens.shape[0] == gh * gw, tokens.shape[1] % (r * r) == 0,
              stem.rank == 3, stem.shape[1] == h, stem.shape[2] == w, tokens.shape[1] / (r * r) + stem.shape[0] == inChannels else {
            throw .shapeMismatch(op: "int8 conv2d joined input: tokens [\(gh)·\(gw), Cu·\(r * r)] and stem [Cs, \(h), \(w)], Cu + Cs = \(inChannels)",
                                 expected: [inChannels, h, w], found: tokens.shape + stem.shape)
        }
        let cu = tokens.shape[1] / (r * r), cs = stem.shape[0], pad = padding
        let (scale, zero) = Self.quantization(for: inputRange)
        reserveImage(height: h, width: w, scratch: &scratch)
        tokens.storage.withUnsafeBufferPointer { tp in
            stem.storage.withUnsafeBufferPointer { sp in
                scratch.image.withUnsafeMutableBufferPointer { qp in
                    nonisolated(unsafe) let (t, x, q) = (tp.baseAddress!, sp.baseAddress!, qp.baseAddress!)
                    Self.forEachRowChunk(height: h, context: context) { rows in
                        kvv_q8_quantize_joined_rows(t, gw, r, cu, x, cs, h, w, pad, rows.lowerBound, rows.upperBound, scale, zero, q)
                    }
                }
            }
        }
        return try forwardQuantized(height: h, width: w, scale: scale, zero: zero, into: &output, scratch: &scratch, relu: relu, context: context)
    }

    /// The convolution of the image already quantised in `scratch.image` (an `height × width`
    /// input at `scale` and `zero`, padded NHWC) into `output`; returns its range.
    private func forwardQuantized(height h: Int, width w: Int, scale: Float, zero: Int32, into output: inout Tensor,
                                  scratch: inout Scratch, relu: Bool, context: ComputeContext) throws(TensorError) -> ValueRange {
        let (ho, wo) = outputSize(height: h, width: w)
        output.resize([outChannels, ho, wo])
        let positions = ho * wo, n = outChannels, cin = inChannels
        guard positions > 0 else { return ValueRange() }
        let wp = w + 2 * padding
        let kp = Int(kvv_q8_kpad(cin * kernelHeight * kernelWidth)), block = Int(KVV_Q8_CONV_BLOCK)
        let chunks = context.poolChunks(m: positions)
        let implicit = kvv_q8_conv_is_implicit(isa.code, cin, kernelWidth) != 0  // no unfold blocks
        let blockBytes = implicit ? 1 : chunks * block * kp
        if scratch.blocks.count < blockBytes { scratch.blocks = [UInt8](repeating: 0, count: blockBytes) }
        let rowFloats = implicit ? 1 : chunks * block * n  // the implicit kernel writes NCHW from registers
        if scratch.rows.count < rowFloats { scratch.rows = [Float](repeating: 0, count: rowFloats) }
        if scratch.ranges.count < 2 * chunks { scratch.ranges = [Float](repeating: 0, count: 2 * chunks) }
        // The convolution and its NCHW write-back (see the type's notes), output positions split over the threads.
        let size = (positions + chunks - 1) / chunks
        let (isaCode, kh, kw, s, reluFlag) = (isa.code, kernelHeight, kernelWidth, stride, Int32(relu ? 1 : 0))
        let biasStorage = bias?.storage ?? []
        weights.withInt8Weights { w8, wsc, wcs in
            scratch.image.withUnsafeBufferPointer { qp in
                scratch.blocks.withUnsafeMutableBufferPointer { bp in
                    scratch.rows.withUnsafeMutableBufferPointer { rp in
                        output.storage.withUnsafeMutableBufferPointer { op in
                            biasStorage.withUnsafeBufferPointer { bb in
                                scratch.ranges.withUnsafeMutableBufferPointer { gp in
                                    nonisolated(unsafe) let (q, blocks, rows, out) = (qp.baseAddress!, bp.baseAddress!, rp.baseAddress!, op.baseAddress!)
                                    nonisolated(unsafe) let ranges = gp.baseAddress!
                                    nonisolated(unsafe) let (w8, wsc, wcs) = (w8, wsc, wcs)
                                    nonisolated(unsafe) let b = bias == nil ? nil : bb.baseAddress
                                    let run = { (i: Int) in
                                        let r0 = i * size, r1 = min(positions, r0 + size)
                                        (ranges + 2 * i).update(repeating: 0, count: 2)
                                        guard r0 < r1 else { return }
                                        kvv_q8_conv_rows(isaCode, w8, wsc, wcs, n, q, cin, wp, kh, kw, s, wo, scale, zero, r0, r1,
                                                         blocks + (implicit ? 0 : i * block * kp), rows + (implicit ? 0 : i * block * n), out, positions, b, reluFlag,
                                                         ranges + 2 * i)
                                    }
                                    if chunks == 1 { run(0) } else { context.pool.run(chunks, run) }
                                }
                            }
                        }
                    }
                }
            }
        }
        var written = ValueRange()
        for i in 0..<chunks { written = written.union(ValueRange(lower: scratch.ranges[2 * i], upper: scratch.ranges[2 * i + 1])) }
        return written
    }
}
