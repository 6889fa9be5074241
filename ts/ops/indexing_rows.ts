/**
 * Op-table rows of the index and assembly ops (ops/indexing.ts): their conformance cases,
 * gradient samples and error cases.
 */
import { fromNumbers } from '../creation';
import { ALL_DTYPES, DType } from '../dtype';
import { broadcastShapes, numelOf, shapeStr } from '../shape';
import { cat, gather, pad, scatter, scatterAdd, where } from './indexing';
import type { Case, OpRow, Rng } from './row';
import { broadcastAt, makeInput, randInt, ravel, unravel, errorCases, gradInput } from './samples';

const f64 = gradInput;
const errs = errorCases;
const idxTensor = (vals: number[], shape: number[]) => fromNumbers(vals, shape, 'int64');
const randIndex = (rng: Rng, shape: number[], limit: number) =>
  Array.from({ length: numelOf(shape) }, () => randInt(rng, -limit, limit - 1));

export const gatherRow: OpRow<typeof gather> = {
  name: 'gather',
  kind: 'index',
  native: { nin: 2, nout: 1, nattr: 1 },
  dtypes: ALL_DTYPES,
  fn: gather,
  grad: (g) => [g, null],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const [shape, ishape, dim] of [
      [[4, 5], [3, 5], 0],
      [[4, 5], [4, 7], 1],
      [[2, 3, 4], [2, 2, 4], 1],
      [[6], [10], 0],
      [[3, 0], [2, 0], 0],
    ] as [number[], number[], number][])
      for (const layout of ['contiguous', 'transposed'] as const) {
        const A = makeInput(rng, shape, dtype, layout);
        const limit = shape[dim];
        const iv = limit ? randIndex(rng, ishape, limit) : [];
        const data = iv.map((ix, k) => {
          const idx = unravel(k, ishape);
          idx[dim] = ix < 0 ? ix + limit : ix;
          return A.ref.data[ravel(idx, shape)];
        });
        out.push({
          label: `${shapeStr(shape)} index ${shapeStr(ishape)} dim ${dim} ${layout}`,
          got: gather(A.t, dim, idxTensor(iv, ishape)),
          want: { shape: ishape, data },
        });
        A.t.dispose();
      }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: '[4,5] dim 0',
      fn: (x) => gather(x, 0, idxTensor([0, 3, 3, 1, 2, 0, 0, 0, 1, 2], [2, 5])),
      inputs: [f64(rng, [4, 5])],
    },
  ],
  errors: () =>
    errs([
      ['index out of range', () => gather(fromNumbers([1, 2], [2], 'float32'), 0, idxTensor([2], [1])), 'ERR_INDEX'],
      [
        'float index',
        () => gather(fromNumbers([1, 2], [2], 'float32'), 0, fromNumbers([0], [1], 'float32')),
        'ERR_DTYPE',
      ],
      ['rank mismatch', () => gather(fromNumbers([1, 2], [1, 2], 'float32'), 0, idxTensor([0], [1])), 'ERR_SHAPE'],
    ]),
};

const scatterCases =
  (accumulate: boolean) =>
  (rng: Rng, dtype: DType): Case[] => {
    const out: Case[] = [];
    for (const [shape, ishape, dim] of [
      [[4, 5], [3, 5], 0],
      [[4, 5], [4, 3], 1],
      [[6], [10], 0],
    ] as [number[], number[], number][]) {
      const A = makeInput(rng, shape, dtype);
      const S = makeInput(rng, ishape, dtype);
      const limit = shape[dim];
      // scatter (not add) with duplicate targets is order-defined here (last write wins); keep indices unique per slot for the reference
      const iv = accumulate
        ? randIndex(rng, ishape, limit)
        : ishape[dim] <= limit
          ? uniqueIndex(rng, ishape, dim, limit)
          : null;
      if (!iv) continue;
      const data = A.ref.data.slice();
      iv.forEach((ix, k) => {
        const idx = unravel(k, ishape);
        idx[dim] = ix < 0 ? ix + limit : ix;
        const o = ravel(idx, shape);
        data[o] = accumulate ? data[o] + S.ref.data[k] : S.ref.data[k];
      });
      const fn = accumulate ? scatterAdd : scatter;
      const want = { shape, data: data.map((v) => (dtype === 'bool' ? +(v !== 0) : v)) };
      out.push({
        label: `${shapeStr(shape)} index ${shapeStr(ishape)} dim ${dim}`,
        got: fn(A.t, dim, idxTensor(iv, ishape), S.t),
        want,
        tol: 4,
      });
      A.t.dispose();
      S.t.dispose();
    }
    return out;
  };

function uniqueIndex(rng: Rng, ishape: number[], dim: number, limit: number): number[] {
  const out = new Array<number>(numelOf(ishape));
  const lines = numelOf(ishape) / (ishape[dim] || 1);
  for (let l = 0; l < lines; l++) {
    const perm = Array.from({ length: limit }, (_, i) => i).sort(() => rng() - 0.5);
    for (let j = 0; j < ishape[dim]; j++) {
      const idx = unravel(
        l,
        ishape.map((s, d) => (d === dim ? 1 : s)),
      );
      idx[dim] = j;
      out[ravel(idx, ishape)] = perm[j];
    }
  }
  return out;
}

export const scatterRow: OpRow<typeof scatter> = {
  name: 'scatter',
  kind: 'index',
  native: { nin: 2, nout: 1, nattr: 1 },
  dtypes: ALL_DTYPES,
  fn: scatter,
  grad: (g) => [g, null, g],
  cases: scatterCases(false),
  gradSamples: (rng) => [
    {
      label: '[4,3] dim 0',
      fn: (x, s) => scatter(x, 0, idxTensor([0, 3, 1, 2, 0, 3], [2, 3]), s),
      inputs: [f64(rng, [4, 3]), f64(rng, [2, 3])],
    },
  ],
  errors: () =>
    errs([
      [
        'index out of range',
        () => scatter(fromNumbers([1, 2], [2], 'float32'), 0, idxTensor([-3], [1]), 1),
        'ERR_INDEX',
      ],
      [
        'src dtype',
        () => scatter(fromNumbers([1, 2], [2], 'float32'), 0, idxTensor([0], [1]), fromNumbers([1], [1], 'float64')),
        'ERR_DTYPE',
      ],
    ]),
};

export const scatterAddRow: OpRow<typeof scatterAdd> = {
  name: 'scatter_add',
  kind: 'index',
  native: { nin: 2, nout: 1, nattr: 1 },
  dtypes: ALL_DTYPES,
  fn: scatterAdd,
  grad: (g) => [g, null, g],
  cases: scatterCases(true),
  gradSamples: (rng) => [
    {
      label: '[4,3] dim 0 duplicates',
      fn: (x, s) => scatterAdd(x, 0, idxTensor([0, 0, 1, 2, 0, 3], [2, 3]), s),
      inputs: [f64(rng, [4, 3]), f64(rng, [2, 3])],
    },
  ],
  errors: () =>
    errs([
      [
        'index out of range',
        () => scatterAdd(fromNumbers([1, 2], [2], 'float32'), 0, idxTensor([2], [1]), fromNumbers([1], [1], 'float32')),
        'ERR_INDEX',
      ],
    ]),
};

export const whereRow: OpRow<typeof where> = {
  name: 'where',
  kind: 'ternary',
  native: { nin: 3, nout: 1, nattr: 0 },
  dtypes: ALL_DTYPES,
  fn: where,
  grad: (g) => [null, g, g],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const [sc, sa, sb] of [
      [
        [3, 4],
        [3, 4],
        [3, 4],
      ],
      [[3, 1], [4], [3, 4]],
      [[], [2, 2], []],
      [[0, 2], [2], [1]],
    ] as number[][][]) {
      const C = makeInput(rng, sc, 'bool'),
        A = makeInput(rng, sa, dtype, 'strided'),
        B = makeInput(rng, sb, dtype);
      const shape = broadcastShapes('where', sc, sa, sb);
      const data = Array.from({ length: numelOf(shape) }, (_, k) => {
        const idx = unravel(k, shape);
        return broadcastAt(C.ref, idx) ? broadcastAt(A.ref, idx) : broadcastAt(B.ref, idx);
      });
      out.push({
        label: `${shapeStr(sc)} ${shapeStr(sa)} ${shapeStr(sb)}`,
        got: where(C.t, A.t, B.t),
        want: { shape, data },
      });
      for (const x of [A, B, C]) x.t.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: '[3,4] with [4] and [3,1]',
      fn: (a, b) => where(fromNumbers([1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1], [3, 4], 'bool'), a, b),
      inputs: [f64(rng, [4]), f64(rng, [3, 1])],
    },
  ],
  errors: () =>
    errs([
      ['non-bool condition', () => where(fromNumbers([1], [1], 'float32'), 1, 2), 'ERR_DTYPE'],
      ['shapes', () => where(fromNumbers([1, 0], [2], 'bool'), fromNumbers([1, 2, 3], [3], 'float32'), 0), 'ERR_SHAPE'],
    ]),
};

export const catRow: OpRow<typeof cat> = {
  name: 'cat',
  kind: 'custom',
  native: null,
  dtypes: ALL_DTYPES,
  fn: cat,
  grad: (g) => [g],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const [shapes, dim] of [
      [
        [
          [2, 3],
          [4, 3],
          [0, 3],
        ],
        0,
      ],
      [
        [
          [2, 3],
          [2, 1],
        ],
        1,
      ],
      [[[5], [2]], -1],
    ] as [number[][], number][]) {
      const ins = shapes.map((s) => makeInput(rng, s, dtype, 'transposed'));
      const d = dim < 0 ? dim + shapes[0].length : dim;
      const shape = shapes[0].slice();
      shape[d] = shapes.reduce((a, s) => a + s[d], 0);
      const data = Array.from({ length: numelOf(shape) }, (_, k) => {
        const idx = unravel(k, shape);
        let i = 0,
          v = idx[d];
        while (v >= shapes[i][d]) v -= shapes[i++][d];
        idx[d] = v;
        return ins[i].ref.data[ravel(idx, shapes[i])];
      });
      out.push({
        label: `${shapes.map(shapeStr).join(' ')} dim ${dim}`,
        got: cat(
          ins.map((x) => x.t),
          dim,
        ),
        want: { shape, data },
      });
      ins.forEach((x) => x.t.dispose());
    }
    return out;
  },
  gradSamples: (rng) => [
    { label: '[2,3] [1,3]', fn: (a, b) => cat([a, b], 0), inputs: [f64(rng, [2, 3]), f64(rng, [1, 3])] },
  ],
  errors: () =>
    errs([
      ['empty list', () => cat([]), 'ERR_ARG'],
      [
        'size mismatch',
        () => cat([fromNumbers([1, 2], [1, 2], 'float32'), fromNumbers([1, 2, 3], [1, 3], 'float32')], 0),
        'ERR_SHAPE',
      ],
    ]),
};

export const padRow: OpRow<typeof pad> = {
  name: 'pad',
  kind: 'custom',
  native: null,
  dtypes: ALL_DTYPES,
  fn: pad,
  grad: (g) => [g],
  cases: (rng, dtype) => {
    const A = makeInput(rng, [2, 3], dtype, 'transposed');
    const shape = [2 + 1 + 2, 3 + 2];
    const data = new Array<number>(numelOf(shape)).fill(dtype === 'bool' ? 1 : 5);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) data[(1 + i) * 5 + 2 + j] = A.ref.data[i * 3 + j];
    const got = pad(A.t, [2, 0, 1, 2], dtype === 'bool' ? 1 : 5);
    A.t.dispose();
    return [{ label: '[2,3] pads [2,0,1,2]', got, want: { shape, data } }];
  },
  gradSamples: (rng) => [{ label: '[2,3] pads [1,2]', fn: (x) => pad(x, [1, 2]), inputs: [f64(rng, [2, 3])] }],
  errors: () => errs([['odd pads', () => pad(fromNumbers([1], [1], 'float32'), [1]), 'ERR_ARG']]),
};
