import CKernels
import Foundation

/// Element-wise activations: exact (erf) GELU, optionally fused with a per-column bias add, and the
/// logistic sigmoid.
///
/// Thread-safety: stateless; rows are split over the given pool.
public enum Activation {
    /// In place: `x = gelu(x + bias)` where `bias` (if given) has one value per trailing column.
    public static func gelu(_ x: inout Tensor, bias: Tensor? = nil, pool: ThreadPool = ComputeContext.serial.pool) throws(TensorError) {
        let cols = x.shape.last ?? 0
        if let bias, bias.count != cols { throw .shapeMismatch(op: "gelu bias", expected: [cols], found: bias.shape) }
        guard cols > 0 else { return }
        let rows = x.count / cols
        x.storage.withUnsafeMutableBufferPointer { xp in
            if let bias {
                bias.storage.withUnsafeBufferPointer { bp in
                    geluRows(xp.baseAddress!, rows: rows, cols: cols, ld: cols, bias: bp.baseAddress!, pool: pool)
                }
            } else {
                geluRows(xp.baseAddress!, rows: rows, cols: cols, ld: cols, bias: nil, pool: pool)
            }
        }
    }

    /// `out = 1 / (1 + expf(−x))` over the first `out.count` values of `x` (libm's scalar `expf`,
    /// as the det head's decoding always used); `out` keeps its shape. Throws when `x` is shorter.
    public static func sigmoid(_ x: Tensor, into out: inout Tensor) throws(TensorError) {
        guard x.count >= out.count else { throw .shapeMismatch(op: "sigmoid input", expected: out.shape, found: x.shape) }
        x.storage.withUnsafeBufferPointer { xp in
            out.storage.withUnsafeMutableBufferPointer { op in
                for i in 0..<op.count { op[i] = 1 / (1 + expf(-xp[i])) }
            }
        }
    }

    /// Raw kernel: rows of `cols` elements `ld` apart, in place.
    static func geluRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int,
                         bias: UnsafePointer<Float>?, pool: ThreadPool) {
        nonisolated(unsafe) let x = x
        nonisolated(unsafe) let bias = bias
        pool.parallelFor(rows, grain: max(1, 4096 / max(cols, 1))) { range in
            for r in range { geluRow(x + r * ld, cols, bias) }
        }
    }

    /// One row in place, through the CPU-dispatched C kernel (AVX-512F / AVX2 / SSE2, chosen at
    /// load time; same erf as `VectorMath.erf`).
    @inline(__always)
    static func geluRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ bias: UnsafePointer<Float>?) {
        kvv_gelu_row(row, n, bias)
    }
}
