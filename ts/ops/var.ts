/**
 * Variance along one dim as one native kernel (native/cpu/var.cpp): the mean, then the squared
 * deviations from it, in double, one read of each row from memory (the second from cache) or two
 * of each column strip. The composite it replaces (mean, sub, mul, sum, div: five passes and two
 * tensors of the input's size) ran [4096, 4096].var(1) at 0.09 of copy_. The gradient,
 * 2 (x - mean) g / (n - correction), is written with ops (differentiable again). float16/bfloat16
 * compute in float32. Several dims, and devices without the kernel, run the composite
 * (ops/composite.ts variance).
 */
import { record } from '../autograd/node';
import { hasKernel } from '../cuda';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { FLOAT_DTYPES } from '../dtype';
import { numelOf, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { computeDtype, dense, disposeTemps, inComputeDtype } from './dense';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { LAYOUTS, errorCases, gradInput, makeInput, randInt, randShape } from './samples';

/** Whether x's device runs the kernel (the CPU always; CUDA once it has one). */
export const fusedVarOn = (x: Tensor): boolean => x.device === 'cpu' || hasKernel(OP.VAR);

/** var along d (normalised, x floating) with correction, keepdim shape. */
export function varDim(x: Tensor, d: number, correction: number): Tensor {
  if (computeDtype(x.dtype) !== x.dtype) return inComputeDtype(x, (xf) => varDim(xf, d, correction));
  const xc = dense(x);
  const shape = x._shape.map((s, i) => (i === d ? 1 : s));
  const out = Tensor._empty(shape, x.dtype, 'var');
  runKernel(OP.VAR, [out], [xc], [d, correction]);
  disposeTemps([[xc, x]]);
  const n = x.ndim ? x._shape[d] : 1;
  const k = 2 / Math.max(n - correction, 0);
  // d var / dx = 2 (x - mean) / (n - correction)
  return record('var', out, [x], (g, c) => [varGrad(c.inputs[0], g, d, k)], { dim: d, k });
}

function varGrad(x: Tensor, g: Tensor, d: number, k: number): Tensor {
  const m = x.mean(d, true);
  const centered = x.sub(m);
  const r = centered.mul(g.mul(k));
  for (const t of [m, centered]) t.dispose();
  return r;
}

// ---- Op-table row ----

/** Plain float64 var along d with correction (keepdim shape), two passes. */
function refVar(v: number[], shape: number[], d: number, correction: number): number[] {
  const s = shape.length ? shape : [1];
  const n = s[d],
    inner = numelOf(s.slice(d + 1)),
    outer = numelOf(s.slice(0, d));
  const out: number[] = [];
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < inner; j++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += v[(o * n + i) * inner + j];
      m /= n;
      let q = 0;
      for (let i = 0; i < n; i++) q += (v[(o * n + i) * inner + j] - m) ** 2;
      out.push(q / Math.max(n - correction, 0));
    }
  return out;
}

const varOf = (x: Tensor, dim: number, correction = 1): Tensor => x.var(dim, { correction, keepdim: true });

export const varRow: OpRow<typeof varOf> = {
  name: 'var',
  kind: 'custom',
  native: { nin: 1, nout: 1, nattr: 2 },
  dtypes: FLOAT_DTYPES,
  fn: varOf,
  grad: (g, c) => [varGrad(c.inputs[0], g, c.attrs.dim as number, c.attrs.k as number)],
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    const shapes: [number[], number][] = [
      [[5, 300], 1],
      [[3, 700, 2], 1],
      [[600, 3], 0],
      [[4, 17], 1],
      [[], 0],
    ];
    for (let k = 0; k < 4; k++) {
      const sh = randShape(rng, 4);
      shapes.push([sh, sh.length ? randInt(rng, 0, sh.length - 1) : 0]);
    }
    for (const [shape, d] of shapes)
      for (const correction of [1, 0]) {
        const layout = LAYOUTS[randInt(rng, 0, 3)];
        // an offset far from 0: two passes keep the deviations' digits (E[x^2] - E[x]^2 would not)
        const A = makeInput(rng, shape, dtype, layout, dtype === 'float16' ? [-4, 4] : [996, 1004]);
        out.push({
          label: `var ${shapeStr(shape)} dim ${d} correction ${correction} ${layout}`,
          got: varOf(A.t, d, correction),
          want: {
            shape: shape.map((s, i) => (i === d ? 1 : s)),
            data: refVar(A.ref.data, shape, d, correction),
          },
          tol: 64,
        });
        A.t.dispose();
      }
    return out;
  },
  gradSamples: (rng) => [
    { label: 'rows', fn: (x) => varOf(x, 1), inputs: [gradInput(rng, [3, 5])] },
    { label: 'dim 0, correction 0', fn: (x) => varOf(x, 0, 0), inputs: [gradInput(rng, [4, 3])] },
    { label: 'inner dim', fn: (x) => varOf(x, 1), inputs: [gradInput(rng, [2, 3, 4])] },
  ],
  errors: () =>
    errorCases([
      ['dim out of range', () => varOf(fromNumbers([1, 2], [2], 'float32'), 1), 'ERR_ARG'],
      ['integer input', () => varOf(fromNumbers([1, 2], [2], 'int32'), 0), 'ERR_DTYPE'],
    ]),
};
