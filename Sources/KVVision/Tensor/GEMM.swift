import Foundation
import COpenBLAS

/// Matrix multiplication through OpenBLAS `cblas_sgemm`, and control of BLAS threads.
///
/// All matrices are row-major. Thread-safety: the functions are reentrant; threads come from the
/// caller's `ComputeContext`. OpenBLAS's own thread count is process-wide (`setThreads`); kvvision
/// keeps it at 1 (see `ComputeContext`) and only `.blas`-mode comparisons change it.
public enum GEMM {
    /// Sets the number of OpenBLAS worker threads for the whole process (for `.blas`-mode
    /// contexts and sgemm reference measurements; every context in the process sees it).
    public static func setThreads(_ n: Int) {
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// Current OpenBLAS worker thread count.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// The CPU kernel set OpenBLAS chose at load time (e.g. "Cooperlake", "Haswell", "Zen"); set
    /// `OPENBLAS_CORETYPE` in the environment to override it.
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p).trimmingCharacters(in: .whitespaces)
    }

    /// OpenBLAS build configuration string (version, threading, max threads).
    public static var configuration: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p).trimmingCharacters(in: .whitespaces)
    }

    /// `c[m,n] = a[m,k] · op(b) (+ bias[n] per row) (+ c if accumulate)`.
    ///
    /// `b` is `[k, n]`, or `[n, k]` when `transposeB` (the layout of a PyTorch `Linear.weight`).
    /// `a` may have any rank whose trailing dimension is k (leading ones fold into m). `c` is
    /// resized to `a`'s leading shape + [n], reusing its allocation.
    ///
    /// With a `.pool`-mode `context` of several threads, the rows of `a` are split over its pool
    /// (`ComputeContext.rowChunks`), each chunk one single-threaded sgemm; otherwise one sgemm.
    ///
    /// `skippingRows` leaves out the first rows of a 2-D `a` (e.g. a class token) without a copy:
    /// `c` is then `[a.shape[0] − skippingRows, n]`.
    public static func matmul(
        _ a: Tensor, _ b: Tensor, transposeB: Bool = false, bias: Tensor? = nil,
        into c: inout Tensor, accumulate: Bool = false, skippingRows skip: Int = 0, context: ComputeContext = .serial
    ) throws(TensorError) {
        guard a.rank >= 1, b.rank == 2 else {
            throw .shapeMismatch(op: "matmul", expected: [-1, -1], found: b.shape)
        }
        guard skip == 0 || (a.rank == 2 && skip >= 0 && skip <= a.shape[0]) else {
            throw .shapeMismatch(op: "matmul skipping \(skip) rows", expected: [-1, -1], found: a.shape)
        }
        let k = a.shape[a.rank - 1]
        let m = k == 0 ? 0 : a.count / k - skip
        let (bk, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard bk == k else { throw .shapeMismatch(op: "matmul", expected: [k, n], found: b.shape) }
        if let bias, bias.count != n { throw .shapeMismatch(op: "matmul bias", expected: [n], found: bias.shape) }
        let outShape = skip == 0 ? Array(a.shape.dropLast()) + [n] : [m, n]
        if accumulate {
            guard c.shape == outShape else { throw .shapeMismatch(op: "matmul accumulate", expected: outShape, found: c.shape) }
        } else {
            c.resize(outShape)
        }
        guard m > 0, n > 0 else { return }
        var beta: Float = accumulate ? 1 : 0
        if let bias, !accumulate {
            c.storage.withUnsafeMutableBufferPointer { cp in
                bias.storage.withUnsafeBufferPointer { bp in
                    for r in 0..<m { (cp.baseAddress! + r * n).update(from: bp.baseAddress!, count: n) }
                }
            }
            beta = 1
        }
        a.storage.withUnsafeBufferPointer { ap in
            b.storage.withUnsafeBufferPointer { bp in
                c.storage.withUnsafeMutableBufferPointer { cp in
                    splitRows(m: m, n: n, k: k, a: ap.baseAddress! + skip * k, lda: k, b: bp.baseAddress!,
                              ldb: transposeB ? k : n, transposeB: transposeB, c: cp.baseAddress!, ldc: n, beta: beta, context: context)
                }
            }
        }
        if let bias, accumulate {
            c.storage.withUnsafeMutableBufferPointer { cp in
                bias.storage.withUnsafeBufferPointer { bp in
                    for r in 0..<m { for j in 0..<n { cp[r * n + j] += bp[j] } }
                }
            }
        }
    }

    /// `sgemm` with the rows of `a`/`c` split over the context's pool (see `ComputeContext.rowChunks`).
    static func splitRows(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        transposeB: Bool, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, context: ComputeContext
    ) {
        let chunks = context.rowChunks(m: m)
        guard chunks > 1 else {
            sgemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, transposeB: transposeB, c: c, ldc: ldc, beta: beta)
            return
        }
        context.noteSplitGEMM(chunks: chunks)
        nonisolated(unsafe) let a = a, b = b, c = c
        let size = (m + chunks - 1) / chunks
        context.pool.run(chunks) { i in
            let r0 = i * size, r1 = min(m, r0 + size)
            guard r0 < r1 else { return }
            sgemm(m: r1 - r0, n: n, k: k, a: a + r0 * lda, lda: lda, b: b, ldb: ldb, transposeB: transposeB,
                  c: c + r0 * ldc, ldc: ldc, beta: beta)
        }
    }

    /// `sgemm` (`b` `[k, n]`, not transposed) with the columns of `b`/`c` split over the context's
    /// pool: for a small `a` and a wide `b` — a convolution's weight times its unfolded input —
    /// where a row split would leave threads idle (fewer than 32 rows each) and make every thread
    /// pack all of `b`. Chunks are multiples of 64 columns, at least 256 wide, at most one per thread.
    static func splitColumns(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, context: ComputeContext
    ) {
        let chunks = context.gemm == .pool ? max(1, min(context.pool.threads, n / 256)) : 1
        guard chunks > 1 else {
            sgemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, transposeB: false, c: c, ldc: ldc, beta: beta)
            return
        }
        context.noteSplitGEMM(chunks: chunks)
        nonisolated(unsafe) let a = a, b = b, c = c
        let size = ((n + chunks - 1) / chunks + 63) / 64 * 64
        context.pool.run(chunks) { i in
            let c0 = i * size, c1 = min(n, c0 + size)
            guard c0 < c1 else { return }
            sgemm(m: m, n: c1 - c0, k: k, a: a, lda: lda, b: b + c0, ldb: ldb, transposeB: false,
                  c: c + c0, ldc: ldc, beta: beta)
        }
    }

    /// Raw row-major sgemm: `c = a·op(b) + beta·c`. For kernels inside Tensor/ only.
    @inline(__always)
    static func sgemm(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float
    ) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
