/**
 * softmax and logSoftmax along any dim as one fused native kernel each way (native/cpu/softmax.cpp):
 * the input is viewed as [outer, n, inner] and every row (or column strip) is read from memory once.
 * The backward is its own row, softmax_backward, whose gradient is written with ops, so gradients
 * of gradients work. float16/bfloat16 compute in float32.
 */
import { record } from '../autograd/node';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { FLOAT_DTYPES, isFloating, roundTo } from '../dtype';
import { KilnError } from '../errors';
import { normDim, numelOf, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { computeDtype, dense, disposeTemps, inComputeDtype } from './dense';
import { castTo, checkTensor } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { LAYOUTS, errorCases, gradInput, makeInput, randInt, randShape } from './samples';

function checkFloat(op: string, x: Tensor): void {
  if (!isFloating(x.dtype))
    throw new KilnError('ERR_DTYPE', `${op}: needs a floating input, got ${x.dtype}; use x.to('float32')`);
}

/** Integer and bool inputs compute in float32, as kiln's other floating ops (exp, log) do. */
const floated = (x: Tensor): Tensor => (isFloating(x.dtype) ? x : x.to('float32'));

function fused(x: Tensor, d: number, log: boolean): Tensor {
  if (computeDtype(x.dtype) !== x.dtype) return inComputeDtype(x, (xf) => fused(xf, d, log));
  const op = log ? 'logSoftmax' : 'softmax';
  const xc = dense(x);
  const out = Tensor._empty(x._shape.slice(), x.dtype, op);
  runKernel(OP.SOFTMAX, [out], [xc], [d, log ? 1 : 0]);
  disposeTemps([[xc, x]]);
  return record(op, out, [x], (g, c) => [softmaxBackward(g, c.output!, d, log)], { dim: d, log }, true);
}

/**
 * Softmax along dim (torch.softmax), stable for large logits; a row of all -inf gives NaN as in
 * PyTorch. Integer inputs compute in float32.
 * @example
 * kiln.tensor([[1, 2, 3]]).softmax(-1);
 */
export function softmax(x: Tensor, dim: number): Tensor {
  checkTensor(x, 'softmax', 'input');
  return fused(floated(x), normDim(dim, x.ndim, 'softmax'), false);
}

/** log(softmax(x)) along dim in one pass; integer inputs compute in float32 (torch.log_softmax), without forming softmax first. */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  checkTensor(x, 'logSoftmax', 'input');
  return fused(floated(x), normDim(dim, x.ndim, 'logSoftmax'), true);
}

/**
 * The gradient of softmax (log = false: gy * y summed out, y (gy - sum(gy y))) or of logSoftmax
 * (gy - exp(y) sum(gy)) along dim, given the forward's output y. Differentiable in both inputs.
 */
export function softmaxBackward(gy: Tensor, y: Tensor, dim: number, log: boolean): Tensor {
  checkTensor(gy, 'softmaxBackward', 'grad');
  checkTensor(y, 'softmaxBackward', 'output');
  checkFloat('softmaxBackward', y);
  if (gy._shape.join() !== y._shape.join())
    throw new KilnError(
      'ERR_SHAPE',
      `softmaxBackward: grad ${shapeStr(gy._shape)} and output ${shapeStr(y._shape)} must have one shape`,
    );
  const d = normDim(dim, y.ndim, 'softmaxBackward');
  const wide = computeDtype(y.dtype);
  if (wide !== y.dtype) {
    const [gf, yf] = [gy.to(wide), y.to(wide)];
    const xf = softmaxBackward(gf, yf, d, log);
    const out = xf.to(y.dtype);
    disposeTemps([
      [gf, gy],
      [yf, y],
      [xf, null],
    ]);
    return out;
  }
  const g0 = castTo(gy, y.dtype);
  const gc = dense(g0),
    yc = dense(y);
  const out = Tensor._empty(y._shape.slice(), y.dtype, 'softmaxBackward');
  runKernel(OP.SOFTMAX_BACKWARD, [out], [gc, yc], [d, log ? 1 : 0]);
  disposeTemps([
    [gc, g0],
    [yc, y],
    [g0, gy],
  ]);
  return record('softmaxBackward', out, [gy, y], (h, c) => {
    const [g, yy] = c.inputs;
    if (log) {
      // gx = g - e^y S, S = sum(g): d/dg = h - sum(h e^y); d/dy = -h e^y S
      const ey = yy.exp();
      return [h.sub(h.mul(ey).sum(d, true)), h.mul(ey).mul(g.sum(d, true)).neg()];
    }
    // gx = y (g - s), s = sum(g y): d/dg = y (h - sum(h y)); d/dy = h (g - s) - g sum(h y)
    const hy = h.mul(yy).sum(d, true);
    return [yy.mul(h.sub(hy)), h.mul(g.sub(g.mul(yy).sum(d, true))).sub(g.mul(hy))];
  });
}

// ---- Op-table rows ----

/** [outer, n, inner] of a shape split at dim. */
const split = (shape: readonly number[], d: number): [number, number, number] => [
  numelOf(shape.slice(0, d)),
  shape.length ? shape[d] : 1,
  numelOf(shape.slice(d + 1)),
];

/** Plain float64 softmax / log-softmax along dim (the max subtracted; NaN if it is -inf). */
export function refSoftmax(x: readonly number[], shape: readonly number[], d: number, log: boolean): number[] {
  const [outer, n, inner] = split(shape, d);
  const out = new Array<number>(x.length);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < inner; j++) {
      const at = (i: number) => o * n * inner + i * inner + j;
      let m = -Infinity;
      for (let i = 0; i < n; i++) m = Number.isNaN(x[at(i)]) || Number.isNaN(m) ? NaN : Math.max(m, x[at(i)]);
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.exp(x[at(i)] - m);
      for (let i = 0; i < n; i++) out[at(i)] = log ? x[at(i)] - m - Math.log(s) : Math.exp(x[at(i)] - m) / s;
    }
  return out;
}

function refSoftmaxBackward(gy: number[], y: number[], shape: number[], d: number, log: boolean): number[] {
  const [outer, n, inner] = split(shape, d);
  const out = new Array<number>(y.length);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < inner; j++) {
      const at = (i: number) => o * n * inner + i * inner + j;
      let s = 0;
      for (let i = 0; i < n; i++) s += log ? gy[at(i)] : gy[at(i)] * y[at(i)];
      for (let i = 0; i < n; i++) out[at(i)] = log ? gy[at(i)] - Math.exp(y[at(i)]) * s : y[at(i)] * (gy[at(i)] - s);
    }
  return out;
}

/** Shapes with a dim to reduce: rows, columns (inner > 1), ones, empties, wide rows, random ones. */
function softmaxShapes(rng: Rng): [number[], number][] {
  const list: [number[], number][] = [
    [[], 0],
    [[1], 0],
    [[7], 0],
    [[3, 1], 1],
    [[0, 5], 1],
    [[4, 0], 1],
    [[5, 37], 1],
    [[5, 37], 0],
    [[3, 70, 5], 1],
    [[2, 9, 130], 1],
    [[2, 3, 4, 5], 2],
    [[3, 1000], -1],
  ];
  for (let k = 0; k < 4; k++) {
    const s = randShape(rng, 4);
    list.push([s, s.length ? randInt(rng, -s.length, s.length - 1) : 0]);
  }
  return list;
}

export const softmaxRow: OpRow<typeof softmax> = {
  name: 'softmax',
  kind: 'custom',
  native: { nin: 1, nout: 1, nattr: 2 },
  dtypes: FLOAT_DTYPES,
  fn: softmax,
  grad: (g, c) => [softmaxBackward(g, c.output!, c.attrs.dim as number, c.attrs.log as boolean)],
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    const half = dtype === 'float16' || dtype === 'bfloat16';
    for (const [shape, dim] of softmaxShapes(rng))
      for (const log of [false, true]) {
        const layout = LAYOUTS[randInt(rng, 0, 3)];
        const A = makeInput(rng, shape, dtype, layout, [-6, 6]);
        const d = shape.length ? (dim < 0 ? dim + shape.length : dim) : 0;
        out.push({
          label: `${log ? 'log' : ''}softmax ${shapeStr(shape)} dim ${dim} ${layout}`,
          got: (log ? logSoftmax : softmax)(A.t, dim),
          want: { shape, data: refSoftmax(A.ref.data, shape, d, log) },
          tol: half ? 8 : 16,
        });
        A.t.dispose();
      }
    // Large logits and -inf entries: stable, and NaN for a row of all -inf (as PyTorch).
    const big = half ? 60 : 1e4;
    const vals = [big, big - 1, -Infinity, big - 3, -Infinity, -Infinity, -Infinity, -Infinity, 1, -Infinity, 2, 3];
    for (const log of [false, true]) {
      const t = fromNumbers(vals, [3, 4], dtype);
      const ref = refSoftmax(
        vals.map((v) => roundTo(dtype, v)),
        [3, 4],
        1,
        log,
      );
      out.push({
        label: `${log ? 'log' : ''}softmax large and -inf`,
        got: (log ? logSoftmax : softmax)(t, 1),
        want: { shape: [3, 4], data: ref },
        tol: 16,
      });
      t.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    { label: 'softmax rows', fn: (x) => softmax(x, -1), inputs: [gradInput(rng, [3, 5])] },
    { label: 'softmax dim 0', fn: (x) => softmax(x, 0), inputs: [gradInput(rng, [4, 3])] },
    { label: 'logSoftmax inner', fn: (x) => logSoftmax(x, 1), inputs: [gradInput(rng, [2, 3, 4])] },
    { label: 'logSoftmax rows', fn: (x) => logSoftmax(x, 1), inputs: [gradInput(rng, [3, 6])] },
  ],
  errors: () =>
    errorCases([
      ['dim out of range', () => softmax(fromNumbers([1, 2], [2], 'float32'), 1), 'ERR_ARG'],
      ['not a tensor', () => logSoftmax([1, 2] as never, 0), 'ERR_ARG'],
    ]),
};

export const softmaxBackwardRow: OpRow<typeof softmaxBackward> = {
  name: 'softmax_backward',
  kind: 'custom',
  native: { nin: 2, nout: 1, nattr: 2 },
  dtypes: FLOAT_DTYPES,
  fn: softmaxBackward,
  grad: (g) => [g, g],
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    for (const [shape, dim] of softmaxShapes(rng))
      for (const log of [false, true]) {
        const G = makeInput(rng, shape, dtype, LAYOUTS[randInt(rng, 0, 3)], [-2, 2]);
        const Y = makeInput(rng, shape, dtype, 'contiguous', log ? [-4, 0] : [0, 1]);
        const d = shape.length ? (dim < 0 ? dim + shape.length : dim) : 0;
        const n = shape.length ? shape[d] : 1;
        out.push({
          label: `${log ? 'log' : ''}softmax backward ${shapeStr(shape)} dim ${dim}`,
          got: softmaxBackward(G.t, Y.t, dim, log),
          want: { shape, data: refSoftmaxBackward(G.ref.data, Y.ref.data, shape, d, log) },
          tol: 8 * (n + 2),
        });
        G.t.dispose();
        Y.t.dispose();
      }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: 'softmax',
      fn: (g, y) => softmaxBackward(g, y, 1, false),
      inputs: [gradInput(rng, [3, 4]), gradInput(rng, [3, 4])],
    },
    {
      label: 'logSoftmax dim 0',
      fn: (g, y) => softmaxBackward(g, y, 0, true),
      inputs: [gradInput(rng, [3, 2]), gradInput(rng, [3, 2])],
    },
  ],
  errors: () =>
    errorCases([
      [
        'shapes differ',
        () => softmaxBackward(fromNumbers([1, 2], [2], 'float32'), fromNumbers([1], [1], 'float32'), 0, false),
        'ERR_SHAPE',
      ],
      [
        'dim out of range',
        () => softmaxBackward(fromNumbers([1, 2], [2], 'float32'), fromNumbers([1, 2], [2], 'float32'), 2, true),
        'ERR_ARG',
      ],
    ]),
};
