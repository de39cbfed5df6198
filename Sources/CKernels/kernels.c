// Element-wise kernels, the det head's direct 3×3 convs and the KV window reads (see
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

// MARK: - Direct 3×3 convolution (stride 1 or 2, padding 1)

// Each step computes 16 output columns × NCO output channels (16 on AVX-512, else 8): the taps
// (the 16 input values under each kernel position, de-interleaved for stride 2) are gathered once
// per block of KVV_CONV3X3_CHUNK input channels into a stack buffer, then every block of NCO
// channels sweeps them, broadcasting NCO consecutive weights per tap from weight_t [cin·9][cout].
// No im2col buffer. A block reaching past the row's left or right end takes its taps by masked
// loads on AVX-512 (a zero-padded copy elsewhere). A row's last block of at most 8 columns shares
// its 16 lanes with the next row's (lanes 8.. hold row oy + 1), so a 40-column map fills 5 vectors
// for two rows, not 6. While a row computes, the input rows and output lines of the next one are
// prefetched (the maps outgrow L2 and the rows of one tap are a channel plane apart). Every sum is
// bias, then all (ci, ky, kx) in order with zero taps outside the image; between channel blocks it
// waits in `out` (an exact f32 store and load). So no output depends on the blocking, the
// pairing, the target or the threads.

/// Taps of one (ci, ky) input row for 16 outputs from input column ix0 (= stride·ox0 − 1),
/// zero when the row is outside the image. `EDGE` fills them for a block that reaches past
/// either side of the row (`inside` false).
#define CONV_TAPS(dst, row, rowInside, w, ix0, s, inside, EDGE) do {                     \
    if (!(rowInside)) {                                                                \
        for (long kx_ = 0; kx_ < 3; kx_++) (dst)[kx_] = SPLAT(0.0f);                   \
    } else if (inside) {                                                               \
        CONV_TAPS_BY(dst, s, ROW16, row, ix0, w);                                      \
    } else {                                                                           \
        EDGE(dst, row, w, ix0, s);                                                     \
    }                                                                                  \
} while (0)

/// The three taps (kx = 0, 1, 2) of a row for 16 outputs from column ix0: LOAD(row, ix, w)
/// gives row[ix ..< ix + 16]; stride 2 takes every other column of two such loads.
#define CONV_TAPS_BY(dst, s, LOAD, row, ix0, w) do {                                     \
    for (long kx_ = 0; kx_ < 3; kx_++) {                                               \
        if ((s) == 1) {                                                                \
            (dst)[kx_] = LOAD(row, (ix0) + kx_, w);                                    \
        } else {                                                                       \
            v16f lo_ = LOAD(row, (ix0) + kx_, w), hi_ = LOAD(row, (ix0) + kx_ + 16, w); \
            (dst)[kx_] = __builtin_shufflevector(lo_, hi_, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30); \
        }                                                                              \
    }                                                                                  \
} while (0)

/// row[ix ..< ix + 16], every column inside the row.
#define ROW16(row, ix, w) (*(const v16f *)((row) + (ix)))

/// Edge taps through a zero-padded copy of the columns, one by one (any target).
#define CONV_EDGE_PADDED(dst, row, w, ix0, s) do {                                       \
    float pad_[34];                                                                    \
    for (long t_ = 0; t_ < 16 * (s) + 2; t_++) {                                       \
        const long ix_ = (ix0) + t_;                                                   \
        pad_[t_] = ix_ >= 0 && ix_ < (w) ? (row)[ix_] : 0.0f;                          \
    }                                                                                  \
    CONV_TAPS_BY(dst, s, ROW16, pad_, 0, 34);                                          \
} while (0)

#if defined(__x86_64__)
/// row[ix ..< ix + 16] with zeros outside [0, w), in one AVX-512 masked load (lanes outside are
/// not read, so nothing before or past the map is touched).
#define ROW16_MASKED(row, ix, w) ({                                                      \
    const long lo_ = (ix) < 0 ? -(ix) : 0, hi_ = (w) - (ix) < 16 ? (w) - (ix) : 16;    \
    const __mmask16 m_ = hi_ <= lo_ ? 0 : (__mmask16)(((1u << hi_) - 1) & ~((1u << lo_) - 1)); \
    (v16f)_mm512_maskz_loadu_ps(m_, (row) + (ix)); })

/// Edge taps by masked loads: the same values as CONV_EDGE_PADDED without the scalar copy.
#define CONV_EDGE_MASKED(dst, row, w, ix0, s) CONV_TAPS_BY(dst, s, ROW16_MASKED, row, ix0, w)
#endif

/// The block's lanes of `out` at d: the first `lanes`, or with `paired` lanes 0..<lanes at d and
/// 8..<8 + lanes at d + wo (the next row); the other lanes 0.
#define LOAD_LANES(d, lanes, paired, wo) ({ v16f l_ = SPLAT(0.0f);                      \
    if ((lanes) == 16) l_ = *(const v16f *)(d);                                        \
    else for (long j_ = 0; j_ < (lanes); j_++) {                                       \
        l_[j_] = (d)[j_];                                                              \
        if (paired) l_[8 + j_] = (d)[(wo) + j_];                                       \
    }                                                                                  \
    l_; })

/// Prefetches the cache lines of the n floats at p, for writing when `rw` is 1.
#define PREFETCH_FLOATS(p, n, rw) do {                                                   \
    const char *p_ = (const char *)(p);                                                \
    for (long b_ = 0; b_ < (n) * 4; b_ += 64) __builtin_prefetch(p_ + b_, rw);         \
    __builtin_prefetch(p_ + (n) * 4 - 1, rw);                                           \
} while (0)

/// Asks for input rows iy0 ... iy1 (clipped to the image) of every channel: the rows of one
/// (ci, ky) are a channel plane apart, more streams than the hardware prefetcher follows.
#define CONV_PREFETCH_ROWS(in, cin, h, w, iy0, iy1) do {                                \
    for (long iy_ = (iy0) < 0 ? 0 : (iy0); iy_ <= (iy1) && iy_ < (h); iy_++)           \
        for (long ci_ = 0; ci_ < (cin); ci_++)                                         \
            PREFETCH_FLOATS((in) + (ci_ * (h) + iy_) * (w), w, 0);                     \
} while (0)

/// At the start of a call: the weights into L2 (every block sweeps them) and the input rows of
/// the first output row.
#define CONV_PREFETCH_START(in, cin, h, w, s, weight_t, cout, oy0, oy1) do {              \
    const char *w_ = (const char *)(weight_t);                                         \
    for (long b_ = 0; b_ < (cin) * 9 * (cout) * 4; b_ += 64) __builtin_prefetch(w_ + b_, 0, 2); \
    if ((oy0) < (oy1)) CONV_PREFETCH_ROWS(in, cin, h, w, (s) * (oy0) - 1, (s) * (oy0) + 1); \
} while (0)

/// Asks to own the lines of output row oy (every channel) before the row is written.
#define CONV_PREFETCH_OUT(out, cout, ho, wo, oy) do {                                    \
    for (long co_ = 0; co_ < (cout); co_++)                                            \
        PREFETCH_FLOATS((out) + (co_ * (ho) + (oy)) * (wo), wo, 1);                    \
} while (0)

// The function body, for NCO output channels of accumulators per pass (cout a multiple of NCO):
// 8 in the baseline and AVX2 versions (16 ymm registers), 16 where the CPU has AVX-512 (32 zmm):
// twice the sums in flight per tap for CPUs with two 512-bit FMA pipes. Both give the same bits.
#define CONV3X3_BODY(NCO, EDGE) {                                                                  \
    v16f taps[KVV_CONV3X3_CHUNK * 9];                                                      \
    v16f vlo = SPLAT(0.0f), vhi = SPLAT(0.0f);  /* the range written (NaN ignored) */      \
    const long s = stride, plane = ho * wo;                                                \
    int tailDone = 0;  /* this row's last block went with the previous row's */            \
    CONV_PREFETCH_START(in, cin, h, w, s, weight_t, cout, oy0, oy1);                       \
    if (oy0 < oy1) CONV_PREFETCH_OUT(out, cout, ho, wo, oy0);                              \
    for (long oy = oy0; oy < oy1; oy++) {                                                  \
        const int doneBefore = tailDone;                                                   \
        tailDone = 0;                                                                      \
        /* While row oy computes, the rows oy + 1 reads and oy did not, and oy + 1's output. */ \
        if (oy + 1 < oy1) {                                                                \
            CONV_PREFETCH_ROWS(in, cin, h, w, s * oy + 2, s * oy + s + 1);                 \
            CONV_PREFETCH_OUT(out, cout, ho, wo, oy + 1);                                  \
        }                                                                                  \
        for (long ox0 = 0; ox0 < wo; ox0 += 16) {                                          \
            const long lanes = wo - ox0 < 16 ? wo - ox0 : 16;                              \
            if (lanes < 16 && doneBefore) break;                                           \
            const int paired = lanes <= 8 && oy + 1 < oy1;                                 \
            if (paired) tailDone = 1;                                                      \
            /* Every tap of the block readable from the row: columns ix0 ..< ix0 + 16·s + 2. */ \
            const long ix0 = s * ox0 - 1;                                                  \
            const int inside = ix0 >= 0 && ix0 + 16 * s + 2 <= w;                          \
            for (long c0 = 0; c0 < cin; c0 += KVV_CONV3X3_CHUNK) {                         \
                const long cn = cin - c0 < KVV_CONV3X3_CHUNK ? cin - c0 : KVV_CONV3X3_CHUNK; \
                const int first = c0 == 0, last = c0 + cn == cin;                          \
                for (long ci = 0; ci < cn; ci++)                                           \
                    for (long ky = 0; ky < 3; ky++) {                                      \
                        const long iy = s * oy - 1 + ky;                                   \
                        v16f *t = taps + (ci * 3 + ky) * 3;                                \
                        CONV_TAPS(t, in + ((c0 + ci) * h + iy) * w, iy >= 0 && iy < h, w, ix0, s, inside, EDGE); \
                        if (paired) {                                                      \
                            v16f next[3];                                                  \
                            const long iy1 = iy + s;                                       \
                            CONV_TAPS(next, in + ((c0 + ci) * h + iy1) * w, iy1 >= 0 && iy1 < h, w, ix0, s, inside, EDGE); \
                            for (long kx = 0; kx < 3; kx++)                                \
                                t[kx] = __builtin_shufflevector(t[kx], next[kx], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23); \
                        }                                                                  \
                    }                                                                      \
                for (long co0 = 0; co0 < cout; co0 += (NCO)) {                             \
                    float *dst = out + (co0 * ho + oy) * wo + ox0;                         \
                    v16f acc[(NCO)];                                                       \
                    _Pragma("clang loop unroll(full)")                                     \
                    for (long c = 0; c < (NCO); c++)                                       \
                        acc[c] = !first ? LOAD_LANES(dst + c * plane, lanes, paired, wo)   \
                                        : SPLAT(bias ? bias[co0 + c] : 0.0f);              \
                    const float *wc = weight_t + c0 * 9 * cout + co0;                      \
                    for (long k = 0; k < cn * 9; k++) {                                    \
                        const v16f x = taps[k];                                            \
                        const float *wk = wc + k * cout;                                   \
                        _Pragma("clang loop unroll(full)")                                 \
                        for (long c = 0; c < (NCO); c++) acc[c] += x * wk[c];              \
                    }                                                                      \
                    _Pragma("clang loop unroll(full)")                                     \
                    for (long c = 0; c < (NCO); c++) {                                     \
                        v16f v = acc[c];                                                   \
                        float *d = dst + c * plane;                                        \
                        if (last && relu) v = SEL(v > SPLAT(0.0f), v, SEL(v != v, v, SPLAT(0.0f))); \
                        if (lanes == 16) {                                                 \
                            *(v16f *)d = v;                                                \
                            if (last) {                                                    \
                                vlo = SEL(v < vlo, v, vlo);                                \
                                vhi = SEL(v > vhi, v, vhi);                                \
                            }                                                              \
                        } else {                                                           \
                            for (long j = 0; j < lanes; j++) {                             \
                                for (long half = 0; half <= paired; half++) {              \
                                    const float x = v[8 * half + j];                       \
                                    d[half * wo + j] = x;                                  \
                                    if (last) {                                            \
                                        vlo[0] = x < vlo[0] ? x : vlo[0];                  \
                                        vhi[0] = x > vhi[0] ? x : vhi[0];                  \
                                    }                                                      \
                                }                                                          \
                            }                                                              \
                        }                                                                  \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    if (range) {                                                                           \
        float lo[16], hi[16];                                                              \
        memcpy(lo, &vlo, sizeof lo);                                                       \
        memcpy(hi, &vhi, sizeof hi);                                                       \
        kvv_fold_range(lo, hi, 16, &range[0], &range[1]);                                  \
    }                                                                                      \
}

#define CONV3X3_PARAMS const float *in, long cin, long h, long w, long stride, const float *weight_t, const float *bias, \
                       long cout, float *out, long ho, long wo, long oy0, long oy1, int relu, float *range

KVV_CLONES
static void conv3x3_rows8(CONV3X3_PARAMS) CONV3X3_BODY(8, CONV_EDGE_PADDED)

#if defined(__x86_64__)
__attribute__((target("avx512f")))
static void conv3x3_rows16(CONV3X3_PARAMS) CONV3X3_BODY(16, CONV_EDGE_MASKED)

static int conv3x3_has16(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}
#endif

void kvv_conv3x3_rows(CONV3X3_PARAMS) {
#if defined(__x86_64__)
    if (cout % 16 == 0 && conv3x3_has16()) {
        conv3x3_rows16(in, cin, h, w, stride, weight_t, bias, cout, out, ho, wo, oy0, oy1, relu, range);
        return;
    }
#endif
    conv3x3_rows8(in, cin, h, w, stride, weight_t, bias, cout, out, ho, wo, oy0, oy1, relu, range);
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
