import CKernels

/// Numerically stable softmax over the last dimension (max subtracted before exp).
///
/// Thread-safety: stateless; rows are split over the given pool.
public enum Softmax {
    /// In place over each row of the trailing dimension.
    public static func rows(_ x: inout Tensor, pool: ThreadPool = ComputeContext.serial.pool) {
        let cols = x.shape.last ?? 0
        guard cols > 0 else { return }
        let rows = x.count / cols
        x.storage.withUnsafeMutableBufferPointer { xp in
            softmaxRows(xp.baseAddress!, rows: rows, cols: cols, ld: cols, pool: pool)
        }
    }

    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, pool: ThreadPool) {
        nonisolated(unsafe) let x = x
        pool.parallelFor(rows, grain: max(1, 4096 / max(cols, 1))) { range in
            for r in range { softmaxRow(x + r * ld, cols) }
        }
    }

    /// One row in place, through the CPU-dispatched C kernel (AVX-512F / AVX2 / SSE2, chosen at
    /// load time; same Cephes exp as `VectorMath.exp`).
    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        kvv_softmax_row(row, n)
    }
}
