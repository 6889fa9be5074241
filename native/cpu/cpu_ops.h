// CPU kernel entry points called by native/core/dispatch.cpp. Each validates cheap invariants
// (dtypes, shapes) and returns a status; the TS layer has already validated the arguments.
#pragma once
#include "../core/context.h"
#include "arch/isa.h"
#include "kiln.h"

namespace kiln::cpu {

kiln_status unary_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, Unary op);
kiln_status binary_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b,
                       Binary op);
kiln_status where_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &cond, const kiln_tensor &a,
                      const kiln_tensor &b);
kiln_status copy_cpu(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &in);  // with dtype conversion
kiln_status fill_cpu(kiln_context *ctx, const kiln_tensor &out, double value);

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

// Fused attention (attention.cpp). Forward: outs out, lse; ins q, k, v, mask. Backward: outs dq,
// dk, dv; ins q, k, v, out, lse, dout, mask. attrs: scale, causal, mask kind, dropout p, seed, offset.
kiln_status attention_forward_cpu(kiln_context *ctx, const kiln_tensor *outs, const kiln_tensor *ins,
                                  const double *attr);
kiln_status attention_backward_cpu(kiln_context *ctx, const kiln_tensor *outs, const kiln_tensor *ins,
                                   const double *attr);

}  // namespace kiln::cpu
