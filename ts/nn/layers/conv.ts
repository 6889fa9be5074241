/**
 * Convolution and pooling: conv1d, conv2d (stride, padding incl. 'same', dilation, groups, bias),
 * convTranspose2d, maxPool2d, avgPool2d, adaptiveAvgPool2d and their modules. For now each is
 * composed of strided views, one copy into columns and one GEMM (im2col), so every gradient
 * comes from the ops; the direct/implicit-GEMM kernels come with the nn kernels (issue 4).
 */
import { arange, zeros } from '../../creation';
import { KilnError } from '../../errors';
import { cat, pad } from '../../ops/indexing';
import { stack } from '../../ops/composite';
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

/** The [N, C, KH * KW, OH, OW] windows of a padded input (one strided view per kernel tap, stacked). */
function windows(
  x: Tensor,
  k: [number, number],
  s: [number, number],
  d: [number, number],
  out: [number, number],
): Tensor {
  const views: Tensor[] = [];
  for (let i = 0; i < k[0]; i++)
    for (let j = 0; j < k[1]; j++)
      views.push(
        x
          .slice(2, i * d[0], i * d[0] + s[0] * (out[0] - 1) + 1, s[0])
          .slice(3, j * d[1], j * d[1] + s[1] * (out[1] - 1) + 1, s[1]),
      );
  return stack(views, 2);
}

const outSize = (n: number, k: number, s: number, d: number, ceil = false): number => {
  const span = n - d * (k - 1) - 1;
  return span < 0 ? 0 : (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
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
  const [N, C, H, W] = x.shape;
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
  const OH = outSize(H + pads[2] + pads[3], KH, s[0], d[0]),
    OW = outSize(W + pads[0] + pads[1], KW, s[1], d[1]);
  if (OH < 1 || OW < 1)
    throw new KilnError('ERR_SHAPE', `conv2d: the kernel does not fit the padded input ${shapeStr(x.shape)}`);
  const xp = pads.some((v) => v) ? pad(x, pads) : x;
  const cols = windows(xp, [KH, KW], s, d, [OH, OW]).reshape([N, g, Cg * KH * KW, OH * OW]);
  let y = weight
    .reshape([g, K / g, Cg * KH * KW])
    .matmul(cols)
    .reshape([N, K, OH, OW]);
  if (bias) y = y.add(bias.reshape([1, K, 1, 1]));
  return y;
}

/** 1-d convolution of [N, C, L] by [K, C / groups, KL] (conv2d on a height-1 image). */
export function conv1d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  o: { stride?: number; padding?: number | 'same' | 'valid'; dilation?: number; groups?: number } = {},
): Tensor {
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
}

/** x with (s - 1) zeros between neighbours along `dim` (differentiable: cat and reshape). */
function spread(x: Tensor, dim: number, s: number): Tensor {
  if (s === 1) return x;
  const n = x.shape[dim];
  const z = zeros([...x.shape.slice(0, dim + 1), s - 1, ...x.shape.slice(dim + 1)], { dtype: x.dtype });
  const both = cat([x.unsqueeze(dim + 1), z], dim + 1); // [..., n, s, ...]
  const shape = x.shape.slice();
  shape[dim] = n * s;
  return both.reshape(shape).narrow(dim, 0, (n - 1) * s + 1);
}

/** Reverses `dim`. */
const flip = (t: Tensor, dim: number): Tensor => t.indexSelect(dim, arange(t.shape[dim] - 1, -1, -1));

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
  if (x.ndim !== 4 || weight.ndim !== 4)
    throw new KilnError(
      'ERR_SHAPE',
      `convTranspose2d: 4-d input and weight expected, got ${shapeStr(x.shape)} and ${shapeStr(weight.shape)}`,
    );
  const [, Cin] = x.shape;
  const [Cw, Coutg, KH, KW] = weight.shape;
  const g = o.groups ?? 1;
  if (Cw !== Cin || Cin % g !== 0)
    throw new KilnError(
      'ERR_SHAPE',
      `convTranspose2d: input has ${Cin} channels, weight ${shapeStr(weight.shape)}, groups ${g}`,
    );
  const s = pair('convTranspose2d', 'stride', o.stride ?? 1, 1),
    p = pair('convTranspose2d', 'padding', o.padding ?? 0, 0),
    op = pair('convTranspose2d', 'outputPadding', o.outputPadding ?? 0, 0),
    d = pair('convTranspose2d', 'dilation', o.dilation ?? 1, 1);
  if (op[0] >= Math.max(s[0], d[0]) || op[1] >= Math.max(s[1], d[1]))
    throw new KilnError('ERR_ARG', 'convTranspose2d: outputPadding must be smaller than stride or dilation');
  // Zero-spread by the stride, pad by dilation * (k - 1) - padding (+ outputPadding at the end),
  // then a stride-1 convolution with the kernel flipped and its channel roles swapped.
  let xs = spread(spread(x, 2, s[0]), 3, s[1]);
  const ph = d[0] * (KH - 1) - p[0],
    pw = d[1] * (KW - 1) - p[1];
  const crop = (t: Tensor, dim: number, lo: number, hi: number): Tensor => t.narrow(dim, lo, t.shape[dim] - lo - hi);
  const padOrCrop = (t: Tensor, dim: number, lo: number, hi: number): Tensor => {
    const pads = [0, 0, 0, 0];
    const at = dim === 3 ? 0 : 2;
    pads[at] = Math.max(lo, 0);
    pads[at + 1] = Math.max(hi, 0);
    let r = pads.some((v) => v) ? pad(t, pads) : t;
    if (lo < 0 || hi < 0) r = crop(r, dim, Math.max(-lo, 0), Math.max(-hi, 0));
    return r;
  };
  xs = padOrCrop(xs, 2, ph, ph + op[0]);
  xs = padOrCrop(xs, 3, pw, pw + op[1]);
  const wt = flip(flip(weight, 2), 3)
    .reshape([g, Cin / g, Coutg, KH, KW])
    .transpose(1, 2)
    .reshape([g * Coutg, Cin / g, KH, KW]);
  return conv2d(xs, wt, bias, { dilation: d, groups: g });
}

export interface PoolOptions {
  stride?: Pair | null;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

function poolWindows(op: string, x: Tensor, kernel: Pair, o: PoolOptions, fill: number) {
  if (x.ndim !== 4) throw new KilnError('ERR_SHAPE', `${op}: input [N, C, H, W] expected, got ${shapeStr(x.shape)}`);
  const k = pair(op, 'kernel', kernel, 1),
    s = pair(op, 'stride', o.stride ?? kernel, 1),
    p = pair(op, 'padding', o.padding ?? 0, 0),
    d = pair(op, 'dilation', o.dilation ?? 1, 1);
  if (p[0] * 2 > k[0] || p[1] * 2 > k[1])
    throw new KilnError('ERR_ARG', `${op}: padding must be at most half the kernel`);
  const [, , H, W] = x.shape;
  let OH = outSize(H + 2 * p[0], k[0], s[0], d[0], o.ceilMode),
    OW = outSize(W + 2 * p[1], k[1], s[1], d[1], o.ceilMode);
  // With ceilMode the last window must start inside the input or its left padding (PyTorch's rule).
  if (o.ceilMode) {
    if ((OH - 1) * s[0] >= H + p[0]) OH--;
    if ((OW - 1) * s[1] >= W + p[1]) OW--;
  }
  const needH = (OH - 1) * s[0] + d[0] * (k[0] - 1) + 1,
    needW = (OW - 1) * s[1] + d[1] * (k[1] - 1) + 1;
  const pads = [p[1], Math.max(0, needW - W - p[1]), p[0], Math.max(0, needH - H - p[0])];
  const xp = pads.some((v) => v) ? pad(x, pads, fill) : x;
  return { win: windows(xp, k, s, d, [OH, OW]), k, s, p, pads };
}

/** Max over each window (torch max_pool2d); padding counts as -inf. */
export function maxPool2d(x: Tensor, kernel: Pair, o: PoolOptions = {}): Tensor {
  return poolWindows('maxPool2d', x, kernel, o, -Infinity).win.amax(2);
}

/** Mean over each window (torch avg_pool2d), padding included in the count unless countIncludePad is false. */
export function avgPool2d(
  x: Tensor,
  kernel: Pair,
  o: PoolOptions & { countIncludePad?: boolean; divisorOverride?: number } = {},
): Tensor {
  const { win, k, s, p, pads } = poolWindows('avgPool2d', x, kernel, { ...o, dilation: 1 }, 0);
  const total = win.sum(2);
  if (o.divisorOverride) return total.div(o.divisorOverride);
  // The divisor counts the window's cells inside the input, plus the explicit padding when
  // countIncludePad (the default); cells past that (ceilMode overhang) never count (as PyTorch).
  const [, , H, W] = x.shape;
  const one = zeros([1, 1, H, W], { dtype: x.dtype }).add(1);
  let cover = pad(one, [p[1], p[1], p[0], p[0]], (o.countIncludePad ?? true) ? 1 : 0);
  const hp = H + pads[2] + pads[3],
    wp = W + pads[0] + pads[1];
  cover = pad(cover, [0, Math.max(0, wp - cover.shape[3]), 0, Math.max(0, hp - cover.shape[2])], 0);
  cover = cover.narrow(2, 0, hp).narrow(3, 0, wp);
  const count = windows(cover, k, s, [1, 1], [win.shape[3], win.shape[4]]).sum(2);
  return total.div(count);
}

/** Mean over adaptive regions so the output is outputSize (torch adaptive_avg_pool2d). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  if (x.ndim !== 4)
    throw new KilnError('ERR_SHAPE', `adaptiveAvgPool2d: input [N, C, H, W] expected, got ${shapeStr(x.shape)}`);
  const [OH, OW] = pair('adaptiveAvgPool2d', 'outputSize', outputSize, 1);
  const [, , H, W] = x.shape;
  if (OH === 1 && OW === 1) return x.mean([2, 3], true);
  const rows: Tensor[] = [];
  for (let i = 0; i < OH; i++) {
    const h0 = Math.floor((i * H) / OH),
      h1 = Math.ceil(((i + 1) * H) / OH);
    const cells: Tensor[] = [];
    for (let j = 0; j < OW; j++) {
      const w0 = Math.floor((j * W) / OW),
        w1 = Math.ceil(((j + 1) * W) / OW);
      cells.push(
        x
          .narrow(2, h0, h1 - h0)
          .narrow(3, w0, w1 - w0)
          .mean([2, 3], true),
      );
    }
    rows.push(cat(cells, 3));
  }
  return cat(rows, 2);
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
