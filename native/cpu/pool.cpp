// 2-d pooling over NCHW planes: max pooling with int64 indices (flat h * W + w within the plane,
// as PyTorch returns them), average pooling (PyTorch's divisor rules: padding counted or not,
// ceil-mode overhang never counted, or a fixed divisor) and adaptive average pooling, with the
// average poolings' backward, and max pooling's backward: the scatter-add of the gradient by the
// indices, in output order within a plane (native/cuda/kernels/pool.cu gathers the same sums in the
// same order, so both give the same bits).
// One plane per task (so the bits never depend on the thread count). float32 max pooling runs its
// inner windows and its backward's index checks in the ISA's vector rows (NnKernels); the average
// poolings sum in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "../core/arg_checks.h"
#include "../core/thread_pool.h"
#include "cpu_ops.h"
#include "scratch.h"

namespace kiln::cpu {

namespace {

template <class F>
void for_planes(kiln_context *ctx, int64_t planes, int64_t plane_size, const F &body) {
  parallel_for(ctx->pool.get(), planes, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, plane_size)), body);
}

// Outputs [ow0, ow1) of one row of max pooling over plane xp: PyTorch's rule, starting at the first
// tap inside the input; a larger value or a NaN wins. a: kernel, stride, padding, dilation (h, w each).
template <class T>
void max_pool_row(T *yo, int64_t *io, const T *xp, int64_t H, int64_t W, int64_t oh, int64_t ow0, int64_t ow1,
                  const int64_t *a) {
  const int64_t kh = a[0], kw = a[1], sh = a[2], sw = a[3], ph = a[4], pw = a[5], dh = a[6], dw = a[7];
  for (int64_t ow = ow0; ow < ow1; ow++) {
    T best = -std::numeric_limits<T>::infinity();
    int64_t at = -1;
    for (int64_t r = 0; r < kh; r++) {
      const int64_t ih = oh * sh - ph + r * dh;
      if (ih < 0 || ih >= H) continue;
      for (int64_t s = 0; s < kw; s++) {
        const int64_t iw = ow * sw - pw + s * dw;
        if (iw < 0 || iw >= W) continue;
        const T v = xp[ih * W + iw];
        if (at < 0 || v > best || std::isnan(v)) best = v, at = ih * W + iw;
      }
    }
    yo[ow] = best;
    io[ow] = at;
  }
}

// The lines of rows [last - n + 1, last] of the plane at xp (W wide), asked for: the rows that a
// later window brings in. Past the plane's end they are the next plane's (the next task's rows, or
// past the tensor, where a prefetch does nothing).
constexpr int64_t kPoolAheadRows = 3;  // output rows ahead
template <class T>
void ask_rows(const T *xp, int64_t W, int64_t last, int64_t n) {
  constexpr int64_t kLine = 64 / sizeof(T);
  for (int64_t r = std::max<int64_t>(0, last - n + 1); r <= last; r++)
    for (int64_t j = 0; j < W; j += kLine) __builtin_prefetch(xp + r * W + j);
}

// Ceiling of p / q for q > 0 and any sign of p.
inline int64_t div_up(int64_t p, int64_t q) { return p > 0 ? (p + q - 1) / q : -(-p / q); }

// float32 planes with stride 1 or 2 along w: the windows whose taps all lie inside the plane
// (columns [ow_lo, ow_hi) of each row, the rows inside the plane found once per output row) go to
// the ISA's vector row (NnKernels::max_pool_row_f32); the border windows and everything else take
// the scalar rule. Both make the same picks. The rows a few output rows on are asked for first: the
// hardware does not follow a window's row pieces. Two threads, alternating builds: [8, 64, 112,
// 112] 3x3 / 2 padding 1: 25 -> 1.9 ms (without the prefetch 5.3); [16, 128, 56, 56] 2x2 / 2 (the
// scalar branch-free path before): 2.3 -> 1.35 ms; [8, 64, 56, 56] 3x3 / 1 padding 1: 20 -> 1.65 ms.
template <class T>
void max_pool(kiln_context *ctx, T *y, int64_t *idx, const T *x, int64_t planes, int64_t H, int64_t W, int64_t OH,
              int64_t OW, const int64_t *a) {
  const int64_t kh = a[0], kw = a[1], sh = a[2], sw = a[3], ph = a[4], pw = a[5], dh = a[6], dw = a[7];
  const bool vec = std::is_same_v<T, float> && (sw == 1 || sw == 2) && H * W <= ((int64_t)1 << 24);
  const int64_t ow_lo = std::min(OW, div_up(pw, sw)), last = W - 1 + pw - (kw - 1) * dw;  // sw ow <= last
  const int64_t ow_hi = std::max(ow_lo, last < 0 ? 0 : std::min(OW, last / sw + 1));
  const NnKernels &nn = isa_kernels(ctx->isa)->nn;
  for_planes(ctx, planes, H * W, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      const T *xp = x + p * H * W;
      for (int64_t oh = 0; oh < OH; oh++) {
        T *yo = y + (p * OH + oh) * OW;
        int64_t *io = idx + (p * OH + oh) * OW;
        ask_rows(xp, W, (oh + kPoolAheadRows) * sh - ph + (kh - 1) * dh, sh);
        // the window's rows inside the plane: r in [r0, r1]
        const int64_t top = oh * sh - ph, r0 = std::max<int64_t>(0, div_up(-top, dh));
        const int64_t r1 = H - 1 - top < 0 ? -1 : std::min(kh - 1, (H - 1 - top) / dh);
        if (!vec || r1 < r0 || ow_lo == ow_hi) {
          max_pool_row(yo, io, xp, H, W, oh, 0, OW, a);
          continue;
        }
        if constexpr (std::is_same_v<T, float>) {
          max_pool_row(yo, io, xp, H, W, oh, 0, ow_lo, a);
          const MaxPoolRow row{xp, W, top + r0 * dh, r1 - r0 + 1, dh, kw, sw, pw, dw};
          nn.max_pool_row_f32(yo, io, row, ow_lo, ow_hi);
          max_pool_row(yo, io, xp, H, W, oh, ow_hi, OW, a);
        }
      }
    }
  });
}

// Whether flat index v is one of window (oh, ow)'s taps inside the H x W input (-1: the window had
// none). The CUDA kernel sums only such pairs, so an index from elsewhere is dropped on both.
inline bool max_tap(int64_t v, int64_t H, int64_t W, int64_t oh, int64_t ow, const int64_t *a) {
  if (v < 0 || v >= H * W) return false;
  const int64_t rh = v / W + a[4] - oh * a[2], rw = v % W + a[5] - ow * a[3];
  return rh >= 0 && rh % a[6] == 0 && rh / a[6] < a[0] && rw >= 0 && rw % a[7] == 0 && rw / a[7] < a[1];
}

// The scatter-add of gy by the indices, in output order. float32 planes below 2^24 elements check
// the indices W outputs at a time in the ISA's row (NnKernels::max_pool_grad_row_f32): the scalar
// check's 64-bit divides were most of the time. Two threads, alternating builds: [8, 64, 112, 112]
// 3x3 / 2 padding 1: 5.6 -> 1.9 ms; [16, 128, 56, 56] 2x2 / 2: 5.4 -> 2.1 ms.
template <class T>
void max_pool_backward(kiln_context *ctx, T *gx, const T *gy, const int64_t *idx, int64_t planes, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, const int64_t *a) {
  const bool vec = std::is_same_v<T, float> && H * W <= ((int64_t)1 << 24);
  const NnKernels &nn = isa_kernels(ctx->isa)->nn;
  for_planes(ctx, planes, H * W, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      T *g = gx + p * H * W;
      std::fill(g, g + H * W, T(0));
      const T *gp = gy + p * OH * OW;
      const int64_t *ip = idx + p * OH * OW;
      for (int64_t oh = 0; oh < OH; oh++) {
        if constexpr (std::is_same_v<T, float>)
          if (vec) {
            const MaxPoolGradRow row{H, W, oh * a[2] - a[4], a[0], a[6], a[1], a[3], a[5], a[7]};
            nn.max_pool_grad_row_f32(g, gp + oh * OW, ip + oh * OW, row, OW);
            continue;
          }
        for (int64_t ow = 0; ow < OW; ow++) {
          const int64_t o = oh * OW + ow;
          if (max_tap(ip[o], H, W, oh, ow, a)) g[ip[o]] += gp[o];
        }
      }
    }
  });
}

// The input span [lo, hi) of each output position along one axis and its divisor factor.
struct Span {
  int64_t lo, hi;
  double div;
};

std::vector<Span> avg_spans(int64_t n, int64_t on, int64_t k, int64_t s, int64_t p, bool include_pad) {
  std::vector<Span> v((size_t)on);
  for (int64_t o = 0; o < on; o++) {
    const int64_t start = o * s - p, end = std::min(start + k, n + p);
    const int64_t lo = std::max<int64_t>(start, 0), hi = std::min(end, n);
    v[o] = {lo, std::max(hi, lo), (double)(include_pad ? end - start : hi - lo)};
  }
  return v;
}

std::vector<Span> adaptive_spans(int64_t n, int64_t on) {
  std::vector<Span> v((size_t)on);
  for (int64_t o = 0; o < on; o++) {
    const int64_t lo = o * n / on, hi = ((o + 1) * n + on - 1) / on;
    v[o] = {lo, hi, (double)(hi - lo)};
  }
  return v;
}

// Forward: y = sum over the window / divisor; backward: dx += dy / divisor over the window, in
// double, in the order pool.cu's kernels take too. K planes at a time in lockstep, the same window
// of each: each sum is a chain of dependent adds (a 7 x 7 global pool's 49), and K chains side by
// side hide each other's latency; each plane's sum keeps its own order, so its bits (output hashes
// compared with the previous build). Two threads, alternating builds, forward: [16, 128, 56, 56]
// 2x2 / 2 4.3 -> 2.25 ms, [8, 64, 56, 56] 3x3 / 1 5.9 -> 2.9 ms, adaptive [64, 512, 7, 7] -> 1
// 0.5 -> 0.3 ms; forward + backward 8.8 -> 6.4, 11.4 -> 7.7 and 1.2 -> 0.8 ms.
constexpr int kAvgPlanes = 4;

template <int K, class T>
void avg_pool_forward(T *out, const T *in, int64_t H, int64_t W, int64_t OH, int64_t OW, const std::vector<Span> &hs,
                      const std::vector<Span> &ws, double divisor) {
  for (int64_t oh = 0; oh < OH; oh++)
    for (int64_t ow = 0; ow < OW; ow++) {
      double sum[K] = {};
      for (int64_t i = hs[oh].lo; i < hs[oh].hi; i++)
        for (int64_t j = ws[ow].lo; j < ws[ow].hi; j++)
          for (int k = 0; k < K; k++) sum[k] += (double)in[k * H * W + i * W + j];
      const double d = divisor > 0 ? divisor : hs[oh].div * ws[ow].div;
      for (int k = 0; k < K; k++) out[k * OH * OW + oh * OW + ow] = (T)(sum[k] / d);
    }
}

template <int K, class T>
void avg_pool_backward(T *dx, const T *gy, double *acc, int64_t H, int64_t W, int64_t OH, int64_t OW,
                       const std::vector<Span> &hs, const std::vector<Span> &ws, double divisor) {
  std::fill(acc, acc + K * H * W, 0.0);
  for (int64_t oh = 0; oh < OH; oh++)
    for (int64_t ow = 0; ow < OW; ow++) {
      const double d = divisor > 0 ? divisor : hs[oh].div * ws[ow].div;
      double g[K];
      for (int k = 0; k < K; k++) g[k] = (double)gy[k * OH * OW + oh * OW + ow] / d;
      for (int64_t i = hs[oh].lo; i < hs[oh].hi; i++)
        for (int64_t j = ws[ow].lo; j < ws[ow].hi; j++)
          for (int k = 0; k < K; k++) acc[k * H * W + i * W + j] += g[k];
    }
  for (int64_t i = 0; i < K * H * W; i++) dx[i] = (T)acc[i];
}

// The global pool (one window over the whole plane): the same sums in the same order (row-major
// through the plane), kGlobalPlanes planes in lockstep with no window bookkeeping, so more chains
// of double adds overlap (16 spilled: slower); the backward a fill per plane. [64, 512, 7, 7] -> 1,
// 2 threads, in one process against the general path: forward 0.26-0.29 -> 0.17-0.19 ms, forward +
// backward 0.64-0.68 -> 0.32-0.35 (PyTorch 1.13's forward 0.098).
constexpr int kGlobalPlanes = 8;

template <int K, class T>
void avg_global(T *out, const T *in, int64_t HW, double d) {
  double s[K] = {};
  for (int64_t e = 0; e < HW; e++)
    for (int k = 0; k < K; k++) s[k] += (double)in[k * HW + e];
  for (int k = 0; k < K; k++) out[k] = (T)(s[k] / d);
}

template <class T>
void avg_pool(kiln_context *ctx, T *out, const T *in, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
              const std::vector<Span> &hs, const std::vector<Span> &ws, double divisor, bool backward) {
  if (OH == 1 && OW == 1 && hs[0].lo == 0 && hs[0].hi == H && ws[0].lo == 0 && ws[0].hi == W) {
    const double d = divisor > 0 ? divisor : hs[0].div * ws[0].div;
    for_planes(ctx, planes, H * W, [&](int64_t p0, int64_t p1) {
      int64_t p = p0;
      if (backward)  // every element of plane p gets the general path's 0 + gy[p] / d (+0 for -0)
        for (; p < p1; p++) std::fill(out + p * H * W, out + (p + 1) * H * W, (T)(0.0 + (double)in[p] / d));
      for (; p + kGlobalPlanes <= p1; p += kGlobalPlanes) avg_global<kGlobalPlanes>(out + p, in + p * H * W, H * W, d);
      for (; p < p1; p++) avg_global<1>(out + p, in + p * H * W, H * W, d);
    });
    return;
  }
  for_planes(ctx, planes, H * W, [&](int64_t p0, int64_t p1) {
    thread_local ScratchVec<double> scratch;  // the backward's sums: K planes
    double *acc = backward ? scratch.get((size_t)(kAvgPlanes * H * W)) : nullptr;
    for (int64_t p = p0; p < p1;) {
      const bool group = p1 - p >= kAvgPlanes;
      if (backward) {
        T *dx = out + p * H * W;
        const T *gy = in + p * OH * OW;
        group ? avg_pool_backward<kAvgPlanes>(dx, gy, acc, H, W, OH, OW, hs, ws, divisor)
              : avg_pool_backward<1>(dx, gy, acc, H, W, OH, OW, hs, ws, divisor);
      } else {
        T *y = out + p * OH * OW;
        const T *x = in + p * H * W;
        group ? avg_pool_forward<kAvgPlanes>(y, x, H, W, OH, OW, hs, ws, divisor)
              : avg_pool_forward<1>(y, x, H, W, OH, OW, hs, ws, divisor);
      }
      p += group ? kAvgPlanes : 1;
    }
  });
}

}  // namespace

kiln_status max_pool2d_cpu(kiln_context *ctx, const kiln_tensor &y, const kiln_tensor &idx, const kiln_tensor &x,
                           const double *attr) {
  if (!planes_ok(x, y) || !planes_ok(y, idx) || y.shape[2] != idx.shape[2] || y.shape[3] != idx.shape[3])
    return fail(ctx, KILN_ERR_SHAPE, "max_pool2d: contiguous [N, C, H, W] operands with matching planes expected");
  if (x.dtype != y.dtype || idx.dtype != KILN_INT64 || (x.dtype != KILN_FLOAT32 && x.dtype != KILN_FLOAT64))
    return fail(ctx, KILN_ERR_DTYPE, "max_pool2d: float32/float64 values and int64 indices expected");
  int64_t a[8];
  for (int i = 0; i < 8; i++)
    if (!int_arg(attr[i], i == 4 || i == 5 ? 0 : 1, (int64_t)1 << 30, &a[i]))
      return fail(ctx, KILN_ERR_ARG, "max_pool2d: bad kernel, stride, padding or dilation");
  const int64_t planes = x.shape[0] * x.shape[1];
  if (x.dtype == KILN_FLOAT32)
    max_pool(ctx, (float *)y.data, (int64_t *)idx.data, (const float *)x.data, planes, x.shape[2], x.shape[3],
             y.shape[2], y.shape[3], a);
  else
    max_pool(ctx, (double *)y.data, (int64_t *)idx.data, (const double *)x.data, planes, x.shape[2], x.shape[3],
             y.shape[2], y.shape[3], a);
  return KILN_OK;
}

kiln_status max_pool2d_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gy,
                                    const kiln_tensor &idx, const double *attr) {
  const char *op = "max_pool2d_backward";
  if (!planes_ok(gx, gy) || !planes_ok(gy, idx) || gy.shape[2] != idx.shape[2] || gy.shape[3] != idx.shape[3])
    return fail(ctx, KILN_ERR_SHAPE, "%s: contiguous [N, C, H, W] operands with matching planes expected", op);
  if (gx.dtype != gy.dtype || idx.dtype != KILN_INT64 || (gx.dtype != KILN_FLOAT32 && gx.dtype != KILN_FLOAT64))
    return fail(ctx, KILN_ERR_DTYPE, "%s: float32/float64 gradients and int64 indices expected", op);
  int64_t a[8];
  for (int i = 0; i < 8; i++)
    if (!int_arg(attr[i], i == 4 || i == 5 ? 0 : 1, (int64_t)1 << 30, &a[i]))
      return fail(ctx, KILN_ERR_ARG, "%s: bad kernel, stride, padding or dilation", op);
  const int64_t planes = gx.shape[0] * gx.shape[1];
  if (gx.dtype == KILN_FLOAT32)
    max_pool_backward(ctx, (float *)gx.data, (const float *)gy.data, (const int64_t *)idx.data, planes, gx.shape[2],
                      gx.shape[3], gy.shape[2], gy.shape[3], a);
  else
    max_pool_backward(ctx, (double *)gx.data, (const double *)gy.data, (const int64_t *)idx.data, planes, gx.shape[2],
                      gx.shape[3], gy.shape[2], gy.shape[3], a);
  return KILN_OK;
}

kiln_status avg_pool2d_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, const double *attr,
                           bool adaptive, bool backward) {
  const char *op = adaptive ? (backward ? "adaptive_avg_pool2d_backward" : "adaptive_avg_pool2d")
                            : (backward ? "avg_pool2d_backward" : "avg_pool2d");
  if (!planes_ok(out, in)) return fail(ctx, KILN_ERR_SHAPE, "%s: contiguous [N, C, H, W] operands expected", op);
  if (out.dtype != in.dtype || (in.dtype != KILN_FLOAT32 && in.dtype != KILN_FLOAT64))
    return fail(ctx, KILN_ERR_DTYPE, "%s: float32 or float64 expected", op);
  // The big side is the image, the small one the pooled output.
  const kiln_tensor &img = backward ? out : in, &pooled = backward ? in : out;
  const int64_t H = img.shape[2], W = img.shape[3], OH = pooled.shape[2], OW = pooled.shape[3];
  std::vector<Span> hs, ws;
  double divisor = 0;
  if (adaptive) {
    hs = adaptive_spans(H, OH), ws = adaptive_spans(W, OW);
  } else {
    int64_t a[7];
    for (int i = 0; i < 7; i++)
      if (!int_arg(attr[i], i >= 4 ? 0 : 1, (int64_t)1 << 30, &a[i]))
        return fail(ctx, KILN_ERR_ARG, "%s: bad kernel, stride, padding or countIncludePad", op);
    if (!(attr[7] >= 0 && std::isfinite(attr[7]))) return fail(ctx, KILN_ERR_ARG, "%s: bad divisor", op);
    hs = avg_spans(H, OH, a[0], a[2], a[4], a[6] != 0), ws = avg_spans(W, OW, a[1], a[3], a[5], a[6] != 0);
    divisor = attr[7];
  }
  const int64_t planes = in.shape[0] * in.shape[1];
  if (in.dtype == KILN_FLOAT32)
    avg_pool(ctx, (float *)out.data, (const float *)in.data, planes, H, W, OH, OW, hs, ws, divisor, backward);
  else
    avg_pool(ctx, (double *)out.data, (const double *)in.data, planes, H, W, OH, OW, hs, ws, divisor, backward);
  return KILN_OK;
}

}  // namespace kiln::cpu
