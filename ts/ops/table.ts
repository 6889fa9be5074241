/**
 * The op table: every primitive op is declared here once, with its dtypes, its plain-TS
 * reference, its gradient written with other ops (or why it has none), and the material its
 * conformance, gradient and error tests are generated from. Rows with a native kernel get an
 * id from scripts/gen_ops.ts (kiln_ops.gen.h and op_ids.gen.ts, committed; a test fails when
 * they are stale). Composites (mean, relu, softmax, ...) are not rows: see ops/composite.ts.
 */
import { ALL_DTYPES, FLOAT_DTYPES, NUMERIC_DTYPES } from '../dtype';
import { attentionBackwardRow, attentionRow } from './attention_rows';
import type { Tensor } from '../tensor';
import { binaryKind, unaryKind } from './kinds';
import { reduceKind } from './reduce_kind';
import { copyRow, fillRow } from './convert';
import { conv2dBackwardInputRow, conv2dBackwardRow, conv2dBackwardWeightRow, conv2dRow } from './conv_rows';
import {
  adaptiveAvgPool2dBackwardRow,
  adaptiveAvgPool2dRow,
  avgPool2dBackwardRow,
  avgPool2dRow,
  maxPool2dBackwardRow,
  maxPool2dRow,
} from './pool_rows';
import { catRow, gatherRow, padRow, scatterAddRow, scatterRow, whereRow } from './indexing_rows';
import { crossEntropyBackwardRow, crossEntropyRow } from './cross_entropy';
import { layerNormBackwardRow, layerNormRow } from './layer_norm';
import { matmulRow } from './linalg';
import { addmmRow, linearRow } from './linear';
import { erfRef, erfcRef } from './samples';
import { digammaRef, lgammaRef, trigammaRef } from './gamma_refs';
import { expandRow, permuteRow, reshapeRow, sliceBackwardRow, sliceRow } from './movement';
import { normalRow, uniformRow } from './random';
import { geluBackwardRow, geluRow, siluBackwardRow, siluRow } from './activation';
import { batchNormBackwardRow, batchNormRow, batchNormStatsRow } from './batch_norm';
import { dropoutRow } from './dropout';
import { resampleBackwardRow, resampleRow } from './resample';
import { bceWithLogitsBackwardRow, bceWithLogitsRow } from './bce';
import { groupNormBackwardRow } from './group_norm';
import { embeddingBackwardRow, embeddingRow } from './embedding';
import { logsumexpRow } from './logsumexp';
import { cumsumRow } from './scan';
import { clampRow } from './clamp';
import { varRow } from './var';
import type { OpRow } from './row';
import { softmaxBackwardRow, softmaxRow } from './softmax';
import { sortRow } from './sort';
import { choleskyRow, eighRow, luRow, luSolveRow, qrRow, solveTriangularRow, svdRow } from '../linalg/rows';

const F = FLOAT_DTYPES;
const SIGNED = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64'] as const;
const BOOL_OUT = { nondiff: 'boolean output' };
const INTEGER_OUT = { nondiff: 'index output' };

// Elementwise math in float64 for references (round-half-even like nearbyint).
const roundHalfEven = (x: number): number => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
const pyMod = (a: number, b: number): number => {
  if (b === 0) return Number.isInteger(a) && Number.isInteger(b) ? 0 : NaN;
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
};
const nanMax = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
const nanMin = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));
const sumOut = (d: string) => (d === 'bool' || d === 'uint8' || d === 'int32' || d === 'int64' ? 'int64' : d) as never;
const same = <T>(d: T) => d;

/** Gradient of a full/keepdim reduction, expanded back to the input shape. */
const expandBack = (g: Tensor, x: Tensor, dims: number[], keepdim: boolean): Tensor =>
  (keepdim ? g : g.reshape(x._shape.map((s, d) => (dims.includes(d) ? 1 : s)))).expand(x._shape.slice());

/** max/min gradient: split evenly among the elements equal to the result (PyTorch's amax rule). */
const extremumGrad = (g: Tensor, x: Tensor, out: Tensor, dims: number[], keepdim: boolean): Tensor => {
  const o = expandBack(out, x, dims, keepdim);
  const mask = x.eq(o).to(g.dtype);
  const count = mask.sum(dims, true);
  return expandBack(g, x, dims, keepdim).mul(mask).div(count);
};

/** d/dx erf(x) = 2/√π e^(-x²); erfc's is its negation. */
const erfSlope = (x: Tensor): Tensor =>
  x
    .mul(x)
    .neg()
    .exp()
    .mul(2 / Math.sqrt(Math.PI));
/** A unary row's function, looked up when a gradient runs (the rows refer to each other). */
const rowFn =
  (name: 'digamma' | 'trigamma') =>
  (x: Tensor): Tensor =>
    (table[name] as unknown as { fn: (x: Tensor) => Tensor }).fn(x);

export const table = {
  neg: unaryKind('neg', { dtypes: SIGNED, ref: (x) => -x, grad: (g) => [g.neg()] }),
  abs: unaryKind('abs', { dtypes: NUMERIC_DTYPES, ref: Math.abs, grad: (g, c) => [g.mul(c.inputs[0].sign())] }),
  sign: unaryKind('sign', { dtypes: SIGNED, ref: Math.sign, grad: (g) => [g.mul(0)] }),
  exp: unaryKind('exp', {
    dtypes: F,
    floatOnly: true,
    ref: Math.exp,
    saveOutput: true,
    grad: (g, c) => [g.mul(c.output!)],
  }),
  log: unaryKind('log', {
    dtypes: F,
    floatOnly: true,
    ref: Math.log,
    range: [0.05, 5],
    grad: (g, c) => [g.div(c.inputs[0])],
  }),
  sqrt: unaryKind('sqrt', {
    dtypes: F,
    floatOnly: true,
    ref: Math.sqrt,
    range: [0.05, 5],
    saveOutput: true,
    grad: (g, c) => [g.div(c.output!.mul(2))],
  }),
  rsqrt: unaryKind('rsqrt', {
    dtypes: F,
    floatOnly: true,
    ref: (x) => 1 / Math.sqrt(x),
    range: [0.2, 5],
    saveOutput: true,
    grad: (g, c) => [g.mul(c.output!.pow(3)).mul(-0.5)],
  }),
  sin: unaryKind('sin', { dtypes: F, floatOnly: true, ref: Math.sin, grad: (g, c) => [g.mul(c.inputs[0].cos())] }),
  cos: unaryKind('cos', {
    dtypes: F,
    floatOnly: true,
    ref: Math.cos,
    grad: (g, c) => [g.mul(c.inputs[0].sin()).neg()],
  }),
  tanh: unaryKind('tanh', {
    dtypes: F,
    floatOnly: true,
    ref: Math.tanh,
    saveOutput: true,
    grad: (g, c) => [g.mul(c.output!.mul(c.output!).neg().add(1))],
  }),
  sigmoid: unaryKind('sigmoid', {
    dtypes: F,
    floatOnly: true,
    ref: (x) => 1 / (1 + Math.exp(-x)),
    saveOutput: true,
    grad: (g, c) => [g.mul(c.output!.mul(c.output!.neg().add(1)))],
  }),
  erf: unaryKind('erf', {
    dtypes: F,
    floatOnly: true,
    ref: erfRef,
    tol: 16,
    grad: (g, c) => [g.mul(erfSlope(c.inputs[0]))],
  }),
  floor: unaryKind('floor', { dtypes: F, ref: Math.floor, grad: (g) => [g.mul(0)] }),
  ceil: unaryKind('ceil', { dtypes: F, ref: Math.ceil, grad: (g) => [g.mul(0)] }),
  round: unaryKind('round', { dtypes: F, ref: roundHalfEven, grad: (g) => [g.mul(0)] }),
  trunc: unaryKind('trunc', { dtypes: F, ref: Math.trunc, grad: (g) => [g.mul(0)] }),
  reciprocal: unaryKind('reciprocal', {
    dtypes: F,
    floatOnly: true,
    ref: (x) => 1 / x,
    range: [0.2, 4],
    saveOutput: true,
    grad: (g, c) => [g.mul(c.output!.mul(c.output!)).neg()],
  }),
  log1p: unaryKind('log1p', {
    dtypes: F,
    floatOnly: true,
    ref: Math.log1p,
    range: [-0.9, 4],
    grad: (g, c) => [g.div(c.inputs[0].add(1))],
  }),
  expm1: unaryKind('expm1', {
    dtypes: F,
    floatOnly: true,
    ref: Math.expm1,
    saveOutput: true,
    grad: (g, c) => [g.mul(c.output!.add(1))],
  }),
  erfc: unaryKind('erfc', {
    dtypes: F,
    floatOnly: true,
    ref: erfcRef,
    range: [-3, 9],
    tol: 16,
    grad: (g, c) => [g.mul(erfSlope(c.inputs[0])).neg()],
  }),
  lgamma: unaryKind('lgamma', {
    dtypes: F,
    floatOnly: true,
    ref: lgammaRef,
    range: [-4.5, 12],
    tol: 512, // the Lanczos reference is good to ~1e-14 relative; glibc's lgamma to an ulp or two
    grad: (g, c) => [g.mul(rowFn('digamma')(c.inputs[0]))],
  }),
  digamma: unaryKind('digamma', {
    dtypes: F,
    floatOnly: true,
    ref: digammaRef,
    range: [-4.5, 12],
    tol: 64,
    grad: (g, c) => [g.mul(rowFn('trigamma')(c.inputs[0]))],
  }),
  trigamma: unaryKind('trigamma', {
    dtypes: F,
    floatOnly: true,
    ref: trigammaRef,
    range: [-4.5, 12],
    tol: 64,
    grad: { nondiff: 'its gradient, polygamma(2, x), is not implemented' },
  }),
  logical_not: unaryKind('logical_not', {
    dtypes: ALL_DTYPES,
    boolOut: true,
    ref: (x) => (x === 0 ? 1 : 0),
    grad: BOOL_OUT,
  }),

  add: binaryKind('add', { dtypes: ALL_DTYPES, ref: (a, b) => a + b, grad: (g) => [g, g], selfFree: true }),
  sub: binaryKind('sub', { dtypes: NUMERIC_DTYPES, ref: (a, b) => a - b, grad: (g) => [g, g.neg()], selfFree: true }),
  mul: binaryKind('mul', {
    dtypes: ALL_DTYPES,
    ref: (a, b) => a * b,
    grad: (g, c) => [g.mul(c.inputs[1]), g.mul(c.inputs[0])],
  }),
  div: binaryKind('div', {
    dtypes: F,
    floatOnly: true,
    ref: (a, b) => a / b,
    rangeB: [0.5, 3],
    grad: (g, c) => [g.div(c.inputs[1]), g.mul(c.inputs[0]).div(c.inputs[1].mul(c.inputs[1])).neg()],
  }),
  pow: binaryKind('pow', {
    dtypes: NUMERIC_DTYPES,
    ref: (a, b) => a ** b,
    range: [0.5, 2],
    rangeB: [-2, 2],
    tol: 8,
    // PyTorch's: 0 for the base where the exponent is 0 (not 0 * a^-1, NaN at a = 0), 0 for the
    // exponent where the base is 0 and the exponent >= 0 (not 0 * log 0, NaN).
    grad: (g, c) => {
      const [a, b] = c.inputs;
      const ga = g
        .mul(b)
        .mul(a.pow(b.sub(1)))
        .maskedFill(b.eq(0), 0);
      const gb = g.mul(
        a
          .pow(b)
          .mul(a.log())
          .maskedFill(a.eq(0).logicalAnd(b.ge(0)), 0),
      );
      return [ga, gb];
    },
  }),
  maximum: binaryKind('maximum', {
    dtypes: NUMERIC_DTYPES,
    ref: nanMax,
    grad: (g, c) => {
      const [a, b] = c.inputs;
      const w = a.gt(b).to(g.dtype).add(a.eq(b).to(g.dtype).mul(0.5));
      return [g.mul(w), g.mul(w.neg().add(1))];
    },
  }),
  minimum: binaryKind('minimum', {
    dtypes: NUMERIC_DTYPES,
    ref: nanMin,
    grad: (g, c) => {
      const [a, b] = c.inputs;
      const w = a.lt(b).to(g.dtype).add(a.eq(b).to(g.dtype).mul(0.5));
      return [g.mul(w), g.mul(w.neg().add(1))];
    },
  }),
  remainder: binaryKind('remainder', {
    dtypes: ['float32', 'float64', 'int32', 'int64', 'uint8'],
    ref: pyMod,
    rangeB: [1, 3],
    tol: 4,
    grad: (g, c) => [g, g.mul(c.inputs[0].div(c.inputs[1]).floor()).neg()],
  }),
  atan2: binaryKind('atan2', {
    dtypes: F,
    floatOnly: true,
    ref: Math.atan2,
    grad: (g, c) => {
      const [a, b] = c.inputs;
      const r = a.mul(a).add(b.mul(b));
      return [g.mul(b).div(r), g.mul(a).div(r).neg()];
    },
  }),
  eq: binaryKind('eq', { dtypes: ALL_DTYPES, boolOut: true, ref: (a, b) => +(a === b), grad: BOOL_OUT }),
  ne: binaryKind('ne', { dtypes: ALL_DTYPES, boolOut: true, ref: (a, b) => +(a !== b), grad: BOOL_OUT }),
  lt: binaryKind('lt', { dtypes: ALL_DTYPES, boolOut: true, ref: (a, b) => +(a < b), grad: BOOL_OUT }),
  le: binaryKind('le', { dtypes: ALL_DTYPES, boolOut: true, ref: (a, b) => +(a <= b), grad: BOOL_OUT }),
  gt: binaryKind('gt', { dtypes: ALL_DTYPES, boolOut: true, ref: (a, b) => +(a > b), grad: BOOL_OUT }),
  ge: binaryKind('ge', { dtypes: ALL_DTYPES, boolOut: true, ref: (a, b) => +(a >= b), grad: BOOL_OUT }),
  logical_and: binaryKind('logical_and', {
    dtypes: ['bool'],
    logical: true,
    boolOut: true,
    ref: (a, b) => +(a !== 0 && b !== 0),
    grad: BOOL_OUT,
  }),
  logical_or: binaryKind('logical_or', {
    dtypes: ['bool'],
    logical: true,
    boolOut: true,
    ref: (a, b) => +(a !== 0 || b !== 0),
    grad: BOOL_OUT,
  }),
  logical_xor: binaryKind('logical_xor', {
    dtypes: ['bool'],
    logical: true,
    boolOut: true,
    ref: (a, b) => +((a !== 0) !== (b !== 0)),
    grad: BOOL_OUT,
  }),

  where: whereRow,
  copy: copyRow,
  fill: fillRow,

  sum: reduceKind('sum', {
    dtypes: ALL_DTYPES,
    ref: (xs) => xs.reduce((a, b) => a + b, 0),
    identity: 0,
    outDtype: sumOut,
    tol: 4,
    cancels: true,
    split: ['float32', 'float64', 'int32', 'int64', 'uint8', 'bool'],
    grad: (g, c) => [expandBack(g, c.inputs[0], c.attrs.dims as number[], c.attrs.keepdim as boolean)],
  }),
  prod: reduceKind('prod', {
    growsWithTerms: true,
    dtypes: ALL_DTYPES,
    ref: (xs) => xs.reduce((a, b) => a * b, 1),
    identity: 1,
    outDtype: sumOut,
    saveOutput: true,
    tol: 16,
    // PyTorch's: result / x where x != 0; at a zero, the product of the others (0 unless it is its
    // slice's only zero), not result / x (0 / 0).
    grad: (g, c) => {
      const { dims, keepdim } = c.attrs as { dims: number[]; keepdim: boolean };
      const x = c.inputs[0];
      const zero = x.eq(0),
        x1 = x.maskedFill(zero, 1);
      const atZero = x1.prod(dims, true).maskedFill(zero.to(g.dtype).sum(dims, true).ne(1), 0);
      const away = expandBack(c.output!, x, dims, keepdim).div(x1).maskedFill(zero, 0);
      return [expandBack(g, x, dims, keepdim).mul(away.add(zero.to(g.dtype).mul(atZero)))];
    },
  }),
  amax: reduceKind('amax', {
    dtypes: ALL_DTYPES,
    ref: (xs) => xs.reduce(nanMax),
    outDtype: same,
    saveOutput: true,
    grad: (g, c) => [extremumGrad(g, c.inputs[0], c.output!, c.attrs.dims as number[], c.attrs.keepdim as boolean)],
  }),
  amin: reduceKind('amin', {
    dtypes: ALL_DTYPES,
    ref: (xs) => xs.reduce(nanMin),
    outDtype: same,
    saveOutput: true,
    grad: (g, c) => [extremumGrad(g, c.inputs[0], c.output!, c.attrs.dims as number[], c.attrs.keepdim as boolean)],
  }),
  argmax: reduceKind('argmax', {
    dtypes: NUMERIC_DTYPES,
    ref: (xs) => xs.indexOf(xs.reduce(nanMax)),
    outDtype: () => 'int64' as never,
    grad: INTEGER_OUT,
  }),
  argmin: reduceKind('argmin', {
    dtypes: NUMERIC_DTYPES,
    ref: (xs) => xs.indexOf(xs.reduce(nanMin)),
    outDtype: () => 'int64' as never,
    grad: INTEGER_OUT,
  }),

  matmul: matmulRow,
  addmm: addmmRow,
  linear: linearRow,
  gather: gatherRow,
  scatter: scatterRow,
  scatter_add: scatterAddRow,
  uniform: uniformRow,
  normal: normalRow,
  attention: attentionRow,
  attention_backward: attentionBackwardRow,

  reshape: reshapeRow,
  permute: permuteRow,
  expand: expandRow,
  slice: sliceRow,
  slice_backward: sliceBackwardRow,
  cat: catRow,
  pad: padRow,

  gelu: geluRow,
  gelu_backward: geluBackwardRow,
  silu: siluRow,
  silu_backward: siluBackwardRow,
  dropout: dropoutRow,
  batch_norm_stats: batchNormStatsRow,
  batch_norm: batchNormRow,
  batch_norm_backward: batchNormBackwardRow,
  group_norm_backward: groupNormBackwardRow,
  bce_with_logits: bceWithLogitsRow,
  bce_with_logits_backward: bceWithLogitsBackwardRow,
  resample: resampleRow,
  resample_backward: resampleBackwardRow,
  embedding: embeddingRow,
  embedding_backward: embeddingBackwardRow,
  conv2d: conv2dRow,
  conv2d_backward_input: conv2dBackwardInputRow,
  conv2d_backward_weight: conv2dBackwardWeightRow,
  conv2d_backward: conv2dBackwardRow,
  max_pool2d: maxPool2dRow,
  max_pool2d_backward: maxPool2dBackwardRow,
  avg_pool2d: avgPool2dRow,
  avg_pool2d_backward: avgPool2dBackwardRow,
  adaptive_avg_pool2d: adaptiveAvgPool2dRow,
  adaptive_avg_pool2d_backward: adaptiveAvgPool2dBackwardRow,
  softmax: softmaxRow,
  softmax_backward: softmaxBackwardRow,
  layer_norm: layerNormRow,
  layer_norm_backward: layerNormBackwardRow,
  cross_entropy: crossEntropyRow,
  cross_entropy_backward: crossEntropyBackwardRow,
  logsumexp: logsumexpRow,
  sort: sortRow,
  cumsum: cumsumRow,
  var: varRow,
  clamp: clampRow,
  linalg_cholesky: choleskyRow,
  linalg_lu: luRow,
  linalg_solve_triangular: solveTriangularRow,
  linalg_lu_solve: luSolveRow,
  linalg_qr: qrRow,
  linalg_eigh: eighRow,
  linalg_svd: svdRow,
};

export type OpName = keyof typeof table;

/** Every row, in table order (native ids follow this order). */
export const ROWS: OpRow<(...args: never[]) => unknown>[] = Object.values(table) as never;
