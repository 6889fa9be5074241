/**
 * torch.nn.functional.interpolate for 3-d [N, C, L], 4-d [N, C, H, W] and 5-d [N, C, D, H, W]
 * inputs: modes nearest, nearest-exact, linear, bilinear, bicubic and trilinear, with PyTorch
 * 1.13's CPU index and weight rules, and area (adaptive average pooling). Every mode is
 * separable: each resized dim reads T taps per output position and weights them (the resample
 * kernel) or copies one (nearest: row copies or a gather), so intermediates stay the size of one
 * pass's output (never in * out).
 */
import { arange, fromNumbers } from '../creation';
import { isFloating } from '../dtype';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { shapeStr } from '../shape';
import type { Tensor } from '../tensor';
import { embedding } from './embedding';
import { resample } from './resample';
import { checkTensor } from './kinds';

/** The modes of interpolate; 'linear' is 3-d, 'bilinear' and 'bicubic' 4-d, 'trilinear' 5-d. */
export type InterpolateMode = 'nearest' | 'nearest-exact' | 'linear' | 'bilinear' | 'bicubic' | 'trilinear' | 'area';

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
  area: [1, 2, 3],
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
  if (mode === 'area') {
    // Adaptive average pooling: output i averages [floor(i n / out), ceil((i + 1) n / out)); the
    // windows differ in length, so the shorter ones are padded with zero-weight taps.
    const lo = (i: number): number => Math.floor((i * n) / out),
      hi = (i: number): number => Math.ceil(((i + 1) * n) / out);
    const count = Math.max(...Array.from({ length: out }, (_, i) => hi(i) - lo(i)));
    const idx = new Array<number>(count * out),
      w = new Array<number>(count * out);
    for (let i = 0; i < out; i++)
      for (let t = 0; t < count; t++) {
        const inside = lo(i) + t < hi(i);
        idx[t * out + i] = inside ? lo(i) + t : lo(i);
        w[t * out + i] = inside ? r(1 / (hi(i) - lo(i))) : 0;
      }
    return isIdentity(count, n, out, idx, w) ? null : { count, idx, w };
  }
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

/** Rows at least this long take the row-copy path; shorter ones the element gather. */
const ROW_MIN = 8;

/** Frees handles now (the scope around interpolate would keep them to its end). */
const free = (...ts: (Tensor | null)[]): void => ts.forEach((t) => t?.dispose());

/**
 * x resized along dim d by the taps. Weighted taps (the linear, cubic and area modes) run the fused
 * resample kernel (ops/resample.ts): one pass over the output per dim, the products added in tap
 * order as the gathers, muls and adds this replaced did. [16, 64, 56, 56] -> 2x, 2 threads, against
 * those in one process: bilinear forward 20.5-24 -> 5.5-6.7 ms, forward + backward 74-84 ->
 * 15-16; bicubic 39-46 -> 9.7-11 and 158-180 -> 25-26.
 * Nearest taps copy: a dim followed by rows of ROW_MIN or more contiguous elements is viewed as
 * [outer * n, inner] and the embedding kernel copies the rows ([outer, out, inner]); the last dim
 * swaps places with the dim before it to get such rows; otherwise (short rows, integer dtypes) one
 * element gather along d.
 */
function applyTaps(x: Tensor, d: number, out: number, taps: Taps): Tensor {
  if (taps.w) return resample(x, d, taps.count, taps.idx, taps.w); // floating: checked by interpolate
  const shape = x._shape,
    n = shape[d],
    dev = x.device;
  const prod = (s: number[]): number => s.reduce((a, b) => a * b, 1);
  const inner = prod(shape.slice(d + 1)),
    outer = prod(shape.slice(0, d));
  const outShape = shape.slice();
  outShape[d] = out;
  if (isFloating(x.dtype) && inner < ROW_MIN && d === x.ndim - 1 && d > 0 && shape[d - 1] >= ROW_MIN) {
    const xt = x.transpose(d - 1, d);
    const yt = applyTaps(xt, d - 1, out, taps);
    const y = yt.transpose(d - 1, d);
    free(xt, yt);
    return y;
  }
  const idx = fromNumbers(taps.idx, [taps.idx.length], 'int64', 'interpolate', dev);
  if (!isFloating(x.dtype) || inner < ROW_MIN) {
    const g = x.indexSelect(d, idx);
    free(idx);
    return g;
  }
  const table = (x.isContiguous() ? x : x.contiguous()).reshape([outer * n, inner]);
  const base = arange(0, outer * n, n, { dtype: 'int64', device: dev }).reshape([outer, 1]);
  const rows = base.add(idx);
  const g = embedding(rows, table); // [outer, out, inner]
  free(idx, rows, table, base);
  const r = g.reshape(outShape);
  free(g);
  return r;
}

/**
 * For nearest taps: per dim, how many times each input is repeated when every dim's output
 * position i reads input floor(i / reps) (out a multiple of in; an unchanged dim repeats once);
 * null when any dim reads otherwise.
 */
function repeats(all: (Taps | null)[], ins: number[], outs: number[]): number[] | null {
  const reps: number[] = [];
  for (let d = 0; d < all.length; d++) {
    const t = all[d];
    if (!t) {
      reps.push(1);
      continue;
    }
    if (t.count !== 1 || t.w || outs[d] % ins[d] !== 0) return null;
    const s = outs[d] / ins[d];
    for (let i = 0; i < outs[d]; i++) if (t.idx[i] !== Math.floor(i / s)) return null;
    reps.push(s);
  }
  return reps;
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
 * neighbours, with pixel centres at +0.5 unless alignCorners; area averages each output's window
 * (adaptive average pooling). With scaleFactor the scale is
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
  if (opts.alignCorners !== undefined && (nearest || mode === 'area'))
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
    if (opts.recomputeScaleFactor)
      throw new KilnError(
        'ERR_ARG',
        'interpolate: recomputeScaleFactor goes with scaleFactor, not with an explicit size',
      );
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
    const all = ins.map((n, i) => tapsOf(mode, ins[i], outs[i], scales[i], align, r));
    const reps = nearest ? repeats(all, ins, outs) : null;
    if (reps && reps.some((n) => n > 1)) {
      // Every resized dim repeats each input reps times: one copy of an expanded view (its
      // gradient sums the repeats) instead of a gather per dim. [16, 64, 56, 56] x2, 2 threads:
      // forward 8.2 -> 2.05 ms, forward + backward 26.8 -> 11.7 ms.
      const lead = x._shape.slice(0, 2);
      const v = x.reshape([...lead, ...ins.flatMap((n) => [n, 1])]);
      return v.expand([...lead, ...ins.flatMap((n, i) => [n, reps[i]])]).reshape([...lead, ...outs]);
    }
    let y = x;
    for (let i = k - 1; i >= 0; i--) {
      const taps = all[i];
      if (!taps) continue;
      const next = applyTaps(y, i + 2, outs[i], taps);
      if (y !== x) free(y);
      y = next;
    }
    return y === x ? x.clone() : y.isContiguous() ? y : y.contiguous();
  });
}
