// float64 convolution (conv.h: conv_fwd_f64, conv_bwd_input_f64, conv_bwd_weight_f64) as im2col and the
// float64 GEMM (gemm_f64): per image and group, the patches of a block of output pixels are copied into a
// column buffer col [C/g*R*S, pixels] (zeros where the window leaves the padded image), then
//   forward       y[k, p]   = W [K/g, CRS] col                     (+ bias)
//   grad input    col       = Wᵀ dy [K/g, pixels], added back into dx where each patch came from (col2im)
//   grad weight   dW       += dy [K/g, pixels] colᵀ, images and pixel blocks in order
// Images and groups run as pool tasks when there are enough of them, else one at a time with the GEMM
// splitting its rows or columns over the pool. No sum is split over threads (grad weight's runs over images
// in order), so the bits do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "../core/thread_pool.h"
#include "conv.h"
#include "gemm.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kColElems = int64_t(1) << 20;  // doubles per column buffer (8 MiB)

// Output pixels per column block of c.
int64_t block_pixels(const Conv &c) {
  return std::max<int64_t>(1, std::min(c.OH * c.OW, kColElems / std::max<int64_t>(1, c.CRS())));
}

// fn(q, ow0, ow1, ih, lo, hi, off) for the pixels p0 .. p0+np of tap (r, s), one output row's run at a time:
// q is the column index of output pixel (oh, ow0), the run is [ow0, ow1), its input row is ih (outside the
// image when ih < 0 or >= H), and within it the pixels whose input column iw = ow sw + off lies in the image
// are [lo, hi).
template <class Fn>
void runs(const Conv &c, int64_t r, int64_t s, int64_t p0, int64_t np, const Fn &fn) {
  const int64_t off = s * c.dw - c.pw;  // iw = ow sw + off
  // ow with 0 <= ow sw + off < W: ow >= ceil(-off / sw), ow <= floor((W - 1 - off) / sw)
  const int64_t lo_all = off >= 0 ? 0 : (-off + c.sw - 1) / c.sw;
  const int64_t hi_all = c.W - 1 - off < 0 ? 0 : (c.W - 1 - off) / c.sw + 1;
  for (int64_t p = p0, end = p0 + np; p < end;) {
    const int64_t oh = p / c.OW, ow0 = p % c.OW, ow1 = std::min(c.OW, ow0 + (end - p));
    const int64_t ih = oh * c.sh - c.ph + r * c.dh;
    const int64_t lo = std::clamp(lo_all, ow0, ow1), hi = std::clamp(hi_all, lo, ow1);
    fn(p - p0, ow0, ow1, ih, lo, hi, off);
    p += ow1 - ow0;
  }
}

// col [CRS, np] (row stride np) from image x (its group's Cg channels, [Cg, H, W]) for pixels p0 .. p0+np.
void im2col(const Conv &c, const double *x, int64_t p0, int64_t np, double *col) {
  for (int64_t ch = 0; ch < c.Cg(); ch++)
    for (int64_t r = 0; r < c.R; r++)
      for (int64_t s = 0; s < c.S; s++) {
        double *row = col + ((ch * c.R + r) * c.S + s) * np;
        const double *plane = x + ch * c.H * c.W;
        runs(c, r, s, p0, np,
             [&](int64_t q, int64_t ow0, int64_t ow1, int64_t ih, int64_t lo, int64_t hi, int64_t off) {
               double *o = row + q - ow0;  // o[ow]
               if (ih < 0 || ih >= c.H) {
                 std::fill(o + ow0, o + ow1, 0.0);
                 return;
               }
               std::fill(o + ow0, o + lo, 0.0);
               const double *in = plane + ih * c.W + off;  // in[ow sw]
               for (int64_t ow = lo; ow < hi; ow++) o[ow] = in[ow * c.sw];
               std::fill(o + hi, o + ow1, 0.0);
             });
      }
}

// The inverse: dx (the group's [Cg, H, W]) += each column entry at the pixel it was copied from.
void col2im(const Conv &c, const double *col, int64_t p0, int64_t np, double *dx) {
  for (int64_t ch = 0; ch < c.Cg(); ch++)
    for (int64_t r = 0; r < c.R; r++)
      for (int64_t s = 0; s < c.S; s++) {
        const double *row = col + ((ch * c.R + r) * c.S + s) * np;
        double *plane = dx + ch * c.H * c.W;
        runs(c, r, s, p0, np, [&](int64_t q, int64_t ow0, int64_t, int64_t ih, int64_t lo, int64_t hi, int64_t off) {
          if (ih < 0 || ih >= c.H) return;
          const double *o = row + q - ow0;
          double *in = plane + ih * c.W + off;
          for (int64_t ow = lo; ow < hi; ow++) in[ow * c.sw] += o[ow];
        });
      }
}

GemmF64Geometry geometry(int64_t M, int64_t N, int64_t K, int64_t rsa, int64_t csa, int64_t rsb, int64_t csb,
                         int64_t rsc, double beta) {
  GemmF64Geometry g;
  g.M = M, g.N = N, g.K = K;
  g.rsa = rsa, g.csa = csa, g.rsb = rsb, g.csb = csb, g.rsc = rsc;
  g.beta = beta;
  return g;
}

// body(n, g) for every image and group: as pool tasks when there are at least as many as threads (each GEMM
// then runs inline on its task's thread), else in order with the GEMMs on the pool.
template <class Body>
void each_image_group(kiln_context *ctx, const Conv &c, const Body &body) {
  const int64_t tasks = c.N * c.G, threads = ctx->pool ? ctx->pool->size() : 1;
  if (tasks >= threads)
    parallel_for(ctx->pool.get(), tasks, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; t++) body(t / c.G, t % c.G);
    });
  else
    for (int64_t t = 0; t < tasks; t++) body(t / c.G, t % c.G);
}

}  // namespace

void conv_fwd_f64(kiln_context *ctx, const Conv &c, double *y, const double *x, const double *w, const double *bias) {
  const int64_t P = c.OH * c.OW, bp = block_pixels(c);
  each_image_group(ctx, c, [&](int64_t n, int64_t g) {
    std::vector<double> col((size_t)(c.CRS() * std::min(P, bp)));
    const double *xg = x + (n * c.C + g * c.Cg()) * c.H * c.W, *wg = w + g * c.Kg() * c.CRS();
    double *yg = y + (n * c.K + g * c.Kg()) * P;
    for (int64_t p0 = 0; p0 < P; p0 += bp) {
      const int64_t np = std::min(bp, P - p0);
      im2col(c, xg, p0, np, col.data());
      gemm_f64(ctx, geometry(c.Kg(), np, c.CRS(), c.CRS(), 1, np, 1, P, 0.0), {GemmF64Ptrs{wg, col.data(), yg + p0}});
    }
    if (bias)
      for (int64_t k = 0; k < c.Kg(); k++) {
        const double b = bias[g * c.Kg() + k];
        for (int64_t p = 0; p < P; p++) yg[k * P + p] += b;
      }
  });
}

void conv_bwd_input_f64(kiln_context *ctx, const Conv &c, double *dx, const double *dy, const double *w) {
  const int64_t P = c.OH * c.OW, bp = block_pixels(c);
  each_image_group(ctx, c, [&](int64_t n, int64_t g) {
    double *dxg = dx + (n * c.C + g * c.Cg()) * c.H * c.W;
    std::fill(dxg, dxg + c.Cg() * c.H * c.W, 0.0);
    if (P == 0) return;
    std::vector<double> col((size_t)(c.CRS() * std::min(P, bp)));
    const double *wg = w + g * c.Kg() * c.CRS(), *dyg = dy + (n * c.K + g * c.Kg()) * P;
    for (int64_t p0 = 0; p0 < P; p0 += bp) {
      const int64_t np = std::min(bp, P - p0);
      // col [CRS, np] = Wᵀ [CRS, Kg] dy [Kg, np]
      gemm_f64(ctx, geometry(c.CRS(), np, c.Kg(), 1, c.CRS(), P, 1, np, 0.0), {GemmF64Ptrs{wg, dyg + p0, col.data()}});
      col2im(c, col.data(), p0, np, dxg);
    }
  });
}

void conv_bwd_weight_f64(kiln_context *ctx, const Conv &c, double *dw, const double *x, const double *dy) {
  const int64_t P = c.OH * c.OW, bp = block_pixels(c);
  std::fill(dw, dw + c.K * c.CRS(), 0.0);
  if (P == 0) return;
  std::vector<double> col((size_t)(c.CRS() * std::min(P, bp)));
  for (int64_t g = 0; g < c.G; g++) {
    double *dwg = dw + g * c.Kg() * c.CRS();
    for (int64_t n = 0; n < c.N; n++) {
      const double *xg = x + (n * c.C + g * c.Cg()) * c.H * c.W, *dyg = dy + (n * c.K + g * c.Kg()) * P;
      for (int64_t p0 = 0; p0 < P; p0 += bp) {
        const int64_t np = std::min(bp, P - p0);
        im2col(c, xg, p0, np, col.data());
        // dW [Kg, CRS] += dy [Kg, np] colᵀ [np, CRS]
        gemm_f64(ctx, geometry(c.Kg(), c.CRS(), np, P, 1, 1, np, c.CRS(), 1.0),
                 {GemmF64Ptrs{dyg + p0, col.data(), dwg}});
      }
    }
  }
}

}  // namespace kiln::cpu
