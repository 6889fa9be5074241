// Convolution geometry shared by conv.cpp's kernels, and the direct-loop references: the float64
// path (gradient checks) and what the float32 fast paths compute.
#pragma once
#include <algorithm>
#include <cstdint>

#include "../core/thread_pool.h"
#include "cpu_ops.h"

namespace kiln::cpu {

// x [N, C, H, W], weight [K, C/G, R, S], y [N, K, OH, OW]. Output pixel (oh, ow) reads input rows
// oh * sh - ph + r * dh and columns ow * sw - pw + s * dw; reads outside the input are zeros (so the
// bottom and right padding follow from the output size).
struct Conv {
  int64_t N, C, H, W, K, R, S, OH, OW, sh, sw, ph, pw, dh, dw, G;
  int64_t Cg() const { return C / G; }
  int64_t Kg() const { return K / G; }
  int64_t CRS() const { return Cg() * R * S; }
};

// Image blocks of the weight gradient: partial sums per block, added in block order; at most
// kConvPartialBytes of partials (fewer blocks past it).
constexpr int64_t kConvWeightBlocks = 8, kConvPartialBytes = 16 << 20;
// The weight gradient's image blocks for c, whose dW has `total` floats: from the shape alone.
inline int64_t conv_weight_blocks(const Conv &c, int64_t total) {
  const int64_t by_bytes = kConvPartialBytes / (total * (int64_t)sizeof(float));
  return std::max<int64_t>(1, std::min({c.N, kConvWeightBlocks, by_bytes}));
}

// Images of few output pixels, as one GEMM of several images side by side (conv_pointwise.cpp's
// 1x1 path and conv.cpp's implicit GEMM forward): an image's P columns fill its panels of nr
// badly (7x7: 49 of 64 lanes on AVX-512). The images per batch for c (1: one GEMM per image):
// batches where an image's panels leave over a quarter of their columns empty and a batch's GEMM
// is at least kConvBatchFlops (the copies and the driver's per-call work are then small beside
// it); at most kConvBatchMax images and an output of about kConvBatchBytes.
// KILN_CONV_IMAGE_BATCH=0 keeps one GEMM per image, =1 batches whenever there are two images
// (tests, and timing the two paths against each other in one process).
constexpr int64_t kConvBatchBytes = 8 << 20, kConvBatchMax = 16, kConvBatchFlops = int64_t(1) << 25;
int64_t conv_image_batch(const Conv &c, int64_t nr);
// The forward of c's images in batches of nbat (conv_image_batch) as implicit GEMMs whose panels
// gather across each batch's images (conv.cpp), W_g[i, k] = w[g Kg CRS + i rsa + k csa].
void conv_fwd_images_f32(kiln_context *ctx, const Conv &c, int64_t nbat, float *y, const float *x, const float *w,
                         int64_t rsa, int64_t csa, const float *bias);
// Grad bias: per channel, the images' planes (sum_f32 each) in order into a float64 sum (conv.cpp).
void conv_bwd_bias_f32(kiln_context *ctx, const Conv &c, float *db, const float *dy);

// Winograd (winograd.cpp): float32 3x3, stride 1, dilation 1, with at least kWinoMinChannels input
// and output channels per group and their product at least kWinoMinProducts (one thread, implicit
// GEMM vs Winograd: C16 K16 level, C24 K24 on 20x20 10% slower, C16 K64 1.2x and C32 K32 1.25x
// faster), and at least kWinoMinOutputs output pixels in all (N x OH x OW): the weight transform
// (per call, K x C filters) and the half-empty GEMM panels of a few tiles are paid back only past
// it (one thread, implicit GEMM -> Winograd, forward: 1x14² 1.4x slower, 4x7² level, 6x7² 1.25x,
// 8x7² C256 1.3x, 1x20² 1.15x, 2x14² 1.15x faster; weight gradient: 1x7² 2x, 1x14² 1.3x slower,
// 8x7² 1.25x faster). kWinoRun: tiles per transform call (ConvKernels::wino_*), at most.
constexpr int64_t kWinoMinChannels = 16, kWinoMinProducts = 1024, kWinoMinOutputs = 256, kWinoRun = 32;
// The forward and the weight gradient take F(4x4, 3x3) / F(3x3, 4x4) (2.25 products per output
// instead of 4, 36 per 6x6 patch) on outputs at least kWino4MinSize wide and high, F(2x2, 3x3) /
// F(3x3, 2x2) below (one thread, CPU time, F2 -> F4, forward: 56² 1.45x, 28² 1.4x, 20² 1.35x,
// 16² 1.25-1.4x, 14² 1.1-1.2x, 12² 1.0-1.1x faster; weight gradient: 12² 1.1-1.2x faster, 10²
// 1.15x slower, 7² and 8² level); KILN_CONV_WINOGRAD=2 keeps F(2x2) everywhere (about 10x less
// rounding error: at most 3.9e-5 of the result's RMS against 2.7e-6 on
// test/nn/conv_winograd.test.ts's shapes).
constexpr int64_t kWino4MinSize = 12;
bool winograd_fits(const Conv &c);
void winograd_fwd_f32(kiln_context *ctx, const Conv &c, float *y, const float *x, const float *w, const float *bias);
void winograd_bwd_weight_f32(kiln_context *ctx, const Conv &c, float *dw, const float *x, const float *dy);

// float64: im2col and the float64 GEMM (conv_f64.cpp); dx and dw are overwritten.
void conv_fwd_f64(kiln_context *ctx, const Conv &c, double *y, const double *x, const double *w, const double *bias);
void conv_bwd_input_f64(kiln_context *ctx, const Conv &c, double *dx, const double *dy, const double *w);
void conv_bwd_weight_f64(kiln_context *ctx, const Conv &c, double *dw, const double *x, const double *dy);

}  // namespace kiln::cpu
