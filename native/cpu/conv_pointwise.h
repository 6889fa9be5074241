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

}  // namespace kiln::cpu
