import Testing
@testable import KVVision

/// Core Tensor behaviour and the GEMM wrapper against a naive loop.
@Suite struct TensorTests {
    @Test func rejectsStorageThatDoesNotMatchShape() {
        #expect(throws: TensorError.elementCount(shape: [2, 3], count: 5)) {
            try Tensor(shape: [2, 3], storage: [0, 1, 2, 3, 4])
        }
    }

    @Test func matmulWithTransposedWeightAndBiasMatchesNaiveLoop() throws {
        var rng = SplitMix64(seed: 7)
        for (m, k, n) in [(1, 1, 1), (3, 5, 7), (17, 33, 9), (64, 48, 31)] {
            let a = try Tensor(shape: [m, k], storage: (0..<(m * k)).map { _ in rng.nextFloat() })
            let w = try Tensor(shape: [n, k], storage: (0..<(n * k)).map { _ in rng.nextFloat() })
            let bias = try Tensor(shape: [n], storage: (0..<n).map { _ in rng.nextFloat() })
            var c = Tensor(shape: [1])
            try GEMM.matmul(a, w, transposeB: true, bias: bias, into: &c)
            #expect(c.shape == [m, n])
            for i in 0..<m {
                for j in 0..<n {
                    var s = Double(bias[j])
                    for p in 0..<k { s += Double(a[i, p]) * Double(w[j, p]) }
                    #expect(abs(Double(c[i, j]) - s) < 1e-4, "m=\(m) k=\(k) n=\(n) at \(i),\(j)")
                }
            }
        }
    }

    @Test func transposedSwapsEveryElementIncludingOddBlockEdges() throws {
        var rng = SplitMix64(seed: 11)
        for (r, c) in [(1, 1), (1, 5), (33, 7), (40, 65)] {
            let a = try Tensor(shape: [r, c], storage: (0..<(r * c)).map { _ in rng.nextFloat() })
            let t = try a.transposed()
            #expect(t.shape == [c, r])
            for i in 0..<r { for j in 0..<c { #expect(t[j, i] == a[i, j], "\(r)x\(c) at \(i),\(j)") } }
        }
        #expect(throws: TensorError.shapeMismatch(op: "transpose", expected: [-1, -1], found: [2, 2, 2])) {
            try Tensor(shape: [2, 2, 2]).transposed()
        }
    }

    /// `skippingRows` multiplies rows 1... of `a` (a class token left out) without a copy: the
    /// same bits as multiplying a copy of those rows, at 1 and 3 threads; bad skips throw.
    @Test func matmulSkippingRowsEqualsMultiplyingTheRest() throws {
        var rng = SplitMix64(seed: 19)
        let (m, k, n) = (21, 24, 10)
        let a = try Tensor(shape: [m, k], storage: (0..<(m * k)).map { _ in rng.nextFloat() })
        let w = try Tensor(shape: [n, k], storage: (0..<(n * k)).map { _ in rng.nextFloat() })
        let rest = try Tensor(shape: [m - 1, k], storage: Array(a.storage[k...]))
        for threads in [1, 3] {
            var skipped = Tensor(shape: [0]), copied = Tensor(shape: [0])
            try GEMM.matmul(a, w, transposeB: true, into: &skipped, skippingRows: 1, context: ComputeContext(threads: threads))
            try GEMM.matmul(rest, w, transposeB: true, into: &copied, context: ComputeContext(threads: threads))
            #expect(skipped.shape == [m - 1, n])
            #expect(skipped == copied, "\(threads) threads")
        }
        var c = Tensor(shape: [0])
        #expect(throws: TensorError.self) { try GEMM.matmul(a, w, transposeB: true, into: &c, skippingRows: m + 1) }
        #expect(throws: TensorError.self) { try GEMM.matmul(Tensor(shape: [2, 3, k]), w, transposeB: true, into: &c, skippingRows: 1) }
    }

    /// `ValueRange` is `[min(x, 0), max(x, 0)]` with NaN ignored; infinities count.
    @Test func valueRangeIgnoresNaNAndIncludesZero() throws {
        #expect(ValueRange(of: try Tensor(shape: [3], storage: [2, 5, 1])) == ValueRange(lower: 0, upper: 5))
        #expect(ValueRange(of: try Tensor(shape: [3], storage: [-2, .nan, -1])) == ValueRange(lower: -2, upper: 0))
        let odd = try Tensor(shape: [11], storage: [1, -3, .nan, 4, 0, 0, 0, 0, 9, -.infinity, 2])
        #expect(ValueRange(of: odd) == ValueRange(lower: -.infinity, upper: 9))
        #expect(ValueRange(lower: 1, upper: .nan) == ValueRange())
        #expect(ValueRange(lower: -1, upper: 2).union(ValueRange(lower: -3, upper: 1)) == ValueRange(lower: -3, upper: 2))
    }

    @Test func matmulRejectsInnerDimensionMismatch() {
        let a = Tensor(shape: [2, 3])
        let b = Tensor(shape: [4, 5])
        var c = Tensor(shape: [0])
        #expect(throws: TensorError.self) { try GEMM.matmul(a, b, into: &c) }
    }
}
