/**
 * Embedding as native row gathers (native/cpu/embedding.cpp): forward copies weight rows picked
 * by int32/int64 indices of any shape; backward scatter-adds the gradient rows into a [num, D]
 * gradient deterministically (bucketed by destination row), skipping the padding row.
 */
import { record } from '../autograd/node';
import { noGrad } from '../autograd/grad_mode';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { FLOAT_DTYPES } from '../dtype';
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { checkTensor } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { makeInput, randInt } from './samples';

/** Rows of weight [num, D] at a flat int32/int64 index [T], as [T, D] (no autograd). */
function gatherRows(weight: Tensor, flat: Tensor): Tensor {
  const out = Tensor._empty([flat._shape[0], weight._shape[1]], weight.dtype, 'embedding');
  runKernel(OP.EMBEDDING, [out], [weight, flat]);
  return out;
}

/**
 * The gradient of embedding for weight: gy [..., D] rows summed into [num, D] at the index
 * (of gy's leading shape); the paddingIdx row stays zero.
 */
export function embeddingBackward(gy: Tensor, index: Tensor, num: number, paddingIdx: number | null = null): Tensor {
  checkTensor(gy, 'embedding_backward', 'gradOutput');
  checkTensor(index, 'embedding_backward', 'index');
  const D = gy._shape[gy.ndim - 1];
  if (gy.ndim !== index.ndim + 1 || index._shape.some((s, i) => s !== gy._shape[i]))
    throw new KilnError(
      'ERR_SHAPE',
      `embedding_backward: gradOutput ${shapeStr(gy._shape)} must be the index shape ${shapeStr(index._shape)} plus [D]`,
    );
  const { flat, g2 } = noGrad(() => ({ flat: index.reshape([-1]), g2: gy.reshape([-1, D]) }));
  const gc = g2._strides[1] === 1 || D <= 1 ? g2 : g2.contiguous();
  const out = Tensor._empty([num, D], gy.dtype, 'embedding_backward');
  runKernel(OP.EMBEDDING_BACKWARD, [out], [gc, flat], [paddingIdx ?? -1]);
  for (const t of new Set([flat, g2, gc])) if (t !== index && t !== gy) t.dispose();
  return record('embedding_backward', out, [gy, index], (gg, c) => {
    const idx = c.inputs[1];
    let rows = embedding(idx, gg);
    if (paddingIdx !== null) rows = rows.mul(idx.ne(paddingIdx).unsqueeze(-1).to(gg.dtype));
    return [rows, null];
  });
}

/**
 * Rows of `weight` picked by integer `input` of any shape (torch embedding); the paddingIdx row
 * gets no gradient. An index outside [0, num) throws ERR_INDEX naming it and the table size.
 */
export function embedding(input: Tensor, weight: Tensor, paddingIdx: number | null = null): Tensor {
  checkTensor(input, 'embedding', 'input');
  checkTensor(weight, 'embedding', 'weight');
  if (!['int64', 'int32', 'uint8'].includes(input.dtype))
    throw new KilnError('ERR_DTYPE', `embedding: indices must be integers, got ${input.dtype}`);
  if (weight.ndim !== 2)
    throw new KilnError('ERR_SHAPE', `embedding: weight must be 2-d, got ${shapeStr(weight._shape)}`);
  const [num, D] = weight._shape;
  let pad = paddingIdx;
  if (pad !== null) {
    if (!Number.isInteger(pad) || pad < -num || pad >= num)
      throw new KilnError('ERR_ARG', `embedding: paddingIdx ${pad} is out of range for ${num} rows`);
    if (pad < 0) pad += num;
  }
  const idx = input.dtype === 'uint8' ? input.to('int32') : input;
  const flat = noGrad(() => idx.reshape([-1]));
  const rows = gatherRows(weight, flat);
  if (flat !== idx) flat.dispose();
  const y = record('embedding', rows, [weight, idx], (g, c) => [
    embeddingBackward(g, c.inputs[1].reshape([-1]), num, pad),
    null,
  ]);
  const out = y.reshape([...input._shape, D]);
  if (out !== y) y.dispose();
  if (idx !== input) idx.dispose();
  return out;
}

// ---- References and rows ----

const refGather = (w: number[], D: number, idx: number[]) => idx.flatMap((i) => w.slice(i * D, i * D + D));
const refScatter = (g: number[], D: number, idx: number[], num: number, pad: number | null) => {
  const out = new Array<number>(num * D).fill(0);
  idx.forEach((r, t) => {
    if (r !== pad) for (let d = 0; d < D; d++) out[r * D + d] += g[t * D + d];
  });
  return out;
};
const randIdx = (rng: Rng, n: number, num: number) => Array.from({ length: n }, () => randInt(rng, 0, num - 1));
const SHAPES: [number, number, number[]][] = [
  [10, 4, [2, 3]],
  [7, 1, [5]],
  [3, 33, [4, 2, 3]],
  [5, 6, [0]],
  [1, 17, []],
  [1000, 3, [64]],
];

export const embeddingRow: OpRow<typeof embedding> = {
  name: 'embedding',
  kind: 'index',
  native: { nin: 2, nout: 1, nattr: 0 },
  dtypes: FLOAT_DTYPES,
  fn: embedding,
  grad: (g) => [g, null],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const [num, D, ishape] of SHAPES)
      for (const layout of ['contiguous', 'transposed'] as const)
        for (const idt of ['int64', 'int32'] as const) {
          const w = makeInput(rng, [num, D], dtype, layout);
          const iv = randIdx(
            rng,
            ishape.reduce((a, b) => a * b, 1),
            num,
          );
          const ix = fromNumbers(iv, ishape, idt);
          out.push({
            label: `[${num},${D}] ${layout} index ${shapeStr(ishape)} ${idt}`,
            got: embedding(ix, w.t),
            want: { shape: [...ishape, D], data: refGather(w.ref.data, D, iv) },
          });
          w.t.dispose();
          ix.dispose();
        }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: '[6,3] index [2,4] with repeats',
      fn: (w: Tensor) => embedding(fromNumbers([0, 5, 5, 2, 1, 0, 5, 3], [2, 4], 'int64'), w),
      inputs: [makeInput(rng, [6, 3], 'float64').t.requiresGrad_()],
    },
    {
      // a padding row that is looked up has gradient 0 by definition, which differences cannot see
      label: 'paddingIdx 4 (not looked up)',
      fn: (w: Tensor) => embedding(fromNumbers([0, 5, 5, 2], [4], 'int32'), w, 4),
      inputs: [makeInput(rng, [6, 3], 'float64').t.requiresGrad_()],
    },
  ],
  errors: () => [
    {
      label: 'index past the table',
      run: () => embedding(fromNumbers([0, 6], [2], 'int64'), fromNumbers([1, 2, 3, 4, 5, 6], [6, 1], 'float32')),
      code: 'ERR_INDEX',
    },
    {
      label: 'negative index',
      run: () => embedding(fromNumbers([-1], [1], 'int32'), fromNumbers([1, 2], [2, 1], 'float32')),
      code: 'ERR_INDEX',
    },
    {
      label: 'float index',
      run: () => embedding(fromNumbers([0], [1], 'float32'), fromNumbers([1, 2], [2, 1], 'float32')),
      code: 'ERR_DTYPE',
    },
    {
      label: '1-d weight',
      run: () => embedding(fromNumbers([0], [1], 'int64'), fromNumbers([1, 2], [2], 'float32')),
      code: 'ERR_SHAPE',
    },
    {
      label: 'paddingIdx out of range',
      run: () => embedding(fromNumbers([0], [1], 'int64'), fromNumbers([1, 2], [2, 1], 'float32'), 2),
      code: 'ERR_ARG',
    },
  ],
};

export const embeddingBackwardRow: OpRow<typeof embeddingBackward> = {
  name: 'embedding_backward',
  kind: 'index',
  native: { nin: 2, nout: 1, nattr: 1 },
  dtypes: FLOAT_DTYPES,
  fn: embeddingBackward,
  grad: (g) => [g, null],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const [num, D, ishape] of SHAPES)
      for (const pad of [null, 0]) {
        const n = ishape.reduce((a, b) => a * b, 1);
        const g = makeInput(rng, [...ishape, D], dtype, 'transposed');
        const iv = randIdx(rng, n, num);
        const ix = fromNumbers(iv, ishape, 'int64');
        out.push({
          label: `[${num},${D}] index ${shapeStr(ishape)} pad ${pad}`,
          got: embeddingBackward(g.t, ix, num, pad),
          want: { shape: [num, D], data: refScatter(g.ref.data, D, iv, num, pad) },
          tol: 4 * Math.max(1, n / num),
        });
        g.t.dispose();
        ix.dispose();
      }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: 'index [2,3], pad 1',
      fn: (g: Tensor) => embeddingBackward(g, fromNumbers([1, 3, 0, 3, 3, 2], [2, 3], 'int64'), 4, 1),
      inputs: [makeInput(rng, [2, 3, 5], 'float64').t.requiresGrad_()],
    },
  ],
  errors: () => [
    {
      label: 'gradOutput shape',
      run: () => embeddingBackward(fromNumbers([1, 2], [2, 1], 'float32'), fromNumbers([0], [1], 'int64'), 3),
      code: 'ERR_SHAPE',
    },
    {
      label: 'index past num',
      run: () => embeddingBackward(fromNumbers([1, 2], [1, 2], 'float32'), fromNumbers([3], [1], 'int64'), 3),
      code: 'ERR_INDEX',
    },
  ],
};
