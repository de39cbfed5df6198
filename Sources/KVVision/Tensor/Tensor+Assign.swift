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
