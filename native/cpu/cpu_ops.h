// CPU kernel entry points called by native/core/dispatch.cpp. Each validates cheap invariants
// (dtypes, shapes) and returns a status; the TS layer has already validated the arguments.
#pragma once
#include "../core/context.h"
#include "arch/isa.h"
#include "kiln.h"

namespace kiln::cpu {

// Row-major dense (size-1 dims may have any stride).
inline bool contiguous(const kiln_tensor &t) {
  int64_t s = 1;
  for (int d = t.ndim - 1; d >= 0; d--) {
    if (t.shape[d] != 1 && t.strides[d] != s) return false;
    s *= t.shape[d];
  }
  return true;
}

kiln_status unary_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, Unary op);
kiln_status binary_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                       Binary op);
kiln_status where_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &cond, const kiln_tensor &a,
                      const kiln_tensor &b);
kiln_status copy_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in);  // with dtype conversion
kiln_status fill_cpu(kiln_context *ctx, const kiln_tensor &out, double value);
kiln_status clamp_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, double lo, double hi);

enum class Reduce { Sum, Prod, Max, Min, ArgMax, ArgMin };
// `in` is viewed as [out dims..., reduced dims...]: its last `nred` dims are reduced.
kiln_status reduce_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int nred, Reduce op);

struct MatmulOpts {
  double alpha = 1.0, beta = 0.0;
  GemmAct act = GemmAct::None;
};
// out[..., M, N] = act(alpha * a[..., M, K] @ b[..., K, N] + beta * out + bias): batch dims already
// broadcast by the caller; out's rows contiguous (read only when beta != 0); bias null or expanded
// to out's shape with a last stride of 0 or 1.
kiln_status matmul_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                       const kiln_tensor *bias, const MatmulOpts &o);

kiln_status gather_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, const kiln_tensor &index,
                       int dim);
// out already holds the base values; writes (or adds) src along dim at index.
kiln_status scatter_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &index, const kiln_tensor &src,
                        int dim, bool accumulate);

// Philox 4x32-10 with key = seed and counter = offset + element / 4, so values depend only on
// (seed, offset, element index): identical for any thread count and on every device.
kiln_status uniform_cpu(kiln_context *ctx, const kiln_tensor &out, uint64_t seed, uint64_t offset, double lo,
                        double hi);
kiln_status normal_cpu(kiln_context *ctx, const kiln_tensor &out, uint64_t seed, uint64_t offset, double mean,
                       double std);

// nn kernels (activation.cpp, dropout.cpp, batch_norm.cpp, group_norm.cpp, embedding.cpp).
kiln_status act_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &x, NnAct act);
kiln_status act_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gy, const kiln_tensor &x,
                             NnAct act);
kiln_status dropout_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &x, uint64_t seed, uint64_t offset,
                        uint32_t threshold, double scale);
// x, y, gx, gy: contiguous [N, C, S]; weight, bias, mean, var, gw, gb: contiguous [C].
kiln_status batch_norm_stats_cpu(kiln_context *ctx, const kiln_tensor &mean, const kiln_tensor &var,
                                 const kiln_tensor &x);
kiln_status batch_norm_cpu(kiln_context *ctx, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor *w,
                           const kiln_tensor *b, const kiln_tensor &mean, const kiln_tensor &var, double eps);
kiln_status batch_norm_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gw,
                                    const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                    const kiln_tensor *w, const kiln_tensor &mean, const kiln_tensor &var, double eps);
// group_norm.cpp: as batch_norm_backward, C channels in G groups; mean, var: contiguous [N G].
kiln_status group_norm_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gw,
                                    const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                    const kiln_tensor *w, const kiln_tensor &mean, const kiln_tensor &var, int64_t G,
                                    double eps);
// bce.cpp: binary cross-entropy with logits over contiguous operands of x's numel (pw, w may be
// null); reduce: o is one element, scale times the sum. The backward's g: one element (scalar_g,
// times scale) or x's numel.
kiln_status bce_with_logits_cpu(kiln_context *ctx, const kiln_tensor &o, const kiln_tensor &x, const kiln_tensor &t,
                                const kiln_tensor *pw, const kiln_tensor *w, bool reduce, double scale);
kiln_status bce_with_logits_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &g,
                                         const kiln_tensor &x, const kiln_tensor &t, const kiln_tensor *pw,
                                         const kiln_tensor *w, bool scalar_g, double scale);
// resample.cpp: y [outer, out, inner] from x [outer, n, inner] by T taps per output (idx int64 and
// w of x's dtype, [T out] each, t-major); the backward scatters gy back to gx [outer, n, inner].
kiln_status resample_cpu(kiln_context *ctx, const kiln_tensor &y, const kiln_tensor &x, const kiln_tensor &idx,
                         const kiln_tensor &w, int64_t T_);
kiln_status resample_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gy,
                                  const kiln_tensor &idx, const kiln_tensor &w, int64_t T_);
// index: int32/int64 [T]; out / gy: [T, D]; weight / gw: [num, D]; padding_idx < 0: none.
kiln_status embedding_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &weight, const kiln_tensor &idx);
kiln_status embedding_backward_cpu(kiln_context *ctx, const kiln_tensor &gw, const kiln_tensor &gy,
                                   const kiln_tensor &idx, int64_t padding_idx);
// Convolution (conv.cpp) over contiguous NCHW float32/float64 operands. attr: stride (h, w),
// padding (top, left), dilation (h, w), groups; the output sizes give the bottom/right padding.
kiln_status conv2d_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &x, const kiln_tensor &w,
                       const kiln_tensor *bias, const double *attr);
kiln_status conv2d_backward_input_cpu(kiln_context *ctx, const kiln_tensor &dx, const kiln_tensor &dy,
                                      const kiln_tensor &w, const double *attr);
kiln_status conv2d_backward_weight_cpu(kiln_context *ctx, const kiln_tensor &dw, const kiln_tensor &x,
                                       const kiln_tensor &dy, const double *attr);
// All three gradients from one call (fused for stride-1 depthwise): dx, dw, db each empty (skipped)
// or of x's, w's, [K] shape; in: dy, x, w; attr as above.
kiln_status conv2d_backward_cpu(kiln_context *ctx, const kiln_tensor &dx, const kiln_tensor &dw, const kiln_tensor &db,
                                const kiln_tensor &dy, const kiln_tensor &x, const kiln_tensor &w, const double *attr);
// Pooling (pool.cpp). max: attr kernel (h, w), stride, padding, dilation. avg: kernel, stride,
// padding, countIncludePad, divisor (> 0, or 0: none); adaptive ignores attr. backward: out is dx, in is dy.
kiln_status max_pool2d_cpu(kiln_context *ctx, const kiln_tensor &y, const kiln_tensor &idx, const kiln_tensor &x,
                           const double *attr);
// gx [N, C, H, W] = the scatter-add of gy [N, C, OH, OW] by max_pool2d's indices for the same attr
// (each added only where it is one of its window's taps inside the input), in output order.
kiln_status max_pool2d_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gy,
                                    const kiln_tensor &idx, const double *attr);
kiln_status avg_pool2d_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, const double *attr,
                           bool adaptive, bool backward);
// Fused memory-bound rows (softmax.cpp, norm.cpp, cross_entropy.cpp): contiguous operands, float32
// or float64; see each file's header for the math and the saved per-row statistics.
kiln_status softmax_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int dim, bool log);
kiln_status softmax_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gy, const kiln_tensor &y,
                                 int dim, bool log);
// out: in's shape with dim's size 1 (softmax.cpp).
kiln_status logsumexp_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int dim);
// Variance along dim with a correction (var.cpp): out is in's shape with dim of size 1.
kiln_status var_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int dim, double correction);
// Running sums along dim (scan.cpp), from the end with reverse; contiguous, one dtype.
kiln_status cumsum_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in, int dim, bool reverse);
// values, indices (int64): in's shape with dim's size k, the first k of each row sorted along dim
// (ascending, or descending), ties in index order (sort.cpp).
kiln_status sort_cpu(kiln_context *ctx, const kiln_tensor &values, const kiln_tensor &indices, const kiln_tensor &in,
                     int dim, int64_t k, bool descending);
// x [rows, n]; y like x; mean, rstd [rows]; w, b [n] or empty (absent).
kiln_status layer_norm_cpu(kiln_context *ctx, const kiln_tensor &y, const kiln_tensor &mean, const kiln_tensor &rstd,
                           const kiln_tensor &x, const kiln_tensor &w, const kiln_tensor &b, double eps, bool rms);
// gw, gb [n] or empty (not wanted); w [n] or empty.
kiln_status layer_norm_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &gw,
                                    const kiln_tensor &gb, const kiln_tensor &gy, const kiln_tensor &x,
                                    const kiln_tensor &w, const kiln_tensor &mean, const kiln_tensor &rstd, bool rms);
// attr: ignore_index, label_smoothing. loss, lse, wrow [rows]; target int64 [rows] or like logits.
// attr: ignore_index, label_smoothing, the scale of the gradient written to gx ([0]: none).
kiln_status cross_entropy_cpu(kiln_context *ctx, const kiln_tensor &loss, const kiln_tensor &lse,
                              const kiln_tensor &wrow, const kiln_tensor &gx, const kiln_tensor &logits,
                              const kiln_tensor &target, const kiln_tensor &weight, const double *attr);
kiln_status cross_entropy_backward_cpu(kiln_context *ctx, const kiln_tensor &gx, const kiln_tensor &logits,
                                       const kiln_tensor &target, const kiln_tensor &weight, const kiln_tensor &lse,
                                       const kiln_tensor &gloss, const double *attr);
// Fused attention (attention.cpp). Forward: outs out, lse; ins q, k, v, mask. Backward: outs dq,
// dk, dv; ins q, k, v, out, lse, dout, mask. attrs: scale, causal, mask kind, dropout p, seed, offset.
kiln_status attention_forward_cpu(kiln_context *ctx, const kiln_tensor *outs, const kiln_tensor *ins,
                                  const double *attr);
kiln_status attention_backward_cpu(kiln_context *ctx, const kiln_tensor *outs, const kiln_tensor *ins,
                                   const double *attr);

// kiln.linalg (linalg.cpp): contiguous [batch, rows, cols] stacks of float32 or float64 matrices.
// info: int32 [batch], LAPACK's (0, or the 1-based step where a factorisation failed).
kiln_status linalg_cholesky_cpu(kiln_context *ctx, const kiln_tensor &l, const kiln_tensor &info, const kiln_tensor &a);
kiln_status linalg_lu_cpu(kiln_context *ctx, const kiln_tensor &lu, const kiln_tensor &piv, const kiln_tensor &info,
                          const kiln_tensor &a);
kiln_status linalg_solve_triangular_cpu(kiln_context *ctx, const kiln_tensor &x, const kiln_tensor &a,
                                        const kiln_tensor &b, bool upper, bool trans, bool unit);
kiln_status linalg_lu_solve_cpu(kiln_context *ctx, const kiln_tensor &x, const kiln_tensor &lu, const kiln_tensor &piv,
                                const kiln_tensor &b, bool trans);
// Q [b, m, qcols] (qcols in [min(m, n), m], or [b, 0, 0]: no Q) and R [b, rows, n].
kiln_status linalg_qr_cpu(kiln_context *ctx, const kiln_tensor &q, const kiln_tensor &r, const kiln_tensor &a);
kiln_status linalg_eigh_cpu(kiln_context *ctx, const kiln_tensor &w, const kiln_tensor &v, const kiln_tensor &info,
                            const kiln_tensor &a, bool upper, bool vectors);
// U [b, m, k or m] and Vh [b, k or n, n] (reduced or full), S [b, k].
kiln_status linalg_svd_cpu(kiln_context *ctx, const kiln_tensor &u, const kiln_tensor &s, const kiln_tensor &vt,
                           const kiln_tensor &info, const kiln_tensor &a, bool vectors);

}  // namespace kiln::cpu
