// Reduced-precision GEMM kernels for Linear layers: c[m, n] = a[m, k] · wᵀ (+ bias) (+ c), with
// w [n, k] quantised once (int8 per output channel, or bf16) and prepacked for the micro-kernel.
//
// int8: weights symmetric per output channel, q = rint(w / s_w) in [−qmax, qmax] (qmax 127, or 63
// for the AVX2 kernel, whose vpmaddubsw adds two u8·s8 products in a saturating int16: 255·63·2
// fits, 255·127·2 does not); activations asymmetric u8 per row at run time, a ≈ s_a (q − z);
// int32 accumulation; the epilogue computes, per output, in this order and float rounding:
// t = (float)(acc − z·colsum_j) · (s_a · s_w[j]); t = t + bias[j]; c = c + t (when accumulating).
// Every int8 path (reference, AVX2, AVX-VNNI, AVX512-VNNI) therefore gives bit-identical results
// for the same packed weights. bf16: weights and activations rounded to bf16 (nearest even),
// products accumulated in f32 (reference, AVX512-BF16 vdpbf16ps); paths agree to f32 rounding.
//
// Packed layout (both): blocks of 16 output columns; int8 block = kpad/4 groups of 16 columns ×
// 4 consecutive k (64 bytes); bf16 block = kpad/2 groups of 16 columns × 2 k (64 bytes). Scale
// and colsum arrays have npad entries (zero past n). Each ISA kernel is compiled with its own
// target attribute; callers check kvv_isa_supported first.
//
// Thread-safety: pure functions over caller-owned memory; callers split rows over threads.
#ifndef KVV_QGEMM_H
#define KVV_QGEMM_H
#include <stdint.h>

enum {
    KVV_ISA_REFERENCE = 0,   // portable C
    KVV_ISA_AVX2 = 1,        // AVX2 + FMA: int8 via vpmaddubsw/vpmaddwd (7-bit weights)
    KVV_ISA_AVXVNNI = 2,     // AVX-VNNI: int8 via 256-bit vpdpbusd
    KVV_ISA_AVX512VNNI = 3,  // AVX512-VNNI: int8 via 512-bit vpdpbusd
    KVV_ISA_AVX512BF16 = 4,  // AVX512-BF16: bf16 via vdpbf16ps
};

/// 1 when the running CPU (and OS) can execute `isa`'s kernels.
int kvv_isa_supported(int isa);

/// k rounded up to the int8 group (4), the bf16 group (2); n rounded up to the block (16).
long kvv_q8_kpad(long k);
long kvv_bf16_kpad(long k);
long kvv_gemm_npad(long n);

/// Quantises w (element (j, kk) at w[j·sn + kk·sk], j < n, kk < k) per output channel into
/// `packed` (npad·kpad bytes), `scales` and `colsums` (npad each). Returns the largest |q|.
int kvv_q8_pack(const float *w, long sn, long sk, long n, long k, int qmax,
                int8_t *packed, float *scales, int32_t *colsums);

/// c rows 0..<m: a (rows lda apart) quantised into qa (m·kpad bytes), ascale, azero (m each),
/// then the int8 GEMM with `isa`'s kernel. bias (n) may be NULL; accumulate adds onto c.
void kvv_q8_gemm(int isa, const int8_t *packed, const float *scales, const int32_t *colsums, long n, long k,
                 const float *a, long lda, long m, uint8_t *qa, float *ascale, int32_t *azero,
                 float *c, long ldc, const float *bias, int accumulate);

/// As kvv_q8_gemm for rows already quantised: qa (m rows of kpad bytes) with ascale, azero (m each).
void kvv_q8_gemm_u8(int isa, const int8_t *packed, const float *scales, const int32_t *colsums, long n, long k,
                    const uint8_t *qa, const float *ascale, const int32_t *azero, long m,
                    float *c, long ldc, const float *bias, int accumulate);

// int8 convolution: the input image x [c, h, w] (NCHW) is quantised once per call with one
// asymmetric u8 scale for the whole tensor (range [min(x, 0), max(x, 0)], as a row above) into a
// zero-point-padded NHWC image qx [h + 2·pad, w + 2·pad, c]; output position r = oy·wo + ox reads
// the row (ky, kx, c) of its kh×kw window (K order ky, kx, c: pack the weight permuted to
// [cout, kh, kw, cin]): kh runs of kw·c contiguous bytes. The AVX-512 VNNI kernel reads those runs
// in place (implicit GEMM, when kw·c is a multiple of 4); the others unfold KVV_Q8_CONV_BLOCK rows
// at a time into a small block that stays in cache, multiply as above and write back through an
// [m, n] f32 block transposed to NCHW; the implicit kernel writes NCHW from its registers (two 8×8
// transposes per 8-position × 16-channel tile). Padding reads the zero point, i.e. exactly 0.
#define KVV_Q8_CONV_BLOCK 64

/// [min(x, 0), max(x, 0)] over the `count` values of x, NaN ignored (x may be NULL when count is 0).
void kvv_value_range(const float *x, long count, float *lower, float *upper);

/// The scale and zero point of values whose range is [lo, hi] = [min(x, 0), max(x, 0)] (NaN
/// ignored; kvv_value_range, or tracked by the kernel that wrote them, which saves a pass over the
/// image); scale 0 and zero 0 when the range is empty or not finite.
void kvv_q8_range_params(float lo, float hi, float *scale, int32_t *zero);

/// 1 when kvv_q8_conv_rows reads `isa`'s rows straight from the padded image (implicit GEMM: the
/// AVX-512 VNNI kernel when kw·c is a multiple of 4; `block` is then not used), 0 when it
/// unfolds them into `block`.
int kvv_q8_conv_is_implicit(int isa, long c, long kw);

/// Quantises image rows y0..<y1 of x [c, h, w] into the padded NHWC image qx ((h + 2·pad)·
/// (w + 2·pad)·c bytes) with their side padding, and the top (y0 = 0) or bottom (y1 = h) border
/// rows; chunks of rows can run on different threads.
void kvv_q8_quantize_image_rows(const float *x, long c, long h, long w, long pad, long y0, long y1,
                                float scale, int32_t zero, uint8_t *qx);

/// Rows y0..<y1 of the det head's joined map — channels 0..<cu the pixel shuffle (upscale r) of
/// `tokens` [(h / r)·gw, cu·r²] (channel c's sub-pixel (i, j) of a token at c·r² + i·r + j;
/// gw = w / r tokens a row), channels cu..<cu + cs the NCHW map x [cs, h, w] — quantised into the
/// padded NHWC image qx as kvv_q8_quantize_image_rows would quantise that map, without the
/// f32 map in between (same floats, same arithmetic: the same bytes).
void kvv_q8_quantize_joined_rows(const float *tokens, long gw, long r, long cu, const float *x, long cs,
                                 long h, long w, long pad, long y0, long y1, float scale, int32_t zero, uint8_t *qx);

/// Output positions r0..<r1 of the convolution into out [n, positions] (NCHW: out[j·positions + r]),
/// with the bias and, when relu, max(0, ·) (NaN kept). qx is the padded NHWC image (row width
/// wp = w + 2·pad); block holds KVV_Q8_CONV_BLOCK·kpad(c·kh·kw) bytes and tmp
/// KVV_Q8_CONV_BLOCK·n floats (scratch of the calling thread; neither is touched when
/// kvv_q8_conv_is_implicit(isa, c, kw)). When `range` is not NULL it
/// receives [min(0, written), max(0, written)] (NaN ignored): the next layer's quantisation range.
/// The implicit and unfolded paths give the same bits (same int32 sums, same epilogue).
void kvv_q8_conv_rows(int isa, const int8_t *packed, const float *scales, const int32_t *colsums, long n,
                      const uint8_t *qx, long c, long wp, long kh, long kw, long stride, long wo,
                      float ascale, int32_t azero, long r0, long r1, uint8_t *block,
                      float *tmp, float *out, long positions, const float *bias, int relu, float *range);

/// Rounds w (as for kvv_q8_pack) to bf16 into `packed` (npad·kpad uint16).
void kvv_bf16_pack(const float *w, long sn, long sk, long n, long k, uint16_t *packed);

/// c rows 0..<m: a rounded to bf16 into qa (m·kpad uint16), then the bf16 GEMM with `isa`'s
/// kernel (KVV_ISA_REFERENCE or KVV_ISA_AVX512BF16).
void kvv_bf16_gemm(int isa, const uint16_t *packed, long n, long k, const float *a, long lda, long m,
                   uint16_t *qa, float *c, long ldc, const float *bias, int accumulate);

#endif
