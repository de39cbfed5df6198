/// A Linear layer's weight as the model keeps it: f32 `[in, out]` for OpenBLAS sgemm NN, or
/// packed at reduced precision (`PackedLinear`, which replaced the f32 tensor at load).
///
/// Thread-safety: immutable and `Sendable`; callers own the scratch.
public enum LinearWeights: Sendable {
    /// f32, stored transposed `[in, out]`.
    case f32(Tensor)
    /// int8 or bf16, packed.
    case packed(PackedLinear)

    /// Packs `weight` (`[out, in]`, a checkpoint's layout) at `precision`, or transposes it to
    /// `[in, out]` for f32.
    public init(weight: Tensor, precision: Precision, isa: KernelISA? = nil) throws(TensorError) {
        if precision == .f32 {
            self = .f32(try weight.transposed())
        } else {
            self = .packed(try PackedLinear(weight: weight, precision: precision, isa: isa))
        }
    }

    /// The precision of the stored weight.
    public var precision: Precision {
        switch self {
        case .f32: .f32
        case let .packed(p): p.precision
        }
    }

    /// Number of weights (in · out).
    public var count: Int {
        switch self {
        case let .f32(t): t.count
        case let .packed(p): p.inFeatures * p.outFeatures
        }
    }

    /// Bytes the weight occupies.
    public var bytes: Int {
        switch self {
        case let .f32(t): 4 * t.count
        case let .packed(p): p.bytes
        }
    }

    /// `c = a · W (+ bias) (+ c when accumulate)`, threads from `context`.
    @inline(__always)
    public func apply(_ a: Tensor, bias: Tensor? = nil, into c: inout Tensor, accumulate: Bool = false,
                      scratch: inout PackedLinear.Scratch, context: ComputeContext) throws(TensorError) {
        switch self {
        case let .f32(w):
            try GEMM.matmul(a, w, bias: bias, into: &c, accumulate: accumulate, context: context)
        case let .packed(p):
            try p.apply(a, bias: bias, into: &c, accumulate: accumulate, scratch: &scratch, context: context)
        }
    }
}
