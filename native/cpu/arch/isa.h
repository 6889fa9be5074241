// The per-ISA fast paths: contiguous float32 inner loops, one table per ISA (avx512.cpp, avx2.cpp,
// neon.cpp, generic.cpp), picked at load time from kiln_context::isa. The strided, multi-dtype
// drivers in native/cpu/*.cpp call these for contiguous float32 runs and fall back to their own
// scalar loops when an entry returns false. generic.cpp is the twin the tests compare against.
#pragma once
#include <cstdint>

#include "kiln.h"

namespace kiln::cpu {

enum class Unary : int {
  Neg,
  Abs,
  Sign,
  Exp,
  Log,
  Sqrt,
  Rsqrt,
  Sin,
  Cos,
  Tanh,
  Sigmoid,
  Erf,
  Floor,
  Ceil,
  Round,
  Trunc,
  Reciprocal,
  Log1p,
  Expm1,
  LogicalNot,
  Count
};
enum class Binary : int {
  Add,
  Sub,
  Mul,
  Div,
  Pow,
  Maximum,
  Minimum,
  Remainder,
  Atan2,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  LogicalAnd,
  LogicalOr,
  LogicalXor,
  Count
};

struct IsaKernels {
  const char *name;
  // o[i] = op(a[i*sa], b[i*sb]) for i < n; sa and sb are each 0 or 1; o never aliases partially.
  // Only arithmetic ops (Add..Minimum); returns false for others so the caller's loop runs.
  bool (*binary_f32)(Binary op, float *o, const float *a, int64_t sa, const float *b, int64_t sb, int64_t n);
  // o[i] = op(a[i]); returns false for ops without a vector path.
  bool (*unary_f32)(Unary op, float *o, const float *a, int64_t n);
  // Sum of a[0..n) in a fixed order that depends only on n (never on threads).
  float (*sum_f32)(const float *a, int64_t n);
  // Max / min of a[0..n), n >= 1; NaN if any element is NaN (PyTorch semantics).
  float (*max_f32)(const float *a, int64_t n);
  float (*min_f32)(const float *a, int64_t n);
  // acc[i] += x[i]
  void (*add_f32)(float *acc, const float *x, int64_t n);
  // y[i] += alpha * x[i]
  void (*axpy_f32)(float *y, float alpha, const float *x, int64_t n);
};

const IsaKernels *isa_kernels(kiln_isa isa);  // never null: unknown ISAs get the generic table

extern const IsaKernels kGenericKernels;
#if defined(__x86_64__) || defined(_M_X64)
extern const IsaKernels kAvx2Kernels;
extern const IsaKernels kAvx512Kernels;
#endif
#if defined(__aarch64__)
extern const IsaKernels kNeonKernels;
#endif

}  // namespace kiln::cpu
