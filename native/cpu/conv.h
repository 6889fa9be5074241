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

template <class T>
void conv_fwd_ref(ThreadPool *pool, const Conv &c, T *y, const T *x, const T *w, const T *bias) {
  parallel_for(pool, c.N * c.K, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t n = t / c.K, k = t % c.K, c0 = k / c.Kg() * c.Cg();
      for (int64_t oh = 0; oh < c.OH; oh++)
        for (int64_t ow = 0; ow < c.OW; ow++) {
          double acc = 0;
          for (int64_t ch = 0; ch < c.Cg(); ch++)
            for (int64_t r = 0; r < c.R; r++) {
              const int64_t ih = oh * c.sh - c.ph + r * c.dh;
              if (ih < 0 || ih >= c.H) continue;
              for (int64_t s = 0; s < c.S; s++) {
                const int64_t iw = ow * c.sw - c.pw + s * c.dw;
                if (iw < 0 || iw >= c.W) continue;
                acc += (double)x[((n * c.C + c0 + ch) * c.H + ih) * c.W + iw] *
                       (double)w[((k * c.Cg() + ch) * c.R + r) * c.S + s];
              }
            }
          y[(t * c.OH + oh) * c.OW + ow] = (T)(acc + (bias ? (double)bias[k] : 0.0));
        }
    }
  });
}

template <class T>
void conv_bwd_input_ref(ThreadPool *pool, const Conv &c, T *dx, const T *dy, const T *w) {
  parallel_for(pool, c.N * c.C, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t n = t / c.C, ch = t % c.C, gr = ch / c.Cg(), cc = ch % c.Cg();
      for (int64_t ih = 0; ih < c.H; ih++)
        for (int64_t iw = 0; iw < c.W; iw++) {
          double acc = 0;
          for (int64_t kk = 0; kk < c.Kg(); kk++) {
            const int64_t k = gr * c.Kg() + kk;
            for (int64_t r = 0; r < c.R; r++) {
              const int64_t hn = ih + c.ph - r * c.dh;
              if (hn < 0 || hn % c.sh || hn / c.sh >= c.OH) continue;
              for (int64_t s = 0; s < c.S; s++) {
                const int64_t wn = iw + c.pw - s * c.dw;
                if (wn < 0 || wn % c.sw || wn / c.sw >= c.OW) continue;
                acc += (double)dy[((n * c.K + k) * c.OH + hn / c.sh) * c.OW + wn / c.sw] *
                       (double)w[((k * c.Cg() + cc) * c.R + r) * c.S + s];
              }
            }
          }
          dx[(t * c.H + ih) * c.W + iw] = (T)acc;
        }
    }
  });
}

template <class T>
void conv_bwd_weight_ref(ThreadPool *pool, const Conv &c, T *dw, const T *x, const T *dy) {
  parallel_for(pool, c.K * c.CRS(), 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t k = t / c.CRS(), cc = t / (c.R * c.S) % c.Cg(), r = t / c.S % c.R, s = t % c.S;
      const int64_t ch = k / c.Kg() * c.Cg() + cc;
      double acc = 0;
      for (int64_t n = 0; n < c.N; n++)
        for (int64_t oh = 0; oh < c.OH; oh++) {
          const int64_t ih = oh * c.sh - c.ph + r * c.dh;
          if (ih < 0 || ih >= c.H) continue;
          for (int64_t ow = 0; ow < c.OW; ow++) {
            const int64_t iw = ow * c.sw - c.pw + s * c.dw;
            if (iw < 0 || iw >= c.W) continue;
            acc +=
                (double)dy[((n * c.K + k) * c.OH + oh) * c.OW + ow] * (double)x[((n * c.C + ch) * c.H + ih) * c.W + iw];
          }
        }
      dw[t] = (T)acc;
    }
  });
}

}  // namespace kiln::cpu
