/**
 * kiln: tensors for Node.js with SIMD CPU kernels behind N-API and autograd in TypeScript.
 * @example
 * import * as kiln from 'kiln';
 * const x = kiln.randn([64, 784]);
 * const w = kiln.randn([784, 10], { requiresGrad: true });
 * x.matmul(w).relu().sum().backward();
 */
import { installMethods } from './methods';
import { native } from './native';
import { table as T } from './ops/table';
import { divRounded, type RoundingMode } from './ops/arith';
import type { TensorLike } from './ops/kinds';
import type { Tensor as TensorT } from './tensor';

installMethods();

export { Tensor, isTensor } from './tensor';
export type { NestedArray } from './tensor';
export { KilnError } from './errors';
export type { KilnErrorCode } from './errors';
export { DTYPES, promoteTypes } from './dtype';
export type { DType, TypedArray } from './dtype';
export type { Device } from './device';
export { setDefaultDevice, getDefaultDevice } from './device';
export {
  tensor,
  empty,
  zeros,
  ones,
  full,
  arange,
  linspace,
  eye,
  emptyLike,
  zerosLike,
  onesLike,
  fullLike,
  trilIndices,
  triuIndices,
} from './creation';
export type { TensorOptions, TensorData } from './creation';
export { Generator, manualSeed, defaultGenerator, rand, randn, randint, bernoulli } from './ops/random';
export { noGrad, enableGrad, inferenceMode, isGradEnabled } from './autograd/grad_mode';
export { gradcheck, gradgradcheck } from './autograd/gradcheck';
export { scope, keep, memory, emptyCache } from './memory';
export type { MemoryInfo } from './memory';
export {
  reshape,
  view,
  permute,
  transpose,
  expand,
  slice,
  narrow,
  select,
  squeeze,
  unsqueeze,
  flatten,
  broadcastTo,
} from './ops/movement';
export { gather, scatter, scatterAdd, where, cat, pad } from './ops/indexing';
export { matmul } from './ops/linalg';
export { einsum } from './ops/einsum';
export { addmm, bmm } from './ops/linear';
export type { AddmmOptions, LinearActivation, LinearOptions } from './ops/linear';
export { clone, contiguous, detach } from './ops/convert';
export {
  mean,
  variance as var,
  std,
  logsumexp,
  clamp,
  clamp as clip,
  relu,
  square,
  softmax,
  logSoftmax,
  maskedFill,
  oneHot,
  indexSelect,
  stack,
  split,
  chunk,
  max,
  min,
  isinf,
  isnan,
} from './ops/composite';
export { any, all, isclose, allclose, equal } from './ops/logical';
export {
  flip,
  roll,
  tile,
  tril,
  triu,
  unbind,
  outer,
  diag,
  trace,
  diff,
  movedim,
  movedim as moveaxis,
} from './ops/rearrange';
export { swapaxes, swapaxes as swapdims, flipud, fliplr, rot90 } from './ops/rearrange';
export { hstack, vstack, dstack, columnStack, tensorSplit, hsplit, vsplit, dsplit } from './ops/joins';
export { atleast1d, atleast2d, atleast3d } from './ops/joins';
export {
  cross,
  cdist,
  kron,
  tensordot,
  blockDiag,
  meshgrid,
  cartesianProd,
  dot,
  vdot,
  inner,
  mv,
} from './ops/products';
export { cumsum, cumprod, cummax, cummin, logcumsumexp } from './ops/scan';
export {
  nonzero,
  argwhere,
  countNonzero,
  maskedSelect,
  unique,
  uniqueConsecutive,
  bincount,
  histc,
  searchsorted,
  bucketize,
  take,
  takeAlongDim,
  repeatInterleave,
  indexAdd,
  indexCopy,
  indexFill,
} from './ops/selection';
export type { UniqueOptions, UniqueResult } from './ops/selection';
export { median, nanmedian, nansum, nanmean, quantile, nanquantile, aminmax, cov, corrcoef } from './ops/statistics';
export type { CovOptions, QuantileInterpolation, QuantileOptions } from './ops/statistics';
export type { ScanOptions } from './ops/scan';
export { sort, argsort, msort, topk, kthvalue } from './ops/sort';
export type { SortOptions, TopkOptions, KthvalueOptions, ValuesIndices } from './ops/sort';
export { lerp, addcmul, addcdiv, hypot, logit, xlogy, logaddexp, logaddexp2, floorDivide, fmod } from './ops/arith';
export { nanToNum, signbit, copysign, frac, erfinv } from './ops/arith';
export type { RoundingMode } from './ops/arith';
export type { ValueOption } from './ops/arith';
export { norm } from './ops/vector_norm';
export { multinomial } from './ops/sampling';
export type { MultinomialOptions } from './ops/sampling';
export type { NormOrder } from './ops/vector_norm';
export type { CloseOptions } from './ops/logical';
export * as nn from './nn/index';
export * as distributions from './distributions/index';
export * as linalg from './linalg/index';
export { diagonal, diagEmbed } from './ops/diagonal';
export { det, inv as inverse, logdet, slogdet, pinv as pinverse, matrixPower } from './linalg/short_names';
export { finfo, iinfo } from './finfo';

import * as engine from './autograd/engine';
/** torch.autograd's entry points. */
import * as functional from './autograd/functional';
export const autograd = { grad: engine.grad, backward: engine.backward, functional };
export type { FunctionalOptions } from './autograd/functional';
export type { GradHook, RemovableHandle } from './autograd/hooks';
import { checkpoint, checkpointSequential } from './autograd/checkpoint';
/** torch.utils's training helpers: activation checkpointing. */
export const utils = { checkpoint, checkpointSequential };

export const neg = T.neg.fn,
  abs = T.abs.fn,
  sign = T.sign.fn,
  exp = T.exp.fn,
  log = T.log.fn,
  sqrt = T.sqrt.fn;
export const rsqrt = T.rsqrt.fn,
  sin = T.sin.fn,
  cos = T.cos.fn,
  tanh = T.tanh.fn,
  sigmoid = T.sigmoid.fn,
  erf = T.erf.fn,
  erfc = T.erfc.fn,
  lgamma = T.lgamma.fn,
  digamma = T.digamma.fn;
export { polygamma } from './ops/gamma';
export const floor = T.floor.fn,
  ceil = T.ceil.fn,
  round = T.round.fn,
  trunc = T.trunc.fn,
  reciprocal = T.reciprocal.fn;
export const log1p = T.log1p.fn,
  expm1 = T.expm1.fn,
  logicalNot = T.logical_not.fn;
export const add = T.add.fn,
  sub = T.sub.fn,
  mul = T.mul.fn,
  div = (a: TensorT, b: TensorLike, opts?: { roundingMode?: RoundingMode | null }): TensorT =>
    opts?.roundingMode ? divRounded(a, b, opts.roundingMode) : T.div.fn(a, b),
  pow = T.pow.fn,
  maximum = T.maximum.fn;
export const minimum = T.minimum.fn,
  remainder = T.remainder.fn,
  atan2 = T.atan2.fn;
export const eq = T.eq.fn,
  ne = T.ne.fn,
  lt = T.lt.fn,
  le = T.le.fn,
  gt = T.gt.fn,
  ge = T.ge.fn;
export const logicalAnd = T.logical_and.fn,
  logicalOr = T.logical_or.fn,
  logicalXor = T.logical_xor.fn;
export const sum = T.sum.fn,
  prod = T.prod.fn,
  amax = T.amax.fn,
  amin = T.amin.fn,
  argmax = T.argmax.fn,
  argmin = T.argmin.fn;

/** What the native layer chose at load time: ISA, threads, and what the CPU supports. */
export function info(): {
  isa: string;
  numThreads: number;
  supportedIsas: string[];
  cuda: boolean;
  warning: string | null;
} {
  const i = native().info();
  return {
    isa: i.isa,
    numThreads: i.numThreads,
    supportedIsas: i.supportedIsas,
    cuda: i.cuda,
    warning: i.startupWarning || null,
  };
}

/** CUDA devices: isAvailable(), deviceCount(), getDeviceProperties(i), synchronize(), emptyCache(). */
export * as cuda from './cuda';
export type { CudaDeviceProperties } from './cuda';

export { ROWS as opTable } from './ops/table';
export { load, loadSync, save, saveSync } from './io/safetensors';
export * as safetensors from './io/safetensors';
export * as optim from './optim/index';
export { loadCheckpoint, loadCheckpointSync, saveCheckpoint, saveCheckpointSync } from './io/checkpoint';
export type { CheckpointParts } from './io/checkpoint';
export * as metrics from './metrics/index';
export * as data from './data/index';
export * as train from './train/fit';
