// Small vector helpers shared by the linalg routines, which are built with the baseline flags (SSE2 on
// x86-64, NEON on AArch64): GCC's and Clang's 16-byte vector types, for the loops the compiler does not
// vectorise by itself (it may not reassociate sums), with unaligned loads and stores through memcpy, and a dot
// product with four vector partial sums (its bits depend on n only); and exact scaling by a power of two.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace kiln::cpu {

#if defined(__GNUC__)
template <class T>
struct Vec16 {
  typedef T type __attribute__((vector_size(16)));
};
template <class T>
using V16 = typename Vec16<T>::type;
template <class T>
inline V16<T> vload(const T *p) {
  V16<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <class T>
inline void vstore(T *p, V16<T> v) {
  std::memcpy(p, &v, sizeof(v));
}
#endif

// x · y over n elements.
template <class T>
inline T dot_lanes(const T *x, const T *y, int64_t n) {
  int64_t j = 0;
  T s = 0;
#if defined(__GNUC__)
  constexpr int L = 16 / sizeof(T);
  V16<T> a0 = {}, a1 = {}, a2 = {}, a3 = {};
  for (; j + 4 * L <= n; j += 4 * L) {
    a0 += vload(x + j) * vload(y + j);
    a1 += vload(x + j + L) * vload(y + j + L);
    a2 += vload(x + j + 2 * L) * vload(y + j + 2 * L);
    a3 += vload(x + j + 3 * L) * vload(y + j + 3 * L);
  }
  const V16<T> a = (a0 + a1) + (a2 + a3);
  for (int u = 0; u < L; u++) s += a[u];
#endif
  for (; j < n; j++) s += x[j] * y[j];
  return s;
}

// Multiplies x [n] by 2^e in two steps, so that e may exceed the exponent range of one factor.
template <class T>
inline void scale2(T *x, int64_t n, int e) {
  const T f1 = std::ldexp(T(1), e / 2), f2 = std::ldexp(T(1), e - e / 2);
  for (int64_t i = 0; i < n; i++) x[i] = x[i] * f1 * f2;
}

}  // namespace kiln::cpu
