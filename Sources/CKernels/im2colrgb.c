// Patch rows from RGB bytes (see include/im2colrgb.h for the numerics and layout).
#include "im2colrgb.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>
#endif

int kvv_im2col_rgb_supported(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi");
#else
    return 0;
#endif
}

static void im2col_rgb_reference(const uint8_t *rgb, long row_bytes, long gw, long p, const float *scale,
                                 const float *offset, float *out, long patch0, long patch1) {
    const long cols = 3 * p * p;
    for (long i = patch0; i < patch1; i++) {
        const long py = i / gw, px = i % gw;
        float *o = out + i * cols;
        for (long c = 0; c < 3; c++) {
            const float s = scale[c], b = offset[c];
            for (long ky = 0; ky < p; ky++) {
                const uint8_t *src = rgb + (py * p + ky) * row_bytes + px * p * 3 + c;
                for (long kx = 0; kx < p; kx++) {
                    float v = (float)src[3 * kx] * s;
                    *o++ = v + b;
                }
            }
        }
    }
}

#if defined(__x86_64__)
#define IM2COL_T __attribute__((target("avx512f,avx512bw,avx512vbmi")))

// p = 16: one kernel row of a patch is 48 bytes (16 pixels × RGB); one byte permute per channel
// gathers its 16 bytes, which widen to 16 floats.
IM2COL_T static void im2col_rgb16_avx512(const uint8_t *rgb, long row_bytes, long gw, const float *scale,
                                         const float *offset, float *out, long patch0, long patch1) {
    __m512i idx[3];
    for (int c = 0; c < 3; c++) {
        uint8_t t[64] = {0};
        for (int k = 0; k < 16; k++) t[k] = (uint8_t)(3 * k + c);
        idx[c] = _mm512_loadu_si512(t);
    }
    const __m512 s[3] = {_mm512_set1_ps(scale[0]), _mm512_set1_ps(scale[1]), _mm512_set1_ps(scale[2])};
    const __m512 b[3] = {_mm512_set1_ps(offset[0]), _mm512_set1_ps(offset[1]), _mm512_set1_ps(offset[2])};
    const __mmask64 bytes48 = (1ULL << 48) - 1;
    for (long i = patch0; i < patch1; i++) {
        const long py = i / gw, px = i % gw;
        float *o = out + i * 768;
        for (long ky = 0; ky < 16; ky++) {
            const __m512i v = _mm512_maskz_loadu_epi8(bytes48, rgb + (py * 16 + ky) * row_bytes + px * 48);
            for (int c = 0; c < 3; c++) {
                const __m128i u = _mm512_castsi512_si128(_mm512_permutexvar_epi8(idx[c], v));
                const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(u));
                _mm512_storeu_ps(o + (c * 16 + ky) * 16, _mm512_add_ps(_mm512_mul_ps(f, s[c]), b[c]));
            }
        }
    }
}
#endif

void kvv_im2col_rgb(int simd, const uint8_t *rgb, long row_bytes, long gw, long p, const float *scale,
                    const float *offset, float *out, long patch0, long patch1) {
#if defined(__x86_64__)
    if (simd && p == 16) {
        im2col_rgb16_avx512(rgb, row_bytes, gw, scale, offset, out, patch0, patch1);
        return;
    }
#endif
    im2col_rgb_reference(rgb, row_bytes, gw, p, scale, offset, out, patch0, patch1);
}
