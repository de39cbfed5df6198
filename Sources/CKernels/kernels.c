// Element-wise kernels, the det stem's direct conv and the KV window reads (see
// include/ckernels.h). The element-wise algorithms are those of
// Sources/KVVision/Tensor/VectorMath.swift: Cephes single-precision exp (inputs clamped to
// [-87.3, 88.3], 2^n by exponent bits) and the Eigen/XLA rational erf (inputs clamped to [-4, 4]),
// on 16-lane vectors written with clang vector extensions, so each target_clones version maps
// them onto its own registers (one zmm, two ymm or four xmm).
#include "ckernels.h"
#include "lanes.h"
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(__x86_64__)
#define KVV_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KVV_CLONES /* other architectures: one build for the compiler's baseline (e.g. NEON on arm64) */
#endif

typedef float v16f __attribute__((vector_size(64), aligned(4), may_alias));
typedef int v16i __attribute__((vector_size(64), aligned(4), may_alias));

// Helpers are macros: 64-byte vectors cannot cross a function boundary in the baseline clone
// (the psABI passes them differently with and without AVX-512), even when inlined.
#define SPLAT(f) ((v16f){0} + (f))
/// `mask ? a : b` lane by lane.
#define SEL(mask, a, b) ((v16f)(((v16i)(b)) ^ ((((v16i)(a)) ^ ((v16i)(b))) & (mask))))
#define CLAMP(x, lo, hi) ({ v16f l_ = SPLAT(lo), h_ = SPLAT(hi), y_ = SEL((x) < l_, l_, (x)); SEL(y_ > h_, h_, y_); })

#define VEXP(input) ({                                          \
    v16f x = CLAMP(input, -87.3f, 88.3f);                       \
    const v16f magic = SPLAT(12582912.0f);                      \
    v16f t = x * 1.44269504088896341f + magic;                  \
    v16f fx = t - magic;                                        \
    v16i n = (v16i)t - (v16i)magic;                             \
    x = x - fx * 0.693359375f;                                  \
    x = x + fx * 2.12194440e-4f;                                \
    v16f z = x * x;                                             \
    v16f y = SPLAT(1.9875691500e-4f);                           \
    y = y * x + 1.3981999507e-3f;                               \
    y = y * x + 8.3334519073e-3f;                               \
    y = y * x + 4.1665795894e-2f;                               \
    y = y * x + 1.6666665459e-1f;                               \
    y = y * x + 5.0000001201e-1f;                               \
    y = y * z + x + 1.0f;                                       \
    v16i bits = (n + 127) * (1 << 23);                          \
    y * (v16f)bits; })

#define VERF(input) ({                                          \
    v16f x = CLAMP(input, -4.0f, 4.0f);                         \
    v16f x2 = x * x;                                            \
    v16f p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f; \
    p = x2 * p + -2.10102402082508e-06f;                        \
    p = x2 * p + -5.69250639462346e-05f;                        \
    p = x2 * p + -7.34990630326855e-04f;                        \
    p = x2 * p + -2.95459980854025e-03f;                        \
    p = x2 * p + -1.60960333262415e-02f;                        \
    p = x * p;                                                  \
    v16f q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f; \
    q = x2 * q + -1.68282697438203e-03f;                        \
    q = x2 * q + -7.37332916720468e-03f;                        \
    q = x2 * q + -1.42647390514189e-02f;                        \
    p / q; })

#define VGELU(v) ({ v16f g_ = (v); g_ * 0.5f * (VERF(g_ * 0.70710678118654752f) + 1.0f); })

KVV_CLONES
void kvv_softmax_row(float *row, long n) {
    v16f vmax = SPLAT(-__builtin_inff());
    long j = 0;
    for (; j + 16 <= n; j += 16) {
        v16f v = *(const v16f *)(row + j);
        vmax = SEL(vmax < v, v, vmax);
    }
    float m = -__builtin_inff();
    for (int l = 0; l < 16; l++) m = vmax[l] > m ? vmax[l] : m;
    for (long t = j; t < n; t++) m = row[t] > m ? row[t] : m;
    v16f vsum = SPLAT(0.0f);
    for (j = 0; j + 16 <= n; j += 16) {
        v16f e = VEXP(*(const v16f *)(row + j) - m);
        *(v16f *)(row + j) = e;
        vsum += e;
    }
    float sum = 0;
    for (int l = 0; l < 16; l++) sum += vsum[l];
    if (j < n) {
        v16f v = SPLAT(-__builtin_inff());
        for (long t = j; t < n; t++) v[t - j] = row[t] - m;
        v16f e = VEXP(v);
        for (long t = j; t < n; t++) { row[t] = e[t - j]; sum += e[t - j]; }
    }
    float inv = 1.0f / sum;
    for (j = 0; j + 16 <= n; j += 16) *(v16f *)(row + j) = *(const v16f *)(row + j) * inv;
    for (; j < n; j++) row[j] *= inv;
}

KVV_CLONES
void kvv_gelu_row(float *row, long n, const float *bias) {
    long j = 0;
    for (; j + 16 <= n; j += 16) {
        v16f v = *(const v16f *)(row + j);
        if (bias) v += *(const v16f *)(bias + j);
        *(v16f *)(row + j) = VGELU(v);
    }
    if (j < n) {
        v16f v = SPLAT(0.0f);
        for (long t = j; t < n; t++) v[t - j] = row[t] + (bias ? bias[t] : 0.0f);
        v16f g = VGELU(v);
        for (long t = j; t < n; t++) row[t] = g[t - j];
    }
}

// Direct 3×3 / stride 2 / padding 1 convolution for few input channels (the det stem's first
// conv, 3 pixel channels): 16 output columns per vector, 8 output channels of accumulators per
// pass. A tap (ci, ky, kx) of a 16-column block is the even lanes of 32 consecutive input floats
// (one permute), read in place or, at the image's left and right edges, from a zero-padded copy
// of the 34 input columns the block's loads cover; each block's taps are made once and shared by every
// pass. Rows outside the image are skipped (zero padding adds nothing). Weights are taken
// transposed, [cin·9][cout], so a pass broadcasts 8 consecutive floats per tap. No im2col buffer.
#define KVV_CONV_MAX_TAPS (KVV_CONV3X3S2_MAX_CIN * 9)

KVV_CLONES
void kvv_conv3x3s2_rows(const float *in, long cin, long h, long w, const float *weight_t, const float *bias,
                        long cout, float *out, long ho, long wo, long oy0, long oy1, int relu, float *range) {
    v16f taps[KVV_CONV_MAX_TAPS];
    v16f vlo = SPLAT(0.0f), vhi = SPLAT(0.0f);  // the range written (NaN ignored)
    for (long oy = oy0; oy < oy1; oy++) {
        const long ky0 = 2 * oy - 1 < 0 ? 1 : 0, ky1 = 2 * oy + 1 >= h ? 2 : 3;  // rows inside
        for (long ox0 = 0; ox0 < wo; ox0 += 16) {
            const long lanes = wo - ox0 < 16 ? wo - ox0 : 16;
            // Every tap of the block readable as 32 floats from 2·ox0 + kx − 1 (kx = 0..2).
            const int inside = ox0 > 0 && 2 * ox0 + 1 + 32 <= w;
            for (long ci = 0; ci < cin; ci++)
                for (long ky = ky0; ky < ky1; ky++) {
                    const float *row = in + (ci * h + 2 * oy + ky - 1) * w;
                    float pad[34];  // columns 2·ox0 − 1 + t, zero outside the image
                    const float *src = pad;
                    if (inside) {
                        src = row + 2 * ox0 - 1;
                    } else {
                        for (long t = 0; t < 34; t++) {
                            const long ix = 2 * ox0 - 1 + t;
                            pad[t] = ix >= 0 && ix < w ? row[ix] : 0.0f;
                        }
                    }
                    for (long kx = 0; kx < 3; kx++) {
                        v16f lo = *(const v16f *)(src + kx), hi = *(const v16f *)(src + kx + 16);
                        taps[(ci * 3 + ky) * 3 + kx] =
                            __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                    }
                }
            for (long co0 = 0; co0 < cout; co0 += 8) {
                v16f a0, a1, a2, a3, a4, a5, a6, a7;
                if (bias) {
                    a0 = SPLAT(bias[co0]); a1 = SPLAT(bias[co0 + 1]); a2 = SPLAT(bias[co0 + 2]); a3 = SPLAT(bias[co0 + 3]);
                    a4 = SPLAT(bias[co0 + 4]); a5 = SPLAT(bias[co0 + 5]); a6 = SPLAT(bias[co0 + 6]); a7 = SPLAT(bias[co0 + 7]);
                } else {
                    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = SPLAT(0.0f);
                }
                for (long ci = 0; ci < cin; ci++) {
                    for (long ky = ky0; ky < ky1; ky++) {
                        for (long kx = 0; kx < 3; kx++) {
                            const long k = (ci * 3 + ky) * 3 + kx;
                            const v16f x = taps[k];
                            const float *wk = weight_t + k * cout + co0;
                            a0 += x * wk[0]; a1 += x * wk[1]; a2 += x * wk[2]; a3 += x * wk[3];
                            a4 += x * wk[4]; a5 += x * wk[5]; a6 += x * wk[6]; a7 += x * wk[7];
                        }
                    }
                }
                v16f acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
                for (long c = 0; c < 8; c++) {
                    v16f v = acc[c];
                    if (relu) v = SEL(v > SPLAT(0.0f), v, SEL(v != v, v, SPLAT(0.0f)));
                    float *dst = out + ((co0 + c) * ho + oy) * wo + ox0;
                    if (lanes == 16) {
                        *(v16f *)dst = v;
                        vlo = SEL(v < vlo, v, vlo);
                        vhi = SEL(v > vhi, v, vhi);
                    } else {
                        for (long j = 0; j < lanes; j++) {
                            dst[j] = v[j];
                            vlo[0] = v[j] < vlo[0] ? v[j] : vlo[0];
                            vhi[0] = v[j] > vhi[0] ? v[j] : vhi[0];
                        }
                    }
                }
            }
        }
    }
    if (range) {
        float lo[16], hi[16];
        memcpy(lo, &vlo, sizeof lo);
        memcpy(hi, &vhi, sizeof hi);
        kvv_fold_range(lo, hi, 16, &range[0], &range[1]);
    }
}

// MARK: - KV window reads in f32 / f16 / int8 (the temporal heads' attention over the window)

/// IEEE half → float (subnormals, infinities and NaN included): the fallback without F16C.
static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float kv_element(int fmt, const void *row, long c) {
    if (fmt == KVV_KV_F32) return ((const float *)row)[c];
    return fmt == KVV_KV_F16 ? half_to_float(((const uint16_t *)row)[c]) : (float)((const int8_t *)row)[c];
}

static inline size_t kv_element_size(int fmt) { return fmt == KVV_KV_F32 ? 4 : fmt == KVV_KV_F16 ? 2 : 1; }

static inline int kv_masked(const float *mask, long ms, long i, long j) {
    return mask && mask[i * ms + j] == -__builtin_inff();
}

static inline float score_row_scalar(int fmt, const float *qi, const void *kj, long d) {
    float acc = 0;
    for (long c = 0; c < d; c++) acc += qi[c] * kv_element(fmt, kj, c);
    return acc;
}

static void window_scores_scalar(int fmt, const float *q, long qs, long n, const void *k, long ks, long r, long d,
                                 float scale, const float *rs, long rss, const float *mask, long ms, float *s, long ls) {
    const size_t es = kv_element_size(fmt);
    for (long i = 0; i < n; i++)
        for (long j = 0; j < r; j++) {
            if (kv_masked(mask, ms, i, j)) { s[i * ls + j] = 0; continue; }
            const void *kj = (const char *)k + (size_t)(j * ks) * es;
            s[i * ls + j] = score_row_scalar(fmt, q + i * qs, kj, d) * (rs ? scale * rs[j * rss] : scale);
        }
}

// o += wj · v row (one value row into the output, in channel order).
static inline void add_row_scalar(int fmt, float wj, const void *vj, long d, float *o) {
    for (long c = 0; c < d; c++) o[c] += wj * kv_element(fmt, vj, c);
}

static void window_sum_scalar(int fmt, const float *p, long n, long r, const void *v, long vs, long d,
                              const float *rs, long rss, float *out, long os) {
    const size_t es = kv_element_size(fmt);
    for (long i = 0; i < n; i++) {
        float *o = out + i * os;
        for (long c = 0; c < d; c++) o[c] = 0;
        for (long j = 0; j < r; j++) {
            const float w = p[i * r + j];
            if (w == 0) continue;
            const float wj = rs ? w * rs[j * rss] : w;
            const void *vj = (const char *)v + (size_t)(j * vs) * es;
            add_row_scalar(fmt, wj, vj, d, o);
        }
    }
}

#if defined(__x86_64__)
#define KV_T __attribute__((target("avx2,fma,f16c")))

static inline __attribute__((always_inline)) KV_T __m256 kv_load8(int fmt, const void *row, long c) {
    if (fmt == KVV_KV_F32) return _mm256_loadu_ps((const float *)row + c);
    if (fmt == KVV_KV_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + c)));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)row + c))));
}

static inline __attribute__((always_inline)) KV_T float score_row_avx2(int fmt, const float *qi, const void *kj, long d) {
    const long d8 = d & ~7L;
    __m256 acc = _mm256_setzero_ps();
    for (long c = 0; c < d8; c += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(qi + c), kv_load8(fmt, kj, c), acc);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float sum = _mm_cvtss_f32(h);
    for (long c = d8; c < d; c++) sum += qi[c] * kv_element(fmt, kj, c);
    return sum;
}

KV_T static void window_scores_avx2(int fmt, const float *q, long qs, long n, const void *k, long ks, long r, long d,
                                    float scale, const float *rs, long rss, const float *mask, long ms, float *s, long ls) {
    const size_t es = kv_element_size(fmt);
    for (long i = 0; i < n; i++) {
        const float *qi = q + i * qs;
        for (long j = 0; j < r; j++) {
            if (kv_masked(mask, ms, i, j)) { s[i * ls + j] = 0; continue; }
            const void *kj = (const char *)k + (size_t)(j * ks) * es;
            s[i * ls + j] = score_row_avx2(fmt, qi, kj, d) * (rs ? scale * rs[j * rss] : scale);
        }
    }
}

KV_T static void rows_scores_avx2(int fmt, const float *q, const void *k, long ks, const int32_t *rows, long count, long d,
                                  float scale, const float *rs, long rss, float *s) {
    const size_t es = kv_element_size(fmt);
    for (long t = 0; t < count; t++) {
        const long j = rows[t];
        s[t] = score_row_avx2(fmt, q, (const char *)k + (size_t)(j * ks) * es, d) * (rs ? scale * rs[j * rss] : scale);
    }
}

// o += wj · v row: 8 channels at a time with FMA, then the tail.
static inline __attribute__((always_inline)) KV_T void add_row_avx2(int fmt, float wj, const void *vj, long d, float *o) {
    const long d8 = d & ~7L;
    const __m256 ww = _mm256_set1_ps(wj);
    for (long c = 0; c < d8; c += 8) _mm256_storeu_ps(o + c, _mm256_fmadd_ps(ww, kv_load8(fmt, vj, c), _mm256_loadu_ps(o + c)));
    for (long c = d8; c < d; c++) o[c] += wj * kv_element(fmt, vj, c);
}

KV_T static void rows_sum_avx2(int fmt, const float *p, const int32_t *rows, long count, const void *v, long vs, long d,
                               const float *rs, long rss, float *o) {
    const size_t es = kv_element_size(fmt);
    for (long c = 0; c < d; c++) o[c] = 0;
    for (long t = 0; t < count; t++) {
        const float w = p[t];
        if (w == 0) continue;
        const long j = rows[t];
        const float wj = rs ? w * rs[j * rss] : w;
        const void *vj = (const char *)v + (size_t)(j * vs) * es;
        add_row_avx2(fmt, wj, vj, d, o);
    }
}

KV_T static void window_sum_avx2(int fmt, const float *p, long n, long r, const void *v, long vs, long d,
                                 const float *rs, long rss, float *out, long os) {
    const size_t es = kv_element_size(fmt);
    for (long i = 0; i < n; i++) {
        float *o = out + i * os;
        for (long c = 0; c < d; c++) o[c] = 0;
        for (long j = 0; j < r; j++) {
            const float w = p[i * r + j];
            if (w == 0) continue;
            const float wj = rs ? w * rs[j * rss] : w;
            const void *vj = (const char *)v + (size_t)(j * vs) * es;
            add_row_avx2(fmt, wj, vj, d, o);
        }
    }
}

static int kv_vector(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
#endif

void kvv_window_scores(int fmt, const float *q, long qs, long n, const void *k, long ks, long r, long d,
                       float scale, const float *rs, long rss, const float *mask, long ms, float *s, long ls) {
#if defined(__x86_64__)
    if (kv_vector()) { window_scores_avx2(fmt, q, qs, n, k, ks, r, d, scale, rs, rss, mask, ms, s, ls); return; }
#endif
    window_scores_scalar(fmt, q, qs, n, k, ks, r, d, scale, rs, rss, mask, ms, s, ls);
}

void kvv_window_weighted_sum(int fmt, const float *p, long n, long r, const void *v, long vs, long d,
                             const float *rs, long rss, float *out, long os) {
#if defined(__x86_64__)
    if (kv_vector()) { window_sum_avx2(fmt, p, n, r, v, vs, d, rs, rss, out, os); return; }
#endif
    window_sum_scalar(fmt, p, n, r, v, vs, d, rs, rss, out, os);
}

void kvv_window_scores_rows(int fmt, const float *q, const void *k, long ks, const int32_t *rows, long count, long d,
                            float scale, const float *rs, long rss, float *s) {
#if defined(__x86_64__)
    if (kv_vector()) { rows_scores_avx2(fmt, q, k, ks, rows, count, d, scale, rs, rss, s); return; }
#endif
    const size_t es = kv_element_size(fmt);
    for (long t = 0; t < count; t++) {
        const long j = rows[t];
        s[t] = score_row_scalar(fmt, q, (const char *)k + (size_t)(j * ks) * es, d) * (rs ? scale * rs[j * rss] : scale);
    }
}

void kvv_window_weighted_sum_rows(int fmt, const float *p, const int32_t *rows, long count, const void *v, long vs, long d,
                                  const float *rs, long rss, float *out) {
#if defined(__x86_64__)
    if (kv_vector()) { rows_sum_avx2(fmt, p, rows, count, v, vs, d, rs, rss, out); return; }
#endif
    const size_t es = kv_element_size(fmt);
    for (long c = 0; c < d; c++) out[c] = 0;
    for (long t = 0; t < count; t++) {
        const float w = p[t];
        if (w == 0) continue;
        const long j = rows[t];
        const float wj = rs ? w * rs[j * rss] : w;
        const void *vj = (const char *)v + (size_t)(j * vs) * es;
        add_row_scalar(fmt, wj, vj, d, out);
    }
}

const char *kvv_kernels_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    if (__builtin_cpu_supports("avx2")) return "avx2";
    return "sse2";
#else
    return "baseline";
#endif
}
