// The bfloat16 GEMM register tile on AVX512_BF16 (vdpbf16ps): 14 x 32 like the float32 tile,
// with each instruction taking two k steps (a pair of bf16 products summed into float32 lanes).
// Built alone with -mavx512bf16 and used only when cpuid reports the extension.
#if defined(__x86_64__) || defined(_M_X64)
#include <cstdint>
#include <cstring>

#include "isa.h"
#include "vec_avx512.h"

namespace kiln::cpu {
namespace {

constexpr int kMR = 14, kNR = 32;

// c[i * ldc + j] = alpha * sum_k a[i, k] b[k, j] over the whole 14 x 32 tile. a holds kp pairs
// per row, a[(p * 14 + i) * 2 + e] = A[i, 2p + e]; b: b[(p * 32 + j) * 2 + e] = B[2p + e, j]; both
// zero-padded (odd K, short edges), so the tile never needs masks.
void tile_bf16(int64_t kp, const uint16_t *a, const uint16_t *b, float *c, int64_t ldc, float alpha) {
  __m512 acc[kMR][2];
#pragma GCC unroll 16
  for (int i = 0; i < kMR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kp; p++) {
    __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32);
#pragma GCC unroll 16
    for (int i = 0; i < kMR; i++) {
      int32_t pair;
      std::memcpy(&pair, a + 2 * i, 4);
      __m512bh ai = (__m512bh)_mm512_set1_epi32(pair);
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
    }
    a += 2 * kMR;
    b += 2 * kNR;
  }
  const __m512 va = _mm512_set1_ps(alpha);
#pragma GCC unroll 16
  for (int i = 0; i < kMR; i++) {
    _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(va, acc[i][0]));
    _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(va, acc[i][1]));
  }
}

}  // namespace

const GemmBf16Kernels kAvx512Bf16Kernels{kMR, kNR, tile_bf16};

}  // namespace kiln::cpu
#endif
