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
                dst.baseAddress!.update(from: src.baseAddress!, count: src.count)
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
