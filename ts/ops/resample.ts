/**
 * Resampling along one dim by weighted taps (native/cpu/resample.cpp; CUDA in kernels/resample.cu):
 * output position i of dim d reads input positions idx[t out + i] with weights w[t out + i], t <
 * count. interpolate (ops/interpolate.ts) runs its linear, cubic and area modes as one of these per
 * resized dim; the backward scatters the gradient back along the same taps, itself differentiable.
 */
import { record } from '../autograd/node';
import { noGrad } from '../autograd/grad_mode';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { FLOAT_DTYPES, isFloating } from '../dtype';
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { checkTensor } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { errorCases, gradInput, makeInput, randInt } from './samples';

/** The dims of x around d: [outer, n, inner]. */
function around(shape: readonly number[], d: number): [number, number, number] {
  const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  return [prod(shape.slice(0, d)), shape[d], prod(shape.slice(d + 1))];
}

function checkTaps(op: string, count: number, idx: readonly number[], w: readonly number[], n: number): number {
  if (!Number.isInteger(count) || count < 1 || idx.length % count !== 0 || idx.length === 0 || w.length !== idx.length)
    throw new KilnError(
      'ERR_ARG',
      `${op}: ${idx.length} indices and ${w.length} weights are not ${count} taps for each output`,
    );
  for (const v of idx)
    if (!Number.isInteger(v) || v < 0 || v >= n)
      throw new KilnError('ERR_INDEX', `${op}: tap index ${v} is outside the dim's ${n} positions`);
  return idx.length / count;
}

/** Runs the forward (backward: false) or backward kernel on a contiguous [outer, *, inner] view. */
function run(
  kind: 'resample' | 'resample_backward',
  src: Tensor,
  d: number,
  count: number,
  idx: readonly number[],
  w: readonly number[],
  outLen: number,
): Tensor {
  const [outer, n, inner] = around(src._shape, d);
  const dev = src.device;
  const it = fromNumbers(idx, [idx.length], 'int64', kind, dev),
    wt = fromNumbers(w, [w.length], src.dtype, kind, dev);
  const s3 = noGrad(() => {
    const c = src.contiguous();
    const v = c.reshape([outer, n, inner]);
    if (c !== src && c !== v) c.dispose();
    return v;
  });
  const o3 = Tensor._empty([outer, outLen, inner], src.dtype, kind, dev);
  runKernel(kind === 'resample' ? OP.RESAMPLE : OP.RESAMPLE_BACKWARD, [o3], [s3, it, wt], [count]);
  for (const t of [it, wt, s3]) if (t !== src) t.dispose();
  const shape = src._shape.slice();
  shape[d] = outLen;
  const o = noGrad(() => o3.reshape(shape));
  if (o !== o3) o3.dispose();
  return o;
}

/**
 * x resized along dim d to idx.length / count positions: position i = sum over t < count of
 * w[t out + i] x[..., idx[t out + i], ...], the products added in t order.
 */
export function resample(x: Tensor, d: number, count: number, idx: readonly number[], w: readonly number[]): Tensor {
  const op = 'resample';
  checkTensor(x, op, 'input');
  if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `${op}: needs a floating input, got ${x.dtype}`);
  if (!Number.isInteger(d) || d < 0 || d >= x.ndim)
    throw new KilnError('ERR_ARG', `${op}: dim ${d} is not a dim of ${shapeStr(x._shape)}`);
  const out = checkTaps(op, count, idx, w, x._shape[d]);
  const y = run(op, x, d, count, idx, w, out);
  const n = x._shape[d];
  return record(op, y, [x], (g) => [resampleBackward(g, d, count, idx, w, n)]);
}

/** resample's gradient: g [..., out, ...] scattered back along the taps to [..., n, ...]. */
export function resampleBackward(
  g: Tensor,
  d: number,
  count: number,
  idx: readonly number[],
  w: readonly number[],
  n: number,
): Tensor {
  const op = 'resample_backward';
  checkTensor(g, op, 'gradOutput');
  if (!isFloating(g.dtype)) throw new KilnError('ERR_DTYPE', `${op}: needs a floating gradient, got ${g.dtype}`);
  if (!Number.isInteger(d) || d < 0 || d >= g.ndim)
    throw new KilnError('ERR_ARG', `${op}: dim ${d} is not a dim of ${shapeStr(g._shape)}`);
  const out = checkTaps(op, count, idx, w, n);
  if (g._shape[d] !== out)
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: gradOutput ${shapeStr(g._shape)} has ${g._shape[d]} positions in dim ${d}, the taps ${out}`,
    );
  const gx = run(op, g, d, count, idx, w, n);
  return record(op, gx, [g], (gg) => [resample(gg, d, count, idx, w)]);
}

// ---- Reference (float64 loops) and rows ----

interface Geo {
  shape: number[];
  d: number;
  count: number;
  out: number;
}
const GEOS = (rng: Rng): Geo[] => [
  { shape: [3, 5, 4], d: 1, count: 2, out: 9 },
  { shape: [2, 3, 6, 7], d: 3, count: 4, out: 3 }, // the last dim: rows of one element
  { shape: [2, 40, 1030], d: 1, count: 2, out: 17 }, // inner past a backward slab
  { shape: [7], d: 0, count: 3, out: 5 },
  { shape: [0, 3, 2], d: 1, count: 1, out: 4 },
  {
    shape: [randInt(rng, 1, 4), randInt(rng, 1, 9), randInt(rng, 1, 12)],
    d: 2,
    count: randInt(rng, 1, 4),
    out: randInt(rng, 1, 20),
  },
];
function tapsFor(rng: Rng, g: Geo): { idx: number[]; w: number[] } {
  const n = g.shape[g.d];
  const idx = Array.from({ length: g.count * g.out }, () => randInt(rng, 0, n - 1));
  const w = Array.from({ length: g.count * g.out }, () => rng() * 2 - 0.5);
  return { idx, w };
}
/** y = taps applied to data of `shape` along d (float64), or their transpose when back. */
function refResample(
  data: number[],
  shape: number[],
  d: number,
  count: number,
  idx: number[],
  w: number[],
  n: number,
  back: boolean,
): number[] {
  const [outer, , inner] = around(shape, d);
  const out = idx.length / count;
  const res = new Array<number>(outer * (back ? n : out) * inner).fill(0);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < out; i++)
      for (let t = 0; t < count; t++)
        for (let k = 0; k < inner; k++) {
          const j = idx[t * out + i];
          if (back) res[(o * n + j) * inner + k] += w[t * out + i] * data[(o * out + i) * inner + k];
          else res[(o * out + i) * inner + k] += w[t * out + i] * data[(o * n + j) * inner + k];
        }
  return res;
}

export const resampleRow: OpRow<typeof resample> = {
  name: 'resample',
  kind: 'custom',
  native: { nin: 3, nout: 1, nattr: 1 },
  dtypes: FLOAT_DTYPES,
  fn: resample,
  grad: (g) => [g],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const g of GEOS(rng)) {
      const x = makeInput(rng, g.shape, dtype, g.shape.length > 1 ? 'transposed' : 'contiguous');
      const { idx, w } = tapsFor(rng, g);
      const wr = fromNumbers(w, [w.length], dtype);
      const wd = wr._numbers(); // the weights as the kernel sees them
      wr.dispose();
      const shape = g.shape.slice();
      shape[g.d] = g.out;
      out.push({
        label: `${shapeStr(g.shape)} dim ${g.d}, ${g.count} taps -> ${g.out}`,
        got: resample(x.t, g.d, g.count, idx, w),
        want: { shape, data: refResample(x.ref.data, g.shape, g.d, g.count, idx, wd, g.shape[g.d], false) },
        tol: 8 * g.count,
      });
      x.t.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: '2 taps, dim 1',
      fn: (x) => resample(x, 1, 2, [0, 1, 2, 2, 1, 0, 0, 0], [0.5, 0.25, 1, -1, 0.5, 0.75, 0, 2]),
      inputs: [gradInput(rng, [2, 3, 3])],
    },
    {
      label: '3 taps, last dim',
      fn: (x) => resample(x, 1, 3, [0, 3, 1, 1, 2, 3], [1, 2, 3, -1, 0.5, 0.5]),
      inputs: [gradInput(rng, [2, 4])],
    },
  ],
  errors: () => {
    const x = () => fromNumbers([1, 2, 3, 4], [2, 2], 'float32');
    return errorCases([
      ['index past the dim', () => resample(x(), 1, 1, [0, 2], [1, 1]), 'ERR_INDEX'],
      ['taps and weights differ', () => resample(x(), 1, 1, [0, 1], [1]), 'ERR_ARG'],
      ['not a whole number of taps', () => resample(x(), 1, 2, [0, 1, 1], [1, 1, 1]), 'ERR_ARG'],
      ['integer input', () => resample(fromNumbers([1, 2], [2], 'int32'), 0, 1, [0], [1]), 'ERR_DTYPE'],
      ['bad dim', () => resample(x(), 2, 1, [0], [1]), 'ERR_ARG'],
    ]);
  },
};

export const resampleBackwardRow: OpRow<typeof resampleBackward> = {
  name: 'resample_backward',
  kind: 'custom',
  native: { nin: 3, nout: 1, nattr: 1 },
  dtypes: FLOAT_DTYPES,
  fn: resampleBackward,
  grad: (g) => [g],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const geo of GEOS(rng)) {
      const shape = geo.shape.slice();
      shape[geo.d] = geo.out;
      const gy = makeInput(rng, shape, dtype, shape.length > 1 ? 'transposed' : 'contiguous');
      const { idx, w } = tapsFor(rng, geo);
      const wr = fromNumbers(w, [w.length], dtype);
      const wd = wr._numbers();
      wr.dispose();
      const n = geo.shape[geo.d];
      out.push({
        label: `${shapeStr(shape)} dim ${geo.d}, ${geo.count} taps back to ${n}`,
        got: resampleBackward(gy.t, geo.d, geo.count, idx, w, n),
        want: { shape: geo.shape, data: refResample(gy.ref.data, shape, geo.d, geo.count, idx, wd, n, true) },
        tol: 8 * geo.count * geo.out,
      });
      gy.t.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: 'back along 2 taps',
      fn: (g) => resampleBackward(g, 1, 2, [0, 1, 2, 2, 1, 0], [0.5, 0.25, 1, -1, 0.5, 0.75], 4),
      inputs: [gradInput(rng, [2, 3, 2])],
    },
  ],
  errors: () =>
    errorCases([
      [
        'gradOutput size',
        () => resampleBackward(fromNumbers([1, 2, 3], [3], 'float32'), 0, 1, [0, 1], [1, 1], 2),
        'ERR_SHAPE',
      ],
    ]),
};
