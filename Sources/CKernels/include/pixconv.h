// The first conv of a det stem (3×3, stride 2, padding 1, 3 input channels) in int8, read straight
// from a frame's interleaved RGB bytes with the image normalisation folded into the weights.
//
// Numerics. With x_c = u·α_c + β_c the normalised input of byte u in channel c, the f32 layer is
// y_o = b_o + Σ_{taps inside} w[o,c,ky,kx]·(α_c·u + β_c). Here the weights w·α_c are quantised per
// output channel (w·α_c ≈ s_o·q, q int8 in ±127), Σ q·u accumulates exactly in int32 (u8·s8), and
// y_o = (float)acc · s_o + bias[o][rows][cols], where the bias table holds b_o + Σ w·β_c over the
// taps inside the image for each edge case: `rows` bit 0 = the row above is padding (oy = 0), bit 1
// = the row below is (2·oy + 1 ≥ h); `cols` likewise for the columns. Padding reads 0 (u = 0 adds
// nothing; its β term is not in the table). The mul and add are separately rounded, so the SIMD
// kernel and the reference give the same bits.
//
// Weight layout: `wq` [cout][3 ky][12] bytes, byte 3·kx + c of each 12 (bytes 9..11 are 0): one
// kernel row's 9 bytes are the 3 pixels × RGB that lie side by side in the frame.
#pragma once
#include <stdint.h>

/// 1 when the CPU runs the AVX-512 VBMI + VNNI kernel (the only fast one; callers keep the f32 conv
/// where it is 0).
int kvv_pixconv_supported(void);

/// Output rows oy0..<oy1 into out [cout, ho, wo] (ho = (h + 1) / 2, wo = (w + 1) / 2), from `rgb`
/// (h rows of 3·w bytes, `row_bytes` apart); cout a multiple of 8. `simd` 1 runs the AVX-512 kernel
/// (only where kvv_pixconv_supported()), 0 the portable reference. When relu, max(0, ·). Writes
/// [min(y, 0), max(y, 0)] over the rows written to range[0], range[1].
void kvv_pixconv_rows(int simd, const uint8_t *rgb, long h, long w, long row_bytes, const int8_t *wq,
                      const float *scales, const float *bias, long cout, float *out, long ho, long wo,
                      long oy0, long oy1, int relu, float *range);
