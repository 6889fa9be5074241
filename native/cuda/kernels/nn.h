// nn kernels: GELU (erf, tanh) and SiLU with their gradients, Philox dropout (the CPU's masks),
// embedding forward and backward, and a simple correct batched matmul (until the GEMM issue).
// Each launcher takes the operands of native/cpu's X_cpu (see cpu_ops.h) and follows launch.h.
#pragma once
#include "../../cpu/cpu_ops.h"
#include "launch.h"

namespace kiln::cuda {
using kiln::cpu::Binary;
using kiln::cpu::GemmAct;
using kiln::cpu::MatmulOpts;
using kiln::cpu::NnAct;
using kiln::cpu::Reduce;
using kiln::cpu::Unary;

kiln_status act_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &x, NnAct act);
kiln_status act_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy, const kiln_tensor &x,
                              NnAct act);
kiln_status dropout_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &x, uint64_t seed, uint64_t offset,
                         uint32_t threshold, double scale);
// Embedding forward and backward. An out-of-range index (the CPU's ERR_INDEX) is never read or
// written out of bounds: the forward writes a zero row for it and the backward drops it; with
// `bad_index` (a bad-index slot's pair of device words preset to INT64_MIN, kernels/bad_index.h)
// the first bad position and its value are recorded there too, for the runtime to report at the
// next synchronisation.
kiln_status embedding_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &weight, const kiln_tensor &idx);
kiln_status embedding_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &weight, const kiln_tensor &idx,
                           int64_t *bad_index);
kiln_status embedding_backward_cuda(const Launch &L, const kiln_tensor &gw, const kiln_tensor &gy,
                                    const kiln_tensor &idx, int64_t padding_idx);
kiln_status embedding_backward_cuda(const Launch &L, const kiln_tensor &gw, const kiln_tensor &gy,
                                    const kiln_tensor &idx, int64_t padding_idx, int64_t *bad_index);
kiln_status matmul_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                        const kiln_tensor *bias, const MatmulOpts &o);

// The fused multi-tensor optimizer steps of kiln_optim_step (native/cpu/optim.cpp) over device
// memory: every item's param, grad and state pointers are device pointers.
kiln_status optim_step_cuda(const Launch &L, kiln_optim kind, kiln_dtype dtype, const kiln_optim_item *items, int n,
                            const double *hyper, int nhyper);
// The same with a kernel variant chosen (vectors per thread per iteration: 1, 2 or 4), for the
// benchmarks; optim_step_cuda uses kOptimVariant.
constexpr int kOptimVariant = 1;  // H200: 3.88 TB/s on AdamW over 100M params, against 3.01 (2) and 3.38 (4)
kiln_status optim_step_variant_cuda(const Launch &L, int variant, kiln_optim kind, kiln_dtype dtype,
                                    const kiln_optim_item *items, int n, const double *hyper, int nhyper);

}  // namespace kiln::cuda
