// Cross-entropy fused with log-softmax over the class dim of contiguous [rows, C] float32/float64
// logits, as native/cpu/cross_entropy.cpp: class-index targets (int64, any stride, ignore_index)
// or class-probability targets (logits-shaped), class weights, label smoothing e:
//   indices:       (1 - e) w[t] (lse - x[t]) + e / C sum_c w[c] (lse - x[c])
//   probabilities: sum_c w[c] ((1 - e) p[c] + e / C) (lse - x[c])
// with the saved lse and the row's weight wrow (w[t]; 0 when ignored). Backward from the logits and
// lse: g (A softmax(x)[j] - ((1 - e) p[j] + e / C) w[j]), A = sum_c w[c] ((1 - e) p[c] + e / C).
// Forward reads each row once: the online max / sum of exp runs together with the target pick and
// the sums smoothing and probability targets need. Rows up to kWarpClasses go one warp per row,
// longer ones one block per row; 16-byte loads when aligned. Weighted sums run in double.
// Out-of-range index targets: the CPU kernel fails with ERR_INDEX; a kernel cannot report that
// without a synchronisation, so such rows get loss = wrow = NaN (and a zero gradient, as on CPU),
// and the forward records the first such row and its target in the bad-index slot it is given
// (bad_index.h), which the runtime reports with the CPU's message at the next synchronisation.
// ignore_index is never bad, even outside [0, C). The backward records nothing: on CPU it does not
// fail either (a bad row's gradient is zero there too).
#include "bad_index.h"
#include "rows.h"
#include "rows_common.cuh"

namespace kiln::cuda {

namespace {

using namespace rows;

constexpr int64_t kWarpClasses = 8192;  // rows up to this many classes: one warp per row

struct Args {
  int64_t rows, C;
  bool prob;
  int64_t ignore;
  double eps;
};

// sum(w) in double, one block (deterministic); both passes need it.
template <class T>
__global__ void weight_sum_kernel(double *out, const T *__restrict__ w, int64_t C) {
  __shared__ double shd[32];
  double s = 0;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) s += (double)w[i];
  s = block_sum(s, shd);
  if (threadIdx.x == 0) *out = s;
}

template <class T, bool kBlock, bool kVec>
__global__ void cross_entropy_kernel(T *__restrict__ loss, T *__restrict__ lse, T *__restrict__ wrow,
                                     const T *__restrict__ x, const T *__restrict__ ptarget,
                                     const int64_t *__restrict__ itarget, int64_t tstride, const T *__restrict__ w,
                                     const double *__restrict__ swp, int64_t rows, int64_t C, int64_t ignore, T keep,
                                     T share, bool smooth, int64_t *bad) {
  __shared__ T shm[32];
  __shared__ double shd[32];
  const Group<kBlock> g;
  const T sw = w ? (T)*swp : (T)C;
  for (int64_t r = g.first; r < rows; r += g.step) {
    const T *xr = x + r * C;
    T m = neg_inf<T>(), s = 0;
    double st = 0, stx = 0, sx = 0;
    if (ptarget) {
      row_read2<T, kVec>(xr, ptarget + r * C, C, g.tid, g.size, [&](int64_t i, T v, T t) {
        ms_add(m, s, v);
        const double wt = w ? (double)w[i] * (double)t : (double)t;
        st += wt;
        stx += wt * (double)v;
        if (smooth) sx += w ? (double)w[i] * (double)v : (double)v;
      });
    } else if constexpr (kVec) {
      // Class-index targets, 16-byte loads: one max and at most one rescale per vector instead of a
      // branch per element (ms_add), so the loads stay in flight; NaN is tracked on the side.
      constexpr int W = kVW<T>;
      const int64_t nv = C / W;  // vec_ok: C is a multiple of W
      bool nan = false;
#pragma unroll 4
      for (int64_t k = g.tid; k < nv; k += g.size) {
        const Vec<T> t = ldv(xr + k * W);
        T cm = t.v[0];
#pragma unroll
        for (int j = 0; j < W; j++) {
          cm = t.v[j] > cm ? t.v[j] : cm;
          nan |= t.v[j] != t.v[j];
        }
        if (cm > m) {
          s = s == T(0) ? T(0) : s * dexp(m - cm);
          m = cm;
        }
        if (m != neg_inf<T>()) {
#pragma unroll
          for (int j = 0; j < W; j++) s += dexp(t.v[j] - m);
        }
        if (smooth) {
#pragma unroll
          for (int j = 0; j < W; j++) sx += w ? (double)w[k * W + j] * (double)t.v[j] : (double)t.v[j];
        }
      }
      if (nan) m = (T)NAN;
    } else {
      row_read<T, kVec>(xr, C, g.tid, g.size, [&](int64_t i, T v) {
        ms_add(m, s, v);
        if (smooth) sx += w ? (double)w[i] * (double)v : (double)v;
      });
    }
    ms_finish<kBlock>(m, s, shm);
    if (ptarget) {
      st = group_sum<kBlock>(st, shd);
      stx = group_sum<kBlock>(stx, shd);
    }
    if (smooth) sx = group_sum<kBlock>(sx, shd);
    if (g.tid == 0) {
      const T l = m + dlog(s);
      lse[r] = l;
      T v = 0, wr = 1;
      bool whole = true;  // false: ignored or bad target, no smoothing term
      if (ptarget) {
        v = keep * (l * (T)st - (T)stx);
      } else {
        const int64_t t = itarget[r * tstride];
        if (t == ignore) {
          wr = 0;
          whole = false;
        } else if (t < 0 || t >= C) {
          v = wr = (T)NAN;
          whole = false;
          bad_index::record_first_bad(bad, r, t);
        } else {
          wr = w ? w[t] : T(1);
          v = keep * wr * (l - xr[t]);
        }
      }
      if (whole && smooth) v += share * (l * sw - (T)sx);
      loss[r] = v;
      wrow[r] = wr;
    }
  }
}

template <class T, bool kBlock, bool kVec>
__global__ void cross_entropy_backward_kernel(T *__restrict__ gx, const T *__restrict__ x,
                                              const T *__restrict__ ptarget, const int64_t *__restrict__ itarget,
                                              int64_t tstride, const T *__restrict__ w, const double *__restrict__ swp,
                                              const T *__restrict__ lse, const T *__restrict__ gloss, int64_t gstride,
                                              int64_t rows, int64_t C, int64_t ignore, T keep, T share) {
  __shared__ double shd[32];
  const Group<kBlock> g;
  const T sw = w ? (T)*swp : (T)C;
  for (int64_t r = g.first; r < rows; r += g.step) {
    const T *xr = x + r * C;
    T *o = gx + r * C;
    const T gl = gloss[r * gstride], l = lse[r];
    if (ptarget) {
      const T *tr = ptarget + r * C;
      double st = 0;
      row_read<T, kVec>(tr, C, g.tid, g.size, [&](int64_t i, T t) { st += w ? (double)w[i] * (double)t : (double)t; });
      st = group_sum<kBlock>(st, shd);
      const T a = gl * (keep * (T)st + share * sw), ts = gl * keep, c = gl * share;
      row_map<T, kVec>(o, xr, tr, C, g.tid, g.size,
                       [&](int64_t i, T v, T t) { return a * dexp(v - l) - (ts * t + c) * (w ? w[i] : T(1)); });
      continue;
    }
    const int64_t t = itarget[r * tstride];
    if (t == ignore || t < 0 || t >= C) {
      row_map<T, kVec>(o, xr, (const T *)nullptr, C, g.tid, g.size, [](int64_t, T, T) { return T(0); });
      continue;
    }
    const T wt = w ? w[t] : T(1), a = gl * (keep * wt + share * sw), c = gl * share, d = gl * keep * wt;
    row_map<T, kVec>(o, xr, (const T *)nullptr, C, g.tid, g.size, [&](int64_t i, T v, T) {
      T res = a * dexp(v - l) - c * (w ? w[i] : T(1));
      if (i == t) res -= d;
      return res;
    });
  }
}

// logits [rows, C] contiguous; target int64 [rows] or logits-shaped; weight [C] or [0].
kiln_status check(const Launch &L, const char *op, const kiln_tensor &logits, const kiln_tensor &target,
                  const kiln_tensor &weight, const kiln_tensor *rowwise, int nrow, const double *attr, Args *a) {
  if (logits.ndim != 2 || !contiguous(logits))  // (a size-1 dim may have any stride)
    return fail(L, KILN_ERR_SHAPE, "%s: logits must be contiguous [rows, C]", op);
  if (logits.dtype != KILN_FLOAT32 && logits.dtype != KILN_FLOAT64)
    return fail(L, KILN_ERR_DTYPE, "%s: float32 or float64 logits only (half types are widened by the caller)", op);
  a->rows = logits.shape[0];
  a->C = logits.shape[1];
  a->prob = target.dtype != KILN_INT64;
  if (a->C == 0 && a->rows > 0) return fail(L, KILN_ERR_SHAPE, "%s: logits need at least one class", op);
  if (a->prob) {
    if (target.dtype != logits.dtype || target.ndim != 2 || target.shape[0] != a->rows || target.shape[1] != a->C ||
        !contiguous(target))
      return fail(L, KILN_ERR_SHAPE, "%s: probability targets must be contiguous and shaped like the logits", op);
  } else if (target.ndim != 1 || target.shape[0] != a->rows) {
    return fail(L, KILN_ERR_SHAPE, "%s: index targets must be int64 [rows]", op);
  }
  if (weight.dtype != logits.dtype || weight.ndim != 1 || (weight.shape[0] != a->C && weight.shape[0] != 0) ||
      (weight.shape[0] > 1 && weight.strides[0] != 1))
    return fail(L, KILN_ERR_SHAPE, "%s: weight must be contiguous [C] or empty", op);
  for (int i = 0; i < nrow; i++)
    if (rowwise[i].dtype != logits.dtype || rowwise[i].ndim != 1 || rowwise[i].shape[0] != a->rows)
      return fail(L, KILN_ERR_SHAPE, "%s: per-row operand %d must be [rows] in the logits' dtype", op, i);
  const double ig = attr[0], eps = attr[1];
  if (ig != std::floor(ig) || std::fabs(ig) > 9e15 || !(eps >= 0 && eps <= 1))
    return fail(L, KILN_ERR_ARG, "%s: bad ignore_index or label_smoothing", op);
  a->ignore = (int64_t)ig;
  a->eps = eps;
  return KILN_OK;
}

// sum(w) into scratch (null when there is no weight).
template <class T>
kiln_status weight_sum(const Launch &L, const char *op, const T *w, int64_t C, Scratch &sc) {
  if (!w) return KILN_OK;
  if (!sc.ptr) return fail(L, KILN_ERR_OOM, "%s: no scratch for the weight sum", op);
  weight_sum_kernel<T><<<1, 1024, 0, L.stream>>>(sc.as<double>(), w, C);
  return check_launch(L, op, "weight_sum_kernel");
}

template <class T>
kiln_status forward(const Launch &L, const Args &a, const kiln_tensor &loss, const kiln_tensor &lse,
                    const kiln_tensor &wrow, const kiln_tensor &logits, const kiln_tensor &target,
                    const kiln_tensor &weight, int64_t *bad) {
  const char *op = "cross_entropy";
  if (a.rows == 0) return KILN_OK;
  const int64_t C = a.C;
  const T *x = (const T *)logits.data, *w = weight.shape[0] ? (const T *)weight.data : nullptr;
  const T *pt = a.prob ? (const T *)target.data : nullptr;
  const int64_t *it = a.prob ? nullptr : (const int64_t *)target.data;
  const int64_t ts = a.prob ? 0 : target.strides[0];
  T *lo = (T *)loss.data, *lseo = (T *)lse.data, *wo = (T *)wrow.data;
  const T e = (T)a.eps, keep = 1 - e, share = C ? e / (T)C : T(0);
  Scratch sc(L, w ? sizeof(double) : 0);
  if (kiln_status st = weight_sum<T>(L, op, w, C, sc)) return st;
  const double *swp = sc.as<double>();
  const bool vec = vec_ok<T>(C, {x, pt}), smooth = e != 0;
  if (C <= kWarpClasses) {
    const unsigned grid = grid_for(a.rows, kRowsPerBlock);
    if (vec)
      cross_entropy_kernel<T, false, true><<<grid, kWarpBlock, 0, L.stream>>>(
          lo, lseo, wo, x, pt, it, ts, w, swp, a.rows, C, a.ignore, keep, share, smooth, bad);
    else
      cross_entropy_kernel<T, false, false><<<grid, kWarpBlock, 0, L.stream>>>(
          lo, lseo, wo, x, pt, it, ts, w, swp, a.rows, C, a.ignore, keep, share, smooth, bad);
  } else {
    const unsigned grid = grid_for(a.rows, 1);
    if (vec)
      cross_entropy_kernel<T, true, true><<<grid, kGroupBlock, 0, L.stream>>>(
          lo, lseo, wo, x, pt, it, ts, w, swp, a.rows, C, a.ignore, keep, share, smooth, bad);
    else
      cross_entropy_kernel<T, true, false><<<grid, kGroupBlock, 0, L.stream>>>(
          lo, lseo, wo, x, pt, it, ts, w, swp, a.rows, C, a.ignore, keep, share, smooth, bad);
  }
  return check_launch(L, op, "cross_entropy_kernel");
}

template <class T>
kiln_status backward(const Launch &L, const Args &a, const kiln_tensor &gx, const kiln_tensor &logits,
                     const kiln_tensor &target, const kiln_tensor &weight, const kiln_tensor &lse,
                     const kiln_tensor &gloss) {
  const char *op = "cross_entropy_backward";
  if (a.rows == 0) return KILN_OK;
  const int64_t C = a.C;
  const T *x = (const T *)logits.data, *w = weight.shape[0] ? (const T *)weight.data : nullptr;
  const T *pt = a.prob ? (const T *)target.data : nullptr;
  const int64_t *it = a.prob ? nullptr : (const int64_t *)target.data;
  const int64_t ts = a.prob ? 0 : target.strides[0];
  const T *li = (const T *)lse.data, *gi = (const T *)gloss.data;
  const int64_t gs = gloss.strides[0];
  T *go = (T *)gx.data;
  const T e = (T)a.eps, keep = 1 - e, share = C ? e / (T)C : T(0);
  Scratch sc(L, w ? sizeof(double) : 0);
  if (kiln_status st = weight_sum<T>(L, op, w, C, sc)) return st;
  const double *swp = sc.as<double>();
  const bool vec = vec_ok<T>(C, {x, pt, go});
  if (C <= kWarpClasses) {
    const unsigned grid = grid_for(a.rows, kRowsPerBlock);
    if (vec)
      cross_entropy_backward_kernel<T, false, true>
          <<<grid, kWarpBlock, 0, L.stream>>>(go, x, pt, it, ts, w, swp, li, gi, gs, a.rows, C, a.ignore, keep, share);
    else
      cross_entropy_backward_kernel<T, false, false>
          <<<grid, kWarpBlock, 0, L.stream>>>(go, x, pt, it, ts, w, swp, li, gi, gs, a.rows, C, a.ignore, keep, share);
  } else {
    const unsigned grid = grid_for(a.rows, 1);
    if (vec)
      cross_entropy_backward_kernel<T, true, true>
          <<<grid, kGroupBlock, 0, L.stream>>>(go, x, pt, it, ts, w, swp, li, gi, gs, a.rows, C, a.ignore, keep, share);
    else
      cross_entropy_backward_kernel<T, true, false>
          <<<grid, kGroupBlock, 0, L.stream>>>(go, x, pt, it, ts, w, swp, li, gi, gs, a.rows, C, a.ignore, keep, share);
  }
  return check_launch(L, op, "cross_entropy_backward_kernel");
}

}  // namespace

kiln_status cross_entropy_cuda(const Launch &L, const kiln_tensor &loss, const kiln_tensor &lse,
                               const kiln_tensor &wrow, const kiln_tensor &logits, const kiln_tensor &target,
                               const kiln_tensor &weight, const double *attr) {
  return cross_entropy_cuda(L, loss, lse, wrow, logits, target, weight, attr, nullptr);
}

kiln_status cross_entropy_cuda(const Launch &L, const kiln_tensor &loss, const kiln_tensor &lse,
                               const kiln_tensor &wrow, const kiln_tensor &logits, const kiln_tensor &target,
                               const kiln_tensor &weight, const double *attr, int64_t *bad_index) {
  Args a;
  const kiln_tensor rowwise[3] = {loss, lse, wrow};
  if (kiln_status st = check(L, "cross_entropy", logits, target, weight, rowwise, 3, attr, &a)) return st;
  if (!(loss.strides[0] == 1 && lse.strides[0] == 1 && wrow.strides[0] == 1) && a.rows > 1)
    return fail(L, KILN_ERR_ARG, "cross_entropy: outputs must be contiguous");
  int64_t *bad = a.prob ? nullptr : bad_index;
  if (logits.dtype == KILN_FLOAT32) return forward<float>(L, a, loss, lse, wrow, logits, target, weight, bad);
  return forward<double>(L, a, loss, lse, wrow, logits, target, weight, bad);
}

kiln_status cross_entropy_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &logits,
                                        const kiln_tensor &target, const kiln_tensor &weight, const kiln_tensor &lse,
                                        const kiln_tensor &gloss, const double *attr) {
  Args a;
  const kiln_tensor rowwise[2] = {lse, gloss};
  if (kiln_status st = check(L, "cross_entropy_backward", logits, target, weight, rowwise, 2, attr, &a)) return st;
  if (gx.dtype != logits.dtype || gx.ndim != 2 || gx.shape[0] != a.rows || gx.shape[1] != a.C || !contiguous(gx) ||
      (a.rows > 1 && lse.strides[0] != 1))
    return fail(L, KILN_ERR_SHAPE, "cross_entropy_backward: gx must be contiguous and shaped like the logits");
  if (logits.dtype == KILN_FLOAT32) return backward<float>(L, a, gx, logits, target, weight, lse, gloss);
  return backward<double>(L, a, gx, logits, target, weight, lse, gloss);
}

}  // namespace kiln::cuda
