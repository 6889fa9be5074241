// Softmax and log-softmax along one dim, forward and backward, on contiguous float32/float64
// operands viewed as [outer, n, inner], as native/cpu/softmax.cpp. Variants:
//   warp    inner == 1, n <= 1024: one warp per row, the row in registers (one read, one write),
//           16-byte loads when the rows are aligned;
//   group   inner == 1, n > 1024: one block per row, online max / sum of exp in one read, then a
//           second read (mostly from L2) for the write;
//   cols    inner > 1: one thread per column of an [n, inner] block (coalesced across columns),
//           online max / sum over n, then the write.
// Each output row depends only on its own input row, and every reduction order depends only on
// the shape, so results are deterministic. Bench: build-cuda-tests/rows_test (bench section).
#include "rows.h"
#include "rows_common.cuh"

namespace kiln::cuda {

namespace {

using namespace rows;

struct Geometry {
  int64_t outer = 1, n = 1, inner = 1;
};

Geometry geometry(const kiln_tensor &t, int dim) {
  Geometry g;
  for (int d = 0; d < t.ndim; d++) (d < dim ? g.outer : d == dim ? g.n : g.inner) *= t.shape[d];
  return g;
}

// ---- forward ----

template <class T, int K, bool kVec>
__global__ void __launch_bounds__(kWarpBlock)
    softmax_warp_kernel(T *__restrict__ o, const T *__restrict__ x, int64_t rows, int n, bool log) {
  constexpr int W = kVec ? kVW<T> : 1, NV = K / W;
  const Group<false> g;
  for (int64_t r = g.first; r < rows; r += g.step) {
    const T *xr = x + r * n;
    T *orow = o + r * n;
    T v[K];
#pragma unroll
    for (int c = 0; c < NV; c++) {
      const int i = (c * kWarp + g.tid) * W;
      if (i < n) {
        if constexpr (kVec) {
          const Vec<T> t = ldv(xr + i);
#pragma unroll
          for (int j = 0; j < W; j++) v[c * W + j] = t.v[j];
        } else {
          v[c] = xr[i];
        }
      }
    }
    T m = neg_inf<T>();
#pragma unroll
    for (int c = 0; c < NV; c++) {
      if ((c * kWarp + g.tid) * W >= n) continue;
#pragma unroll
      for (int j = 0; j < W; j++) m = nan_max(m, v[c * W + j]);
    }
    m = warp_nan_max(m);
    T s = 0;
#pragma unroll
    for (int c = 0; c < NV; c++) {
      if ((c * kWarp + g.tid) * W >= n) continue;
#pragma unroll
      for (int j = 0; j < W; j++) {
        const T e = dexp(v[c * W + j] - m);
        s += e;
        if (!log) v[c * W + j] = e;
      }
    }
    s = warp_sum(s);
    const T inv = T(1) / s, ls = dlog(s);
#pragma unroll
    for (int c = 0; c < NV; c++) {
      const int i = (c * kWarp + g.tid) * W;
      if (i < n) {
        T out[W];
#pragma unroll
        for (int j = 0; j < W; j++) out[j] = log ? v[c * W + j] - m - ls : v[c * W + j] * inv;
        if constexpr (kVec) {
          Vec<T> t;
#pragma unroll
          for (int j = 0; j < W; j++) t.v[j] = out[j];
          stv(orow + i, t);
        } else {
          orow[i] = out[0];
        }
      }
    }
  }
}

template <class T, bool kBlock, bool kVec>
__global__ void softmax_group_kernel(T *__restrict__ o, const T *__restrict__ x, int64_t rows, int64_t n, bool log) {
  __shared__ T shm[32];
  const Group<kBlock> g;
  for (int64_t r = g.first; r < rows; r += g.step) {
    const T *xr = x + r * n;
    T m = neg_inf<T>(), s = 0;
    row_read<T, kVec>(xr, n, g.tid, g.size, [&](int64_t, T v) { ms_add(m, s, v); });
    ms_finish<kBlock>(m, s, shm);
    const T inv = T(1) / s, ls = dlog(s);
    row_map<T, kVec>(o + r * n, xr, (const T *)nullptr, n, g.tid, g.size,
                     [&](int64_t, T v, T) { return log ? v - m - ls : dexp(v - m) * inv; });
  }
}

template <class T>
__global__ void __launch_bounds__(kColBlock)
    softmax_cols_kernel(T *__restrict__ o, const T *__restrict__ x, int64_t outer, int64_t n, int64_t inner, bool log) {
  const int64_t total = outer * inner;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t q = t / inner, j = t % inner, base = q * n * inner + j;
    T m = neg_inf<T>(), s = 0;
    for (int64_t i = 0; i < n; i++) ms_add(m, s, x[base + i * inner]);
    if (!isfinite(m)) s = (T)NAN;
    const T inv = T(1) / s, ls = dlog(s);
    for (int64_t i = 0; i < n; i++) {
      const T v = x[base + i * inner];
      o[base + i * inner] = log ? v - m - ls : dexp(v - m) * inv;
    }
  }
}

// ---- backward: softmax gx = y (gy - sum(gy y)); log-softmax gx = gy - exp(y) sum(gy) ----

template <class T, int K, bool kVec>
__global__ void __launch_bounds__(kWarpBlock)
    softmax_backward_warp_kernel(T *__restrict__ gx, const T *__restrict__ gy, const T *__restrict__ y, int64_t rows,
                                 int n, bool log) {
  constexpr int W = kVec ? kVW<T> : 1, NV = K / W;
  const Group<false> g;
  for (int64_t r = g.first; r < rows; r += g.step) {
    const T *gr = gy + r * n, *yr = y + r * n;
    T gv[K], yv[K];
#pragma unroll
    for (int c = 0; c < NV; c++) {
      const int i = (c * kWarp + g.tid) * W;
      if (i < n) {
        if constexpr (kVec) {
          const Vec<T> a = ldv(gr + i), b = ldv(yr + i);
#pragma unroll
          for (int j = 0; j < W; j++) gv[c * W + j] = a.v[j], yv[c * W + j] = b.v[j];
        } else {
          gv[c] = gr[i];
          yv[c] = yr[i];
        }
      }
    }
    T s = 0;
#pragma unroll
    for (int c = 0; c < NV; c++) {
      if ((c * kWarp + g.tid) * W >= n) continue;
#pragma unroll
      for (int j = 0; j < W; j++) s += log ? gv[c * W + j] : gv[c * W + j] * yv[c * W + j];
    }
    s = warp_sum(s);
#pragma unroll
    for (int c = 0; c < NV; c++) {
      const int i = (c * kWarp + g.tid) * W;
      if (i < n) {
        T out[W];
#pragma unroll
        for (int j = 0; j < W; j++) {
          const T a = gv[c * W + j], b = yv[c * W + j];
          out[j] = log ? a - dexp(b) * s : b * (a - s);
        }
        if constexpr (kVec) {
          Vec<T> t;
#pragma unroll
          for (int j = 0; j < W; j++) t.v[j] = out[j];
          stv(gx + r * n + i, t);
        } else {
          gx[r * n + i] = out[0];
        }
      }
    }
  }
}

template <class T, bool kBlock, bool kVec>
__global__ void softmax_backward_group_kernel(T *__restrict__ gx, const T *__restrict__ gy, const T *__restrict__ y,
                                              int64_t rows, int64_t n, bool log) {
  __shared__ T shm[32];
  const Group<kBlock> g;
  for (int64_t r = g.first; r < rows; r += g.step) {
    const T *gr = gy + r * n, *yr = y + r * n;
    T s = 0;
    if (log) {
      row_read<T, kVec>(gr, n, g.tid, g.size, [&](int64_t, T a) { s += a; });
    } else {
      row_read2<T, kVec>(gr, yr, n, g.tid, g.size, [&](int64_t, T a, T b) { s += a * b; });
    }
    s = group_sum<kBlock>(s, shm);
    row_map<T, kVec>(gx + r * n, gr, yr, n, g.tid, g.size,
                     [&](int64_t, T a, T b) { return log ? a - dexp(b) * s : b * (a - s); });
  }
}

template <class T>
__global__ void __launch_bounds__(kColBlock)
    softmax_backward_cols_kernel(T *__restrict__ gx, const T *__restrict__ gy, const T *__restrict__ y, int64_t outer,
                                 int64_t n, int64_t inner, bool log) {
  const int64_t total = outer * inner;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t q = t / inner, j = t % inner, base = q * n * inner + j;
    T s = 0;
    for (int64_t i = 0; i < n; i++) s += log ? gy[base + i * inner] : gy[base + i * inner] * y[base + i * inner];
    for (int64_t i = 0; i < n; i++) {
      const T a = gy[base + i * inner], b = y[base + i * inner];
      gx[base + i * inner] = log ? a - dexp(b) * s : b * (a - s);
    }
  }
}

// ---- launch ----

kiln_status check(const Launch &L, const char *op, const kiln_tensor *ts, int nt, int dim) {
  for (int i = 0; i < nt; i++) {
    if (!contiguous(ts[i])) return fail(L, KILN_ERR_ARG, "%s: operand %d must be contiguous", op, i);
    if (ts[i].dtype != ts[0].dtype) return fail(L, KILN_ERR_DTYPE, "%s: operands must share one dtype", op);
  }
  if (ts[0].dtype != KILN_FLOAT32 && ts[0].dtype != KILN_FLOAT64)
    return fail(L, KILN_ERR_DTYPE, "%s: float32 or float64 only (half types are widened by the caller)", op);
  if (dim < 0 || dim >= (ts[0].ndim > 0 ? ts[0].ndim : 1)) return fail(L, KILN_ERR_ARG, "%s: bad dim %d", op, dim);
  // The CPU kernel assumes equal shapes; on the device a mismatch would write out of bounds.
  for (int i = 1; i < nt; i++) {
    bool same = ts[i].ndim == ts[0].ndim;
    for (int d = 0; same && d < ts[0].ndim; d++) same = ts[i].shape[d] == ts[0].shape[d];
    if (!same) return fail(L, KILN_ERR_SHAPE, "%s: operands must have the same shape", op);
  }
  return KILN_OK;
}

template <class T, int K>
void launch_warp_fwd(const Launch &L, T *o, const T *x, int64_t rows, int n, bool log, bool vec) {
  const unsigned grid = grid_for(rows, kRowsPerBlock);
  if constexpr (K >= kVW<T>) {
    if (vec) {
      softmax_warp_kernel<T, K, true><<<grid, kWarpBlock, 0, L.stream>>>(o, x, rows, n, log);
      return;
    }
  }
  softmax_warp_kernel<T, K, false><<<grid, kWarpBlock, 0, L.stream>>>(o, x, rows, n, log);
}

template <class T, int K>
void launch_warp_bwd(const Launch &L, T *gx, const T *gy, const T *y, int64_t rows, int n, bool log, bool vec) {
  const unsigned grid = grid_for(rows, kRowsPerBlock);
  if constexpr (K >= kVW<T>) {
    if (vec) {
      softmax_backward_warp_kernel<T, K, true><<<grid, kWarpBlock, 0, L.stream>>>(gx, gy, y, rows, n, log);
      return;
    }
  }
  softmax_backward_warp_kernel<T, K, false><<<grid, kWarpBlock, 0, L.stream>>>(gx, gy, y, rows, n, log);
}

template <class T>
kiln_status forward(const Launch &L, T *o, const T *x, const Geometry &g, bool log) {
  if (g.inner > 1) {
    softmax_cols_kernel<T>
        <<<grid_for(g.outer * g.inner, kColBlock), kColBlock, 0, L.stream>>>(o, x, g.outer, g.n, g.inner, log);
    return check_launch(L, "softmax", "softmax_cols_kernel");
  }
  const int64_t rows = g.outer, n = g.n;
  const bool vec = vec_ok<T>(n, {o, x});
  if (n <= kWarpRowMax) {
    switch (lane_count(n)) {
      case 1: launch_warp_fwd<T, 1>(L, o, x, rows, (int)n, log, vec); break;
      case 2: launch_warp_fwd<T, 2>(L, o, x, rows, (int)n, log, vec); break;
      case 4: launch_warp_fwd<T, 4>(L, o, x, rows, (int)n, log, vec); break;
      case 8: launch_warp_fwd<T, 8>(L, o, x, rows, (int)n, log, vec); break;
      case 16: launch_warp_fwd<T, 16>(L, o, x, rows, (int)n, log, vec); break;
      default: launch_warp_fwd<T, 32>(L, o, x, rows, (int)n, log, vec); break;
    }
    return check_launch(L, "softmax", "softmax_warp_kernel");
  }
  const unsigned grid = grid_for(rows, 1);
  if (vec)
    softmax_group_kernel<T, true, true><<<grid, kGroupBlock, 0, L.stream>>>(o, x, rows, n, log);
  else
    softmax_group_kernel<T, true, false><<<grid, kGroupBlock, 0, L.stream>>>(o, x, rows, n, log);
  return check_launch(L, "softmax", "softmax_group_kernel");
}

template <class T>
kiln_status backward(const Launch &L, T *gx, const T *gy, const T *y, const Geometry &g, bool log) {
  if (g.inner > 1) {
    softmax_backward_cols_kernel<T>
        <<<grid_for(g.outer * g.inner, kColBlock), kColBlock, 0, L.stream>>>(gx, gy, y, g.outer, g.n, g.inner, log);
    return check_launch(L, "softmax_backward", "softmax_backward_cols_kernel");
  }
  const int64_t rows = g.outer, n = g.n;
  const bool vec = vec_ok<T>(n, {gx, gy, y});
  if (n <= kWarpRowMax) {
    switch (lane_count(n)) {
      case 1: launch_warp_bwd<T, 1>(L, gx, gy, y, rows, (int)n, log, vec); break;
      case 2: launch_warp_bwd<T, 2>(L, gx, gy, y, rows, (int)n, log, vec); break;
      case 4: launch_warp_bwd<T, 4>(L, gx, gy, y, rows, (int)n, log, vec); break;
      case 8: launch_warp_bwd<T, 8>(L, gx, gy, y, rows, (int)n, log, vec); break;
      case 16: launch_warp_bwd<T, 16>(L, gx, gy, y, rows, (int)n, log, vec); break;
      default: launch_warp_bwd<T, 32>(L, gx, gy, y, rows, (int)n, log, vec); break;
    }
    return check_launch(L, "softmax_backward", "softmax_backward_warp_kernel");
  }
  const unsigned grid = grid_for(rows, 1);
  if (vec)
    softmax_backward_group_kernel<T, true, true><<<grid, kGroupBlock, 0, L.stream>>>(gx, gy, y, rows, n, log);
  else
    softmax_backward_group_kernel<T, true, false><<<grid, kGroupBlock, 0, L.stream>>>(gx, gy, y, rows, n, log);
  return check_launch(L, "softmax_backward", "softmax_backward_group_kernel");
}

}  // namespace

kiln_status softmax_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, int dim, bool log) {
  const kiln_tensor ts[2] = {out, in};
  if (kiln_status st = check(L, "softmax", ts, 2, dim)) return st;
  const Geometry g = geometry(in, dim);
  if (g.n == 0 || g.outer * g.inner == 0) return KILN_OK;
  if (in.dtype == KILN_FLOAT32) return forward<float>(L, (float *)out.data, (const float *)in.data, g, log);
  return forward<double>(L, (double *)out.data, (const double *)in.data, g, log);
}

kiln_status softmax_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy, const kiln_tensor &y,
                                  int dim, bool log) {
  const kiln_tensor ts[3] = {gx, gy, y};
  if (kiln_status st = check(L, "softmax_backward", ts, 3, dim)) return st;
  const Geometry g = geometry(y, dim);
  if (g.n == 0 || g.outer * g.inner == 0) return KILN_OK;
  if (y.dtype == KILN_FLOAT32)
    return backward<float>(L, (float *)gx.data, (const float *)gy.data, (const float *)y.data, g, log);
  return backward<double>(L, (double *)gx.data, (const double *)gy.data, (const double *)y.data, g, log);
}

}  // namespace kiln::cuda
