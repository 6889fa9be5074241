/**
 * matmul with PyTorch's rules: 1-d operands are promoted to matrices and the added dim removed
 * afterwards; batch dims broadcast. The native kernel sees rank >= 2 operands with the batch
 * already expanded and writes a contiguous output.
 */
import { record } from '../autograd/node';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { NUMERIC_DTYPES, isFloating, promoteTypes } from '../dtype';
import { KilnError } from '../errors';
import { broadcastShapes, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { castTo, checkTensor, sumTo } from './kinds';
import { expandRaw } from './movement';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { LAYOUTS, makeInput, randInt } from './samples';

/** The GEMM epilogue's activations (native GemmAct). */
export const GEMM_ACT = { none: 0, relu: 1, gelu: 2, geluTanh: 3 } as const;

export interface GemmOptions {
  alpha?: number;
  /** Scales out's current values, which are added (0: out is write-only). */
  beta?: number;
  act?: number;
  /** Added before the activation; expanded to out's shape, with a last stride of 0 or 1. */
  bias?: Tensor | null;
}

/** out = act(alpha * a @ b + beta * out + bias) on rank-matched, batch-expanded operands. */
export function gemmInto(out: Tensor, a: Tensor, b: Tensor, o: GemmOptions = {}): void {
  const bias = o.bias ?? null;
  runKernel(OP.MATMUL, [out], [a, b, bias ?? a], [o.alpha ?? 1, o.beta ?? 0, o.act ?? 0, bias ? 1 : 0]);
}

function matmul2(a: Tensor, b: Tensor): Tensor {
  const na = a.ndim,
    nb = b.ndim;
  const M = a._shape[na - 2],
    K = a._shape[na - 1],
    N = b._shape[nb - 1];
  if (b._shape[nb - 2] !== K)
    throw new KilnError(
      'ERR_SHAPE',
      `matmul: shapes ${shapeStr(a._shape)} and ${shapeStr(b._shape)} cannot be multiplied (${K} != ${b._shape[nb - 2]})`,
    );
  let out: Tensor;
  if (na === 2 && nb === 2) {
    out = Tensor._empty([M, N], a.dtype, 'matmul');
    gemmInto(out, a, b);
  } else {
    const batch = broadcastShapes('matmul', a._shape.slice(0, -2), b._shape.slice(0, -2));
    const ea = expandRaw(a, [...batch, M, K]),
      eb = expandRaw(b, [...batch, K, N]);
    out = Tensor._empty([...batch, M, N], a.dtype, 'matmul');
    gemmInto(out, ea, eb);
    ea.dispose();
    eb.dispose();
  }
  if (!isFloating(out.dtype)) return out;
  return record('matmul', out, [a, b], (g, c) => {
    const [x, y] = c.inputs;
    return [sumTo(g.matmul(y.transpose(-1, -2)), x._shape), sumTo(x.transpose(-1, -2).matmul(g), y._shape)];
  });
}

/**
 * Matrix product with broadcasting over batch dims (torch.matmul).
 * @example
 * kiln.randn([8, 3, 4]).matmul(kiln.randn([4, 5])).shape; // [8, 3, 5]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'matmul', 'input');
  checkTensor(b, 'matmul', 'other');
  if (a.ndim === 0 || b.ndim === 0)
    throw new KilnError(
      'ERR_SHAPE',
      `matmul: both operands need at least 1 dim, got ${shapeStr(a._shape)} and ${shapeStr(b._shape)}`,
    );
  const dtype = promoteTypes(a.dtype, b.dtype);
  if (dtype === 'bool') throw new KilnError('ERR_DTYPE', 'matmul: not defined for bool');
  const ca = castTo(a, dtype),
    cb = castTo(b, dtype);
  const A = ca.ndim === 1 ? ca.unsqueeze(0) : ca;
  const B = cb.ndim === 1 ? cb.unsqueeze(-1) : cb;
  let out = matmul2(A, B);
  if (a.ndim === 1 || b.ndim === 1) {
    const shape = out._shape.slice();
    if (b.ndim === 1) shape.splice(shape.length - 1, 1);
    if (a.ndim === 1) shape.splice(shape.length - (b.ndim === 1 ? 1 : 2), 1);
    const r = out.reshape(shape);
    out.dispose();
    out = r;
  }
  for (const t of [A !== ca ? A : null, B !== cb ? B : null, ca !== a ? ca : null, cb !== b ? cb : null]) t?.dispose();
  return out;
}

export const refMatmul = (
  a: number[],
  b: number[],
  batch: number,
  M: number,
  K: number,
  N: number,
  bBatch: boolean,
): number[] => {
  const out = new Array<number>(batch * M * N).fill(0);
  for (let q = 0; q < batch; q++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[q * M * K + i * K + k] * b[(bBatch ? q * K * N : 0) + k * N + j];
        out[q * M * N + i * N + j] = s;
      }
  return out;
};

export const matmulRow: OpRow<typeof matmul> = {
  name: 'matmul',
  kind: 'matmul',
  native: { nin: 3, nout: 1, nattr: 4 },
  dtypes: NUMERIC_DTYPES,
  fn: matmul,
  grad: (g) => [g, g],
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    const dims: [number, number, number, number, boolean][] = [
      [1, 1, 1, 1, true],
      [1, 3, 4, 5, true],
      [1, 17, 33, 9, true],
      [2, 5, 0, 3, true],
      [3, 4, 6, 2, false],
      [1, 0, 3, 2, true],
      [1, 64, 64, 64, true],
      [2, 20, 130, 40, true],
    ];
    for (let i = 0; i < 3; i++)
      dims.push([randInt(rng, 1, 3), randInt(rng, 1, 40), randInt(rng, 1, 40), randInt(rng, 1, 40), rng() < 0.5]);
    const small: [number, number] = [-2, 2];
    for (const [batch, M, K, N, bBatch] of dims)
      for (const layout of LAYOUTS) {
        const A = makeInput(rng, batch > 1 ? [batch, M, K] : [M, K], dtype, layout, small);
        const B = makeInput(
          rng,
          bBatch && batch > 1 ? [batch, K, N] : [K, N],
          dtype,
          layout === 'contiguous' ? 'transposed' : 'contiguous',
          small,
        );
        const data = refMatmul(A.ref.data, B.ref.data, batch, M, K, N, bBatch && batch > 1);
        out.push({
          label: `${shapeStr(A.ref.shape)} @ ${shapeStr(B.ref.shape)} ${layout}`,
          got: matmul(A.t, B.t),
          want: { shape: batch > 1 ? [batch, M, N] : [M, N], data },
          tol: 8 * (K + 1),
        });
        A.t.dispose();
        B.t.dispose();
      }
    // 1-d forms
    const v = makeInput(rng, [4], dtype, 'contiguous', small),
      m = makeInput(rng, [4, 3], dtype, 'contiguous', small);
    out.push({
      label: 'vector @ matrix',
      got: matmul(v.t, m.t),
      want: { shape: [3], data: refMatmul(v.ref.data, m.ref.data, 1, 1, 4, 3, false) },
      tol: 8,
    });
    out.push({
      label: 'vector @ vector',
      got: matmul(v.t, v.t),
      want: { shape: [], data: [v.ref.data.reduce((s, x) => s + x * x, 0)] },
      tol: 8,
    });
    v.t.dispose();
    m.t.dispose();
    return out;
  },
  gradSamples: (rng) => {
    const f = (s: number[]) => makeInput(rng, s, 'float64').t.requiresGrad_();
    return [
      { label: '[3,4]@[4,2]', fn: (a, b) => matmul(a, b), inputs: [f([3, 4]), f([4, 2])] },
      { label: '[2,3,4]@[4,2] batch broadcast', fn: (a, b) => matmul(a, b), inputs: [f([2, 3, 4]), f([4, 2])] },
      { label: '[4]@[4,3]', fn: (a, b) => matmul(a, b), inputs: [f([4]), f([4, 3])] },
    ];
  },
  errors: () => [
    {
      label: 'inner dims',
      run: () =>
        matmul(fromNumbers([1, 2, 3, 4, 5, 6], [2, 3], 'float32'), fromNumbers([1, 2, 3, 4, 5, 6], [2, 3], 'float32')),
      code: 'ERR_SHAPE',
    },
    {
      label: 'batch dims',
      run: () =>
        matmul(
          fromNumbers(new Array(12).fill(1), [3, 2, 2], 'float32'),
          fromNumbers(new Array(8).fill(1), [2, 2, 2], 'float32'),
        ),
      code: 'ERR_SHAPE',
    },
    {
      label: '0-d operand',
      run: () => matmul(fromNumbers([1], [], 'float32'), fromNumbers([1], [1], 'float32')),
      code: 'ERR_SHAPE',
    },
    {
      label: 'bool',
      run: () => matmul(fromNumbers([1], [1, 1], 'bool'), fromNumbers([1], [1, 1], 'bool')),
      code: 'ERR_DTYPE',
    },
  ],
};
