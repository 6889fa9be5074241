// Elementwise math written once, as host/device inline functors that CPU loops (and later CUDA
// kernels) instantiate. Semantics follow PyTorch: maximum/minimum propagate NaN, remainder takes
// the divisor's sign, sign(0) = 0, round is half-to-even.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../core/dtype.h"

namespace kiln::math {

// Signed integer arithmetic wraps (two's complement, like PyTorch) instead of overflowing,
// which C++ leaves undefined: compute in the unsigned type and convert back.
template <class T>
KILN_HD T wrap_add(T a, T b) {
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    using U = std::make_unsigned_t<T>;
    return (T)(U)((U)a + (U)b);
  } else
    return a + b;
}
template <class T>
KILN_HD T wrap_sub(T a, T b) {
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    using U = std::make_unsigned_t<T>;
    return (T)(U)((U)a - (U)b);
  } else
    return a - b;
}
template <class T>
KILN_HD T wrap_mul(T a, T b) {
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    using U = std::make_unsigned_t<T>;
    return (T)(U)((U)a * (U)b);
  } else
    return a * b;
}

template <class T>
KILN_HD bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return v != v;
  else
    return false;
}

struct Neg {
  template <class T>
  KILN_HD T operator()(T a) const {
    if constexpr (std::is_integral_v<T>)
      return wrap_sub(T(0), a);  // wraps at the minimum
    else
      return -a;  // -(+0) is -0
  }
};
struct Abs {
  template <class T>
  KILN_HD T operator()(T a) const {
    if constexpr (std::is_same_v<T, bool> || std::is_unsigned_v<T>)
      return a;
    else if constexpr (std::is_floating_point_v<T>)
      return std::fabs(a);  // abs(-0.0) = +0.0, like the SIMD path
    else
      return a < 0 ? wrap_sub(T(0), a) : a;
  }
};
struct Sign {
  template <class T>
  KILN_HD T operator()(T a) const {
    if (is_nan(a)) return a;
    return (T)((T(0) < a) - (a < T(0)));
  }
};
struct Exp {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::exp(a);
  }
};
struct Log {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::log(a);
  }
};
struct Sqrt {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::sqrt(a);
  }
};
struct Rsqrt {
  template <class T>
  KILN_HD T operator()(T a) const {
    return T(1) / std::sqrt(a);
  }
};
struct Sin {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::sin(a);
  }
};
struct Cos {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::cos(a);
  }
};
struct Tanh {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::tanh(a);
  }
};
struct Sigmoid {
  // Written so that neither branch overflows: exp of a non-positive number only.
  template <class T>
  KILN_HD T operator()(T a) const {
    if (a >= 0) return T(1) / (T(1) + std::exp(-a));
    T e = std::exp(a);
    return e / (T(1) + e);
  }
};
struct Erf {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::erf(a);
  }
};
struct Erfc {  // 1 - erf(a) without the cancellation: relative accuracy in the right tail
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::erfc(a);
  }
};
// log |Γ(a)|: +inf at the poles (0, -1, -2, ...), as torch's.
struct Lgamma {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::lgamma(a);
  }
};
// ψ(a) = Γ'(a) / Γ(a), in double: recurrence ψ(a) = ψ(a + 1) - 1/a up to a >= 10, then the asymptotic
// series to a^-12 (its next term is under 1e-15 there); reflection ψ(a) = ψ(1 - a) - π / tan(πa) below 0.
// ψ(0) = -inf and the negative integers give NaN (torch's).
struct Digamma {
  template <class T>
  KILN_HD T operator()(T a) const {
    return (T)digamma_f64((double)a);
  }
  static KILN_HD double digamma_f64(double x) {
    if (x == 0) return -INFINITY;
    double acc = 0;
    if (x < 0) {
      if (x == std::floor(x)) return NAN;
      // ψ(x) = ψ(1 - x) - π / tan(πx), with πx reduced by the period so tan keeps its accuracy
      const double r = x - std::floor(x);
      acc = -3.14159265358979323846 / std::tan(3.14159265358979323846 * r);
      x = 1 - x;
    }
    for (; x < 10; x += 1) acc -= 1 / x;
    const double z = 1 / (x * x);
    const double series =
        z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (1.0 / 132 - z * (691.0 / 32760))))));
    return acc + std::log(x) - 0.5 / x - series;
  }
};
// ψ₁(a) = ψ'(a) (polygamma(1, a)), in double: recurrence ψ₁(a) = ψ₁(a + 1) + 1/a² up to a >= 10, then
// the asymptotic series; reflection ψ₁(a) = π² / sin²(πa) - ψ₁(1 - a) below 0; +inf at the poles.
struct Trigamma {
  template <class T>
  KILN_HD T operator()(T a) const {
    double x = (double)a, acc = 0, sign = 1;
    if (x <= 0 && x == std::floor(x)) return (T)INFINITY;
    if (x < 0) {
      const double s = std::sin(3.14159265358979323846 * (x - std::floor(x)));
      acc = 9.86960440108935861883 / (s * s);
      sign = -1;
      x = 1 - x;
    }
    double r = 0;
    for (; x < 10; x += 1) r += 1 / (x * x);
    const double z = 1 / (x * x);
    const double series =
        1 / x + z / 2 +
        z / x *
            (1.0 / 6 -
             z * (1.0 / 30 - z * (1.0 / 42 - z * (1.0 / 30 - z * (5.0 / 66 - z * (691.0 / 2730 - z * (7.0 / 6)))))));
    return (T)(acc + sign * (r + series));
  }
};
struct Floor {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::floor(a);
  }
};
struct Ceil {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::ceil(a);
  }
};
struct Round {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::nearbyint(a);
  }
};
struct Trunc {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::trunc(a);
  }
};
struct Reciprocal {
  template <class T>
  KILN_HD T operator()(T a) const {
    return T(1) / a;
  }
};
struct Log1p {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::log1p(a);
  }
};
struct Expm1 {
  template <class T>
  KILN_HD T operator()(T a) const {
    return std::expm1(a);
  }
};

struct Add {
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    return wrap_add(a, b);
  }
};
struct Sub {
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    return wrap_sub(a, b);
  }
};
struct Mul {
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    return wrap_mul(a, b);
  }
};
struct Div {
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {  // TS promotes ints to float; guard anyway (/0, MIN / -1)
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return wrap_sub(T(0), a);
      return a / b;
    } else
      return a / b;
  }
};
struct Pow {
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if (b < 0) return a == 1 ? T(1) : (a == T(-1) ? ((b & 1) ? T(-1) : T(1)) : T(0));
      T r = 1, base = a;
      for (auto e = b; e > 0; e >>= 1) {
        if (e & 1) r = wrap_mul(r, base);
        base = wrap_mul(base, base);
      }
      return r;
    } else {
      return b == T(2) ? a * a : std::pow(a, b);  // the rounded square (libm's powf is within 0.52 ulp)
    }
  }
};
struct Maximum {
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    if (is_nan(a) || is_nan(b)) return is_nan(a) ? a : b;
    return a > b ? a : b;
  }
};
struct Minimum {
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    if (is_nan(a) || is_nan(b)) return is_nan(a) ? a : b;
    return a < b ? a : b;
  }
};
struct Remainder {
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return T(0);  // MIN % -1 traps on x86
      T r = a % b;
      return (r != 0 && ((r < 0) != (b < 0))) ? wrap_add(r, b) : r;
    } else {
      T r = std::fmod(a, b);
      return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
    }
  }
};
struct Atan2 {
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    return std::atan2(a, b);
  }
};

// Comparisons and logic produce bool.
struct Eq {
  template <class T>
  KILN_HD bool operator()(T a, T b) const {
    return a == b;
  }
};
struct Ne {
  template <class T>
  KILN_HD bool operator()(T a, T b) const {
    return a != b;
  }
};
struct Lt {
  template <class T>
  KILN_HD bool operator()(T a, T b) const {
    return a < b;
  }
};
struct Le {
  template <class T>
  KILN_HD bool operator()(T a, T b) const {
    return a <= b;
  }
};
struct Gt {
  template <class T>
  KILN_HD bool operator()(T a, T b) const {
    return a > b;
  }
};
struct Ge {
  template <class T>
  KILN_HD bool operator()(T a, T b) const {
    return a >= b;
  }
};
struct LogicalAnd {
  template <class T>
  KILN_HD bool operator()(T a, T b) const {
    return (a != T(0)) && (b != T(0));
  }
};
struct LogicalOr {
  template <class T>
  KILN_HD bool operator()(T a, T b) const {
    return (a != T(0)) || (b != T(0));
  }
};
struct LogicalXor {
  template <class T>
  KILN_HD bool operator()(T a, T b) const {
    return (a != T(0)) != (b != T(0));
  }
};
struct LogicalNot {
  template <class T>
  KILN_HD bool operator()(T a) const {
    return a == T(0);
  }
};

}  // namespace kiln::math
