// Resampling along one dim by weighted taps, as native/cpu/resample.cpp (the same products added in
// the same order, in the element type): x [outer, n, inner] -> y [outer, out, inner], one thread per
// output element; the backward gives each thread one gx element [o, j, k], which walks the taps in
// (i, t) order and adds those that read j, so no atomics and the CPU's bits. The indices come
// checked from the TS layer (resample.ts); a bad one is clamped, never read out of bounds.
#include "rows.h"
#include "rows_common.cuh"

namespace kiln::cuda {

namespace {

using namespace rows;

constexpr int kBlock = 256;

__device__ __forceinline__ int64_t clamp_idx(int64_t v, int64_t n) { return v < 0 ? 0 : v >= n ? n - 1 : v; }

// w x rounded on its own: nvcc contracts acc + w * x into an FMA by default (-fmad=true), the CPU
// build never does (-ffp-contract=off), and the CPU's bits need the product rounded before the add.
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }

template <class T>
__global__ void __launch_bounds__(kBlock)
    resample_kernel(T *__restrict__ y, const T *__restrict__ x, const int64_t *__restrict__ idx,
                    const T *__restrict__ w, int64_t outer, int64_t n, int64_t out, int64_t inner, int64_t taps) {
  using C = compute_t<T>;
  const int64_t total = outer * out * inner;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t k = e % inner, r = e / inner, i = r % out, o = r / out;
    T acc = store<T>(mul_rn((C)load(w[i]), (C)load(x[(o * n + clamp_idx(idx[i], n)) * inner + k])));
    for (int64_t t = 1; t < taps; t++) {
      const int64_t j = clamp_idx(idx[t * out + i], n);
      acc = store<T>((C)load(acc) +
                     (C)load(store<T>(mul_rn((C)load(w[t * out + i]), (C)load(x[(o * n + j) * inner + k])))));
    }
    y[e] = acc;
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock)
    resample_backward_kernel(T *__restrict__ gx, const T *__restrict__ gy, const int64_t *__restrict__ idx,
                             const T *__restrict__ w, int64_t outer, int64_t n, int64_t out, int64_t inner,
                             int64_t taps) {
  using C = compute_t<T>;
  const int64_t total = outer * n * inner;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t k = e % inner, r = e / inner, j = r % n, o = r / n;
    T acc = store<T>((C)0);
    for (int64_t i = 0; i < out; i++)
      for (int64_t t = 0; t < taps; t++)
        if (clamp_idx(idx[t * out + i], n) == j)
          acc = store<T>((C)load(acc) +
                         (C)load(store<T>(mul_rn((C)load(w[t * out + i]), (C)load(gy[(o * out + i) * inner + k])))));
    gx[e] = acc;
  }
}

bool dense3(const kiln_tensor &t) { return t.ndim == 3 && contiguous(t); }

kiln_status check(const Launch &L, const char *op, const kiln_tensor &big, const kiln_tensor &small,
                  const kiln_tensor &idx, const kiln_tensor &w, int64_t taps, int64_t out) {
  if (!dense3(big) || !dense3(small) || big.shape[0] != small.shape[0] || big.shape[2] != small.shape[2])
    return fail(L, KILN_ERR_SHAPE, "%s: contiguous [outer, positions, inner] operands expected", op);
  if (big.dtype != small.dtype || !dtype_is_float(big.dtype) || idx.dtype != KILN_INT64 || w.dtype != big.dtype)
    return fail(L, KILN_ERR_DTYPE, "%s: float operands, int64 indices and weights of their dtype expected", op);
  if (taps < 1 || idx.ndim != 1 || w.ndim != 1 || idx.shape[0] != taps * out || w.shape[0] != taps * out ||
      !contiguous(idx) || !contiguous(w))
    return fail(L, KILN_ERR_SHAPE, "%s: %lld contiguous taps expected", op, (long long)(taps * out));
  return KILN_OK;
}

}  // namespace

kiln_status resample_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor &idx,
                          const kiln_tensor &w, int64_t taps) {
  const char *op = "resample";
  if (kiln_status st = check(L, op, x, y, idx, w, taps, y.shape[1])) return st;
  const int64_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2], out = y.shape[1];
  if (outer * out * inner == 0) return KILN_OK;
  KILN_DISPATCH_FLOAT(x.dtype, return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op), {
    resample_kernel<scalar_t><<<grid_for(outer * out * inner, kBlock), kBlock, 0, L.stream>>>(
        (scalar_t *)y.data, (const scalar_t *)x.data, (const int64_t *)idx.data, (const scalar_t *)w.data, outer, n,
        out, inner, taps);
    return check_launch(L, op, "resample_kernel");
  });
}

kiln_status resample_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy,
                                   const kiln_tensor &idx, const kiln_tensor &w, int64_t taps) {
  const char *op = "resample_backward";
  if (kiln_status st = check(L, op, gx, gy, idx, w, taps, gy.shape[1])) return st;
  const int64_t outer = gx.shape[0], n = gx.shape[1], inner = gx.shape[2], out = gy.shape[1];
  if (outer * n * inner == 0) return KILN_OK;
  KILN_DISPATCH_FLOAT(gx.dtype, return fail(L, KILN_ERR_DTYPE, "%s: needs a floating dtype", op), {
    resample_backward_kernel<scalar_t><<<grid_for(outer * n * inner, kBlock), kBlock, 0, L.stream>>>(
        (scalar_t *)gx.data, (const scalar_t *)gy.data, (const int64_t *)idx.data, (const scalar_t *)w.data, outer, n,
        out, inner, taps);
    return check_launch(L, op, "resample_backward_kernel");
  });
}

}  // namespace kiln::cuda
