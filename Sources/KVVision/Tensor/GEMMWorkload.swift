/// A fixed list of sgemm shapes with preallocated operands, to measure what OpenBLAS itself
/// achieves on exactly the GEMMs a model runs (the reference rate of `kvvision bench encoder`).
///
/// Every shape is `c[m,n] = a[m,k] · op(b)` with `b` `[n,k]` transposed (`transposeB`) or `[k,n]`,
/// the layout the model itself uses for that GEMM, run `count` times per `run()`. Operands hold small deterministic values.
/// Thread-safety: owns its buffers; `run` from one thread at a time.
public final class GEMMWorkload: @unchecked Sendable {
    public let shapes: [(m: Int, n: Int, k: Int, count: Int, transposeB: Bool)]
    private var buffers: [(a: [Float], b: [Float], c: [Float])]

    public init(shapes: [(m: Int, n: Int, k: Int, count: Int, transposeB: Bool)]) {
        self.shapes = shapes.filter { $0.m > 0 && $0.n > 0 && $0.k > 0 && $0.count > 0 }
        buffers = self.shapes.map { s in
            ((0..<(s.m * s.k)).map { Float($0 % 7) * 0.01 }, (0..<(s.n * s.k)).map { Float($0 % 5) * 0.01 },
             [Float](repeating: 0, count: s.m * s.n))
        }
    }

    /// FLOPs of one `run()` (2 per multiply-add).
    public var flops: Int { shapes.reduce(0) { $0 + 2 * $1.m * $1.n * $1.k * $1.count } }

    /// Runs every shape `count` times.
    public func run() {
        for i in buffers.indices {
            let s = shapes[i]
            buffers[i].a.withUnsafeBufferPointer { a in
                buffers[i].b.withUnsafeBufferPointer { b in
                    buffers[i].c.withUnsafeMutableBufferPointer { c in
                        for _ in 0..<s.count {
                            GEMM.sgemm(m: s.m, n: s.n, k: s.k, a: a.baseAddress!, lda: s.k, b: b.baseAddress!, ldb: s.transposeB ? s.k : s.n,
                                       transposeB: s.transposeB, c: c.baseAddress!, ldc: s.n, beta: 0)
                        }
                    }
                }
            }
        }
    }
}
