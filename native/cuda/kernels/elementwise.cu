// CUDA unary ops, where and fill over strided operands (stride 0 = broadcast), mirroring
// native/cpu/elementwise.cpp: the same scalar_math.h functors, half types computed in float, the
// same dtype rules and messages. Contiguous operands take the flat kernel with 16-byte packs
// (ew_common.cuh); anything else the strided kernel. Bench: native/cuda/test/elementwise_test.cu.
#include "elementwise.h"
#include "ew_common.cuh"
#include "ew_ops.cuh"

namespace kiln::cuda {

namespace {

template <class T>
kiln_status unary_typed(const Launch &L, const kiln_tensor &out, const kiln_tensor &a, Unary op) {
  using C = compute_t<T>;
  const char *name = unary_name(op);
  if (op == Unary::LogicalNot) {
    if (out.dtype != KILN_BOOL) return fail(L, KILN_ERR_DTYPE, "logical_not: output must be bool");
    return launch_map<bool, T>(L, name, MapF<bool, math::LogicalNot>{}, out, a);
  }
  if (out.dtype != a.dtype) return fail(L, KILN_ERR_DTYPE, "unary op: output dtype differs from input");
#define KILN_UNARY_CASE(OP) \
  case Unary::OP: return launch_map<T, T>(L, name, MapF<T, math::OP>{}, out, a);
  switch (op) {
    KILN_UNARY_CASE(Neg)
    KILN_UNARY_CASE(Abs)
    KILN_UNARY_CASE(Sign)
    default: break;
  }
  if constexpr (std::is_floating_point_v<C>) {
    switch (op) {
      KILN_UNARY_CASE(Exp)
      KILN_UNARY_CASE(Log)
      KILN_UNARY_CASE(Sqrt)
      KILN_UNARY_CASE(Rsqrt)
      KILN_UNARY_CASE(Sin)
      KILN_UNARY_CASE(Cos)
      KILN_UNARY_CASE(Tanh)
      KILN_UNARY_CASE(Sigmoid)
      KILN_UNARY_CASE(Erf)
      KILN_UNARY_CASE(Floor)
      KILN_UNARY_CASE(Ceil)
      KILN_UNARY_CASE(Round)
      KILN_UNARY_CASE(Trunc)
      KILN_UNARY_CASE(Reciprocal)
      KILN_UNARY_CASE(Log1p)
      KILN_UNARY_CASE(Expm1)
      KILN_UNARY_CASE(Erfc)
      KILN_UNARY_CASE(Lgamma)
      KILN_UNARY_CASE(Digamma)
      KILN_UNARY_CASE(Trigamma)
      default: break;
    }
  }
#undef KILN_UNARY_CASE
  return fail(L, KILN_ERR_DTYPE, "unary op %d is not defined for this dtype", (int)op);
}

struct Select {
  template <class U>
  __device__ __forceinline__ U operator()(bool c, U a, U b) const {
    return load(c) ? a : b;
  }
};

template <class U>
struct Constant {
  U v;
  __device__ __forceinline__ U operator()() const { return v; }
};

}  // namespace

kiln_status unary_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &a, Unary op) {
  if (!same_shape(out, a)) return fail(L, KILN_ERR_SHAPE, "%s: input does not have the output's shape", unary_name(op));
  kiln_status st = KILN_OK;
  KILN_DISPATCH_ALL(a.dtype, return fail(L, KILN_ERR_DTYPE, "unary: bad dtype"),
                    st = unary_typed<scalar_t>(L, out, a, op));
  return st;
}

kiln_status where_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &cond, const kiln_tensor &a,
                       const kiln_tensor &b) {
  if (cond.dtype != KILN_BOOL || a.dtype != b.dtype || out.dtype != a.dtype)
    return fail(L, KILN_ERR_DTYPE, "where: condition must be bool and both values of the output dtype");
  if (!same_shape(out, cond) || !same_shape(out, a) || !same_shape(out, b))
    return fail(L, KILN_ERR_SHAPE,
                "where: inputs do not have the output's shape (broadcast inputs are expanded first)");
  switch (dtype_size(out.dtype)) {
    case 1: return launch_map<uint8_t, bool, uint8_t, uint8_t>(L, "where", Select{}, out, cond, a, b);
    case 2: return launch_map<uint16_t, bool, uint16_t, uint16_t>(L, "where", Select{}, out, cond, a, b);
    case 4: return launch_map<uint32_t, bool, uint32_t, uint32_t>(L, "where", Select{}, out, cond, a, b);
    case 8: return launch_map<uint64_t, bool, uint64_t, uint64_t>(L, "where", Select{}, out, cond, a, b);
    default: return fail(L, KILN_ERR_DTYPE, "where: bad dtype");
  }
}

kiln_status fill_cuda(const Launch &L, const kiln_tensor &out, double value) {
  KILN_DISPATCH_ALL(out.dtype, return fail(L, KILN_ERR_DTYPE, "fill: bad dtype"), {
    using U = typename uint_of_size<sizeof(scalar_t)>::type;
    scalar_t v = store<scalar_t>(value);
    U bits;
    memcpy(&bits, &v, sizeof bits);
    return launch_map<U>(L, "fill", Constant<U>{bits}, out);
  });
  return KILN_OK;
}

}  // namespace kiln::cuda
