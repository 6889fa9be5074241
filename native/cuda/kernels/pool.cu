// 2-d pooling on CUDA (pool.h), with native/cpu/pool.cpp's semantics bit for bit:
// - max pooling: one thread per output, the CPU's rule (first tap inside the input, then a larger
//   value or a NaN wins), flat h * W + w indices, -1 and -inf for a window with no tap inside. The
//   2x2 / 2 window without padding or dilation reads its two rows as 8- or 16-byte pairs when the
//   rows allow it (the same rule, unrolled); border windows take the general loop. Variant 2
//   (float32) does two outputs per thread with 16-byte loads; kMaxPoolVariant picks the default.
// - average and adaptive average pooling: one thread per output, the window summed in double in
//   the CPU's order and divided like the CPU; backward: one thread per input element, gathering
//   dy / divisor from the windows that cover it in the CPU's (oh, ow) order, summed in double, so
//   forward and backward give the CPU's bits with no atomics.
// - max pooling backward: the gather form of the scatter-add by the indices (deterministic; no
//   atomics even where windows overlap).
// Bench: native/cuda/test/pool_test.cu (2x2/2 and 3x3/2 max pooling on a 1 GiB tensor).
#include <cmath>
#include <type_traits>

#include "../../core/arg_checks.h"
#include "common.cuh"
#include "pool.h"

namespace kiln::cuda {

namespace {

constexpr int kThreads = 256;

// The kernel, stride, padding and dilation of max pooling, and the plane sizes.
struct MaxGeo {
  int64_t H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
};

template <class T>
struct Pair2;
template <>
struct Pair2<float> {
  using type = float2;
};
template <>
struct Pair2<double> {
  using type = double2;
};

// The CPU's update: the first tap inside the input, then a larger value or a NaN.
template <class T>
__device__ __forceinline__ void take(T v, int64_t at_v, T &best, int64_t &at) {
  if (at < 0 || v > best || isnan(v)) best = v, at = at_v;
}

template <class T>
__device__ __forceinline__ void max_window(const T *xp, const MaxGeo &g, int64_t oh, int64_t ow, T &best, int64_t &at) {
  best = -(T)INFINITY;
  at = -1;
  for (int64_t r = 0; r < g.kh; r++) {
    const int64_t ih = oh * g.sh - g.ph + r * g.dh;
    if (ih < 0 || ih >= g.H) continue;
    for (int64_t s = 0; s < g.kw; s++) {
      const int64_t iw = ow * g.sw - g.pw + s * g.dw;
      if (iw < 0 || iw >= g.W) continue;
      take(xp[ih * g.W + iw], ih * g.W + iw, best, at);
    }
  }
}

// Mode 0: any window; 1: 2x2 / 2, no padding or dilation; 2: the same with paired loads (W even,
// x aligned to the pair).
template <class T, int Mode>
__global__ void max_pool_forward_kernel(T *y, int64_t *idx, const T *x, int64_t total, MaxGeo g) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += stride) {
    const int64_t ow = o % g.OW, t = o / g.OW, oh = t % g.OH, p = t / g.OH;
    const T *xp = x + p * g.H * g.W;
    T best;
    int64_t at;
    if (Mode != 0 && 2 * oh + 1 < g.H && 2 * ow + 1 < g.W) {
      const int64_t i0 = 2 * oh * g.W + 2 * ow, i1 = i0 + g.W;
      T a, b, c, d;
      if constexpr (Mode == 2) {
        using V = typename Pair2<T>::type;
        const V r0 = *(const V *)(xp + i0), r1 = *(const V *)(xp + i1);
        a = r0.x, b = r0.y, c = r1.x, d = r1.y;
      } else {
        a = xp[i0], b = xp[i0 + 1], c = xp[i1], d = xp[i1 + 1];
      }
      best = a, at = i0;
      take(b, i0 + 1, best, at);
      take(c, i1, best, at);
      take(d, i1 + 1, best, at);
    } else {
      max_window(xp, g, oh, ow, best, at);
    }
    y[o] = best;
    idx[o] = at;
  }
}

// Variant 2 of the 2x2 / 2 window (float32): two outputs per thread from 16-byte loads of both
// rows, 8- and 16-byte stores of the values and indices. Needs W % 4 == 0, OW even, and x, y, idx
// aligned to 16, 8, 16 bytes; a pair with a tap outside the input (ceil-mode overhang) takes the
// general loop. The same rule as above, unrolled per output.
__global__ void max_pool_k2s2_pairs_kernel(float *y, int64_t *idx, const float *x, int64_t pairs, MaxGeo g) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < pairs; q += stride) {
    const int64_t o = 2 * q;  // OW even: a pair never straddles two rows
    const int64_t ow = o % g.OW, t = o / g.OW, oh = t % g.OH, p = t / g.OH;
    const float *xp = x + p * g.H * g.W;
    float b0, b1;
    int64_t a0, a1;
    if (2 * oh + 1 < g.H && 2 * ow + 3 < g.W) {
      const int64_t i0 = 2 * oh * g.W + 2 * ow, i1 = i0 + g.W;  // multiples of 4
      const float4 r0 = *(const float4 *)(xp + i0), r1 = *(const float4 *)(xp + i1);
      b0 = r0.x, a0 = i0;
      take(r0.y, i0 + 1, b0, a0);
      take(r1.x, i1, b0, a0);
      take(r1.y, i1 + 1, b0, a0);
      b1 = r0.z, a1 = i0 + 2;
      take(r0.w, i0 + 3, b1, a1);
      take(r1.z, i1 + 2, b1, a1);
      take(r1.w, i1 + 3, b1, a1);
    } else {
      max_window(xp, g, oh, ow, b0, a0);
      max_window(xp, g, oh, ow + 1, b1, a1);
    }
    *(float2 *)(y + o) = make_float2(b0, b1);
    *(longlong2 *)(idx + o) = make_longlong2(a0, a1);
  }
}

// gx[p, i] = sum of gy[p, o] over the windows o covering i whose index picked i, in increasing o.
// A window oh covers row ih through tap r when oh * sh - ph + r * dh == ih; r descending gives oh
// ascending, so the additions run in the order of the CPU's serial scatter-add (which starts from
// zero and adds in T, as here).
template <class T>
__global__ void max_pool_backward_kernel(T *gx, const T *gy, const int64_t *idx, int64_t total, MaxGeo g) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t iw = e % g.W, t = e / g.W, ih = t % g.H, p = t / g.H;
    const int64_t flat = ih * g.W + iw, pbase = p * g.OH * g.OW;
    T acc = (T)0;
    for (int64_t r = g.kh - 1; r >= 0; r--) {
      const int64_t nh = ih + g.ph - r * g.dh;  // oh * sh
      if (nh < 0 || nh % g.sh != 0) continue;
      const int64_t oh = nh / g.sh;
      if (oh >= g.OH) continue;
      for (int64_t s = g.kw - 1; s >= 0; s--) {
        const int64_t nw = iw + g.pw - s * g.dw;
        if (nw < 0 || nw % g.sw != 0) continue;
        const int64_t ow = nw / g.sw;
        if (ow >= g.OW) continue;
        const int64_t o = pbase + oh * g.OW + ow;
        if (idx[o] == flat) acc += gy[o];
      }
    }
    gx[e] = acc;
  }
}

// One axis of average pooling (the CPU's avg_spans / adaptive_spans, computed per position).
struct Axis {
  int64_t n, on, k, s, p;
  bool include_pad, adaptive;
  // The input span [lo, hi) of output position o and its divisor factor.
  __device__ __forceinline__ void span(int64_t o, int64_t &lo, int64_t &hi, double &div) const {
    if (adaptive) {
      lo = o * n / on, hi = ((o + 1) * n + on - 1) / on;
      div = (double)(hi - lo);
      return;
    }
    const int64_t start = o * s - p, end = min(start + k, n + p);
    lo = max(start, (int64_t)0);
    hi = max(min(end, n), lo);
    div = (double)(include_pad ? end - start : hi - lo);
  }
  // A range of output positions holding every one whose span covers input i (a superset by one on
  // each side: callers test the span itself, so the range only has to be wide enough).
  __device__ __forceinline__ void covering(int64_t i, int64_t &o0, int64_t &o1) const {
    if (adaptive) {
      o0 = i * on / n - 1, o1 = ((i + 1) * on + n - 1) / n;
    } else {
      // start(o) <= i  <=>  o <= (i + p) / s;  start(o) + k > i  <=>  o > (i + p - k) / s.
      const int64_t m = i + p - k;
      o0 = m < 0 ? -1 : m / s;
      o1 = (i + p) / s + 1;
    }
    o0 = max(o0, (int64_t)0);
    o1 = min(o1, on - 1);
  }
};

template <class T>
__global__ void avg_pool_forward_kernel(T *y, const T *x, int64_t total, Axis ah, Axis aw, double divisor) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  const int64_t H = ah.n, W = aw.n, OH = ah.on, OW = aw.on;
  for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += stride) {
    const int64_t ow = o % OW, t = o / OW, oh = t % OH, p = t / OH;
    int64_t hlo, hhi, wlo, whi;
    double hdiv, wdiv;
    ah.span(oh, hlo, hhi, hdiv);
    aw.span(ow, wlo, whi, wdiv);
    const T *xp = x + p * H * W;
    double sum = 0;
    for (int64_t i = hlo; i < hhi; i++)
      for (int64_t j = wlo; j < whi; j++) sum += (double)xp[i * W + j];
    y[o] = (T)(sum / (divisor > 0 ? divisor : hdiv * wdiv));
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(T *gx, const T *gy, int64_t total, Axis ah, Axis aw, double divisor) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  const int64_t H = ah.n, W = aw.n, OH = ah.on, OW = aw.on;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t j = e % W, t = e / W, i = t % H, p = t / H;
    int64_t oh0, oh1, ow0, ow1;
    ah.covering(i, oh0, oh1);
    aw.covering(j, ow0, ow1);
    const T *gp = gy + p * OH * OW;
    double acc = 0;
    for (int64_t oh = oh0; oh <= oh1; oh++) {
      int64_t hlo, hhi;
      double hdiv;
      ah.span(oh, hlo, hhi, hdiv);
      if (i < hlo || i >= hhi) continue;
      for (int64_t ow = ow0; ow <= ow1; ow++) {
        int64_t wlo, whi;
        double wdiv;
        aw.span(ow, wlo, whi, wdiv);
        if (j < wlo || j >= whi) continue;
        acc += (double)gp[oh * OW + ow] / (divisor > 0 ? divisor : hdiv * wdiv);
      }
    }
    gx[e] = (T)acc;
  }
}

bool max_attrs(const double *attr, int64_t *a) {
  for (int i = 0; i < 8; i++)
    if (!int_arg(attr[i], i == 4 || i == 5 ? 0 : 1, (int64_t)1 << 30, &a[i])) return false;
  return true;
}

int64_t numel4(const kiln_tensor &t) { return t.shape[0] * t.shape[1] * t.shape[2] * t.shape[3]; }

unsigned blocks_for(int64_t n) { return grid_for(n, kThreads); }

bool aligned(const void *p, size_t to) { return (uintptr_t)p % to == 0; }

template <class T>
kiln_status max_forward(const Launch &L, int variant, const kiln_tensor &y, const kiln_tensor &idx,
                        const kiln_tensor &x, const MaxGeo &g) {
  const int64_t total = numel4(y);
  if (total == 0) return KILN_OK;
  T *yp = (T *)y.data;
  int64_t *ip = (int64_t *)idx.data;
  const T *xp = (const T *)x.data;
  const bool k2s2 =
      g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 && g.dw == 1;
  if constexpr (std::is_same_v<T, float>) {
    if (variant == 2 && k2s2 && g.W % 4 == 0 && g.OW % 2 == 0 && aligned(xp, 16) && aligned(yp, 8) && aligned(ip, 16)) {
      max_pool_k2s2_pairs_kernel<<<blocks_for(total / 2), kThreads, 0, L.stream>>>(yp, ip, xp, total / 2, g);
      return check_launch(L, "max_pool2d", "max_pool_k2s2_pairs_kernel");
    }
  }
  const bool paired = k2s2 && g.W % 2 == 0 && aligned(xp, 2 * sizeof(T));
  const unsigned blocks = blocks_for(total);
  if (paired)
    max_pool_forward_kernel<T, 2><<<blocks, kThreads, 0, L.stream>>>(yp, ip, xp, total, g);
  else if (k2s2)
    max_pool_forward_kernel<T, 1><<<blocks, kThreads, 0, L.stream>>>(yp, ip, xp, total, g);
  else
    max_pool_forward_kernel<T, 0><<<blocks, kThreads, 0, L.stream>>>(yp, ip, xp, total, g);
  return check_launch(L, "max_pool2d", "max_pool_forward_kernel");
}

}  // namespace

kiln_status max_pool2d_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &idx, const kiln_tensor &x,
                            const double *attr) {
  return max_pool2d_variant_cuda(L, kMaxPoolVariant, y, idx, x, attr);
}

kiln_status max_pool2d_variant_cuda(const Launch &L, int variant, const kiln_tensor &y, const kiln_tensor &idx,
                                    const kiln_tensor &x, const double *attr) {
  if (!planes_ok(x, y) || !planes_ok(y, idx) || y.shape[2] != idx.shape[2] || y.shape[3] != idx.shape[3])
    return fail(L, KILN_ERR_SHAPE, "max_pool2d: contiguous [N, C, H, W] operands with matching planes expected");
  if (x.dtype != y.dtype || idx.dtype != KILN_INT64 || (x.dtype != KILN_FLOAT32 && x.dtype != KILN_FLOAT64))
    return fail(L, KILN_ERR_DTYPE, "max_pool2d: float32/float64 values and int64 indices expected");
  int64_t a[8];
  if (!max_attrs(attr, a)) return fail(L, KILN_ERR_ARG, "max_pool2d: bad kernel, stride, padding or dilation");
  const MaxGeo g{x.shape[2], x.shape[3], y.shape[2], y.shape[3], a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]};
  return x.dtype == KILN_FLOAT32 ? max_forward<float>(L, variant, y, idx, x, g)
                                 : max_forward<double>(L, variant, y, idx, x, g);
}

kiln_status max_pool2d_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy,
                                     const kiln_tensor &idx, const double *attr) {
  const char *op = "max_pool2d_backward";
  if (!planes_ok(gx, gy) || !planes_ok(gy, idx) || gy.shape[2] != idx.shape[2] || gy.shape[3] != idx.shape[3])
    return fail(L, KILN_ERR_SHAPE, "%s: contiguous [N, C, H, W] operands with matching planes expected", op);
  if (gx.dtype != gy.dtype || idx.dtype != KILN_INT64 || (gx.dtype != KILN_FLOAT32 && gx.dtype != KILN_FLOAT64))
    return fail(L, KILN_ERR_DTYPE, "%s: float32/float64 gradients and int64 indices expected", op);
  int64_t a[8];
  if (!max_attrs(attr, a)) return fail(L, KILN_ERR_ARG, "%s: bad kernel, stride, padding or dilation", op);
  const MaxGeo g{gx.shape[2], gx.shape[3], gy.shape[2], gy.shape[3], a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]};
  const int64_t total = numel4(gx);
  if (total == 0) return KILN_OK;
  if (gx.dtype == KILN_FLOAT32)
    max_pool_backward_kernel<float><<<blocks_for(total), kThreads, 0, L.stream>>>(
        (float *)gx.data, (const float *)gy.data, (const int64_t *)idx.data, total, g);
  else
    max_pool_backward_kernel<double><<<blocks_for(total), kThreads, 0, L.stream>>>(
        (double *)gx.data, (const double *)gy.data, (const int64_t *)idx.data, total, g);
  return check_launch(L, op, "max_pool_backward_kernel");
}

kiln_status avg_pool2d_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, const double *attr,
                            bool adaptive, bool backward) {
  const char *op = adaptive ? (backward ? "adaptive_avg_pool2d_backward" : "adaptive_avg_pool2d")
                            : (backward ? "avg_pool2d_backward" : "avg_pool2d");
  if (!planes_ok(out, in)) return fail(L, KILN_ERR_SHAPE, "%s: contiguous [N, C, H, W] operands expected", op);
  if (out.dtype != in.dtype || (in.dtype != KILN_FLOAT32 && in.dtype != KILN_FLOAT64))
    return fail(L, KILN_ERR_DTYPE, "%s: float32 or float64 expected", op);
  // The big side is the image, the small one the pooled output.
  const kiln_tensor &img = backward ? out : in, &pooled = backward ? in : out;
  const int64_t H = img.shape[2], W = img.shape[3], OH = pooled.shape[2], OW = pooled.shape[3];
  Axis ah{H, OH, 0, 1, 0, false, adaptive}, aw{W, OW, 0, 1, 0, false, adaptive};
  double divisor = 0;
  if (!adaptive) {
    int64_t a[7];
    for (int i = 0; i < 7; i++)
      if (!int_arg(attr[i], i >= 4 ? 0 : 1, (int64_t)1 << 30, &a[i]))
        return fail(L, KILN_ERR_ARG, "%s: bad kernel, stride, padding or countIncludePad", op);
    if (!(attr[7] >= 0 && std::isfinite(attr[7]))) return fail(L, KILN_ERR_ARG, "%s: bad divisor", op);
    ah = Axis{H, OH, a[0], a[2], a[4], a[6] != 0, false};
    aw = Axis{W, OW, a[1], a[3], a[5], a[6] != 0, false};
    divisor = attr[7];
  }
  const int64_t total = numel4(out);
  if (total == 0) return KILN_OK;
  // No division by zero below: adaptive spans divide by on only for an existing output position,
  // covering() by n only for an existing input element (total > 0 here), and strides are >= 1.
  const unsigned blocks = blocks_for(total);
  if (in.dtype == KILN_FLOAT32) {
    if (backward)
      avg_pool_backward_kernel<float>
          <<<blocks, kThreads, 0, L.stream>>>((float *)out.data, (const float *)in.data, total, ah, aw, divisor);
    else
      avg_pool_forward_kernel<float>
          <<<blocks, kThreads, 0, L.stream>>>((float *)out.data, (const float *)in.data, total, ah, aw, divisor);
  } else {
    if (backward)
      avg_pool_backward_kernel<double>
          <<<blocks, kThreads, 0, L.stream>>>((double *)out.data, (const double *)in.data, total, ah, aw, divisor);
    else
      avg_pool_forward_kernel<double>
          <<<blocks, kThreads, 0, L.stream>>>((double *)out.data, (const double *)in.data, total, ah, aw, divisor);
  }
  return check_launch(L, op, backward ? "avg_pool_backward_kernel" : "avg_pool_forward_kernel");
}

}  // namespace kiln::cuda
