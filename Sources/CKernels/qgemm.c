// int8 and bf16 GEMM kernels (see include/qgemm.h for the numerics and the packed layout).
// One portable reference, then one kernel per instruction set, each compiled with a per-function
// target attribute so the file builds for baseline x86-64 and the caller picks what the CPU runs.
#include "qgemm.h"
#include <math.h>
#include <string.h>

// The epilogue's mul and add are separately rounded on every path (no FMA contraction), so all
// int8 paths agree bit for bit.
#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>
#define KVV_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define KVV_CLONES
#endif

long kvv_q8_kpad(long k) { return (k + 3) & ~3L; }
long kvv_bf16_kpad(long k) { return (k + 1) & ~1L; }
long kvv_gemm_npad(long n) { return (n + 15) & ~15L; }

int kvv_isa_supported(int isa) {
    if (isa == KVV_ISA_REFERENCE) return 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    switch (isa) {
    case KVV_ISA_AVX2: return avx2;
    case KVV_ISA_AVXVNNI: return avx2 && __builtin_cpu_supports("avxvnni");
    case KVV_ISA_AVX512VNNI: return avx512 && __builtin_cpu_supports("avx512vnni");
    case KVV_ISA_AVX512BF16: return avx512 && __builtin_cpu_supports("avx512bf16");
    default: return 0;
    }
#else
    return 0;
#endif
}

// MARK: - int8 packing and activation quantisation

static inline long q8_index(long j, long kk, long kp) {
    return (j >> 4) * (kp << 4) + (kk >> 2) * 64 + (j & 15) * 4 + (kk & 3);
}

int kvv_q8_pack(const float *w, long sn, long sk, long n, long k, int qmax,
                int8_t *packed, float *scales, int32_t *colsums) {
    long kp = kvv_q8_kpad(k), np = kvv_gemm_npad(n);
    memset(packed, 0, (size_t)(np * kp));
    int largest = 0;
    for (long j = 0; j < np; j++) {
        scales[j] = 0;
        colsums[j] = 0;
        if (j >= n) continue;
        float mx = 0;
        for (long kk = 0; kk < k; kk++) {
            float v = fabsf(w[j * sn + kk * sk]);
            mx = v > mx ? v : mx;
        }
        if (!(mx > 0) || !isfinite(mx)) continue;
        float inv = (float)qmax / mx;
        int32_t sum = 0;
        for (long kk = 0; kk < k; kk++) {
            float r = rintf(w[j * sn + kk * sk] * inv);
            int q = r > qmax ? qmax : (r < -qmax ? -qmax : (int)r);
            packed[q8_index(j, kk, kp)] = (int8_t)q;
            sum += q;
            largest = q > largest ? q : (-q > largest ? -q : largest);
        }
        scales[j] = mx / (float)qmax;
        colsums[j] = sum;
    }
    return largest;
}

/// Row-wise asymmetric u8: range [min(x, 0), max(x, 0)] onto 0…255; padding k…kpad gets z.
KVV_CLONES
static void q8_quantize_rows(const float *a, long lda, long m, long k, long kp, uint8_t *qa, float *ascale, int32_t *azero) {
    for (long i = 0; i < m; i++) {
        const float *x = a + i * lda;
        uint8_t *q = qa + i * kp;
        float lo = 0, hi = 0;
        for (long kk = 0; kk < k; kk++) {
            lo = x[kk] < lo ? x[kk] : lo;
            hi = x[kk] > hi ? x[kk] : hi;
        }
        float range = hi - lo;
        if (!(range > 0) || !isfinite(range)) {
            ascale[i] = 0;
            azero[i] = 0;
            memset(q, 0, (size_t)kp);
            continue;
        }
        float inv = 255.0f / range;
        float zr = rintf(-lo * inv);
        int z = zr < 0 ? 0 : (zr > 255 ? 255 : (int)zr);
        float zf = (float)z;
        for (long kk = 0; kk < k; kk++) {
            float v = rintf(x[kk] * inv) + zf;
            v = !(v >= 0) ? 0 : (v > 255 ? 255 : v);  // NaN → 0 (a NaN cast to uint8_t is undefined)
            q[kk] = (uint8_t)v;
        }
        for (long kk = k; kk < kp; kk++) q[kk] = (uint8_t)z;
        ascale[i] = range / 255.0f;
        azero[i] = z;
    }
}

/// The epilogue of one output, shared by the reference and every vector tail.
static inline float q8_out(int32_t acc, int32_t z, int32_t colsum, float sa, float sw, const float *bias, long j,
                           const float *cold, int accumulate) {
    float t = (float)(acc - z * colsum) * (sa * sw);
    if (bias) t = t + bias[j];
    if (accumulate) t = *cold + t;
    return t;
}

static void q8_reference(const int8_t *pw, const float *ws, const int32_t *wsum, long n, long kp,
                         const uint8_t *qa, const float *as, const int32_t *az, long m,
                         float *c, long ldc, const float *bias, int accumulate) {
    for (long i = 0; i < m; i++) {
        const uint8_t *q = qa + i * kp;
        for (long j = 0; j < n; j++) {
            int32_t acc = 0;
            for (long kk = 0; kk < kp; kk++) acc += (int32_t)q[kk] * (int32_t)pw[q8_index(j, kk, kp)];
            c[i * ldc + j] = q8_out(acc, az[i], wsum[j], as[i], ws[j], bias, j, c + i * ldc + j, accumulate);
        }
    }
}

#if defined(__x86_64__)

static inline int32_t load4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// MARK: AVX2 (vpmaddubsw + vpmaddwd; weights |q| ≤ 63 so the int16 pair sums never saturate)

#define AVX2_T __attribute__((target("avx2,fma")))

/// 8 outputs of row i at columns j…j+7 (fewer at the right edge).
static inline __attribute__((always_inline)) AVX2_T
void q8_store8(__m256i acc, int32_t z, float sa, const float *ws, const int32_t *wsum, long j, long n,
               const float *bias, float *crow, int accumulate) {
    if (j + 8 <= n) {
        __m256i corr = _mm256_sub_epi32(acc, _mm256_mullo_epi32(_mm256_set1_epi32(z), _mm256_loadu_si256((const __m256i *)(wsum + j))));
        __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(corr), _mm256_mul_ps(_mm256_set1_ps(sa), _mm256_loadu_ps(ws + j)));
        if (bias) t = _mm256_add_ps(t, _mm256_loadu_ps(bias + j));
        if (accumulate) t = _mm256_add_ps(_mm256_loadu_ps(crow + j), t);
        _mm256_storeu_ps(crow + j, t);
    } else if (j < n) {
        int32_t lanes[8];
        _mm256_storeu_si256((__m256i *)lanes, acc);
        for (long l = 0; j + l < n; l++) crow[j + l] = q8_out(lanes[l], z, wsum[j + l], sa, ws[j + l], bias, j + l, crow + j + l, accumulate);
    }
}

static inline __attribute__((always_inline)) AVX2_T
void q8_tile_avx2(const int MR, const int8_t *panel, long kp, const uint8_t *qa, long i, const float *as, const int32_t *az,
                  const float *ws, const int32_t *wsum, long j0, long n, float *c, long ldc, const float *bias, int accumulate) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc0[4], acc1[4];
    for (int r = 0; r < MR; r++) acc0[r] = acc1[r] = _mm256_setzero_si256();
    for (long g = 0; g < kp / 4; g++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(panel + g * 64));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(panel + g * 64 + 32));
        for (int r = 0; r < MR; r++) {
            __m256i a = _mm256_set1_epi32(load4(qa + (i + r) * kp + g * 4));
            acc0[r] = _mm256_add_epi32(acc0[r], _mm256_madd_epi16(_mm256_maddubs_epi16(a, w0), ones));
            acc1[r] = _mm256_add_epi32(acc1[r], _mm256_madd_epi16(_mm256_maddubs_epi16(a, w1), ones));
        }
    }
    for (int r = 0; r < MR; r++) {
        float *crow = c + (i + r) * ldc;
        q8_store8(acc0[r], az[i + r], as[i + r], ws, wsum, j0, n, bias, crow, accumulate);
        q8_store8(acc1[r], az[i + r], as[i + r], ws, wsum, j0 + 8, n, bias, crow, accumulate);
    }
}

AVX2_T
static void q8_avx2(const int8_t *pw, const float *ws, const int32_t *wsum, long n, long kp,
                    const uint8_t *qa, const float *as, const int32_t *az, long m,
                    float *c, long ldc, const float *bias, int accumulate) {
    for (long j0 = 0; j0 < n; j0 += 16) {
        const int8_t *panel = pw + j0 * kp;
        long i = 0;
        for (; i + 4 <= m; i += 4) q8_tile_avx2(4, panel, kp, qa, i, as, az, ws, wsum, j0, n, c, ldc, bias, accumulate);
        switch (m - i) {
        case 3: q8_tile_avx2(3, panel, kp, qa, i, as, az, ws, wsum, j0, n, c, ldc, bias, accumulate); break;
        case 2: q8_tile_avx2(2, panel, kp, qa, i, as, az, ws, wsum, j0, n, c, ldc, bias, accumulate); break;
        case 1: q8_tile_avx2(1, panel, kp, qa, i, as, az, ws, wsum, j0, n, c, ldc, bias, accumulate); break;
        default: break;
        }
    }
}

// MARK: AVX-VNNI (256-bit vpdpbusd: the AVX2 kernel with one instruction per 8×4 products)

#define AVXVNNI_T __attribute__((target("avx2,fma,avxvnni")))

static inline __attribute__((always_inline)) AVXVNNI_T
void q8_tile_avxvnni(const int MR, const int8_t *panel, long kp, const uint8_t *qa, long i, const float *as, const int32_t *az,
                     const float *ws, const int32_t *wsum, long j0, long n, float *c, long ldc, const float *bias, int accumulate) {
    __m256i acc0[6], acc1[6];
    for (int r = 0; r < MR; r++) acc0[r] = acc1[r] = _mm256_setzero_si256();
    for (long g = 0; g < kp / 4; g++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(panel + g * 64));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(panel + g * 64 + 32));
        for (int r = 0; r < MR; r++) {
            __m256i a = _mm256_set1_epi32(load4(qa + (i + r) * kp + g * 4));
            acc0[r] = _mm256_dpbusd_avx_epi32(acc0[r], a, w0);
            acc1[r] = _mm256_dpbusd_avx_epi32(acc1[r], a, w1);
        }
    }
    for (int r = 0; r < MR; r++) {
        float *crow = c + (i + r) * ldc;
        q8_store8(acc0[r], az[i + r], as[i + r], ws, wsum, j0, n, bias, crow, accumulate);
        q8_store8(acc1[r], az[i + r], as[i + r], ws, wsum, j0 + 8, n, bias, crow, accumulate);
    }
}

AVXVNNI_T
static void q8_avxvnni(const int8_t *pw, const float *ws, const int32_t *wsum, long n, long kp,
                       const uint8_t *qa, const float *as, const int32_t *az, long m,
                       float *c, long ldc, const float *bias, int accumulate) {
    for (long j0 = 0; j0 < n; j0 += 16) {
        const int8_t *panel = pw + j0 * kp;
        long i = 0;
        for (; i + 6 <= m; i += 6) q8_tile_avxvnni(6, panel, kp, qa, i, as, az, ws, wsum, j0, n, c, ldc, bias, accumulate);
        for (; i < m; i++) q8_tile_avxvnni(1, panel, kp, qa, i, as, az, ws, wsum, j0, n, c, ldc, bias, accumulate);
    }
}

// MARK: AVX512-VNNI (512-bit vpdpbusd: 16 columns × 4 k per instruction)

#define AVX512VNNI_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

static inline __attribute__((always_inline)) AVX512VNNI_T
void q8_tile_avx512(const int MR, const int8_t *panel, long kp, const uint8_t *qa, long i, const float *as, const int32_t *az,
                    const float *ws, const int32_t *wsum, long j0, long n, float *c, long ldc, const float *bias, int accumulate) {
    __m512i acc[8];
    for (int r = 0; r < MR; r++) acc[r] = _mm512_setzero_si512();
    for (long g = 0; g < kp / 4; g++) {
        __m512i w = _mm512_loadu_si512((const void *)(panel + g * 64));
        for (int r = 0; r < MR; r++) acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(load4(qa + (i + r) * kp + g * 4)), w);
    }
    __mmask16 mask = n - j0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j0)) - 1);
    __m512 sw = _mm512_loadu_ps(ws + j0);
    __m512i cs = _mm512_loadu_si512((const void *)(wsum + j0));
    __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + j0) : _mm512_setzero_ps();
    for (int r = 0; r < MR; r++) {
        float *crow = c + (i + r) * ldc + j0;
        __m512i corr = _mm512_sub_epi32(acc[r], _mm512_mullo_epi32(_mm512_set1_epi32(az[i + r]), cs));
        __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(corr), _mm512_mul_ps(_mm512_set1_ps(as[i + r]), sw));
        if (bias) t = _mm512_add_ps(t, b);
        if (accumulate) t = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, crow), t);
        _mm512_mask_storeu_ps(crow, mask, t);
    }
}

AVX512VNNI_T
static void q8_avx512vnni(const int8_t *pw, const float *ws, const int32_t *wsum, long n, long kp,
                          const uint8_t *qa, const float *as, const int32_t *az, long m,
                          float *c, long ldc, const float *bias, int accumulate) {
    for (long j0 = 0; j0 < n; j0 += 16) {
        const int8_t *panel = pw + j0 * kp;
        long i = 0;
        for (; i + 8 <= m; i += 8) q8_tile_avx512(8, panel, kp, qa, i, as, az, ws, wsum, j0, n, c, ldc, bias, accumulate);
        for (; i < m; i++) q8_tile_avx512(1, panel, kp, qa, i, as, az, ws, wsum, j0, n, c, ldc, bias, accumulate);
    }
}

#endif  // __x86_64__

void kvv_q8_gemm(int isa, const int8_t *packed, const float *scales, const int32_t *colsums, long n, long k,
                 const float *a, long lda, long m, uint8_t *qa, float *ascale, int32_t *azero,
                 float *c, long ldc, const float *bias, int accumulate) {
    if (m <= 0 || n <= 0) return;
    q8_quantize_rows(a, lda, m, k, kvv_q8_kpad(k), qa, ascale, azero);
    kvv_q8_gemm_u8(isa, packed, scales, colsums, n, k, qa, ascale, azero, m, c, ldc, bias, accumulate);
}

void kvv_q8_gemm_u8(int isa, const int8_t *packed, const float *scales, const int32_t *colsums, long n, long k,
                    const uint8_t *qa, const float *ascale, const int32_t *azero, long m,
                    float *c, long ldc, const float *bias, int accumulate) {
    if (m <= 0 || n <= 0) return;
    long kp = kvv_q8_kpad(k);
    switch (isa) {
#if defined(__x86_64__)
    case KVV_ISA_AVX2: q8_avx2(packed, scales, colsums, n, kp, qa, ascale, azero, m, c, ldc, bias, accumulate); return;
    case KVV_ISA_AVXVNNI: q8_avxvnni(packed, scales, colsums, n, kp, qa, ascale, azero, m, c, ldc, bias, accumulate); return;
    case KVV_ISA_AVX512VNNI: q8_avx512vnni(packed, scales, colsums, n, kp, qa, ascale, azero, m, c, ldc, bias, accumulate); return;
#endif
    default: q8_reference(packed, scales, colsums, n, kp, qa, ascale, azero, m, c, ldc, bias, accumulate); return;
    }
}

// MARK: - int8 convolution (per-tensor activations, unfolded in blocks of rows)

KVV_CLONES
void kvv_q8_image_params(const float *x, long count, float *scale, int32_t *zero) {
    float lo[8] = {0}, hi[8] = {0};  // eight lanes, so the loop vectorises
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        for (int l = 0; l < 8; l++) {
            lo[l] = x[i + l] < lo[l] ? x[i + l] : lo[l];
            hi[l] = x[i + l] > hi[l] ? x[i + l] : hi[l];
        }
    }
    for (; i < count; i++) {
        lo[0] = x[i] < lo[0] ? x[i] : lo[0];
        hi[0] = x[i] > hi[0] ? x[i] : hi[0];
    }
    float a = 0, b = 0;
    for (int l = 0; l < 8; l++) {
        a = lo[l] < a ? lo[l] : a;
        b = hi[l] > b ? hi[l] : b;
    }
    float range = b - a;
    if (!(range > 0) || !isfinite(range)) {
        *scale = 0;
        *zero = 0;
        return;
    }
    float zr = rintf(-a * (255.0f / range));
    *zero = zr < 0 ? 0 : (zr > 255 ? 255 : (int)zr);
    *scale = range / 255.0f;
}

KVV_CLONES
void kvv_q8_quantize_image_rows(const float *x, long c, long h, long w, long pad, long y0, long y1,
                                float scale, int32_t zero, uint8_t *qx) {
    long wp = w + 2 * pad;
    float inv = scale > 0 ? 1.0f / scale : 0, zf = (float)zero;
    // Border rows above (first chunk) and below (last chunk), and this chunk's side columns.
    if (y0 == 0) memset(qx, zero, (size_t)(pad * wp * c));
    if (y1 == h) memset(qx + (h + pad) * wp * c, zero, (size_t)(pad * wp * c));
    uint8_t line[256];
    for (long y = y0; y < y1; y++) {
        uint8_t *row = qx + (y + pad) * wp * c;
        memset(row, zero, (size_t)(pad * c));
        memset(row + (pad + w) * c, zero, (size_t)(pad * c));
        for (long ch = 0; ch < c; ch++) {
            const float *src = x + (ch * h + y) * w;
            uint8_t *dst = row + pad * c + ch;
            for (long x0 = 0; x0 < w; x0 += 256) {
                long n = w - x0 < 256 ? w - x0 : 256;
                for (long k = 0; k < n; k++) {
                    float v = rintf(src[x0 + k] * inv) + zf;
                    v = !(v >= 0) ? 0 : (v > 255 ? 255 : v);  // NaN → 0 (a NaN cast to uint8_t is undefined)
                    line[k] = (uint8_t)v;
                }
                for (long k = 0; k < n; k++) dst[(x0 + k) * c] = line[k];
            }
        }
    }
}

void kvv_q8_conv_rows(int isa, const int8_t *packed, const float *scales, const int32_t *colsums, long n,
                      const uint8_t *qx, long c, long wp, long kh, long kw, long stride, long wo,
                      float ascale, int32_t azero, long r0, long r1, uint8_t *block,
                      float *tmp, float *out, long positions, const float *bias, int relu) {
    long k = c * kh * kw, kp = kvv_q8_kpad(k);
    float bscale[KVV_Q8_CONV_BLOCK];  // every row shares the image's scale and zero point
    int32_t bzero[KVV_Q8_CONV_BLOCK];
    for (long i = 0; i < KVV_Q8_CONV_BLOCK; i++) {
        bscale[i] = ascale;
        bzero[i] = azero;
    }
    for (long b0 = r0; b0 < r1; b0 += KVV_Q8_CONV_BLOCK) {
        long b1 = b0 + KVV_Q8_CONV_BLOCK < r1 ? b0 + KVV_Q8_CONV_BLOCK : r1, m = b1 - b0;
        for (long r = b0; r < b1; r++) {
            long oy = r / wo, ox = r % wo;
            uint8_t *row = block + (r - b0) * kp;
            for (long ky = 0; ky < kh; ky++) {
                const uint8_t *src = qx + ((oy * stride + ky) * wp + ox * stride) * c;
                for (long kx = 0; kx < kw; kx++) memcpy(row + (ky * kw + kx) * c, src + kx * c, (size_t)c);
            }
            if (kp > k) memset(row + k, azero, (size_t)(kp - k));
        }
        kvv_q8_gemm_u8(isa, packed, scales, colsums, n, k, block, bscale, bzero, m, tmp, n, bias, 0);
        // [m, n] → out[j, b0 + i] (NCHW), with the ReLU (NaN kept).
        for (long j = 0; j < n; j++) {
            float *dst = out + j * positions + b0;
            for (long i = 0; i < m; i++) {
                float v = tmp[i * n + j];
                dst[i] = relu && v <= 0 ? 0 : v;
            }
        }
    }
}

// MARK: - bf16

/// f32 → bf16, round to nearest even (NaN stays NaN).
static inline uint16_t to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static inline long bf16_index(long j, long kk, long kp) {
    return (j >> 4) * (kp << 4) + (kk >> 1) * 32 + (j & 15) * 2 + (kk & 1);
}

void kvv_bf16_pack(const float *w, long sn, long sk, long n, long k, uint16_t *packed) {
    long kp = kvv_bf16_kpad(k), np = kvv_gemm_npad(n);
    memset(packed, 0, (size_t)(np * kp) * sizeof(uint16_t));
    for (long j = 0; j < n; j++)
        for (long kk = 0; kk < k; kk++) packed[bf16_index(j, kk, kp)] = to_bf16(w[j * sn + kk * sk]);
}

KVV_CLONES
static void bf16_round_rows(const float *a, long lda, long m, long k, long kp, uint16_t *qa) {
    for (long i = 0; i < m; i++) {
        for (long kk = 0; kk < k; kk++) qa[i * kp + kk] = to_bf16(a[i * lda + kk]);
        for (long kk = k; kk < kp; kk++) qa[i * kp + kk] = 0;
    }
}

static inline float bf16_out(float acc, const float *bias, long j, const float *cold, int accumulate) {
    if (bias) acc = acc + bias[j];
    if (accumulate) acc = *cold + acc;
    return acc;
}

/// Per row and 16-column block: 16 f32 accumulators, k in pairs (vectorised by the compiler).
KVV_CLONES
static void bf16_reference(const uint16_t *pw, long n, long kp, const uint16_t *qa, long m,
                           float *c, long ldc, const float *bias, int accumulate) {
    for (long i = 0; i < m; i++) {
        const uint16_t *q = qa + i * kp;
        for (long j0 = 0; j0 < n; j0 += 16) {
            const uint16_t *panel = pw + j0 * kp;
            float acc[16] = {0};
            for (long g = 0; g < kp / 2; g++) {
                float a0 = from_bf16(q[2 * g]), a1 = from_bf16(q[2 * g + 1]);
                for (int l = 0; l < 16; l++) {
                    acc[l] = acc[l] + a0 * from_bf16(panel[g * 32 + 2 * l]);
                    acc[l] = acc[l] + a1 * from_bf16(panel[g * 32 + 2 * l + 1]);
                }
            }
            for (long l = 0; l < 16 && j0 + l < n; l++)
                c[i * ldc + j0 + l] = bf16_out(acc[l], bias, j0 + l, c + i * ldc + j0 + l, accumulate);
        }
    }
}

#if defined(__x86_64__)

#define AVX512BF16_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

static inline __attribute__((always_inline)) AVX512BF16_T
void bf16_tile_avx512(const int MR, const uint16_t *panel, long kp, const uint16_t *qa, long i,
                      long j0, long n, float *c, long ldc, const float *bias, int accumulate) {
    __m512 acc[8];
    for (int r = 0; r < MR; r++) acc[r] = _mm512_setzero_ps();
    for (long g = 0; g < kp / 2; g++) {
        __m512i w = _mm512_loadu_si512((const void *)(panel + g * 32));
        for (int r = 0; r < MR; r++) {
            int32_t pair;
            memcpy(&pair, qa + (i + r) * kp + 2 * g, 4);
            acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_set1_epi32(pair), (__m512bh)w);
        }
    }
    __mmask16 mask = n - j0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j0)) - 1);
    __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + j0) : _mm512_setzero_ps();
    for (int r = 0; r < MR; r++) {
        float *crow = c + (i + r) * ldc + j0;
        __m512 t = acc[r];
        if (bias) t = _mm512_add_ps(t, b);
        if (accumulate) t = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, crow), t);
        _mm512_mask_storeu_ps(crow, mask, t);
    }
}

AVX512BF16_T
static void bf16_avx512(const uint16_t *pw, long n, long kp, const uint16_t *qa, long m,
                        float *c, long ldc, const float *bias, int accumulate) {
    for (long j0 = 0; j0 < n; j0 += 16) {
        const uint16_t *panel = pw + j0 * kp;
        long i = 0;
        for (; i + 8 <= m; i += 8) bf16_tile_avx512(8, panel, kp, qa, i, j0, n, c, ldc, bias, accumulate);
        for (; i < m; i++) bf16_tile_avx512(1, panel, kp, qa, i, j0, n, c, ldc, bias, accumulate);
    }
}

#endif

void kvv_bf16_gemm(int isa, const uint16_t *packed, long n, long k, const float *a, long lda, long m,
                   uint16_t *qa, float *c, long ldc, const float *bias, int accumulate) {
    if (m <= 0 || n <= 0) return;
    long kp = kvv_bf16_kpad(k);
    bf16_round_rows(a, lda, m, k, kp, qa);
#if defined(__x86_64__)
    if (isa == KVV_ISA_AVX512BF16) {
        bf16_avx512(packed, n, kp, qa, m, c, ldc, bias, accumulate);
        return;
    }
#endif
    bf16_reference(packed, n, kp, qa, m, c, ldc, bias, accumulate);
}
