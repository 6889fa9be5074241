/**
 * View ops: reshape, permute, expand and slice are primitives that only change (shape, strides,
 * offset); every other view (view, transpose, narrow, select, squeeze, unsqueeze, flatten,
 * broadcastTo) is a composite of them. slice_backward is the gradient of slice.
 */
import { gradMode } from '../autograd/grad_mode';
import { PartialGrad, record, recordUnread } from '../autograd/node';
import { fromNumbers, zeros } from '../creation';
import { DType, ALL_DTYPES, isFloating } from '../dtype';
import { KilnError } from '../errors';
import { inferShape, MAX_DIMS, normDim, numelOf, shapeStr, viewStrides } from '../shape';
import { Tensor } from '../tensor';
import { checkTensor, sumTo, withDetached } from './kinds';
import type { Case, OpRow, RefValue, Rng } from './row';
import { LAYOUTS, broadcastAt, makeInput, randInt, ravel, unravel, errorCases, gradInput } from './samples';

const grads = (
  name: string,
  out: Tensor,
  x: Tensor,
  fn: Parameters<typeof record>[3],
  attrs: Record<string, unknown> = {},
) => (isFloating(x.dtype) ? recordUnread(name, out, [x], fn, attrs) : out);

function checkShapeArg(shape: unknown, op: string): number[] {
  if (!Array.isArray(shape) || shape.some((s) => typeof s !== 'number'))
    throw new KilnError('ERR_SHAPE', `${op}: shape must be an array of numbers, got ${JSON.stringify(shape)}`);
  return shape as number[];
}

/** reshape: a view when the strides allow it, else a copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, 'reshape', 'input');
  const target = inferShape(checkShapeArg(shape, 'reshape'), x.numel(), 'reshape', x._shape);
  const st = viewStrides(x._shape, x._strides, target);
  let out: Tensor;
  if (st) out = x._view(target, st, x._offset);
  else {
    const xd = x.detach();
    const c = xd.contiguous();
    if (c !== xd) xd.dispose();
    out = c._view(target, viewStrides(c._shape, c._strides, target)!, c._offset);
    c.dispose();
  }
  return grads('reshape', out, x, (g, c) => [g.reshape(c.inputs[0]._shape.slice())]);
}

/** view: like reshape but never copies (ERR_SHAPE when the strides do not allow it). */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, 'view', 'input');
  const target = inferShape(checkShapeArg(shape, 'view'), x.numel(), 'view', x._shape);
  if (!viewStrides(x._shape, x._strides, target))
    throw new KilnError(
      'ERR_SHAPE',
      `view: shape ${shapeStr(target)} is not compatible with the strides [${x._strides.join(', ')}] of shape ${shapeStr(x._shape)}; use reshape()`,
    );
  return reshape(x, target);
}

/** permute without recording autograd (for kernels' internal views). */
export function permuteRaw(x: Tensor, dims: readonly number[]): Tensor {
  const { out } = permuteImpl(x, dims);
  return out;
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const { out, p } = permuteImpl(x, dims);
  return grads(
    'permute',
    out,
    x,
    (g, c) => {
      const perm = c.attrs.p as number[];
      const inv = new Array<number>(perm.length);
      perm.forEach((d, i) => (inv[d] = i));
      return [g.permute(inv)];
    },
    { p },
  );
}

function permuteImpl(x: Tensor, dims: readonly number[]): { out: Tensor; p: number[] } {
  checkTensor(x, 'permute', 'input');
  if (!Array.isArray(dims) || dims.length !== x.ndim)
    throw new KilnError(
      'ERR_ARG',
      `permute: dims [${dims}] must list each of the ${x.ndim} dims of shape ${shapeStr(x._shape)} once`,
    );
  const p = dims.map((d) => normDim(d, x.ndim, 'permute'));
  if (new Set(p).size !== p.length) throw new KilnError('ERR_ARG', `permute: dims [${dims}] repeat a dim`);
  return {
    out: x._view(
      p.map((d) => x._shape[d]),
      p.map((d) => x._strides[d]),
      x._offset,
    ),
    p,
  };
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  checkTensor(x, 'transpose', 'input');
  const a = normDim(dim0, x.ndim, 'transpose', 'dim0'),
    b = normDim(dim1, x.ndim, 'transpose', 'dim1');
  const p = Array.from({ length: x.ndim }, (_, i) => i);
  if (x.ndim === 0) return permute(x, []);
  [p[a], p[b]] = [p[b], p[a]];
  return permute(x, p);
}

/** expand: broadcast size-1 dims (and add leading dims) without copying; -1 keeps a size. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const { out, same } = expandImpl(x, shape);
  if (same) return grads('expand', out, x, (g) => [g]);
  return grads('expand', out, x, (g, c) => [sumTo(g, c.inputs[0]._shape)]);
}

/** expand without recording autograd (for kernels' internal broadcasting). */
export const expandRaw = (x: Tensor, shape: readonly number[]): Tensor => expandImpl(x, shape).out;

function expandImpl(x: Tensor, shape: readonly number[]): { out: Tensor; same: boolean } {
  checkTensor(x, 'expand', 'input');
  checkShapeArg(shape, 'expand');
  if (shape.length < x.ndim || shape.length > MAX_DIMS)
    throw new KilnError('ERR_SHAPE', `expand: cannot expand shape ${shapeStr(x._shape)} to ${shapeStr(shape)}`);
  const lead = shape.length - x.ndim;
  const outShape: number[] = [],
    st: number[] = [];
  let same = lead === 0;
  for (let d = 0; d < shape.length; d++) {
    const want = shape[d];
    if (d < lead) {
      if (!Number.isInteger(want) || want < 0)
        throw new KilnError('ERR_SHAPE', `expand: invalid size ${want} in ${shapeStr(shape)}`);
      outShape.push(want);
      st.push(0);
      continue;
    }
    const have = x._shape[d - lead];
    const size = want === -1 ? have : want;
    if (size === have) {
      outShape.push(have);
      st.push(x._strides[d - lead]);
    } else if (have === 1 && Number.isInteger(size) && size >= 0) {
      outShape.push(size);
      st.push(0);
      same = false;
    } else
      throw new KilnError(
        'ERR_SHAPE',
        `expand: size ${have} at dim ${d - lead} of ${shapeStr(x._shape)} cannot expand to ${size} (target ${shapeStr(shape)})`,
      );
  }
  return { out: x._view(outShape, st, x._offset), same };
}

/** Python-style slice bounds along one dim. */
function sliceBounds(size: number, start: number | undefined, end: number | undefined, step: number) {
  if (!Number.isInteger(step) || step <= 0)
    throw new KilnError('ERR_ARG', `slice: step must be a positive integer, got ${step}`);
  let s = start ?? 0,
    e = end ?? size;
  if (!Number.isInteger(s) || !Number.isInteger(e))
    throw new KilnError('ERR_ARG', `slice: start and end must be integers, got ${start} and ${end}`);
  if (s < 0) s += size;
  if (e < 0) e += size;
  s = Math.min(Math.max(s, 0), size);
  e = Math.min(Math.max(e, s), size);
  return { s, len: Math.ceil((e - s) / step) };
}

/** slice(dim, start, end, step): x[..., start:end:step, ...] as a view (bounds clamp like Python). */
export function slice(x: Tensor, dim: number, start?: number, end?: number, step = 1): Tensor {
  checkTensor(x, 'slice', 'input');
  if (x.ndim === 0) throw new KilnError('ERR_ARG', 'slice: cannot slice a 0-d tensor');
  const d = normDim(dim, x.ndim, 'slice');
  const { s, len } = sliceBounds(x._shape[d], start, end, step);
  const shape = x._shape.slice(),
    st = x._strides.slice();
  shape[d] = len;
  st[d] = x._strides[d] * step;
  const out = x._view(shape, st, x._offset + (len > 0 ? s * x._strides[d] : 0));
  return grads('slice', out, x, (g, c) => [sliceGrad(g, c.inputs[0]._shape.slice(), d, s, s + len * step, step)], {
    d,
  });
}

/**
 * slice's gradient: with a graph of the gradient recorded, slice_backward; without, a partial
 * gradient that the engine adds into the slice of its sum (autograd/node.ts PartialGrad).
 */
function sliceGrad(g: Tensor, shape: number[], dim: number, start: number, end: number, step: number) {
  if (gradMode.enabled) return sliceBackward(g, shape, dim, start, end, step);
  return new PartialGrad(
    () => sliceBackward(g, shape, dim, start, end, step),
    (acc) => {
      const v = acc.slice(dim, start, end, step);
      v.add_(g);
      v.dispose();
    },
  );
}

/** The gradient of slice: g placed into zeros of the input's shape. */
export function sliceBackward(
  g: Tensor,
  shape: number[],
  dim: number,
  start: number,
  end: number,
  step: number,
): Tensor {
  checkTensor(g, 'slice_backward', 'grad');
  const out = zeros(shape, { dtype: g.dtype, device: g.device });
  const v = out.slice(dim, start, end, step);
  withDetached(g, (gd) => v.copy_(gd));
  v.dispose();
  return isFloating(g.dtype) ? record('slice_backward', out, [g], (gg) => [gg.slice(dim, start, end, step)]) : out;
}

export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  checkTensor(x, 'narrow', 'input');
  const d = normDim(dim, x.ndim, 'narrow');
  const size = x._shape[d];
  const s = start < 0 ? start + size : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > size)
    throw new KilnError(
      'ERR_INDEX',
      `narrow: start ${start} and length ${length} are out of range for dim ${d} of size ${size}`,
    );
  return slice(x, d, s, s + length);
}

/** select(dim, index): drops dim, like x[..., index, ...]. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  checkTensor(x, 'select', 'input');
  const d = normDim(dim, x.ndim, 'select');
  const size = x._shape[d];
  if (!Number.isInteger(index) || index < -size || index >= size)
    throw new KilnError('ERR_INDEX', `select: index ${index} is out of range for dim ${d} of size ${size}`);
  const i = index < 0 ? index + size : index;
  const s = slice(x, d, i, i + 1);
  const out = squeeze(s, d);
  s.dispose();
  return out;
}

export function squeeze(x: Tensor, dim?: number | number[]): Tensor {
  checkTensor(x, 'squeeze', 'input');
  const dims = dim === undefined ? null : (Array.isArray(dim) ? dim : [dim]).map((d) => normDim(d, x.ndim, 'squeeze'));
  return reshape(
    x,
    x._shape.filter((s, d) => !(s === 1 && (dims === null || dims.includes(d)))),
  );
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  checkTensor(x, 'unsqueeze', 'input');
  const d = normDim(dim, x.ndim + 1, 'unsqueeze');
  const shape = x._shape.slice();
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  checkTensor(x, 'flatten', 'input');
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim(startDim, x.ndim, 'flatten', 'startDim'),
    e = normDim(endDim, x.ndim, 'flatten', 'endDim');
  if (s > e) throw new KilnError('ERR_ARG', `flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...x._shape.slice(0, s), numelOf(x._shape.slice(s, e + 1)), ...x._shape.slice(e + 1)];
  return reshape(x, shape);
}

export const broadcastTo = (x: Tensor, shape: readonly number[]): Tensor => expand(x, shape);

// ---------------------------------------------------------------------------------------------
// Rows and their references

const refMap = (A: RefValue, outShape: number[], srcIndex: (idx: number[]) => number[]): RefValue => {
  const n = numelOf(outShape);
  const data = new Array<number>(n);
  for (let k = 0; k < n; k++) data[k] = A.data[ravel(srcIndex(unravel(k, outShape)), A.shape)];
  return { shape: outShape, data };
};

const viewCases = (
  rng: Rng,
  dtype: DType,
  make: (A: { t: Tensor; ref: RefValue }, rng: Rng) => Case | null,
): Case[] => {
  const out: Case[] = [];
  for (const shape of [[2, 3, 4], [5, 1, 6], [4, 4], [7], [1, 0, 3], [3, 2, 1, 2]])
    for (const layout of LAYOUTS) {
      const A = makeInput(rng, shape, dtype, layout);
      const c = make(A, rng);
      if (c) out.push(c);
      A.t.dispose();
    }
  return out;
};

const f64 = gradInput;
const errs = errorCases;
const t23 = () => fromNumbers([1, 2, 3, 4, 5, 6], [2, 3], 'float32');

export const reshapeRow: OpRow<typeof reshape> = {
  name: 'reshape',
  kind: 'movement',
  native: null,
  dtypes: ALL_DTYPES,
  fn: reshape,
  grad: (g, c) => [g.reshape(c.inputs[0]._shape.slice())],
  cases: (rng, dtype) =>
    viewCases(rng, dtype, (A) => {
      const n = A.ref.data.length;
      const target = n % 2 === 0 && n > 0 ? [2, -1] : [-1];
      const shape = target.length === 2 ? [2, n / 2] : [n];
      return {
        label: `${shapeStr(A.ref.shape)} -> ${shapeStr(target)}`,
        got: reshape(A.t, target),
        want: { shape, data: A.ref.data },
      };
    }),
  gradSamples: (rng) => [
    { label: '[3,4] -> [2,6]', fn: (x) => reshape(x.transpose(0, 1), [2, 6]), inputs: [f64(rng, [3, 4])] },
  ],
  errors: () =>
    errs([
      ['wrong numel', () => reshape(t23(), [4, 2]), 'ERR_SHAPE'],
      ['two -1', () => reshape(t23(), [-1, -1]), 'ERR_SHAPE'],
      ['view of non-viewable strides', () => view(t23().transpose(0, 1), [6]), 'ERR_SHAPE'],
    ]),
};

export const permuteRow: OpRow<typeof permute> = {
  name: 'permute',
  kind: 'movement',
  native: null,
  dtypes: ALL_DTYPES,
  fn: permute,
  grad: (g) => [g],
  cases: (rng, dtype) =>
    viewCases(rng, dtype, (A) => {
      const nd = A.ref.shape.length;
      const p = Array.from({ length: nd }, (_, i) => nd - 1 - i);
      const outShape = p.map((d) => A.ref.shape[d]);
      const want = refMap(A.ref, outShape, (idx) => {
        const src = new Array<number>(nd);
        p.forEach((d, i) => (src[d] = idx[i]));
        return src;
      });
      return { label: `${shapeStr(A.ref.shape)} [${p}]`, got: permute(A.t, p).contiguous(), want };
    }),
  gradSamples: (rng) => [{ label: '[2,3,4] [2,0,1]', fn: (x) => permute(x, [2, 0, 1]), inputs: [f64(rng, [2, 3, 4])] }],
  errors: () =>
    errs([
      ['wrong length', () => permute(t23(), [0]), 'ERR_ARG'],
      ['repeated dim', () => permute(t23(), [1, 1]), 'ERR_ARG'],
      ['dim out of range', () => permute(t23(), [0, 2]), 'ERR_ARG'],
    ]),
};

export const expandRow: OpRow<typeof expand> = {
  name: 'expand',
  kind: 'movement',
  native: null,
  dtypes: ALL_DTYPES,
  fn: expand,
  grad: (g, c) => [sumTo(g, c.inputs[0]._shape)],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const [shape, target] of [
      [
        [3, 1],
        [2, 3, 4],
      ],
      [[1], [5]],
      [[], [2, 2]],
      [
        [2, 1, 3],
        [2, 4, 3],
      ],
      [
        [1, 0],
        [3, 0],
      ],
    ] as number[][][]) {
      const A = makeInput(rng, shape, dtype, 'contiguous');
      const n = numelOf(target);
      const data = Array.from({ length: n }, (_, k) => broadcastAt(A.ref, unravel(k, target)));
      out.push({
        label: `${shapeStr(shape)} -> ${shapeStr(target)}`,
        got: expand(A.t, target).contiguous(),
        want: { shape: target, data },
      });
      A.t.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [{ label: '[3,1] -> [2,3,4]', fn: (x) => expand(x, [2, 3, 4]), inputs: [f64(rng, [3, 1])] }],
  errors: () =>
    errs([
      ['non-1 dim', () => expand(t23(), [4, 3]), 'ERR_SHAPE'],
      ['fewer dims', () => expand(t23(), [6]), 'ERR_SHAPE'],
    ]),
};

export const sliceRow: OpRow<typeof slice> = {
  name: 'slice',
  kind: 'movement',
  native: null,
  dtypes: ALL_DTYPES,
  fn: slice,
  grad: (g) => [g],
  cases: (rng, dtype) =>
    viewCases(rng, dtype, (A, r) => {
      const nd = A.ref.shape.length,
        dim = randInt(r, 0, nd - 1),
        size = A.ref.shape[dim];
      const start = randInt(r, -size - 1, size),
        end = randInt(r, -size, size + 2),
        step = randInt(r, 1, 3);
      let s = start < 0 ? Math.max(start + size, 0) : Math.min(start, size);
      let e = end < 0 ? Math.max(end + size, 0) : Math.min(end, size);
      e = Math.max(e, s);
      const len = Math.ceil((e - s) / step);
      const outShape = A.ref.shape.slice();
      outShape[dim] = len;
      const want = refMap(A.ref, outShape, (idx) => idx.map((v, d) => (d === dim ? s + v * step : v)));
      return {
        label: `${shapeStr(A.ref.shape)} dim ${dim} ${start}:${end}:${step}`,
        got: slice(A.t, dim, start, end, step).contiguous(),
        want,
      };
    }),
  gradSamples: (rng) => [
    { label: '[5,4] dim0 1:5:2', fn: (x) => slice(x, 0, 1, 5, 2), inputs: [f64(rng, [5, 4])] },
    { label: '[5,4] dim1 -3:', fn: (x) => slice(x, 1, -3), inputs: [f64(rng, [5, 4])] },
  ],
  errors: () =>
    errs([
      ['step 0', () => slice(t23(), 0, 0, 2, 0), 'ERR_ARG'],
      ['negative step', () => slice(t23(), 0, 0, 2, -1), 'ERR_ARG'],
      ['dim out of range', () => slice(t23(), 2, 0, 1), 'ERR_ARG'],
      ['narrow out of range', () => narrow(t23(), 1, 2, 2), 'ERR_INDEX'],
      ['select out of range', () => select(t23(), 0, 2), 'ERR_INDEX'],
    ]),
};

export const sliceBackwardRow: OpRow<typeof sliceBackward> = {
  name: 'slice_backward',
  kind: 'custom',
  native: null,
  dtypes: ALL_DTYPES,
  fn: sliceBackward,
  grad: (g) => [g],
  cases: (rng, dtype) => {
    const A = makeInput(rng, [2, 3], dtype);
    const data = new Array<number>(5 * 3).fill(0);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) data[(1 + 2 * i) * 3 + j] = A.ref.data[i * 3 + j];
    const got = sliceBackward(A.t, [5, 3], 0, 1, 5, 2);
    A.t.dispose();
    return [{ label: '[2,3] into [5,3] 1:5:2', got, want: { shape: [5, 3], data } }];
  },
  gradSamples: (rng) => [
    { label: '[2,3] into [5,3]', fn: (g) => sliceBackward(g, [5, 3], 0, 1, 5, 2), inputs: [f64(rng, [2, 3])] },
  ],
  errors: () => errs([['not a tensor', () => sliceBackward(null as unknown as Tensor, [1], 0, 0, 1, 1), 'ERR_ARG']]),
};
