// kiln_op_run: routes an op id (kiln_ops.gen.h, generated from ts/ops/table.ts) to its CPU kernel,
// or with kiln_op_run_device to the CUDA dispatch. The device-independent checks and attribute
// decoding live in op_args.cpp (shared with native/cuda/dispatch_cuda.cpp); never aborts.
#include <new>

#include "../cpu/cpu_ops.h"
#include "context.h"
#include "kiln_ops.gen.h"
#include "op_args.h"

using namespace kiln;
using namespace kiln::cpu;

namespace {

kiln_status run(kiln_context *ctx, int op, kiln_tensor *o, const kiln_tensor *in, int nin, const double *attr,
                const OpArgs &a) {
  switch (op) {
    case KILN_OP_NEG: return unary_cpu(ctx, o[0], in[0], Unary::Neg);
    case KILN_OP_ABS: return unary_cpu(ctx, o[0], in[0], Unary::Abs);
    case KILN_OP_SIGN: return unary_cpu(ctx, o[0], in[0], Unary::Sign);
    case KILN_OP_EXP: return unary_cpu(ctx, o[0], in[0], Unary::Exp);
    case KILN_OP_LOG: return unary_cpu(ctx, o[0], in[0], Unary::Log);
    case KILN_OP_SQRT: return unary_cpu(ctx, o[0], in[0], Unary::Sqrt);
    case KILN_OP_RSQRT: return unary_cpu(ctx, o[0], in[0], Unary::Rsqrt);
    case KILN_OP_SIN: return unary_cpu(ctx, o[0], in[0], Unary::Sin);
    case KILN_OP_COS: return unary_cpu(ctx, o[0], in[0], Unary::Cos);
    case KILN_OP_TANH: return unary_cpu(ctx, o[0], in[0], Unary::Tanh);
    case KILN_OP_SIGMOID: return unary_cpu(ctx, o[0], in[0], Unary::Sigmoid);
    case KILN_OP_ERF: return unary_cpu(ctx, o[0], in[0], Unary::Erf);
    case KILN_OP_FLOOR: return unary_cpu(ctx, o[0], in[0], Unary::Floor);
    case KILN_OP_CEIL: return unary_cpu(ctx, o[0], in[0], Unary::Ceil);
    case KILN_OP_ROUND: return unary_cpu(ctx, o[0], in[0], Unary::Round);
    case KILN_OP_TRUNC: return unary_cpu(ctx, o[0], in[0], Unary::Trunc);
    case KILN_OP_RECIPROCAL: return unary_cpu(ctx, o[0], in[0], Unary::Reciprocal);
    case KILN_OP_LOG1P: return unary_cpu(ctx, o[0], in[0], Unary::Log1p);
    case KILN_OP_EXPM1: return unary_cpu(ctx, o[0], in[0], Unary::Expm1);
    case KILN_OP_ERFC: return unary_cpu(ctx, o[0], in[0], Unary::Erfc);
    case KILN_OP_LGAMMA: return unary_cpu(ctx, o[0], in[0], Unary::Lgamma);
    case KILN_OP_DIGAMMA: return unary_cpu(ctx, o[0], in[0], Unary::Digamma);
    case KILN_OP_TRIGAMMA: return unary_cpu(ctx, o[0], in[0], Unary::Trigamma);
    case KILN_OP_LOGICAL_NOT: return unary_cpu(ctx, o[0], in[0], Unary::LogicalNot);
    case KILN_OP_ADD: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Add);
    case KILN_OP_SUB: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Sub);
    case KILN_OP_MUL: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Mul);
    case KILN_OP_DIV: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Div);
    case KILN_OP_POW: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Pow);
    case KILN_OP_MAXIMUM: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Maximum);
    case KILN_OP_MINIMUM: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Minimum);
    case KILN_OP_REMAINDER: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Remainder);
    case KILN_OP_ATAN2: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Atan2);
    case KILN_OP_EQ: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Eq);
    case KILN_OP_NE: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Ne);
    case KILN_OP_LT: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Lt);
    case KILN_OP_LE: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Le);
    case KILN_OP_GT: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Gt);
    case KILN_OP_GE: return binary_cpu(ctx, o[0], in[0], in[1], Binary::Ge);
    case KILN_OP_LOGICAL_AND: return binary_cpu(ctx, o[0], in[0], in[1], Binary::LogicalAnd);
    case KILN_OP_LOGICAL_OR: return binary_cpu(ctx, o[0], in[0], in[1], Binary::LogicalOr);
    case KILN_OP_LOGICAL_XOR: return binary_cpu(ctx, o[0], in[0], in[1], Binary::LogicalXor);
    case KILN_OP_WHERE: return where_cpu(ctx, o[0], in[0], in[1], in[2]);
    case KILN_OP_COPY: return copy_cpu(ctx, o[0], in[0]);
    case KILN_OP_FILL: return fill_cpu(ctx, o[0], attr[0]);
    case KILN_OP_CLAMP: return clamp_cpu(ctx, o[0], in[0], attr[0], attr[1]);
    case KILN_OP_SUM: return reduce_cpu(ctx, o[0], in[0], a.iattr, Reduce::Sum);
    case KILN_OP_PROD: return reduce_cpu(ctx, o[0], in[0], a.iattr, Reduce::Prod);
    case KILN_OP_AMAX: return reduce_cpu(ctx, o[0], in[0], a.iattr, Reduce::Max);
    case KILN_OP_AMIN: return reduce_cpu(ctx, o[0], in[0], a.iattr, Reduce::Min);
    case KILN_OP_ARGMAX: return reduce_cpu(ctx, o[0], in[0], a.iattr, Reduce::ArgMax);
    case KILN_OP_ARGMIN: return reduce_cpu(ctx, o[0], in[0], a.iattr, Reduce::ArgMin);
    case KILN_OP_MATMUL: return matmul_cpu(ctx, o[0], in[0], in[1], a.has_bias ? &in[2] : nullptr, a.mm);
    case KILN_OP_GATHER: return gather_cpu(ctx, o[0], in[0], in[1], a.iattr);
    case KILN_OP_SCATTER: return scatter_cpu(ctx, o[0], in[0], in[1], a.iattr, false);
    case KILN_OP_SCATTER_ADD: return scatter_cpu(ctx, o[0], in[0], in[1], a.iattr, true);
    case KILN_OP_SOFTMAX: return softmax_cpu(ctx, o[0], in[0], a.iattr, attr[1] != 0);
    case KILN_OP_SOFTMAX_BACKWARD: return softmax_backward_cpu(ctx, o[0], in[0], in[1], a.iattr, attr[1] != 0);
    case KILN_OP_LOGSUMEXP: return logsumexp_cpu(ctx, o[0], in[0], a.iattr);
    case KILN_OP_VAR: return var_cpu(ctx, o[0], in[0], a.iattr, attr[1]);
    case KILN_OP_CUMSUM: return cumsum_cpu(ctx, o[0], in[0], a.iattr, attr[1] != 0);
    case KILN_OP_SORT: return sort_cpu(ctx, o[0], o[1], in[0], a.iattr, (int64_t)attr[2], attr[1] != 0);
    case KILN_OP_LAYER_NORM: return layer_norm_cpu(ctx, o[0], o[1], o[2], in[0], in[1], in[2], attr[0], attr[1] != 0);
    case KILN_OP_LAYER_NORM_BACKWARD:
      return layer_norm_backward_cpu(ctx, o[0], o[1], o[2], in[0], in[1], in[2], in[3], in[4], attr[0] != 0);
    case KILN_OP_CROSS_ENTROPY: return cross_entropy_cpu(ctx, o[0], o[1], o[2], o[3], in[0], in[1], in[2], attr);
    case KILN_OP_CROSS_ENTROPY_BACKWARD:
      return cross_entropy_backward_cpu(ctx, o[0], in[0], in[1], in[2], in[3], in[4], attr);
    case KILN_OP_UNIFORM: return uniform_cpu(ctx, o[0], u64_from(attr), u64_from(attr + 2), attr[4], attr[5]);
    case KILN_OP_NORMAL: return normal_cpu(ctx, o[0], u64_from(attr), u64_from(attr + 2), attr[4], attr[5]);
    case KILN_OP_GELU: return act_cpu(ctx, o[0], in[0], attr[0] != 0 ? NnAct::GeluTanh : NnAct::Gelu);
    case KILN_OP_GELU_BACKWARD:
      return act_backward_cpu(ctx, o[0], in[0], in[1], attr[0] != 0 ? NnAct::GeluTanh : NnAct::Gelu);
    case KILN_OP_SILU: return act_cpu(ctx, o[0], in[0], NnAct::Silu);
    case KILN_OP_SILU_BACKWARD: return act_backward_cpu(ctx, o[0], in[0], in[1], NnAct::Silu);
    case KILN_OP_DROPOUT:
      return dropout_cpu(ctx, o[0], in[0], u64_from(attr), u64_from(attr + 2), (uint32_t)attr[4], attr[5]);
    case KILN_OP_BATCH_NORM_STATS: return batch_norm_stats_cpu(ctx, o[0], o[1], in[0]);
    case KILN_OP_BATCH_NORM:
      return batch_norm_cpu(ctx, o[0], in[0], attr[1] != 0 ? &in[1] : nullptr, attr[2] != 0 ? &in[2] : nullptr, in[3],
                            in[4], attr[0]);
    case KILN_OP_BATCH_NORM_BACKWARD:
      return batch_norm_backward_cpu(ctx, o[0], o[1], o[2], in[0], in[1], attr[1] != 0 ? &in[2] : nullptr, in[3], in[4],
                                     attr[0]);
    case KILN_OP_BCE_WITH_LOGITS:
      return bce_with_logits_cpu(ctx, o[0], in[0], in[1], attr[2] != 0 ? &in[2] : nullptr,
                                 attr[3] != 0 ? &in[3] : nullptr, attr[0] != 0, attr[1]);
    case KILN_OP_BCE_WITH_LOGITS_BACKWARD:
      return bce_with_logits_backward_cpu(ctx, o[0], in[0], in[1], in[2], attr[2] != 0 ? &in[3] : nullptr,
                                          attr[3] != 0 ? &in[4] : nullptr, attr[0] != 0, attr[1]);
    case KILN_OP_RESAMPLE: return resample_cpu(ctx, o[0], in[0], in[1], in[2], (int64_t)attr[0]);
    case KILN_OP_RESAMPLE_BACKWARD: return resample_backward_cpu(ctx, o[0], in[0], in[1], in[2], (int64_t)attr[0]);
    case KILN_OP_GROUP_NORM_BACKWARD:
      return group_norm_backward_cpu(ctx, o[0], o[1], o[2], in[0], in[1], attr[1] != 0 ? &in[2] : nullptr, in[3], in[4],
                                     (int64_t)attr[2], attr[0]);
    case KILN_OP_EMBEDDING: return embedding_cpu(ctx, o[0], in[0], in[1]);
    case KILN_OP_EMBEDDING_BACKWARD: return embedding_backward_cpu(ctx, o[0], in[0], in[1], (int64_t)attr[0]);
    case KILN_OP_CONV2D: return conv2d_cpu(ctx, o[0], in[0], in[1], attr[7] != 0 ? &in[2] : nullptr, attr);
    case KILN_OP_CONV2D_BACKWARD_INPUT: return conv2d_backward_input_cpu(ctx, o[0], in[0], in[1], attr);
    case KILN_OP_CONV2D_BACKWARD_WEIGHT: return conv2d_backward_weight_cpu(ctx, o[0], in[0], in[1], attr);
    case KILN_OP_CONV2D_BACKWARD: return conv2d_backward_cpu(ctx, o[0], o[1], o[2], in[0], in[1], in[2], attr);
    case KILN_OP_MAX_POOL2D: return max_pool2d_cpu(ctx, o[0], o[1], in[0], attr);
    case KILN_OP_MAX_POOL2D_BACKWARD: return max_pool2d_backward_cpu(ctx, o[0], in[0], in[1], attr);
    case KILN_OP_AVG_POOL2D: return avg_pool2d_cpu(ctx, o[0], in[0], attr, false, false);
    case KILN_OP_AVG_POOL2D_BACKWARD: return avg_pool2d_cpu(ctx, o[0], in[0], attr, false, true);
    case KILN_OP_ADAPTIVE_AVG_POOL2D: return avg_pool2d_cpu(ctx, o[0], in[0], attr, true, false);
    case KILN_OP_ADAPTIVE_AVG_POOL2D_BACKWARD: return avg_pool2d_cpu(ctx, o[0], in[0], attr, true, true);
    case KILN_OP_ATTENTION: return attention_forward_cpu(ctx, o, in, attr);
    case KILN_OP_ATTENTION_BACKWARD: return attention_backward_cpu(ctx, o, in, attr);
    case KILN_OP_LINALG_CHOLESKY: return linalg_cholesky_cpu(ctx, o[0], o[1], in[0]);
    case KILN_OP_LINALG_LU: return linalg_lu_cpu(ctx, o[0], o[1], o[2], in[0]);
    case KILN_OP_LINALG_SOLVE_TRIANGULAR:
      return linalg_solve_triangular_cpu(ctx, o[0], in[0], in[1], attr[0] != 0, attr[1] != 0, attr[2] != 0);
    case KILN_OP_LINALG_LU_SOLVE: return linalg_lu_solve_cpu(ctx, o[0], in[0], in[1], in[2], attr[0] != 0);
    case KILN_OP_LINALG_QR: return linalg_qr_cpu(ctx, o[0], o[1], in[0]);
    case KILN_OP_LINALG_EIGH: return linalg_eigh_cpu(ctx, o[0], o[1], o[2], in[0], attr[0] != 0, attr[1] != 0);
    case KILN_OP_LINALG_SVD: return linalg_svd_cpu(ctx, o[0], o[1], o[2], o[3], in[0], attr[0] != 0);
    default: return fail(ctx, KILN_ERR_ARG, "op id %d has no CPU kernel", op);
  }
}

}  // namespace

extern "C" kiln_status kiln_op_run_device(kiln_context *ctx, int device, int op, kiln_tensor *outs, int nout,
                                          const kiln_tensor *ins, int nin, const double *attrs, int nattr) {
  if (!ctx) return KILN_ERR_INTERNAL;
  OpArgs args;
  kiln_status st = op_prepare(ctx, op, outs, nout, ins, nin, attrs, nattr, &args);
  if (st != KILN_OK) return st;
  // Nothing may escape an extern "C" entry point: allocation failures inside kernels become
  // ERR_OOM, anything else ERR_INTERNAL.
  try {
    st = device < 0 ? run(ctx, op, outs, ins, nin, attrs, args)
                    : cuda_op_run(ctx, device, op, outs, ins, nin, attrs, args);
  } catch (const std::bad_alloc &) {
    st = fail(ctx, KILN_ERR_OOM, "out of memory for temporary buffers");
  } catch (...) {
    st = fail(ctx, KILN_ERR_INTERNAL, "unexpected native exception");
  }
  const char *name = kiln_op_infos[op].name;
  if (st != KILN_OK && ctx->error.rfind(name, 0) != 0) ctx->error = std::string(name) + ": " + ctx->error;
  return st;
}

extern "C" kiln_status kiln_op_run(kiln_context *ctx, int op, kiln_tensor *outs, int nout, const kiln_tensor *ins,
                                   int nin, const double *attrs, int nattr) {
  return kiln_op_run_device(ctx, -1, op, outs, nout, ins, nin, attrs, nattr);
}

extern "C" kiln_status kiln_optim_step_device(kiln_context *ctx, int device, kiln_optim kind, kiln_dtype dtype,
                                              const kiln_optim_item *items, int n, const double *hyper, int nhyper) {
  if (device < 0) return kiln_optim_step(ctx, kind, dtype, items, n, hyper, nhyper);
  if (!ctx) return KILN_ERR_INTERNAL;
  if (n < 0 || (n > 0 && !items) || !hyper) return fail(ctx, KILN_ERR_ARG, "optim_step: bad item list");
  for (int i = 0; i < n; i++) {
    const kiln_optim_item &it = items[i];
    if (it.numel < 0 || it.step < 1 || (it.numel > 0 && (!it.param || !it.grad)))
      return fail(ctx, KILN_ERR_ARG, "optim_step: item %d has no parameter/gradient memory or a bad step", i);
  }
  if (dtype != KILN_FLOAT32 && dtype != KILN_FLOAT64)
    return fail(ctx, KILN_ERR_DTYPE, "optim_step: parameters must be float32 or float64");
  try {
    return cuda_optim_step(ctx, device, kind, dtype, items, n, hyper, nhyper);
  } catch (...) {
    return fail(ctx, KILN_ERR_INTERNAL, "optim_step: unexpected native exception");
  }
}
