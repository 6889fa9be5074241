// Shared pieces of the CUDA launchers in native/cuda/kernels: launch geometry, warp and block
// reductions, and the error convention. Launchers are plain functions over raw device pointers
// and a stream that return the launch's cudaError_t; the runtime (native/cuda) turns a failure into
// ERR_CUDA naming the op and the kernel.
#pragma once
#include <cuda_runtime.h>

#include "launch.h"

#include <cstdint>

namespace kiln::cuda {

constexpr int kWarp = 32;

// Blocks for n items at `per_block` items per block, capped so grid-stride loops cover the rest.
inline unsigned grid_for(int64_t n, int per_block, unsigned cap = 65535u * 32u) {
  int64_t g = (n + per_block - 1) / per_block;
  if (g < 1) g = 1;
  return (unsigned)(g > (int64_t)cap ? cap : g);
}

// The error of the launch just made (configuration errors surface here, not at the next sync).
inline cudaError_t launched() { return cudaGetLastError(); }

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <typename T>
__device__ __forceinline__ T warp_max(T v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum / max; every thread gets the result. `shm` holds at least 32 values; blockDim.x
// is a multiple of 32. The order of the additions depends only on blockDim, never on timing.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T *shm) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, nwarps = blockDim.x / kWarp;
  v = warp_sum(v);
  __syncthreads();  // shm may still be read by a previous call
  if (lane == 0) shm[warp] = v;
  __syncthreads();
  v = lane < nwarps ? shm[lane] : T(0);
  return warp_sum(v);
}
template <typename T>
__device__ __forceinline__ T block_max(T v, T *shm, T lowest) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, nwarps = blockDim.x / kWarp;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shm[warp] = v;
  __syncthreads();
  v = lane < nwarps ? shm[lane] : lowest;
  return warp_max(v);
}

}  // namespace kiln::cuda
