/**
 * sort, argsort, msort, topk and kthvalue (torch's), all on one native op (row `sort`,
 * native/cpu/sort.cpp): the first k of each row along a dim in ascending or descending order, with
 * their int64 indices (k = n: a full sort). PyTorch's order: NaN is the largest value (last
 * ascending, first descending), -0 and +0 are equal, and ties keep their input order, so the sort
 * is always stable (`stable: true` and `false` give the same answer; torch promises nothing about
 * ties without stable, so either is a correct torch answer); topk's ties come lowest index first. Every dtype sorts. The values' gradient
 * scatters g back to the input at the indices (gather's gradient), written with ops. CUDA has no
 * kernel yet: a CUDA input throws ERR_NOT_COMPILED (move it with .cpu()), as conv2d does.
 */
import { noGrad } from '../autograd/grad_mode';
import { record } from '../autograd/node';
import { fromNumbers, zeros } from '../creation';
import { runKernel } from '../dispatch';
import { ALL_DTYPES, isFloating, roundTo } from '../dtype';
import { KilnError } from '../errors';
import { normDim, numelOf, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { checkTensor } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { LAYOUTS, errorCases, gradInput, makeInput, randInt, randShape } from './samples';

/** Options of sort / argsort (torch.sort's keywords). */
export interface SortOptions {
  dim?: number;
  descending?: boolean;
  /** Ties keep their input order; kiln's sort always does, so this changes nothing. */
  stable?: boolean;
}

/** Options of topk (torch.topk's keywords). */
export interface TopkOptions {
  dim?: number;
  /** The k largest (default) or the k smallest. */
  largest?: boolean;
  /** Results in order; kiln always sorts them, so this changes nothing. */
  sorted?: boolean;
}

/** Options of kthvalue (torch.kthvalue's keywords). */
export interface KthvalueOptions {
  dim?: number;
  keepdim?: boolean;
}

/** Values and their int64 indices along the dim (like max(dim) and torch's named tuples). */
export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

/** A dim given positionally or in the options object (torch takes both). */
function options<O extends { dim?: number }>(op: string, dimOrOpts: number | O | undefined, opts: O | undefined): O {
  if (dimOrOpts === undefined || dimOrOpts === null) return opts ?? ({} as O);
  if (typeof dimOrOpts === 'number') return { ...(opts ?? ({} as O)), dim: dimOrOpts };
  if (typeof dimOrOpts !== 'object')
    throw new KilnError('ERR_ARG', `${op}: expected a dim or an options object, got ${typeof dimOrOpts}`);
  return dimOrOpts;
}

function checkK(op: string, k: unknown, lo: number, n: number): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < lo || k > n)
    throw new KilnError('ERR_ARG', `${op}: k = ${String(k)} is out of range: expected an integer in [${lo}, ${n}]`);
  return k;
}

/**
 * The kernel: the first k of x's rows along d (x has at least one dim), values differentiable.
 * The kernel reads any strides, so views are sorted where they lie.
 */
function firstK(x: Tensor, d: number, k: number, descending: boolean): ValuesIndices {
  const shape = x._shape.map((s, i) => (i === d ? k : s));
  const values = Tensor._empty(shape, x.dtype, 'sort');
  const indices = Tensor._empty(shape.slice(), 'int64', 'sort');
  try {
    runKernel(OP.SORT, [values, indices], [x], [d, descending ? 1 : 0, k]);
  } catch (e) {
    values.dispose();
    indices.dispose();
    throw e;
  }
  if (!isFloating(x.dtype)) return { values, indices };
  // Gather's gradient: g scattered back at the indices. The indices ride along as an input, so
  // the node keeps its own handle on them.
  const v = record(
    'sort',
    values,
    [x, indices],
    (g, c) => [
      zeros(c.inputs[0]._shape.slice(), { dtype: g.dtype, device: g.device }).scatterAdd(d, c.inputs[1], g),
      null,
    ],
    { dim: d, k },
  );
  return { values: v, indices };
}

/** Runs f on x with a 0-d x seen as [1] (dim 0), and maps [1]-shaped results back to 0-d. */
function onRows(op: string, x: Tensor, dim: number, f: (x1: Tensor, d: number) => ValuesIndices): ValuesIndices {
  checkTensor(x, op, 'input');
  const d = normDim(dim, x.ndim, op);
  if (x.ndim > 0) return f(x, d);
  const x1 = x.reshape([1]);
  const r = f(x1, 0);
  x1.dispose();
  if (r.values._shape[0] !== 1) return r; // topk(0) of a 0-d tensor: shape [0]
  const out = { values: r.values.reshape([]), indices: r.indices.reshape([]) };
  r.values.dispose();
  r.indices.dispose();
  return out;
}

/**
 * Sorts along a dim (torch.sort): { values, indices } with int64 indices. NaN sorts as the
 * largest value; ties keep their input order (always stable).
 * @example
 * kiln.tensor([3, 1, 2]).sort(); // { values: [1, 2, 3], indices: [1, 2, 0] }
 * kiln.sort(x, 0, { descending: true }); // or kiln.sort(x, { dim: 0, descending: true })
 */
export function sort(x: Tensor, dim?: number | SortOptions, opts?: SortOptions): ValuesIndices {
  const o = options('sort', dim, opts);
  return onRows('sort', x, o.dim ?? -1, (x1, d) => firstK(x1, d, x1._shape[d], !!o.descending));
}

/**
 * The indices that sort x along a dim (torch.argsort), int64.
 * @example
 * kiln.tensor([3, 1, 2]).argsort(); // [1, 2, 0]
 */
export function argsort(x: Tensor, dim?: number | SortOptions, opts?: SortOptions): Tensor {
  // No graph: the values are dropped, and a node would hold handles until the GC ran.
  const r = noGrad(() => sort(x, dim, opts));
  r.values.dispose();
  return r.indices;
}

/**
 * Sorted along dim 0 (torch.msort): sort(x, 0).values.
 * @example
 * kiln.tensor([[2, 1], [0, 3]]).msort(); // [[0, 1], [2, 3]]
 */
export function msort(x: Tensor): Tensor {
  const r = sort(x, 0);
  r.indices.dispose();
  return r.values;
}

/**
 * The k largest (or smallest) elements along a dim, in order (torch.topk): { values, indices }.
 * Small k against the dim's size select first instead of sorting the whole row.
 * @example
 * kiln.tensor([1, 5, 3, 4]).topk(2); // { values: [5, 4], indices: [1, 3] }
 * kiln.topk(x, 3, { dim: 0, largest: false });
 */
export function topk(x: Tensor, k: number, dim?: number | TopkOptions, opts?: TopkOptions): ValuesIndices {
  const o = options('topk', dim, opts);
  return onRows('topk', x, o.dim ?? -1, (x1, d) =>
    firstK(x1, d, checkK('topk', k, 0, x1._shape[d]), o.largest ?? true),
  );
}

/**
 * The k-th smallest element along a dim (torch.kthvalue; k counts from 1): { values, indices },
 * the dim removed unless keepdim.
 * @example
 * kiln.tensor([3, 1, 2]).kthvalue(2); // { values: 2, indices: 2 }
 */
export function kthvalue(
  x: Tensor,
  k: number,
  dim?: number | KthvalueOptions,
  keepdim?: boolean | KthvalueOptions,
): ValuesIndices {
  const o = options('kthvalue', dim, typeof keepdim === 'object' ? keepdim : { keepdim });
  const keep = !!o.keepdim;
  return onRows('kthvalue', x, o.dim ?? -1, (x1, d) => {
    const kk = checkK('kthvalue', k, 1, x1._shape[d]);
    const s = firstK(x1, d, kk, false);
    const pick = (t: Tensor) => {
      // An empty view keeps offset 0 (an offset past an empty buffer cannot be read).
      const one = t.narrow(d, t.numel() ? kk - 1 : 0, 1);
      const out = keep || x.ndim === 0 ? one : one.squeeze(d);
      if (out !== one) one.dispose();
      t.dispose();
      return out;
    };
    return { values: pick(s.values), indices: pick(s.indices) };
  });
}

// ---- Op-table row ----

/** PyTorch's order on numbers: NaN above everything, -0 equal to +0. */
export function compareTorch(a: number, b: number): number {
  const an = Number.isNaN(a),
    bn = Number.isNaN(b);
  if (an || bn) return an === bn ? 0 : an ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Plain stable sort of each row along d (descending flips the order, not the ties), first k kept. */
export function refSort(
  x: readonly number[],
  shape: readonly number[],
  d: number,
  k: number,
  descending: boolean,
): { values: number[]; indices: number[] } {
  const outer = numelOf(shape.slice(0, d)),
    n = shape.length ? shape[d] : 1,
    inner = numelOf(shape.slice(d + 1));
  const values = new Array<number>(outer * k * inner),
    indices = new Array<number>(outer * k * inner);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < inner; j++) {
      const row = Array.from({ length: n }, (_, i) => i);
      const at = (i: number) => x[o * n * inner + i * inner + j];
      row.sort((a, b) => (descending ? -1 : 1) * compareTorch(at(a), at(b)));
      for (let i = 0; i < k; i++) {
        values[o * k * inner + i * inner + j] = at(row[i]);
        indices[o * k * inner + i * inner + j] = row[i];
      }
    }
  return { values, indices };
}

/** Shapes with a dim: rows, columns, 0-d, empties, long rows (radix and selection), random ones. */
function shapes(rng: Rng): [number[], number][] {
  const list: [number[], number][] = [
    [[], 0],
    [[1], 0],
    [[7], -1],
    [[0], 0],
    [[0, 5], 1],
    [[4, 0], 1],
    [[9, 3], 0],
    [[7, 37], 1],
    [[3, 5, 4], 1],
    [[2, 600], 1],
    [[700, 2], 0],
    [[1, 3000], -1],
  ];
  for (let k = 0; k < 5; k++) {
    const s = randShape(rng, 4);
    list.push([s, s.length ? randInt(rng, -s.length, s.length - 1) : 0]);
  }
  return list;
}

/** Values with many ties (small integers), and for floats NaN, +-0 and +-inf among them. */
function tieValues(rng: Rng, n: number, dtype: string): number[] {
  const special = [NaN, -0, 0, Infinity, -Infinity];
  return Array.from({ length: n }, () => {
    if (dtype === 'bool') return rng() < 0.5 ? 1 : 0;
    if (isFloating(dtype as never) && rng() < 0.25) return special[randInt(rng, 0, special.length - 1)];
    return randInt(rng, dtype === 'uint8' ? 0 : -3, 3);
  });
}

function sortCases(rng: Rng, dtype: (typeof ALL_DTYPES)[number]): Case[] {
  const out: Case[] = [];
  const push = (label: string, got: ValuesIndices, want: { values: number[]; indices: number[] }, shape: number[]) => {
    out.push({ label: `${label} values`, got: got.values, want: { shape, data: want.values } });
    out.push({ label: `${label} indices`, got: got.indices, want: { shape: shape.slice(), data: want.indices } });
  };
  for (const [shape, dim] of shapes(rng)) {
    const d = shape.length ? (dim < 0 ? dim + shape.length : dim) : 0;
    const n = shape.length ? shape[d] : 1;
    for (const ties of [false, true]) {
      const layout = LAYOUTS[randInt(rng, 0, 3)];
      const A = makeInput(rng, shape, dtype, layout);
      let src = A.t;
      let ref = A.ref.data;
      if (ties) {
        ref = tieValues(rng, numelOf(shape), dtype).map((v) => roundTo(dtype, v));
        src = fromNumbers(ref, shape, dtype);
      }
      const tag = `${shapeStr(shape)} dim ${dim} ${ties ? 'ties' : layout}`;
      for (const descending of [false, true])
        push(
          `sort ${tag}${descending ? ' desc' : ''}`,
          sort(src, dim, { descending }),
          refSort(ref, shape, d, n, descending),
          shape,
        );
      const k = randInt(rng, 0, n);
      const kshape = shape.map((s, i) => (i === d ? k : s));
      const outShape = shape.length === 0 && k === 0 ? [0] : kshape;
      const largest = rng() < 0.5;
      push(
        `topk k=${k} ${largest ? 'largest' : 'smallest'} ${tag}`,
        topk(src, k, dim, { largest }),
        refSort(ref, shape, d, k, largest),
        outShape,
      );
      if (n > 0) {
        const kk = randInt(rng, 1, n);
        const r = refSort(ref, shape, d, kk, false);
        const pick = (a: number[]) => a.filter((_, i) => Math.floor(i / numelOf(shape.slice(d + 1))) % kk === kk - 1);
        const kept = shape.filter((_, i) => i !== d);
        push(
          `kthvalue k=${kk} ${tag}`,
          kthvalue(src, kk, dim),
          { values: pick(r.values), indices: pick(r.indices) },
          kept,
        );
      }
      if (src !== A.t) src.dispose();
      A.t.dispose();
    }
  }
  return out;
}

export const sortRow: OpRow<typeof sort> = {
  name: 'sort',
  kind: 'custom',
  native: { nin: 1, nout: 2, nattr: 3 },
  dtypes: ALL_DTYPES,
  fn: sort,
  grad: (g, c) => [
    zeros(c.inputs[0]._shape.slice(), { dtype: g.dtype, device: g.device }).scatterAdd(
      c.attrs.dim as number,
      c.inputs[1],
      g,
    ),
    null,
  ],
  cases: sortCases,
  gradSamples: (rng) => [
    { label: 'sort rows', fn: (x) => sort(x).values, inputs: [gradInput(rng, [3, 5])] },
    {
      label: 'sort dim 0 descending',
      fn: (x) => sort(x, 0, { descending: true }).values,
      inputs: [gradInput(rng, [4, 3])],
    },
    { label: 'topk inner dim', fn: (x) => topk(x, 2, 1).values, inputs: [gradInput(rng, [2, 5, 3])] },
    {
      label: 'topk smallest, long row',
      fn: (x) => topk(x, 3, -1, { largest: false }).values,
      inputs: [gradInput(rng, [2, 40])],
    },
    { label: 'kthvalue keepdim', fn: (x) => kthvalue(x, 2, 0, true).values, inputs: [gradInput(rng, [4, 3])] },
    { label: 'kthvalue 0-d', fn: (x) => kthvalue(x, 1).values, inputs: [gradInput(rng, [])] },
    { label: 'msort', fn: (x) => msort(x), inputs: [gradInput(rng, [5, 2])] },
  ],
  errors: () => {
    const t = () => fromNumbers([1, 2, 3, 4, 5, 6], [2, 3], 'float32');
    return errorCases([
      ['sort: dim out of range', () => sort(t(), 2), 'ERR_ARG'],
      ['sort: dim out of range (negative)', () => sort(t(), { dim: -3 }), 'ERR_ARG'],
      ['sort: not a tensor', () => sort([1, 2] as never), 'ERR_ARG'],
      ['sort: bad options', () => sort(t(), 'x' as never), 'ERR_ARG'],
      ['topk: k above the size', () => topk(t(), 4), 'ERR_ARG'],
      ['topk: negative k', () => topk(t(), -1), 'ERR_ARG'],
      ['topk: fractional k', () => topk(t(), 1.5), 'ERR_ARG'],
      ['topk: dim out of range', () => topk(t(), 1, 5), 'ERR_ARG'],
      ['kthvalue: k = 0', () => kthvalue(t(), 0), 'ERR_ARG'],
      ['kthvalue: k above the size', () => kthvalue(t(), 3, 0), 'ERR_ARG'],
      ['kthvalue: empty dim', () => kthvalue(fromNumbers([], [2, 0], 'float32'), 1), 'ERR_ARG'],
      ['argsort: dim out of range', () => argsort(t(), 3), 'ERR_ARG'],
    ]);
  },
};
