/**
 * Tensor methods: each op function whose first argument is the tensor becomes a method of the
 * same camelCase name (t.add(b) is add(t, b)); in-place forms end in `_`. Types follow from
 * the functions, so a method is never declared twice.
 */
import { backward } from './autograd/engine';
import { registerHook } from './autograd/hooks';
import * as C from './ops/composite';
import { clone, contiguous, copy_, cpu, cuda, detach, fill_, to, zero_ } from './ops/convert';
import { emptyLike, fullLike, onesLike, zerosLike } from './creation';
import { cat, gather, pad, scatter, scatterAdd, where } from './ops/indexing';
import type { TensorLike } from './ops/kinds';
import { matmul } from './ops/linalg';
import { all, allclose, any, equal, isclose } from './ops/logical';
import * as AR from './ops/arith';
import { addcdiv, addcmul, hypot, lerp, logit, xlogy } from './ops/arith';
import * as J from './ops/joins';
import { cross, dot, inner, kron, mv, vdot } from './ops/products';
import * as RE from './ops/rearrange';
import { diag, diff, flip, outer, repeat, roll, tile, trace, tril, triu, unbind } from './ops/rearrange';
import { cummax, cummin, cumprod, cumsum, logcumsumexp } from './ops/scan';
import * as S from './ops/selection';
import * as ST from './ops/statistics';
import { argsort, kthvalue, msort, sort, topk } from './ops/sort';
import { norm } from './ops/vector_norm';
import { polygamma } from './ops/gamma';
import { diagEmbed, diagonal } from './ops/diagonal';
import { cholesky } from './linalg/factor';
import { det, inv, logdet, slogdet } from './linalg/lu';
import { matrixPower, pinv } from './linalg/derived';
import { addmm, addmm_, bmm } from './ops/linear';
import * as M from './ops/movement';
import { bernoulli, normal_, uniform_ } from './ops/random';
import { multinomial } from './ops/sampling';
import { unfold } from './ops/windows';
import { table as T } from './ops/table';
import { formatTensor } from './print';
import { Tensor } from './tensor';
import type { TensorMethods } from './tensor_methods';

type Impl<F> = F extends (...args: infer A) => infer R ? (self: Tensor, ...args: A) => R : never;
type Impls = { [K in Exclude<keyof TensorMethods, 'max' | 'min'>]: Impl<TensorMethods[K]> } & {
  max: typeof C.max;
  min: typeof C.min;
};

const methods: Impls = {
  neg: T.neg.fn,
  abs: T.abs.fn,
  sign: T.sign.fn,
  exp: T.exp.fn,
  log: T.log.fn,
  sqrt: T.sqrt.fn,
  rsqrt: T.rsqrt.fn,
  sin: T.sin.fn,
  cos: T.cos.fn,
  tanh: T.tanh.fn,
  sigmoid: T.sigmoid.fn,
  erf: T.erf.fn,
  erfc: T.erfc.fn,
  lgamma: T.lgamma.fn,
  digamma: T.digamma.fn,
  polygamma: (x: Tensor, n: number) => polygamma(n, x),
  floor: T.floor.fn,
  ceil: T.ceil.fn,
  round: T.round.fn,
  trunc: T.trunc.fn,
  reciprocal: T.reciprocal.fn,
  log1p: T.log1p.fn,
  expm1: T.expm1.fn,
  logicalNot: T.logical_not.fn,
  neg_: T.neg.inplace,
  abs_: T.abs.inplace,
  sign_: T.sign.inplace,
  exp_: T.exp.inplace,
  log_: T.log.inplace,
  sqrt_: T.sqrt.inplace,
  rsqrt_: T.rsqrt.inplace,
  sin_: T.sin.inplace,
  cos_: T.cos.inplace,
  tanh_: T.tanh.inplace,
  sigmoid_: T.sigmoid.inplace,
  erf_: T.erf.inplace,
  erfc_: T.erfc.inplace,
  lgamma_: T.lgamma.inplace,
  digamma_: T.digamma.inplace,
  floor_: T.floor.inplace,
  ceil_: T.ceil.inplace,
  round_: T.round.inplace,
  trunc_: T.trunc.inplace,
  reciprocal_: T.reciprocal.inplace,
  log1p_: T.log1p.inplace,
  expm1_: T.expm1.inplace,

  add: T.add.fn,
  sub: T.sub.fn,
  mul: T.mul.fn,
  div: (a, b, opts) => (opts?.roundingMode ? AR.divRounded(a, b, opts.roundingMode) : T.div.fn(a, b)),
  pow: T.pow.fn,
  maximum: T.maximum.fn,
  minimum: T.minimum.fn,
  remainder: T.remainder.fn,
  atan2: T.atan2.fn,
  eq: T.eq.fn,
  ne: T.ne.fn,
  lt: T.lt.fn,
  le: T.le.fn,
  gt: T.gt.fn,
  ge: T.ge.fn,
  logicalAnd: T.logical_and.fn,
  logicalOr: T.logical_or.fn,
  logicalXor: T.logical_xor.fn,
  add_: T.add.inplace,
  sub_: T.sub.inplace,
  mul_: T.mul.inplace,
  div_: T.div.inplace,
  pow_: T.pow.inplace,
  maximum_: T.maximum.inplace,
  minimum_: T.minimum.inplace,
  remainder_: T.remainder.inplace,

  sum: T.sum.fn,
  prod: T.prod.fn,
  amax: T.amax.fn,
  amin: T.amin.fn,
  argmax: T.argmax.fn,
  argmin: T.argmin.fn,
  mean: C.mean,
  var: C.variance,
  std: C.std,
  logsumexp: C.logsumexp,
  max: C.max,
  min: C.min,
  any,
  all,
  isclose,
  allclose,
  equal,
  norm,
  flip,
  roll,
  cumsum,
  sort,
  argsort,
  msort,
  topk,
  kthvalue,
  cumprod,
  repeat,
  tile,
  tril,
  triu,
  unbind,
  outer,
  diag,
  trace,
  diagonal,
  diagEmbed,
  inverse: inv,
  det,
  logdet,
  slogdet,
  pinverse: pinv,
  matrixPower,
  cholesky,
  lerp,
  addcmul,
  addcdiv,

  matmul,
  bmm,
  addmm,
  addmm_,
  gather,
  scatter,
  scatterAdd,
  pad,
  /** x.where(condition, other): x where condition holds, else other (PyTorch's method form). */
  where: (x: Tensor, condition: Tensor, other: TensorLike): Tensor => where(condition, x, other),
  cat: (x: Tensor, others: Tensor[], dim = 0): Tensor => cat([x, ...others], dim),

  reshape: M.reshape,
  view: M.view,
  permute: M.permute,
  transpose: M.transpose,
  expand: M.expand,
  slice: M.slice,
  narrow: M.narrow,
  select: M.select,
  squeeze: M.squeeze,
  unsqueeze: M.unsqueeze,
  flatten: M.flatten,
  broadcastTo: M.broadcastTo,
  unfold,
  t: C.t,
  expandAs: (x: Tensor, other: Tensor): Tensor => M.expand(x, other._shape.slice()),
  viewAs: (x: Tensor, other: Tensor): Tensor => M.view(x, other._shape.slice()),
  split: C.split,
  chunk: C.chunk,

  to,
  cuda,
  cpu,
  clone,
  contiguous,
  detach,
  copy_,
  fill_,
  zero_,
  uniform_,
  normal_,
  bernoulli,
  multinomial,
  float: (x: Tensor): Tensor => to(x, 'float32'),
  double: (x: Tensor): Tensor => to(x, 'float64'),
  int: (x: Tensor): Tensor => to(x, 'int32'),
  long: (x: Tensor): Tensor => to(x, 'int64'),
  bool: (x: Tensor): Tensor => to(x, 'bool'),

  clamp: C.clamp,
  clip: C.clamp,
  relu: C.relu,
  relu_: C.relu_,
  clamp_: (x: Tensor, min?: number | null, max?: number | null): Tensor => {
    if (min !== undefined && min !== null) T.maximum.inplace(x, min);
    if (max !== undefined && max !== null) T.minimum.inplace(x, max);
    return x;
  },
  square: C.square,
  softmax: C.softmax,
  logSoftmax: C.logSoftmax,
  maskedFill: C.maskedFill,
  indexSelect: C.indexSelect,
  nonzero: S.nonzero,
  argwhere: S.argwhere,
  countNonzero: S.countNonzero,
  maskedSelect: S.maskedSelect,
  unique: S.unique,
  uniqueConsecutive: S.uniqueConsecutive,
  bincount: S.bincount,
  histc: S.histc,
  take: S.take,
  takeAlongDim: S.takeAlongDim,
  repeatInterleave: S.repeatInterleave,
  indexAdd: S.indexAdd,
  indexCopy: S.indexCopy,
  indexFill: S.indexFill,
  median: ST.median,
  nanmedian: ST.nanmedian,
  nansum: ST.nansum,
  nanmean: ST.nanmean,
  quantile: ST.quantile,
  nanquantile: ST.nanquantile,
  aminmax: ST.aminmax,
  cov: ST.cov,
  corrcoef: ST.corrcoef,
  hypot,
  logit,
  xlogy,
  diff,
  cross,
  kron,
  movedim: RE.movedim,
  moveaxis: RE.movedim,
  swapaxes: RE.swapaxes,
  swapdims: RE.swapaxes,
  flipud: RE.flipud,
  fliplr: RE.fliplr,
  rot90: RE.rot90,
  tensorSplit: J.tensorSplit,
  hsplit: J.hsplit,
  vsplit: J.vsplit,
  dsplit: J.dsplit,
  logaddexp: AR.logaddexp,
  logaddexp2: AR.logaddexp2,
  floorDivide: AR.floorDivide,
  fmod: AR.fmod,
  nanToNum: AR.nanToNum,
  signbit: AR.signbit,
  copysign: AR.copysign,
  frac: AR.frac,
  erfinv: AR.erfinv,
  cummax,
  cummin,
  logcumsumexp,
  dot,
  vdot,
  inner,
  mv,
  isinf: C.isinf,
  isnan: C.isnan,
  clampMin: (x: Tensor, min: TensorLike): Tensor => C.clamp(x, min, null),
  clampMax: (x: Tensor, max: TensorLike): Tensor => C.clamp(x, null, max),

  zerosLike,
  onesLike,
  emptyLike,
  fullLike,
  backward,
  registerHook,
  toString: (x: Tensor): string => formatTensor(x),
};

let installed = false;
/** Attaches the methods to Tensor.prototype (once). */
export function installMethods(): void {
  if (installed) return;
  installed = true;
  const proto = Tensor.prototype as unknown as Record<string, unknown>;
  for (const [name, fn] of Object.entries(methods)) {
    const f = fn as (self: Tensor, ...args: unknown[]) => unknown;
    proto[name] = function (this: Tensor, ...args: unknown[]) {
      return f(this, ...args);
    };
  }
  (proto as Record<symbol, unknown>)[Symbol.for('nodejs.util.inspect.custom')] = function (this: Tensor) {
    return formatTensor(this);
  };
}
