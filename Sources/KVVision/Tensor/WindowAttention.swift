import CKernels
import Foundation

/// Attention of a few query rows over every row of a KV store, with an additive bias per
/// (query, key) — the read side of the temporal KV window.
///
/// For query row n and query head h (key/value head g = h / (queryHeads / kvHeads), i.e. grouped
/// query attention):
/// `out[n, h] = Σ_j p_j · v[j, g]`, `p = softmax_j(q[n, h] · k[j, g] / √d + bias[n, j])`.
/// A bias of −∞ excludes a key; a row whose keys are all excluded yields zeros. f32 stores go
/// through two sgemm calls per query head (keys read in place with a row stride, no gather);
/// f16 and int8 stores are dequantised on the fly inside fused dot-product loops (CKernels
/// `kvv_window_scores` / `kvv_window_weighted_sum`: F16C and AVX2 where the CPU has them), so no
/// f32 copy of the window is ever made.
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
        guard r > 0 else {
            for i in output.storage.indices { output.storage[i] = 0 }
            return
        }
        let group = queryHeads / kvHeads
        let qStride = queryHeads * d, kvStride = kvHeads * d
        let scale = 1 / Float(Double(d).squareRoot())
        queries.storage.withUnsafeBufferPointer { qp in
            bias.storage.withUnsafeBufferPointer { bp in
                scores.storage.withUnsafeMutableBufferPointer { sp in
                    output.storage.withUnsafeMutableBufferPointer { op in
                        let q = qp.baseAddress!, s = sp.baseAddress!
                        for h in 0..<queryHeads {
                            let g = h / group
                            let qh = q + h * d, oh = op.baseAddress! + h * d
                            headScores(qh, qStride, n: n, keys: keys, kvHead: g, scale: scale, into: s)
                            for i in 0..<n { maskedSoftmax(s + i * r, bias: bp.baseAddress! + i * r, count: r) }
                            // out_h = P V_g
                            switch values.format {
                            case .f32:
                                values.f32.withUnsafeBufferPointer { vp in
                                    GEMM.sgemm(m: n, n: d, k: r, a: s, lda: r, b: vp.baseAddress! + g * d,
                                               ldb: kvStride, transposeB: false, c: oh, ldc: qStride, beta: 0)
                                }
                            case .f16:
                                values.f16.withUnsafeBufferPointer { vp in
                                    kvv_window_weighted_sum(KVV_KV_F16, s, n, r, vp.baseAddress! + g * d, kvStride, d, nil, 0, oh, qStride)
                                }
                            case .int8:
                                values.i8.withUnsafeBufferPointer { vp in
                                    values.scales.withUnsafeBufferPointer { vsp in
                                        kvv_window_weighted_sum(KVV_KV_I8, s, n, r, vp.baseAddress! + g * d, kvStride, d,
                                                                vsp.baseAddress! + g, kvHeads, oh, qStride)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Raw scaled scores without bias or softmax: `scores[h, i, j] = q[i, h] · k[j, g] / √d`, resized
    /// to `[queryHeads, n, keys.rows]` (what a caller needs to compare a query with cached tokens
    /// without attending, e.g. for association).
    public static func scores(queries: Tensor, queryHeads: Int, keys: KVRowStore, into scores: inout Tensor) throws(TensorError) {
        let d = keys.headDim, kvHeads = keys.heads, r = keys.rows
        guard kvHeads > 0, queryHeads > 0, queryHeads % kvHeads == 0, queries.rank == 2, queries.shape[1] == queryHeads * d else {
            throw .shapeMismatch(op: "window scores queries", expected: [-1, queryHeads * d], found: queries.shape)
        }
        let n = queries.shape[0]
        scores.resize([queryHeads, n, r])
        guard n > 0, r > 0, d > 0 else { return }
        let group = queryHeads / kvHeads, scale = 1 / Float(Double(d).squareRoot())
        queries.storage.withUnsafeBufferPointer { qp in
            scores.storage.withUnsafeMutableBufferPointer { sp in
                for h in 0..<queryHeads {
                    headScores(qp.baseAddress! + h * d, queryHeads * d, n: n, keys: keys, kvHead: h / group, scale: scale,
                               into: sp.baseAddress! + h * n * r)
                }
            }
        }
    }

    /// `s[i, j] = scale · q[i] · k[j, g]` for one query head (`q` rows `qStride` apart), any storage format.
    @inline(__always)
    private static func headScores(_ q: UnsafePointer<Float>, _ qStride: Int, n: Int, keys: KVRowStore, kvHead g: Int,
                                   scale: Float, into s: UnsafeMutablePointer<Float>) {
        let d = keys.headDim, r = keys.rows, kvHeads = keys.heads, kvStride = kvHeads * d
        switch keys.format {
        case .f32:
            keys.f32.withUnsafeBufferPointer { kp in
                GEMM.sgemm(m: n, n: r, k: d, a: q, lda: qStride, b: kp.baseAddress! + g * d,
                           ldb: kvStride, transposeB: true, c: s, ldc: r, alpha: scale, beta: 0)
            }
        case .f16:
            keys.f16.withUnsafeBufferPointer { kp in
                kvv_window_scores(KVV_KV_F16, q, qStride, n, kp.baseAddress! + g * d, kvStride, r, d, scale, nil, 0, s, r)
            }
        case .int8 where keys.channelGroup > 0:
            keys.i8.withUnsafeBufferPointer { kp in
                keys.scales.withUnsafeBufferPointer { ksp in
                    perChannelScores(q, qStride, n: n, kp.baseAddress! + g * d, kvStride, r: r, d: d, groupRows: keys.channelGroup,
                                     scales: ksp.baseAddress! + g * d, scaleStride: kvStride, scale: scale, into: s)
                }
            }
        case .int8:
            keys.i8.withUnsafeBufferPointer { kp in
                keys.scales.withUnsafeBufferPointer { ksp in
                    kvv_window_scores(KVV_KV_I8, q, qStride, n, kp.baseAddress! + g * d, kvStride, r, d, scale,
                                      ksp.baseAddress! + g, kvHeads, s, r)
                }
            }
        }
    }

    /// Scores against int8 keys with per-channel scales per group of `groupRows` rows: the scales
    /// are folded into a per-group copy of the queries, `q̃ = scale · q ⊙ s_group`, then
    /// `s[i, j] = q̃_i · k8_j`.
    @inline(__always)
    private static func perChannelScores(
        _ q: UnsafePointer<Float>, _ qStride: Int, n: Int, _ k: UnsafePointer<Int8>, _ kStride: Int, r: Int, d: Int,
        groupRows: Int, scales: UnsafePointer<Float>, scaleStride: Int, scale: Float, into s: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n * d) { qt in
            for group in 0..<(r / groupRows) {
                let sc = scales + group * scaleStride
                for i in 0..<n { for c in 0..<d { qt[i * d + c] = q[i * qStride + c] * sc[c] * scale } }
                let j0 = group * groupRows
                kvv_window_scores(KVV_KV_I8, qt.baseAddress!, d, n, k + j0 * kStride, kStride, groupRows, d, 1, nil, 0, s + j0, r)
            }
        }
    }

    /// In place: `row ← softmax(row + bias)`; keys with bias −∞ get exactly 0, and a row whose keys
    /// are all −∞ becomes zeros. Scalar `expf`: measured 3–4× faster here than the SIMD
    /// `VectorMath.exp` path.
    @inline(__always)
    private static func maskedSoftmax(_ row: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, count r: Int) {
        var m = -Float.infinity
        for j in 0..<r {
            let x = row[j] + bias[j]
            row[j] = x
            if x > m { m = x }
        }
        guard m > -Float.infinity else {
            row.update(repeating: 0, count: r)
            return
        }
        var sum: Float = 0
        for j in 0..<r {
            let e = bias[j] == -Float.infinity ? 0 : expf(row[j] - m)
            row[j] = e
            sum += e
        }
        let inv = 1 / sum
        for j in 0..<r { row[j] *= inv }
    }
}
