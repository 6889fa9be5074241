/**
 * torch.nn.functional.interpolate for 3-d [N, C, L], 4-d [N, C, H, W] and 5-d [N, C, D, H, W]
 * inputs: modes nearest, nearest-exact, linear, bilinear, bicubic and trilinear, with PyTorch
 * 1.13's CPU index and weight rules. Every mode is separable, so each resized dim is one gather
 * of T taps per output position ([.., T * out, ..]), a multiply by the taps' weights and a sum
 * over T: intermediates stay the size of one pass's output (never in*out), and the gradient
 * comes from gather, mul and sum.
 */
import { fromNumbers } from '../creation';
import { isFloating } from '../dtype';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { shapeStr } from '../shape';
import type { Tensor } from '../tensor';
import { checkTensor } from './kinds';

/** The modes of interpolate; 'linear' is 3-d, 'bilinear' and 'bicubic' 4-d, 'trilinear' 5-d. */
export type InterpolateMode = 'nearest' | 'nearest-exact' | 'linear' | 'bilinear' | 'bicubic' | 'trilinear';

/** Options of interpolate (torch's keywords, camelCase): exactly one of size and scaleFactor. */
export interface InterpolateOptions {
  /** Output size of the spatial dims: one number for all, or one per dim. */
  size?: number | readonly number[];
  /** Output size = floor(input size * scaleFactor): one number for all, or one per dim. */
  scaleFactor?: number | readonly number[];
  /** Default 'nearest'. */
  mode?: InterpolateMode;
  /** Linear and cubic modes only: map the corner pixels' centres onto each other (default false). */
  alignCorners?: boolean;
  /** Take the scale from the sizes (in / out) instead of 1 / scaleFactor (default false). */
  recomputeScaleFactor?: boolean;
}

const SPATIAL: Record<InterpolateMode, number[]> = {
  nearest: [1, 2, 3],
  'nearest-exact': [1, 2, 3],
  linear: [1],
  bilinear: [2],
  bicubic: [2],
  trilinear: [3],
};

/** Checks `mode` names one of interpolate's modes (for nn.Upsample, which checks at construction). */
export function checkMode(mode: unknown, op: string): InterpolateMode {
  if (typeof mode !== 'string' || !Object.hasOwn(SPATIAL, mode))
    throw new KilnError(
      'ERR_ARG',
      `${op}: mode must be one of ${Object.keys(SPATIAL).join(', ')}; got '${String(mode)}'`,
    );
  return mode as InterpolateMode;
}

/** Gather taps for one dim: out position i reads idx[t * out + i] with weight w[t * out + i]. */
interface Taps {
  count: number;
  idx: number[];
  w: number[] | null;
}

// PyTorch's cubic convolution coefficient (Keys, a = -0.75).
const A = -0.75;
const cc1 = (x: number): number => ((A + 2) * x - (A + 3)) * x * x + 1;
const cc2 = (x: number): number => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;

/**
 * The taps of one dim, with torch's arithmetic: `r` rounds to the precision torch computes in
 * (float for float32 inputs, double for float64; nearest always uses float), because a nearest
 * index is floor() of a product and one ulp moves it.
 */
function tapsOf(
  mode: InterpolateMode,
  n: number,
  out: number,
  scale: number | undefined,
  align: boolean,
  r: (v: number) => number,
): Taps | null {
  const f = Math.fround;
  if (mode === 'nearest' || mode === 'nearest-exact') {
    const s = scale !== undefined && scale > 0 ? f(1 / scale) : f(n / out);
    const off = mode === 'nearest' ? 0 : 0.5;
    const idx = Array.from({ length: out }, (_, i) => Math.min(Math.floor(f((i + off) * s)), n - 1));
    return idx.every((v, i) => v === i) && n === out ? null : { count: 1, idx, w: null };
  }
  const s = align
    ? out > 1
      ? r((n - 1) / (out - 1))
      : 0
    : scale !== undefined && scale > 0
      ? r(1 / scale)
      : r(n / out);
  const src = (i: number, cubic: boolean): number => {
    if (align) return r(s * i);
    const v = r(r(s * r(i + 0.5)) - 0.5);
    return !cubic && v < 0 ? 0 : v;
  };
  if (mode === 'bicubic') {
    const idx = new Array<number>(4 * out),
      w = new Array<number>(4 * out);
    for (let i = 0; i < out; i++) {
      const x = src(i, true),
        i0 = Math.floor(x),
        t = r(x - i0);
      const c = [cc2(t + 1), cc1(t), cc1(1 - t), cc2(2 - t)].map(r);
      for (let k = 0; k < 4; k++) {
        idx[k * out + i] = Math.max(Math.min(i0 - 1 + k, n - 1), 0);
        w[k * out + i] = c[k];
      }
    }
    return isIdentity(4, n, out, idx, w) ? null : { count: 4, idx, w };
  }
  // linear: torch copies when the sizes agree, whatever the scale.
  if (n === out) return null;
  const idx = new Array<number>(2 * out),
    w = new Array<number>(2 * out);
  for (let i = 0; i < out; i++) {
    const x = src(i, false),
      i0 = Math.trunc(x),
      l1 = Math.min(Math.max(r(x - i0), 0), 1);
    idx[i] = i0;
    idx[out + i] = i0 + (i0 < n - 1 ? 1 : 0);
    w[i] = r(1 - l1);
    w[out + i] = l1;
  }
  return { count: 2, idx, w };
}

/** Whether the taps copy x (each position reads its own index with weight 1, the rest 0). */
function isIdentity(count: number, n: number, out: number, idx: number[], w: number[]): boolean {
  if (n !== out) return false;
  for (let i = 0; i < out; i++) {
    let one = false;
    for (let t = 0; t < count; t++) {
      const j = t * out + i;
      if (w[j] === 1 && idx[j] === i) one = true;
      else if (w[j] !== 0) return false;
    }
    if (!one) return false;
  }
  return true;
}

/** x resized along dim d by the taps: gather T * out rows, weight them, sum the T. */
function applyTaps(x: Tensor, d: number, out: number, taps: Taps): Tensor {
  const idx = fromNumbers(taps.idx, [taps.idx.length], 'int64', 'interpolate', x.device);
  const g = x.indexSelect(d, idx);
  if (!taps.w) return g;
  const shape = x._shape.slice();
  shape.splice(d, 1, taps.count, out);
  const split = g.reshape(shape);
  const wShape = [taps.count, out, ...Array<number>(x.ndim - 1 - d).fill(1)];
  const w = fromNumbers(taps.w, wShape, x.dtype, 'interpolate', x.device);
  return split.mul(w).sum(d);
}

const perDim = (v: number | readonly number[], k: number, what: string): number[] => {
  const a = typeof v === 'number' ? Array<number>(k).fill(v) : [...v];
  if (a.length !== k)
    throw new KilnError('ERR_ARG', `interpolate: ${what} needs 1 or ${k} values for ${k} spatial dims, got [${a}]`);
  return a;
};

/**
 * torch.nn.functional.interpolate: x resized over its spatial dims (all after N and C) to `size`,
 * or to floor(size * scaleFactor). Nearest reads source floor(dst * in / out) (torch's legacy
 * rule), nearest-exact floor((dst + 0.5) * in / out); the linear modes and bicubic weight their
 * neighbours, with pixel centres at +0.5 unless alignCorners. With scaleFactor the scale is
 * 1 / scaleFactor (as torch) unless recomputeScaleFactor.
 * @example
 * const y = kiln.nn.functional.interpolate(x, { scaleFactor: 2, mode: 'bilinear' }); // [N, C, 2H, 2W]
 */
export function interpolate(x: Tensor, opts: InterpolateOptions = {}): Tensor {
  checkTensor(x, 'interpolate', 'input');
  const mode = checkMode(opts.mode ?? 'nearest', 'interpolate');
  const dimsOk = SPATIAL[mode];
  const k = x.ndim - 2;
  if (!dimsOk.includes(k))
    throw new KilnError(
      'ERR_SHAPE',
      `interpolate: mode '${mode}' needs a ${dimsOk.map((n) => n + 2).join('-d, ')}-d input [N, C, ...], got ${shapeStr(x._shape)}`,
    );
  const nearest = mode === 'nearest' || mode === 'nearest-exact';
  if (opts.alignCorners !== undefined && nearest)
    throw new KilnError(
      'ERR_ARG',
      `interpolate: alignCorners only goes with the linear and cubic modes, not '${mode}'`,
    );
  if (!nearest && !isFloating(x.dtype))
    throw new KilnError('ERR_DTYPE', `interpolate: mode '${mode}' needs a floating input, got ${x.dtype}`);
  if ((opts.size === undefined) === (opts.scaleFactor === undefined))
    throw new KilnError('ERR_ARG', 'interpolate: give exactly one of size and scaleFactor');
  const ins = x._shape.slice(2);
  if (ins.some((n) => n === 0))
    throw new KilnError('ERR_SHAPE', `interpolate: the spatial dims of ${shapeStr(x._shape)} must not be empty`);
  let outs: number[];
  let scales: (number | undefined)[];
  if (opts.size !== undefined) {
    outs = perDim(opts.size, k, 'size');
    if (outs.some((s) => !Number.isInteger(s) || s <= 0))
      throw new KilnError('ERR_ARG', `interpolate: size must be positive integers, got [${outs}]`);
    scales = outs.map(() => undefined);
  } else {
    const sf = perDim(opts.scaleFactor!, k, 'scaleFactor');
    if (sf.some((s) => !(s > 0) || !Number.isFinite(s)))
      throw new KilnError('ERR_ARG', `interpolate: scaleFactor must be positive, got [${sf}]`);
    outs = ins.map((n, i) => Math.floor(n * sf[i]));
    if (outs.some((s) => s <= 0))
      throw new KilnError(
        'ERR_ARG',
        `interpolate: scaleFactor [${sf}] makes an empty output from ${shapeStr(x._shape)} (sizes [${outs}])`,
      );
    scales = opts.recomputeScaleFactor ? outs.map(() => undefined) : sf;
  }
  const align = opts.alignCorners ?? false;
  const r = x.dtype === 'float64' ? (v: number) => v : Math.fround;
  return scope(() => {
    let y = x;
    for (let i = k - 1; i >= 0; i--) {
      const taps = tapsOf(mode, ins[i], outs[i], scales[i], align, r);
      if (taps) y = applyTaps(y, i + 2, outs[i], taps);
    }
    return y === x ? x.clone() : y;
  });
}
