/**
 * Batch normalisation kernels (native/cpu/batch_norm.cpp) over [N, C, ...] inputs, viewed as a
 * contiguous [N, C, S]: batch_norm_stats (per-channel mean and biased variance, one read),
 * batch_norm (y = w * (x - mean) / sqrt(var + eps) + b, one pass) and batch_norm_backward
 * (training gradients in two passes). nn.functional.batchNorm (nn/layers/norm.ts) puts them together.
 */
import { record } from '../autograd/node';
import { gradMode, noGrad } from '../autograd/grad_mode';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { DType, FLOAT_DTYPES, isFloating } from '../dtype';
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { castTo, checkTensor } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { makeInput, randInt } from './samples';

const reduceDims = (x: Tensor): number[] => [0, ...x._shape.slice(2).map((_, i) => i + 2)];
const channelView = (x: Tensor): number[] => [1, x._shape[1], ...x._shape.slice(2).map(() => 1)];

/** x as a contiguous [N, C, S] tensor (a view when x is contiguous), without autograd. */
export function asNCS(x: Tensor): Tensor {
  if (x.ndim < 2) throw new KilnError('ERR_SHAPE', `batch_norm: input needs [N, C, ...], got ${shapeStr(x._shape)}`);
  if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `batch_norm: needs a floating dtype, got ${x.dtype}`);
  const S = x._shape.slice(2).reduce((a, b) => a * b, 1);
  return noGrad(() => {
    const c = x.contiguous();
    const v = c.reshape([x._shape[0], x._shape[1], S]);
    c.dispose();
    return v;
  });
}

function checkChannels(op: string, x: Tensor, ts: [string, Tensor | null][]): void {
  for (const [name, t] of ts) {
    if (!t) continue;
    checkTensor(t, op, name);
    if (t.ndim !== 1 || t._shape[0] !== x._shape[1])
      throw new KilnError('ERR_SHAPE', `${op}: ${name} must have shape [${x._shape[1]}], got ${shapeStr(t._shape)}`);
  }
}

/** A [C] operand the kernel reads: x's dtype, contiguous (a new tensor only when needed). */
export const chanArg = (t: Tensor, dtype: DType): Tensor => {
  const d = t.detach();
  const c = castTo(d, dtype);
  if (c !== d) d.dispose();
  if (c._strides[0] === 1 || c._shape[0] <= 1) return c;
  const cc = c.contiguous();
  c.dispose();
  return cc;
};

/** Per-channel [mean; biased var] of x [N, C, ...] as one [2, C] tensor (one read of x). */
export function batchNormStats(x: Tensor): Tensor {
  checkTensor(x, 'batch_norm_stats', 'input');
  const x3 = asNCS(x);
  const C = x._shape[1];
  const out = Tensor._empty([2, C], x.dtype, 'batch_norm_stats');
  const [m, v] = noGrad(() => [out.select(0, 0), out.select(0, 1)]);
  runKernel(OP.BATCH_NORM_STATS, [m, v], [x3]);
  m.dispose();
  v.dispose();
  if (x3 !== x) x3.dispose();
  return record('batch_norm_stats', out, [x], (g, c) => {
    const xi = c.inputs[0];
    const M = xi.numel() / C;
    const view = channelView(xi);
    const gm = g.select(0, 0).reshape(view),
      gv = g.select(0, 1).reshape(view);
    const mu = xi.mean(reduceDims(xi), true);
    return [gm.div(M).add(gv.mul(xi.sub(mu)).mul(2 / M))];
  });
}

/** y = weight * (x - mean) / sqrt(var + eps) + bias per channel of x [N, C, ...], one pass. */
export function batchNormApply(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  mean: Tensor,
  variance: Tensor,
  eps = 1e-5,
): Tensor {
  checkTensor(x, 'batch_norm', 'input');
  const x3 = asNCS(x);
  checkChannels('batch_norm', x, [
    ['weight', weight],
    ['bias', bias],
    ['mean', mean],
    ['var', variance],
  ]);
  if (!(eps >= 0)) throw new KilnError('ERR_ARG', `batch_norm: eps must be >= 0, got ${eps}`);
  const args = [weight ?? mean, bias ?? mean, mean, variance].map((t) => chanArg(t, x.dtype));
  const y3 = Tensor._empty(x3._shape.slice(), x.dtype, 'batch_norm');
  runKernel(OP.BATCH_NORM, [y3], [x3, ...args], [eps, weight ? 1 : 0, bias ? 1 : 0]);
  const y = noGrad(() => y3.reshape(x._shape.slice()));
  for (const t of new Set([x3, y3, ...args]))
    if (t !== x && t !== y && ![weight, bias, mean, variance].includes(t)) t.dispose();
  const inputs = [x, mean, variance, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return record('batch_norm', y, inputs, (g, c) => {
    const [xi, mi, vi] = c.inputs;
    const wi = weight ? c.inputs[3] : null;
    const view = channelView(xi),
      dims = reduceDims(xi);
    const need = (i: number) => c.inputs[i]._requiresGrad;
    const invstd = vi.add(eps).rsqrt();
    const scale = wi ? wi.mul(invstd) : invstd;
    const xc = need(2) || (wi && need(3)) ? xi.sub(mi.reshape(view)) : null; // inputs[3] is the weight, when given
    const grads: (Tensor | null)[] = [
      need(0) ? g.mul(scale.reshape(view)) : null,
      need(1) ? g.sum(dims).mul(scale).neg() : null,
      need(2)
        ? g
            .mul(xc!)
            .sum(dims)
            .mul(wi ?? 1)
            .mul(invstd.pow(3))
            .mul(-0.5)
        : null,
    ];
    if (wi) grads.push(need(3) ? g.mul(xc!).sum(dims).mul(invstd) : null);
    if (bias) grads.push(g.sum(dims));
    return grads;
  });
}

/**
 * Training gradients of y = batchNorm(x) with batch statistics: gx = w invstd (gy - mean(gy) -
 * xhat mean(gy xhat)), gw = sum(gy xhat), gb = sum(gy), in two passes. Returns [gx, gw, gb].
 */
export function batchNormBackward(
  gy: Tensor,
  x: Tensor,
  weight: Tensor | null,
  mean: Tensor,
  variance: Tensor,
  eps = 1e-5,
): [Tensor, Tensor, Tensor] {
  checkTensor(gy, 'batch_norm_backward', 'gradOutput');
  checkTensor(x, 'batch_norm_backward', 'input');
  if (gy._shape.join() !== x._shape.join() || gy.dtype !== x.dtype)
    throw new KilnError(
      'ERR_SHAPE',
      `batch_norm_backward: gradOutput ${shapeStr(gy._shape)} must match input ${shapeStr(x._shape)}`,
    );
  checkChannels('batch_norm_backward', x, [
    ['weight', weight],
    ['mean', mean],
    ['var', variance],
  ]);
  const x3 = asNCS(x),
    g3 = asNCS(gy);
  const args = [weight ?? mean, mean, variance].map((t) => chanArg(t, x.dtype));
  const C = x._shape[1];
  const gx = Tensor._empty(x3._shape.slice(), x.dtype, 'batch_norm_backward');
  const gw = Tensor._empty([C], x.dtype, 'batch_norm_backward'),
    gb = Tensor._empty([C], x.dtype, 'batch_norm_backward');
  runKernel(OP.BATCH_NORM_BACKWARD, [gx, gw, gb], [g3, x3, ...args], [eps, weight ? 1 : 0]);
  for (const t of new Set([x3, g3, ...args]))
    if (t !== x && t !== gy && ![weight, mean, variance].includes(t)) t.dispose();
  const gxs = noGrad(() => gx.reshape(x._shape.slice()));
  if (gxs !== gx) gx.dispose();
  return [gxs, gw, gb];
}

/**
 * The training forward: batch statistics, normalise + affine, and the autograd node whose
 * backward is the fused kernel (or, when a graph of the gradient is recorded, the same formula
 * written with ops, so double backward works). Returns y and the [2, C] statistics.
 */
export function batchNormTrain(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
): { y: Tensor; stats: Tensor } {
  const stats = noGrad(() => batchNormStats(x));
  const [mean, variance] = noGrad(() => [stats.select(0, 0), stats.select(0, 1)]);
  const y0 = noGrad(() => batchNormApply(x, weight, bias, mean, variance, eps));
  const inputs = [x, mean, variance, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const y = record('batch_norm', y0, inputs, (g, c) => {
    const [xi, mi, vi] = c.inputs;
    const wi = weight ? c.inputs[3] : null;
    const tail = (gw: Tensor | null, gb: Tensor | null) => [...(weight ? [gw] : []), ...(bias ? [gb] : [])];
    if (gradMode.enabled) return [trainGradOps(g, xi, wi, eps), null, null, ...gradOpsTail(g, xi, eps, tail)];
    const [gx, gw, gb] = batchNormBackward(g, xi, wi, mi, vi, eps);
    return [gx, null, null, ...tail(gw, gb)];
  });
  mean.dispose();
  variance.dispose();
  return { y, stats };
}

/** The training gradient for x written with ops (differentiable; used when createGraph is on). */
function trainGradOps(g: Tensor, x: Tensor, w: Tensor | null, eps: number): Tensor {
  const dims = reduceDims(x),
    view = channelView(x);
  const xc = x.sub(x.mean(dims, true));
  const invstd = xc.mul(xc).mean(dims, true).add(eps).rsqrt();
  const xhat = xc.mul(invstd);
  const gh = w ? g.mul(w.reshape(view)) : g;
  return invstd.mul(gh.sub(gh.mean(dims, true)).sub(xhat.mul(gh.mul(xhat).mean(dims, true))));
}

function gradOpsTail(
  g: Tensor,
  x: Tensor,
  eps: number,
  tail: (gw: Tensor | null, gb: Tensor | null) => (Tensor | null)[],
): (Tensor | null)[] {
  const dims = reduceDims(x);
  const xc = x.sub(x.mean(dims, true));
  const xhat = xc.mul(xc.mul(xc).mean(dims, true).add(eps).rsqrt());
  return tail(g.mul(xhat).sum(dims), g.sum(dims));
}

// ---- References (float64 loops) and rows ----

interface Ref {
  mean: number[];
  var: number[];
  N: number;
  C: number;
  S: number;
}
function refStats(data: number[], shape: number[]): Ref {
  const [N, C] = shape;
  const S = shape.slice(2).reduce((a, b) => a * b, 1);
  const mean = new Array<number>(C).fill(0),
    vr = new Array<number>(C).fill(0);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let k = 0; k < S; k++) s += data[(n * C + c) * S + k];
    mean[c] = s / (N * S);
    let q = 0;
    for (let n = 0; n < N; n++) for (let k = 0; k < S; k++) q += (data[(n * C + c) * S + k] - mean[c]) ** 2;
    vr[c] = q / (N * S);
  }
  return { mean, var: vr, N, C, S };
}
const idxC = (i: number, r: Ref) => Math.floor(i / r.S) % r.C;

const SHAPES = (rng: Rng): number[][] => [
  [4, 3],
  [7, 5, 3],
  [2, 3, 4, 5],
  [3, 2, 65, 67],
  [1, 2, 5000],
  [40, 70],
  [randInt(rng, 2, 9), randInt(rng, 1, 9), randInt(rng, 1, 40)],
  [0, 3, 2],
];

const chan = (rng: Rng, C: number, dtype: DType, lo = -2, hi = 2) => makeInput(rng, [C], dtype, 'contiguous', [lo, hi]);

export const batchNormStatsRow: OpRow<typeof batchNormStats> = {
  name: 'batch_norm_stats',
  kind: 'reduce',
  native: { nin: 1, nout: 2, nattr: 0 },
  dtypes: FLOAT_DTYPES,
  fn: batchNormStats,
  grad: (g) => [g],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const shape of SHAPES(rng).filter((s) => s[0] > 0))
      for (const layout of ['contiguous', 'transposed'] as const) {
        // an offset of 3 in the data checks that the variance subtracts the mean first
        const x = makeInput(rng, shape, dtype, layout, [2, 4]);
        const r = refStats(x.ref.data, shape);
        out.push({
          label: `${shapeStr(shape)} ${layout}`,
          got: batchNormStats(x.t),
          want: { shape: [2, r.C], data: [...r.mean, ...r.var] },
          tol: 16,
        });
        x.t.dispose();
      }
    return out;
  },
  gradSamples: (rng) =>
    [
      [4, 3],
      [3, 2, 5],
    ].map((s) => ({
      label: shapeStr(s),
      fn: (x: Tensor) =>
        batchNormStats(x).mul(fromNumbers([1, -2, 3, 0.5, 2, -1].slice(0, 2 * s[1]), [2, s[1]], 'float64')),
      inputs: [makeInput(rng, s, 'float64').t.requiresGrad_()],
    })),
  errors: () => [
    { label: '1-d input', run: () => batchNormStats(fromNumbers([1, 2], [2], 'float32')), code: 'ERR_SHAPE' },
    { label: 'integer input', run: () => batchNormStats(fromNumbers([1, 2], [1, 2], 'int32')), code: 'ERR_DTYPE' },
  ],
};

export const batchNormRow: OpRow<typeof batchNormApply> = {
  name: 'batch_norm',
  kind: 'custom',
  native: { nin: 5, nout: 1, nattr: 3 },
  dtypes: FLOAT_DTYPES,
  fn: batchNormApply,
  grad: (g) => [g, g, g, g, g],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const shape of SHAPES(rng))
      for (const affine of [true, false]) {
        const C = shape[1];
        const x = makeInput(rng, shape, dtype, affine ? 'transposed' : 'contiguous');
        const [m, v, w, b] = [
          chan(rng, C, dtype),
          chan(rng, C, dtype, 0.1, 2),
          chan(rng, C, dtype),
          chan(rng, C, dtype),
        ];
        const r = { N: shape[0], C, S: shape.slice(2).reduce((a, c) => a * c, 1), mean: [], var: [] };
        const data = x.ref.data.map((val, i) => {
          const c = idxC(i, r);
          const y = (val - m.ref.data[c]) / Math.sqrt(v.ref.data[c] + 1e-3);
          return affine ? y * w.ref.data[c] + b.ref.data[c] : y;
        });
        out.push({
          label: `${shapeStr(shape)}${affine ? ' affine' : ''}`,
          got: batchNormApply(x.t, affine ? w.t : null, affine ? b.t : null, m.t, v.t, 1e-3),
          want: { shape, data },
          tol: 16,
        });
        for (const t of [x, m, v, w, b]) t.t.dispose();
      }
    return out;
  },
  gradSamples: (rng) => {
    const f = (s: number[], lo = -1, hi = 1) => makeInput(rng, s, 'float64', 'contiguous', [lo, hi]).t.requiresGrad_();
    return [
      {
        label: '[3,2,4] affine',
        fn: (x: Tensor, m: Tensor, v: Tensor, w: Tensor, b: Tensor) => batchNormApply(x, w, b, m, v),
        inputs: [f([3, 2, 4]), f([2]), f([2], 0.5, 2), f([2]), f([2])],
      },
      {
        label: '[4,3] plain',
        fn: (x: Tensor, m: Tensor, v: Tensor) => batchNormApply(x, null, null, m, v),
        inputs: [f([4, 3]), f([3]), f([3], 0.5, 2)],
      },
    ];
  },
  errors: () => [
    {
      label: 'mean shape',
      run: () =>
        batchNormApply(
          fromNumbers([1, 2, 3, 4], [2, 2], 'float32'),
          null,
          null,
          fromNumbers([0], [1], 'float32'),
          fromNumbers([1, 1], [2], 'float32'),
        ),
      code: 'ERR_SHAPE',
    },
    {
      label: 'negative eps',
      run: () =>
        batchNormApply(
          fromNumbers([1, 2, 3, 4], [2, 2], 'float32'),
          null,
          null,
          fromNumbers([0, 0], [2], 'float32'),
          fromNumbers([1, 1], [2], 'float32'),
          -1,
        ),
      code: 'ERR_ARG',
    },
  ],
};

export const batchNormBackwardRow: OpRow<(...a: Parameters<typeof batchNormBackward>) => Tensor> = {
  name: 'batch_norm_backward',
  kind: 'custom',
  native: { nin: 5, nout: 3, nattr: 2 },
  dtypes: FLOAT_DTYPES,
  fn: (...a) => batchNormBackward(...a)[0],
  grad: {
    nondiff:
      'never differentiated: when a graph of the gradient is recorded (createGraph), batchNorm computes its gradient with the same formula written in ops instead, which is differentiable',
  },
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const shape of SHAPES(rng).filter((s) => s[0] > 0)) {
      const C = shape[1];
      const x = makeInput(rng, shape, dtype, 'transposed');
      const g = makeInput(rng, shape, dtype);
      const w = chan(rng, C, dtype);
      const r = refStats(x.ref.data, shape);
      const M = r.N * r.S;
      const sg = new Array<number>(C).fill(0),
        sgx = new Array<number>(C).fill(0);
      const m = fromNumbers(r.mean, [C], dtype),
        v = fromNumbers(r.var, [C], dtype);
      // the reference uses the statistics as the kernel sees them (rounded to the dtype)
      const mr = m._numbers(),
        vr = v._numbers();
      const inv = vr.map((q) => 1 / Math.sqrt(q + 1e-5));
      x.ref.data.forEach((val, i) => {
        const c = idxC(i, r);
        sg[c] += g.ref.data[i];
        sgx[c] += g.ref.data[i] * (val - mr[c]) * inv[c];
      });
      const gx = x.ref.data.map((val, i) => {
        const c = idxC(i, r);
        const xh = (val - mr[c]) * inv[c];
        return w.ref.data[c] * inv[c] * (g.ref.data[i] - sg[c] / M - (xh * sgx[c]) / M);
      });
      const [kgx, kgw, kgb] = batchNormBackward(g.t, x.t, w.t, m, v);
      const scaleTol = 64 * Math.max(1, ...inv);
      out.push({ label: `${shapeStr(shape)} grad input`, got: kgx, want: { shape, data: gx }, tol: scaleTol });
      out.push({ label: `${shapeStr(shape)} grad weight`, got: kgw, want: { shape: [C], data: sgx }, tol: scaleTol });
      out.push({ label: `${shapeStr(shape)} grad bias`, got: kgb, want: { shape: [C], data: sg }, tol: 64 });
      for (const t of [x.t, g.t, w.t, m, v]) t.dispose();
    }
    return out;
  },
  gradSamples: () => [],
  errors: () => [
    {
      label: 'gradOutput shape',
      run: () =>
        batchNormBackward(
          fromNumbers([1, 2], [1, 2], 'float32'),
          fromNumbers([1, 2, 3, 4], [2, 2], 'float32'),
          null,
          fromNumbers([0, 0], [2], 'float32'),
          fromNumbers([1, 1], [2], 'float32'),
        ),
      code: 'ERR_SHAPE',
    },
  ],
};
