import CKernels
/// Patch embedding as one GEMM: the image `[C, H, W]` is unfolded into rows of patches
/// `[P, C·p·p]` (im2col, channel-major within a patch, matching a conv weight `[D, C, p, p]`
/// flattened), multiplied by the weight transposed, and accumulated onto a precomputed base
/// `[1+P, D]` whose row 0 is `cls + pos[0]` and rows 1… are `pos[i] + conv bias`.
///
/// Patches are taken row-major over the grid (`gh = H/p` rows of `gw = W/p`), as timm flattens
/// `[D, gh, gw]`. H and W must be multiples of p.
///
/// Thread-safety: stateless; the unfold and the GEMM are split over the caller's context.
public enum PatchEmbedding {
    /// Unfolds `image` `[C, H, W]` into `patches` `[gh·gw, C·p·p]`.
    public static func im2col(_ image: Tensor, patch p: Int, into patches: inout Tensor,
                              pool: ThreadPool = ComputeContext.serial.pool) throws(TensorError) {
        guard image.rank == 3, p > 0, image.shape[1] % p == 0, image.shape[2] % p == 0 else {
            throw .shapeMismatch(op: "patch embedding input (H and W multiples of \(p))", expected: [-1, -1, -1], found: image.shape)
        }
        let c = image.shape[0], h = image.shape[1], w = image.shape[2]
        let gh = h / p, gw = w / p, cols = c * p * p
        patches.resize([gh * gw, cols])
        guard gh * gw > 0, cols > 0 else { return }
        image.storage.withUnsafeBufferPointer { ip in
            patches.storage.withUnsafeMutableBufferPointer { pp in
                nonisolated(unsafe) let src = ip.baseAddress!, dst = pp.baseAddress!
                pool.parallelFor(gh * gw, grain: 8) { range in
                    for patchIndex in range {
                        let py = patchIndex / gw, px = patchIndex % gw
                        var o = dst + patchIndex * cols
                        for ch in 0..<c {
                            for ky in 0..<p {
                                o.update(from: src + (ch * h + py * p + ky) * w + px * p, count: p)
                                o += p
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whether `im2col(rgb:…)` runs its AVX-512 version here (16-pixel patches).
    static let rgbKernel = kvv_im2col_rgb_supported() != 0

    /// Unfolds a frame's interleaved RGB bytes (`height` rows of `3·width` bytes, `rowBytes`
    /// apart) into `patches` `[gh·gw, 3·p·p]`, normalised on the way: byte u of channel c becomes
    /// `Float(u) · scale[c] + offset[c]` (as `ImageNormalization` computes it), so the rows are, bit
    /// for bit, `im2col` of the normalised `[3, H, W]` image, which is never formed.
    public static func im2col(rgb: [UInt8], width: Int, height: Int, rowBytes: Int, scale: [Float], offset: [Float],
                              patch p: Int, into patches: inout Tensor, pool: ThreadPool = ComputeContext.serial.pool) throws(TensorError) {
        guard p > 0, width > 0, height > 0, width % p == 0, height % p == 0 else {
            throw .shapeMismatch(op: "patch embedding RGB input (H and W multiples of \(p))", expected: [-1, -1, 3], found: [height, width, 3])
        }
        guard rowBytes >= 3 * width, rgb.count >= rowBytes * (height - 1) + 3 * width, scale.count == 3, offset.count == 3 else {
            throw .shapeMismatch(op: "patch embedding RGB bytes (\(rowBytes)-byte rows)", expected: [height, width, 3], found: [rgb.count])
        }
        let gh = height / p, gw = width / p, cols = 3 * p * p
        patches.resize([gh * gw, cols])
        let simd: Int32 = rgbKernel ? 1 : 0
        rgb.withUnsafeBufferPointer { ip in
            patches.storage.withUnsafeMutableBufferPointer { pp in
                nonisolated(unsafe) let src = ip.baseAddress!, dst = pp.baseAddress!
                pool.parallelFor(gh * gw, grain: 8) { range in
                    kvv_im2col_rgb(simd, src, rowBytes, gw, p, scale, offset, dst, range.lowerBound, range.upperBound)
                }
            }
        }
    }

    /// `tokens = base; tokens[1…] += im2col(image) · weightᵀ` where `weight` is `[D, C·p·p]`.
    public static func embed(_ image: Tensor, patch p: Int, weight: Tensor, base: Tensor,
                             patches: inout Tensor, into tokens: inout Tensor,
                             context: ComputeContext = .serial) throws(TensorError) {
        try im2col(image, patch: p, into: &patches, pool: context.pool)
        try project(patches, weight: weight, base: base, into: &tokens, context: context)
    }

    /// `tokens = base; tokens[1…] += patches · weightᵀ`: the patch rows of `im2col`, either way.
    public static func project(_ patches: Tensor, weight: Tensor, base: Tensor, into tokens: inout Tensor,
                               context: ComputeContext = .serial) throws(TensorError) {
        let np = patches.shape[0], k = patches.shape[1]
        guard weight.rank == 2, weight.shape[1] == k else {
            throw .shapeMismatch(op: "patch embedding weight", expected: [-1, k], found: weight.shape)
        }
        let d = weight.shape[0]
        guard base.shape == [np + 1, d] else { throw .shapeMismatch(op: "patch embedding base", expected: [np + 1, d], found: base.shape) }
        tokens.assign(from: base)
        guard np > 0, d > 0, k > 0 else { return }
        patches.storage.withUnsafeBufferPointer { ap in
            weight.storage.withUnsafeBufferPointer { wp in
                tokens.storage.withUnsafeMutableBufferPointer { tp in
                    GEMM.splitRows(m: np, n: d, k: k, a: ap.baseAddress!, lda: k, b: wp.baseAddress!, ldb: k, transposeB: true,
                                   c: tp.baseAddress! + d, ldc: d, beta: 1, context: context)
                }
            }
        }
    }
}
