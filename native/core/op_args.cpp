// op_prepare (op_args.h): the checks and attribute decoding every backend's dispatch runs first.
#include "op_args.h"

#include <cinttypes>
#include <cmath>

#include "kiln_ops.gen.h"

namespace kiln {
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

bool same_shape(const kiln_tensor &a, const kiln_tensor &b) {
  if (a.ndim != b.ndim) return false;
  for (int d = 0; d < a.ndim; d++)
    if (a.shape[d] != b.shape[d]) return false;
  return true;
}

// out has in's shape with dim reduced to 1 (a 0-d in: out 0-d too).
bool reduced_shape(const kiln_tensor &out, const kiln_tensor &in, int dim) {
  bool ok = out.ndim == in.ndim && (in.ndim == 0 || dim < in.ndim);
  for (int d = 0; ok && d < in.ndim; d++) ok = out.shape[d] == (d == dim ? 1 : in.shape[d]);
  return ok;
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

// Attributes of the nn kernels: eps and flags (batch norm; group norm's also its group count), mode (gelu), mask
// threshold (dropout), padding row (embedding).
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
    case KILN_OP_RESAMPLE:
    case KILN_OP_RESAMPLE_BACKWARD: ok = int_attr(attr, 0, 1, 1 << 20, &flag); break;
    case KILN_OP_BCE_WITH_LOGITS:
    case KILN_OP_BCE_WITH_LOGITS_BACKWARD:
      ok = int_attr(attr, 0, 0, 1, &flag) && !std::isnan(attr[1]) && int_attr(attr, 2, 0, 1, &flag) &&
           int_attr(attr, 3, 0, 1, &flag);
      break;
    case KILN_OP_GROUP_NORM_BACKWARD:
      ok = attr[0] >= 0 && std::isfinite(attr[0]) && int_attr(attr, 1, 0, 1, &flag) &&
           int_attr(attr, 2, 1, 1 << 30, &flag);
      break;
    case KILN_OP_EMBEDDING_BACKWARD: ok = attr[0] >= -1 && attr[0] < 9.0e15 && attr[0] == std::floor(attr[0]); break;
    default: break;
  }
  return ok ? KILN_OK : fail(ctx, KILN_ERR_ARG, "%s: bad attributes", kiln_op_name(op));
}

}  // namespace

kiln_status op_prepare(kiln_context *ctx, int op, kiln_tensor *outs, int nout, const kiln_tensor *ins, int nin,
                       const double *attrs, int nattr, OpArgs *a) {
  if (op < 0 || op >= KILN_OP_COUNT) return fail(ctx, KILN_ERR_ARG, "unknown op id %d", op);
  const kiln_op_info &info = kiln_op_infos[op];
  if (nout != info.nout || nin != info.nin || nattr < info.nattr)
    return fail(ctx, KILN_ERR_ARG, "%s: expected %d outputs, %d inputs, %d attributes; got %d, %d, %d", info.name,
                info.nout, info.nin, info.nattr, nout, nin, nattr);
  kiln_status st = check(ctx, op, outs, nout, true);
  if (st == KILN_OK) st = check(ctx, op, ins, nin, false);
  if (st != KILN_OK) return st;
  kiln_tensor *o = outs;
  const kiln_tensor *in = ins;
  const double *attr = attrs;
  switch (op) {
    case KILN_OP_FILL:
    case KILN_OP_UNIFORM:
    case KILN_OP_NORMAL:
    case KILN_OP_CONV2D:
    case KILN_OP_CONV2D_BACKWARD_INPUT:
    case KILN_OP_CONV2D_BACKWARD_WEIGHT:
    case KILN_OP_CONV2D_BACKWARD:
    case KILN_OP_MAX_POOL2D:
    case KILN_OP_MAX_POOL2D_BACKWARD:
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
      if (!int_attr(attr, 0, 0, in[0].ndim, &a->iattr))
        return fail(ctx, KILN_ERR_ARG, "%s: bad number of reduced dims", kiln_op_name(op));
      if (kiln_status st = check_reduce(ctx, op, o[0], in[0], a->iattr)) return st;
      break;
    case KILN_OP_SOFTMAX:
    case KILN_OP_SOFTMAX_BACKWARD:
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &a->iattr) || (attr[1] != 0 && attr[1] != 1))
        return fail(ctx, KILN_ERR_ARG, "%s: bad dim or log flag", kiln_op_name(op));
      if (!same_shape(o[0], in[0]) || (nin > 1 && !same_shape(o[0], in[1])))
        return fail(ctx, KILN_ERR_SHAPE, "%s: operands must share one shape", kiln_op_name(op));
      break;
    case KILN_OP_LOGSUMEXP: {
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &a->iattr)) return fail(ctx, KILN_ERR_ARG, "logsumexp: bad dim");
      if (!reduced_shape(o[0], in[0], a->iattr))
        return fail(ctx, KILN_ERR_SHAPE, "logsumexp: output must be the input's shape with dim %d of size 1", a->iattr);
      break;
    }
    case KILN_OP_VAR: {  // attrs: dim, correction
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &a->iattr) || !(std::isfinite(attr[1])))
        return fail(ctx, KILN_ERR_ARG, "var: bad dim or correction");
      if (!reduced_shape(o[0], in[0], a->iattr))
        return fail(ctx, KILN_ERR_SHAPE, "var: output must be the input's shape with dim %d of size 1", a->iattr);
      break;
    }
    case KILN_OP_CLAMP:  // attrs: lo, hi (clamp_cpu checks the dtypes and bounds)
      if (!same_shape(o[0], in[0])) return fail(ctx, KILN_ERR_SHAPE, "clamp: output must have the input's shape");
      break;
    case KILN_OP_CUMSUM: {  // attrs: dim, reverse
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &a->iattr) || (in[0].ndim > 0 && a->iattr >= in[0].ndim) ||
          (in[0].ndim == 0 && a->iattr != 0) || (attr[1] != 0 && attr[1] != 1))
        return fail(ctx, KILN_ERR_ARG, "cumsum: bad dim or reverse flag");
      if (!same_shape(o[0], in[0])) return fail(ctx, KILN_ERR_SHAPE, "cumsum: output must have the input's shape");
      break;
    }
    case KILN_OP_SORT: {  // attrs: dim, descending, k (sort_cpu checks the shapes)
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &a->iattr) || (in[0].ndim > 0 && a->iattr >= in[0].ndim))
        return fail(ctx, KILN_ERR_ARG, "sort: bad dim");
      if (!(attr[2] >= 0 && attr[2] <= (double)((int64_t)1 << 48)) || attr[2] != std::floor(attr[2]))
        return fail(ctx, KILN_ERR_ARG, "sort: bad k");
      break;
    }
    case KILN_OP_LAYER_NORM:
    case KILN_OP_LAYER_NORM_BACKWARD:
    case KILN_OP_CROSS_ENTROPY:
    case KILN_OP_CROSS_ENTROPY_BACKWARD: break;  // their kernels check their operands
    case KILN_OP_LINALG_CHOLESKY:
    case KILN_OP_LINALG_LU:
    case KILN_OP_LINALG_QR: break;  // their kernels check their operands
    case KILN_OP_LINALG_SOLVE_TRIANGULAR:
    case KILN_OP_LINALG_LU_SOLVE:
    case KILN_OP_LINALG_EIGH:
    case KILN_OP_LINALG_SVD:
      for (int i = 0; i < info.nattr; i++)
        if (attr[i] != 0 && attr[i] != 1) return fail(ctx, KILN_ERR_ARG, "%s: bad flag %d", info.name, i);
      break;
    case KILN_OP_MATMUL:
      if (kiln_status st = check_matmul(ctx, o[0], in, attr, &a->mm, &a->has_bias)) return st;
      break;
    case KILN_OP_GATHER:
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &a->iattr)) return fail(ctx, KILN_ERR_ARG, "gather: bad dim");
      if (!same_shape(o[0], in[1])) return fail(ctx, KILN_ERR_SHAPE, "gather: output must have the index's shape");
      if (kiln_status st = check_index(ctx, op, in[0], in[1], nullptr, a->iattr)) return st;
      break;
    case KILN_OP_SCATTER:
    case KILN_OP_SCATTER_ADD:
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &a->iattr))
        return fail(ctx, KILN_ERR_ARG, "%s: bad dim", kiln_op_name(op));
      if (kiln_status st = check_index(ctx, op, o[0], in[0], &in[1], a->iattr)) return st;
      break;
    case KILN_OP_BATCH_NORM_STATS:
    case KILN_OP_BATCH_NORM:
    case KILN_OP_BATCH_NORM_BACKWARD:
    case KILN_OP_GROUP_NORM_BACKWARD:
    case KILN_OP_BCE_WITH_LOGITS:
    case KILN_OP_BCE_WITH_LOGITS_BACKWARD:
    case KILN_OP_RESAMPLE:
    case KILN_OP_RESAMPLE_BACKWARD:
    case KILN_OP_EMBEDDING:
    case KILN_OP_EMBEDDING_BACKWARD:
      if (kiln_status st = check_nn_attrs(ctx, op, attr)) return st;
      break;
    default:
      if (kiln_status st = check_elementwise(ctx, op, o[0], in, nin)) return st;
      if (kiln_status st = check_nn_attrs(ctx, op, attr)) return st;
  }
  return KILN_OK;
}

}  // namespace kiln
