/// Multi-head scaled dot-product attention, `softmax(q·kᵀ·scale)·v` per head, with grouped K/V
/// heads (GQA: `heads` query heads share `kvHeads` K/V heads, `heads % kvHeads == 0`).
///
/// Layout: q is `[nq, heads·dh]`, k and v are `[nk, kvHeads·dh]` (head h at columns h·dh…),
/// out is `[nq, heads·dh]`. The raw kernel also takes row strides, so the ViT reads q, k and v
/// straight out of one fused `[n, 3·D]` qkv buffer without repacking. Scores go to a caller-owned
/// `[heads, nq, nk]` scratch. Per head: one sgemm for q·kᵀ (scale folded into alpha), one pass
/// of softmax over all heads' rows (parallel), one sgemm for p·v.
///
/// Thread-safety: stateless; the caller's context does the parallel work.
public enum MultiHeadAttention {
    /// Attention over separate q, k, v tensors; `scores` is scratch resized to `[heads, nq, nk]`.
    public static func forward(q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int? = nil, scale: Float? = nil,
                               into out: inout Tensor, scores: inout Tensor,
                               context: ComputeContext = .serial) throws(TensorError) {
        let kvh = kvHeads ?? heads
        guard q.rank == 2, k.rank == 2, v.rank == 2, heads > 0, kvh > 0, heads % kvh == 0,
              q.shape[1] % heads == 0 else {
            throw .shapeMismatch(op: "attention q", expected: [-1, heads], found: q.shape)
        }
        let dh = q.shape[1] / heads
        let nq = q.shape[0], nk = k.shape[0]
        guard k.shape == [nk, kvh * dh], v.shape == [nk, kvh * dh] else {
            throw .shapeMismatch(op: "attention k/v", expected: [nk, kvh * dh], found: k.shape == [nk, kvh * dh] ? v.shape : k.shape)
        }
        out.resize([nq, heads * dh])
        scores.resize([heads, nq, nk])
        guard nq > 0, dh > 0 else { return }
        if nk == 0 {
            for i in out.storage.indices { out.storage[i] = 0 }
            return
        }
        let s = scale ?? 1 / Float(dh).squareRoot()
        q.storage.withUnsafeBufferPointer { qp in
            k.storage.withUnsafeBufferPointer { kp in
                v.storage.withUnsafeBufferPointer { vp in
                    out.storage.withUnsafeMutableBufferPointer { op in
                        scores.storage.withUnsafeMutableBufferPointer { sp in
                            attention(q: qp.baseAddress!, ldq: heads * dh, k: kp.baseAddress!, ldk: kvh * dh,
                                      v: vp.baseAddress!, ldv: kvh * dh, nq: nq, nk: nk, heads: heads, kvHeads: kvh,
                                      headDim: dh, scale: s, out: op.baseAddress!, ldo: heads * dh,
                                      scores: sp.baseAddress!, context: context)
                        }
                    }
                }
            }
        }
    }

    /// Self-attention reading q, k, v from a fused `[n, 3·D]` buffer (timm's qkv layout:
    /// columns `[q | k | v]`, each `heads × dh`).
    public static func selfAttention(qkv: Tensor, heads: Int, into out: inout Tensor, scores: inout Tensor,
                                     context: ComputeContext = .serial) throws(TensorError) {
        guard qkv.rank == 2, heads > 0, qkv.shape[1] % (3 * heads) == 0 else {
            throw .shapeMismatch(op: "self-attention qkv", expected: [-1, 3 * heads], found: qkv.shape)
        }
        let n = qkv.shape[0], d = qkv.shape[1] / 3, dh = d / heads
        out.resize([n, d])
        scores.resize([heads, n, n])
        guard n > 0, dh > 0 else { return }
        qkv.storage.withUnsafeBufferPointer { p in
            out.storage.withUnsafeMutableBufferPointer { op in
                scores.storage.withUnsafeMutableBufferPointer { sp in
                    attention(q: p.baseAddress!, ldq: 3 * d, k: p.baseAddress! + d, ldk: 3 * d, v: p.baseAddress! + 2 * d,
                              ldv: 3 * d, nq: n, nk: n, heads: heads, kvHeads: heads, headDim: dh,
                              scale: 1 / Float(dh).squareRoot(), out: op.baseAddress!, ldo: d,
                              scores: sp.baseAddress!, context: context)
                }
            }
        }
    }

    /// Raw kernel with row strides; `scores` holds `heads · nq · nk` floats.
    static func attention(q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int,
                          v: UnsafePointer<Float>, ldv: Int, nq: Int, nk: Int, heads: Int, kvHeads: Int,
                          headDim dh: Int, scale: Float, out: UnsafeMutablePointer<Float>, ldo: Int,
                          scores: UnsafeMutablePointer<Float>, context: ComputeContext) {
        let group = heads / kvHeads
        // Pool mode (OpenBLAS single-threaded): one task per (head, block of query rows) does
        // q·kᵀ, softmax and p·v for its rows while its scores are still in cache.
        let blocks = context.rowChunks(m: nq)
        if blocks > 1 {
            nonisolated(unsafe) let q = q, k = k, v = v, out = out, scores = scores
            let size = (nq + blocks - 1) / blocks
            context.noteAttentionTasks(heads * blocks)
            context.pool.run(heads * blocks) { task in
                let h = task / blocks, r0 = (task % blocks) * size, r1 = min(nq, r0 + size)
                guard r0 < r1 else { return }
                let g = h / group, rows = r1 - r0
                let s = scores + h * nq * nk + r0 * nk
                GEMM.sgemm(m: rows, n: nk, k: dh, a: q + r0 * ldq + h * dh, lda: ldq, b: k + g * dh, ldb: ldk,
                           transposeB: true, c: s, ldc: nk, alpha: scale, beta: 0)
                for r in 0..<rows { Softmax.softmaxRow(s + r * nk, nk) }
                GEMM.sgemm(m: rows, n: dh, k: nk, a: s, lda: nk, b: v + g * dh, ldb: ldv, transposeB: false,
                           c: out + r0 * ldo + h * dh, ldc: ldo, beta: 0)
            }
            return
        }
        for h in 0..<heads {
            let g = h / group
            GEMM.sgemm(m: nq, n: nk, k: dh, a: q + h * dh, lda: ldq, b: k + g * dh, ldb: ldk, transposeB: true,
                       c: scores + h * nq * nk, ldc: nk, alpha: scale, beta: 0)
        }
        Softmax.softmaxRows(scores, rows: heads * nq, cols: nk, ld: nk, pool: context.pool)
        for h in 0..<heads {
            let g = h / group
            GEMM.sgemm(m: nq, n: dh, k: nk, a: scores + h * nq * nk, lda: nk, b: v + g * dh, ldb: ldv, transposeB: false,
                       c: out + h * dh, ldc: ldo, beta: 0)
        }
    }
}
