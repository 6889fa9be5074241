// CUDA binary ops (arithmetic, comparisons and logic producing bool) over strided operands
// (stride 0 = broadcast), mirroring native/cpu/elementwise.cpp's binary_typed: the same functors,
// dtype rules (bool add = or, mul = and, ...) and messages. Paths as in elementwise.cu.
#include "elementwise.h"
#include "ew_common.cuh"
#include "ew_ops.cuh"

namespace kiln::cuda {

namespace {

template <class T, class Op>
kiln_status run(const Launch &L, Binary op, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b) {
  using O = result_of_op<T, Op>;
  return launch_map<O, T, T>(L, binary_name(op), MapF<O, Op>{}, out, a, b);
}

template <class T>
kiln_status binary_typed(const Launch &L, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                         Binary op) {
  using namespace math;
  bool cmp = op >= Binary::Eq;
  if (a.dtype != b.dtype || (cmp ? out.dtype != KILN_BOOL : out.dtype != a.dtype))
    return fail(L, KILN_ERR_DTYPE, "binary op %d: operand dtypes disagree", (int)op);
  if constexpr (std::is_same_v<T, bool>) {  // bool arithmetic: add is or, mul is and (PyTorch)
    switch (op) {
      case Binary::Mul:
      case Binary::LogicalAnd: return run<T, LogicalAnd>(L, op, out, a, b);
      case Binary::Add:
      case Binary::Maximum:
      case Binary::LogicalOr: return run<T, LogicalOr>(L, op, out, a, b);
      case Binary::Minimum: return run<T, LogicalAnd>(L, op, out, a, b);
      case Binary::Eq: return run<T, Eq>(L, op, out, a, b);
      case Binary::Ne:
      case Binary::LogicalXor: return run<T, Ne>(L, op, out, a, b);
      case Binary::Lt: return run<T, Lt>(L, op, out, a, b);
      case Binary::Le: return run<T, Le>(L, op, out, a, b);
      case Binary::Gt: return run<T, Gt>(L, op, out, a, b);
      case Binary::Ge: return run<T, Ge>(L, op, out, a, b);
      default: return fail(L, KILN_ERR_DTYPE, "binary op %d is not defined for bool", (int)op);
    }
  } else {
    switch (op) {
      case Binary::Add: return run<T, Add>(L, op, out, a, b);
      case Binary::Sub: return run<T, Sub>(L, op, out, a, b);
      case Binary::Mul: return run<T, Mul>(L, op, out, a, b);
      case Binary::Div: return run<T, Div>(L, op, out, a, b);
      case Binary::Pow: return run<T, Pow>(L, op, out, a, b);
      case Binary::Maximum: return run<T, Maximum>(L, op, out, a, b);
      case Binary::Minimum: return run<T, Minimum>(L, op, out, a, b);
      case Binary::Remainder: return run<T, Remainder>(L, op, out, a, b);
      case Binary::Eq: return run<T, Eq>(L, op, out, a, b);
      case Binary::Ne: return run<T, Ne>(L, op, out, a, b);
      case Binary::Lt: return run<T, Lt>(L, op, out, a, b);
      case Binary::Le: return run<T, Le>(L, op, out, a, b);
      case Binary::Gt: return run<T, Gt>(L, op, out, a, b);
      case Binary::Ge: return run<T, Ge>(L, op, out, a, b);
      case Binary::LogicalAnd: return run<T, LogicalAnd>(L, op, out, a, b);
      case Binary::LogicalOr: return run<T, LogicalOr>(L, op, out, a, b);
      case Binary::LogicalXor: return run<T, LogicalXor>(L, op, out, a, b);
      case Binary::Atan2:
        if constexpr (std::is_floating_point_v<compute_t<T>>) return run<T, Atan2>(L, op, out, a, b);
        break;
      default: break;
    }
  }
  return fail(L, KILN_ERR_DTYPE, "binary op %d is not defined for this dtype", (int)op);
}

}  // namespace

kiln_status binary_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                        Binary op) {
  if (!same_shape(out, a) || !same_shape(out, b))
    return fail(L, KILN_ERR_SHAPE, "%s: inputs do not have the output's shape (broadcast inputs are expanded first)",
                binary_name(op));
  kiln_status st = KILN_OK;
  KILN_DISPATCH_ALL(a.dtype, return fail(L, KILN_ERR_DTYPE, "binary: bad dtype"),
                    st = binary_typed<scalar_t>(L, out, a, b, op));
  return st;
}

}  // namespace kiln::cuda
