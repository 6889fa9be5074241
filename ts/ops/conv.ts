/**
 * The convolution kernels (native/cpu/conv.cpp) as ops with autograd: conv2d forward, its
 * gradient with respect to the input (also convTranspose2d's forward) and to the weight. The three
 * are each other's gradients, so every order of derivative is written with them. NCHW; padding is
 * given as (top, left) and the output (or input) size fixes the bottom and right padding, so
 * 'same' padding with an even kernel needs nothing special. float16 and bfloat16 run in float32.
 * conv2d's backward takes all its gradients from one kernel (conv2d_backward: one pass over the
 * output's gradient for float32 stride-1 depthwise; for 1x1, grad bias summed by grad weight's
 * kernel) when no graph of the gradient is recorded;
 * under createGraph it uses the three differentiable ops instead.
 */
import { record } from '../autograd/node';
import { gradMode, noGrad } from '../autograd/grad_mode';
import { runKernel } from '../dispatch';
import { DType, isFloating, promoteTypes } from '../dtype';
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { checkTensor } from './kinds';
import { OP } from './op_ids.gen';

export type Pair = [number, number];

/** Stride, padding before (top, left), dilation and groups of a 2-d convolution. */
export interface ConvGeometry {
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  groups: number;
}

/** Output size along one axis with `before` and `after` padding (0 or less: the kernel does not fit). */
export const convOutSize = (n: number, k: number, s: number, d: number, before: number, after: number): number => {
  const span = n + before + after - d * (k - 1) - 1;
  return span < 0 ? 0 : Math.floor(span / s) + 1;
};

const isInt = (v: number, min: number): boolean => Number.isInteger(v) && v >= min;

function checkGeometry(op: string, g: ConvGeometry): void {
  const ok =
    g.stride.every((v) => isInt(v, 1)) &&
    g.padding.every((v) => isInt(v, 0)) &&
    g.dilation.every((v) => isInt(v, 1)) &&
    isInt(g.groups, 1);
  if (!ok)
    throw new KilnError(
      'ERR_ARG',
      `${op}: stride and dilation must be integers >= 1, padding >= 0, groups >= 1; got ${JSON.stringify(g)}`,
    );
}

function checkSize(op: string, name: string, s: Pair): void {
  if (!s.every((v) => isInt(v, 1)))
    throw new KilnError('ERR_ARG', `${op}: ${name} must be two integers >= 1, got ${JSON.stringify(s)}`);
}

function need4d(op: string, name: string, t: Tensor): void {
  checkTensor(t, op, name);
  if (t.ndim !== 4) throw new KilnError('ERR_SHAPE', `${op}: ${name} must be 4-d (NCHW), got ${shapeStr(t._shape)}`);
}

/** The dtype the kernels run in for these operands (float16/bfloat16 run in float32). */
function computeDtype(op: string, ...ts: Tensor[]): { dtype: DType; run: DType } {
  const dtype = ts.reduce((d, t) => promoteTypes(d, t.dtype), ts[0].dtype);
  if (!isFloating(dtype)) throw new KilnError('ERR_DTYPE', `${op}: needs floating operands, got ${dtype}`);
  return { dtype, run: dtype === 'float64' ? 'float64' : 'float32' };
}

/** x as a kernel reads it: contiguous, in dtype; always a new handle for the caller to dispose. */
export function kernelInput(x: Tensor, dtype: DType): Tensor {
  return noGrad(() => {
    const c = x.dtype === dtype ? x : x.to(dtype);
    if (c === x || c.isContiguous()) return c === x ? x.contiguous() : c;
    const r = c.contiguous();
    c.dispose();
    return r;
  });
}

/** Runs a kernel on converted inputs into a new output of `shape`, converted back to `dtype`. */
export function runConverted(
  op: number,
  name: string,
  shape: number[],
  ins: Tensor[],
  attrs: number[],
  dt: { dtype: DType; run: DType },
): Tensor {
  const ks = ins.map((t) => kernelInput(t, dt.run));
  const out = Tensor._empty(shape, dt.run, name);
  try {
    runKernel(op, [out], ks, attrs);
  } finally {
    for (const t of ks) t.dispose();
  }
  if (dt.run === dt.dtype) return out;
  const r = noGrad(() => out.to(dt.dtype));
  out.dispose();
  return r;
}

function channels(op: string, C: number, w: Tensor, groups: number): void {
  const [K, Cg] = w._shape;
  if (C !== Cg * groups || K % groups !== 0)
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: ${C} input channels, weight ${shapeStr(w._shape)} and groups ${groups} do not fit (need C = weight.shape[1] * groups and K divisible by groups)`,
    );
}

const attrsOf = (g: ConvGeometry): number[] => [
  g.stride[0],
  g.stride[1],
  g.padding[0],
  g.padding[1],
  g.dilation[0],
  g.dilation[1],
  g.groups,
];

/**
 * conv2d of x [N, C, H, W] by weight [K, C / groups, R, S] (+ bias [K]) into [N, K, OH, OW].
 * outSize defaults to the symmetric padding's; a larger or smaller one pads or crops at the
 * bottom/right.
 */
export function conv2dCore(x: Tensor, w: Tensor, bias: Tensor | null, geo: ConvGeometry, outSize?: Pair): Tensor {
  const op = 'conv2d';
  need4d(op, 'input', x);
  need4d(op, 'weight', w);
  checkGeometry(op, geo);
  const [N, C, H, W] = x._shape;
  const [K, , R, S] = w._shape;
  channels(op, C, w, geo.groups);
  if (bias) {
    checkTensor(bias, op, 'bias');
    if (bias.ndim !== 1 || bias._shape[0] !== K)
      throw new KilnError('ERR_SHAPE', `${op}: bias must be [${K}], got ${shapeStr(bias._shape)}`);
  }
  const dt = computeDtype(op, ...(bias ? [x, w, bias] : [x, w]));
  const [OH, OW] = outSize ?? [
    convOutSize(H, R, geo.stride[0], geo.dilation[0], geo.padding[0], geo.padding[0]),
    convOutSize(W, S, geo.stride[1], geo.dilation[1], geo.padding[1], geo.padding[1]),
  ];
  if (OH < 1 || OW < 1 || !Number.isInteger(OH) || !Number.isInteger(OW))
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: the kernel ${R}x${S} (dilation ${geo.dilation}) does not fit the padded input ${shapeStr(x._shape)}`,
    );
  const ins = bias ? [x, w, bias] : [x, w, w];
  const out = runConverted(OP.CONV2D, op, [N, K, OH, OW], ins, [...attrsOf(geo), bias ? 1 : 0], dt);
  return record('conv2d', out, bias ? [x, w, bias] : [x, w], (g, c) => {
    const [xi, wi, bi] = c.inputs;
    const want = [xi._requiresGrad, wi._requiresGrad, !!bi];
    if (fusedBackward(xi, wi, g, geo, want)) return conv2dBackward(g, xi, wi, geo, want);
    return [
      xi._requiresGrad ? conv2dBackwardInput(g, wi, geo, [H, W]) : null,
      wi._requiresGrad ? conv2dBackwardWeight(xi, g, geo, [R, S]) : null,
      bi ? g.sum([0, 2, 3]) : null,
    ];
  });
}

/**
 * Whether conv2d's backward takes the fused kernel: not recorded (so nothing differentiates it),
 * float32 on the CPU, two or three of the gradients wanted, and either depthwise (one input and
 * one output channel per group) at stride 1, or 1x1 unpadded (any stride) with more than one
 * input channel per group and grad weight and grad bias both wanted (grad bias summed by the weight
 * gradient's kernel). Elsewhere the separate ops run, as fast or faster.
 */
function fusedBackward(x: Tensor, w: Tensor, gy: Tensor, geo: ConvGeometry, want: boolean[]): boolean {
  if (gradMode.enabled || want.filter(Boolean).length < 2) return false;
  if (![x, w, gy].every((t) => t.dtype === 'float32' && t.device === 'cpu')) return false;
  const s1 = geo.stride[0] === 1 && geo.stride[1] === 1;
  if (s1 && geo.groups === x._shape[1] && w._shape[0] === geo.groups) return true;
  return (
    want[1] &&
    want[2] &&
    w._shape[1] > 1 &&
    w._shape[2] === 1 &&
    w._shape[3] === 1 &&
    geo.padding[0] === 0 &&
    geo.padding[1] === 0
  );
}

/**
 * conv2d's gradients [grad input, grad weight, grad bias] from the output's gradient gy, the
 * input x and the weight w in one kernel call; a gradient not in `want` is null. Stride-1
 * depthwise float32 runs as one pass over gy (grad input and weight bit for bit those of
 * conv2dBackwardInput / conv2dBackwardWeight; grad bias per channel in vector lanes, then in
 * float64); 1x1 unpadded float32 (more than one input channel per group) sums grad bias
 * in grad weight's kernel as it packs gy (per image plane in float32, pairwise, added in float64 in
 * image order per image block, then the blocks in order), grad input and weight bit for bit the
 * separate ops'; the rest as the separate kernels (grad bias summed in float64). Not
 * differentiable: a backward under createGraph uses the separate ops.
 */
export function conv2dBackward(
  gy: Tensor,
  x: Tensor,
  w: Tensor,
  geo: ConvGeometry,
  want: boolean[] = [true, true, true],
): (Tensor | null)[] {
  const op = 'conv2d_backward';
  need4d(op, 'grad_output', gy);
  need4d(op, 'input', x);
  need4d(op, 'weight', w);
  checkGeometry(op, geo);
  const [N, C] = x._shape;
  const [K, Cg, R, S] = w._shape;
  channels(op, C, w, geo.groups);
  if (gy._shape[0] !== N || gy._shape[1] !== K)
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: grad_output ${shapeStr(gy._shape)} does not fit input ${shapeStr(x._shape)} and weight ${shapeStr(w._shape)}`,
    );
  const dt = computeDtype(op, gy, x, w);
  const ks = [gy, x, w].map((t) => kernelInput(t, dt.run));
  const shapes = [x._shape.slice(), [K, Cg, R, S], [K]];
  const outs = shapes.map((s, i) => Tensor._empty(want[i] ? s : [0], dt.run, op));
  try {
    runKernel(OP.CONV2D_BACKWARD, outs, ks, attrsOf(geo));
  } finally {
    for (const t of ks) t.dispose();
  }
  return outs.map((t, i) => {
    if (!want[i]) {
      t.dispose();
      return null;
    }
    if (dt.run === dt.dtype) return t;
    const r = noGrad(() => t.to(dt.dtype));
    t.dispose();
    return r;
  });
}

/**
 * The gradient of conv2d with respect to its input [N, C, H, W] (inputSize = [H, W]) from the
 * output's gradient gy [N, K, OH, OW]: the transposed convolution, convTranspose2d's forward.
 */
export function conv2dBackwardInput(gy: Tensor, w: Tensor, geo: ConvGeometry, inputSize: Pair): Tensor {
  const op = 'conv2d_backward_input';
  need4d(op, 'grad_output', gy);
  need4d(op, 'weight', w);
  checkGeometry(op, geo);
  checkSize(op, 'inputSize', inputSize);
  const [N, K, OH, OW] = gy._shape;
  const [Kw, Cg, R, S] = w._shape;
  if (K !== Kw || K % geo.groups !== 0)
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: grad_output ${shapeStr(gy._shape)} and weight ${shapeStr(w._shape)} with groups ${geo.groups} do not fit`,
    );
  const dt = computeDtype(op, gy, w);
  const out = runConverted(
    OP.CONV2D_BACKWARD_INPUT,
    op,
    [N, Cg * geo.groups, inputSize[0], inputSize[1]],
    [gy, w],
    attrsOf(geo),
    dt,
  );
  return record(op, out, [gy, w], (g, c) => {
    const [gi, wi] = c.inputs;
    return [
      gi._requiresGrad ? conv2dCore(g, wi, null, geo, [OH, OW]) : null,
      wi._requiresGrad ? conv2dBackwardWeight(g, gi, geo, [R, S]) : null,
    ];
  });
}

/**
 * The gradient of conv2d with respect to its weight [K, C / groups, R, S] (kernelSize = [R, S])
 * from the input x and the output's gradient gy, summed over the batch.
 */
export function conv2dBackwardWeight(x: Tensor, gy: Tensor, geo: ConvGeometry, kernelSize: Pair): Tensor {
  const op = 'conv2d_backward_weight';
  need4d(op, 'input', x);
  need4d(op, 'grad_output', gy);
  checkGeometry(op, geo);
  checkSize(op, 'kernelSize', kernelSize);
  const [N, C, H, W] = x._shape;
  const K = gy._shape[1];
  if (gy._shape[0] !== N || C % geo.groups !== 0 || K % geo.groups !== 0)
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: input ${shapeStr(x._shape)} and grad_output ${shapeStr(gy._shape)} with groups ${geo.groups} do not fit`,
    );
  const dt = computeDtype(op, x, gy);
  const out = runConverted(
    OP.CONV2D_BACKWARD_WEIGHT,
    op,
    [K, C / geo.groups, kernelSize[0], kernelSize[1]],
    [x, gy],
    attrsOf(geo),
    dt,
  );
  const [OH, OW] = [gy._shape[2], gy._shape[3]];
  return record(op, out, [x, gy], (g, c) => {
    const [xi, gi] = c.inputs;
    return [
      xi._requiresGrad ? conv2dBackwardInput(gi, g, geo, [H, W]) : null,
      gi._requiresGrad ? conv2dCore(xi, g, null, geo, [OH, OW]) : null,
    ];
  });
}
