// The float32 GEMM driver: C = act(alpha * A.B + beta * C + bias) over a batch of matrices, with
// A and B at any strides (so transposed operands are never materialised) and C's rows contiguous.
// Goto/BLIS blocking (gemm.cpp) around the per-ISA register tiles (arch/gemm.inc).
#pragma once
#include <cstdint>
#include <vector>

#include "../core/context.h"
#include "arch/isa.h"

namespace kiln::cpu {

// Shape, strides (in elements) and options shared by every matrix of the batch.
struct GemmGeometry {
  int64_t M = 0, N = 0, K = 0;
  int64_t rsa = 0, csa = 0;  // A[i, k] at a + i * rsa + k * csa
  int64_t rsb = 0, csb = 0;  // B[k, j] at b + k * rsb + j * csb
  int64_t rsc = 0;           // C[i, j] at c + i * rsc + j
  float alpha = 1.0f, beta = 0.0f;
  // bias(i, j) = bias[i * bias_rs + j * bias_cs]: a per-column bias has (0, 1), a per-row one (1, 0).
  int64_t bias_rs = 0, bias_cs = 0;
  GemmAct act = GemmAct::None;
  // Optional: B is implicit (a convolution's im2col) and this packs its panels instead of the
  // strides: dst[k * nr_full + j] = B[k0 + k, j0 + j] for k < kc, j < nr, zeros up to nr_full;
  // b is the matrix's GemmPtrs::b.
  void (*pack_b)(const void *user, float *dst, const float *b, int64_t k0, int64_t kc, int64_t j0, int nr,
                 int nr_full) = nullptr;
  const void *pack_b_user = nullptr;
};

// One matrix of the batch. bias may be null.
struct GemmPtrs {
  const float *a, *b;
  float *c;
  const float *bias;
};

// Runs the whole batch as one pool job. Work is split over rows and columns of C, never over K,
// and the K blocking depends only on K and the cache sizes, so the bits are the same for any
// thread count. Throws std::bad_alloc when scratch memory cannot be had.
void gemm_f32(kiln_context *ctx, const GemmGeometry &g, const std::vector<GemmPtrs> &batch);

// One matrix of a float16 / bfloat16 batch (operands, output and bias all of that dtype).
struct GemmPtrsLowp {
  const void *a, *b;
  void *c;
  const void *bias;
};

// float16 / bfloat16 operands and output with float32 accumulation over the whole of K (one fma
// chain per element, or vdpbf16ps pairs on CPUs with AVX512_BF16), then rounded once on store.
// Same splitting rules as gemm_f32, so the bits do not depend on the thread count either.
void gemm_lowp(kiln_context *ctx, kiln_dtype dtype, const GemmGeometry &g, const std::vector<GemmPtrsLowp> &batch);

// float64: shape and strides as GemmGeometry's (C's columns contiguous), C = alpha A B + beta C (C unread
// when beta == 0); no bias, activation or packing hook. gemm_f64.cpp, on the ISA's float64 register tile.
struct GemmF64Geometry {
  int64_t M = 0, N = 0, K = 0;
  int64_t rsa = 0, csa = 0, rsb = 0, csb = 0, rsc = 0;
  double alpha = 1.0, beta = 0.0;
};
struct GemmF64Ptrs {
  const double *a, *b;
  double *c;
};
void gemm_f64(kiln_context *ctx, const GemmF64Geometry &g, const std::vector<GemmF64Ptrs> &batch);

}  // namespace kiln::cpu
