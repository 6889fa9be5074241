// The generic kernel table (kernels.inc on one plain-C++ lane, vec_generic.h): the fallback for CPUs
// without a vector ISA and the twin every other table is tested against. Also maps a kiln_isa to
// its table, since this is the one arch file built on every platform.
#include <cstdint>

// GCC 12's loop vectorizer turns the 1-lane GEMM tile's two-column k loop into paired loads that
// read one row of B past the last (test/native/gemm_kernels_test.cpp catches it with a guard
// page); this twin is the reference, not the fast path, so it is built without that pass.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-vectorize")
#endif

#include "isa.h"
#include "vec_generic.h"

namespace kiln::cpu {
namespace generic {
namespace {
using V = Vec;
#include "kernels.inc"
// after kernels.inc, whose functions it uses (a separate block keeps the order)
#include "conv.inc"
#include "gemm.inc"
#include "gemm_f64.inc"
#include "math_f64.inc"
#include "nn_kernels.inc"
#include "optim.inc"
#include "rows.inc"
// after gemm.inc, whose register-tile constants it uses
#include "attention.inc"
}  // namespace
}  // namespace generic

const IsaKernels kGenericKernels =
    generic::with_math_f64(generic::with_gemm_f64(generic::with_attention(generic::with_conv(generic::with_nn(
        generic::make_table("generic", generic::make_gemm_table(), generic::adam_f32, generic::make_rows_table()))))));

const IsaKernels *isa_kernels(kiln_isa isa) {
  switch (isa) {
#if defined(__x86_64__) || defined(_M_X64)
    case KILN_ISA_AVX512: return &kAvx512Kernels;
    case KILN_ISA_AVX2: return &kAvx2Kernels;
#endif
#if defined(__aarch64__)
    case KILN_ISA_NEON: return &kNeonKernels;
#endif
    default: return &kGenericKernels;
  }
}

const GemmBf16Kernels *gemm_bf16_kernels(kiln_isa isa) {
#if defined(__x86_64__) || defined(_M_X64)
  if (isa == KILN_ISA_AVX512 && kiln_cpu_has_avx512_bf16()) return &kAvx512Bf16Kernels;
#endif
  (void)isa;
  return nullptr;
}

}  // namespace kiln::cpu
