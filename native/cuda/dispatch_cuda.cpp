// The CUDA dispatch: kiln_op_run_device routes ops on cuda:N here, after the same checks and
// attribute decoding as the CPU (core/op_args.cpp). The switch mirrors core/dispatch.cpp's and
// calls the X_cuda launchers of kernels/ with a Launch made from the device's state (stream,
// scratch from the caching allocator, message buffer). KILN_CUDA_SYNC=1 waits after every op so an
// asynchronous CUDA error is reported by the op that caused it. Gather, scatter, embedding (both
// ways) and cross_entropy with class-index targets get a bad-index slot of the device (runtime.h),
// checked at the next synchronisation: ERR_INDEX with the CPU's message, without a sync per op.
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>

#include "kernels/elementwise.h"
#include "kernels/nn.h"
#include "kernels/pool.h"
#include "kernels/rows.h"
#include "kiln_ops.gen.h"
#include "op_args.h"
#include "runtime.h"

using namespace kiln;
using namespace kiln::cuda;

namespace {

// The ops of the op table this build runs on the CPU only: launch_op answers them with ERR_NOT_COMPILED and
// the .cpu() hint, and has_cuda_kernel (the coverage table's CUDA column) leaves them out. One list for both.
bool cpu_only(int op) {
  switch (op) {
    case KILN_OP_CONV2D:
    case KILN_OP_CONV2D_BACKWARD_INPUT:
    case KILN_OP_CONV2D_BACKWARD_WEIGHT:
    case KILN_OP_CONV2D_BACKWARD:
    case KILN_OP_ATTENTION:
    case KILN_OP_ATTENTION_BACKWARD:
    case KILN_OP_LOGSUMEXP:
    case KILN_OP_SORT:
    case KILN_OP_CUMSUM:
    case KILN_OP_VAR:
    case KILN_OP_CLAMP:
    case KILN_OP_LINALG_CHOLESKY:
    case KILN_OP_LINALG_LU:
    case KILN_OP_LINALG_SOLVE_TRIANGULAR:
    case KILN_OP_LINALG_LU_SOLVE:
    case KILN_OP_LINALG_QR:
    case KILN_OP_LINALG_EIGH:
    case KILN_OP_LINALG_SVD: return true;
    default: return false;
  }
}

// `bad`: the device words where an index op records an out-of-range index (Device::bad_slot).
kiln_status launch_op(const Launch &L, int op, kiln_tensor *o, const kiln_tensor *in, int nin, const double *attr,
                      const OpArgs &a, int64_t *bad) {
  switch (op) {
    case KILN_OP_NEG: return unary_cuda(L, o[0], in[0], Unary::Neg);
    case KILN_OP_ABS: return unary_cuda(L, o[0], in[0], Unary::Abs);
    case KILN_OP_SIGN: return unary_cuda(L, o[0], in[0], Unary::Sign);
    case KILN_OP_EXP: return unary_cuda(L, o[0], in[0], Unary::Exp);
    case KILN_OP_LOG: return unary_cuda(L, o[0], in[0], Unary::Log);
    case KILN_OP_SQRT: return unary_cuda(L, o[0], in[0], Unary::Sqrt);
    case KILN_OP_RSQRT: return unary_cuda(L, o[0], in[0], Unary::Rsqrt);
    case KILN_OP_SIN: return unary_cuda(L, o[0], in[0], Unary::Sin);
    case KILN_OP_COS: return unary_cuda(L, o[0], in[0], Unary::Cos);
    case KILN_OP_TANH: return unary_cuda(L, o[0], in[0], Unary::Tanh);
    case KILN_OP_SIGMOID: return unary_cuda(L, o[0], in[0], Unary::Sigmoid);
    case KILN_OP_ERF: return unary_cuda(L, o[0], in[0], Unary::Erf);
    case KILN_OP_FLOOR: return unary_cuda(L, o[0], in[0], Unary::Floor);
    case KILN_OP_CEIL: return unary_cuda(L, o[0], in[0], Unary::Ceil);
    case KILN_OP_ROUND: return unary_cuda(L, o[0], in[0], Unary::Round);
    case KILN_OP_TRUNC: return unary_cuda(L, o[0], in[0], Unary::Trunc);
    case KILN_OP_RECIPROCAL: return unary_cuda(L, o[0], in[0], Unary::Reciprocal);
    case KILN_OP_LOG1P: return unary_cuda(L, o[0], in[0], Unary::Log1p);
    case KILN_OP_EXPM1: return unary_cuda(L, o[0], in[0], Unary::Expm1);
    case KILN_OP_ERFC: return unary_cuda(L, o[0], in[0], Unary::Erfc);
    case KILN_OP_LGAMMA: return unary_cuda(L, o[0], in[0], Unary::Lgamma);
    case KILN_OP_DIGAMMA: return unary_cuda(L, o[0], in[0], Unary::Digamma);
    case KILN_OP_TRIGAMMA: return unary_cuda(L, o[0], in[0], Unary::Trigamma);
    case KILN_OP_LOGICAL_NOT: return unary_cuda(L, o[0], in[0], Unary::LogicalNot);
    case KILN_OP_ADD: return binary_cuda(L, o[0], in[0], in[1], Binary::Add);
    case KILN_OP_SUB: return binary_cuda(L, o[0], in[0], in[1], Binary::Sub);
    case KILN_OP_MUL: return binary_cuda(L, o[0], in[0], in[1], Binary::Mul);
    case KILN_OP_DIV: return binary_cuda(L, o[0], in[0], in[1], Binary::Div);
    case KILN_OP_POW: return binary_cuda(L, o[0], in[0], in[1], Binary::Pow);
    case KILN_OP_MAXIMUM: return binary_cuda(L, o[0], in[0], in[1], Binary::Maximum);
    case KILN_OP_MINIMUM: return binary_cuda(L, o[0], in[0], in[1], Binary::Minimum);
    case KILN_OP_REMAINDER: return binary_cuda(L, o[0], in[0], in[1], Binary::Remainder);
    case KILN_OP_ATAN2: return binary_cuda(L, o[0], in[0], in[1], Binary::Atan2);
    case KILN_OP_EQ: return binary_cuda(L, o[0], in[0], in[1], Binary::Eq);
    case KILN_OP_NE: return binary_cuda(L, o[0], in[0], in[1], Binary::Ne);
    case KILN_OP_LT: return binary_cuda(L, o[0], in[0], in[1], Binary::Lt);
    case KILN_OP_LE: return binary_cuda(L, o[0], in[0], in[1], Binary::Le);
    case KILN_OP_GT: return binary_cuda(L, o[0], in[0], in[1], Binary::Gt);
    case KILN_OP_GE: return binary_cuda(L, o[0], in[0], in[1], Binary::Ge);
    case KILN_OP_LOGICAL_AND: return binary_cuda(L, o[0], in[0], in[1], Binary::LogicalAnd);
    case KILN_OP_LOGICAL_OR: return binary_cuda(L, o[0], in[0], in[1], Binary::LogicalOr);
    case KILN_OP_LOGICAL_XOR: return binary_cuda(L, o[0], in[0], in[1], Binary::LogicalXor);
    case KILN_OP_WHERE: return where_cuda(L, o[0], in[0], in[1], in[2]);
    case KILN_OP_COPY: return copy_cuda(L, o[0], in[0]);
    case KILN_OP_FILL: return fill_cuda(L, o[0], attr[0]);
    case KILN_OP_SUM: return reduce_cuda(L, o[0], in[0], a.iattr, Reduce::Sum);
    case KILN_OP_PROD: return reduce_cuda(L, o[0], in[0], a.iattr, Reduce::Prod);
    case KILN_OP_AMAX: return reduce_cuda(L, o[0], in[0], a.iattr, Reduce::Max);
    case KILN_OP_AMIN: return reduce_cuda(L, o[0], in[0], a.iattr, Reduce::Min);
    case KILN_OP_ARGMAX: return reduce_cuda(L, o[0], in[0], a.iattr, Reduce::ArgMax);
    case KILN_OP_ARGMIN: return reduce_cuda(L, o[0], in[0], a.iattr, Reduce::ArgMin);
    case KILN_OP_MATMUL: return matmul_cuda(L, o[0], in[0], in[1], a.has_bias ? &in[2] : nullptr, a.mm);
    case KILN_OP_GATHER: return gather_cuda(L, o[0], in[0], in[1], a.iattr, bad);
    case KILN_OP_SCATTER: return scatter_cuda(L, o[0], in[0], in[1], a.iattr, false, bad);
    case KILN_OP_SCATTER_ADD: return scatter_cuda(L, o[0], in[0], in[1], a.iattr, true, bad);
    case KILN_OP_SOFTMAX: return softmax_cuda(L, o[0], in[0], a.iattr, attr[1] != 0);
    case KILN_OP_SOFTMAX_BACKWARD: return softmax_backward_cuda(L, o[0], in[0], in[1], a.iattr, attr[1] != 0);
    case KILN_OP_LAYER_NORM: return layer_norm_cuda(L, o[0], o[1], o[2], in[0], in[1], in[2], attr[0], attr[1] != 0);
    case KILN_OP_LAYER_NORM_BACKWARD:
      return layer_norm_backward_cuda(L, o[0], o[1], o[2], in[0], in[1], in[2], in[3], in[4], attr[0] != 0);
    case KILN_OP_CROSS_ENTROPY:  // the gradient beside the loss (o[3]) is the CPU's alone
      if (!(o[3].ndim == 1 && o[3].shape[0] == 0))
        return fail(L, KILN_ERR_ARG, "cross_entropy: no fused gradient on CUDA (pass gx as [0])");
      return cross_entropy_cuda(L, o[0], o[1], o[2], in[0], in[1], in[2], attr, bad);
    case KILN_OP_CROSS_ENTROPY_BACKWARD:
      return cross_entropy_backward_cuda(L, o[0], in[0], in[1], in[2], in[3], in[4], attr);
    case KILN_OP_UNIFORM: return uniform_cuda(L, o[0], u64_from(attr), u64_from(attr + 2), attr[4], attr[5]);
    case KILN_OP_NORMAL: return normal_cuda(L, o[0], u64_from(attr), u64_from(attr + 2), attr[4], attr[5]);
    case KILN_OP_GELU: return act_cuda(L, o[0], in[0], attr[0] != 0 ? NnAct::GeluTanh : NnAct::Gelu);
    case KILN_OP_GELU_BACKWARD:
      return act_backward_cuda(L, o[0], in[0], in[1], attr[0] != 0 ? NnAct::GeluTanh : NnAct::Gelu);
    case KILN_OP_SILU: return act_cuda(L, o[0], in[0], NnAct::Silu);
    case KILN_OP_SILU_BACKWARD: return act_backward_cuda(L, o[0], in[0], in[1], NnAct::Silu);
    case KILN_OP_DROPOUT:
      return dropout_cuda(L, o[0], in[0], u64_from(attr), u64_from(attr + 2), (uint32_t)attr[4], attr[5]);
    case KILN_OP_BATCH_NORM_STATS: return batch_norm_stats_cuda(L, o[0], o[1], in[0]);
    case KILN_OP_BATCH_NORM:
      return batch_norm_cuda(L, o[0], in[0], attr[1] != 0 ? &in[1] : nullptr, attr[2] != 0 ? &in[2] : nullptr, in[3],
                             in[4], attr[0]);
    case KILN_OP_BATCH_NORM_BACKWARD:
      return batch_norm_backward_cuda(L, o[0], o[1], o[2], in[0], in[1], attr[1] != 0 ? &in[2] : nullptr, in[3], in[4],
                                      attr[0]);
    case KILN_OP_RESAMPLE: return resample_cuda(L, o[0], in[0], in[1], in[2], (int64_t)attr[0]);
    case KILN_OP_RESAMPLE_BACKWARD: return resample_backward_cuda(L, o[0], in[0], in[1], in[2], (int64_t)attr[0]);
    case KILN_OP_BCE_WITH_LOGITS:
      return bce_with_logits_cuda(L, o[0], in[0], in[1], attr[2] != 0 ? &in[2] : nullptr,
                                  attr[3] != 0 ? &in[3] : nullptr, attr[0] != 0, attr[1]);
    case KILN_OP_BCE_WITH_LOGITS_BACKWARD:
      return bce_with_logits_backward_cuda(L, o[0], in[0], in[1], in[2], attr[2] != 0 ? &in[3] : nullptr,
                                           attr[3] != 0 ? &in[4] : nullptr, attr[0] != 0, attr[1]);
    case KILN_OP_GROUP_NORM_BACKWARD:
      return group_norm_backward_cuda(L, o[0], o[1], o[2], in[0], in[1], attr[1] != 0 ? &in[2] : nullptr, in[3], in[4],
                                      (int64_t)attr[2], attr[0]);
    case KILN_OP_EMBEDDING: return embedding_cuda(L, o[0], in[0], in[1], bad);
    case KILN_OP_EMBEDDING_BACKWARD: return embedding_backward_cuda(L, o[0], in[0], in[1], (int64_t)attr[0], bad);
    case KILN_OP_MAX_POOL2D: return max_pool2d_cuda(L, o[0], o[1], in[0], attr);
    case KILN_OP_MAX_POOL2D_BACKWARD: return max_pool2d_backward_cuda(L, o[0], in[0], in[1], attr);
    case KILN_OP_AVG_POOL2D: return avg_pool2d_cuda(L, o[0], in[0], attr, false, false);
    case KILN_OP_AVG_POOL2D_BACKWARD: return avg_pool2d_cuda(L, o[0], in[0], attr, false, true);
    case KILN_OP_ADAPTIVE_AVG_POOL2D: return avg_pool2d_cuda(L, o[0], in[0], attr, true, false);
    case KILN_OP_ADAPTIVE_AVG_POOL2D_BACKWARD: return avg_pool2d_cuda(L, o[0], in[0], attr, true, true);
    default:
      if (cpu_only(op))
        return fail(L, KILN_ERR_NOT_COMPILED,
                    "%s has no CUDA kernel yet (CPU only): move its operands to the CPU with .cpu()", kiln_op_name(op));
      return fail(L, KILN_ERR_ARG, "op id %d has no CUDA kernel", op);
  }
}

// Ops that reach a launcher in this build (kiln_cuda_op_supported); the coverage table reads it.
bool has_cuda_kernel(int op) { return op >= 0 && op < KILN_OP_COUNT && !cpu_only(op); }

// Whether `op` records bad indices, and the slot it takes (the sizes its CPU message names).
// cross_entropy_backward does not: its CPU kernel gives a bad target's row a zero gradient
// without an error (the forward, which always runs first, reports it).
bool bad_index_op(int op, const kiln_tensor *outs, const kiln_tensor *ins, const double *attrs, const OpArgs &args,
                  Device::BadSlot *what) {
  auto rows = [](const kiln_tensor &t, int d) { return d < t.ndim ? t.shape[d] : (int64_t)-1; };
  *what = Device::BadSlot{Device::BadKind::Dim, kiln_op_name(op), 0, -1, 0, 0, 0};
  switch (op) {
    case KILN_OP_GATHER:
    case KILN_OP_SCATTER:
    case KILN_OP_SCATTER_ADD: {
      // The dim's size for the message: the gathered input's, or the scattered-into output's.
      const kiln_tensor &t = op == KILN_OP_GATHER ? ins[0] : outs[0];
      what->dim = args.iattr;
      what->limit = args.iattr >= 0 ? rows(t, args.iattr) : -1;
      return true;
    }
    case KILN_OP_EMBEDDING:  // the table: weight [num, D], or the gradient [num, D]
    case KILN_OP_EMBEDDING_BACKWARD:
      what->kind = Device::BadKind::Embedding;
      what->limit = rows(op == KILN_OP_EMBEDDING ? ins[0] : outs[0], 0);
      return true;
    case KILN_OP_CROSS_ENTROPY:  // class-index targets only (int64; probability targets are float)
      if (ins[1].dtype != KILN_INT64) return false;
      what->kind = Device::BadKind::CrossEntropy;
      what->limit = rows(ins[0], 1);
      what->ignore = std::fabs(attrs[0]) <= 9e15 ? (int64_t)attrs[0] : 0;  // the launcher rejects the rest
      return true;
    default: return false;
  }
}

// After an op: with KILN_CUDA_SYNC, wait for it and name it in any error it caused.
// A bad index an index op saw is reported here then, by the op itself.
kiln_status after(kiln_context *ctx, Device *d, const char *what) {
  if (!state(ctx)->sync_each_op) return KILN_OK;
  cudaError_t e = cudaStreamSynchronize(d->stream);
  if (e == cudaSuccess) e = cudaGetLastError();
  if (e != cudaSuccess) return cuda_fail(ctx, e, "%s on cuda:%d (KILN_CUDA_SYNC)", what, d->index);
  std::string why;
  kiln_status st = d->take_bad_index(&why);
  return st == KILN_OK ? KILN_OK : kiln::fail(ctx, st, "%s", why.c_str());
}

}  // namespace

namespace kiln {

kiln_status cuda_op_run(kiln_context *ctx, int device, int op, kiln_tensor *outs, const kiln_tensor *ins, int nin,
                        const double *attrs, const OpArgs &args) {
  kiln_status why;
  Device *d = cuda::device(ctx, device, &why);
  if (!d) return why;
  Launch L = d->launch();
  kiln_status st;
  Device::BadSlot what;
  if (bad_index_op(op, outs, ins, attrs, args, &what)) {
    std::lock_guard<std::mutex> g(d->bad_mu);  // until the kernels are enqueued (runtime.h)
    st = launch_op(L, op, outs, ins, nin, attrs, args, d->bad_slot(what));
  } else {
    st = launch_op(L, op, outs, ins, nin, attrs, args, nullptr);
  }
  if (st != KILN_OK) {
    ctx->error = d->message[0] ? d->message : "CUDA launcher failed without a message";
    if (st == KILN_ERR_NOT_COMPILED) ctx->error += " (device cuda:" + std::to_string(device) + ")";
    return st;
  }
  return after(ctx, d, kiln_op_name(op));
}

kiln_status cuda_optim_step(kiln_context *ctx, int device, kiln_optim kind, kiln_dtype dtype,
                            const kiln_optim_item *items, int n, const double *hyper, int nhyper) {
  kiln_status why;
  Device *d = cuda::device(ctx, device, &why);
  if (!d) return why;
  Launch L = d->launch();
  kiln_status st = optim_step_cuda(L, kind, dtype, items, n, hyper, nhyper);
  if (st != KILN_OK) {
    ctx->error = d->message[0] ? d->message : "optim_step: CUDA launcher failed without a message";
    return st;
  }
  return after(ctx, d, "optim_step");
}

}  // namespace kiln

extern "C" int kiln_cuda_op_supported(int op) { return has_cuda_kernel(op) ? 1 : 0; }
