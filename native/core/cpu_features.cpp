// CPU feature detection for load-time ISA selection (KILN_ISA overrides, see context.cpp).
#include "kiln.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
static unsigned long long xgetbv0() {
  unsigned lo, hi;
  __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}
#endif

extern "C" unsigned kiln_isa_supported(void) {
  unsigned set = 1u << KILN_ISA_GENERIC;
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return set;
  bool osxsave = c & (1u << 27), fma = c & (1u << 12), avx = c & (1u << 28);
  if (!osxsave || !avx) return set;
  unsigned long long xcr0 = xgetbv0();
  bool ymm = (xcr0 & 6) == 6, zmm = (xcr0 & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return set;
  bool avx2 = b & (1u << 5), avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
       avx512vl = b & (1u << 31), bmi2 = b & (1u << 8);
  if (ymm && avx2 && fma) set |= 1u << KILN_ISA_AVX2;
  if (zmm && avx512f && avx512dq && avx512bw && avx512vl && bmi2 && (set & (1u << KILN_ISA_AVX2)))
    set |= 1u << KILN_ISA_AVX512;  // bmi2: the AVX-512 dropout's pdep
#elif defined(__aarch64__)
  set |= 1u << KILN_ISA_NEON;
#endif
  return set;
}

extern "C" int kiln_cpu_has_avx512_bf16(void) {
#if defined(__x86_64__) || defined(_M_X64)
  static const int has = [] {
    unsigned a, b, c, d;
    if (!(kiln_isa_supported() & (1u << KILN_ISA_AVX512))) return 0;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (int)((a >> 5) & 1);  // CPUID.(EAX=7,ECX=1):EAX[5] = AVX512_BF16
  }();
  return has;
#else
  return 0;
#endif
}

extern "C" const char *kiln_isa_name(kiln_isa isa) {
  switch (isa) {
    case KILN_ISA_AVX512: return "avx512";
    case KILN_ISA_AVX2: return "avx2";
    case KILN_ISA_NEON: return "neon";
    default: return "generic";
  }
}
