// Scalar types kiln stores, their conversions, and the compute type each is widened to.
// Host/device inline so CPU and CUDA kernels share one definition (KILN_HD).
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kiln.h"

#if defined(__CUDACC__)
#define KILN_HD __host__ __device__ inline
#else
#define KILN_HD inline
#endif

namespace kiln {

struct half_t {
  uint16_t bits;
};
struct bfloat16_t {
  uint16_t bits;
};

KILN_HD float bits_to_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
KILN_HD uint32_t float_to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

// IEEE binary16 <-> binary32, round to nearest even; handles subnormals, inf and NaN.
KILN_HD float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    if (man == 0) return bits_to_float(sign);
    float f = (float)man * 5.9604644775390625e-8f;  // man * 2^-24
    return sign ? -f : f;
  }
  return bits_to_float(sign | ((exp + 112) << 23) | (man << 13));
}
KILN_HD uint16_t float_to_half(float f) {
  uint32_t u = float_to_bits(f), sign = (u >> 16) & 0x8000;
  uint32_t a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0));
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);  // rounds to >= 65520: inf
  if (a < 0x38800000u) {                                   // below 2^-14: subnormal or zero
    float v = bits_to_float(a) * 16777216.0f;              // scale by 2^24, round to integer
    uint32_t m = (uint32_t)v;
    float r = v - (float)m;
    if (r > 0.5f || (r == 0.5f && (m & 1))) m++;
    return (uint16_t)(sign | m);
  }
  uint32_t mant = a & 0x7fffff, e = (a >> 23) - 112;
  uint32_t h = (e << 10) | (mant >> 13), rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
  return (uint16_t)(sign | h);
}
KILN_HD float bf16_to_float(uint16_t b) { return bits_to_float((uint32_t)b << 16); }
KILN_HD uint16_t float_to_bf16(float f) {
  uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // keep NaN a NaN
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}

// Compute type: half types widen to float; everything else computes in itself.
template <class T>
struct compute_of {
  using type = T;
};
template <>
struct compute_of<half_t> {
  using type = float;
};
template <>
struct compute_of<bfloat16_t> {
  using type = float;
};
template <class T>
using compute_t = typename compute_of<T>::type;

template <class T>
KILN_HD compute_t<T> load(const T &v) {
  return v;
}
// A bool byte other than 0/1 (written through a zero-copy data() view) still reads as true.
KILN_HD bool load(const bool &v) {
  uint8_t b;
  memcpy(&b, &v, 1);
  return b != 0;
}
KILN_HD float load(const half_t &v) { return half_to_float(v.bits); }
KILN_HD float load(const bfloat16_t &v) { return bf16_to_float(v.bits); }

template <class T>
struct storer {
  template <class C>
  KILN_HD static T cvt(C v) {
    if constexpr (std::is_integral_v<T> && std::is_floating_point_v<C>) {
      // Float to integer is undefined in C++ for NaN and out-of-range values: NaN gives 0,
      // int32/int64 saturate (the same on every CPU), uint8 wraps.
      if (!(v == v)) return T(0);
      if constexpr (std::is_same_v<T, uint8_t>) {  // wraps like PyTorch's uint8 cast (-2.5 -> 254)
        if (v <= (C)-9.0e18 || v >= (C)9.0e18) return T(0);
        return (T)(int64_t)v;
      }
      if (v <= (C)std::numeric_limits<T>::lowest()) return std::numeric_limits<T>::lowest();
      if (v >= (C)std::numeric_limits<T>::max()) return std::numeric_limits<T>::max();
      return (T)v;
    } else {
      return (T)v;
    }
  }
};
template <>
struct storer<bool> {
  template <class C>
  KILN_HD static bool cvt(C v) {
    return v != (C)0;
  }
};
template <>
struct storer<half_t> {
  template <class C>
  KILN_HD static half_t cvt(C v) {
    return half_t{float_to_half((float)v)};
  }
};
template <>
struct storer<bfloat16_t> {
  template <class C>
  KILN_HD static bfloat16_t cvt(C v) {
    return bfloat16_t{float_to_bf16((float)v)};
  }
};
template <class T, class C>
KILN_HD T store(C v) {
  return storer<T>::cvt(v);
}

inline size_t dtype_size(int dt) {
  switch (dt) {
    case KILN_FLOAT64:
    case KILN_INT64: return 8;
    case KILN_FLOAT32:
    case KILN_INT32: return 4;
    case KILN_FLOAT16:
    case KILN_BFLOAT16: return 2;
    case KILN_UINT8:
    case KILN_BOOL: return 1;
    default: return 0;
  }
}
inline bool dtype_is_float(int dt) { return dt <= KILN_BFLOAT16; }

}  // namespace kiln

// Calls the body with `using scalar_t = <type of dt>`; unknown dtypes run ON_BAD.
#define KILN_DISPATCH_CASE(ENUM, TYPE, ...) \
  case ENUM: {                              \
    using scalar_t = TYPE;                  \
    __VA_ARGS__;                            \
    break;                                  \
  }
#define KILN_FLOAT_CASES(...)                                 \
  KILN_DISPATCH_CASE(KILN_FLOAT32, float, __VA_ARGS__)        \
  KILN_DISPATCH_CASE(KILN_FLOAT64, double, __VA_ARGS__)       \
  KILN_DISPATCH_CASE(KILN_FLOAT16, kiln::half_t, __VA_ARGS__) \
  KILN_DISPATCH_CASE(KILN_BFLOAT16, kiln::bfloat16_t, __VA_ARGS__)

#define KILN_DISPATCH_FLOAT(dt, ON_BAD, ...) \
  switch (dt) {                              \
    KILN_FLOAT_CASES(__VA_ARGS__)            \
    default: ON_BAD;                         \
  }

#define KILN_DISPATCH_ALL(dt, ON_BAD, ...)               \
  switch (dt) {                                          \
    KILN_FLOAT_CASES(__VA_ARGS__)                        \
    KILN_DISPATCH_CASE(KILN_INT32, int32_t, __VA_ARGS__) \
    KILN_DISPATCH_CASE(KILN_INT64, int64_t, __VA_ARGS__) \
    KILN_DISPATCH_CASE(KILN_UINT8, uint8_t, __VA_ARGS__) \
    KILN_DISPATCH_CASE(KILN_BOOL, bool, __VA_ARGS__)     \
    default: ON_BAD;                                     \
  }
