/**
 * Layer norm and RMS norm over the last dims as one fused native kernel each way
 * (native/cpu/norm.cpp): the forward saves each row's mean and rstd, the backward reads them and
 * produces gx, grad weight and grad bias in one pass over the rows. Under createGraph (gradients
 * of gradients) the gradient is written with ops instead, so it is itself differentiable; the
 * fused backward row is used whenever no graph of the gradient is being recorded.
 * float16/bfloat16 compute in float32.
 */
import { gradMode, noGrad } from '../autograd/grad_mode';
import { record } from '../autograd/node';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { DType, FLOAT_DTYPES, isFloating } from '../dtype';
import { KilnError } from '../errors';
import { numelOf, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { computeDtype, dense, disposeTemps } from './dense';
import { checkTensor } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { LAYOUTS, errorCases, gradInput, makeInput, randInt } from './samples';

/** float32 / float64 machine epsilon, RMSNorm's default eps (torch.finfo(dtype).eps). */
export const finfoEps = (d: DType): number =>
  d === 'float64' ? 2 ** -52 : d === 'float16' ? 2 ** -10 : d === 'bfloat16' ? 2 ** -7 : 2 ** -23;

function checkArgs(op: string, x: Tensor, shape: readonly number[], w: Tensor | null, b: Tensor | null, eps: number) {
  checkTensor(x, op, 'input');
  if (!Array.isArray(shape) || shape.some((s) => !Number.isInteger(s) || s < 0))
    throw new KilnError('ERR_ARG', `${op}: normalizedShape must be an array of sizes, got ${JSON.stringify(shape)}`);
  const tail = x._shape.slice(x.ndim - shape.length);
  if (x.ndim < shape.length || tail.join() !== shape.join())
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: input ${shapeStr(x._shape)} does not end in normalized shape ${shapeStr([...shape])}`,
    );
  if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `${op}: needs a floating input, got ${x.dtype}`);
  for (const [t, name] of [
    [w, 'weight'],
    [b, 'bias'],
  ] as const) {
    if (!t) continue;
    checkTensor(t, op, name);
    if (t._shape.join() !== shape.join())
      throw new KilnError(
        'ERR_SHAPE',
        `${op}: ${name} ${shapeStr(t._shape)} must have the normalized shape ${shapeStr([...shape])}`,
      );
  }
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new KilnError('ERR_ARG', `${op}: eps must be >= 0, got ${eps}`);
}

const flat = (t: Tensor, shape: number[]): Tensor => noGrad(() => dense(t).reshape(shape));
const none = (dtype: DType): Tensor => Tensor._empty([0], dtype, 'layerNorm');

/**
 * The fused layer norm (rms = false: (x - mean) * rstd) or RMS norm (rms = true: x * rstd) over
 * the trailing `normalizedShape`, then * weight + bias. Public forms: nn.functional.layerNorm,
 * nn.functional.rmsNorm.
 */
export function layerNormFused(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
  rms: boolean,
): Tensor {
  const op = rms ? 'rmsNorm' : 'layerNorm';
  checkArgs(op, x, normalizedShape, weight, bias, eps);
  const wide = computeDtype(x.dtype);
  if (wide !== x.dtype || (weight && weight.dtype !== wide) || (bias && bias.dtype !== wide)) {
    const [xf, wf, bf] = [x, weight, bias].map((t) => (t && t.dtype !== wide ? t.to(wide) : t));
    const yf = layerNormFused(xf!, normalizedShape, wf, bf, eps, rms);
    const y = yf.to(x.dtype);
    disposeTemps([
      [xf, x],
      [wf, weight],
      [bf, bias],
      [yf, y],
    ]);
    return y;
  }
  const n = numelOf(normalizedShape),
    rows = n ? x.numel() / n : numelOf(x._shape.slice(0, x.ndim - normalizedShape.length));
  const x2 = flat(x, [rows, n]),
    w1 = weight ? flat(weight, [n]) : none(wide),
    b1 = bias ? flat(bias, [n]) : none(wide);
  const y = Tensor._empty(x._shape.slice(), wide, op);
  const y2 = noGrad(() => y.reshape([rows, n]));
  const mean = Tensor._empty([rows], wide, op),
    rstd = Tensor._empty([rows], wide, op);
  runKernel(OP.LAYER_NORM, [y2, mean, rstd], [x2, w1, b1], [eps, rms ? 1 : 0]);
  disposeTemps([
    [x2, x],
    [w1, weight],
    [b1, bias],
    [y2, y],
  ]);
  const inputs = [x, mean, rstd, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const out = record(op, y, inputs, (g, c) => {
    const [xi, mi, ri, ...rest] = c.inputs;
    const wi = weight ? rest[0] : null,
      bi = bias ? rest[weight ? 1 : 0] : null;
    const grads = gradMode.enabled
      ? gradWithOps(g, xi, wi, bi !== null, normalizedShape.length, eps, rms)
      : layerNormBackward(g, xi, wi, mi, ri, normalizedShape.length, rms, bi !== null);
    return [grads[0], null, null, ...(wi ? [grads[1]] : []), ...(bi ? [grads[2]] : [])];
  });
  mean.dispose(); // the node keeps its own handles when it needs them
  rstd.dispose();
  return out;
}

/** The gradient written with ops (differentiable again), for createGraph. */
function gradWithOps(g: Tensor, x: Tensor, w: Tensor | null, wantB: boolean, k: number, eps: number, rms: boolean) {
  const dims = Array.from({ length: k }, (_, i) => x.ndim - 1 - i);
  const lead = Array.from({ length: x.ndim - k }, (_, i) => i);
  const xc = rms ? x : x.sub(x.mean(dims, true));
  const rstd = xc.mul(xc).mean(dims, true).add(eps).rsqrt();
  const xh = xc.mul(rstd);
  const gh = w ? g.mul(w) : g;
  let inner = gh.sub(xh.mul(gh.mul(xh).mean(dims, true)));
  if (!rms) inner = inner.sub(gh.mean(dims, true));
  const gx = inner.mul(rstd);
  const gw = w ? (lead.length ? g.mul(xh).sum(lead) : g.mul(xh)) : null;
  const gb = wantB ? (lead.length ? g.sum(lead) : g) : null;
  return [gx, gw, gb];
}

/**
 * The fused backward: [gx, grad weight (null without w), grad bias (null unless wantB)] from the
 * forward's saved per-row mean and rstd. Not differentiable itself (see the row's reason).
 */
export function layerNormBackward(
  gy: Tensor,
  x: Tensor,
  w: Tensor | null,
  mean: Tensor,
  rstd: Tensor,
  k: number,
  rms: boolean,
  wantB: boolean,
): (Tensor | null)[] {
  const dtype = x.dtype;
  if (gy._shape.join() !== x._shape.join() || k > x.ndim)
    throw new KilnError(
      'ERR_SHAPE',
      `layerNormBackward: grad ${shapeStr(gy._shape)} is not input ${shapeStr(x._shape)}`,
    );
  const nshape = x._shape.slice(x.ndim - k);
  const n = numelOf(nshape),
    rows = mean.numel();
  const g2 = flat(gy.dtype === dtype ? gy : gy.to(dtype), [rows, n]),
    x2 = flat(x, [rows, n]),
    w1 = w ? flat(w, [n]) : none(dtype);
  const gx = Tensor._empty(x._shape.slice(), dtype, 'layerNormBackward');
  const gx2 = noGrad(() => gx.reshape([rows, n]));
  const gw = w ? Tensor._empty([n], dtype, 'layerNormBackward') : none(dtype),
    gb = wantB ? Tensor._empty([n], dtype, 'layerNormBackward') : none(dtype);
  runKernel(OP.LAYER_NORM_BACKWARD, [gx2, gw, gb], [g2, x2, w1, mean, rstd], [rms ? 1 : 0]);
  disposeTemps([
    [g2, gy],
    [x2, x],
    [w1, w],
    [gx2, gx],
  ]);
  const shaped = (t: Tensor, want: boolean) => {
    if (!want) {
      t.dispose();
      return null;
    }
    const r = noGrad(() => t.reshape(nshape));
    if (r !== t) t.dispose();
    return r;
  };
  return [gx, shaped(gw, !!w), shaped(gb, wantB)];
}

// ---- Op-table rows ----

/** Plain float64 layer/RMS norm over rows of n, then * w + b. */
function refLayerNorm(x: number[], n: number, w: number[] | null, b: number[] | null, eps: number, rms: boolean) {
  const out = new Array<number>(x.length);
  for (let r = 0; r * n < x.length; r++) {
    const row = x.slice(r * n, r * n + n);
    const mu = rms ? 0 : row.reduce((s, v) => s + v, 0) / n;
    const rstd = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / n + eps);
    row.forEach((v, j) => (out[r * n + j] = (v - mu) * rstd * (w ? w[j] : 1) + (b ? b[j] : 0)));
  }
  return out;
}

const NORM_SHAPES: [number[], number][] = [
  [[1, 1], 1],
  [[3, 5], 1],
  [[0, 4], 1],
  [[4, 37], 1],
  [[2, 3, 4], 2],
  [[5, 130], 1],
  [[3, 1, 7], 1],
  [[7], 1],
  [[2, 1024], 1],
];

export const layerNormRow: OpRow<typeof layerNormFused> = {
  name: 'layer_norm',
  kind: 'custom',
  native: { nin: 3, nout: 3, nattr: 2 },
  dtypes: FLOAT_DTYPES,
  fn: layerNormFused,
  grad: (g) => [g, g, g],
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    const shapes = [...NORM_SHAPES, [[randInt(rng, 1, 9), randInt(rng, 1, 300)], 1] as [number[], number]];
    for (const [shape, k] of shapes)
      for (const rms of [false, true])
        for (const affine of [0, 1, 2]) {
          const ns = shape.slice(shape.length - k);
          const A = makeInput(rng, shape, dtype, LAYOUTS[randInt(rng, 0, 3)], [-3, 5]);
          const W = affine ? makeInput(rng, ns, dtype, 'contiguous', [0.5, 2]) : null;
          const B = affine === 2 && !rms ? makeInput(rng, ns, dtype, 'contiguous') : null;
          const eps = rms ? finfoEps(dtype) : 1e-5;
          out.push({
            label: `${rms ? 'rms' : 'layer'}Norm ${shapeStr(shape)} over ${k} dims affine ${affine}`,
            got: layerNormFused(A.t, ns, W?.t ?? null, B?.t ?? null, eps, rms),
            want: {
              shape,
              data: refLayerNorm(A.ref.data, numelOf(ns), W?.ref.data ?? null, B?.ref.data ?? null, eps, rms),
            },
            tol: 64,
          });
          for (const t of [A.t, W?.t, B?.t]) t?.dispose();
        }
    // Large mean, small spread: subtracting the mean first keeps the variance exact.
    const big = fromNumbers([1e4 + 1, 1e4 + 2, 1e4 + 3, 1e4 + 4], [1, 4], dtype === 'float64' ? dtype : 'float32');
    if (dtype === 'float32' || dtype === 'float64') {
      const mu = 1e4 + 2.5,
        rstd = 1 / Math.sqrt(1.25 + 1e-5);
      out.push({
        label: 'mean 1e4, variance 1.25',
        got: layerNormFused(big, [4], null, null, 1e-5, false),
        want: { shape: [1, 4], data: [1, 2, 3, 4].map((v) => (1e4 + v - mu) * rstd) },
        tol: 64,
      });
    }
    big.dispose();
    return out;
  },
  gradSamples: (rng) => [
    {
      label: 'layerNorm affine',
      fn: (x, w, b) => layerNormFused(x, [5], w, b, 1e-5, false),
      inputs: [gradInput(rng, [3, 5]), gradInput(rng, [5]), gradInput(rng, [5])],
    },
    {
      label: 'layerNorm plain 2 dims',
      fn: (x) => layerNormFused(x, [2, 3], null, null, 1e-5, false),
      inputs: [gradInput(rng, [2, 2, 3])],
    },
    {
      label: 'rmsNorm weight',
      fn: (x, w) => layerNormFused(x, [4], w, null, 1e-6, true),
      inputs: [gradInput(rng, [3, 4]), gradInput(rng, [4])],
    },
  ],
  errors: () => {
    const x = () => fromNumbers([1, 2, 3, 4, 5, 6], [2, 3], 'float32');
    return errorCases([
      ['normalizedShape mismatch', () => layerNormFused(x(), [2], null, null, 1e-5, false), 'ERR_SHAPE'],
      [
        'weight shape',
        () => layerNormFused(x(), [3], fromNumbers([1, 2], [2], 'float32'), null, 1e-5, false),
        'ERR_SHAPE',
      ],
      ['bias shape', () => layerNormFused(x(), [3], null, fromNumbers([1], [1], 'float32'), 1e-5, true), 'ERR_SHAPE'],
      ['negative eps', () => layerNormFused(x(), [3], null, null, -1, false), 'ERR_ARG'],
      [
        'integer input',
        () => layerNormFused(fromNumbers([1, 2], [1, 2], 'int64'), [2], null, null, 1e-5, false),
        'ERR_DTYPE',
      ],
    ]);
  },
};

export const layerNormBackwardRow: OpRow<typeof layerNormBackward> = {
  name: 'layer_norm_backward',
  kind: 'custom',
  native: { nin: 5, nout: 3, nattr: 1 },
  dtypes: ['float32', 'float64'],
  fn: layerNormBackward,
  grad: {
    nondiff:
      'runs only when no graph of the gradient is recorded; under createGraph layer_norm writes its gradient with differentiable ops instead',
  },
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    for (const [shape, k] of [...NORM_SHAPES, [[300, 7], 1] as [number[], number]])
      for (const rms of [false, true]) {
        const ns = shape.slice(shape.length - k),
          n = numelOf(ns),
          rows = n ? numelOf(shape) / n : shape[0];
        const X = makeInput(rng, shape, dtype, 'contiguous', [-2, 2]);
        const G = makeInput(rng, shape, dtype, LAYOUTS[randInt(rng, 0, 3)], [-2, 2]);
        const W = makeInput(rng, ns, dtype, 'contiguous', [0.5, 2]);
        // The float64 reference: statistics, gx, and column sums of gy * xh and gy.
        const mean: number[] = [],
          rstd: number[] = [],
          gx: number[] = [],
          gw = new Array<number>(n).fill(0),
          gb = new Array<number>(n).fill(0);
        for (let r = 0; r < rows; r++) {
          const xr = X.ref.data.slice(r * n, r * n + n),
            gr = G.ref.data.slice(r * n, r * n + n);
          const mu = rms ? 0 : xr.reduce((s, v) => s + v, 0) / n;
          const rs = 1 / Math.sqrt(xr.reduce((s, v) => s + (v - mu) ** 2, 0) / n + 1e-5);
          mean.push(mu);
          rstd.push(rs);
          const xh = xr.map((v) => (v - mu) * rs),
            gh = gr.map((v, j) => v * W.ref.data[j]);
          const ca = gh.reduce((s, v, j) => s + v * xh[j], 0) / n,
            cb = rms ? 0 : gh.reduce((s, v) => s + v, 0) / n;
          gh.forEach((v, j) => {
            gx.push(rs * (v - cb - xh[j] * ca));
            gw[j] += gr[j] * xh[j];
            gb[j] += gr[j];
          });
        }
        const [m, s] = [fromNumbers(mean, [rows], dtype), fromNumbers(rstd, [rows], dtype)];
        const [a, bw, bb] = layerNormBackward(G.t, X.t, W.t, m, s, k, rms, true);
        const label = `${rms ? 'rms' : 'layer'}Norm backward ${shapeStr(shape)}`;
        out.push({ label: `${label} gx`, got: a!, want: { shape, data: gx }, tol: 256 });
        out.push({ label: `${label} gw`, got: bw!, want: { shape: ns, data: gw }, tol: 64 * (rows + 4) });
        out.push({ label: `${label} gb`, got: bb!, want: { shape: ns, data: gb }, tol: 16 * (rows + 4) });
        for (const t of [X.t, G.t, W.t, m, s]) t.dispose();
      }
    return out;
  },
  gradSamples: () => [],
  errors: () =>
    errorCases([
      [
        'grad shape',
        () => {
          const x = fromNumbers([1, 2, 3, 4], [2, 2], 'float32');
          const st = fromNumbers([0, 1], [2], 'float32');
          return layerNormBackward(fromNumbers([1, 2], [1, 2], 'float32'), x, null, st, st, 1, false, false);
        },
        'ERR_SHAPE',
      ],
    ]),
};
