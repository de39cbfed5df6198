import CKernels

/// The range `[min(x, 0), max(x, 0)]` of a tensor's values, NaN ignored: what an int8 layer's
/// per-tensor activation quantisation is computed from (`Int8Conv2D`).
///
/// A kernel that writes a tensor can track its range on the way (the direct stride-2 conv, the
/// int8 conv's write-back), so the int8 layer that reads it next skips a pass over the whole input.
/// Invariants: `lower ≤ 0 ≤ upper` (either may be infinite, never NaN); `init(of:)`, `union` and
/// every tracking kernel use the same NaN-ignoring comparisons, so a tracked range equals the one
/// computed from the tensor, bit for bit, and so do the quantisation parameters made from it.
/// Thread-safety: a value type.
public struct ValueRange: Sendable, Equatable, CustomStringConvertible {
    public var lower: Float
    public var upper: Float

    /// The range of nothing: `[0, 0]`.
    public init() { lower = 0; upper = 0 }

    /// `[min(lower, 0), max(upper, 0)]` (NaN bounds count as 0).
    public init(lower: Float, upper: Float) {
        self.lower = lower < 0 ? lower : 0
        self.upper = upper > 0 ? upper : 0
    }

    /// The range of every value of `tensor` (one pass).
    public init(of tensor: Tensor) {
        var lo: Float = 0, hi: Float = 0
        tensor.storage.withUnsafeBufferPointer { kvv_value_range($0.baseAddress, $0.count, &lo, &hi) }
        self.init(lower: lo, upper: hi)
    }

    /// The range of both sets of values.
    public func union(_ other: ValueRange) -> ValueRange {
        ValueRange(lower: other.lower < lower ? other.lower : lower, upper: other.upper > upper ? other.upper : upper)
    }

    public var description: String { "[\(lower), \(upper)]" }
}
