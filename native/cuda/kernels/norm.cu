// Layer norm and RMS norm over the last dim of a contiguous [rows, n] float32/float64 input, forward
// and backward, as native/cpu/norm.cpp (same saved mean / rstd per row; rms: mean 0 and rstd from
// mean(x^2); absent weight / bias are empty tensors). Sums run in the element type (float for
// float32, double for float64), the variance as the sum of squares of x - mean, never
// E[x^2] - E[x]^2. Variants:
//   warp   n <= 1024: one warp per row, the row in registers (one read, one write), 16-byte access
//          when aligned;
//   block  n > 1024: one block per row (forward) or per fixed chunk of rows (backward), three
//          passes over the row, the later ones mostly from L1/L2.
// Backward's grad weight / grad bias are column sums without atomics: rows are cut into a number
// of chunks that depends only on (rows, n); each warp (warp variant) or block keeps its own partial
// column sums (registers / its own scratch row), and a second kernel adds the partials in a fixed
// order, so the bits are the same on every run.
#include <algorithm>

#include "rows.h"
#include "rows_common.cuh"

namespace kiln::cuda {

namespace {

using namespace rows;

// Backward warp variant: warps (rows in flight) per block; its ~155 registers per thread (float,
// n <= 1024) leave room for 3 such blocks per SM.
constexpr int kBwdWarps = 4;
constexpr int64_t kWarpChunks = 1056;                // blocks of the backward warp variant (at most)
constexpr int64_t kBlockChunks = 264;                // blocks of the backward block variant (at most)
constexpr int64_t kPartialElems = (int64_t)1 << 22;  // bound on partial rows x n (block variant)

// ---- forward ----

template <class T, int K, bool kVec>
__global__ void __launch_bounds__(kWarpBlock)
    layer_norm_warp_kernel(T *__restrict__ y, T *__restrict__ mean_o, T *__restrict__ rstd_o, const T *__restrict__ x,
                           const T *__restrict__ w, const T *__restrict__ b, int64_t rows, int n, T eps, bool rms) {
  constexpr int W = kVec ? kVW<T> : 1, NV = K / W;
  const Group<false> g;
  for (int64_t r = g.first; r < rows; r += g.step) {
    const T *xr = x + r * n;
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
      } else {
#pragma unroll
        for (int j = 0; j < W; j++) v[c * W + j] = T(0);
      }
    }
    T mean = 0;
    if (!rms && n > 0) {
      T s = 0;
#pragma unroll
      for (int k = 0; k < K; k++) s += v[k];  // the padding is 0
      mean = warp_sum(s) / (T)n;
    }
    T q = 0;
#pragma unroll
    for (int c = 0; c < NV; c++) {
      if ((c * kWarp + g.tid) * W >= n) continue;
#pragma unroll
      for (int j = 0; j < W; j++) {
        const T d = v[c * W + j] - mean;
        q += d * d;
      }
    }
    q = warp_sum(q);
    const T rstd = T(1) / dsqrt(q / (T)n + eps);
    if (g.tid == 0) {
      mean_o[r] = mean;
      rstd_o[r] = rstd;
    }
#pragma unroll
    for (int c = 0; c < NV; c++) {
      const int i = (c * kWarp + g.tid) * W;
      if (i < n) {
        T out[W], wv[W], bv[W];
        if constexpr (kVec) {
          if (w) {
            const Vec<T> t = ldv(w + i);
#pragma unroll
            for (int j = 0; j < W; j++) wv[j] = t.v[j];
          }
          if (b) {
            const Vec<T> t = ldv(b + i);
#pragma unroll
            for (int j = 0; j < W; j++) bv[j] = t.v[j];
          }
        } else {
          if (w) wv[0] = w[i];
          if (b) bv[0] = b[i];
        }
#pragma unroll
        for (int j = 0; j < W; j++) {
          T o = (v[c * W + j] - mean) * rstd;
          if (w) o *= wv[j];
          if (b) o += bv[j];
          out[j] = o;
        }
        if constexpr (kVec) {
          Vec<T> t;
#pragma unroll
          for (int j = 0; j < W; j++) t.v[j] = out[j];
          stv(y + r * n + i, t);
        } else {
          y[r * n + i] = out[0];
        }
      }
    }
  }
}

template <class T, bool kVec>
__global__ void layer_norm_block_kernel(T *__restrict__ y, T *__restrict__ mean_o, T *__restrict__ rstd_o,
                                        const T *__restrict__ x, const T *__restrict__ w, const T *__restrict__ b,
                                        int64_t rows, int64_t n, T eps, bool rms) {
  __shared__ T shm[32];
  const Group<true> g;
  for (int64_t r = g.first; r < rows; r += g.step) {
    const T *xr = x + r * n;
    T mean = 0;
    if (!rms) {
      T s = 0;
      row_read<T, kVec>(xr, n, g.tid, g.size, [&](int64_t, T v) { s += v; });
      mean = block_sum(s, shm) / (T)n;
    }
    T q = 0;
    row_read<T, kVec>(xr, n, g.tid, g.size, [&](int64_t, T v) { q += (v - mean) * (v - mean); });
    q = block_sum(q, shm);
    const T rstd = T(1) / dsqrt(q / (T)n + eps);
    if (g.tid == 0) {
      mean_o[r] = mean;
      rstd_o[r] = rstd;
    }
    row_map<T, kVec>(y + r * n, xr, w, n, g.tid, g.size, [&](int64_t i, T v, T wv) {
      T o = (v - mean) * rstd;
      if (w) o *= wv;
      if (b) o += b[i];
      return o;
    });
  }
}

// ---- backward: gx = rstd (g - mean(g) - xh mean(g xh)), g = gy w, xh = (x - mean) rstd ----

// Block b owns rows [b chunk, (b + 1) chunk); its warp k takes every kBwdWarps-th of them, keeps
// its column partials of gy xh and gy in registers and writes them to partial row b kBwdWarps + k
// (zeros when it had no rows): part = [2][P][n] with P = gridDim.x kBwdWarps.
template <class T, int K, bool kVec>
__global__ void __launch_bounds__(kBwdWarps *kWarp)
    layer_norm_backward_warp_kernel(T *__restrict__ gx, T *__restrict__ part, const T *__restrict__ gy,
                                    const T *__restrict__ x, const T *__restrict__ w, const T *__restrict__ mean,
                                    const T *__restrict__ rstd, int64_t rows, int n, int64_t chunk, bool rms) {
  constexpr int W = kVec ? kVW<T> : 1, NV = K / W;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t r0 = (int64_t)blockIdx.x * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
  T aw[K], ab[K];
#pragma unroll
  for (int k = 0; k < K; k++) aw[k] = ab[k] = T(0);
  for (int64_t r = r0 + warp; r < r1; r += kBwdWarps) {
    const T *gr = gy + r * n, *xr = x + r * n;
    T gv[K], xv[K];
#pragma unroll
    for (int c = 0; c < NV; c++) {
      const int i = (c * kWarp + lane) * W;
      if (i < n) {
        if constexpr (kVec) {
          const Vec<T> a = ldv(gr + i), bb = ldv(xr + i);
#pragma unroll
          for (int j = 0; j < W; j++) gv[c * W + j] = a.v[j], xv[c * W + j] = bb.v[j];
        } else {
          gv[c] = gr[i];
          xv[c] = xr[i];
        }
      } else {
#pragma unroll
        for (int j = 0; j < W; j++) gv[c * W + j] = xv[c * W + j] = T(0);
      }
    }
    const T mu = mean[r], rs = rstd[r];
    T sa = 0, sb = 0;
#pragma unroll
    for (int c = 0; c < NV; c++) {
      const int i = (c * kWarp + lane) * W;
      if (i < n) {
#pragma unroll
        for (int j = 0; j < W; j++) {
          const T g0 = gv[c * W + j], xh = (xv[c * W + j] - mu) * rs, g = w ? g0 * w[i + j] : g0;
          sa += g * xh;
          sb += g;
          aw[c * W + j] += g0 * xh;
          ab[c * W + j] += g0;
          gv[c * W + j] = g;  // the write pass needs g and xh only
          xv[c * W + j] = xh;
        }
      }
    }
    sa = warp_sum(sa);
    sb = warp_sum(sb);
    const T ca = sa / (T)n, cb = rms ? T(0) : sb / (T)n;
#pragma unroll
    for (int c = 0; c < NV; c++) {
      const int i = (c * kWarp + lane) * W;
      if (i < n) {
        T out[W];
#pragma unroll
        for (int j = 0; j < W; j++) out[j] = rs * (gv[c * W + j] - cb - xv[c * W + j] * ca);
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
  if (!part) return;
  const int64_t P = (int64_t)gridDim.x * kBwdWarps, prow = (int64_t)blockIdx.x * kBwdWarps + warp;
  T *pw = part + prow * n, *pb = part + (P + prow) * n;
#pragma unroll
  for (int c = 0; c < NV; c++) {
    const int i = (c * kWarp + lane) * W;
    if (i < n) {
#pragma unroll
      for (int j = 0; j < W; j++) {
        pw[i + j] = aw[c * W + j];
        pb[i + j] = ab[c * W + j];
      }
    }
  }
}

// Block b owns rows [b chunk, (b + 1) chunk) and partial rows b and P + b of part ([2][P][n], P =
// gridDim.x); each thread touches only its own columns of them, so no synchronisation is needed.
template <class T>
__global__ void layer_norm_backward_block_kernel(T *__restrict__ gx, T *__restrict__ part, const T *__restrict__ gy,
                                                 const T *__restrict__ x, const T *__restrict__ w,
                                                 const T *__restrict__ mean, const T *__restrict__ rstd, int64_t rows,
                                                 int64_t n, int64_t chunk, bool rms) {
  __shared__ T shm[32];
  const int64_t P = gridDim.x;
  T *pw = part ? part + (int64_t)blockIdx.x * n : nullptr, *pb = part ? part + (P + blockIdx.x) * n : nullptr;
  if (part)
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) pw[i] = pb[i] = T(0);
  const int64_t r0 = (int64_t)blockIdx.x * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
  for (int64_t r = r0; r < r1; r++) {
    const T *gr = gy + r * n, *xr = x + r * n;
    const T mu = mean[r], rs = rstd[r];
    T sa = 0, sb = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const T g0 = gr[i], xh = (xr[i] - mu) * rs, g = w ? g0 * w[i] : g0;
      sa += g * xh;
      sb += g;
      if (part) {
        pw[i] += g0 * xh;
        pb[i] += g0;
      }
    }
    sa = block_sum(sa, shm);
    sb = block_sum(sb, shm);
    const T ca = sa / (T)n, cb = rms ? T(0) : sb / (T)n;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const T g0 = gr[i], xh = (xr[i] - mu) * rs, g = w ? g0 * w[i] : g0;
      gx[r * n + i] = rs * (g - cb - xh * ca);
    }
  }
}

// gw[j] = sum_p part[p][j], gb[j] = sum_p part[P + p][j] in a fixed order: thread (x, y) of a
// 32 x 32 block adds the partial rows p = y (mod 32) of column x, then row y = 0 adds the 32.
template <class T>
__global__ void __launch_bounds__(1024)
    column_sums_kernel(T *__restrict__ gw, T *__restrict__ gb, const T *__restrict__ part, int64_t P, int64_t n) {
  __shared__ T sw[32][33], sb[32][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t j = (int64_t)blockIdx.x * 32 + tx;
  T a = 0, c = 0;
  if (j < n)
    for (int64_t p = ty; p < P; p += 32) {
      a += part[p * n + j];
      c += part[(P + p) * n + j];
    }
  sw[ty][tx] = a;
  sb[ty][tx] = c;
  __syncthreads();
  if (ty == 0 && j < n) {
    T A = 0, C = 0;
    for (int k = 0; k < 32; k++) {
      A += sw[k][tx];
      C += sb[k][tx];
    }
    if (gw) gw[j] = A;
    if (gb) gb[j] = C;
  }
}

// ---- launch ----

const void *opt(const kiln_tensor &t) { return t.ndim > 0 && t.shape[0] > 0 ? t.data : nullptr; }

template <class T, int K>
void launch_fwd_warp(const Launch &L, T *y, T *mo, T *ro, const T *x, const T *w, const T *b, int64_t rows, int n,
                     T eps, bool rms, bool vec) {
  const unsigned grid = grid_for(rows, kRowsPerBlock);
  if constexpr (K >= kVW<T>) {
    if (vec) {
      layer_norm_warp_kernel<T, K, true><<<grid, kWarpBlock, 0, L.stream>>>(y, mo, ro, x, w, b, rows, n, eps, rms);
      return;
    }
  }
  layer_norm_warp_kernel<T, K, false><<<grid, kWarpBlock, 0, L.stream>>>(y, mo, ro, x, w, b, rows, n, eps, rms);
}

template <class T, int K>
void launch_bwd_warp(const Launch &L, unsigned grid, T *gx, T *part, const T *gy, const T *x, const T *w, const T *mean,
                     const T *rstd, int64_t rows, int n, int64_t chunk, bool rms, bool vec) {
  if constexpr (K >= kVW<T>) {
    if (vec) {
      layer_norm_backward_warp_kernel<T, K, true>
          <<<grid, kBwdWarps * kWarp, 0, L.stream>>>(gx, part, gy, x, w, mean, rstd, rows, n, chunk, rms);
      return;
    }
  }
  layer_norm_backward_warp_kernel<T, K, false>
      <<<grid, kBwdWarps * kWarp, 0, L.stream>>>(gx, part, gy, x, w, mean, rstd, rows, n, chunk, rms);
}

template <class T>
kiln_status forward(const Launch &L, const kiln_tensor &y, const kiln_tensor &mean, const kiln_tensor &rstd,
                    const kiln_tensor &x, const kiln_tensor &w, const kiln_tensor &b, double eps, bool rms) {
  const int64_t rows = x.shape[0], n = x.shape[1];
  if (rows == 0) return KILN_OK;
  T *yo = (T *)y.data, *mo = (T *)mean.data, *ro = (T *)rstd.data;
  const T *xi = (const T *)x.data, *wi = (const T *)opt(w), *bi = (const T *)opt(b);
  const bool vec = vec_ok<T>(n, {yo, xi, wi, bi});
  if (n <= kWarpRowMax) {
    switch (lane_count(n)) {
      case 1: launch_fwd_warp<T, 1>(L, yo, mo, ro, xi, wi, bi, rows, (int)n, (T)eps, rms, vec); break;
      case 2: launch_fwd_warp<T, 2>(L, yo, mo, ro, xi, wi, bi, rows, (int)n, (T)eps, rms, vec); break;
      case 4: launch_fwd_warp<T, 4>(L, yo, mo, ro, xi, wi, bi, rows, (int)n, (T)eps, rms, vec); break;
      case 8: launch_fwd_warp<T, 8>(L, yo, mo, ro, xi, wi, bi, rows, (int)n, (T)eps, rms, vec); break;
      case 16: launch_fwd_warp<T, 16>(L, yo, mo, ro, xi, wi, bi, rows, (int)n, (T)eps, rms, vec); break;
      default: launch_fwd_warp<T, 32>(L, yo, mo, ro, xi, wi, bi, rows, (int)n, (T)eps, rms, vec); break;
    }
    return check_launch(L, "layer_norm", "layer_norm_warp_kernel");
  }
  const unsigned grid = grid_for(rows, 1);
  if (vec)
    layer_norm_block_kernel<T, true><<<grid, kGroupBlock, 0, L.stream>>>(yo, mo, ro, xi, wi, bi, rows, n, (T)eps, rms);
  else
    layer_norm_block_kernel<T, false><<<grid, kGroupBlock, 0, L.stream>>>(yo, mo, ro, xi, wi, bi, rows, n, (T)eps, rms);
  return check_launch(L, "layer_norm", "layer_norm_block_kernel");
}

template <class T>
kiln_status backward(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw, const kiln_tensor &gb,
                     const kiln_tensor &gy, const kiln_tensor &x, const kiln_tensor &w, const kiln_tensor &mean,
                     const kiln_tensor &rstd, bool rms) {
  const char *op = "layer_norm_backward";
  const int64_t rows = x.shape[0], n = x.shape[1];
  T *gxo = (T *)gx.data, *gwo = (T *)opt(gw), *gbo = (T *)opt(gb);
  const T *gyi = (const T *)gy.data, *xi = (const T *)x.data, *wi = (const T *)opt(w);
  const T *mi = (const T *)mean.data, *ri = (const T *)rstd.data;
  const bool sums = gwo || gbo;
  if (n == 0) return KILN_OK;
  const bool warp = n <= (sizeof(T) == 8 ? kWarpRowMax / 2 : kWarpRowMax);  // float64 rows of 1024 would spill
  int64_t nblk = 0, chunk = 1, P = 0;
  if (rows > 0) {
    if (warp) {
      nblk = std::min(ceil_div(rows, kBwdWarps), kWarpChunks);
    } else {
      nblk = std::min(std::min(rows, kBlockChunks), std::max<int64_t>(1, kPartialElems / n));
    }
    chunk = ceil_div(rows, nblk);
    nblk = ceil_div(rows, chunk);
    P = warp ? nblk * kBwdWarps : nblk;
  }
  Scratch scratch(L, sums ? (size_t)(2 * P * n) * sizeof(T) : 0);
  T *part = scratch.as<T>();
  if (sums && P > 0 && !part)
    return fail(L, KILN_ERR_OOM, "%s: no scratch for %lld partial column sums", op, (long long)(2 * P * n));
  if (rows > 0) {
    const unsigned grid = (unsigned)nblk;
    if (warp) {
      const bool vec = vec_ok<T>(n, {gxo, gyi, xi, wi, part});
      switch (lane_count(n)) {
        case 1: launch_bwd_warp<T, 1>(L, grid, gxo, part, gyi, xi, wi, mi, ri, rows, (int)n, chunk, rms, vec); break;
        case 2: launch_bwd_warp<T, 2>(L, grid, gxo, part, gyi, xi, wi, mi, ri, rows, (int)n, chunk, rms, vec); break;
        case 4: launch_bwd_warp<T, 4>(L, grid, gxo, part, gyi, xi, wi, mi, ri, rows, (int)n, chunk, rms, vec); break;
        case 8: launch_bwd_warp<T, 8>(L, grid, gxo, part, gyi, xi, wi, mi, ri, rows, (int)n, chunk, rms, vec); break;
        case 16: launch_bwd_warp<T, 16>(L, grid, gxo, part, gyi, xi, wi, mi, ri, rows, (int)n, chunk, rms, vec); break;
        default: launch_bwd_warp<T, 32>(L, grid, gxo, part, gyi, xi, wi, mi, ri, rows, (int)n, chunk, rms, vec); break;
      }
      if (kiln_status st = check_launch(L, op, "layer_norm_backward_warp_kernel")) return st;
    } else {
      layer_norm_backward_block_kernel<T>
          <<<grid, kGroupBlock, 0, L.stream>>>(gxo, part, gyi, xi, wi, mi, ri, rows, n, chunk, rms);
      if (kiln_status st = check_launch(L, op, "layer_norm_backward_block_kernel")) return st;
    }
  }
  if (!sums) return KILN_OK;
  column_sums_kernel<T><<<(unsigned)ceil_div(n, 32), dim3(32, 32), 0, L.stream>>>(gwo, gbo, part, P, n);
  return check_launch(L, op, "column_sums_kernel");
}

// Operands: [rows, n] contiguous; per-row stats [rows]; w, b, gw, gb [n] or empty (absent). As the
// CPU check, except that the full-size operands (`full` of them first) must hold rows x n elements.
kiln_status check(const Launch &L, const char *op, const kiln_tensor &x, const kiln_tensor *rowwise, int nrow, int full,
                  const kiln_tensor *vecs, int nvec) {
  if (x.ndim != 2) return fail(L, KILN_ERR_SHAPE, "%s: input must be viewed as [rows, n]", op);
  const int64_t rows = x.shape[0], n = x.shape[1];
  if (x.dtype != KILN_FLOAT32 && x.dtype != KILN_FLOAT64)
    return fail(L, KILN_ERR_DTYPE, "%s: float32 or float64 only (half types are widened by the caller)", op);
  for (int i = 0; i < nrow; i++) {
    const kiln_tensor &t = rowwise[i];
    bool ok = t.dtype == x.dtype && contiguous(t) &&
              ((t.ndim == 2 && t.shape[0] == rows && t.shape[1] == n) || (t.ndim == 1 && t.shape[0] == rows));
    if (i < full && t.ndim == 1 && n != 1) ok = false;
    if (!ok) return fail(L, KILN_ERR_SHAPE, "%s: operand %d is not a contiguous %s-shaped tensor", op, i, "row");
  }
  for (int i = 0; i < nvec; i++) {
    const kiln_tensor &t = vecs[i];
    if (t.dtype != x.dtype || t.ndim != 1 || (t.shape[0] != n && t.shape[0] != 0) || !contiguous(t))
      return fail(L, KILN_ERR_SHAPE, "%s: weight/bias operand %d must be [%lld] or empty", op, i, (long long)n);
  }
  return KILN_OK;
}

}  // namespace

kiln_status layer_norm_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &mean, const kiln_tensor &rstd,
                            const kiln_tensor &x, const kiln_tensor &w, const kiln_tensor &b, double eps, bool rms) {
  const kiln_tensor rowwise[4] = {x, y, mean, rstd}, vecs[2] = {w, b};
  if (kiln_status st = check(L, "layer_norm", x, rowwise, 4, 2, vecs, 2)) return st;
  if (x.dtype == KILN_FLOAT32) return forward<float>(L, y, mean, rstd, x, w, b, eps, rms);
  return forward<double>(L, y, mean, rstd, x, w, b, eps, rms);
}

kiln_status layer_norm_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw,
                                     const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                     const kiln_tensor &w, const kiln_tensor &mean, const kiln_tensor &rstd, bool rms) {
  const kiln_tensor rowwise[5] = {x, gx, gy, mean, rstd}, vecs[3] = {w, gw, gb};
  if (kiln_status st = check(L, "layer_norm_backward", x, rowwise, 5, 3, vecs, 3)) return st;
  if (x.dtype == KILN_FLOAT32) return backward<float>(L, gx, gw, gb, gy, x, w, mean, rstd, rms);
  return backward<double>(L, gx, gw, gb, gy, x, w, mean, rstd, rms);
}

}  // namespace kiln::cuda
