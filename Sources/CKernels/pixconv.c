// int8 first stem conv from RGB bytes (see include/pixconv.h for the numerics and layouts).
#include "pixconv.h"
#include <string.h>

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>
#endif

int kvv_pixconv_supported(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

static inline int row_case(long oy, long h) { return (2 * oy - 1 < 0) | ((2 * oy + 1 >= h) << 1); }

static void pixconv_reference(const uint8_t *rgb, long h, long w, long row_bytes, const int8_t *wq,
                              const float *scales, const float *bias, long cout, float *out, long ho, long wo,
                              long oy0, long oy1, int relu, float *range) {
    float lo = 0, hi = 0;
    for (long oy = oy0; oy < oy1; oy++) {
        const int rc = row_case(oy, h);
        for (long ox = 0; ox < wo; ox++) {
            const int cc = row_case(ox, w);
            for (long o = 0; o < cout; o++) {
                int32_t acc = 0;
                for (long ky = 0; ky < 3; ky++) {
                    const long iy = 2 * oy + ky - 1;
                    if (iy < 0 || iy >= h) continue;
                    for (long kx = 0; kx < 3; kx++) {
                        const long ix = 2 * ox + kx - 1;
                        if (ix < 0 || ix >= w) continue;
                        for (long c = 0; c < 3; c++)
                            acc += (int32_t)rgb[iy * row_bytes + 3 * ix + c] * wq[(o * 3 + ky) * 12 + 3 * kx + c];
                    }
                }
                float y = (float)acc * scales[o];
                y = y + bias[(o * 4 + rc) * 4 + cc];
                if (relu && !(y > 0)) y = 0;
                out[(o * ho + oy) * wo + ox] = y;
                lo = y < lo ? y : lo;
                hi = y > hi ? y : hi;
            }
        }
    }
    range[0] = lo;
    range[1] = hi;
}

#if defined(__x86_64__)
#define PIX_T __attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vnni")))

// Bytes [base, base + 64) of a row of `n` bytes, zero outside it (masked: nothing outside is read).
PIX_T static inline __m512i load_row64(const uint8_t *row, long base, long n) {
    long a = base < 0 ? -base : 0, b = n - base;
    if (b > 64) b = 64;
    if (b <= a) return _mm512_setzero_si512();
    __mmask64 m = (b - a == 64 ? ~0ULL : ((1ULL << (b - a)) - 1)) << a;
    return _mm512_maskz_loadu_epi8(m, (const void *)((uintptr_t)row + (uintptr_t)base));
}

PIX_T static void pixconv_avx512(const uint8_t *rgb, long h, long w, long row_bytes, const int8_t *wq,
                                 const float *scales, const float *bias, long cout, float *out, long ho, long wo,
                                 long oy0, long oy1, int relu, float *range) {
    // Lane p of dword k reads bytes 6p + 4k .. 6p + 4k + 3 of the 128-byte window that starts at
    // the block's first tap (pixel 2·ox0 − 1, byte 3·(2·ox0 − 1)).
    __m512i idx[3];
    for (int k = 0; k < 3; k++) {
        uint8_t t[64];
        for (int p = 0; p < 16; p++)
            for (int b = 0; b < 4; b++) t[4 * p + b] = (uint8_t)(6 * p + 4 * k + b);
        idx[k] = _mm512_loadu_si512(t);
    }
    __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
    const __m512 zero = _mm512_setzero_ps();
    const long n = 3 * w;
    for (long oy = oy0; oy < oy1; oy++) {
        const int rc = row_case(oy, h);
        for (long ox0 = 0; ox0 < wo; ox0 += 16) {
            const long lanes = wo - ox0 < 16 ? wo - ox0 : 16;
            const __mmask16 keep = lanes == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << lanes) - 1);
            const long base = 6 * ox0 - 3;
            // A kernel row on the padding reads zero bytes: its products add exactly 0, so every
            // block runs the same 72 products per 8 channels (constant trip counts: the compiler
            // keeps the taps in registers instead of branching around missing rows).
            __m512i taps[3][3];
            for (long ky = 0; ky < 3; ky++) {
                const long iy = 2 * oy + ky - 1;
                if (iy < 0 || iy >= h) {
                    for (int k = 0; k < 3; k++) taps[ky][k] = _mm512_setzero_si512();
                    continue;
                }
                const uint8_t *row = rgb + iy * row_bytes;
                const __m512i a = load_row64(row, base, n), b = load_row64(row, base + 64, n);
                for (int k = 0; k < 3; k++) taps[ky][k] = _mm512_permutex2var_epi8(a, idx[k], b);
            }
            // Per-lane column case: only the first and last blocks can have edge lanes.
            int edge = ox0 == 0 || 2 * (ox0 + lanes - 1) + 1 >= w;
            int cases[16] = {0};
            if (edge) {
                for (int p = 0; p < 16; p++) cases[p] = p < lanes ? row_case(ox0 + p, w) : 0;
            }
            for (long o0 = 0; o0 < cout; o0 += 8) {
                __m512i acc[8];
                for (int j = 0; j < 8; j++) acc[j] = _mm512_setzero_si512();
                for (long ky = 0; ky < 3; ky++) {
                    for (int k = 0; k < 3; k++) {
                        const __m512i x = taps[ky][k];
                        for (int j = 0; j < 8; j++) {
                            int32_t wd;
                            memcpy(&wd, wq + ((o0 + j) * 3 + ky) * 12 + 4 * k, 4);
                            acc[j] = _mm512_dpbusd_epi32(acc[j], x, _mm512_set1_epi32(wd));
                        }
                    }
                }
                for (int j = 0; j < 8; j++) {
                    const long o = o0 + j;
                    const float *bt = bias + (o * 4 + rc) * 4;
                    __m512 bv;
                    if (edge) {
                        float b16[16];
                        for (int p = 0; p < 16; p++) b16[p] = bt[cases[p]];
                        bv = _mm512_loadu_ps(b16);
                    } else {
                        bv = _mm512_set1_ps(bt[0]);
                    }
                    __m512 y = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[j]), _mm512_set1_ps(scales[o])), bv);
                    if (relu) y = _mm512_max_ps(y, zero);
                    _mm512_mask_storeu_ps(out + (o * ho + oy) * wo + ox0, keep, y);
                    vlo = _mm512_mask_min_ps(vlo, keep, vlo, y);
                    vhi = _mm512_mask_max_ps(vhi, keep, vhi, y);
                }
            }
        }
    }
    range[0] = _mm512_reduce_min_ps(vlo);
    range[1] = _mm512_reduce_max_ps(vhi);
}
#endif

void kvv_pixconv_rows(int simd, const uint8_t *rgb, long h, long w, long row_bytes, const int8_t *wq,
                      const float *scales, const float *bias, long cout, float *out, long ho, long wo,
                      long oy0, long oy1, int relu, float *range) {
#if defined(__x86_64__)
    if (simd) {
        pixconv_avx512(rgb, h, w, row_bytes, wq, scales, bias, cout, out, ho, wo, oy0, oy1, relu, range);
        return;
    }
#endif
    pixconv_reference(rgb, h, w, row_bytes, wq, scales, bias, cout, out, ho, wo, oy0, oy1, relu, range);
}
