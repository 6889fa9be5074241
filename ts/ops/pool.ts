/**
 * The pooling kernels (native/cpu/pool.cpp) as ops with autograd: max pooling with indices (its
 * gradient the max_pool2d_backward kernel: the scatter-add by the indices, summed per input element
 * in output order, so the bits are the same on every device and run), average and adaptive average
 * pooling with their backward kernels (each the other's gradient: both are linear). The output size
 * is given, so ceil mode is the caller's (nn/layers/conv.ts) business.
 */
import { record } from '../autograd/node';
import { runKernel } from '../dispatch';
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { checkTensor } from './kinds';
import { kernelInput, Pair, runConverted } from './conv';
import { OP } from './op_ids.gen';
import { isFloating } from '../dtype';

/** Kernel, stride, padding and dilation of a max pooling. */
export interface MaxPoolGeometry {
  kernel: Pair;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
}

/** Kernel, stride, padding, whether padding counts in the divisor, and a fixed divisor (> 0, or 0: none). */
export interface AvgPoolGeometry {
  kernel: Pair;
  stride: Pair;
  padding: Pair;
  countIncludePad: boolean;
  divisor: number;
}

/**
 * Pooled size along one axis (PyTorch's rule): with ceilMode the last window may hang over the
 * end, but must start inside the input or its left padding.
 */
export function poolOutSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = n + 2 * p - d * (k - 1) - 1;
  if (span < 0) return 0;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

const isInt = (v: number, min: number): boolean => Number.isInteger(v) && v >= min;

function checkInput(op: string, x: Tensor, name = 'input'): void {
  checkTensor(x, op, name);
  if (x.ndim !== 4) throw new KilnError('ERR_SHAPE', `${op}: ${name} must be [N, C, H, W], got ${shapeStr(x._shape)}`);
  if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `${op}: needs a floating ${name}, got ${x.dtype}`);
}

function checkPairs(op: string, pairs: [string, Pair, number][]): void {
  for (const [name, p, min] of pairs)
    if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => isInt(v, min)))
      throw new KilnError('ERR_ARG', `${op}: ${name} must be two integers >= ${min}, got ${JSON.stringify(p)}`);
}

const dtOf = (x: Tensor) => ({
  dtype: x.dtype,
  run: x.dtype === 'float64' ? ('float64' as const) : ('float32' as const),
});

/** Max pooling's geometry and the other side's size (named as in the errors), checked. */
function checkMaxPool(op: string, geo: MaxPoolGeometry, [name, size]: [string, Pair]): void {
  checkPairs(op, [
    ['kernel', geo.kernel, 1],
    ['stride', geo.stride, 1],
    ['padding', geo.padding, 0],
    ['dilation', geo.dilation, 1],
    [name, size, 1],
  ]);
}

/** Max over each window of x [N, C, H, W] into outSize, with the flat (h * W + w) index of each maximum. */
export function maxPool2dWithIndices(x: Tensor, geo: MaxPoolGeometry, outSize: Pair): [Tensor, Tensor] {
  const op = 'max_pool2d';
  checkInput(op, x);
  checkMaxPool(op, geo, ['outSize', outSize]);
  const [N, C, H, W] = x._shape;
  const dt = dtOf(x);
  const xi = kernelInput(x, dt.run);
  const vals = Tensor._empty([N, C, outSize[0], outSize[1]], dt.run, op);
  const idx = Tensor._empty([N, C, outSize[0], outSize[1]], 'int64', op);
  try {
    runKernel(OP.MAX_POOL2D, [vals, idx], [xi], [...geo.kernel, ...geo.stride, ...geo.padding, ...geo.dilation]);
  } finally {
    xi.dispose();
  }
  let out = vals;
  if (dt.run !== dt.dtype) {
    out = vals.to(dt.dtype);
    vals.dispose();
  }
  // The indices ride along as an input, so the node keeps its own handle on them.
  const y = record(op, out, [x, idx], (g, c) => [maxPool2dBackward(g, c.inputs[1], geo, [H, W]), null]);
  return [y, idx];
}

/**
 * The gradient of maxPool2dWithIndices for its input of size inputSize: each gy [N, C, OH, OW]
 * element added at the input position its index (from the forward, same geometry) picked, in
 * output order; an index that is not one of its window's taps inside the input (-1 for a window
 * with none) adds nothing.
 */
export function maxPool2dBackward(gy: Tensor, idx: Tensor, geo: MaxPoolGeometry, inputSize: Pair): Tensor {
  const op = 'max_pool2d_backward';
  checkInput(op, gy, 'grad_output');
  checkTensor(idx, op, 'indices');
  checkMaxPool(op, geo, ['inputSize', inputSize]);
  if (idx.dtype !== 'int64') throw new KilnError('ERR_DTYPE', `${op}: indices must be int64, got ${idx.dtype}`);
  if (idx._shape.join() !== gy._shape.join())
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: indices ${shapeStr(idx._shape)} must have grad_output's shape ${shapeStr(gy._shape)}`,
    );
  const [N, C, OH, OW] = gy._shape;
  const dt = dtOf(gy);
  const gi = kernelInput(gy, dt.run),
    ii = kernelInput(idx, 'int64');
  const gx = Tensor._empty([N, C, ...inputSize], dt.run, op);
  try {
    runKernel(OP.MAX_POOL2D_BACKWARD, [gx], [gi, ii], [...geo.kernel, ...geo.stride, ...geo.padding, ...geo.dilation]);
  } finally {
    gi.dispose();
    ii.dispose();
  }
  let out = gx;
  if (dt.run !== dt.dtype) {
    out = gx.to(dt.dtype);
    gx.dispose();
  }
  const P = OH * OW;
  // Linear in gy: its gradient picks gg at the indices (a window with no tap, index -1, gets 0).
  return record(op, out, [gy, idx], (gg, c) => {
    const ix = c.inputs[1],
      keep = ix.ge(0);
    const safe = ix.where(keep, 0).to('int64').reshape([N, C, P]);
    const picked = gg
      .reshape([N, C, inputSize[0] * inputSize[1]])
      .gather(2, safe)
      .reshape([N, C, OH, OW]);
    return [picked.mul(keep.to(gg.dtype)), null];
  });
}

const avgAttrs = (g: AvgPoolGeometry): number[] => [
  ...g.kernel,
  ...g.stride,
  ...g.padding,
  g.countIncludePad ? 1 : 0,
  g.divisor,
];

function checkAvg(op: string, geo: AvgPoolGeometry, size: Pair): void {
  checkPairs(op, [
    ['kernel', geo.kernel, 1],
    ['stride', geo.stride, 1],
    ['padding', geo.padding, 0],
    ['size', size, 1],
  ]);
  if (!(geo.divisor >= 0 && Number.isFinite(geo.divisor)))
    throw new KilnError('ERR_ARG', `${op}: divisor must be a finite number > 0 (or 0: none), got ${geo.divisor}`);
}

/** Mean over each window of x [N, C, H, W] into outSize (PyTorch's divisor rules). */
export function avgPool2dCore(x: Tensor, geo: AvgPoolGeometry, outSize: Pair): Tensor {
  const op = 'avg_pool2d';
  checkInput(op, x);
  checkAvg(op, geo, outSize);
  const [N, C, H, W] = x._shape;
  const out = runConverted(OP.AVG_POOL2D, op, [N, C, ...outSize], [x], avgAttrs(geo), dtOf(x));
  return record(op, out, [x], (g) => [avgPool2dBackward(g, geo, [H, W])]);
}

/** The gradient of avgPool2dCore with respect to its input of size inputSize, from gy. */
export function avgPool2dBackward(gy: Tensor, geo: AvgPoolGeometry, inputSize: Pair): Tensor {
  const op = 'avg_pool2d_backward';
  checkInput(op, gy, 'grad_output');
  checkAvg(op, geo, inputSize);
  const [N, C, OH, OW] = gy._shape;
  const out = runConverted(OP.AVG_POOL2D_BACKWARD, op, [N, C, ...inputSize], [gy], avgAttrs(geo), dtOf(gy));
  return record(op, out, [gy], (g) => [avgPool2dCore(g, geo, [OH, OW])]);
}

/** Mean over PyTorch's adaptive regions (rows floor(i H / OH) .. ceil((i + 1) H / OH)). */
export function adaptiveAvgPool2dCore(x: Tensor, outSize: Pair): Tensor {
  const op = 'adaptive_avg_pool2d';
  checkInput(op, x);
  checkPairs(op, [['outputSize', outSize, 1]]);
  const [N, C, H, W] = x._shape;
  const out = runConverted(OP.ADAPTIVE_AVG_POOL2D, op, [N, C, ...outSize], [x], [], dtOf(x));
  return record(op, out, [x], (g) => [adaptiveAvgPool2dBackward(g, [H, W])]);
}

/** The gradient of adaptiveAvgPool2dCore with respect to its input of size inputSize. */
export function adaptiveAvgPool2dBackward(gy: Tensor, inputSize: Pair): Tensor {
  const op = 'adaptive_avg_pool2d_backward';
  checkInput(op, gy, 'grad_output');
  checkPairs(op, [['inputSize', inputSize, 1]]);
  const [N, C, OH, OW] = gy._shape;
  const out = runConverted(OP.ADAPTIVE_AVG_POOL2D_BACKWARD, op, [N, C, ...inputSize], [gy], [], dtOf(gy));
  return record(op, out, [gy], (g) => [adaptiveAvgPool2dCore(g, [OH, OW])]);
}
