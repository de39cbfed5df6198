import CKernels
import Foundation

/// Attention of a few query rows over every row of a KV store, with an additive bias per
/// (query, key) — the read side of the temporal KV window.
///
/// For query row n and query head h (key/value head g = h / (queryHeads / kvHeads), i.e. grouped
/// query attention):
/// `out[n, h] = Σ_j p_j · v[j, g]`, `p = softmax_j(q[n, h] · k[j, g] / √d + bias[n, j])`.
/// A bias of −∞ excludes a key; a row whose keys are all excluded yields zeros.
/// Every store format goes through the same fused dot-product loops (CKernels `kvv_window_scores`
/// / `kvv_window_weighted_sum`: F16C and AVX2 where the CPU has them), f16 and int8 dequantised on
/// the fly, so no f32 copy of the window is ever made. Keys whose bias is −∞ are not read and
/// values whose weight is 0 are skipped: a read restricted to one owner (the act head's
/// `.sameOwner`) touches that owner's rows only. (These small products went through sgemm before;
/// OpenBLAS repacked the whole window for every call, which cost more than the products.)
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
    ///   - listed: read each query's unmasked keys from a list (the default; the same bits as the
    ///     masked read, which `false` forces, for tests). Int8 keys with per-channel scales always
    ///     take the masked read.
    public static func attend(
        queries: Tensor, queryHeads: Int, keys: KVRowStore, values: KVRowStore,
        bias: Tensor, scores: inout Tensor, into output: inout Tensor, listed: Bool = true
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
        if listed, !(keys.format == .int8 && keys.channelGroup > 0) {
            queries.storage.withUnsafeBufferPointer { qp in
                bias.storage.withUnsafeBufferPointer { bp in
                    scores.storage.withUnsafeMutableBufferPointer { sp in
                        output.storage.withUnsafeMutableBufferPointer { op in
                            attendListed(qp.baseAddress!, n: n, queryHeads: queryHeads, group: group, keys: keys, values: values,
                                         bias: bp.baseAddress!, scale: scale, scores: sp.baseAddress!, into: op.baseAddress!)
                        }
                    }
                }
            }
            return
        }
        queries.storage.withUnsafeBufferPointer { qp in
            bias.storage.withUnsafeBufferPointer { bp in
                scores.storage.withUnsafeMutableBufferPointer { sp in
                    output.storage.withUnsafeMutableBufferPointer { op in
                        let q = qp.baseAddress!, s = sp.baseAddress!, b = bp.baseAddress!
                        for h in 0..<queryHeads {
                            let g = h / group
                            let qh = q + h * d, oh = op.baseAddress! + h * d
                            // Keys a bias excludes (−∞: another owner's rows, empty slots) are not read.
                            headScores(qh, qStride, n: n, keys: keys, kvHead: g, scale: scale, mask: b, maskStride: r, into: s)
                            for i in 0..<n { maskedSoftmax(s + i * r, bias: b + i * r, count: r) }
                            // out_h = P V_g (zero weights skipped)
                            values.withElements { format, vp, scales in
                                kvv_window_weighted_sum(format, s, n, r, vp + g * d * values.elementSize, kvStride, d,
                                                        scales.map { $0 + g }, scales == nil ? 0 : kvHeads, oh, qStride)
                            }
                        }
                    }
                }
            }
        }
    }

    /// `attend` over each query's unmasked keys only, listed once per query (bias > −∞, increasing
    /// order): per kept key the same arithmetic as the masked read, so the same bits, without a
    /// pass over the keys a restriction excludes — the act head's query sees one owner's ≤ `window`
    /// rows of `window · tokensPerFrame`. `scores` rows hold the listed keys' weights, compacted.
    private static func attendListed(
        _ q: UnsafePointer<Float>, n: Int, queryHeads: Int, group: Int, keys: KVRowStore, values: KVRowStore,
        bias b: UnsafePointer<Float>, scale: Float, scores s: UnsafeMutablePointer<Float>, into o: UnsafeMutablePointer<Float>
    ) {
        let r = keys.rows
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: r) { list in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: r) { listBias in
                let rows = list.baseAddress!, lb = listBias.baseAddress!
                for i in 0..<n {
                    let bi = b + i * r
                    var count = 0
                    for j in 0..<r where bi[j] != -Float.infinity {
                        rows[count] = Int32(truncatingIfNeeded: j)
                        lb[count] = bi[j]
                        count += 1
                    }
                    attendRows(q + i * queryHeads * keys.headDim, queryHeads: queryHeads, group: group, keys: keys, values: values,
                               rows: rows, bias: lb, count: count, scale: scale, scores: s + i * r, into: o + i * queryHeads * keys.headDim)
                }
            }
        }
    }

    /// One query's attention over the listed keys `rows[0..<count]` (ascending) with their biases:
    /// the listed read's arithmetic, shared by the masked-bias and the row-list entry points.
    private static func attendRows(
        _ q: UnsafePointer<Float>, queryHeads: Int, group: Int, keys: KVRowStore, values: KVRowStore,
        rows: UnsafePointer<Int32>, bias lb: UnsafePointer<Float>, count: Int, scale: Float,
        scores si: UnsafeMutablePointer<Float>, into o: UnsafeMutablePointer<Float>
    ) {
        let d = keys.headDim, kvStride = keys.heads * d, kvHeads = keys.heads
        for h in 0..<queryHeads {
            let g = h / group, oh = o + h * d
            keys.withElements { format, kp, scales in
                kvv_window_scores_rows(format, q + h * d, kp + g * d * keys.elementSize, kvStride, rows, count, d,
                                       scale, scales.map { $0 + g }, scales == nil ? 0 : kvHeads, si)
            }
            // softmax(score + bias) over the listed keys, in the masked read's order (all masked:
            // zero weights, and the weighted sum below writes zeros).
            maskedSoftmax(si, bias: lb, count: count)
            values.withElements { format, vp, scales in
                kvv_window_weighted_sum_rows(format, si, rows, count, vp + g * d * values.elementSize, kvStride, d,
                                             scales.map { $0 + g }, scales == nil ? 0 : kvHeads, oh)
            }
        }
    }

    /// Whether `rows[range]` rises strictly (so a list has at most one entry per row: no more
    /// entries than the scores row has room for).
    private static func strictlyAscending(_ rows: [Int32], _ range: Range<Int>) -> Bool {
        range.count < 2 || zip(rows[range], rows[range].dropFirst()).allSatisfy { $0 < $1 }
    }

    /// Whether `attend(queries:queryHeads:keys:values:lists:…)` can read `keys` (every format but
    /// int8 with per-channel scales, which takes the masked read).
    public static func readsRowLists(_ keys: KVRowStore) -> Bool { !(keys.format == .int8 && keys.channelGroup > 0) }

    /// `attend` with each query's keys given as a list instead of a bias matrix: query i reads rows
    /// `lists.rows[lists.starts[i]..<lists.starts[i + 1]]` (ascending) with the additive biases
    /// `lists.bias` at the same places — the same bits as `attend` with a bias row holding those
    /// biases at those rows and −∞ elsewhere, without the `[n, rows]` matrix (or the scan of it).
    /// Needs `readsRowLists(keys)`. `scores` is resized to `[n, keys.rows]`.
    public static func attend(
        queries: Tensor, queryHeads: Int, keys: KVRowStore, values: KVRowStore,
        lists: WindowRowLists, scores: inout Tensor, into output: inout Tensor
    ) throws(TensorError) {
        let d = keys.headDim, kvHeads = keys.heads, r = keys.rows
        guard values.rows == r, values.heads == kvHeads, values.headDim == d, values.format == keys.format,
              kvHeads > 0, queryHeads % kvHeads == 0, queryHeads > 0, readsRowLists(keys) else {
            throw .shapeMismatch(op: "window attention stores (row lists)", expected: [r, kvHeads, d], found: [values.rows, values.heads, values.headDim])
        }
        guard queries.rank == 2, queries.shape[1] == queryHeads * d else {
            throw .shapeMismatch(op: "window attention queries", expected: [-1, queryHeads * d], found: queries.shape)
        }
        let n = queries.shape[0]
        guard lists.starts.count == n + 1, lists.starts.first == 0, lists.rows.count == lists.bias.count,
              lists.starts.last.map({ $0 <= lists.rows.count }) ?? false,
              zip(lists.starts, lists.starts.dropFirst()).allSatisfy({ $0 <= $1 }),
              lists.rows.allSatisfy({ $0 >= 0 && Int($0) < r }),
              (0..<n).allSatisfy({ i in Self.strictlyAscending(lists.rows, lists.starts[i]..<lists.starts[i + 1]) }) else {
            throw .shapeMismatch(op: "window attention row lists", expected: [n + 1], found: [lists.starts.count, lists.rows.count])
        }
        scores.resize([n, r])
        output.resize([n, queryHeads * d])
        guard n > 0, d > 0 else { return }
        let group = queryHeads / kvHeads, scale = 1 / Float(Double(d).squareRoot())
        queries.storage.withUnsafeBufferPointer { qp in
            lists.rows.withUnsafeBufferPointer { rp in
                lists.bias.withUnsafeBufferPointer { bp in
                    scores.storage.withUnsafeMutableBufferPointer { sp in
                        output.storage.withUnsafeMutableBufferPointer { op in
                            for i in 0..<n {
                                let a = lists.starts[i], count = lists.starts[i + 1] - a
                                attendRows(qp.baseAddress! + i * queryHeads * d, queryHeads: queryHeads, group: group, keys: keys,
                                           values: values, rows: rp.baseAddress! + a, bias: bp.baseAddress! + a, count: count,
                                           scale: scale, scores: sp.baseAddress! + i * r, into: op.baseAddress! + i * queryHeads * d)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Raw scaled scores without bias or softmax: `scores[h, i, j] = q[i, h] · k[j, g] / √d`, resized
    /// to `[queryHeads, n, keys.rows]` (what a caller needs to compare a query with cached tokens
    /// without attending, e.g. for association). With `rowBias` (`[keys.rows]`), keys whose entry is
    /// −∞ are not read and score 0 (rows the caller ignores).
    public static func scores(queries: Tensor, queryHeads: Int, keys: KVRowStore, rowBias: Tensor? = nil,
                              into scores: inout Tensor) throws(TensorError) {
        let d = keys.headDim, kvHeads = keys.heads, r = keys.rows
        guard kvHeads > 0, queryHeads > 0, queryHeads % kvHeads == 0, queries.rank == 2, queries.shape[1] == queryHeads * d else {
            throw .shapeMismatch(op: "window scores queries", expected: [-1, queryHeads * d], found: queries.shape)
        }
        if let rowBias, rowBias.shape != [r] {
            throw .shapeMismatch(op: "window scores row bias", expected: [r], found: rowBias.shape)
        }
        let n = queries.shape[0]
        scores.resize([queryHeads, n, r])
        guard n > 0, r > 0, d > 0 else { return }
        let group = queryHeads / kvHeads, scale = 1 / Float(Double(d).squareRoot())
        let mask = rowBias ?? Tensor(shape: [0])
        queries.storage.withUnsafeBufferPointer { qp in
            mask.storage.withUnsafeBufferPointer { mp in
                scores.storage.withUnsafeMutableBufferPointer { sp in
                    for h in 0..<queryHeads {
                        headScores(qp.baseAddress! + h * d, queryHeads * d, n: n, keys: keys, kvHead: h / group, scale: scale,
                                   mask: rowBias == nil ? nil : mp.baseAddress, maskStride: 0, into: sp.baseAddress! + h * n * r)
                    }
                }
            }
        }
    }

    /// Scratch of the listed `scores` (used with int8 keys with per-channel scales only): a row mask
    /// and the masked read's `[queryHeads, n, keys.rows]` scores.
    public struct ListedScratch: Sendable {
        var mask = Tensor(shape: [0]), full = Tensor(shape: [0])
        public init() {}
        /// Bytes held.
        public var allocatedBytes: Int { (mask.storage.capacity + full.storage.capacity) * MemoryLayout<Float>.stride }
    }

    /// The scores of `scores(queries:queryHeads:keys:rowBias:into:)` for the listed key rows only
    /// (`rows`, increasing): `scores[h, i, t]` is that read's score of row `rows[t]`, the same bits,
    /// resized to `[queryHeads, n, rows.count]`. Rows are read once each per query head instead of
    /// a pass over every key row; int8 keys with per-channel scales take the masked read through
    /// `scratch` and keep its listed columns.
    public static func scores(queries: Tensor, queryHeads: Int, keys: KVRowStore, rows: [Int32], scratch: inout ListedScratch,
                              into scores: inout Tensor) throws(TensorError) {
        let d = keys.headDim, kvHeads = keys.heads, r = keys.rows
        guard kvHeads > 0, queryHeads > 0, queryHeads % kvHeads == 0, queries.rank == 2, queries.shape[1] == queryHeads * d else {
            throw .shapeMismatch(op: "window scores queries", expected: [-1, queryHeads * d], found: queries.shape)
        }
        guard rows.allSatisfy({ $0 >= 0 && Int($0) < r }) else {
            throw .shapeMismatch(op: "window scores rows", expected: [r], found: [rows.count])
        }
        let n = queries.shape[0], count = rows.count
        scores.resize([queryHeads, n, count])
        guard n > 0, count > 0, d > 0 else { return }
        if keys.format == .int8, keys.channelGroup > 0 {
            scratch.mask.resize([r])
            scratch.mask.storage.withUnsafeMutableBufferPointer { $0.update(repeating: -.infinity) }
            for j in rows { scratch.mask.storage[Int(j)] = 0 }
            try Self.scores(queries: queries, queryHeads: queryHeads, keys: keys, rowBias: scratch.mask, into: &scratch.full)
            for hi in 0..<(queryHeads * n) {
                for (t, j) in rows.enumerated() { scores.storage[hi * count + t] = scratch.full.storage[hi * r + Int(j)] }
            }
            return
        }
        let group = queryHeads / kvHeads, scale = 1 / Float(Double(d).squareRoot()), qStride = queryHeads * d
        queries.storage.withUnsafeBufferPointer { qp in
            rows.withUnsafeBufferPointer { lp in
                scores.storage.withUnsafeMutableBufferPointer { sp in
                    keys.withElements { format, kp, scales in
                        for h in 0..<queryHeads {
                            let g = h / group
                            for i in 0..<n {
                                kvv_window_scores_rows(format, qp.baseAddress! + i * qStride + h * d, kp + g * d * keys.elementSize, kvHeads * d,
                                                       lp.baseAddress!, count, d, scale, scales.map { $0 + g }, scales == nil ? 0 : kvHeads,
                                                       sp.baseAddress! + (h * n + i) * count)
                            }
                        }
                    }
                }
            }
        }
    }

    /// `s[i, j] = scale · q[i] · k[j, g]` for one query head (`q` rows `qStride` apart), any storage
    /// format; with `mask` (query i's row at `i · maskStride`, r entries), keys whose mask is −∞ are
    /// skipped (score 0).
    @inline(__always)
    private static func headScores(_ q: UnsafePointer<Float>, _ qStride: Int, n: Int, keys: KVRowStore, kvHead g: Int,
                                   scale: Float, mask: UnsafePointer<Float>?, maskStride: Int,
                                   into s: UnsafeMutablePointer<Float>) {
        let d = keys.headDim, r = keys.rows, kvHeads = keys.heads, kvStride = kvHeads * d
        if keys.format == .int8, keys.channelGroup > 0 {
            keys.i8.withUnsafeBufferPointer { kp in
                keys.scales.withUnsafeBufferPointer { ksp in
                    perChannelScores(q, qStride, n: n, kp.baseAddress! + g * d, kvStride, r: r, d: d, groupRows: keys.channelGroup,
                                     scales: ksp.baseAddress! + g * d, scaleStride: kvStride, scale: scale, mask: mask,
                                     maskStride: maskStride, into: s)
                }
            }
            return
        }
        keys.withElements { format, kp, scales in
            kvv_window_scores(format, q, qStride, n, kp + g * d * keys.elementSize, kvStride, r, d, scale,
                              scales.map { $0 + g }, scales == nil ? 0 : kvHeads, mask, maskStride, s, r)
        }
    }

    /// Scores against int8 keys with per-channel scales per group of `groupRows` rows: the scales
    /// are folded into a per-group copy of the queries, `q̃ = scale · q ⊙ s_group`, then
    /// `s[i, j] = q̃_i · k8_j`.
    @inline(__always)
    private static func perChannelScores(
        _ q: UnsafePointer<Float>, _ qStride: Int, n: Int, _ k: UnsafePointer<Int8>, _ kStride: Int, r: Int, d: Int,
        groupRows: Int, scales: UnsafePointer<Float>, scaleStride: Int, scale: Float, mask: UnsafePointer<Float>?,
        maskStride: Int, into s: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n * d) { qt in
            for group in 0..<(r / groupRows) {
                let sc = scales + group * scaleStride
                for i in 0..<n { for c in 0..<d { qt[i * d + c] = q[i * qStride + c] * sc[c] * scale } }
                let j0 = group * groupRows
                kvv_window_scores(KVV_KV_I8, qt.baseAddress!, d, n, k + j0 * kStride, kStride, groupRows, d, 1, nil, 0,
                                  mask.map { $0 + j0 }, maskStride, s + j0, r)
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
