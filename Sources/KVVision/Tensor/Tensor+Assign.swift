/// In-place copies between tensors that reuse the destination's allocation.
///
/// Thread-safety: mutates only the receiver.
extension Tensor {
    /// Makes `self` an element-wise copy of `other` (shape included) without reallocating when
    /// `self` already holds at least as many elements. Plain `self = other` would share the buffer
    /// and force a copy-on-write allocation at the next in-place kernel.
    public mutating func assign(from other: Tensor) {
        resize(other.shape)
        guard other.count > 0 else { return }
        storage.withUnsafeMutableBufferPointer { dst in
            other.storage.withUnsafeBufferPointer { src in
                if let d = dst.baseAddress, let s = src.baseAddress { d.update(from: s, count: src.count) }
            }
        }
    }
}

extension Tensor {
    /// Copies all rows of the matrix `other` into rows `destinationRow…` of the matrix `self`
    /// (same column count); throws when they do not fit.
    public mutating func copyRows(from other: Tensor, to destinationRow: Int) throws(TensorError) {
        guard rank == 2, other.rank == 2, other.shape[1] == shape[1], destinationRow >= 0,
              destinationRow + other.shape[0] <= shape[0] else {
            throw .shapeMismatch(op: "copy rows to row \(destinationRow)", expected: shape, found: other.shape)
        }
        guard other.count > 0 else { return }
        let offset = destinationRow * shape[1]
        storage.withUnsafeMutableBufferPointer { dst in
            other.storage.withUnsafeBufferPointer { src in
                (dst.baseAddress! + offset).update(from: src.baseAddress!, count: src.count)
            }
        }
    }
}

extension Tensor {
    /// The transpose of a matrix: `[r, c]` → `[c, r]` (a new allocation; for load-time layout
    /// changes, not per-frame work). Throws when `self` is not rank 2.
    public func transposed() throws(TensorError) -> Tensor {
        guard rank == 2 else { throw .shapeMismatch(op: "transpose", expected: [-1, -1], found: shape) }
        let r = shape[0], c = shape[1]
        var out = Tensor(shape: [c, r])
        guard count > 0 else { return out }
        storage.withUnsafeBufferPointer { src in
            out.storage.withUnsafeMutableBufferPointer { dst in
                // Blocked so both sides stay in cache lines.
                let bs = 32
                for i0 in stride(from: 0, to: r, by: bs) {
                    for j0 in stride(from: 0, to: c, by: bs) {
                        for i in i0..<Swift.min(r, i0 + bs) {
                            for j in j0..<Swift.min(c, j0 + bs) { dst[j * r + i] = src[i * c + j] }
                        }
                    }
                }
            }
        }
        return out
    }
}

extension Tensor {
    /// Makes `self` the `[3, height, width]` planes of the interleaved 8-bit RGB image `rgb`
    /// (rows `rowBytes` apart), with `plane[c] = Float(byte) · scale[c] + offset[c]` — the encoder's
    /// input normalisation, once per frame. Reuses the allocation.
    ///
    /// Preconditions (checked; `ImageNormalization.apply` throws before they could fail): width, height > 0,
    /// `rowBytes ≥ 3·width`, `rgb` holds `rowBytes·(height−1) + 3·width` bytes, 3 scales and offsets.
    public mutating func assignPlanes(fromRGB rgb: [UInt8], width: Int, height: Int, rowBytes: Int,
                                      scale: [Float], offset: [Float]) {
        precondition(width > 0 && height > 0 && rowBytes >= 3 * width && rgb.count >= rowBytes * (height - 1) + 3 * width
                     && scale.count == 3 && offset.count == 3, "assignPlanes: \(width)x\(height) RGB with \(rowBytes)-byte rows needs more than \(rgb.count) bytes")
        resize([3, height, width])
        let plane = width * height
        let (s0, s1, s2) = (scale[0], scale[1], scale[2])
        let (o0, o1, o2) = (offset[0], offset[1], offset[2])
        rgb.withUnsafeBufferPointer { srcBuffer in
            storage.withUnsafeMutableBufferPointer { dstBuffer in
                guard let src = srcBuffer.baseAddress, let dst = dstBuffer.baseAddress else { return }
                for y in 0..<height {
                    let row = src + y * rowBytes
                    let r = dst + y * width, g = r + plane, b = g + plane
                    for x in 0..<width {
                        let p = row + 3 * x
                        r[x] = Float(p[0]) * s0 + o0
                        g[x] = Float(p[1]) * s1 + o1
                        b[x] = Float(p[2]) * s2 + o2
                    }
                }
            }
        }
    }
}
