// Resampling along one dim by weighted taps (interpolate's linear, cubic and area modes, one dim
// at a time): x and y contiguous [outer, n, inner] and [outer, out, inner]; output position i reads
// input positions idx[t out + i] with weights w[t out + i], t < T:
//   forward   y[o, i, :] = w_0 x[o, idx_0, :] + w_1 x[o, idx_1, :] + ..., the products added in t
//             order in the element type (the composite of gathers, muls and adds it replaces gave
//             the same bits), one pass over y;
//   backward  gx[o, j, :] = the sum of w gy[o, i, :] over the taps (i, t) that read j, in (i, t)
//             order: each task owns an [o, :, k0:k1) slab of gx, so no two tasks touch an element
//             and the bits do not depend on the thread count.
#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <vector>

#include "cpu_ops.h"
#include "strided_loop.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kGrainElems = 1 << 15;
constexpr int64_t kSlab = 1024;  // inner elements per backward task (when inner is long)

// One row of the last dim's outputs: K taps (0: T_ of them, counted at run time).
template <int K, class T>
void gather_row(T *y, const T *x, const int64_t *idx, const T *w, int64_t out, int64_t T_) {
  const int64_t taps = K ? K : T_;
  for (int64_t i = 0; i < out; i++) {
    T acc = store<T>(load(w[i]) * load(x[idx[i]]));
    for (int64_t t = 1; t < taps; t++)
      acc = store<T>(load(acc) + load(store<T>(load(w[t * out + i]) * load(x[idx[t * out + i]]))));
    y[i] = acc;
  }
}

// gather_row's transpose: g[idx] += w gy[i] over the row's outputs i and taps t, in that order.
template <int K, class T>
void scatter_row(T *g, const T *gy, const int64_t *idx, const T *w, int64_t out, int64_t T_) {
  const int64_t taps = K ? K : T_;
  for (int64_t i = 0; i < out; i++)
    for (int64_t t = 0; t < taps; t++) {
      T &dst = g[idx[t * out + i]];
      dst = store<T>(load(dst) + load(store<T>(load(w[t * out + i]) * load(gy[i]))));
    }
}

template <class T>
void forward_typed(kiln_context *ctx, T *y, const T *x, const int64_t *idx, const T *w, int64_t outer, int64_t n,
                   int64_t out, int64_t inner, int64_t T_) {
  using C = compute_t<T>;
  const int64_t rows = outer * out;
  const int64_t grain = std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, inner * T_));
  if (inner == 1) {  // the last dim: one gather per tap, a row of outputs per task step
    parallel_for(ctx->pool.get(), outer, std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, out * T_)),
                 [&](int64_t o0, int64_t o1) {
                   for (int64_t o = o0; o < o1; o++) {
                     const T *xo = x + o * n;
                     T *yo = y + o * out;
                     switch (T_) {  // the tap loop unrolled for the common counts
                       case 2: gather_row<2>(yo, xo, idx, w, out, T_); break;
                       case 4: gather_row<4>(yo, xo, idx, w, out, T_); break;
                       default: gather_row<0>(yo, xo, idx, w, out, T_);
                     }
                   }
                 });
    return;
  }
  parallel_for(ctx->pool.get(), rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const int64_t o = r / out, i = r % out;
      T *yr = y + r * inner;
      const T *x0 = x + (o * n + idx[i]) * inner;
      const C w0 = load(w[i]);
      for (int64_t k = 0; k < inner; k++) yr[k] = store<T>(w0 * load(x0[k]));
      for (int64_t t = 1; t < T_; t++) {
        const T *xt = x + (o * n + idx[t * out + i]) * inner;
        const C wt = load(w[t * out + i]);
        for (int64_t k = 0; k < inner; k++) yr[k] = store<T>(load(yr[k]) + load(store<T>(wt * load(xt[k]))));
      }
    }
  });
}

template <class T>
void backward_typed(kiln_context *ctx, T *gx, const T *gy, const int64_t *idx, const T *w, int64_t outer, int64_t n,
                    int64_t out, int64_t inner, int64_t T_) {
  using C = compute_t<T>;
  if (inner == 1) {  // the last dim: each task a whole row of gx
    parallel_for(ctx->pool.get(), outer, std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, n + out * T_)),
                 [&](int64_t o0, int64_t o1) {
                   for (int64_t o = o0; o < o1; o++) {
                     T *g = gx + o * n;
                     const T *gr = gy + o * out;
                     std::fill(g, g + n, store<T>((C)0));
                     switch (T_) {
                       case 2: scatter_row<2>(g, gr, idx, w, out, T_); break;
                       case 4: scatter_row<4>(g, gr, idx, w, out, T_); break;
                       default: scatter_row<0>(g, gr, idx, w, out, T_);
                     }
                   }
                 });
    return;
  }
  const int64_t slabs = (inner + kSlab - 1) / kSlab, tasks = outer * slabs;
  const int64_t per = std::max<int64_t>(1, (n + out * T_) * std::min(inner, kSlab));
  parallel_for(ctx->pool.get(), tasks, std::max<int64_t>(1, kGrainElems / per), [&](int64_t a, int64_t b) {
    for (int64_t task = a; task < b; task++) {
      const int64_t o = task / slabs, k0 = task % slabs * kSlab, k1 = std::min(inner, k0 + kSlab);
      T *g = gx + o * n * inner;
      for (int64_t j = 0; j < n; j++) std::fill(g + j * inner + k0, g + j * inner + k1, store<T>((C)0));
      for (int64_t i = 0; i < out; i++) {
        const T *gr = gy + (o * out + i) * inner;
        for (int64_t t = 0; t < T_; t++) {
          T *dst = g + idx[t * out + i] * inner;
          const C wt = load(w[t * out + i]);
          for (int64_t k = k0; k < k1; k++) dst[k] = store<T>(load(dst[k]) + load(store<T>(wt * load(gr[k]))));
        }
      }
    }
  });
}

bool dense3(const kiln_tensor &t) {
  return t.ndim == 3 && (t.shape[2] <= 1 || t.strides[2] == 1) && (t.shape[1] <= 1 || t.strides[1] == t.shape[2]) &&
         (t.shape[0] <= 1 || t.strides[0] == t.shape[1] * t.shape[2]);
}

// The taps: int64 idx and w (x's dtype), contiguous, T out of them, each index in [0, n).
kiln_status check_taps(kiln_context *ctx, const char *op, const kiln_tensor &idx, const kiln_tensor &w, int64_t T_,
                       int64_t out, int64_t n, int32_t dtype) {
  if (idx.dtype != KILN_INT64 || w.dtype != dtype)
    return fail(ctx, KILN_ERR_DTYPE, "%s: int64 indices and weights of the input's dtype expected", op);
  if (idx.ndim != 1 || w.ndim != 1 || idx.shape[0] != T_ * out || w.shape[0] != T_ * out ||
      (idx.shape[0] > 1 && (idx.strides[0] != 1 || w.strides[0] != 1)))
    return fail(ctx, KILN_ERR_SHAPE, "%s: %lld contiguous taps (count %lld x %lld outputs) expected", op,
                (long long)(T_ * out), (long long)T_, (long long)out);
  const int64_t *p = (const int64_t *)idx.data;
  for (int64_t i = 0; i < T_ * out; i++)
    if (p[i] < 0 || p[i] >= n)
      return fail(ctx, KILN_ERR_INDEX, "%s: tap %" PRId64 " reads position %" PRId64 " of %" PRId64, op, i, p[i], n);
  return KILN_OK;
}

// The operands: `big` [outer, n, inner] and `small` [outer, out, inner] contiguous, one float dtype;
// the taps as check_taps wants them.
kiln_status check(kiln_context *ctx, const char *op, const kiln_tensor &big, const kiln_tensor &small,
                  const kiln_tensor &idx, const kiln_tensor &w, int64_t T_) {
  if (!dense3(big) || !dense3(small) || small.shape[0] != big.shape[0] || small.shape[2] != big.shape[2])
    return fail(ctx, KILN_ERR_SHAPE, "%s: contiguous [outer, positions, inner] operands expected", op);
  if (small.dtype != big.dtype) return fail(ctx, KILN_ERR_DTYPE, "%s: the operands' dtypes differ", op);
  if (T_ < 1) return fail(ctx, KILN_ERR_ARG, "%s: at least one tap per output", op);
  return check_taps(ctx, op, idx, w, T_, small.shape[1], big.shape[1], big.dtype);
}

}  // namespace

kiln_status resample_cpu(kiln_context *ctx, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor &idx,
                         const kiln_tensor &w, int64_t T_) {
  if (kiln_status st = check(ctx, "resample", x, y, idx, w, T_)) return st;
  const int64_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2], out = y.shape[1];
  if (outer * out * inner == 0) return KILN_OK;
  KILN_DISPATCH_FLOAT(x.dtype, return fail(ctx, KILN_ERR_DTYPE, "resample: needs a floating dtype"), {
    forward_typed<scalar_t>(ctx, (scalar_t *)y.data, (const scalar_t *)x.data, (const int64_t *)idx.data,
                            (const scalar_t *)w.data, outer, n, out, inner, T_);
    return KILN_OK;
  });
}

kiln_status resample_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gy,
                                  const kiln_tensor &idx, const kiln_tensor &w, int64_t T_) {
  if (kiln_status st = check(ctx, "resample_backward", gx, gy, idx, w, T_)) return st;
  const int64_t outer = gx.shape[0], n = gx.shape[1], inner = gx.shape[2], out = gy.shape[1];
  if (outer * n * inner == 0) return KILN_OK;
  KILN_DISPATCH_FLOAT(gx.dtype, return fail(ctx, KILN_ERR_DTYPE, "resample_backward: needs a floating dtype"), {
    backward_typed<scalar_t>(ctx, (scalar_t *)gx.data, (const scalar_t *)gy.data, (const int64_t *)idx.data,
                             (const scalar_t *)w.data, outer, n, out, inner, T_);
    return KILN_OK;
  });
}

}  // namespace kiln::cpu
