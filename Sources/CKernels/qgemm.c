// int8 and bf16 GEMM kernels (see include/qgemm.h for the numerics and the packed layout).
// One portable reference, then one kernel per instruction set, each compiled with a per-function
// target attribute so the file builds for baseline x86-64 and the caller picks what the CPU runs.
#include "qgemm.h"
#include "lanes.h"
#include "q8byte.h"
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
        // The row's [min(x, 0), max(x, 0)] over 32 lanes (independent chains that vectorise; one
        // running min and max was a serial chain of scalar compares, 12 % of an int8 encoder's
        // time), folded as every range: the same two floats whatever the order.
        float lo32[32] = {0}, hi32[32] = {0};
        long kk = 0;
        for (; kk + 32 <= k; kk += 32) {
            for (int l = 0; l < 32; l++) {
                lo32[l] = x[kk + l] < lo32[l] ? x[kk + l] : lo32[l];
                hi32[l] = x[kk + l] > hi32[l] ? x[kk + l] : hi32[l];
            }
        }
        for (; kk < k; kk++) {
            lo32[0] = x[kk] < lo32[0] ? x[kk] : lo32[0];
            hi32[0] = x[kk] > hi32[0] ? x[kk] : hi32[0];
        }
        float lo, hi;
        kvv_fold_range(lo32, hi32, 32, &lo, &hi);
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
            q[kk] = q8_byte(x[kk], inv, zf);
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

// MARK: - int8 convolution (per-tensor activations; rows read in place or unfolded in blocks)

KVV_CLONES
void kvv_value_range(const float *x, long count, float *lower, float *upper) {
    float lo[8] = {0}, hi[8] = {0};  // eight lanes, so the loop vectorises
    long i = 0;
    for (; x && i + 8 <= count; i += 8) {
        for (int l = 0; l < 8; l++) {
            lo[l] = x[i + l] < lo[l] ? x[i + l] : lo[l];
            hi[l] = x[i + l] > hi[l] ? x[i + l] : hi[l];
        }
    }
    for (; x && i < count; i++) {
        lo[0] = x[i] < lo[0] ? x[i] : lo[0];
        hi[0] = x[i] > hi[0] ? x[i] : hi[0];
    }
    kvv_fold_range(lo, hi, 8, lower, upper);
}

void kvv_q8_range_params(float a, float b, float *scale, int32_t *zero) {
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

#if defined(__x86_64__)
/// 16 floats → 16 u8: rint(x·inv) + z clamped to 0…255, NaN → 0 (the scalar loop's arithmetic:
/// the sum and both clamps in float, so huge values saturate as there).
static inline __attribute__((always_inline, target("avx2")))
__m128i quantize16(const float *x, __m128 inv, __m128 zf) {
    const __m128 lo = _mm_setzero_ps(), hi = _mm_set1_ps(255.0f);
    __m128i q[4];
    for (int k = 0; k < 4; k++) {
        __m128 v = _mm_add_ps(_mm_round_ps(_mm_mul_ps(_mm_loadu_ps(x + 4 * k), inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zf);
        v = _mm_min_ps(_mm_max_ps(v, lo), hi);  // max(NaN, 0) is 0
        q[k] = _mm_cvtps_epi32(v);
    }
    return _mm_packus_epi16(_mm_packus_epi32(q[0], q[1]), _mm_packus_epi32(q[2], q[3]));
}

/// Rows y0..<y1 for c a multiple of 16: sixteen channels × 16 pixels quantised at a time (one
/// 512-bit vector each) and transposed in registers, so each pixel gets one 16-byte store per
/// 16 channels (the c4 path: four 4-byte stores).
/// `x`'s c channels go to channels at..at + c of an image of `stride` channels (the whole image:
/// at 0, stride c; the joined map's stem part: after the token part).
__attribute__((target("avx512f")))
static void quantize_rows_c16(const float *x, long c, long h, long w, long pad, long y0, long y1,
                              float inv, float zf, uint8_t *qx, long stride, long at) {
    long wp = w + 2 * pad;
    const __m512 vinv = _mm512_set1_ps(inv), vzf = _mm512_set1_ps(zf);
    for (long y = y0; y < y1; y++) {
        uint8_t *row = qx + (y + pad) * wp * stride + pad * stride + at;
        for (long ch = 0; ch < c; ch += 16) {
            const float *s = x + (ch * h + y) * w;
            long x0 = 0;
            for (; x0 + 16 <= w; x0 += 16) {
                __m128i q[16];
                for (int k = 0; k < 16; k++) q[k] = q8_quantize16_v(_mm512_loadu_ps(s + k * h * w + x0), vinv, vzf);
                q8_store_pixel_major16(q, row + x0 * stride + ch, stride, 16);
            }
            for (; x0 < w; x0++) {
                for (int k = 0; k < 16; k++) {
                    row[x0 * stride + ch + k] = q8_byte(s[k * h * w + x0], inv, zf);
                }
            }
        }
    }
}

/// Rows y0..<y1 for c a multiple of 4: four channels × 16 pixels quantised at a time and
/// interleaved in registers, so each pixel gets one 4-byte store instead of four byte stores.
__attribute__((target("avx2")))
static void quantize_rows_c4(const float *x, long c, long h, long w, long pad, long y0, long y1,
                             float inv, float zf, uint8_t *qx) {
    long wp = w + 2 * pad;
    const __m128 vinv = _mm_set1_ps(inv), vzf = _mm_set1_ps(zf);
    for (long y = y0; y < y1; y++) {
        uint8_t *row = qx + (y + pad) * wp * c + pad * c;
        for (long ch = 0; ch < c; ch += 4) {
            const float *s0 = x + (ch * h + y) * w, *s1 = s0 + h * w, *s2 = s1 + h * w, *s3 = s2 + h * w;
            long x0 = 0;
            for (; x0 + 16 <= w; x0 += 16) {
                __m128i q0 = quantize16(s0 + x0, vinv, vzf), q1 = quantize16(s1 + x0, vinv, vzf);
                __m128i q2 = quantize16(s2 + x0, vinv, vzf), q3 = quantize16(s3 + x0, vinv, vzf);
                __m128i a = _mm_unpacklo_epi8(q0, q1), b = _mm_unpackhi_epi8(q0, q1);
                __m128i e = _mm_unpacklo_epi8(q2, q3), f = _mm_unpackhi_epi8(q2, q3);
                __m128i p[4] = {_mm_unpacklo_epi16(a, e), _mm_unpackhi_epi16(a, e), _mm_unpacklo_epi16(b, f), _mm_unpackhi_epi16(b, f)};
                uint8_t *dst = row + x0 * c + ch;
                for (int g = 0; g < 4; g++) {
                    int32_t lanes[4];
                    _mm_storeu_si128((__m128i *)lanes, p[g]);
                    for (int l = 0; l < 4; l++) memcpy(dst + (4 * g + l) * c, &lanes[l], 4);
                }
            }
            for (; x0 < w; x0++) {
                const float *src[4] = {s0, s1, s2, s3};
                for (int k = 0; k < 4; k++) {
                    row[x0 * c + ch + k] = q8_byte(src[k][x0], inv, zf);
                }
            }
        }
    }
}
#endif

KVV_CLONES
/// Any c; `x`'s channels go to channels at..at + c of an image of `stride` channels (as quantize_rows_c16).
static void quantize_rows_any(const float *x, long c, long h, long w, long pad, long y0, long y1,
                              float inv, float zf, uint8_t *qx, long stride, long at) {
    long wp = w + 2 * pad;
    uint8_t line[256];
    for (long y = y0; y < y1; y++) {
        uint8_t *row = qx + (y + pad) * wp * stride + at;
        for (long ch = 0; ch < c; ch++) {
            const float *src = x + (ch * h + y) * w;
            uint8_t *dst = row + pad * stride + ch;
            for (long x0 = 0; x0 < w; x0 += 256) {
                long n = w - x0 < 256 ? w - x0 : 256;
                for (long k = 0; k < n; k++) {
                    line[k] = q8_byte(src[x0 + k], inv, zf);
                }
                for (long k = 0; k < n; k++) dst[(x0 + k) * stride] = line[k];
            }
        }
    }
}

/// Border rows above (first chunk) and below (last chunk) of a padded NHWC image, and the side
/// columns of rows y0..<y1: the zero point.
static void q8_image_borders(long c, long h, long w, long pad, long y0, long y1, int32_t zero, uint8_t *qx) {
    long wp = w + 2 * pad;
    if (y0 == 0) memset(qx, zero, (size_t)(pad * wp * c));
    if (y1 == h) memset(qx + (h + pad) * wp * c, zero, (size_t)(pad * wp * c));
    for (long y = y0; y < y1; y++) {
        uint8_t *row = qx + (y + pad) * wp * c;
        memset(row, zero, (size_t)(pad * c));
        memset(row + (pad + w) * c, zero, (size_t)(pad * c));
    }
}

void kvv_q8_quantize_image_rows(const float *x, long c, long h, long w, long pad, long y0, long y1,
                                float scale, int32_t zero, uint8_t *qx) {
    float inv = scale > 0 ? 1.0f / scale : 0, zf = (float)zero;
    q8_image_borders(c, h, w, pad, y0, y1, zero, qx);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (c % 16 == 0 && __builtin_cpu_supports("avx512f")) {
        quantize_rows_c16(x, c, h, w, pad, y0, y1, inv, zf, qx, c, 0);
        return;
    }
    if (c % 4 == 0 && __builtin_cpu_supports("avx2")) {
        quantize_rows_c4(x, c, h, w, pad, y0, y1, inv, zf, qx);
        return;
    }
#endif
    quantize_rows_any(x, c, h, w, pad, y0, y1, inv, zf, qx, c, 0);
}

#if defined(__x86_64__)
/// The token part of joined rows y0..<y1 (r = 2, cu a multiple of 16). A token's row holds channel
/// c's 2×2 sub-pixels at 4·c + 2·i + j; sixteen channels of one sub-pixel come from the four
/// vectors a0..a3 (channels ch..ch+15) by two two-register permutes and a blend, and are stored,
/// quantised, as that pixel's 16 bytes.
__attribute__((target("avx512f")))
static void quantize_tokens_r2(const float *tokens, long gw, long cu, long w, long pad, long y0, long y1,
                               float inv, float zf, uint8_t *qx, long stride) {
    const long wp = w + 2 * pad, k = 4 * cu;
    const __m512 vinv = _mm512_set1_ps(inv), vzf = _mm512_set1_ps(zf);
    __m512i idx[4];  // sub-pixel s: lane l reads element (4·l + s) mod 32 of its register pair
    for (int sp = 0; sp < 4; sp++) {
        int32_t t[16];
        for (int l = 0; l < 16; l++) t[l] = (4 * l + sp) & 31;
        idx[sp] = _mm512_loadu_si512(t);
    }
    for (long y = y0; y < y1; y++) {
        const long gy = y / 2, i = y % 2;
        uint8_t *row = qx + (y + pad) * wp * stride + pad * stride;
        for (long gx = 0; gx < gw; gx++) {
            const float *t = tokens + (gy * gw + gx) * k;
            for (long ch = 0; ch < cu; ch += 16) {
                const __m512 a0 = _mm512_loadu_ps(t + 4 * ch), a1 = _mm512_loadu_ps(t + 4 * ch + 16);
                const __m512 a2 = _mm512_loadu_ps(t + 4 * ch + 32), a3 = _mm512_loadu_ps(t + 4 * ch + 48);
                for (long j = 0; j < 2; j++) {
                    const __m512i ix = idx[2 * i + j];
                    const __m512 v = _mm512_mask_blend_ps(0xFF00, _mm512_permutex2var_ps(a0, ix, a1), _mm512_permutex2var_ps(a2, ix, a3));
                    _mm_storeu_si128((__m128i *)(row + (2 * gx + j) * stride + ch), q8_quantize16_v(v, vinv, vzf));
                }
            }
        }
    }
}
#endif

void kvv_q8_quantize_joined_rows(const float *tokens, long gw, long r, long cu, const float *x, long cs,
                                 long h, long w, long pad, long y0, long y1, float scale, int32_t zero, uint8_t *qx) {
    const long c = cu + cs, k = cu * r * r;
    const float inv = scale > 0 ? 1.0f / scale : 0, zf = (float)zero;
    q8_image_borders(c, h, w, pad, y0, y1, zero, qx);
#if defined(__x86_64__)
    __builtin_cpu_init();
    const int fast = __builtin_cpu_supports("avx512f");
#else
    const int fast = 0;
#endif
    const long wp = w + 2 * pad;
#if defined(__x86_64__)
    if (fast && r == 2 && cu % 16 == 0) {
        quantize_tokens_r2(tokens, gw, cu, w, pad, y0, y1, inv, zf, qx, c);
    } else
#endif
    {
        for (long y = y0; y < y1; y++) {
            const long gy = y / r, i = y % r;
            uint8_t *row = qx + (y + pad) * wp * c + pad * c;
            for (long xx = 0; xx < w; xx++) {
                const float *t = tokens + (gy * gw + xx / r) * k + i * r + xx % r;
                for (long ch = 0; ch < cu; ch++) row[xx * c + ch] = q8_byte(t[ch * r * r], inv, zf);
            }
        }
    }
#if defined(__x86_64__)
    if (fast && cs % 16 == 0) {
        quantize_rows_c16(x, cs, h, w, pad, y0, y1, inv, zf, qx, c, cu);
        return;
    }
#endif
    quantize_rows_any(x, cs, h, w, pad, y0, y1, inv, zf, qx, c, cu);
}

#if defined(__x86_64__)
/// In place: the 8×8 transpose of r[0..7] (r[i][j] ↔ r[j][i]).
static inline __attribute__((always_inline)) AVX512VNNI_T
void transpose8x8_ps(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20); r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20); r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31); r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31); r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/// The epilogue of one implicit-convolution tile for the 16 output channels from j0: q8_tile_avx512's
/// with one scale and zero point, then the ReLU (v ≤ 0 → +0, NaN kept, as the unfolded path's
/// write-back), the range (NaN ignored) and the store straight into NCHW out[j·positions + pos + r],
/// transposed in registers when MR = 8.
static inline __attribute__((always_inline)) AVX512VNNI_T
void q8_conv_store_avx512(const int MR, const __m512i *acc, float sa, int32_t z, const float *ws, const int32_t *wsum,
                          long j0, long n, const float *bias, int relu, float *out, long positions, long pos,
                          __m512 *vlo, __m512 *vhi) {
    const long nj = n - j0 >= 16 ? 16 : n - j0;
    __mmask16 mask = nj == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nj) - 1);
    __m512 sw = _mm512_mul_ps(_mm512_set1_ps(sa), _mm512_loadu_ps(ws + j0));
    __m512i zc = _mm512_mullo_epi32(_mm512_set1_epi32(z), _mm512_loadu_si512((const void *)(wsum + j0)));
    __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + j0) : _mm512_setzero_ps();
    const __m512 zero = _mm512_setzero_ps();
    float *dst = out + j0 * positions + pos;
    if (MR == 8) {
        __m256 lo[8], hi[8];
        for (int r = 0; r < 8; r++) {
            __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r], zc)), sw);
            if (bias) t = _mm512_add_ps(t, b);
            if (relu) t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, zero, _CMP_LE_OQ), t, zero);
            t = _mm512_maskz_mov_ps(mask, t);  // channels past n count as 0 in the range
            *vlo = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, *vlo, _CMP_LT_OQ), *vlo, t);
            *vhi = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, *vhi, _CMP_GT_OQ), *vhi, t);
            lo[r] = _mm512_castps512_ps256(t);
            hi[r] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1));
        }
        transpose8x8_ps(lo);  // lo[j] = channel j0 + j at the 8 positions
        transpose8x8_ps(hi);  // hi[j] = channel j0 + 8 + j
        for (long j = 0; j < nj && j < 8; j++) _mm256_storeu_ps(dst + j * positions, lo[j]);
        for (long j = 8; j < nj; j++) _mm256_storeu_ps(dst + j * positions, hi[j - 8]);
    } else {
        for (int r = 0; r < MR; r++) {
            __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r], zc)), sw);
            if (bias) t = _mm512_add_ps(t, b);
            if (relu) t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, zero, _CMP_LE_OQ), t, zero);
            t = _mm512_maskz_mov_ps(mask, t);
            *vlo = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, *vlo, _CMP_LT_OQ), *vlo, t);
            *vhi = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, *vhi, _CMP_GT_OQ), *vhi, t);
            float lanes[16];
            _mm512_storeu_ps(lanes, t);
            for (long j = 0; j < nj; j++) dst[j * positions + r] = lanes[j];
        }
    }
}

/// One tile of the implicit convolution: MR output positions (consecutive from `pos`, one
/// pointer each in rowp) × NP panels of 16 output channels from j0 (panel p at panel + p·16·kp).
/// Row r reads `nseg` segments of `seglen` bytes at rowp[r] + s·segstride (the kh window rows,
/// each kw·c contiguous NHWC bytes), in the packed weight's K order; each broadcast of four input
/// bytes feeds every panel (two panels: half the broadcasts per dot product). Integer sums: the
/// same bits for any NP.
static inline __attribute__((always_inline)) AVX512VNNI_T
void q8_conv_tile_avx512(const int MR, const int NP, const int8_t *panel, long kp, const uint8_t *const *rowp,
                         long nseg, long seglen, long segstride, float sa, int32_t z, const float *ws,
                         const int32_t *wsum, long j0, long n, const float *bias, int relu, float *out,
                         long positions, long pos, __m512 *vlo, __m512 *vhi) {
    __m512i acc0[8], acc1[8];  // two named arrays, not acc[NP][8]: clang then keeps them in registers
    for (int r = 0; r < MR; r++) acc0[r] = acc1[r] = _mm512_setzero_si512();
    const int8_t *wp = panel;
    const long panelStride = 16 * kp;
    for (long sg = 0; sg < nseg; sg++) {
        const long off = sg * segstride;
        for (long t = 0; t < seglen; t += 4, wp += 64) {
            __m512i w0 = _mm512_loadu_si512((const void *)wp), w1 = w0;
            if (NP == 2) w1 = _mm512_loadu_si512((const void *)(wp + panelStride));
            for (int r = 0; r < MR; r++) {
                const __m512i x = _mm512_set1_epi32(load4(rowp[r] + off + t));
                acc0[r] = _mm512_dpbusd_epi32(acc0[r], x, w0);
                if (NP == 2) acc1[r] = _mm512_dpbusd_epi32(acc1[r], x, w1);
            }
        }
    }
    q8_conv_store_avx512(MR, acc0, sa, z, ws, wsum, j0, n, bias, relu, out, positions, pos, vlo, vhi);
    if (NP == 2) q8_conv_store_avx512(MR, acc1, sa, z, ws, wsum, j0 + 16, n, bias, relu, out, positions, pos, vlo, vhi);
}

/// Output positions r0..<r1 of the implicit convolution straight into NCHW out (see the tile),
/// with the range written into range[0..1].
AVX512VNNI_T
static void q8_conv_avx512vnni(const int8_t *pw, const float *ws, const int32_t *wsum, long n, long kp,
                               const uint8_t *qx, long c, long wp, long kh, long kw, long stride, long wo,
                               float sa, int32_t z, long r0, long r1, float *out, long positions,
                               const float *bias, int relu, float *range) {
    const uint8_t *rowp[KVV_Q8_CONV_BLOCK];
    __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
    const long nseg = kh, seglen = kw * c, segstride = wp * c;
    for (long b0 = r0; b0 < r1; b0 += KVV_Q8_CONV_BLOCK) {
        long b1 = b0 + KVV_Q8_CONV_BLOCK < r1 ? b0 + KVV_Q8_CONV_BLOCK : r1, m = b1 - b0;
        for (long r = b0; r < b1; r++) rowp[r - b0] = qx + ((r / wo) * stride * wp + (r % wo) * stride) * c;
        for (long j0 = 0; j0 < n; ) {
            const int np = n - j0 > 16 ? 2 : 1;  // two panels of 16 channels a pass while more than 16 remain
            // Tiles of 8 positions, then one by one; NP a constant in each call, so each inlines on its own.
#define Q8_CONV_TILE(MR, NP, i) q8_conv_tile_avx512(MR, NP, pw + j0 * kp, kp, rowp + (i), nseg, seglen, segstride, sa, z, \
                                                    ws, wsum, j0, n, bias, relu, out, positions, b0 + (i), &vlo, &vhi)
            long i = 0;
            for (; i + 8 <= m; i += 8) { if (np == 2) Q8_CONV_TILE(8, 2, i); else Q8_CONV_TILE(8, 1, i); }
            for (; i < m; i++) { if (np == 2) Q8_CONV_TILE(1, 2, i); else Q8_CONV_TILE(1, 1, i); }
#undef Q8_CONV_TILE
            j0 += 16 * np;
        }
    }
    if (range) {
        range[0] = _mm512_reduce_min_ps(vlo);  // no NaN: the blends above never take one
        range[1] = _mm512_reduce_max_ps(vhi);
    }
}
#endif

int kvv_q8_conv_is_implicit(int isa, long c, long kw) {
#if defined(__x86_64__)
    return isa == KVV_ISA_AVX512VNNI && (kw * c) % 4 == 0;
#else
    (void)isa; (void)c; (void)kw;
    return 0;
#endif
}

void kvv_q8_conv_rows(int isa, const int8_t *packed, const float *scales, const int32_t *colsums, long n,
                      const uint8_t *qx, long c, long wp, long kh, long kw, long stride, long wo,
                      float ascale, int32_t azero, long r0, long r1, uint8_t *block,
                      float *tmp, float *out, long positions, const float *bias, int relu, float *range) {
    long k = c * kh * kw, kp = kvv_q8_kpad(k);
    const int implicit = kvv_q8_conv_is_implicit(isa, c, kw);
    float bscale[KVV_Q8_CONV_BLOCK];  // every row shares the image's scale and zero point
    int32_t bzero[KVV_Q8_CONV_BLOCK];
    for (long i = 0; i < KVV_Q8_CONV_BLOCK; i++) {
        bscale[i] = ascale;
        bzero[i] = azero;
    }
    if (implicit) {
#if defined(__x86_64__)
        q8_conv_avx512vnni(packed, scales, colsums, n, kp, qx, c, wp, kh, kw, stride, wo, ascale, azero, r0, r1,
                           out, positions, bias, relu, range);
#endif
        return;
    }
    float lo[8] = {0}, hi[8] = {0};  // the range written, eight lanes so the loop vectorises
    for (long b0 = r0; b0 < r1; b0 += KVV_Q8_CONV_BLOCK) {
        long b1 = b0 + KVV_Q8_CONV_BLOCK < r1 ? b0 + KVV_Q8_CONV_BLOCK : r1, m = b1 - b0;
        for (long r = b0; r < b1; r++) {
            long oy = r / wo, ox = r % wo;
            uint8_t *row = block + (r - b0) * kp;
            for (long ky = 0; ky < kh; ky++) {
                const uint8_t *src = qx + ((oy * stride + ky) * wp + ox * stride) * c;
                memcpy(row + ky * kw * c, src, (size_t)(kw * c));  // the kw taps are adjacent pixels
            }
            if (kp > k) memset(row + k, azero, (size_t)(kp - k));
        }
        kvv_q8_gemm_u8(isa, packed, scales, colsums, n, k, block, bscale, bzero, m, tmp, n, bias, 0);
        // [m, n] → out[j, b0 + i] (NCHW), with the ReLU (NaN kept), and the range written.
        for (long j = 0; j < n; j++) {
            float *dst = out + j * positions + b0;
            long i = 0;
            for (; i + 8 <= m; i += 8) {
                for (int l = 0; l < 8; l++) {
                    float v = tmp[(i + l) * n + j];
                    v = relu && v <= 0 ? 0 : v;
                    dst[i + l] = v;
                    lo[l] = v < lo[l] ? v : lo[l];
                    hi[l] = v > hi[l] ? v : hi[l];
                }
            }
            for (; i < m; i++) {
                float v = tmp[i * n + j];
                v = relu && v <= 0 ? 0 : v;
                dst[i] = v;
                lo[0] = v < lo[0] ? v : lo[0];
                hi[0] = v > hi[0] ? v : hi[0];
            }
        }
    }
    if (range) kvv_fold_range(lo, hi, 8, &range[0], &range[1]);
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
