/**
 * Binary cross-entropy with logits, fused (native/cpu/bce.cpp; CUDA in kernels/bce.cu): one read of
 * the logits and targets gives the losses or their sum, one pass gives the input's gradient.
 * nn.functional.binaryCrossEntropyWithLogits (nn/losses.ts) calls it when every operand has the
 * input's dtype.
 */
import { gradMode, noGrad } from '../autograd/grad_mode';
import { record, type GradCtx } from '../autograd/node';
import { scope } from '../memory';
import { softplus } from '../nn/layers/activation_composite';
import { fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { FLOAT_DTYPES, isFloating } from '../dtype';
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { checkTensor } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { errorCases, gradInput, makeInput, randInt } from './samples';

export type BceReduction = 'mean' | 'sum' | 'none';

/** t as a flat contiguous [n] tensor without autograd (a view when t is contiguous). */
const flat = (t: Tensor, n: number): Tensor =>
  noGrad(() => {
    const c = t.contiguous();
    const f = c.reshape([n]);
    if (c !== t && c !== f) c.dispose();
    return f;
  });

/**
 * Loss (1 - t) x + c softplus(-x), c = 1 + (posWeight - 1) t, times weight, reduced by `reduction`
 * (torch binary_cross_entropy_with_logits). posWeight and weight broadcast to the input's shape.
 * Gradients: the input's from the fused backward (ops when a graph of the gradient is recorded),
 * the target's, posWeight's and weight's from ops.
 */
export function bceWithLogits(
  input: Tensor,
  target: Tensor,
  posWeight: Tensor | null = null,
  weight: Tensor | null = null,
  reduction: BceReduction = 'mean',
): Tensor {
  const op = 'bce_with_logits';
  checkTensor(input, op, 'input');
  checkTensor(target, op, 'target');
  if (!['mean', 'sum', 'none'].includes(reduction))
    throw new KilnError('ERR_ARG', `${op}: reduction must be mean, sum or none; got '${reduction}'`);
  if (!isFloating(input.dtype)) throw new KilnError('ERR_DTYPE', `${op}: needs a floating input, got ${input.dtype}`);
  if (input._shape.join() !== target._shape.join())
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: input ${shapeStr(input._shape)} and target ${shapeStr(target._shape)} must have the same shape`,
    );
  for (const [t, name] of [
    [target, 'target'],
    [posWeight, 'posWeight'],
    [weight, 'weight'],
  ] as const) {
    if (!t) continue;
    checkTensor(t, op, name);
    if (t.dtype !== input.dtype)
      throw new KilnError('ERR_DTYPE', `${op}: ${name} is ${t.dtype}, the input ${input.dtype}`);
  }
  const shape = input._shape.slice(),
    n = input.numel();
  const full = (t: Tensor | null) => (t && t._shape.join() !== shape.join() ? t.expand(shape) : t);
  const [pwf, wf] = [full(posWeight), full(weight)];
  const ops = [input, target, pwf ?? input, wf ?? input].map((t) => flat(t, n));
  const out = Tensor._empty(reduction === 'none' ? [n] : [], input.dtype, op, input.device);
  runKernel(OP.BCE_WITH_LOGITS, [out], ops, [
    reduction === 'none' ? 0 : 1,
    reduction === 'mean' ? 1 / n : 1,
    pwf ? 1 : 0,
    wf ? 1 : 0,
  ]);
  for (const t of ops) if (![input, target, pwf, wf].includes(t)) t.dispose(); // the views made here
  const y = reduction === 'none' ? noGrad(() => out.reshape(shape)) : out;
  if (y !== out) out.dispose();
  const inputs = [input, target, ...(pwf ? [pwf] : []), ...(wf ? [wf] : [])];
  const loss = record(op, y, inputs, (g, c) => (gradMode.enabled ? grads(g, c) : scope(() => grads(g, c))));
  for (const v of [pwf, wf]) if (v && v !== posWeight && v !== weight) v.dispose(); // the node keeps its own
  return loss;

  // The gradients: the input's from the fused kernel (ops when a graph of the gradient is recorded),
  // the rest from ops (in a scope then, so their intermediates go at once).
  function grads(g: Tensor, c: GradCtx): (Tensor | null)[] {
    const [x, t] = c.inputs;
    const pwi = pwf ? c.inputs[2] : null,
      wi = wf ? c.inputs[pwf ? 3 : 2] : null;
    const need = (i: number) => c.inputs[i]._requiresGrad;
    const ge = () => (reduction === 'none' ? g : (reduction === 'mean' ? g.div(n) : g).expand(shape));
    const coef = () => (pwi ? pwi.sub(1).mul(t).add(1) : null);
    let gx: Tensor | null = null;
    if (need(0) && gradMode.enabled) {
      const s = x.neg().sigmoid();
      const d = t
        .neg()
        .add(1)
        .sub(pwi ? coef()!.mul(s) : s);
      gx = ge()
        .mul(wi ?? 1)
        .mul(d);
    } else if (need(0)) gx = bceWithLogitsGrad(g, x, t, pwi, wi, reduction);
    const iw = pwf ? 3 : 2;
    const wanted = need(1) || (pwi !== null && need(2)) || (wi !== null && need(iw));
    const sp = wanted ? softplus(x.neg()) : null; // softplus(-x), smooth at x = 0 for second derivatives
    const gw = (v: Tensor) => (wi ? v.mul(wi) : v);
    const gt = need(1) ? gw(ge().mul(x.neg().add(pwi ? pwi.sub(1).mul(sp!) : 0))) : null;
    const gpw = pwi && need(2) ? gw(ge().mul(t).mul(sp!)) : null;
    const gwt =
      wi && need(iw)
        ? ge().mul(
            t
              .neg()
              .add(1)
              .mul(x)
              .add(pwi ? coef()!.mul(sp!) : sp!),
          )
        : null;
    return [gx, gt, ...(pwf ? [gpw] : []), ...(wf ? [gwt] : [])];
  }
}

/**
 * The input's gradient of bceWithLogits for the gradient g of its output (elementwise for 'none',
 * one element otherwise): g w ((1 - t) - c sigmoid(-x)), in one pass.
 */
export function bceWithLogitsGrad(
  g: Tensor,
  x: Tensor,
  t: Tensor,
  posWeight: Tensor | null,
  weight: Tensor | null,
  reduction: BceReduction,
): Tensor {
  const op = 'bce_with_logits_backward';
  const shape = x._shape.slice(),
    n = x.numel();
  if (reduction === 'none' ? g._shape.join() !== shape.join() : g.numel() !== 1)
    throw new KilnError(
      'ERR_SHAPE',
      `${op}: gradOutput ${shapeStr(g._shape)} does not fit the input ${shapeStr(shape)}`,
    );
  const full = (v: Tensor | null) => (v ? noGrad(() => v.expand(shape)) : null);
  const [pwf, wf] = [full(posWeight), full(weight)];
  const ops = [g, x, t, pwf ?? x, wf ?? x].map((v, i) => flat(v, i === 0 && reduction !== 'none' ? 1 : n));
  const gx = Tensor._empty([n], x.dtype, op, x.device);
  runKernel(OP.BCE_WITH_LOGITS_BACKWARD, [gx], ops, [
    reduction === 'none' ? 0 : 1,
    reduction === 'mean' ? 1 / n : 1,
    pwf ? 1 : 0,
    wf ? 1 : 0,
  ]);
  for (const v of ops) if (![g, x, t, pwf, wf].includes(v)) v.dispose();
  for (const v of [pwf, wf]) if (v && v !== posWeight && v !== weight) v.dispose();
  const r = noGrad(() => gx.reshape(shape));
  if (r !== gx) gx.dispose();
  return r;
}

// ---- References (float64 loops) and rows ----

const spNeg = (x: number): number => Math.max(-x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const refLoss = (x: number, t: number, pw: number, w: number): number =>
  w * ((1 - t) * x + (1 + (pw - 1) * t) * spNeg(x));
const refGrad = (x: number, t: number, pw: number, w: number): number =>
  w * (1 - t - (1 + (pw - 1) * t) / (1 + Math.exp(x)));

interface Geometry {
  shape: number[];
  pw: boolean;
  w: boolean;
  reduction: BceReduction;
}
const GEOMS = (rng: Rng): Geometry[] => [
  { shape: [4, 3], pw: false, w: false, reduction: 'none' },
  { shape: [7, 37], pw: true, w: false, reduction: 'mean' },
  { shape: [3, 5, 9], pw: false, w: true, reduction: 'sum' },
  { shape: [5000], pw: true, w: true, reduction: 'none' }, // past a 4096 chunk
  { shape: [2, 4500], pw: true, w: true, reduction: 'mean' },
  { shape: [0, 3], pw: false, w: false, reduction: 'sum' },
  { shape: [randInt(rng, 1, 40), randInt(rng, 1, 40)], pw: rng() < 0.5, w: rng() < 0.5, reduction: 'none' },
];

/** Inputs of one geometry: logits, targets in [0, 1], pos weights and weights in [0.2, 3]. */
function inputsOf(rng: Rng, g: Geometry, dtype: (typeof FLOAT_DTYPES)[number]) {
  const x = makeInput(rng, g.shape, dtype, g.shape.length > 1 ? 'transposed' : 'contiguous', [-8, 8]);
  const t = makeInput(rng, g.shape, dtype, 'contiguous', [0, 1]);
  const pw = g.pw ? makeInput(rng, g.shape, dtype, 'contiguous', [0.2, 3]) : null;
  const w = g.w ? makeInput(rng, g.shape, dtype, 'contiguous', [0.2, 3]) : null;
  return { x, t, pw, w };
}
const at = (v: { ref: { data: number[] } } | null, i: number) => (v ? v.ref.data[i] : 1);

export const bceWithLogitsRow: OpRow<typeof bceWithLogits> = {
  name: 'bce_with_logits',
  kind: 'custom',
  native: { nin: 4, nout: 1, nattr: 4 },
  dtypes: FLOAT_DTYPES,
  fn: bceWithLogits,
  grad: (g) => [g, g],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const geo of GEOMS(rng)) {
      const { x, t, pw, w } = inputsOf(rng, geo, dtype);
      const per = x.ref.data.map((v, i) => refLoss(v, t.ref.data[i], at(pw, i), at(w, i)));
      const s = per.reduce((a, b) => a + b, 0);
      const want =
        geo.reduction === 'none'
          ? { shape: geo.shape, data: per }
          : { shape: [], data: [geo.reduction === 'sum' ? s : s / per.length] };
      out.push({
        label: `${shapeStr(geo.shape)}${geo.pw ? ' posWeight' : ''}${geo.w ? ' weight' : ''} ${geo.reduction}`,
        got: bceWithLogits(x.t, t.t, pw?.t ?? null, w?.t ?? null, geo.reduction),
        want,
        tol: geo.reduction === 'none' ? 16 : 16 + 4 * Math.sqrt(per.length),
      });
      for (const v of [x, t, pw, w]) v?.t.dispose();
    }
    // Logits of 1e4 (stable), a broadcast posWeight [C] and weight [N, 1].
    const big = dtype === 'float32' || dtype === 'float64' ? 1e4 : 8192;
    const X = fromNumbers([big, -big, 0, big, -big, 2], [2, 3], dtype),
      T = fromNumbers([0, 1, 1, 1, 0, 0.5], [2, 3], dtype);
    const PW = fromNumbers([2, 0.5, 3], [3], dtype),
      W = fromNumbers([1.5, 0.25], [2, 1], dtype);
    const xs = X._numbers(),
      ts = T._numbers(),
      pws = PW._numbers(),
      ws = W._numbers();
    out.push({
      label: `logits ${big}, posWeight [3], weight [2, 1]`,
      got: bceWithLogits(X, T, PW, W, 'none'),
      want: { shape: [2, 3], data: xs.map((v, i) => refLoss(v, ts[i], pws[i % 3], ws[Math.floor(i / 3)])) },
      tol: 16,
    });
    for (const v of [X, T, PW, W]) v.dispose();
    return out;
  },
  gradSamples: (rng) => [
    {
      label: 'mean, every input',
      fn: (x, t, pw, w) => bceWithLogits(x, t, pw, w),
      inputs: [
        gradInput(rng, [3, 4]),
        makeInput(rng, [3, 4], 'float64', 'contiguous', [0.1, 0.9]).t.requiresGrad_(),
        makeInput(rng, [4], 'float64', 'contiguous', [0.5, 2]).t.requiresGrad_(),
        makeInput(rng, [3, 1], 'float64', 'contiguous', [0.5, 2]).t.requiresGrad_(),
      ],
    },
    {
      label: 'none, input and target',
      fn: (x, t) => bceWithLogits(x, t, null, null, 'none'),
      inputs: [gradInput(rng, [5]), makeInput(rng, [5], 'float64', 'contiguous', [0.1, 0.9]).t.requiresGrad_()],
    },
    {
      label: 'sum, input',
      fn: (x) => bceWithLogits(x, fromNumbers([0, 1, 0.25], [3], 'float64'), null, null, 'sum'),
      inputs: [gradInput(rng, [3])],
    },
  ],
  errors: () =>
    errorCases([
      [
        'shapes differ',
        () => bceWithLogits(fromNumbers([1, 2], [2], 'float32'), fromNumbers([1], [1], 'float32')),
        'ERR_SHAPE',
      ],
      [
        'integer input',
        () => bceWithLogits(fromNumbers([1], [1], 'int32'), fromNumbers([1], [1], 'int32')),
        'ERR_DTYPE',
      ],
      [
        'target dtype',
        () => bceWithLogits(fromNumbers([1], [1], 'float32'), fromNumbers([1], [1], 'float64')),
        'ERR_DTYPE',
      ],
      [
        'reduction',
        () =>
          bceWithLogits(fromNumbers([1], [1], 'float32'), fromNumbers([1], [1], 'float32'), null, null, 'max' as never),
        'ERR_ARG',
      ],
      [
        'posWeight does not broadcast',
        () =>
          bceWithLogits(
            fromNumbers([1, 2], [2], 'float32'),
            fromNumbers([1, 0], [2], 'float32'),
            fromNumbers([1, 2, 3], [3], 'float32'),
          ),
        'ERR_SHAPE',
      ],
    ]),
};

export const bceWithLogitsBackwardRow: OpRow<typeof bceWithLogitsGrad> = {
  name: 'bce_with_logits_backward',
  kind: 'custom',
  native: { nin: 5, nout: 1, nattr: 4 },
  dtypes: FLOAT_DTYPES,
  fn: bceWithLogitsGrad,
  grad: {
    nondiff:
      'never differentiated: when a graph of the gradient is recorded (createGraph), bceWithLogits writes the same formula with ops instead, which is differentiable',
  },
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const geo of GEOMS(rng)) {
      const { x, t, pw, w } = inputsOf(rng, geo, dtype);
      const none = geo.reduction === 'none';
      const g = none ? makeInput(rng, geo.shape, dtype) : null;
      const gs = fromNumbers([1.5], [], dtype);
      const scale = geo.reduction === 'mean' ? 1 / x.ref.data.length : 1;
      const gv = gs._numbers()[0];
      const want = x.ref.data.map(
        (v, i) => (g ? g.ref.data[i] : gv * scale) * refGrad(v, t.ref.data[i], at(pw, i), at(w, i)),
      );
      out.push({
        label: `${shapeStr(geo.shape)}${geo.pw ? ' posWeight' : ''}${geo.w ? ' weight' : ''} ${geo.reduction}`,
        got: bceWithLogitsGrad(g ? g.t : gs, x.t, t.t, pw?.t ?? null, w?.t ?? null, geo.reduction),
        want: { shape: geo.shape, data: want },
        tol: 32,
      });
      for (const v of [x, t, pw, w, g]) v?.t.dispose();
      gs.dispose();
    }
    return out;
  },
  gradSamples: () => [],
  errors: () =>
    errorCases([
      [
        'gradOutput shape',
        () =>
          bceWithLogitsGrad(
            fromNumbers([1, 2], [2], 'float32'),
            fromNumbers([1], [1], 'float32'),
            fromNumbers([1], [1], 'float32'),
            null,
            null,
            'none',
          ),
        'ERR_SHAPE',
      ],
    ]),
};
