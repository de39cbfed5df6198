/// Sub-pixel rearrangement with `torch.nn.PixelShuffle` semantics: `[C·r², H, W]` → `[C, H·r, W·r]`,
/// `out[c, y·r + i, x·r + j] = in[c·r² + i·r + j, y, x]`.
///
/// `fromTokens` does the same from a token matrix `[H·W, C·r²]` (a Linear's output over the patch
/// grid, row-major over the grid), i.e. PyTorch's `pixel_shuffle(t.transpose(0, 1).reshape(C·r², H, W), r)`,
/// in one pass without materialising the transpose.
///
/// Invariants: outputs are resized with `Tensor.resize` (no allocation at a fixed size).
/// Thread-safety: stateless; callers own the output.
public enum PixelShuffle {
    /// `output = pixel_shuffle(input, r)` for `input` `[C·r², H, W]`.
    public static func apply(_ input: Tensor, upscale r: Int, into output: inout Tensor) throws(TensorError) {
        guard r >= 1, input.rank == 3, input.shape[0] % (r * r) == 0 else {
            throw .shapeMismatch(op: "pixel shuffle (r \(r)) input [C·r², H, W]", expected: [-1, -1, -1], found: input.shape)
        }
        let c = input.shape[0] / (r * r), h = input.shape[1], w = input.shape[2]
        output.resize([c, h * r, w * r])
        guard output.count > 0 else { return }
        input.storage.withUnsafeBufferPointer { src in
            output.storage.withUnsafeMutableBufferPointer { dst in
                let ow = w * r
                for ch in 0..<c {
                    for i in 0..<r {
                        for j in 0..<r {
                            let plane = (ch * r * r + i * r + j) * h * w
                            for y in 0..<h {
                                let row = (ch * h * r + y * r + i) * ow + j
                                for x in 0..<w { dst[row + x * r] = src[plane + y * w + x] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `output = pixel_shuffle(tokensᵀ reshaped to [C·r², height, width], r)` for `tokens`
    /// `[height·width, C·r²]`.
    /// With `channels` (≥ C), `output` is resized to `[channels, height·r, width·r]` and only its
    /// first C channels are written (the rest keep their values: a caller fills them, e.g. with
    /// the maps it joins to these along channels, without a copy of this result).
    public static func fromTokens(_ tokens: Tensor, height h: Int, width w: Int, upscale r: Int,
                                  into output: inout Tensor, channels: Int? = nil) throws(TensorError) {
        guard r >= 1, h >= 0, w >= 0, tokens.rank == 2, tokens.shape[0] == h * w, tokens.shape[1] % (r * r) == 0 else {
            throw .shapeMismatch(op: "pixel shuffle (r \(r)) tokens [H·W, C·r²]", expected: [h * w, -1], found: tokens.shape)
        }
        let k = tokens.shape[1], c = k / (r * r)
        if let channels, channels < c {
            throw .shapeMismatch(op: "pixel shuffle into \(channels) channels", expected: [c, h * r, w * r], found: [channels])
        }
        output.resize([channels ?? c, h * r, w * r])
        guard output.count > 0 else { return }
        tokens.storage.withUnsafeBufferPointer { src in
            output.storage.withUnsafeMutableBufferPointer { dst in
                let ow = w * r
                for y in 0..<h {
                    for x in 0..<w {
                        let t = (y * w + x) * k
                        for ch in 0..<c {
                            for i in 0..<r {
                                let row = (ch * h * r + y * r + i) * ow + x * r
                                for j in 0..<r { dst[row + j] = src[t + ch * r * r + i * r + j] }
                            }
                        }
                    }
                }
            }
        }
    }
}
