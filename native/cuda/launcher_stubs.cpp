// Weak stand-ins for the launchers of kernels/ (elementwise.h, rows.h, nn.h, pool.h): each answers
// ERR_NOT_COMPILED naming itself. The real launchers (kernels/*.cu) are strong definitions and
// replace these at link time, so the runtime builds, links and loads whether or not a family's
// kernels are present yet, and an op whose launcher is missing fails cleanly instead of at link.
#include "kernels/elementwise.h"
#include "kernels/nn.h"
#include "kernels/pool.h"
#include "kernels/rows.h"

namespace kiln::cuda {

#define KILN_WEAK __attribute__((weak))

KILN_WEAK kiln_status unary_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &a, Unary op) {
  return fail(L, KILN_ERR_NOT_COMPILED, "unary_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status binary_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                                  Binary op) {
  return fail(L, KILN_ERR_NOT_COMPILED, "binary_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status where_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &cond, const kiln_tensor &a,
                                 const kiln_tensor &b) {
  return fail(L, KILN_ERR_NOT_COMPILED, "where_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status copy_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in) {
  return fail(L, KILN_ERR_NOT_COMPILED, "copy_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status fill_cuda(const Launch &L, const kiln_tensor &out, double value) {
  return fail(L, KILN_ERR_NOT_COMPILED, "fill_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status reduce_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, int nred, Reduce op) {
  return fail(L, KILN_ERR_NOT_COMPILED, "reduce_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status gather_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in,
                                  const kiln_tensor &index, int dim) {
  return fail(L, KILN_ERR_NOT_COMPILED, "gather_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status scatter_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &index,
                                   const kiln_tensor &src, int dim, bool accumulate) {
  return fail(L, KILN_ERR_NOT_COMPILED, "scatter_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status gather_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in,
                                  const kiln_tensor &index, int dim, int64_t *bad_index) {
  return fail(L, KILN_ERR_NOT_COMPILED, "gather_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status scatter_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &index,
                                   const kiln_tensor &src, int dim, bool accumulate, int64_t *bad_index) {
  return fail(L, KILN_ERR_NOT_COMPILED, "scatter_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status uniform_cuda(const Launch &L, const kiln_tensor &out, uint64_t seed, uint64_t offset, double lo,
                                   double hi) {
  return fail(L, KILN_ERR_NOT_COMPILED, "uniform_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status normal_cuda(const Launch &L, const kiln_tensor &out, uint64_t seed, uint64_t offset, double mean,
                                  double std) {
  return fail(L, KILN_ERR_NOT_COMPILED, "normal_cuda: not in this build (native/cuda/kernels/elementwise*.cu)");
}
KILN_WEAK kiln_status softmax_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in, int dim, bool log) {
  return fail(L, KILN_ERR_NOT_COMPILED, "softmax_cuda: not in this build (native/cuda/kernels/rows*.cu)");
}
KILN_WEAK kiln_status softmax_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy,
                                            const kiln_tensor &y, int dim, bool log) {
  return fail(L, KILN_ERR_NOT_COMPILED, "softmax_backward_cuda: not in this build (native/cuda/kernels/rows*.cu)");
}
KILN_WEAK kiln_status layer_norm_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &mean,
                                      const kiln_tensor &rstd, const kiln_tensor &x, const kiln_tensor &w,
                                      const kiln_tensor &b, double eps, bool rms) {
  return fail(L, KILN_ERR_NOT_COMPILED, "layer_norm_cuda: not in this build (native/cuda/kernels/rows*.cu)");
}
KILN_WEAK kiln_status layer_norm_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw,
                                               const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                               const kiln_tensor &w, const kiln_tensor &mean, const kiln_tensor &rstd,
                                               bool rms) {
  return fail(L, KILN_ERR_NOT_COMPILED, "layer_norm_backward_cuda: not in this build (native/cuda/kernels/rows*.cu)");
}
KILN_WEAK kiln_status cross_entropy_cuda(const Launch &L, const kiln_tensor &loss, const kiln_tensor &lse,
                                         const kiln_tensor &wrow, const kiln_tensor &logits, const kiln_tensor &target,
                                         const kiln_tensor &weight, const double *attr) {
  return fail(L, KILN_ERR_NOT_COMPILED, "cross_entropy_cuda: not in this build (native/cuda/kernels/rows*.cu)");
}
KILN_WEAK kiln_status cross_entropy_cuda(const Launch &L, const kiln_tensor &loss, const kiln_tensor &lse,
                                         const kiln_tensor &wrow, const kiln_tensor &logits, const kiln_tensor &target,
                                         const kiln_tensor &weight, const double *attr, int64_t *bad_index) {
  return fail(L, KILN_ERR_NOT_COMPILED, "cross_entropy_cuda: not in this build (native/cuda/kernels/rows*.cu)");
}
KILN_WEAK kiln_status cross_entropy_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &logits,
                                                  const kiln_tensor &target, const kiln_tensor &weight,
                                                  const kiln_tensor &lse, const kiln_tensor &gloss,
                                                  const double *attr) {
  return fail(L, KILN_ERR_NOT_COMPILED,
              "cross_entropy_backward_cuda: not in this build (native/cuda/kernels/rows*.cu)");
}
KILN_WEAK kiln_status batch_norm_stats_cuda(const Launch &L, const kiln_tensor &mean, const kiln_tensor &var,
                                            const kiln_tensor &x) {
  return fail(L, KILN_ERR_NOT_COMPILED, "batch_norm_stats_cuda: not in this build (native/cuda/kernels/rows*.cu)");
}
KILN_WEAK kiln_status batch_norm_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor *w,
                                      const kiln_tensor *b, const kiln_tensor &mean, const kiln_tensor &var,
                                      double eps) {
  return fail(L, KILN_ERR_NOT_COMPILED, "batch_norm_cuda: not in this build (native/cuda/kernels/rows*.cu)");
}
KILN_WEAK kiln_status batch_norm_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw,
                                               const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                               const kiln_tensor *w, const kiln_tensor &mean, const kiln_tensor &var,
                                               double eps) {
  return fail(L, KILN_ERR_NOT_COMPILED, "batch_norm_backward_cuda: not in this build (native/cuda/kernels/rows*.cu)");
}
KILN_WEAK kiln_status resample_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor &idx,
                                    const kiln_tensor &w, int64_t taps) {
  return fail(L, KILN_ERR_NOT_COMPILED, "resample_cuda: not in this build (native/cuda/kernels/resample.cu)");
}
KILN_WEAK kiln_status resample_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy,
                                             const kiln_tensor &idx, const kiln_tensor &w, int64_t taps) {
  return fail(L, KILN_ERR_NOT_COMPILED, "resample_backward_cuda: not in this build (native/cuda/kernels/resample.cu)");
}
KILN_WEAK kiln_status bce_with_logits_cuda(const Launch &L, const kiln_tensor &o, const kiln_tensor &x,
                                           const kiln_tensor &t, const kiln_tensor *pw, const kiln_tensor *w,
                                           bool reduce, double scale) {
  return fail(L, KILN_ERR_NOT_COMPILED, "bce_with_logits_cuda: not in this build (native/cuda/kernels/bce.cu)");
}
KILN_WEAK kiln_status bce_with_logits_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &g,
                                                    const kiln_tensor &x, const kiln_tensor &t, const kiln_tensor *pw,
                                                    const kiln_tensor *w, bool scalar_g, double scale) {
  return fail(L, KILN_ERR_NOT_COMPILED,
              "bce_with_logits_backward_cuda: not in this build (native/cuda/kernels/bce.cu)");
}
KILN_WEAK kiln_status group_norm_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gw,
                                               const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                               const kiln_tensor *w, const kiln_tensor &mean, const kiln_tensor &var,
                                               int64_t G, double eps) {
  return fail(L, KILN_ERR_NOT_COMPILED, "group_norm_backward_cuda: not in this build (native/cuda/kernels/rows*.cu)");
}
KILN_WEAK kiln_status act_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &x, NnAct act) {
  return fail(L, KILN_ERR_NOT_COMPILED, "act_cuda: not in this build (native/cuda/kernels/nn*.cu)");
}
KILN_WEAK kiln_status act_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy,
                                        const kiln_tensor &x, NnAct act) {
  return fail(L, KILN_ERR_NOT_COMPILED, "act_backward_cuda: not in this build (native/cuda/kernels/nn*.cu)");
}
KILN_WEAK kiln_status dropout_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &x, uint64_t seed,
                                   uint64_t offset, uint32_t threshold, double scale) {
  return fail(L, KILN_ERR_NOT_COMPILED, "dropout_cuda: not in this build (native/cuda/kernels/nn*.cu)");
}
KILN_WEAK kiln_status embedding_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &weight,
                                     const kiln_tensor &idx) {
  return fail(L, KILN_ERR_NOT_COMPILED, "embedding_cuda: not in this build (native/cuda/kernels/nn*.cu)");
}
KILN_WEAK kiln_status embedding_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &weight,
                                     const kiln_tensor &idx, int64_t *bad_index) {
  return fail(L, KILN_ERR_NOT_COMPILED, "embedding_cuda: not in this build (native/cuda/kernels/nn*.cu)");
}
KILN_WEAK kiln_status embedding_backward_cuda(const Launch &L, const kiln_tensor &gw, const kiln_tensor &gy,
                                              const kiln_tensor &idx, int64_t padding_idx) {
  return fail(L, KILN_ERR_NOT_COMPILED, "embedding_backward_cuda: not in this build (native/cuda/kernels/nn*.cu)");
}
KILN_WEAK kiln_status embedding_backward_cuda(const Launch &L, const kiln_tensor &gw, const kiln_tensor &gy,
                                              const kiln_tensor &idx, int64_t padding_idx, int64_t *bad_index) {
  return fail(L, KILN_ERR_NOT_COMPILED, "embedding_backward_cuda: not in this build (native/cuda/kernels/nn*.cu)");
}
KILN_WEAK kiln_status matmul_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                                  const kiln_tensor *bias, const MatmulOpts &o) {
  return fail(L, KILN_ERR_NOT_COMPILED, "matmul_cuda: not in this build (native/cuda/kernels/nn*.cu)");
}
KILN_WEAK kiln_status optim_step_cuda(const Launch &L, kiln_optim kind, kiln_dtype dtype, const kiln_optim_item *items,
                                      int n, const double *hyper, int nhyper) {
  return fail(L, KILN_ERR_NOT_COMPILED, "optim_step_cuda: not in this build (native/cuda/kernels/nn*.cu)");
}
KILN_WEAK kiln_status max_pool2d_cuda(const Launch &L, const kiln_tensor &y, const kiln_tensor &idx,
                                      const kiln_tensor &x, const double *attr) {
  return fail(L, KILN_ERR_NOT_COMPILED, "max_pool2d_cuda: not in this build (native/cuda/kernels/pool*.cu)");
}
KILN_WEAK kiln_status avg_pool2d_cuda(const Launch &L, const kiln_tensor &out, const kiln_tensor &in,
                                      const double *attr, bool adaptive, bool backward) {
  return fail(L, KILN_ERR_NOT_COMPILED, "avg_pool2d_cuda: not in this build (native/cuda/kernels/pool*.cu)");
}
KILN_WEAK kiln_status max_pool2d_backward_cuda(const Launch &L, const kiln_tensor &gx, const kiln_tensor &gy,
                                               const kiln_tensor &idx, const double *attr) {
  return fail(L, KILN_ERR_NOT_COMPILED, "max_pool2d_backward_cuda: not in this build (native/cuda/kernels/pool*.cu)");
}

}  // namespace kiln::cuda
