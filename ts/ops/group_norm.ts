/**
 * Group normalisation's fused backward (native/cpu/group_norm.cpp; CUDA in batch_norm.cu): x
 * [N, C, ...] with its C channels in G groups, each (sample, group) normalised with the forward's
 * mean and biased variance ([N, G] or [N G]). One read of gy and x for per-channel sums, one pass
 * for gx. nn.functional.groupNorm (nn/layers/norm.ts) records it as its backward.
 */
import { noGrad } from '../autograd/grad_mode';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { FLOAT_DTYPES } from '../dtype';
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { asNCS, chanArg } from './batch_norm';
import { checkTensor } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow } from './row';
import { makeInput, randInt } from './samples';

/**
 * Gradients of y = groupNorm(x, G, weight, bias) for gy, given the forward's group statistics:
 * gx = rstd (gy w - mean(gy w) - xhat mean(gy w xhat)) over each group, gw = sum(gy xhat),
 * gb = sum(gy) over N and the spatial dims. Returns [gx, gw, gb].
 */
export function groupNormBackward(
  gy: Tensor,
  x: Tensor,
  weight: Tensor | null,
  mean: Tensor,
  variance: Tensor,
  numGroups: number,
  eps = 1e-5,
): [Tensor, Tensor, Tensor] {
  const op = 'group_norm_backward';
  checkTensor(gy, op, 'gradOutput');
  checkTensor(x, op, 'input');
  if (gy._shape.join() !== x._shape.join() || gy.dtype !== x.dtype)
    throw new KilnError('ERR_SHAPE', `${op}: gradOutput ${shapeStr(gy._shape)} must match input ${shapeStr(x._shape)}`);
  const x3 = asNCS(x); // checks [N, C, ...] and a floating dtype
  const [N, C] = x._shape;
  if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0) {
    if (x3 !== x) x3.dispose();
    throw new KilnError('ERR_ARG', `${op}: ${C} channels do not split into ${numGroups} groups`);
  }
  const check = (t: Tensor | null, name: string, n: number, maxDims: number) => {
    if (!t) return;
    checkTensor(t, op, name);
    if (t.numel() !== n || t.ndim < 1 || t.ndim > maxDims) {
      if (x3 !== x) x3.dispose();
      throw new KilnError('ERR_SHAPE', `${op}: ${name} must have ${n} elements, got ${shapeStr(t._shape)}`);
    }
  };
  check(weight, 'weight', C, 1);
  check(mean, 'mean', N * numGroups, 2); // [N, G] or [N G]
  check(variance, 'var', N * numGroups, 2);
  const g3 = asNCS(gy);
  const flat = (t: Tensor) => (t.ndim === 1 ? t : noGrad(() => t.reshape([t.numel()])));
  const stats = [mean, variance].map(flat);
  const args = [weight ?? stats[0], ...stats].map((t) => chanArg(t, x.dtype));
  const gx = Tensor._empty(x3._shape.slice(), x.dtype, op);
  const gw = Tensor._empty([C], x.dtype, op),
    gb = Tensor._empty([C], x.dtype, op);
  runKernel(OP.GROUP_NORM_BACKWARD, [gx, gw, gb], [g3, x3, ...args], [eps, weight ? 1 : 0, numGroups]);
  for (const t of new Set([x3, g3, ...stats, ...args]))
    if (t !== x && t !== gy && ![weight, mean, variance].includes(t)) t.dispose();
  const gxs = gx.detach().reshape(x._shape.slice());
  if (gxs !== gx) gx.dispose();
  return [gxs, gw, gb];
}

// ---- Reference (float64 loops) and row ----

/** Float64 gradients from float64 data, with the statistics as the kernel sees them. */
function reference(
  g: number[],
  x: number[],
  w: number[] | null,
  mean: number[],
  vr: number[],
  shape: number[],
  G: number,
  eps: number,
): { gx: number[]; gw: number[]; gb: number[] } {
  const [N, C] = shape;
  const S = shape.slice(2).reduce((a, b) => a * b, 1),
    per = C / G,
    L = per * S;
  const gx = new Array<number>(x.length).fill(0),
    gw = new Array<number>(C).fill(0),
    gb = new Array<number>(C).fill(0);
  for (let n = 0; n < N; n++)
    for (let q = 0; q < G; q++) {
      const m = mean[n * G + q],
        rstd = 1 / Math.sqrt(vr[n * G + q] + eps);
      const at = (c: number, s: number) => (n * C + c) * S + s;
      let sgh = 0,
        sghx = 0;
      for (let c = q * per; c < (q + 1) * per; c++)
        for (let s = 0; s < S; s++) {
          const gh = g[at(c, s)] * (w ? w[c] : 1),
            xh = (x[at(c, s)] - m) * rstd;
          sgh += gh;
          sghx += gh * xh;
          gw[c] += g[at(c, s)] * xh;
          gb[c] += g[at(c, s)];
        }
      for (let c = q * per; c < (q + 1) * per; c++)
        for (let s = 0; s < S; s++) {
          const gh = g[at(c, s)] * (w ? w[c] : 1),
            xh = (x[at(c, s)] - m) * rstd;
          gx[at(c, s)] = rstd * (gh - sgh / L - (xh * sghx) / L);
        }
    }
  return { gx, gw, gb };
}

export const groupNormBackwardRow: OpRow<(...a: Parameters<typeof groupNormBackward>) => Tensor> = {
  name: 'group_norm_backward',
  kind: 'custom',
  native: { nin: 5, nout: 3, nattr: 3 },
  dtypes: FLOAT_DTYPES,
  fn: (...a) => groupNormBackward(...a)[0],
  grad: {
    nondiff:
      'never differentiated: when a graph of the gradient is recorded (createGraph), groupNorm computes its gradient with the same formula written in ops instead, which is differentiable',
  },
  cases: (rng, dtype) => {
    const out: Case[] = [];
    const geoms: [number[], number][] = [
      [[4, 6], 3],
      [[2, 6, 5], 2],
      [[3, 8, 4, 5], 4],
      [[2, 4, 70, 70], 2], // rows past the 4096-element piece
      [[1, 3, 50], 1],
      [[2, 5, 7], 5],
      [[randInt(rng, 1, 5), 12, randInt(rng, 1, 40)], [1, 2, 3, 4, 6, 12][randInt(rng, 0, 5)]],
    ];
    geoms.forEach(([shape, G], i) => {
      const [N, C] = shape;
      const S = shape.slice(2).reduce((a, b) => a * b, 1);
      const x = makeInput(rng, shape, dtype, i % 2 ? 'transposed' : 'contiguous');
      const g = makeInput(rng, shape, dtype);
      const w = i === 4 ? null : makeInput(rng, [C], dtype, 'contiguous', [-2, 2]);
      const L = (C / G) * S;
      const mu: number[] = [],
        v: number[] = [];
      for (let q = 0; q < N * G; q++) {
        const part = x.ref.data.slice(q * L, (q + 1) * L);
        const m = part.reduce((a, b) => a + b, 0) / L;
        mu.push(m);
        v.push(part.reduce((a, b) => a + (b - m) ** 2, 0) / L);
      }
      const mt = fromNumbers(mu, [N, G], dtype),
        vt = fromNumbers(v, [N * G], dtype);
      const ref = reference(
        g.ref.data,
        x.ref.data,
        w ? w.ref.data : null,
        mt._numbers(),
        vt._numbers(),
        shape,
        G,
        1e-5,
      );
      const [kgx, kgw, kgb] = groupNormBackward(g.t, x.t, w ? w.t : null, mt, vt, G);
      const rstd = Math.max(...vt._numbers().map((q) => 1 / Math.sqrt(q + 1e-5)));
      // sums of L (gx) or N S (gw, gb) terms of either sign: rounding grows with their square root
      const tol = (n: number) => 16 * Math.sqrt(Math.max(16, n)) * Math.max(1, rstd);
      const label = `${shapeStr(shape)} G${G}${w ? '' : ' no weight'}`;
      out.push({ label: `${label} grad input`, got: kgx, want: { shape, data: ref.gx }, tol: tol(L) });
      out.push({ label: `${label} grad weight`, got: kgw, want: { shape: [C], data: ref.gw }, tol: tol(N * S) });
      out.push({
        label: `${label} grad bias`,
        got: kgb,
        want: { shape: [C], data: ref.gb },
        tol: tol(N * S) / Math.max(1, rstd),
      });
      for (const t of [x.t, g.t, w?.t, mt, vt]) t?.dispose();
    });
    return out;
  },
  gradSamples: () => [],
  errors: () => {
    const x = () => fromNumbers([1, 2, 3, 4, 5, 6, 7, 8], [2, 4], 'float32');
    const st = (n: number) => fromNumbers(new Array<number>(n).fill(1), [n], 'float32');
    return [
      {
        label: 'gradOutput shape',
        run: () => groupNormBackward(fromNumbers([1, 2], [1, 2], 'float32'), x(), null, st(4), st(4), 2),
        code: 'ERR_SHAPE',
      },
      {
        label: 'groups do not divide C',
        run: () => groupNormBackward(x(), x(), null, st(6), st(6), 3),
        code: 'ERR_ARG',
      },
      { label: 'statistics size', run: () => groupNormBackward(x(), x(), null, st(2), st(4), 2), code: 'ERR_SHAPE' },
      { label: 'weight size', run: () => groupNormBackward(x(), x(), st(3), st(4), st(4), 2), code: 'ERR_SHAPE' },
      {
        label: 'integer input',
        run: () =>
          groupNormBackward(
            fromNumbers([1, 2], [1, 2], 'int32'),
            fromNumbers([1, 2], [1, 2], 'int32'),
            null,
            st(1),
            st(1),
            1,
          ),
        code: 'ERR_DTYPE',
      },
    ];
  },
};
