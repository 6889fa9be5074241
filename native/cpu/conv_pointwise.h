// The 1x1, stride-1, unpadded convolution (conv_pointwise.cpp), which conv.cpp hands over to:
// the forward (also the input gradient's, on the weight's transpose) and the weight gradient.
#pragma once
#include <cstdint>

#include "conv.h"

namespace kiln::cpu {

// A 1x1, stride-1, unpadded convolution: the im2col of an image is the image itself.
inline bool pointwise(const Conv &c) {
  return c.R == 1 && c.S == 1 && c.sh == 1 && c.sw == 1 && c.ph == 0 && c.pw == 0 && c.OH == c.H && c.OW == c.W;
}

// A 1x1 unpadded convolution with a stride, more than one input and output channel per group: the
// stride-1 1x1 of the input's pixels a stride apart (pointwise_strided_*).
inline bool pointwise_strided(const Conv &c) {
  return c.R == 1 && c.S == 1 && c.ph == 0 && c.pw == 0 && (c.sh > 1 || c.sw > 1) && c.Cg() > 1 && c.Kg() > 1 &&
         c.OH == (c.H - 1) / c.sh + 1 && c.OW == (c.W - 1) / c.sw + 1;
}

// y = conv(x, W) + bias (bias may be null) with W_g[i, k] = w[g * Kg * Cg + i * rsa + k * csa]:
// (Cg, 1) is the weight as stored, (1, Kg) the transposed weight of the input gradient.
void pointwise_fwd_f32(kiln_context *ctx, const Conv &c, float *y, const float *x, const float *w, int64_t rsa,
                       int64_t csa, const float *bias);
// dw = the weight gradient from x and dy; and db = the bias gradient (unless null), summed from dy's
// planes: each image's plane per channel in float32 (sum_f32's fixed pairwise order), those added
// in float64 over each image block's images in order, then the blocks in order (images of few
// pixels, taken side by side: over all the images in order).
void pointwise_bwd_weight_f32(kiln_context *ctx, const Conv &c, float *dw, const float *x, const float *dy,
                              float *db = nullptr);

// pointwise_strided(c)'s forward, input gradient and weight gradient (with db as
// pointwise_bwd_weight_f32's, unless null): the pixels a stride apart copied out (or, for the
// input gradient, written back into zeros) around the stride-1 1x1.
void pointwise_strided_fwd_f32(kiln_context *ctx, const Conv &c, float *y, const float *x, const float *w,
                               const float *bias);
void pointwise_strided_bwd_input_f32(kiln_context *ctx, const Conv &c, float *dx, const float *dy, const float *w);
void pointwise_strided_bwd_weight_f32(kiln_context *ctx, const Conv &c, float *dw, const float *x, const float *dy,
                                      float *db = nullptr);

}  // namespace kiln::cpu
