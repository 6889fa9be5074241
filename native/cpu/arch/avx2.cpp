// The AVX2 + FMA kernel table: kernels.inc on 8-lane vectors (vec_avx2.h). The build compiles only
// this file with -mavx2 -mfma -mf16c; it is chosen at load time when kiln_isa_supported() allows.
#if defined(__x86_64__) || defined(_M_X64)
#include <cstdint>

#include "isa.h"
#include "vec_avx2.h"

namespace kiln::cpu {
namespace avx2 {
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
// after nn_kernels.inc, whose dropout_f32 takes its tails
#include "dropout_avx2.inc"
}  // namespace
}  // namespace avx2

const IsaKernels kAvx2Kernels =
    avx2::with_math_f64(avx2::with_gemm_f64(avx2::with_dropout_avx2(avx2::with_attention(avx2::with_conv(
        avx2::with_nn(avx2::make_table("avx2", avx2::make_gemm_table(), avx2::adam_f32, avx2::make_rows_table())))))));

}  // namespace kiln::cpu
#endif
