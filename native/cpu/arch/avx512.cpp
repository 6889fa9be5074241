// The AVX-512 kernel table: kernels.inc on 16-lane vectors with k-mask tails (vec_avx512.h). The build
// compiles only this file with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mbmi2 (plus the AVX2
// flags); it is chosen at load time when kiln_isa_supported() allows.
#if defined(__x86_64__) || defined(_M_X64)
#include <cstdint>

#include "isa.h"
#include "vec_avx512.h"

namespace kiln::cpu {
namespace avx512 {
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
#include "dropout_avx512.inc"
}  // namespace
}  // namespace avx512

const IsaKernels kAvx512Kernels = avx512::with_math_f64(
    avx512::with_gemm_f64(avx512::with_dropout_avx512(avx512::with_attention(avx512::with_conv(avx512::with_nn(
        avx512::make_table("avx512", avx512::make_gemm_table(), avx512::adam_f32, avx512::make_rows_table())))))));

}  // namespace kiln::cpu
#endif
