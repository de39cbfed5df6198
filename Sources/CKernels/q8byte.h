// Private to CKernels: the activation quantiser's arithmetic and the 16×16 byte transpose, shared
// by qgemm.c's image quantisers (the NCHW image and the det head's joined tokens + stem map).
#ifndef KVV_Q8BYTE_H
#define KVV_Q8BYTE_H
#include <math.h>
#include <stdint.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// One activation byte: rint(x·inv) + zero clamped to 0…255 in float, NaN → 0 (a NaN cast to
/// uint8_t is undefined). Every quantiser's scalar path; the vector paths do the same arithmetic.
static inline uint8_t q8_byte(float x, float inv, float zf) {
    float v = rintf(x * inv) + zf;
    return (uint8_t)(!(v >= 0) ? 0 : (v > 255 ? 255 : v));
}

#if defined(__x86_64__)
/// q8_byte's arithmetic on 16 floats in one 512-bit vector: the same float operations in the same
/// order (mul, round to nearest even, add, max with 0 — NaN gives 0 —, min with 255), so the same bytes.
static inline __attribute__((always_inline, target("avx512f")))
__m128i q8_quantize16_v(__m512 x, __m512 inv, __m512 zf) {
    __m512 v = _mm512_add_ps(_mm512_roundscale_ps(_mm512_mul_ps(x, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zf);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(255.0f));
    return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
}

/// Sixteen channels' bytes for 16 pixels (q[ch] = pixels 0…15 of channel ch) transposed in
/// registers and stored pixel-major: pixel p's 16 channel bytes at dst + p·stride. Only pixels
/// below `pixels` (≤ 16) are stored.
static inline __attribute__((always_inline, target("avx512f")))
void q8_store_pixel_major16(const __m128i q[16], uint8_t *dst, long stride, int pixels) {
    // p[k][g]: pixels 4g..4g+3 × channels 4k..4k+3 (pixel-major, 4 bytes a pixel).
    __m128i p[4][4];
    for (int k = 0; k < 4; k++) {
        __m128i a = _mm_unpacklo_epi8(q[4 * k], q[4 * k + 1]), b = _mm_unpackhi_epi8(q[4 * k], q[4 * k + 1]);
        __m128i e = _mm_unpacklo_epi8(q[4 * k + 2], q[4 * k + 3]), f = _mm_unpackhi_epi8(q[4 * k + 2], q[4 * k + 3]);
        p[k][0] = _mm_unpacklo_epi16(a, e); p[k][1] = _mm_unpackhi_epi16(a, e);
        p[k][2] = _mm_unpacklo_epi16(b, f); p[k][3] = _mm_unpackhi_epi16(b, f);
    }
    for (int g = 0; g < 4; g++) {
        __m128i t0 = _mm_unpacklo_epi32(p[0][g], p[1][g]), t1 = _mm_unpackhi_epi32(p[0][g], p[1][g]);
        __m128i t2 = _mm_unpacklo_epi32(p[2][g], p[3][g]), t3 = _mm_unpackhi_epi32(p[2][g], p[3][g]);
        __m128i rows[4] = {_mm_unpacklo_epi64(t0, t2), _mm_unpackhi_epi64(t0, t2), _mm_unpacklo_epi64(t1, t3), _mm_unpackhi_epi64(t1, t3)};
        for (int l = 0; l < 4; l++) {
            if (4 * g + l < pixels) _mm_storeu_si128((__m128i *)(dst + (4 * g + l) * stride), rows[l]);
        }
    }
}
#endif

#endif
