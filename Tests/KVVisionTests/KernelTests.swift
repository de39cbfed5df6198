import Foundation
import Synchronization
import Testing
@testable import KVVision

/// Tensor kernels (LayerNorm, GELU, softmax, attention, vector math, thread pool) against naive loops.
@Suite struct KernelTests {
    static func random(_ shape: [Int], _ rng: inout SplitMix64, scale: Float = 1) -> Tensor {
        try! Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in rng.nextFloat() * scale })
    }

    @Test func vectorExpAndErfMatchDoublePrecisionLibm() {
        var worstExp = 0.0, worstErf = 0.0
        var x = -20.0
        while x <= 20 {
            let xf = Double(Float(x))  // compare at the float input, not the rounded-away part
            let e = Double(VectorMath.exp(Float(x)))
            worstExp = max(worstExp, abs(e - Foundation.exp(xf)) / Foundation.exp(xf))
            worstErf = max(worstErf, abs(Double(VectorMath.erf(Float(x))) - Foundation.erf(xf)))
            x += 0.00731
        }
        #expect(worstExp < 3e-7)
        #expect(worstErf < 5e-7)
        #expect(VectorMath.exp(-200) >= 0 && VectorMath.exp(-200) < 1e-37)
        #expect(VectorMath.erf(50) == 1 && VectorMath.erf(-50) == -1)
    }

    @Test func layerNormMatchesNaiveLoopOnOddShapes() throws {
        var rng = SplitMix64(seed: 11)
        for (rows, cols) in [(1, 1), (3, 7), (5, 16), (17, 33), (197, 192)] {
            let x = Self.random([rows, cols], &rng, scale: 3)
            let w = Self.random([cols], &rng), b = Self.random([cols], &rng)
            var y = Tensor(shape: [0])
            try LayerNorm.apply(x, weight: w, bias: b, eps: 1e-6, into: &y)
            #expect(y.shape == [rows, cols])
            for r in 0..<rows {
                var mean = 0.0, v = 0.0
                for c in 0..<cols { mean += Double(x[r, c]) }
                mean /= Double(cols)
                for c in 0..<cols { v += (Double(x[r, c]) - mean) * (Double(x[r, c]) - mean) }
                v /= Double(cols)
                for c in 0..<cols {
                    let ref = (Double(x[r, c]) - mean) / (v + 1e-6).squareRoot() * Double(w[c]) + Double(b[c])
                    #expect(abs(Double(y[r, c]) - ref) < 1e-4, "rows=\(rows) cols=\(cols) at \(r),\(c)")
                }
            }
        }
    }

    @Test func layerNormFusedBiasAddUpdatesResidualThenNormalises() {
        var rng = SplitMix64(seed: 12)
        let rows = 9, cols = 37
        let x = Self.random([rows, cols], &rng), add = Self.random([cols], &rng)
        let w = Self.random([cols], &rng), b = Self.random([cols], &rng)
        var xs = x.storage, ys = [Float](repeating: 0, count: rows * cols)
        xs.withUnsafeMutableBufferPointer { xp in
            ys.withUnsafeMutableBufferPointer { yp in
                add.storage.withUnsafeBufferPointer { ap in
                    w.storage.withUnsafeBufferPointer { wp in
                        b.storage.withUnsafeBufferPointer { bp in
                            LayerNorm.normRows(xp.baseAddress!, rows: rows, cols: cols, addBias: ap.baseAddress!, weight: wp.baseAddress!,
                                               bias: bp.baseAddress!, eps: 1e-5, out: yp.baseAddress!, pool: ThreadPool(threads: 2))
                        }
                    }
                }
            }
        }
        for r in 0..<rows {
            let row = (0..<cols).map { Double(x[r, $0]) + Double(add[$0]) }
            let mean = row.reduce(0, +) / Double(cols)
            let v = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
            for c in 0..<cols {
                #expect(abs(Double(xs[r * cols + c]) - row[c]) < 1e-6)
                let ref = (row[c] - mean) / (v + 1e-5).squareRoot() * Double(w[c]) + Double(b[c])
                #expect(abs(Double(ys[r * cols + c]) - ref) < 1e-4)
            }
        }
    }

    @Test func geluIsExactErfFormWithFusedBias() throws {
        var rng = SplitMix64(seed: 13)
        for (rows, cols) in [(1, 1), (2, 15), (7, 17), (33, 768)] {
            let x = Self.random([rows, cols], &rng, scale: 5), b = Self.random([cols], &rng)
            var y = x
            try Activation.gelu(&y, bias: b)
            for r in 0..<rows {
                for c in 0..<cols {
                    let v = Double(x[r, c]) + Double(b[c])
                    let ref = v * 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot()))
                    #expect(abs(Double(y[r, c]) - ref) < 1e-5, "rows=\(rows) cols=\(cols)")
                }
            }
        }
        var bad = Tensor(shape: [2, 3])
        #expect(throws: TensorError.self) { try Activation.gelu(&bad, bias: Tensor(shape: [4])) }
    }

    @Test func softmaxRowsSumToOneAndMatchNaiveLoop() {
        var rng = SplitMix64(seed: 14)
        for (rows, cols) in [(1, 1), (3, 5), (4, 16), (6, 197)] {
            let x = Self.random([rows, cols], &rng, scale: 30)
            var y = x
            Softmax.rows(&y)
            for r in 0..<rows {
                let m = (0..<cols).map { Double(x[r, $0]) }.max()!
                let e = (0..<cols).map { Foundation.exp(Double(x[r, $0]) - m) }
                let s = e.reduce(0, +)
                for c in 0..<cols { #expect(abs(Double(y[r, c]) - e[c] / s) < 1e-6) }
            }
        }
    }

    static func naiveAttention(q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int) -> [Double] {
        let nq = q.shape[0], nk = k.shape[0], dh = q.shape[1] / heads
        var out = [Double](repeating: 0, count: nq * heads * dh)
        for h in 0..<heads {
            let g = h / (heads / kvHeads)
            for i in 0..<nq {
                var s = [Double](repeating: 0, count: nk)
                for j in 0..<nk {
                    for d in 0..<dh { s[j] += Double(q[i, h * dh + d]) * Double(k[j, g * dh + d]) }
                    s[j] /= Double(dh).squareRoot()
                }
                let m = s.max()!
                let e = s.map { Foundation.exp($0 - m) }
                let z = e.reduce(0, +)
                for d in 0..<dh {
                    var acc = 0.0
                    for j in 0..<nk { acc += e[j] / z * Double(v[j, g * dh + d]) }
                    out[i * heads * dh + h * dh + d] = acc
                }
            }
        }
        return out
    }

    @Test func attentionMatchesNaiveLoopIncludingGroupedHeads() throws {
        var rng = SplitMix64(seed: 15)
        for (nq, nk, heads, kvHeads, dh) in [(1, 1, 1, 1, 1), (5, 7, 3, 3, 4), (13, 9, 4, 2, 5), (7, 31, 6, 1, 8)] {
            let q = Self.random([nq, heads * dh], &rng, scale: 2)
            let k = Self.random([nk, kvHeads * dh], &rng, scale: 2), v = Self.random([nk, kvHeads * dh], &rng)
            var out = Tensor(shape: [0]), scores = Tensor(shape: [0])
            try MultiHeadAttention.forward(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, into: &out, scores: &scores)
            let ref = Self.naiveAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads)
            #expect(out.shape == [nq, heads * dh])
            for i in ref.indices { #expect(abs(Double(out.storage[i]) - ref[i]) < 1e-5, "case \(nq),\(nk),\(heads),\(kvHeads),\(dh)") }
        }
    }

    @Test func pooledAttentionAndRowSplitGEMMMatchNaiveLoops() throws {
        var rng = SplitMix64(seed: 19)
        let context = ComputeContext(threads: 3)
        let (nq, nk, heads, kvHeads, dh) = (97, 70, 4, 2, 6)
        let q = Self.random([nq, heads * dh], &rng, scale: 2)
        let k = Self.random([nk, kvHeads * dh], &rng, scale: 2), v = Self.random([nk, kvHeads * dh], &rng)
        var out = Tensor(shape: [0]), scores = Tensor(shape: [0])
        try MultiHeadAttention.forward(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, into: &out, scores: &scores, context: context)
        #expect(context.attentionTasks == heads * 3, "97 query rows: 3 blocks per head")
        let ref = Self.naiveAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads)
        for i in ref.indices { #expect(abs(Double(out.storage[i]) - ref[i]) < 1e-5) }
        let a = Self.random([101, 13], &rng), w = Self.random([9, 13], &rng), bias = Self.random([9], &rng)
        var c = Tensor(shape: [0])
        try GEMM.matmul(a, w, transposeB: true, bias: bias, into: &c, context: context)
        #expect(context.splitGEMMs == 1 && context.splitRowChunks == 3, "101 rows: 3 chunks of ≥ 32")
        for i in 0..<101 {
            for j in 0..<9 {
                var acc = Double(bias[j])
                for p in 0..<13 { acc += Double(a[i, p]) * Double(w[j, p]) }
                #expect(abs(Double(c[i, j]) - acc) < 1e-4)
            }
        }
    }

    @Test func selfAttentionOnFusedQKVEqualsSeparateTensors() throws {
        var rng = SplitMix64(seed: 16)
        let n = 11, heads = 3, dh = 7, d = heads * dh
        let qkv = Self.random([n, 3 * d], &rng, scale: 2)
        var q = Tensor(shape: [n, d]), k = Tensor(shape: [n, d]), v = Tensor(shape: [n, d])
        for i in 0..<n {
            for c in 0..<d { q[i, c] = qkv[i, c]; k[i, c] = qkv[i, d + c]; v[i, c] = qkv[i, 2 * d + c] }
        }
        var out = Tensor(shape: [0]), scores = Tensor(shape: [0])
        try MultiHeadAttention.selfAttention(qkv: qkv, heads: heads, into: &out, scores: &scores)
        let ref = Self.naiveAttention(q: q, k: k, v: v, heads: heads, kvHeads: heads)
        for i in ref.indices { #expect(abs(Double(out.storage[i]) - ref[i]) < 1e-5) }
        #expect(throws: TensorError.self) { try MultiHeadAttention.selfAttention(qkv: qkv, heads: 2, into: &out, scores: &scores) }
    }

    @Test func attentionRejectsHeadsThatDoNotDivide() {
        var out = Tensor(shape: [0]), scores = Tensor(shape: [0])
        #expect(throws: TensorError.self) {
            try MultiHeadAttention.forward(q: Tensor(shape: [2, 6]), k: Tensor(shape: [2, 6]), v: Tensor(shape: [2, 6]),
                                           heads: 3, kvHeads: 2, into: &out, scores: &scores)
        }
    }

    @Test func patchEmbeddingEqualsNaiveStridedConvolutionPlusBase() throws {
        var rng = SplitMix64(seed: 17)
        for (c, h, w, p, d) in [(3, 8, 12, 4, 5), (3, 9, 6, 3, 7), (2, 5, 5, 5, 3)] {
            let image = Self.random([c, h, w], &rng), weight = Self.random([d, c * p * p], &rng)
            let gh = h / p, gw = w / p
            let base = Self.random([1 + gh * gw, d], &rng)
            var patches = Tensor(shape: [0]), tokens = Tensor(shape: [0])
            try PatchEmbedding.embed(image, patch: p, weight: weight, base: base, patches: &patches, into: &tokens)
            #expect(tokens.shape == [1 + gh * gw, d])
            for j in 0..<d { #expect(tokens[0, j] == base[0, j]) }
            for py in 0..<gh {
                for px in 0..<gw {
                    for o in 0..<d {
                        var acc = Double(base[1 + py * gw + px, o])
                        for ch in 0..<c {
                            for ky in 0..<p {
                                for kx in 0..<p {
                                    acc += Double(weight[o, (ch * p + ky) * p + kx]) * Double(image[ch, py * p + ky, px * p + kx])
                                }
                            }
                        }
                        #expect(abs(Double(tokens[1 + py * gw + px, o]) - acc) < 1e-4)
                    }
                }
            }
        }
        #expect(throws: TensorError.self) {
            var a = Tensor(shape: [0])
            try PatchEmbedding.im2col(Tensor(shape: [3, 10, 8]), patch: 4, into: &a)
        }
    }

    @Test func positionResamplingKeepsPrefixIdentityAndConstants() throws {
        var rng = SplitMix64(seed: 18)
        let pos = Self.random([1 + 4 * 6, 5], &rng)
        #expect(try PositionResampling.resample(pos, prefixTokens: 1, from: (4, 6), to: (4, 6)) == pos)
        for target in [(5, 7), (3, 5), (8, 2), (1, 1)] {
            let out = try PositionResampling.resample(pos, prefixTokens: 1, from: (4, 6), to: target)
            #expect(out.shape == [1 + target.0 * target.1, 5])
            for j in 0..<5 { #expect(out[0, j] == pos[0, j]) }
            // Normalised weights: a constant grid stays constant.
            var flat = Tensor(shape: [1 + 24, 5], repeating: 0.75)
            flat[0, 0] = 9
            let c = try PositionResampling.resample(flat, prefixTokens: 1, from: (4, 6), to: target)
            for i in 1..<c.shape[0] { for j in 0..<5 { #expect(abs(c[i, j] - 0.75) < 1e-6) } }
        }
        // Antialiased PIL cubic (a = -0.5) also when enlarging: the tap weights of 2 -> 4.
        let taps = PositionResampling.weights(input: 2, output: 4)
        #expect(taps[0].0 == 0 && taps[0].1.count == 2)
        // x = 0.25, 1.25 → k = 0.8671875, −0.0703125, normalised by their sum 0.796875.
        #expect(abs(taps[0].1[0] - 0.8671875 / 0.796875) < 1e-12)
        #expect(abs(taps[0].1[1] + 0.0703125 / 0.796875) < 1e-12)
        #expect(throws: TensorError.self) { try PositionResampling.resample(pos, prefixTokens: 1, from: (5, 5), to: (2, 2)) }
    }

    @Test func threadPoolRunsEveryTaskExactlyOnce() {
        for threads in [1, 2, 3, 5] {
            let pool = ThreadPool(threads: threads)
            #expect(pool.threads == threads)
            for count in [0, 1, 2, 7, 100, 1001] {
                let hits = Mutex<[Int]>([Int](repeating: 0, count: count))
                for _ in 0..<5 {
                    pool.run(count) { i in hits.withLock { $0[i] += 1 } }
                }
                #expect(hits.withLock { $0.allSatisfy { $0 == 5 } }, "threads=\(threads) count=\(count)")
                let covered = Atomic<Int>(0)
                pool.parallelFor(count, grain: 3) { r in covered.add(r.count, ordering: .relaxed) }
                #expect(covered.load(ordering: .relaxed) == count)
            }
        }
    }

    @Test func threadPoolBackToBackJobsNeverRunStaleOrDuplicateTasks() {
        let pool = ThreadPool(threads: 3)
        let total = Mutex<Int>(0)
        var expected = 0
        for job in 0..<3000 {
            let n = 1 + job % 9
            expected += (0..<n).reduce(0) { $0 + $1 * 1000 + job % 1000 }
            pool.run(n) { i in total.withLock { $0 += i * 1000 + job % 1000 } }
        }
        #expect(total.withLock { $0 } == expected)
    }

    @Test func computeContextSplitsRowsOnlyInPoolModeWithSeveralThreadsAndEnoughRows() {
        let three = ComputeContext(threads: 3)
        #expect(three.threads == 3 && three.gemm == .pool)
        #expect([1, 31, 63, 64, 95, 96, 197, 10_000].map { three.rowChunks(m: $0) } == [1, 1, 1, 2, 2, 3, 3, 3])
        #expect(ComputeContext(pool: three.pool, gemm: .blas).rowChunks(m: 197) == 1)
        #expect(ComputeContext.serial.threads == 1 && ComputeContext.serial.rowChunks(m: 197) == 1)
        #expect(ComputeContext(threads: 0).threads == 1 && ComputeContext(threads: 1000).threads == 256)
        // The one process-wide OpenBLAS setting the library makes, the same for every context.
        #expect(GEMM.threads == 1)
    }
}
