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
      return fail(ctx, KILN_ERR_SHAPE, "%s: operand %d has rank %d (max %d)", kiln_op_name(op), i, t[i].ndim, KILN_MAX_DIMS);
    if (t[i].dtype < 0 || t[i].dtype >= KILN_NUM_DTYPES) return fail(ctx, KILN_ERR_DTYPE, "%s: operand %d has a bad dtype", kiln_op_name(op), i);
    int64_t numel = 1;
    for (int d = 0; d < t[i].ndim; d++) {
      if (t[i].shape[d] < 0 || t[i].shape[d] > ((int64_t)1 << 48))
        return fail(ctx, KILN_ERR_SHAPE, "%s: operand %d has an invalid size", kiln_op_name(op), i);
      numel = t[i].shape[d] == 0 ? 0 : (numel > ((int64_t)1 << 50) / t[i].shape[d] ? ((int64_t)1 << 50) : numel * t[i].shape[d]);
    }
    if (numel > 0 && !t[i].data) return fail(ctx, KILN_ERR_ARG, "%s: operand %d has no data", kiln_op_name(op), i);
    if (outputs && numel > 0)
      for (int d = 0; d < t[i].ndim; d++)
        if (t[i].strides[d] == 0 && t[i].shape[d] > 1)
          return fail(ctx, KILN_ERR_ARG, "%s: the output has elements that share memory (an expanded view); write into a copy",
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
      return fail(ctx, KILN_ERR_SHAPE, "%s: input %d does not have the output's shape (broadcast inputs are expanded first)",
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
    if (out.shape[d] != in.shape[d]) return fail(ctx, KILN_ERR_SHAPE, "%s: output dim %d does not match", kiln_op_name(op), d);
  return KILN_OK;
}

kiln_status check_matmul(kiln_context *ctx, const kiln_tensor &out, const kiln_tensor &a, const kiln_tensor &b) {
  if (out.ndim < 2 || a.ndim != out.ndim || b.ndim != out.ndim)
    return fail(ctx, KILN_ERR_SHAPE, "matmul: operands must have the output's rank (>= 2)");
  for (int d = 0; d < out.ndim - 2; d++)
    if (a.shape[d] != out.shape[d] || b.shape[d] != out.shape[d])
      return fail(ctx, KILN_ERR_SHAPE, "matmul: batch dim %d is not expanded to the output's", d);
  return KILN_OK;
}

kiln_status check_index(kiln_context *ctx, int op, const kiln_tensor &self, const kiln_tensor &index, const kiln_tensor *src,
                        int dim) {
  if (index.ndim != self.ndim || (src && src->ndim != self.ndim) || dim < 0 || dim >= self.ndim)
    return fail(ctx, KILN_ERR_SHAPE, "%s: rank mismatch", kiln_op_name(op));
  for (int d = 0; d < self.ndim; d++) {
    if (src && index.shape[d] > src->shape[d]) return fail(ctx, KILN_ERR_SHAPE, "%s: index larger than its source", kiln_op_name(op));
    if (d != dim && index.shape[d] > self.shape[d]) return fail(ctx, KILN_ERR_SHAPE, "%s: index larger than the input", kiln_op_name(op));
  }
  return KILN_OK;
}

kiln_status run(kiln_context *ctx, int op, kiln_tensor *o, const kiln_tensor *in, int nin, const double *attr) {
  int iattr = 0;
  switch (op) {
    case KILN_OP_FILL: case KILN_OP_UNIFORM: case KILN_OP_NORMAL: break;
    case KILN_OP_SUM: case KILN_OP_PROD: case KILN_OP_AMAX: case KILN_OP_AMIN: case KILN_OP_ARGMAX: case KILN_OP_ARGMIN:
      if (!int_attr(attr, 0, 0, in[0].ndim, &iattr)) return fail(ctx, KILN_ERR_ARG, "%s: bad number of reduced dims", kiln_op_name(op));
      if (kiln_status st = check_reduce(ctx, op, o[0], in[0], iattr)) return st;
      break;
    case KILN_OP_MATMUL:
      if (kiln_status st = check_matmul(ctx, o[0], in[0], in[1])) return st;
      break;
    case KILN_OP_GATHER:
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &iattr)) return fail(ctx, KILN_ERR_ARG, "gather: bad dim");
      if (!same_shape(o[0], in[1])) return fail(ctx, KILN_ERR_SHAPE, "gather: output must have the index's shape");
      if (kiln_status st = check_index(ctx, op, in[0], in[1], nullptr, iattr)) return st;
      break;
    case KILN_OP_SCATTER: case KILN_OP_SCATTER_ADD:
      if (!int_attr(attr, 0, 0, KILN_MAX_DIMS - 1, &iattr)) return fail(ctx, KILN_ERR_ARG, "%s: bad dim", kiln_op_name(op));
      if (kiln_status st = check_index(ctx, op, o[0], in[0], &in[1], iattr)) return st;
      break;
    default:
      if (kiln_status st = check_elementwise(ctx, op, o[0], in, nin)) return st;
  }
  switch (op) {
#define KILN_UNARY(ID, E) \
  case KILN_OP_##ID: return unary_cpu(ctx, o[0], in[0], Unary::E);
    KILN_UNARY(NEG, Neg) KILN_UNARY(ABS, Abs) KILN_UNARY(SIGN, Sign) KILN_UNARY(EXP, Exp) KILN_UNARY(LOG, Log)
    KILN_UNARY(SQRT, Sqrt) KILN_UNARY(RSQRT, Rsqrt) KILN_UNARY(SIN, Sin) KILN_UNARY(COS, Cos) KILN_UNARY(TANH, Tanh)
    KILN_UNARY(SIGMOID, Sigmoid) KILN_UNARY(ERF, Erf) KILN_UNARY(FLOOR, Floor) KILN_UNARY(CEIL, Ceil)
    KILN_UNARY(ROUND, Round) KILN_UNARY(TRUNC, Trunc) KILN_UNARY(RECIPROCAL, Reciprocal) KILN_UNARY(LOG1P, Log1p)
    KILN_UNARY(EXPM1, Expm1) KILN_UNARY(LOGICAL_NOT, LogicalNot)
#undef KILN_UNARY
#define KILN_BINARY(ID, E) \
  case KILN_OP_##ID: return binary_cpu(ctx, o[0], in[0], in[1], Binary::E);
    KILN_BINARY(ADD, Add) KILN_BINARY(SUB, Sub) KILN_BINARY(MUL, Mul) KILN_BINARY(DIV, Div) KILN_BINARY(POW, Pow)
    KILN_BINARY(MAXIMUM, Maximum) KILN_BINARY(MINIMUM, Minimum) KILN_BINARY(REMAINDER, Remainder)
    KILN_BINARY(ATAN2, Atan2) KILN_BINARY(EQ, Eq) KILN_BINARY(NE, Ne) KILN_BINARY(LT, Lt) KILN_BINARY(LE, Le)
    KILN_BINARY(GT, Gt) KILN_BINARY(GE, Ge) KILN_BINARY(LOGICAL_AND, LogicalAnd) KILN_BINARY(LOGICAL_OR, LogicalOr)
    KILN_BINARY(LOGICAL_XOR, LogicalXor)
#undef KILN_BINARY
    case KILN_OP_WHERE: return where_cpu(ctx, o[0], in[0], in[1], in[2]);
    case KILN_OP_COPY: return copy_cpu(ctx, o[0], in[0]);
    case KILN_OP_FILL: return fill_cpu(ctx, o[0], attr[0]);
#define KILN_REDUCE(ID, E) \
  case KILN_OP_##ID: return reduce_cpu(ctx, o[0], in[0], iattr, Reduce::E);
    KILN_REDUCE(SUM, Sum) KILN_REDUCE(PROD, Prod) KILN_REDUCE(AMAX, Max) KILN_REDUCE(AMIN, Min)
    KILN_REDUCE(ARGMAX, ArgMax) KILN_REDUCE(ARGMIN, ArgMin)
#undef KILN_REDUCE
    case KILN_OP_MATMUL: return matmul_cpu(ctx, o[0], in[0], in[1]);
    case KILN_OP_GATHER: return gather_cpu(ctx, o[0], in[0], in[1], iattr);
    case KILN_OP_SCATTER: return scatter_cpu(ctx, o[0], in[0], in[1], iattr, false);
    case KILN_OP_SCATTER_ADD: return scatter_cpu(ctx, o[0], in[0], in[1], iattr, true);
    case KILN_OP_UNIFORM: return uniform_cpu(ctx, o[0], u64_from(attr), u64_from(attr + 2), attr[4], attr[5]);
    case KILN_OP_NORMAL: return normal_cpu(ctx, o[0], u64_from(attr), u64_from(attr + 2), attr[4], attr[5]);
    default: return fail(ctx, KILN_ERR_ARG, "op id %d has no CPU kernel", op);
  }
}

}  // namespace

extern "C" kiln_status kiln_op_run(kiln_context *ctx, int op, kiln_tensor *outs, int nout, const kiln_tensor *ins, int nin,
                                   const double *attrs, int nattr) {
  if (!ctx) return KILN_ERR_INTERNAL;
  if (op < 0 || op >= KILN_OP_COUNT) return fail(ctx, KILN_ERR_ARG, "unknown op id %d", op);
  const kiln_op_info &info = kiln_op_infos[op];
  if (nout != info.nout || nin != info.nin || nattr < info.nattr)
    return fail(ctx, KILN_ERR_ARG, "%s: expected %d outputs, %d inputs, %d attributes; got %d, %d, %d", info.name, info.nout,
                info.nin, info.nattr, nout, nin, nattr);
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
