// 2-d pooling over NCHW planes: max pooling with int64 indices (flat h * W + w within the plane,
// as PyTorch returns them), average pooling (PyTorch's divisor rules: padding counted or not,
// ceil-mode overhang never counted, or a fixed divisor) and adaptive average pooling, with the
// average poolings' backward, and max pooling's backward: the scatter-add of the gradient by the
// indices, in output order within a plane (native/cuda/kernels/pool.cu gathers the same sums in the
// same order, so both give the same bits).
// Memory-bound: plain loops, one plane per task (so the bits never depend on the thread count),
// sums in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../core/arg_checks.h"
#include "../core/thread_pool.h"
#include "cpu_ops.h"

namespace kiln::cpu {

namespace {

template <class F>
void for_planes(kiln_context *ctx, int64_t planes, int64_t plane_size, const F &body) {
  parallel_for(ctx->pool.get(), planes, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, plane_size)), body);
}

// One output row of max pooling over plane xp: PyTorch's rule, starting at the first tap inside the
// input; a larger value or a NaN wins. a: kernel, stride, padding, dilation (h, w each).
template <class T>
void max_pool_row(T *yo, int64_t *io, const T *xp, int64_t H, int64_t W, int64_t oh, int64_t OW, const int64_t *a) {
  const int64_t kh = a[0], kw = a[1], sh = a[2], sw = a[3], ph = a[4], pw = a[5], dh = a[6], dw = a[7];
  for (int64_t ow = 0; ow < OW; ow++) {
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

template <class T>
void max_pool(kiln_context *ctx, T *y, int64_t *idx, const T *x, int64_t planes, int64_t H, int64_t W, int64_t OH,
              int64_t OW, const int64_t *a) {
  const int64_t kh = a[0], kw = a[1], sh = a[2], sw = a[3], ph = a[4], pw = a[5], dh = a[6], dw = a[7];
  const bool k2s2 = kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0 && dh == 1 && dw == 1;
  for_planes(ctx, planes, H * W, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      const T *xp = x + p * H * W;
      if (k2s2) {
        // The common 2x2 / 2 window with every tap inside. Max first (compiled to max/blend, no
        // branches to mispredict on random data), then the first tap equal to it: the same pick as
        // the general rule below when the row holds no NaN; rows with one take the general rule.
        for (int64_t oh = 0; oh < OH; oh++) {
          const T *r0 = xp + 2 * oh * W, *r1 = r0 + W;
          T *yo = y + (p * OH + oh) * OW;
          int64_t *io = idx + (p * OH + oh) * OW;
          bool nan = false;
          for (int64_t ow = 0; ow < OW; ow++) {
            const T a0 = r0[2 * ow], b0 = r0[2 * ow + 1], c0 = r1[2 * ow], d0 = r1[2 * ow + 1];
            T m = b0 > a0 ? b0 : a0;
            m = c0 > m ? c0 : m;
            m = d0 > m ? d0 : m;
            nan |= (a0 != a0) | (b0 != b0) | (c0 != c0) | (d0 != d0);
            // First tap equal to the max, in integer arithmetic (selects here became branches).
            const int64_t na = a0 != m, nb = b0 != m, nc = c0 != m;
            const int64_t at = na * (1 + nb * (W - 1 + nc));
            yo[ow] = m;
            io[ow] = 2 * oh * W + 2 * ow + at;
          }
          if (nan) max_pool_row(yo, io, xp, H, W, oh, OW, a);
        }
        continue;
      }
      for (int64_t oh = 0; oh < OH; oh++)
        max_pool_row(y + (p * OH + oh) * OW, idx + (p * OH + oh) * OW, xp, H, W, oh, OW, a);
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

template <class T>
void max_pool_backward(kiln_context *ctx, T *gx, const T *gy, const int64_t *idx, int64_t planes, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, const int64_t *a) {
  for_planes(ctx, planes, H * W, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      T *g = gx + p * H * W;
      std::fill(g, g + H * W, T(0));
      const T *gp = gy + p * OH * OW;
      const int64_t *ip = idx + p * OH * OW;
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          const int64_t o = oh * OW + ow;
          if (max_tap(ip[o], H, W, oh, ow, a)) g[ip[o]] += gp[o];
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

// Forward: y = sum over the window / divisor; backward: dx += dy / divisor over the window.
template <class T>
void avg_pool(kiln_context *ctx, T *out, const T *in, int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
              const std::vector<Span> &hs, const std::vector<Span> &ws, double divisor, bool backward) {
  for_planes(ctx, planes, H * W, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      if (backward) {
        T *dx = out + p * H * W;
        std::vector<double> acc((size_t)(H * W), 0.0);
        for (int64_t oh = 0; oh < OH; oh++)
          for (int64_t ow = 0; ow < OW; ow++) {
            const double g = (double)in[(p * OH + oh) * OW + ow] / (divisor > 0 ? divisor : hs[oh].div * ws[ow].div);
            for (int64_t i = hs[oh].lo; i < hs[oh].hi; i++)
              for (int64_t j = ws[ow].lo; j < ws[ow].hi; j++) acc[i * W + j] += g;
          }
        for (int64_t i = 0; i < H * W; i++) dx[i] = (T)acc[i];
        continue;
      }
      const T *xp = in + p * H * W;
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          double sum = 0;
          for (int64_t i = hs[oh].lo; i < hs[oh].hi; i++)
            for (int64_t j = ws[ow].lo; j < ws[ow].hi; j++) sum += (double)xp[i * W + j];
          out[(p * OH + oh) * OW + ow] = (T)(sum / (divisor > 0 ? divisor : hs[oh].div * ws[ow].div));
        }
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
