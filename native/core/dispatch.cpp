// kiln_op_run: routes an op id (kiln_ops.gen.h, generated from ts/ops/table.ts) to its CPU kernel.
// Checks what a kernel relies on (operand counts, ranks, device-independent invariants) and
// returns a status with a message naming the op; never aborts.
#include <cinttypes>
#include <cmath>
#include <new>

#include "../cpu/cpu_ops.h"
#include "context.h"
#include "kiln_ops.gen.h"

using namespace kiln;
using namespace kiln::cpu;

namespace {

kiln_status check(kiln_context *ctx, int op, const kiln_tensor *t, int n, bool outputs) {
  for (int i = 0; i < n; i++) {
    if (t[i].ndim < 0 || t[i].ndim > KILN_MAX_DIMS)
      return fail(ctx, KILN_ERR_SHAPE, "%s: operand %d has rank %d (max %d)", kiln_op_name(op), i, t[i].ndim,
                  KILN_MAX_DIMS);
    if (t[i].dtype < 0 || t[i].dtype >= KILN_NUM_DTYPES)
      return fail(ctx, KILN_ERR_DTYPE, "%s: operand %d has a bad dtype", kiln_op_name(op), i);
    int64_t numel = 1;
    for (int d = 0; d < t[i].ndim; d++) {
      if (t[i].shape[d] < 0 || t[i].shape[d] > ((int64_t)1 << 48))
        return fail(ctx, KILN_ERR_SHAPE, "%s: operand %d has an invalid size", kiln_op_name(op), i);
      numel = t[i].shape[d] == 0
                  ? 0
                  : (numel > ((int64_t)1 << 50) / t[i].shape[d] ? ((int64_t)1 << 50) : numel * t[i].shape[d]);
    }
    if (numel > 0 && !t[i].data) return fail(ctx, KILN_ERR_ARG, "%s: operand %d has no data", kiln_op_name(op), i);
    if (outputs && numel > 0)
      for (int d = 0; d < t[i].ndim; d++)
        if (t[i].strides[d] == 0 && t[i].shape[d] > 1)
          return fail(ctx, KILN_ERR_ARG,
                      "%s: the output has elements that share memory (an expanded view); write into a copy",
                      kiln_op_name(op));
  }
  return KILN_OK;
}

uint64_t u64_from(const double *a) { return ((uint64_t)a[0] << 32) | (uint64_t)a[1]; }

bool same_shape(const kiln_tensor &a, const kiln_tensor &b) {
  if (a.ndim != b.ndim) return false;
  for (int d = 0; d < a.ndim; d++)
    if (a.shape[d] != b.shape[d]) return false;
  return true;
}

// Elementwise kernels walk the output's shape and read every input with it.
kiln_status check_elementwise(kiln_context *ctx, int op, const kiln_tensor &out, const kiln_tensor *in, int nin) {
  for (int i = 0; i < nin; i++)
    if (!same_shape(out, in[i]))
      return fail(ctx, KILN_ERR_SHAPE,
                  "%s: input %d does not have the output's shape (broadcast inputs are expanded first)",
                  kiln_op_name(op), i);
  return KILN_OK;
}

// An integer attribute, checked before the cast (NaN or huge doubles make the cast undefined).
bool int_attr(const double *attr, int i, int lo, int hi, int *out) {
  double v = attr[i];
  if (!(v >= lo && v <= hi) || v != (double)(int)v) return false;
  *out = (int)v;
  return true;
}

kiln_status check_reduce(kiln_context *ctx, int op, const kiln_tensor &out, const kiln_tensor &in, int nred) {
  if (out.ndim != in.ndim - nred) return fail(ctx, KILN_ERR_SHAPE, "%s: output rank does not match", kiln_op_name(op));
  for (int d = 0; d < out.ndim; d++)
    if (out.shape[d] != in.shape[d])
      return fail(ctx, KILN_ERR_SHAPE, "%s: output dim %d does not match", kiln_op_name(op), d);
  return KILN_OK;
}

// attrs: alpha, beta, activation (GemmAct), has_bias (0 or 1; the third input is ignored when 0).
kiln_status check_matmul(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor *in, const double *attr,
                         cpu::MatmulOpts *o, bool *has_bias) {
  const kiln_tensor &a = in[0], &b = in[1];
  if (out.ndim < 2 || a.ndim != out.ndim || b.ndim != out.ndim)
    return fail(ctx, KILN_ERR_SHAPE, "matmul: operands must have the output's rank (>= 2)");
  for (int d = 0; d < out.ndim - 2; d++)
    if (a.shape[d] != out.shape[d] || b.shape[d] != out.shape[d])
      return fail(ctx, KILN_ERR_SHAPE, "matmul: batch dim %d is not expanded to the output's", d);
  int act = 0, bias = 0;
  if (!std::isfinite(attr[0]) || !std::isfinite(attr[1]) || !int_attr(attr, 2, 0, 3, &act) ||
      !int_attr(attr, 3, 0, 1, &bias))
    return fail(ctx, KILN_ERR_ARG, "matmul: bad alpha, beta, activation or bias flag");
  if (bias && !same_shape(out, in[2]))
    return fail(ctx, KILN_ERR_SHAPE, "matmul: the bias must be expanded to the output's shape");
  *o = cpu::MatmulOpts{attr[0], attr[1], (cpu::GemmAct)act};
  *has_bias = bias != 0;
  return KILN_OK;
}

kiln_status check_index(kiln_context *ctx, int op, const kiln_tensor &self, const kiln_tensor &index,
                        const kiln_tensor *src, int dim) {
  if (index.ndim != self.ndim || (src && src->ndim != self.ndim) || dim < 0 || dim >= self.ndim)
    return fail(ctx, KILN_ERR_SHAPE, "%s: rank mismatch", kiln_op_name(op));
  for (int d = 0; d < self.ndim; d++) {
    if (src && index.shape[d] > src->shape[d])
      return fail(ctx, KILN_ERR_SHAPE, "%s: index larger than its source", kiln_op_name(op));
    if (d != dim && index.shape[d] > self.shape[d])
      return fail(ctx, KILN_ERR_SHAPE, "%s: index larger than the input", kiln_op_name(op));
  }
  return KILN_OK;
}

// Attributes of the nn kernels: eps and flags (batch norm), mode (gelu), mask threshold (dropout),
// padding row (embedding).
kiln_status check_nn_attrs(kiln_context *ctx, int op, const double *attr) {
  int flag = 0;
  bool ok = true;
  switch (op) {
    case KILN_OP_GELU:
    case KILN_OP_GELU_BACKWARD: ok = int_attr(attr, 0, 0, 1, &flag); break;
    case KILN_OP_DROPOUT: ok = int_attr(attr, 4, 0, 1 << 24, &flag) && std::isfinite(attr[5]); break;
    case KILN_OP_BATCH_NORM:
      ok = attr[0] >= 0 && std::isfinite(attr[0]) && int_attr(attr, 1, 0, 1, &flag) && int_attr(attr, 2, 0, 1, &flag);
      break;
    case KILN_OP_BATCH_NORM_BACKWARD:
      ok = attr[0] >= 0 && std::isfinite(attr[0]) && int_attr(attr, 1, 0, 1, &flag);
      break;
    case KILN_OP_EMBEDDING_BACKWARD: ok = attr[0] >= -1 && attr[0] < 9.0e15 && attr[0] == std::floor(attr[0]); break;
    default: break;
  }
  return ok ? KILN_OK : fail(ctx, KILN_ERR_ARG, "%s: bad attributes", kiln_op_name(op));
}

kiln_status run(kiln_context *ctx, int op, kiln_tensor *o, const kiln_tensor *in, int nin, const double *attr) {
  int iattr = 0;
  cpu::MatmulOpts mm;
  bool has_bias = false;
  switch (op) {
    case KILN_OP_FILL:
    case KILN_OP_UNIFORM:
    case KILN_OP_NORMAL:
    case KILN_OP_CONV2D:
    case KILN_OP_CONV2D_BACKWARD_INPUT:
    case KILN_OP_CONV2D_BACKWARD_WEIGHT:
    case KILN_OP_MAX_POOL2D:
    case KILN_OP_AVG_POOL2D:
    case KILN_OP_AVG_POOL2D_BACKWARD:
    case KILN_OP_ADAPTIVE_AVG_POOL2D:
    case KILN_OP_ADAPTIVE_AVG_POOL2D_BACKWARD: break;
    case KILN_OP_ATTENTION:
    case KILN_OP_ATTENTION_BACKWARD: break;
    case KILN_OP_SUM:
    case KILN_OP_PROD:
    case KILN_OP_AMAX:
    case KILN_OP_AMIN:
    case KILN_OP_ARGMAX:
    case KILN_OP_ARGMIN:
      if (!int_attr(attr, 0, 0, in[0].ndim, &iattr))
        return fail(ctx, KILN_ERR_ARG, "%s: bad number of reduced dims", kiln_op_name(op));
      if (kiln_status st = check_reduce(ctx, op, o[0], in[0], iattr)) return st;
      break;
    case KILN_OP_SOFTMAX:
    case KILN_OP_SOFTMAX_BACKWARD:
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &iattr) || (attr[1] != 0 && attr[1] != 1))
        return fail(ctx, KILN_ERR_ARG, "%s: bad dim or log flag", kiln_op_name(op));
      if (!same_shape(o[0], in[0]) || (nin > 1 && !same_shape(o[0], in[1])))
        return fail(ctx, KILN_ERR_SHAPE, "%s: operands must share one shape", kiln_op_name(op));
      break;
    case KILN_OP_LAYER_NORM:
    case KILN_OP_LAYER_NORM_BACKWARD:
    case KILN_OP_CROSS_ENTROPY:
    case KILN_OP_CROSS_ENTROPY_BACKWARD: break;  // their kernels check their operands
    case KILN_OP_MATMUL:
      if (kiln_status st = check_matmul(ctx, o[0], in, attr, &mm, &has_bias)) return st;
      break;
    case KILN_OP_GATHER:
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &iattr)) return fail(ctx, KILN_ERR_ARG, "gather: bad dim");
      if (!same_shape(o[0], in[1])) return fail(ctx, KILN_ERR_SHAPE, "gather: output must have the index's shape");
      if (kiln_status st = check_index(ctx, op, in[0], in[1], nullptr, iattr)) return st;
      break;
    case KILN_OP_SCATTER:
    case KILN_OP_SCATTER_ADD:
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &iattr))
        return fail(ctx, KILN_ERR_ARG, "%s: bad dim", kiln_op_name(op));
      if (kiln_status st = check_index(ctx, op, o[0], in[0], &in[1], iattr)) return st;
      break;
    case KILN_OP_BATCH_NORM_STATS:
    case KILN_OP_BATCH_NORM:
    case KILN_OP_BATCH_NORM_BACKWARD:
    case KILN_OP_EMBEDDING:
    case KILN_OP_EMBEDDING_BACKWARD:
      if (kiln_status st = check_nn_attrs(ctx, op, attr)) return st;
      break;
    default:
      if (kiln_status st = check_elementwise(ctx, op, o[0], in, nin)) return st;
      if (kiln_status st = check_nn_attrs(ctx, op, attr)) return st;
  }
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
    case KILN_OP_SUM: return reduce_cpu(ctx, o[0], in[0], iattr, Reduce::Sum);
    case KILN_OP_PROD: return reduce_cpu(ctx, o[0], in[0], iattr, Reduce::Prod);
    case KILN_OP_AMAX: return reduce_cpu(ctx, o[0], in[0], iattr, Reduce::Max);
    case KILN_OP_AMIN: return reduce_cpu(ctx, o[0], in[0], iattr, Reduce::Min);
    case KILN_OP_ARGMAX: return reduce_cpu(ctx, o[0], in[0], iattr, Reduce::ArgMax);
    case KILN_OP_ARGMIN: return reduce_cpu(ctx, o[0], in[0], iattr, Reduce::ArgMin);
    case KILN_OP_MATMUL: return matmul_cpu(ctx, o[0], in[0], in[1], has_bias ? &in[2] : nullptr, mm);
    case KILN_OP_GATHER: return gather_cpu(ctx, o[0], in[0], in[1], iattr);
    case KILN_OP_SCATTER: return scatter_cpu(ctx, o[0], in[0], in[1], iattr, false);
    case KILN_OP_SCATTER_ADD: return scatter_cpu(ctx, o[0], in[0], in[1], iattr, true);
    case KILN_OP_SOFTMAX: return softmax_cpu(ctx, o[0], in[0], iattr, attr[1] != 0);
    case KILN_OP_SOFTMAX_BACKWARD: return softmax_backward_cpu(ctx, o[0], in[0], in[1], iattr, attr[1] != 0);
    case KILN_OP_LAYER_NORM: return layer_norm_cpu(ctx, o[0], o[1], o[2], in[0], in[1], in[2], attr[0], attr[1] != 0);
    case KILN_OP_LAYER_NORM_BACKWARD:
      return layer_norm_backward_cpu(ctx, o[0], o[1], o[2], in[0], in[1], in[2], in[3], in[4], attr[0] != 0);
    case KILN_OP_CROSS_ENTROPY: return cross_entropy_cpu(ctx, o[0], o[1], o[2], in[0], in[1], in[2], attr);
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
    case KILN_OP_EMBEDDING: return embedding_cpu(ctx, o[0], in[0], in[1]);
    case KILN_OP_EMBEDDING_BACKWARD: return embedding_backward_cpu(ctx, o[0], in[0], in[1], (int64_t)attr[0]);
    case KILN_OP_CONV2D: return conv2d_cpu(ctx, o[0], in[0], in[1], attr[7] != 0 ? &in[2] : nullptr, attr);
    case KILN_OP_CONV2D_BACKWARD_INPUT: return conv2d_backward_input_cpu(ctx, o[0], in[0], in[1], attr);
    case KILN_OP_CONV2D_BACKWARD_WEIGHT: return conv2d_backward_weight_cpu(ctx, o[0], in[0], in[1], attr);
    case KILN_OP_MAX_POOL2D: return max_pool2d_cpu(ctx, o[0], o[1], in[0], attr);
    case KILN_OP_AVG_POOL2D: return avg_pool2d_cpu(ctx, o[0], in[0], attr, false, false);
    case KILN_OP_AVG_POOL2D_BACKWARD: return avg_pool2d_cpu(ctx, o[0], in[0], attr, false, true);
    case KILN_OP_ADAPTIVE_AVG_POOL2D: return avg_pool2d_cpu(ctx, o[0], in[0], attr, true, false);
    case KILN_OP_ADAPTIVE_AVG_POOL2D_BACKWARD: return avg_pool2d_cpu(ctx, o[0], in[0], attr, true, true);
    case KILN_OP_ATTENTION: return attention_forward_cpu(ctx, o, in, attr);
    case KILN_OP_ATTENTION_BACKWARD: return attention_backward_cpu(ctx, o, in, attr);
    default: return fail(ctx, KILN_ERR_ARG, "op id %d has no CPU kernel", op);
  }
}

}  // namespace

extern "C" kiln_status kiln_op_run(kiln_context *ctx, int op, kiln_tensor *outs, int nout, const kiln_tensor *ins,
                                   int nin, const double *attrs, int nattr) {
  if (!ctx) return KILN_ERR_INTERNAL;
  if (op < 0 || op >= KILN_OP_COUNT) return fail(ctx, KILN_ERR_ARG, "unknown op id %d", op);
  const kiln_op_info &info = kiln_op_infos[op];
  if (nout != info.nout || nin != info.nin || nattr < info.nattr)
    return fail(ctx, KILN_ERR_ARG, "%s: expected %d outputs, %d inputs, %d attributes; got %d, %d, %d", info.name,
                info.nout, info.nin, info.nattr, nout, nin, nattr);
  kiln_status st = check(ctx, op, outs, nout, true);
  if (st == KILN_OK) st = check(ctx, op, ins, nin, false);
  if (st != KILN_OK) return st;
  // Nothing may escape an extern "C" entry point: allocation failures inside kernels become
  // ERR_OOM, anything else ERR_INTERNAL.
  try {
    st = run(ctx, op, outs, ins, nin, attrs);
  } catch (const std::bad_alloc &) {
    st = fail(ctx, KILN_ERR_OOM, "out of memory for temporary buffers");
  } catch (...) {
    st = fail(ctx, KILN_ERR_INTERNAL, "unexpected native exception");
  }
  if (st != KILN_OK && ctx->error.rfind(info.name, 0) != 0) ctx->error = std::string(info.name) + ": " + ctx->error;
  return st;
}
