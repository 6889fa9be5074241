// Device helpers shared by the row kernels (softmax.cu, norm.cu, cross_entropy.cu, batch_norm.cu):
// NaN-propagating max, the online (max, sum of exp) state with the CPU's semantics for -inf, +inf
// and NaN, reductions over a "group" (one warp or one block per row), 16-byte vector access and
// the contiguity test the CPU kernels use.
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "common.cuh"
#include "dtype.h"

namespace kiln::cuda::rows {

constexpr int kRowsPerBlock = 8;  // warp-per-row kernels: 8 warps (rows) per block
constexpr int kWarpBlock = kRowsPerBlock * kWarp;
constexpr int kGroupBlock = 512;       // block-per-row kernels
constexpr int64_t kWarpRowMax = 1024;  // rows up to this length live in one warp's registers
constexpr int kColBlock = 256;         // thread-per-column kernels (softmax over an inner dim)

template <class T>
constexpr int kVW = 16 / (int)sizeof(T);  // elements per 16-byte vector

template <class T>
struct alignas(16) Vec {
  T v[kVW<T>];
};

template <class T>
__device__ __forceinline__ Vec<T> ldv(const T *p) {
  return *reinterpret_cast<const Vec<T> *>(p);
}
template <class T>
__device__ __forceinline__ void stv(T *p, const Vec<T> &v) {
  *reinterpret_cast<Vec<T> *>(p) = v;
}

inline bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

__device__ __forceinline__ float dexp(float x) { return expf(x); }
__device__ __forceinline__ double dexp(double x) { return exp(x); }
__device__ __forceinline__ float dlog(float x) { return logf(x); }
__device__ __forceinline__ double dlog(double x) { return log(x); }
__device__ __forceinline__ float dsqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double dsqrt(double x) { return sqrt(x); }

template <class T>
__device__ __forceinline__ T neg_inf() {
  return -(T)INFINITY;
}

// max that keeps a NaN (the CPU reference: "a NaN sticks: nothing compares above it").
template <class T>
__device__ __forceinline__ T nan_max(T a, T b) {
  return (b > a || b != b) ? b : a;
}

template <class T>
__device__ __forceinline__ T warp_nan_max(T v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum / NaN-max over the group: a warp (kBlock false) or the whole block (kBlock true; every
// thread of the block must call it). All threads of the group get the same value.
template <bool kBlock, class T>
__device__ __forceinline__ T group_sum(T v, T *shm) {
  if constexpr (kBlock)
    return block_sum(v, shm);
  else
    return warp_sum(v);
}
template <bool kBlock, class T>
__device__ __forceinline__ T group_max(T v, T *shm) {
  v = warp_nan_max(v);
  if constexpr (kBlock) {
    const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, nwarps = blockDim.x / kWarp;
    __syncthreads();
    if (lane == 0) shm[warp] = v;
    __syncthreads();
    v = lane < nwarps ? shm[lane] : neg_inf<T>();
    v = warp_nan_max(v);
  }
  return v;
}

// Online softmax state over part of a row: m = NaN-max so far, s = sum of exp(x - m). -inf
// elements add nothing here; finish() then makes the sum NaN when the row max is not finite,
// which is exactly what sum(exp(x - max)) gives on CPU in those cases (-inf - -inf, inf - inf,
// NaN), so every row agrees with the CPU reference.
template <class T>
__device__ __forceinline__ void ms_add(T &m, T &s, T x) {
  if (x > m) {
    s = s * dexp(m - x) + T(1);
    m = x;
  } else if (x == x) {
    if (x != neg_inf<T>()) s += dexp(x - m);
  } else {
    m = x;
  }
}

// Merges the group's states; returns the row max in m and the sum in s (NaN if m is not finite).
template <bool kBlock, class T>
__device__ __forceinline__ void ms_finish(T &m, T &s, T *shm) {
  const T M = group_max<kBlock>(m, shm);
  T part = s == T(0) ? T(0) : s * dexp(m - M);
  T S = group_sum<kBlock>(part, shm);
  if (!isfinite(M)) S = (T)NAN;
  m = M;
  s = S;
}

// The group's geometry for row-per-group kernels.
template <bool kBlock>
struct Group {
  int tid, size;
  int64_t first, step;
  __device__ Group() {
    if constexpr (kBlock) {
      tid = threadIdx.x;
      size = blockDim.x;
      first = blockIdx.x;
      step = gridDim.x;
    } else {
      tid = threadIdx.x % kWarp;
      size = kWarp;
      first = (int64_t)blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp;
      step = (int64_t)gridDim.x * (blockDim.x / kWarp);
    }
  }
};

// f(i, value) over a row of n elements at p, the group's threads striding; kVec: 16-byte loads
// (the caller checked that p is aligned and n is a multiple of the vector width).
template <class T, bool kVec, class F>
__device__ __forceinline__ void row_read(const T *p, int64_t n, int tid, int gs, F f) {
  if constexpr (kVec) {
    constexpr int W = kVW<T>;
    const int64_t nv = n / W;
#pragma unroll 4
    for (int64_t k = tid; k < nv; k += gs) {
      const Vec<T> t = ldv(p + k * W);
#pragma unroll
      for (int j = 0; j < W; j++) f(k * W + j, t.v[j]);
    }
  } else {
    for (int64_t i = tid; i < n; i += gs) f(i, p[i]);
  }
}

// f(i, a[i], b[i]) over two rows, vectorised like row_read.
template <class T, bool kVec, class F>
__device__ __forceinline__ void row_read2(const T *a, const T *b, int64_t n, int tid, int gs, F f) {
  if constexpr (kVec) {
    constexpr int W = kVW<T>;
    const int64_t nv = n / W;
#pragma unroll 4
    for (int64_t k = tid; k < nv; k += gs) {
      const Vec<T> va = ldv(a + k * W), vb = ldv(b + k * W);
#pragma unroll
      for (int j = 0; j < W; j++) f(k * W + j, va.v[j], vb.v[j]);
    }
  } else {
    for (int64_t i = tid; i < n; i += gs) f(i, a[i], b[i]);
  }
}

// o[i] = f(i, a[i], b[i]) over a row (b may be null: reads as 0), vectorised like row_read.
template <class T, bool kVec, class F>
__device__ __forceinline__ void row_map(T *o, const T *a, const T *b, int64_t n, int tid, int gs, F f) {
  if constexpr (kVec) {
    constexpr int W = kVW<T>;
    const int64_t nv = n / W;
#pragma unroll 4
    for (int64_t k = tid; k < nv; k += gs) {
      const Vec<T> va = ldv(a + k * W);
      Vec<T> vb;
      if (b) {
        vb = ldv(b + k * W);
      } else {
#pragma unroll
        for (int j = 0; j < W; j++) vb.v[j] = T(0);
      }
      Vec<T> r;
#pragma unroll
      for (int j = 0; j < W; j++) r.v[j] = f(k * W + j, va.v[j], vb.v[j]);
      stv(o + k * W, r);
    }
  } else {
    for (int64_t i = tid; i < n; i += gs) o[i] = f(i, a[i], b ? b[i] : T(0));
  }
}

// The CPU kernels' contiguity: strides of the non-1 dims are the row-major ones.
inline bool contiguous(const kiln_tensor &t) {
  int64_t st = 1;
  for (int d = t.ndim - 1; d >= 0; d--) {
    if (t.shape[d] != 1 && t.strides[d] != st) return false;
    st *= t.shape[d];
  }
  return true;
}

// 16-byte vector access for rows of n: n a multiple of the vector width and every base aligned
// (null pointers, absent operands, count as aligned).
template <class T>
inline bool vec_ok(int64_t n, std::initializer_list<const void *> ptrs) {
  if (n % kVW<T> != 0) return false;
  for (const void *p : ptrs)
    if (!aligned16(p)) return false;
  return true;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Elements per lane for a warp-resident row of n: the smallest power of two K with 32 K >= n.
inline int lane_count(int64_t n) {
  int k = 1;
  while (k * kWarp < n) k *= 2;
  return k;
}

}  // namespace kiln::cuda::rows
