/**
 * Test material shared by the op table's conformance cases: a seeded RNG, random shapes
 * (with size-0 and size-1 dims) and inputs in several layouts (contiguous, transposed, strided),
 * each returned with its exact values as the reference sees them.
 */
import { DType, isFloating, roundTo } from '../dtype';
import { fromNumbers } from '../creation';
import { numelOf } from '../shape';
import type { Tensor } from '../tensor';
import type { ErrorCase, RefValue, Rng } from './row';

/** mulberry32: small, fast, seeded. */
export function rngFrom(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const randInt = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));

/** Shapes to test: scalars, size-0 and size-1 dims, odd sizes, up to 4 dims. */
export function randShape(rng: Rng, maxDims = 4): number[] {
  const nd = randInt(rng, 0, maxDims);
  const shape: number[] = [];
  for (let i = 0; i < nd; i++) {
    const r = rng();
    shape.push(r < 0.08 ? 0 : r < 0.25 ? 1 : randInt(rng, 2, nd > 2 ? 7 : 33));
  }
  return shape;
}

/** The fixed shapes every elementwise op sees, besides random ones. */
export const EDGE_SHAPES: number[][] = [
  [],
  [1],
  [0],
  [0, 3],
  [5],
  [3, 1, 4],
  [2, 3, 4, 5],
  [1, 1, 1],
  [17, 33],
  [1000],
];

export type Layout = 'contiguous' | 'transposed' | 'strided' | 'offset';

export interface Input {
  t: Tensor;
  ref: RefValue;
}

/** Random values suited to the dtype (a range, or positives for log/sqrt-like ops). */
export function randValues(rng: Rng, n: number, dtype: DType, range: [number, number] = [-3, 3]): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    if (dtype === 'bool') out[i] = rng() < 0.5 ? 1 : 0;
    else if (dtype === 'uint8')
      out[i] = randInt(rng, Math.max(0, Math.ceil(range[0])), Math.min(255, Math.max(0, Math.floor(range[1]))));
    else if (!isFloating(dtype)) out[i] = randInt(rng, Math.ceil(range[0]), Math.floor(range[1]));
    else out[i] = roundTo(dtype, range[0] + (range[1] - range[0]) * rng());
  }
  return out;
}

/** A tensor of `shape` in the given layout, with its values as a reference. */
export function makeInput(
  rng: Rng,
  shape: number[],
  dtype: DType,
  layout: Layout = 'contiguous',
  range?: [number, number],
): Input {
  const n = numelOf(shape);
  const vals = randValues(rng, n, dtype, range);
  const ref = { shape: shape.slice(), data: vals };
  if (layout === 'contiguous' || shape.length === 0) return { t: fromNumbers(vals, shape, dtype, 'makeInput'), ref };
  if (layout === 'transposed' && shape.length >= 2) {
    // Store the last two dims swapped, then transpose back: same values, non-contiguous strides.
    const nd = shape.length,
      a = shape[nd - 2],
      b = shape[nd - 1];
    const swapped = shape.slice(0, nd - 2).concat([b, a]);
    const sv = new Array<number>(n);
    const batch = n / (a * b || 1);
    for (let q = 0; q < (a * b ? batch : 0); q++)
      for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) sv[q * a * b + j * a + i] = vals[q * a * b + i * b + j];
    const base = fromNumbers(sv, swapped, dtype, 'makeInput');
    const t = base.transpose(nd - 2, nd - 1);
    base.dispose();
    return { t, ref };
  }
  if (layout === 'offset') {
    const flatVals = [roundTo(dtype, 1), ...vals];
    const base = fromNumbers(flatVals, [n + 1], dtype, 'makeInput');
    const t = base.slice(0, 1, n + 1).reshape(shape);
    base.dispose();
    return { t, ref };
  }
  // strided: every other element along the last dim
  const nd = shape.length,
    last = shape[nd - 1];
  const wide = shape.slice(0, nd - 1).concat([last * 2]);
  const wv = new Array<number>(n * 2).fill(roundTo(dtype, 7));
  for (let i = 0; i < n; i++) wv[Math.floor(i / last) * last * 2 + (i % last) * 2] = vals[i];
  const base = fromNumbers(wv, wide, dtype, 'makeInput');
  const t = base.slice(nd - 1, 0, last * 2, 2);
  base.dispose();
  return { t, ref };
}

export const LAYOUTS: Layout[] = ['contiguous', 'transposed', 'strided', 'offset'];

/** Row-major index helpers for references. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d] + idx[d];
  return i;
}

/** Reference broadcasting: the value of `v` at an index of the broadcast shape. */
export function broadcastAt(v: RefValue, idx: readonly number[]): number {
  const off = idx.length - v.shape.length;
  let i = 0;
  for (let d = 0; d < v.shape.length; d++) i = i * v.shape[d] + (v.shape[d] === 1 ? 0 : idx[off + d]);
  return v.data[i];
}

/** A float64 leaf that requires grad, for gradient samples. */
export const gradInput = (rng: Rng, shape: number[]): Tensor => makeInput(rng, shape, 'float64').t.requiresGrad_();

/** Error cases from [label, run, code] triples. */
export const errorCases = (list: [string, () => unknown, ErrorCase['code']][]): ErrorCase[] =>
  list.map(([label, run, code]) => ({ label, run, code }));

/**
 * erfc in float64 to a few ulps relative, for references: 1 - erf below 0.5 (no cancellation:
 * erfc is near 1 there), 2 - erfc(-x) below -0.5, else e^{-x^2}/sqrt(pi) over the continued
 * fraction x + (1/2)/(x + 1/(x + (3/2)/(x + ...))), run long enough to converge from 0.5 up.
 */
export const erfcRef = (x: number): number => {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) < 0.5) return 1 - erfRef(x);
  if (x < 0) return 2 - erfcRef(-x);
  let f = 0;
  for (let n = 4000; n >= 1; n--) f = n / 2 / (x + f);
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / (x + f);
};

/** erf in float64 to ~1 ulp, for references. */
export const erfRef = (x: number): number => {
  // erf(x) = 2/sqrt(pi) e^{-x^2} sum 2^n x^{2n+1} / (1*3*...*(2n+1)): positive terms, no
  // cancellation. Past 2, the erfc continued fraction converges quickly.
  const t = Math.abs(x);
  if (t < 2) {
    let term = t,
      sum = t;
    for (let n = 1; n < 300 && term > 1e-17 * sum; n++) {
      term *= (2 * t * t) / (2 * n + 1);
      sum += term;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-t * t) * sum;
  }
  let f = 0;
  for (let n = 200; n >= 1; n--) f = n / 2 / (t + f);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f));
};
