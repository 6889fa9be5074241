// Device helpers shared by the nn launchers (activation.cu, dropout.cu): strided operands of one
// shape collapsed to the fewest dimensions by core/collapse.h, as the CPU walk does (so
// the flat index is the row-major element index, which dropout's Philox counters rely on), and
// 16-byte vector types for the contiguous fast paths.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../../core/collapse.h"
#include "../../core/dtype.h"
#include "common.cuh"

namespace kiln::cuda::nn {

constexpr int kEwThreads = 256;  // threads per block of the elementwise kernels
constexpr int kEwBlocksPerSm = 8;

// K operands of ops[0]'s shape, collapsed by core/collapse.h.
template <int K>
using EwPlan = Collapsed<K>;

template <int K>
inline EwPlan<K> ew_plan(const kiln_tensor *const (&ops)[K]) {
  EwPlan<K> p;
  collapse_dims(p, ops);
  return p;
}

// Every operand has the shape of ops[0]; false names the op's shape error.
template <int K>
inline bool same_shapes(const kiln_tensor *const (&ops)[K]) {
  for (int k = 1; k < K; k++) {
    if (ops[k]->ndim != ops[0]->ndim) return false;
    for (int d = 0; d < ops[0]->ndim; d++)
      if (ops[k]->shape[d] != ops[0]->shape[d]) return false;
  }
  return ops[0]->ndim >= 0 && ops[0]->ndim <= KILN_MAX_DIMS;
}

// One contiguous run per operand (all strides 1 after collapsing).
template <int K>
inline bool plan_contiguous(const EwPlan<K> &p) {
  if (p.ndim != 1) return false;
  for (int k = 0; k < K; k++)
    if (p.st[k][0] != 1 && p.shape[0] != 1) return false;
  return true;
}

// Element offsets of flat index i (row-major over the plan's shape) for each operand.
template <int K>
__device__ __forceinline__ void ew_offsets(const EwPlan<K> &p, int64_t i, int64_t (&off)[K]) {
  for (int k = 0; k < K; k++) off[k] = 0;
  for (int d = p.ndim - 1; d >= 0; d--) {
    int64_t n = p.shape[d], c = i % n;
    i /= n;
    for (int k = 0; k < K; k++) off[k] += c * p.st[k][d];
  }
}

// 16 bytes of T, loaded and stored as one access.
template <class T>
struct alignas(16) Vec16 {
  static constexpr int N = 16 / sizeof(T);
  T v[N];
};

inline bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

// Blocks for `work` threads' worth of a grid-stride kernel: at most one full wave of
// `per_sm` resident blocks per multiprocessor, so no second partial wave idles most of the chip.
inline unsigned ew_grid(const Launch &L, int64_t work, int per_sm = kEwBlocksPerSm, int threads = kEwThreads) {
  return grid_for(work, threads, (unsigned)(L.sm_count > 0 ? L.sm_count : 132) * (unsigned)(per_sm > 0 ? per_sm : 1));
}

// Resident blocks per multiprocessor of `kernel` at `threads` threads (1 if the query fails).
// Launchers keep it in a function-local static per kernel instantiation.
template <class F>
inline int blocks_per_sm(F kernel, int threads) {
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, threads, 0) != cudaSuccess || n < 1) {
    (void)cudaGetLastError();
    n = 1;
  }
  return n;
}

}  // namespace kiln::cuda::nn
