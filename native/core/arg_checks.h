// Attribute and layout checks the CPU and CUDA launchers share (host code).
#pragma once
#include <cmath>
#include <cstdint>

#include "kiln.h"

namespace kiln {

// An attribute that must be an integer in [lo, hi] (attributes travel as doubles).
inline bool int_arg(double v, int64_t lo, int64_t hi, int64_t *out) {
  if (!(v >= (double)lo && v <= (double)hi) || v != std::floor(v)) return false;
  *out = (int64_t)v;
  return true;
}

// Both [N, C, H, W] with the same N and C, each with contiguous planes (size-1 dims any stride).
inline bool planes_ok(const kiln_tensor &a, const kiln_tensor &b) {
  if (a.ndim != 4 || b.ndim != 4 || a.shape[0] != b.shape[0] || a.shape[1] != b.shape[1]) return false;
  for (const kiln_tensor *t : {&a, &b}) {
    int64_t s = 1;
    for (int d = 3; d >= 0; d--) {
      if (t->shape[d] != 1 && t->strides[d] != s) return false;
      s *= t->shape[d];
    }
  }
  return true;
}

}  // namespace kiln
