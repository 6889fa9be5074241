// Fused row kernels: softmax/logSoftmax, layerNorm/rmsNorm, crossEntropy and batchNorm, forward
// and backward, with the CPU kernels' saved statistics and semantics.
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

kiln_status softmax_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, int dim, bool log);
kiln_status softmax_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy, const kiln_tensor &y,
                                  int dim, bool log);
kiln_status layer_norm_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &mean, const kiln_tensor &rstd,
                            const kiln_tensor &x, const kiln_tensor &w, const kiln_tensor &b, double eps, bool rms);
kiln_status layer_norm_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw,
                                     const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                     const kiln_tensor &w, const kiln_tensor &mean, const kiln_tensor &rstd, bool rms);
// Out-of-range index targets (not ignore_index): the CPU kernel returns ERR_INDEX; a kernel cannot
// report that without a synchronisation, so those rows get loss = wrow = NaN here (and a zero
// gradient row in the backward, as on CPU). With `bad_index` (a bad-index slot's pair of device
// words preset to INT64_MIN, kernels/bad_index.h) the forward also records the first bad row and
// its target there, for the runtime to report at the next synchronisation; the backward records
// nothing (its CPU kernel does not fail either).
kiln_status cross_entropy_cuda(const Launch &L, const kiln_tensor &loss, const kiln_tensor &lse,
                               const kiln_tensor &wrow, const kiln_tensor &logits, const kiln_tensor &target,
                               const kiln_tensor &weight, const double *attr);
kiln_status cross_entropy_cuda(const Launch &L, const kiln_tensor &loss, const kiln_tensor &lse,
                               const kiln_tensor &wrow, const kiln_tensor &logits, const kiln_tensor &target,
                               const kiln_tensor &weight, const double *attr, int64_t *bad_index);
kiln_status cross_entropy_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &logits,
                                        const kiln_tensor &target, const kiln_tensor &weight, const kiln_tensor &lse,
                                        const kiln_tensor &gloss, const double *attr);
kiln_status batch_norm_stats_cuda(const Launch &L, const kiln_tensor &mean, const kiln_tensor &var,
                                  const kiln_tensor &x);
kiln_status batch_norm_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor *w,
                            const kiln_tensor *b, const kiln_tensor &mean, const kiln_tensor &var, double eps);
kiln_status batch_norm_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw,
                                     const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                     const kiln_tensor *w, const kiln_tensor &mean, const kiln_tensor &var, double eps);
kiln_status resample_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor &idx,
                          const kiln_tensor &w, int64_t taps);
kiln_status resample_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy,
                                   const kiln_tensor &idx, const kiln_tensor &w, int64_t taps);
kiln_status bce_with_logits_cuda(const Launch &L, const kiln_tensor &o, const kiln_tensor &x, const kiln_tensor &t,
                                 const kiln_tensor *pw, const kiln_tensor *w, bool reduce, double scale);
kiln_status bce_with_logits_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &g,
                                          const kiln_tensor &x, const kiln_tensor &t, const kiln_tensor *pw,
                                          const kiln_tensor *w, bool scalar_g, double scale);
kiln_status group_norm_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw,
                                     const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                     const kiln_tensor *w, const kiln_tensor &mean, const kiln_tensor &var, int64_t G,
                                     double eps);

}  // namespace kiln::cuda
