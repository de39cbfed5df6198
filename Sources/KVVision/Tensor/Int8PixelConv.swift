import CKernels

/// The first conv of a det stem (3×3, stride 2, padding 1, 3 input channels) run in int8 straight
/// from a frame's interleaved RGB bytes, with the image normalisation folded into the weights: the
/// drop-in replacement of that f32 conv applied to the normalised `[3, H, W]` image.
///
/// Numerics (CKernels `pixconv.h`): the pixel bytes are exact u8 values, so only the weights are
/// quantised — `w·α_c` (α_c = the normalisation's per-channel scale) per output channel to int8 —
/// and the normalisation's offsets go into a bias table per edge case (which kernel rows and
/// columns fall on the zero padding), computed in Double. The sum of products is exact in int32.
/// The error against the f32 layer is measured in Tests/KVVisionTests/OpsInt8ConvTests.swift.
/// Runs where the CPU has AVX-512 VBMI and VNNI (elsewhere `init` returns nil and the caller keeps
/// the f32 conv, which is faster than a portable int8 loop); the portable reference gives the same
/// bits (`requireKernel: false` and `reference: true`, for tests on any CPU).
///
/// Invariants: rows are computed independently, so the output does not depend on the thread
/// count; `forward` allocates only when the output grows. Thread-safety: immutable and `Sendable`.
public struct Int8PixelConv: Sendable {
    public let outChannels: Int
    /// `[cout][3 ky][12]`: bytes `3·kx + c` of the quantised `w·α_c`, bytes 9…11 zero.
    let weights: [Int8]
    /// Per output channel: the dequantisation scale, and 16 biases `[row case][column case]`.
    let scales: [Float]
    let biases: [Float]
    /// Whether the AVX-512 kernel runs (else the reference).
    let fast: Bool

    /// Whether this CPU has the kernel (AVX-512 VBMI and VNNI).
    public static var kernelAvailable: Bool { kvv_pixconv_supported() != 0 }

    /// Quantises `conv` (3×3, stride 2, padding 1, 3 inputs, outputs a multiple of 8) for inputs
    /// normalised as `u · scale[c] + offset[c]` (u the byte); nil when `conv` is not of that shape,
    /// or when the CPU lacks the kernel and `requireKernel`.
    public init?(_ conv: Conv2D, scale: [Float], offset: [Float], requireKernel: Bool = true) {
        fast = kvv_pixconv_supported() != 0
        guard fast || !requireKernel, conv.inChannels == 3, conv.kernelHeight == 3, conv.kernelWidth == 3,
              conv.stride == 2, conv.padding == 1, conv.outChannels % 8 == 0, conv.outChannels > 0,
              scale.count == 3, offset.count == 3 else { return nil }
        let n = conv.outChannels
        outChannels = n
        var q = [Int8](repeating: 0, count: n * 36), s = [Float](repeating: 0, count: n), b = [Float](repeating: 0, count: n * 16)
        let w = conv.weight.storage
        func weight(_ o: Int, _ c: Int, _ ky: Int, _ kx: Int) -> Double { Double(w[((o * 3 + c) * 3 + ky) * 3 + kx]) }
        for o in 0..<n {
            var largest = 0.0
            for c in 0..<3 { for ky in 0..<3 { for kx in 0..<3 { largest = max(largest, abs(weight(o, c, ky, kx) * Double(scale[c]))) } } }
            let step = largest > 0 ? largest / 127 : 1
            s[o] = Float(step)
            for c in 0..<3 {
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        let v = (weight(o, c, ky, kx) * Double(scale[c]) / step).rounded()
                        q[(o * 3 + ky) * 12 + 3 * kx + c] = Int8(max(-127, min(127, v)))
                    }
                }
            }
            // Case bit 0: index 0 (row above / column left) is padding; bit 1: index 2 is.
            let base = Double(conv.bias?.storage[o] ?? 0)
            for rows in 0..<4 {
                for cols in 0..<4 {
                    var sum = base
                    for ky in 0..<3 where !(ky == 0 && rows & 1 != 0) && !(ky == 2 && rows & 2 != 0) {
                        for kx in 0..<3 where !(kx == 0 && cols & 1 != 0) && !(kx == 2 && cols & 2 != 0) {
                            for c in 0..<3 { sum += weight(o, c, ky, kx) * Double(offset[c]) }
                        }
                    }
                    b[o * 16 + rows * 4 + cols] = Float(sum)
                }
            }
        }
        (weights, scales, biases) = (q, s, b)
    }

    /// Output size `(ho, wo)` for an `height × width` frame.
    public func outputSize(height: Int, width: Int) -> (Int, Int) { ((height + 1) / 2, (width + 1) / 2) }

    /// `relu?(conv(normalise(rgb)))` into `output` `[outChannels, ho, wo]`; `rgb` holds `height` rows
    /// of `3·width` bytes, `rowBytes` apart. Returns `[min(y, 0), max(y, 0)]` of what it wrote.
    /// Output rows are split over the context's pool. `reference` runs the portable kernel.
    @discardableResult
    public func forward(rgb: [UInt8], width: Int, height: Int, rowBytes: Int? = nil, into output: inout Tensor, relu: Bool = true,
                        reference: Bool = false, context: ComputeContext = .serial) throws(TensorError) -> ValueRange {
        let stride = rowBytes ?? 3 * width
        guard width > 0, height > 0, stride >= 3 * width, rgb.count >= stride * (height - 1) + 3 * width else {
            throw .shapeMismatch(op: "int8 pixel conv input: RGB \(width)x\(height) with \(stride)-byte rows", expected: [stride * height], found: [rgb.count])
        }
        let (ho, wo) = outputSize(height: height, width: width), n = outChannels
        output.resize([n, ho, wo])
        let simd: Int32 = fast && !reference ? 1 : 0
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * ho) { slots in
            slots.initialize(repeating: 0)
            rgb.withUnsafeBufferPointer { ip in
                weights.withUnsafeBufferPointer { wp in
                    scales.withUnsafeBufferPointer { sp in
                        biases.withUnsafeBufferPointer { bp in
                            output.storage.withUnsafeMutableBufferPointer { op in
                                nonisolated(unsafe) let (src, wq, sc, bi, dst) = (ip.baseAddress!, wp.baseAddress!, sp.baseAddress!, bp.baseAddress!, op.baseAddress!)
                                nonisolated(unsafe) let ranges = slots.baseAddress!
                                context.pool.parallelFor(ho, grain: 8) { rows in
                                    kvv_pixconv_rows(simd, src, height, width, stride, wq, sc, bi, n, dst, ho, wo,
                                                     rows.lowerBound, rows.upperBound, relu ? 1 : 0, ranges + 2 * rows.lowerBound)
                                }
                            }
                        }
                    }
                }
            }
            var range = ValueRange()
            for r in 0..<ho { range = range.union(ValueRange(lower: slots[2 * r], upper: slots[2 * r + 1])) }
            return range
        }
    }
}
