/**
 * Convolution and pooling: conv1d, conv2d (stride, padding incl. 'same', dilation, groups, bias),
 * convTranspose1d/2d, maxPool2d, avgPool2d, adaptiveAvgPool2d and their modules: PyTorch's argument
 * rules here, the work in the native kernels (ops/conv.ts, ops/pool.ts). conv1d and
 * convTranspose1d are their 2-d forms on a height-1 image; convTranspose2d is conv2d's input gradient.
 */
import { zeros } from '../../creation';
import { KilnError } from '../../errors';
import { conv2dBackwardInput, conv2dCore, convOutSize } from '../../ops/conv';
import {
  adaptiveAvgPool2dCore,
  avgPool2dCore,
  maxPool2dWithIndices as maxPoolKernel,
  poolOutSize,
} from '../../ops/pool';
import { scope } from '../../memory';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { fans, kaimingUniform_, uniform_ } from '../init';
import { Module, Parameter } from '../module';

type Pair = number | [number, number];
const pair = (op: string, name: string, v: Pair, min: number): [number, number] => {
  const p: [number, number] = Array.isArray(v) ? [v[0], v[1]] : [v, v];
  if (!p.every((x) => Number.isInteger(x) && x >= min))
    throw new KilnError('ERR_ARG', `${op}: ${name} must be integers >= ${min}, got ${JSON.stringify(v)}`);
  return p;
};

export interface Conv2dOptions {
  stride?: Pair;
  /** Zero padding per side, or 'same' (stride 1) / 'valid'. */
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  groups?: number;
}

/** 2-d convolution of [N, C, H, W] by [K, C / groups, KH, KW] (torch.nn.functional.conv2d). */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  if (x.ndim !== 4 || weight.ndim !== 4)
    throw new KilnError(
      'ERR_SHAPE',
      `conv2d: input [N, C, H, W] and weight [K, C/groups, KH, KW] expected, got ${shapeStr(x.shape)} and ${shapeStr(weight.shape)}`,
    );
  const [, C, H, W] = x.shape;
  const [K, Cg, KH, KW] = weight.shape;
  const g = o.groups ?? 1;
  if (!Number.isInteger(g) || g < 1 || C !== Cg * g || K % g !== 0)
    throw new KilnError(
      'ERR_SHAPE',
      `conv2d: ${C} input channels, weight ${shapeStr(weight.shape)} and groups ${g} do not fit`,
    );
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== K))
    throw new KilnError('ERR_SHAPE', `conv2d: bias must be [${K}], got ${shapeStr(bias.shape)}`);
  const s = pair('conv2d', 'stride', o.stride ?? 1, 1),
    d = pair('conv2d', 'dilation', o.dilation ?? 1, 1);
  let pads: [number, number, number, number]; // left, right, top, bottom
  if (o.padding === 'same') {
    if (s[0] !== 1 || s[1] !== 1) throw new KilnError('ERR_ARG', "conv2d: padding 'same' needs stride 1");
    const th = d[0] * (KH - 1),
      tw = d[1] * (KW - 1);
    pads = [Math.floor(tw / 2), tw - Math.floor(tw / 2), Math.floor(th / 2), th - Math.floor(th / 2)];
  } else {
    const p = pair('conv2d', 'padding', o.padding === 'valid' ? 0 : (o.padding ?? 0), 0);
    pads = [p[1], p[1], p[0], p[0]];
  }
  const OH = convOutSize(H, KH, s[0], d[0], pads[2], pads[3]),
    OW = convOutSize(W, KW, s[1], d[1], pads[0], pads[1]);
  if (OH < 1 || OW < 1)
    throw new KilnError('ERR_SHAPE', `conv2d: the kernel does not fit the padded input ${shapeStr(x.shape)}`);
  return conv2dCore(x, weight, bias, { stride: s, padding: [pads[2], pads[0]], dilation: d, groups: g }, [OH, OW]);
}

/** 1-d convolution of [N, C, L] by [K, C / groups, KL] (conv2d on a height-1 image). */
export function conv1d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  o: { stride?: number; padding?: number | 'same' | 'valid'; dilation?: number; groups?: number } = {},
): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    if (x.ndim !== 3 || weight.ndim !== 3)
      throw new KilnError(
        'ERR_SHAPE',
        `conv1d: input [N, C, L] and weight [K, C/groups, KL] expected, got ${shapeStr(x.shape)} and ${shapeStr(weight.shape)}`,
      );
    const padding = typeof o.padding === 'number' ? ([0, o.padding] as [number, number]) : o.padding;
    return conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, {
      stride: [1, o.stride ?? 1],
      padding,
      dilation: [1, o.dilation ?? 1],
      groups: o.groups,
    }).squeeze(2);
  });
}

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/** Transposed 2-d convolution, weight [Cin, Cout / groups, KH, KW] (conv_transpose2d). */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  o: ConvTranspose2dOptions = {},
): Tensor {
  return convTranspose('convTranspose2d', x, weight, bias, o);
}

/** convTranspose2d's body; `name` is the op its errors name (convTranspose1d runs through it too). */
function convTranspose(
  name: string,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  o: ConvTranspose2dOptions = {},
): Tensor {
  if (x.ndim !== 4 || weight.ndim !== 4)
    throw new KilnError(
      'ERR_SHAPE',
      `${name}: 4-d input and weight expected, got ${shapeStr(x.shape)} and ${shapeStr(weight.shape)}`,
    );
  const [, Cin] = x.shape;
  const [Cw, Coutg, KH, KW] = weight.shape;
  const g = o.groups ?? 1;
  if (Cw !== Cin || Cin % g !== 0)
    throw new KilnError(
      'ERR_SHAPE',
      `${name}: input has ${Cin} channels, weight ${shapeStr(weight.shape)}, groups ${g}`,
    );
  const s = pair(name, 'stride', o.stride ?? 1, 1),
    p = pair(name, 'padding', o.padding ?? 0, 0),
    op = pair(name, 'outputPadding', o.outputPadding ?? 0, 0),
    d = pair(name, 'dilation', o.dilation ?? 1, 1);
  if (op[0] >= Math.max(s[0], d[0]) || op[1] >= Math.max(s[1], d[1]))
    throw new KilnError('ERR_ARG', `${name}: outputPadding must be smaller than stride or dilation`);
  const [, , IH, IW] = x.shape;
  const OH = (IH - 1) * s[0] - 2 * p[0] + d[0] * (KH - 1) + op[0] + 1,
    OW = (IW - 1) * s[1] - 2 * p[1] + d[1] * (KW - 1) + op[1] + 1;
  if (OH < 1 || OW < 1)
    throw new KilnError('ERR_SHAPE', `${name}: the output would be empty (${OH}x${OW}) for input ${shapeStr(x.shape)}`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== Coutg * g))
    throw new KilnError('ERR_SHAPE', `${name}: bias must be [${Coutg * g}], got ${shapeStr(bias.shape)}`);
  const y = conv2dBackwardInput(x, weight, { stride: s, padding: p, dilation: d, groups: g }, [OH, OW]);
  return bias ? y.add(bias.reshape([1, Coutg * g, 1, 1])) : y;
}

export interface ConvTranspose1dOptions {
  stride?: number;
  padding?: number;
  outputPadding?: number;
  dilation?: number;
  groups?: number;
}

/** Transposed 1-d convolution of [N, Cin, L] or [Cin, L], weight [Cin, Cout / groups, KL] (conv_transpose1d). */
export function convTranspose1d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  o: ConvTranspose1dOptions = {},
): Tensor {
  if ((x.ndim !== 2 && x.ndim !== 3) || weight.ndim !== 3)
    throw new KilnError(
      'ERR_SHAPE',
      `convTranspose1d: input [N, Cin, L] or [Cin, L] and weight [Cin, Cout/groups, KL] expected, got ${shapeStr(x.shape)} and ${shapeStr(weight.shape)}`,
    );
  return scope(() => {
    const x3 = x.ndim === 2 ? x.unsqueeze(0) : x;
    const y = convTranspose('convTranspose1d', x3.unsqueeze(2), weight.unsqueeze(2), bias, {
      stride: [1, o.stride ?? 1],
      padding: [0, o.padding ?? 0],
      outputPadding: [0, o.outputPadding ?? 0],
      dilation: [1, o.dilation ?? 1],
      groups: o.groups,
    }).squeeze(2);
    return x.ndim === 2 ? y.squeeze(0) : y;
  });
}

export interface PoolOptions {
  stride?: Pair | null;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

/** Kernel, stride, padding, dilation and output size of a pooling, with PyTorch's checks. */
function poolGeometry(op: string, x: Tensor, kernel: Pair, o: PoolOptions) {
  if (x.ndim !== 4) throw new KilnError('ERR_SHAPE', `${op}: input [N, C, H, W] expected, got ${shapeStr(x.shape)}`);
  const k = pair(op, 'kernel', kernel, 1),
    s = pair(op, 'stride', o.stride ?? kernel, 1),
    p = pair(op, 'padding', o.padding ?? 0, 0),
    d = pair(op, 'dilation', o.dilation ?? 1, 1);
  if (p[0] * 2 > k[0] || p[1] * 2 > k[1])
    throw new KilnError('ERR_ARG', `${op}: padding must be at most half the kernel`);
  const [, , H, W] = x.shape;
  const out: [number, number] = [
    poolOutSize(H, k[0], s[0], p[0], d[0], o.ceilMode ?? false),
    poolOutSize(W, k[1], s[1], p[1], d[1], o.ceilMode ?? false),
  ];
  if (out[0] < 1 || out[1] < 1)
    throw new KilnError('ERR_SHAPE', `${op}: the window does not fit the padded input ${shapeStr(x.shape)}`);
  return { k, s, p, d, out };
}

/** Max over each window (torch max_pool2d); padding counts as -inf. */
export function maxPool2d(x: Tensor, kernel: Pair, o: PoolOptions = {}): Tensor {
  const [y, idx] = maxPool2dWithIndices(x, kernel, o);
  idx.dispose();
  return y;
}

/** Max over each window and the flat (h * W + w) index of each maximum (torch max_pool2d with return_indices). */
export function maxPool2dWithIndices(x: Tensor, kernel: Pair, o: PoolOptions = {}): [Tensor, Tensor] {
  const { k, s, p, d, out } = poolGeometry('maxPool2d', x, kernel, o);
  return maxPoolKernel(x, { kernel: k, stride: s, padding: p, dilation: d }, out);
}

/** Mean over each window (torch avg_pool2d), padding included in the count unless countIncludePad is false. */
export function avgPool2d(
  x: Tensor,
  kernel: Pair,
  o: PoolOptions & { countIncludePad?: boolean; divisorOverride?: number } = {},
): Tensor {
  const { k, s, p, out } = poolGeometry('avgPool2d', x, kernel, { ...o, dilation: 1 });
  const divisor = o.divisorOverride ?? 0;
  if (o.divisorOverride !== undefined && !(divisor > 0))
    throw new KilnError('ERR_ARG', `avgPool2d: divisorOverride must be > 0, got ${o.divisorOverride}`);
  return avgPool2dCore(
    x,
    { kernel: k, stride: s, padding: p, countIncludePad: o.countIncludePad ?? true, divisor },
    out,
  );
}

/** Mean over adaptive regions so the output is outputSize (torch adaptive_avg_pool2d). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  if (x.ndim !== 4)
    throw new KilnError('ERR_SHAPE', `adaptiveAvgPool2d: input [N, C, H, W] expected, got ${shapeStr(x.shape)}`);
  return adaptiveAvgPool2dCore(x, pair('adaptiveAvgPool2d', 'outputSize', outputSize, 1));
}

// ---- Modules ----

/**
 * A convolution module's parameters with PyTorch's initialisation: weight of `shape` (its dim 0
 * or 1 holds the per-group channels), kaiming-uniform (a = sqrt 5); bias uniform in ±1/sqrt(fan_in).
 */
function convParams(
  op: string,
  inChannels: number,
  outChannels: number,
  groups: number,
  shape: (g: number) => number[],
  bias: boolean,
): { weight: Tensor; bias: Tensor | null } {
  if (inChannels % groups !== 0 || outChannels % groups !== 0)
    throw new KilnError(
      'ERR_ARG',
      `${op}: channels ${inChannels} -> ${outChannels} do not split into ${groups} groups`,
    );
  const w = kaimingUniform_(zeros(shape(groups)), { a: Math.sqrt(5) });
  let b: Tensor | null = null;
  if (bias) {
    const { fanIn } = fans(w);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    b = new Parameter(uniform_(zeros([outChannels]), -bound, bound));
  }
  return { weight: new Parameter(w), bias: b };
}

export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly kernelSize: [number, number];
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    readonly opts: Conv2dOptions & { bias?: boolean } = {},
  ) {
    super();
    const k = (this.kernelSize = pair('Conv2d', 'kernelSize', kernelSize, 1));
    const p = convParams(
      'Conv2d',
      inChannels,
      outChannels,
      opts.groups ?? 1,
      (g) => [outChannels, inChannels / g, ...k],
      opts.bias !== false,
    );
    this.weight = p.weight;
    this.bias = p.bias;
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.opts);
  }
  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${this.kernelSize}`;
  }
}

export class Conv1d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly opts: {
      stride?: number;
      padding?: number | 'same' | 'valid';
      dilation?: number;
      groups?: number;
      bias?: boolean;
    } = {},
  ) {
    super();
    const p = convParams(
      'Conv1d',
      inChannels,
      outChannels,
      opts.groups ?? 1,
      (g) => [outChannels, inChannels / g, kernelSize],
      opts.bias !== false,
    );
    this.weight = p.weight;
    this.bias = p.bias;
  }
  forward(x: Tensor): Tensor {
    return conv1d(x, this.weight, this.bias, this.opts);
  }
}

export class ConvTranspose2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly kernelSize: [number, number];
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    readonly opts: ConvTranspose2dOptions & { bias?: boolean } = {},
  ) {
    super();
    const k = (this.kernelSize = pair('ConvTranspose2d', 'kernelSize', kernelSize, 1));
    const p = convParams(
      'ConvTranspose2d',
      inChannels,
      outChannels,
      opts.groups ?? 1,
      (g) => [inChannels, outChannels / g, ...k],
      opts.bias !== false,
    );
    this.weight = p.weight;
    this.bias = p.bias;
  }
  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.opts);
  }
}

/** Transposed 1-d convolution with torch's weight [in, out / groups, k] and bias [out] (nn.ConvTranspose1d). */
export class ConvTranspose1d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly opts: ConvTranspose1dOptions & { bias?: boolean } = {},
  ) {
    super();
    pair('ConvTranspose1d', 'kernelSize', kernelSize, 1);
    const p = convParams(
      'ConvTranspose1d',
      inChannels,
      outChannels,
      opts.groups ?? 1,
      (g) => [inChannels, outChannels / g, kernelSize],
      opts.bias !== false,
    );
    this.weight = p.weight;
    this.bias = p.bias;
  }
  forward(x: Tensor): Tensor {
    return convTranspose1d(x, this.weight, this.bias, this.opts);
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly opts: PoolOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.opts);
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly opts: PoolOptions & { countIncludePad?: boolean; divisorOverride?: number } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.opts);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}
