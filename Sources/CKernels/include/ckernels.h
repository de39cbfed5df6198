// Small C kernels: the ViT encoder's element-wise ones (softmax rows, exact GELU) and the det
// head's direct 3×3 convs (stride 1 and 2), compiled in several instruction-set versions and picked at
// load time for the running CPU (ifunc through clang's target_clones: AVX-512F, AVX2, baseline
// x86-64 SSE2); and the KV window reads for f32 / f16 / int8 stores (AVX2 + FMA + F16C when the
// CPU has them, checked at run time, else scalar). The Swift code compiles for baseline
// x86-64 only, which gives these 16-lane loops four 128-bit operations each; here the same
// algorithm runs on 512-bit (or 256-bit) registers where the CPU has them, and never uses an
// instruction the CPU lacks. The int8/bf16 GEMM kernels are declared in qgemm.h (included
// below). Only Sources/KVVision/Tensor/ imports this module.
//
// Thread-safety: pure functions over caller-owned memory.
#ifndef KVV_CKERNELS_H
#define KVV_CKERNELS_H
#include <stdint.h>
#include "qgemm.h"
#include "pixconv.h"
#include "im2colrgb.h"

/// In place: row = softmax(row) over `n` floats (max subtracted first; Cephes exp).
void kvv_softmax_row(float *row, long n);

/// In place: row[j] = gelu(row[j] + bias[j]) over `n` floats (exact erf GELU); `bias` may be NULL.
void kvv_gelu_row(float *row, long n, const float *bias);

/// Input channels whose taps `kvv_conv3x3_rows` gathers at a time (a 18 KB stack buffer).
#define KVV_CONV3X3_CHUNK 32

/// Output rows `oy0 ..< oy1` of a 3×3 convolution, stride 1 or 2, padding 1 (NCHW, one image):
/// in `[cin, h, w]`, `weight_t` the weights transposed to `[cin·9, cout]` (row (ci·3 + ky)·3 + kx),
/// bias `[cout]` or NULL, out `[cout, ho, wo]` with ho = (h − 1) / stride + 1, likewise wo;
/// `relu` != 0 applies max(0, ·) (NaN kept). Needs cin ≥ 1 and cout a multiple of 8. Direct, no
/// im2col buffer; each output is bias + Σ over (ci, ky, kx) in that order, whatever the rows
/// given, so rows may be split over threads without changing a bit. When `range` is not NULL it
/// receives [min(0, written), max(0, written)] over these rows (NaN ignored): an int8 consumer's
/// range.
void kvv_conv3x3_rows(const float *in, long cin, long h, long w, long stride, const float *weight_t, const float *bias,
                      long cout, float *out, long ho, long wo, long oy0, long oy1, int relu, float *range);

/// KV element formats of `kvv_window_scores` / `kvv_window_weighted_sum`.
#define KVV_KV_F32 0
#define KVV_KV_F16 1
#define KVV_KV_I8 2

/// Scores of n query rows (q, rows qs floats apart) against r stored key rows (k: f32, f16 or int8
/// elements, rows ks elements apart), head size d: s[i·ls + j] = (Σ_c q[i, c] · k[j, c]) · scale ·
/// (rs ? rs[j·rss] : 1), f32 accumulation (AVX2/FMA/F16C when the CPU has them: 8 lanes of partial
/// sums over c, then their sum, for every format; else a scalar sum in order).
/// When `mask` is not NULL, a key with mask[i·ms + j] = −∞ is not read and its score is 0 (an
/// attention bias that excludes it: a window read restricted to one owner's rows skips the rest).
void kvv_window_scores(int fmt, const float *q, long qs, long n, const void *k, long ks, long r, long d,
                       float scale, const float *rs, long rss, const float *mask, long ms, float *s, long ls);

/// out[i·os + c] = Σ_j p[i·r + j] · (rs ? rs[j·rss] : 1) · v[j, c] over r stored value rows (f32,
/// f16 or int8, rows vs elements apart), head size d; zero weights are skipped.
void kvv_window_weighted_sum(int fmt, const float *p, long n, long r, const void *v, long vs, long d,
                             const float *rs, long rss, float *out, long os);

/// The same two reads for one query row over a list of stored rows (`rows`, count entries, in
/// increasing order): s[t] is kvv_window_scores' score of row rows[t], and out = Σ_t p[t] ·
/// (rs ? rs[rows[t]·rss] : 1) · v[rows[t]] in that order, zero weights skipped — the same
/// arithmetic row for row, so a read over the rows a mask leaves gives the masked read's bits.
void kvv_window_scores_rows(int fmt, const float *q, const void *k, long ks, const int32_t *rows, long count, long d,
                            float scale, const float *rs, long rss, float *s);
void kvv_window_weighted_sum_rows(int fmt, const float *p, const int32_t *rows, long count, const void *v, long vs, long d,
                                  const float *rs, long rss, float *out);

/// The instruction set the dispatcher picked: "avx512f", "avx2" or "sse2" (for benchmarks).
const char *kvv_kernels_isa(void);

#endif
