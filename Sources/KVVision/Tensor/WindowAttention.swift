import Foundation

/// Attention of a few query rows over every row of a KV store, with an additive bias per
/// (query, key) — the read side of the temporal KV window.
///
/// For query row n and query head h (key/value head g = h / (queryHeads / kvHeads), i.e. grouped
/// query attention):
/// `out[n, h] = Σ_j p_j · v[j, g]`, `p = softmax_j(q[n, h] · k[j, g] / √d + bias[n, j])`.
/// A bias of −∞ excludes a key; a row whose keys are all excluded yields zeros. f32 stores go
/// through two sgemm calls per query head (keys read in place with a row stride, no gather);
/// f16 and int8 stores are dequantised on the fly inside fused dot-product loops, so no f32 copy
/// of the window is ever made.
///
/// Thread-safety: stateless; callers own the scratch and output tensors.
public enum WindowAttention {
    /// Computes the attention described above.
    /// - Parameters:
    ///   - queries: `[n, queryHeads · d]`, already position-rotated.
    ///   - keys, values: stores with equal rows, heads and `headDim == d`; `queryHeads` must be a multiple of their heads.
    ///   - bias: `[n, keys.rows]` additive scores (log-weights, −∞ masks).
    ///   - scores: scratch, resized to `[n, keys.rows]`.
    ///   - output: resized to `[n, queryHeads · d]`.
    public static func attend(
        queries: Tensor, queryHeads: Int, keys: KVRowStore, values: KVRowStore,
        bias: Tensor, scores: inout Tensor, into output: inout Tensor
    ) throws(TensorError) {
        let d = keys.headDim, kvHeads = keys.heads, r = keys.rows
        guard values.rows == r, values.heads == kvHeads, values.headDim == d, values.format == keys.format,
              kvHeads > 0, queryHeads % kvHeads == 0, queryHeads > 0 else {
            throw .shapeMismatch(op: "window attention stores", expected: [r, kvHeads, d], found: [values.rows, values.heads, values.headDim])
        }
        guard queries.rank == 2, queries.shape[1] == queryHeads * d else {
            throw .shapeMismatch(op: "window attention queries", expected: [-1, queryHeads * d], found: queries.shape)
        }
        let n = queries.shape[0]
        guard bias.shape == [n, r] else {
            throw .shapeMismatch(op: "window attention bias", expected: [n, r], found: bias.shape)
        }
        scores.resize([n, r])
        output.resize([n, queryHeads * d])
        guard n > 0, d > 0 else { return }
        let group = queryHeads / kvHeads
        let qStride = queryHeads * d, kvStride = kvHeads * d
        let scale = 1 / Float(Double(d).squareRoot())
        queries.storage.withUnsafeBufferPointer { qp in
            bias.storage.withUnsafeBufferPointer { bp in
                scores.storage.withUnsafeMutableBufferPointer { sp in
                    output.storage.withUnsafeMutableBufferPointer { op in
                        let q = qp.baseAddress!, b = bp.baseAddress!, s = sp.baseAddress!, o = op.baseAddress!
                        for h in 0..<queryHeads {
                            let g = h / group
                            // scores = scale · Q_h K_gᵀ
                            if r > 0 {
                                switch keys.format {
                                case .f32:
                                    keys.f32.withUnsafeBufferPointer { kp in
                                        GEMM.sgemm(m: n, n: r, k: d, a: q + h * d, lda: qStride, b: kp.baseAddress! + g * d,
                                                   ldb: kvStride, transposeB: true, c: s, ldc: r, alpha: scale, beta: 0)
                                    }
                                case .f16:
                                    keys.f16.withUnsafeBufferPointer { kp in
                                        for i in 0..<n {
                                            let qi = q + i * qStride + h * d
                                            for j in 0..<r {
                                                let kj = kp.baseAddress! + j * kvStride + g * d
                                                var acc: Float = 0
                                                for c in 0..<d { acc += qi[c] * Float(kj[c]) }
                                                s[i * r + j] = acc * scale
                                            }
                                        }
                                    }
                                case .int8:
                                    keys.i8.withUnsafeBufferPointer { kp in
                                        keys.scales.withUnsafeBufferPointer { ksp in
                                            for i in 0..<n {
                                                let qi = q + i * qStride + h * d
                                                for j in 0..<r {
                                                    let kj = kp.baseAddress! + j * kvStride + g * d
                                                    var acc: Float = 0
                                                    for c in 0..<d { acc += qi[c] * Float(kj[c]) }
                                                    s[i * r + j] = acc * scale * ksp[j * kvHeads + g]
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                            // p = softmax(scores + bias); masked keys get exactly 0, rows of all −∞ become zeros.
                            for i in 0..<n {
                                let row = s + i * r, brow = b + i * r
                                var m = -Float.infinity
                                for j in 0..<r {
                                    let x = row[j] + brow[j]
                                    row[j] = x
                                    if x > m { m = x }
                                }
                                if m == -Float.infinity {
                                    row.update(repeating: 0, count: r)
                                    continue
                                }
                                // Scalar expf: measured faster here than VectorMath.exp's SIMD path.
                                var sum: Float = 0
                                for j in 0..<r {
                                    let e = brow[j] == -Float.infinity ? 0 : expf(row[j] - m)
                                    row[j] = e
                                    sum += e
                                }
                                let inv = 1 / sum
                                for j in 0..<r { row[j] *= inv }
                            }
                            // out_h = P V_g
                            let oh = o + h * d
                            switch values.format {
                            case .f32:
                                if r > 0 {
                                    values.f32.withUnsafeBufferPointer { vp in
                                        GEMM.sgemm(m: n, n: d, k: r, a: s, lda: r, b: vp.baseAddress! + g * d,
                                                   ldb: kvStride, transposeB: false, c: oh, ldc: qStride, beta: 0)
                                    }
                                } else {
                                    for i in 0..<n { (oh + i * qStride).update(repeating: 0, count: d) }
                                }
                            case .f16:
                                values.f16.withUnsafeBufferPointer { vp in
                                    for i in 0..<n {
                                        let oi = oh + i * qStride
                                        oi.update(repeating: 0, count: d)
                                        for j in 0..<r {
                                            let p = s[i * r + j]
                                            if p == 0 { continue }
                                            let vj = vp.baseAddress! + j * kvStride + g * d
                                            for c in 0..<d { oi[c] += p * Float(vj[c]) }
                                        }
                                    }
                                }
                            case .int8:
                                values.i8.withUnsafeBufferPointer { vp in
                                    values.scales.withUnsafeBufferPointer { vsp in
                                        for i in 0..<n {
                                            let oi = oh + i * qStride
                                            oi.update(repeating: 0, count: d)
                                            for j in 0..<r {
                                                let p = s[i * r + j] * vsp[j * kvHeads + g]
                                                if p == 0 { continue }
                                                let vj = vp.baseAddress! + j * kvStride + g * d
                                                for c in 0..<d { oi[c] += p * Float(vj[c]) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
