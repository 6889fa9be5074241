// The AArch64 NEON kernel table: kernels.inc on 4-lane vectors (vec_neon.h). NEON is baseline on
// AArch64, so this file needs no extra flags there and compiles to nothing elsewhere.
#if defined(__aarch64__)
#include <cstdint>

#include "isa.h"
#include "vec_neon.h"

namespace kiln::cpu {
namespace neon {
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
}  // namespace neon

const IsaKernels kNeonKernels = neon::with_math_f64(neon::with_gemm_f64(neon::with_attention(neon::with_conv(
    neon::with_nn(neon::make_table("neon", neon::make_gemm_table(), neon::adam_f32, neon::make_rows_table()))))));

}  // namespace kiln::cpu
#endif
