/**
 * Adaptive max pooling (torch adaptive_max_pool1d/2d and nn.AdaptiveMaxPool1d/2d) from existing
 * ops: one gather of every window's elements (windows padded to the largest by repeating their
 * first element, which leaves the max unchanged), max over the window, and the window table read
 * at the argmax for torch's indices (flat h * W + w in each input plane). The gradient goes to the
 * chosen element, as torch's.
 */
import { fromNumbers, zeros } from '../../creation';
import { KilnError } from '../../errors';
import { scope } from '../../memory';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { Module } from '../module';

/** An output size; null keeps the input's size along that dim (torch's None). */
export type AdaptiveSize = number | null;
/** One output size for both dims, or [height, width]. */
export type AdaptiveSize2 = AdaptiveSize | readonly [AdaptiveSize, AdaptiveSize];

/** Options of the adaptive max pooling modules. */
export interface AdaptiveMaxPoolOptions<R extends boolean = boolean> {
  /** forward returns [values, indices] (torch's return_indices). */
  returnIndices?: R;
}

/** Torch's window of output i along a dim of n inputs pooled to out: [floor(i n / out), ceil((i + 1) n / out)). */
const window = (i: number, n: number, out: number): [number, number] => [
  Math.floor((i * n) / out),
  Math.ceil(((i + 1) * n) / out),
];

function outSize(op: string, v: AdaptiveSize, n: number): number {
  if (v === null) return n;
  if (!Number.isInteger(v) || v < 1)
    throw new KilnError('ERR_ARG', `${op}: outputSize must be positive integers or null, got ${v}`);
  return v;
}

/** Values and flat plane indices of [..., H, W] pooled to [..., oh, ow]. */
function adaptiveMaxCore(op: string, x: Tensor, oh: number, ow: number): [Tensor, Tensor] {
  const lead = x.shape.slice(0, -2),
    [H, W] = x.shape.slice(-2);
  if (H < 1 || W < 1) throw new KilnError('ERR_SHAPE', `${op}: input ${shapeStr(x.shape)} has an empty spatial dim`);
  if (lead.some((s) => s === 0)) {
    // an empty batch gives empty outputs, as torch's
    const shape = [...lead, oh, ow];
    return [zeros(shape, { dtype: x.dtype, device: x.device }), zeros(shape, { dtype: 'int64', device: x.device })];
  }
  const rows = Array.from({ length: oh }, (_, i) => window(i, H, oh)),
    cols = Array.from({ length: ow }, (_, j) => window(j, W, ow));
  const K = Math.max(...rows.map(([s, e]) => e - s)) * Math.max(...cols.map(([s, e]) => e - s));
  const table: number[] = [];
  for (const [h0, h1] of rows)
    for (const [w0, w1] of cols) {
      const at = table.length;
      for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) table.push(h * W + w);
      while (table.length < at + K) table.push(table[at]);
    }
  const P = lead.reduce((a, b) => a * b, 1),
    O = oh * ow;
  return scope(() => {
    const idx = fromNumbers(table, [O * K], 'int64', op, x.device);
    const { values, indices } = x
      .reshape([P, H * W])
      .indexSelect(1, idx)
      .reshape([P, O, K])
      .max(2);
    const flat = idx
      .reshape([1, O, K])
      .expand([P, O, K])
      .gather(2, indices.unsqueeze(2))
      .reshape([...lead, oh, ow]);
    return [values.reshape([...lead, oh, ow]), flat];
  });
}

/** Max over adaptive windows of [N, C, H, W] or [C, H, W], and each max's flat h * W + w index. */
export function adaptiveMaxPool2dWithIndices(x: Tensor, outputSize: AdaptiveSize2): [Tensor, Tensor] {
  const op = 'adaptiveMaxPool2d';
  if (x.ndim !== 3 && x.ndim !== 4)
    throw new KilnError('ERR_SHAPE', `${op}: input [N, C, H, W] or [C, H, W] expected, got ${shapeStr(x.shape)}`);
  const [sh, sw] = Array.isArray(outputSize) ? outputSize : [outputSize, outputSize];
  if (Array.isArray(outputSize) && outputSize.length !== 2)
    throw new KilnError('ERR_ARG', `${op}: outputSize must be one size or two, got ${JSON.stringify(outputSize)}`);
  const [H, W] = x.shape.slice(-2);
  return adaptiveMaxCore(op, x, outSize(op, sh as AdaptiveSize, H), outSize(op, sw as AdaptiveSize, W));
}

/** Max over adaptive windows so [N, C, H, W] becomes [N, C, ...outputSize] (torch adaptive_max_pool2d). */
export function adaptiveMaxPool2d(x: Tensor, outputSize: AdaptiveSize2): Tensor {
  const [y, idx] = adaptiveMaxPool2dWithIndices(x, outputSize);
  idx.dispose();
  return y;
}

/** Max over adaptive windows of [N, C, L] or [C, L], and each max's index along L. */
export function adaptiveMaxPool1dWithIndices(x: Tensor, outputSize: number): [Tensor, Tensor] {
  const op = 'adaptiveMaxPool1d';
  if (x.ndim !== 2 && x.ndim !== 3)
    throw new KilnError('ERR_SHAPE', `${op}: input [N, C, L] or [C, L] expected, got ${shapeStr(x.shape)}`);
  if (typeof outputSize !== 'number')
    throw new KilnError('ERR_ARG', `${op}: outputSize must be one integer, got ${JSON.stringify(outputSize)}`);
  return scope(() => {
    const [y, idx] = adaptiveMaxCore(op, x.unsqueeze(-2), 1, outSize(op, outputSize, x.shape[x.ndim - 1]));
    return [y.squeeze(-2), idx.squeeze(-2)];
  });
}

/** Max over adaptive windows of the last dim (torch adaptive_max_pool1d). */
export function adaptiveMaxPool1d(x: Tensor, outputSize: number): Tensor {
  const [y, idx] = adaptiveMaxPool1dWithIndices(x, outputSize);
  idx.dispose();
  return y;
}

type PoolOut<R extends boolean> = R extends true ? [Tensor, Tensor] : Tensor;

/**
 * Max over adaptive windows of [N, C, H, W] to a fixed output size (torch.nn.AdaptiveMaxPool2d);
 * with returnIndices, forward gives [values, indices].
 * @example
 * const [y, idx] = new kiln.nn.AdaptiveMaxPool2d([2, 3], { returnIndices: true }).forward(x);
 */
export class AdaptiveMaxPool2d<R extends boolean = false> extends Module {
  readonly returnIndices: R;
  constructor(
    readonly outputSize: AdaptiveSize2,
    opts: AdaptiveMaxPoolOptions<R> = {},
  ) {
    super();
    this.returnIndices = (opts.returnIndices ?? false) as R;
  }
  forward(x: Tensor): PoolOut<R> {
    if (this.returnIndices) return adaptiveMaxPool2dWithIndices(x, this.outputSize) as PoolOut<R>;
    return adaptiveMaxPool2d(x, this.outputSize) as PoolOut<R>;
  }
  override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}

/** Max over adaptive windows of [N, C, L] (torch.nn.AdaptiveMaxPool1d); returnIndices as the 2-d one. */
export class AdaptiveMaxPool1d<R extends boolean = false> extends Module {
  readonly returnIndices: R;
  constructor(
    readonly outputSize: number,
    opts: AdaptiveMaxPoolOptions<R> = {},
  ) {
    super();
    this.returnIndices = (opts.returnIndices ?? false) as R;
  }
  forward(x: Tensor): PoolOut<R> {
    if (this.returnIndices) return adaptiveMaxPool1dWithIndices(x, this.outputSize) as PoolOut<R>;
    return adaptiveMaxPool1d(x, this.outputSize) as PoolOut<R>;
  }
  override extraRepr(): string {
    return `outputSize=${this.outputSize}`;
  }
}
