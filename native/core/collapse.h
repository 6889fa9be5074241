// K operands of one shape (ops[0]'s; the TS layer expands broadcasts into 0-strides) collapsed to
// the fewest dimensions: size-1 dims dropped, neighbours merged wherever every operand's strides
// allow. The flat index over the result is the row-major element index of the original shape,
// which dropout's and the random fills' Philox counters rely on. Used by the CPU walk
// (native/cpu/strided_loop.h) and the CUDA launchers (ew_common.cuh, nn_common.cuh), which add
// their own fields; the struct is plain data, so kernels take it by value.
#pragma once
#include <cstdint>

#include "kiln.h"

namespace kiln {

template <int K>
struct Collapsed {
  int ndim = 1;  // >= 1; the last dimension is the innermost run
  int64_t numel = 1;
  int64_t shape[KILN_MAX_DIMS];
  int64_t st[K][KILN_MAX_DIMS];  // element strides per operand
};

template <int K>
inline void collapse_dims(Collapsed<K> &c, const kiln_tensor *const (&ops)[K]) {
  const kiln_tensor &t0 = *ops[0];
  int nd = 0;
  c.numel = 1;
  for (int d = 0; d < t0.ndim; d++) {
    c.numel *= t0.shape[d];
    if (t0.shape[d] == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < K && merge; k++) merge = c.st[k][nd - 1] == ops[k]->strides[d] * t0.shape[d];
    if (merge) {
      c.shape[nd - 1] *= t0.shape[d];
      for (int k = 0; k < K; k++) c.st[k][nd - 1] = ops[k]->strides[d];
    } else {
      c.shape[nd] = t0.shape[d];
      for (int k = 0; k < K; k++) c.st[k][nd] = ops[k]->strides[d];
      nd++;
    }
  }
  if (nd == 0) {
    c.shape[0] = 1;
    for (int k = 0; k < K; k++) c.st[k][0] = 0;
    nd = 1;
  }
  c.ndim = nd;
}

}  // namespace kiln
