// Value functors for the elementwise launchers: each wraps a scalar_math.h functor (the same math
// the CPU loops instantiate) with the load/store of dtype.h, so half types compute in float and
// stores round like the CPU's. Also op names for messages and storage types by element size.
#pragma once
#include <cstdint>
#include <type_traits>

#include "../../core/dtype.h"
#include "../../cpu/cpu_ops.h"

// scalar_math.h's generic functors compare unsigned values with zero (sign, pow, remainder):
// intended. The suppression must precede the header (diagnostics are placed at its lines).
#pragma nv_diag_suppress 186
#include "../../cpu/scalar_math.h"

namespace kiln::cuda {

// out = store<O>(op(load(x)...)); a bool result (comparisons, logic) is written as is, like the
// CPU's binary_loop does.
template <class O, class Op>
struct MapF {
  Op op;
  template <class... T>
  __device__ __forceinline__ O operator()(T... x) const {
    auto r = op(load(x)...);
    if constexpr (std::is_same_v<decltype(r), bool> && std::is_same_v<O, bool>)
      return r;
    else
      return store<O>(r);
  }
};

// The storage type an operation on T produces: bool for comparisons and logic, T otherwise.
template <class T, class Op>
using result_of_op = std::conditional_t<std::is_same_v<decltype(Op{}(load(T{}), load(T{}))), bool>, bool, T>;

template <size_t N>
struct uint_of_size;
template <>
struct uint_of_size<1> {
  using type = uint8_t;
};
template <>
struct uint_of_size<2> {
  using type = uint16_t;
};
template <>
struct uint_of_size<4> {
  using type = uint32_t;
};
template <>
struct uint_of_size<8> {
  using type = uint64_t;
};

inline const char *unary_name(kiln::cpu::Unary op) {
  static const char *names[] = {"neg",   "abs",   "sign",       "exp",     "log",   "sqrt",       "rsqrt",
                                "sin",   "cos",   "tanh",       "sigmoid", "erf",   "floor",      "ceil",
                                "round", "trunc", "reciprocal", "log1p",   "expm1", "erfc",       "lgamma", "digamma", "trigamma", "logical_not"};
  static_assert(sizeof names / sizeof *names == (size_t)kiln::cpu::Unary::Count, "a name for every Unary");
  int i = (int)op;
  return i >= 0 && i < (int)(sizeof names / sizeof *names) ? names[i] : "unary";
}
inline const char *binary_name(kiln::cpu::Binary op) {
  static const char *names[] = {"add",     "sub",       "mul",   "div",         "pow",        "maximum",
                                "minimum", "remainder", "atan2", "eq",          "ne",         "lt",
                                "le",      "gt",        "ge",    "logical_and", "logical_or", "logical_xor"};
  static_assert(sizeof names / sizeof *names == (size_t)kiln::cpu::Binary::Count, "a name for every Binary");
  int i = (int)op;
  return i >= 0 && i < (int)(sizeof names / sizeof *names) ? names[i] : "binary";
}

}  // namespace kiln::cuda
