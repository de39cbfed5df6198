// The encoder's patch rows (im2col) straight from a frame's interleaved RGB bytes, normalised on
// the way: the rows `PatchEmbedding.im2col` would unfold from the normalised `[3, H, W]` image,
// without that image ever being written.
//
// Numerics. Value (c, ky, kx) of patch (py, px) is (float)u · scale[c] + offset[c], u the byte of
// channel c at pixel (py·p + ky, px·p + kx); the mul and add are separately rounded (no FMA), as
// `ImageNormalization` computes them, so both paths give the same bits.
//
// Layout. Patch i = py·gw + px is row i of `out`, 3·p·p floats: channel-major, then ky, then kx
// (a conv weight [D, 3, p, p] flattened). `rgb` holds the rows of the frame, `row_bytes` apart,
// each at least 3·gw·p bytes.
#pragma once
#include <stdint.h>

/// 1 when the CPU runs the AVX-512 VBMI version (p = 16 only; every other case is portable C).
int kvv_im2col_rgb_supported(void);

/// Patches patch0 ..< patch1 of a gw-patch-wide grid into out (row i at out + i·3·p·p); `simd` 1
/// runs the AVX-512 version where kvv_im2col_rgb_supported() and p == 16, else the portable loop.
void kvv_im2col_rgb(int simd, const uint8_t *rgb, long row_bytes, long gw, long p, const float *scale,
                    const float *offset, float *out, long patch0, long patch1);
