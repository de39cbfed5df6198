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

    @Test func matmulRejectsInnerDimensionMismatch() {
        let a = Tensor(shape: [2, 3])
        let b = Tensor(shape: [4, 5])
        var c = Tensor(shape: [0])
        #expect(throws: TensorError.self) { try GEMM.matmul(a, b, into: &c) }
    }
}
