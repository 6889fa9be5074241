/**
 * Index and assembly ops: gather, scatter, scatter_add and where (native kernels), cat and pad
 * (fill and copy kernels into views of a new tensor).
 */
import { record } from '../autograd/node';
import { fromNumbers, full, isCachedScalar, scalarTensor, zeros } from '../creation';
import { runKernel } from '../dispatch';
import { ALL_DTYPES, DType, isFloating, promoteTypes, promoteWithScalar } from '../dtype';
import { KilnError } from '../errors';
import { broadcastShapes, normDim, numelOf, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { castTo, checkTensor, sumTo, TensorLike } from './kinds';
import { expandRaw } from './movement';
import { OP } from './op_ids.gen';
import type { Case, ErrorCase, OpRow, Rng } from './row';
import { broadcastAt, makeInput, randInt, ravel, unravel } from './samples';

function checkIndex(op: string, x: Tensor, index: Tensor, dim: number, src?: Tensor): number {
  checkTensor(index, op, 'index');
  if (index.dtype !== 'int64' && index.dtype !== 'int32')
    throw new KilnError('ERR_DTYPE', `${op}: index must be int64 or int32, got ${index.dtype}`);
  const d = normDim(dim, x.ndim, op);
  if (index.ndim !== x.ndim && !(x.ndim === 0 && index.ndim <= 1))
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: index of shape ${shapeStr(index._shape)} must have as many dims as input ${shapeStr(x._shape)}`,
    );
  for (let k = 0; k < index.ndim; k++) {
    if (k !== d && index._shape[k] > x._shape[k])
      throw new KilnError(
        'ERR_SHAPE',
        `${op}: index of shape ${shapeStr(index._shape)} is larger than input ${shapeStr(x._shape)} at dim ${k}`,
      );
    if (src && index._shape[k] > src._shape[k])
      throw new KilnError(
        'ERR_SHAPE',
        `${op}: index of shape ${shapeStr(index._shape)} is larger than src ${shapeStr(src._shape)} at dim ${k}`,
      );
  }
  return d;
}

/** out[i][j] = x[index[i][j]][j] (dim 0), and so on for other dims. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  checkTensor(x, 'gather', 'input');
  const d = checkIndex('gather', x, index, dim);
  const out = Tensor._empty(index._shape.slice(), x.dtype, 'gather');
  runKernel(OP.GATHER, [out], [x, index], [d]);
  if (!isFloating(x.dtype)) return out;
  return record('gather', out, [x, index], (g, c) => [
    zeros(c.inputs[0]._shape.slice(), { dtype: g.dtype }).scatterAdd(d, c.inputs[1], g),
    null,
  ]);
}

function scatterImpl(name: 'scatter' | 'scatter_add', x: Tensor, dim: number, index: Tensor, src: TensorLike): Tensor {
  checkTensor(x, name, 'input');
  const s = src instanceof Tensor ? checkTensor(src, name, 'src') : null;
  if (!s && typeof src !== 'number' && typeof src !== 'boolean')
    throw new KilnError('ERR_ARG', `${name}: src must be a Tensor or a number`);
  if (s && s.dtype !== x.dtype)
    throw new KilnError('ERR_DTYPE', `${name}: src dtype ${s.dtype} differs from input dtype ${x.dtype}`);
  if (s && s.ndim !== x.ndim)
    throw new KilnError(
      'ERR_SHAPE',
      `${name}: src of shape ${shapeStr(s._shape)} must have as many dims as input ${shapeStr(x._shape)}`,
    );
  const d = checkIndex(name, x, index, dim, s ?? undefined);
  const srcT = s ?? full(index._shape.slice(), src as number, { dtype: x.dtype });
  const out = x.detach().clone();
  runKernel(name === 'scatter' ? OP.SCATTER : OP.SCATTER_ADD, [out], [index, srcT], [d]);
  if (!s) srcT.dispose();
  if (!isFloating(x.dtype)) return out;
  const inputs = s ? [x, index, s] : [x, index];
  return record(name, out, inputs, (g, c) => {
    const idx = c.inputs[1];
    const gx = name === 'scatter' ? g.scatter(d, idx, 0) : g;
    return s ? [gx, null, g.gather(d, idx)] : [gx, null];
  });
}

/** A copy of x with src written at index along dim (src may be a number). */
export const scatter = (x: Tensor, dim: number, index: Tensor, src: TensorLike): Tensor =>
  scatterImpl('scatter', x, dim, index, src);
/** A copy of x with src added at index along dim; duplicates accumulate. */
export const scatterAdd = (x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor =>
  scatterImpl('scatter_add', x, dim, index, src);

/** Elementwise choice: a where cond is true, else b (broadcasting; numbers allowed). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  checkTensor(cond, 'where', 'condition');
  if (cond.dtype !== 'bool') throw new KilnError('ERR_DTYPE', `where: condition must be bool, got ${cond.dtype}`);
  for (const [v, n] of [
    [a, 'input'],
    [b, 'other'],
  ] as const)
    if (!(v instanceof Tensor) && typeof v !== 'number' && typeof v !== 'boolean')
      throw new KilnError('ERR_ARG', `where: ${n} must be a Tensor or a number`);
  const ta = a instanceof Tensor ? checkTensor(a, 'where', 'input') : null;
  const tb = b instanceof Tensor ? checkTensor(b, 'where', 'other') : null;
  const dtype: DType =
    ta && tb
      ? promoteTypes(ta.dtype, tb.dtype)
      : ta
        ? promoteWithScalar(ta.dtype, b as number)
        : tb
          ? promoteWithScalar(tb.dtype, a as number)
          : Number.isInteger(a) && Number.isInteger(b)
            ? 'int64'
            : 'float32';
  const A = ta ?? scalarTensor(a as number, dtype),
    B = tb ?? scalarTensor(b as number, dtype);
  const shape = broadcastShapes('where', cond._shape, A._shape, B._shape);
  const ca = castTo(A, dtype),
    cb = castTo(B, dtype);
  const ec = expandRaw(cond, shape),
    ea = expandRaw(ca, shape),
    eb = expandRaw(cb, shape);
  const out = Tensor._empty(shape, dtype, 'where');
  runKernel(OP.WHERE, [out], [ec, ea, eb]);
  for (const t of [ec, ea, eb, ca !== A ? ca : null, cb !== B ? cb : null, ta ? null : A, tb ? null : B])
    if (t && !isCachedScalar(t)) t.dispose();
  if (!isFloating(dtype)) return out;
  const ins = [cond, ...(ta ? [ta] : []), ...(tb ? [tb] : [])];
  return record('where', out, ins, (g, c) => {
    const cnd = c.inputs[0];
    const grads: (Tensor | null)[] = [null];
    if (ta) grads.push(castTo(sumTo(where(cnd, g, 0), c.inputs[1]._shape), c.inputs[1].dtype));
    if (tb) grads.push(castTo(sumTo(where(cnd, 0, g), c.inputs[ta ? 2 : 1]._shape), c.inputs[ta ? 2 : 1].dtype));
    return grads;
  });
}

/** Concatenates along dim; all tensors share the other sizes (dtypes promote). */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0)
    throw new KilnError('ERR_ARG', 'cat: expected a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor(t, 'cat', `tensors[${i}]`));
  const first = tensors[0];
  const d = normDim(dim, first.ndim, 'cat');
  if (first.ndim === 0)
    throw new KilnError('ERR_SHAPE', 'cat: zero-dimensional tensors cannot be concatenated; use stack()');
  let dtype = first.dtype;
  let total = 0;
  tensors.forEach((t, i) => {
    if (t.ndim !== first.ndim || t._shape.some((s, k) => k !== d && s !== first._shape[k]))
      throw new KilnError(
        'ERR_SHAPE',
        `cat: tensors[${i}] has shape ${shapeStr(t._shape)}, which does not match ${shapeStr(first._shape)} outside dim ${d}`,
      );
    dtype = promoteTypes(dtype, t.dtype);
    total += t._shape[d];
  });
  const shape = first._shape.slice();
  shape[d] = total;
  const out = Tensor._empty(shape, dtype, 'cat');
  let off = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    const n = t._shape[d];
    sizes.push(n);
    if (n > 0 && numelOf(t._shape) > 0) {
      const v = out.slice(d, off, off + n);
      v.copy_(t.detach());
      v.dispose();
    }
    off += n;
  }
  if (!isFloating(dtype)) return out;
  return record('cat', out, tensors.slice(), (g, c) => {
    let o = 0;
    return c.inputs.map((t, i) => {
      const gi = g.slice(d, o, o + sizes[i]);
      o += sizes[i];
      return castTo(gi, t.dtype);
    });
  });
}

/**
 * Constant padding, PyTorch's order: [left, right] for the last dim, then [top, bottom] for
 * the one before, and so on.
 */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  checkTensor(x, 'pad', 'input');
  if (
    !Array.isArray(pads) ||
    pads.length % 2 !== 0 ||
    pads.length / 2 > x.ndim ||
    pads.some((p) => !Number.isInteger(p) || p < 0)
  )
    throw new KilnError(
      'ERR_ARG',
      `pad: pads [${pads}] must be pairs of non-negative integers for at most ${x.ndim} dims`,
    );
  const shape = x._shape.slice();
  const starts = new Array<number>(x.ndim).fill(0);
  for (let i = 0; i < pads.length / 2; i++) {
    const d = x.ndim - 1 - i;
    starts[d] = pads[2 * i];
    shape[d] += pads[2 * i] + pads[2 * i + 1];
  }
  const out = full(shape, value, { dtype: x.dtype });
  let v = out.detach();
  for (let d = 0; d < x.ndim; d++) {
    const nv = v.slice(d, starts[d], starts[d] + x._shape[d]);
    v.dispose();
    v = nv;
  }
  v.copy_(x.detach());
  v.dispose();
  if (!isFloating(x.dtype)) return out;
  return record('pad', out, [x], (g, c) => {
    let gv = g;
    for (let d = 0; d < c.inputs[0].ndim; d++) gv = gv.slice(d, starts[d], starts[d] + c.inputs[0]._shape[d]);
    return [gv];
  });
}

// ---------------------------------------------------------------------------------------------
// Rows

const f64 = (rng: Rng, shape: number[]) => makeInput(rng, shape, 'float64').t.requiresGrad_();
const errs = (list: [string, () => unknown, ErrorCase['code']][]): ErrorCase[] =>
  list.map(([label, run, code]) => ({ label, run, code }));
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
