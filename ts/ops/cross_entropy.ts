/**
 * Cross-entropy fused with log-softmax (native/cpu/cross_entropy.cpp): per row of [rows, C]
 * logits, the log-sum-exp and the loss against class indices (weights, ignoreIndex,
 * labelSmoothing) or class probabilities, in one read of the logits; the backward computes
 * (softmax - target distribution) terms from the logits and the saved log-sum-exp, never storing
 * probabilities. [N, C, d...] float32 CPU inputs with class indices and no label smoothing are read
 * in place (the kernel takes the classes down the columns); other [N, C, d...] inputs have C moved
 * last first. Under createGraph the gradient is written with ops instead (differentiable again).
 * float16/bfloat16 compute in float32.
 *
 * Training (a CPU input that needs a gradient, reduction mean or sum): the forward kernel also
 * writes the gradient of the result while each row is still in cache, and loss.backward() takes
 * it as it is (the node owns it until then; a forward without a backward frees it with the node).
 * The backward's logits read and exp go: forward + backward 0.50 -> 0.75 of copy_ at [65536, 256],
 * 0.67 -> 1.07 at [8192, 4096] (12 bytes per logit credited). Any other incoming gradient, a
 * second pass and createGraph compute it as before.
 */
import { gradMode, noGrad } from '../autograd/grad_mode';
import { needsGrad, record } from '../autograd/node';
import { arange, fromNumbers } from '../creation';
import { runKernel } from '../dispatch';
import { DType, FLOAT_DTYPES, isFloating, roundTo } from '../dtype';
import { KilnError } from '../errors';
import type { CrossEntropyOptions } from '../nn/losses';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { computeDtype, dense, disposeTemps } from './dense';
import { castTo, checkTensor } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow, Rng } from './row';
import { errorCases, gradInput, makeInput, randInt } from './samples';
import { logSoftmax, softmax } from './softmax';

const none = (dtype: DType): Tensor => Tensor._empty([0], dtype, 'crossEntropy');

interface RowArgs {
  weight: Tensor | null;
  ignoreIndex: number;
  eps: number;
  /**
   * The gradient of a mean or sum, written by the forward kernel beside the loss (scaled by this:
   * 1 / the mean's denominator, or 1), for a backward whose incoming gradient is that scale in
   * every row (loss.backward() of the mean or sum); null: none.
   */
  gradScale: number | null;
}

/** Whether g ([rows]) holds v in every row: an expanded scalar (or one row) equal to it. */
function uniformIs(g: Tensor, v: number): boolean {
  if (g.ndim !== 1 || !(g._shape[0] === 1 || g._strides[0] === 0)) return false;
  const one = g.narrow(0, 0, 1);
  const got = one.item() as number;
  one.dispose();
  return got === v;
}

/**
 * [rows] losses of [rows, C] logits (float32/64) and int64 [rows] or [rows, C] targets, plus row
 * weights; or of float32 [N, C, d...] logits (classes not last, read in place) and int64 [N d...]
 * targets, rows in (image, position) order.
 */
function lossRows(x: Tensor, t: Tensor, a: RowArgs): { loss: Tensor; wrow: Tensor } {
  const dtype = x.dtype,
    rows = x.ndim > 2 ? x.numel() / x._shape[1] : x._shape[0];
  const prob = isFloating(t.dtype);
  const xc = dense(x),
    tc = dense(t),
    w1 = a.weight ? dense(a.weight) : none(dtype);
  const cpu = x.device === 'cpu',
    lseDtype = dtype === 'float32' && cpu ? 'float64' : dtype;
  const loss = Tensor._empty([rows], dtype, 'crossEntropy'),
    // float64 for float32 logits on the CPU: lse = max + log-sum exactly, so the gradient of logits
    // of 1e4 does not lose 5e-4 to a float lse's rounding (cross_entropy.cpp SavedLse). [0] on the
    // CPU where no backward can be asked for: nothing would read it (8 B a row of stores that miss)
    lse = Tensor._empty(
      [cpu && !needsGrad([x, t, ...(a.weight ? [a.weight] : [])]) ? 0 : rows],
      lseDtype,
      'crossEntropy',
    ),
    wrow = Tensor._empty([rows], dtype, 'crossEntropy'),
    // unscoped: the node owns it (a scope ending around the forward must not free it)
    gxs = a.gradScale === null ? none(dtype) : Tensor._empty(x._shape.slice(), dtype, 'crossEntropy', undefined, false);
  try {
    runKernel(OP.CROSS_ENTROPY, [loss, lse, wrow, gxs], [xc, tc, w1], [a.ignoreIndex, a.eps, a.gradScale ?? 0]);
  } catch (e) {
    for (const u of [loss, lse, wrow, gxs]) u.dispose(); // gxs is unscoped: nothing else would free it
    throw e;
  } finally {
    disposeTemps([
      [xc, x],
      [tc, t],
      [w1, a.weight],
    ]);
  }
  const inputs = [x, t, lse, ...(a.weight ? [a.weight] : [])];
  const scale = a.gradScale;
  const out = record(
    'crossEntropy',
    loss,
    inputs,
    (g, c) => {
      const [xi, ti, li] = c.inputs;
      const wi = a.weight ? c.inputs[3] : null;
      // the forward's gradient, once, when this backward asks for exactly it
      const fused = c.owned.length && !gradMode.enabled && uniformIs(g, scale!) ? c.owned.pop()!._adopt() : null;
      const gx =
        fused ??
        viaRows(xi, (x2) =>
          gradMode.enabled
            ? gradWithOps(g, x2, ti, wi, a)
            : crossEntropyBackward(g, x2, ti, wi, li, a.ignoreIndex, a.eps),
        );
      // d loss / d p[c] = -(1 - e) w[c] log softmax(x)[c] (probability targets only)
      let gt: Tensor | null = null;
      if (prob && ti._requiresGrad) {
        const lp = logSoftmax(xi, 1)
          .mul(g.unsqueeze(1))
          .mul(-(1 - a.eps));
        gt = wi ? lp.mul(wi) : lp;
      }
      return [gx, gt, null, ...(wi ? [null] : [])];
    },
    {},
    false,
    a.gradScale === null ? [] : [gxs],
  );
  if (a.gradScale === null) gxs.dispose();
  lse.dispose(); // the node keeps its own handle when it needs one
  return { loss: out, wrow };
}

/**
 * f of [rows, C] logits: x itself, or for [N, C, d...] logits their [N d..., C] copy, f's result
 * laid back as [N, C, d...] (the backward's other paths take rows).
 */
function viaRows(x: Tensor, f: (x2: Tensor) => Tensor): Tensor {
  if (x.ndim <= 2) return f(x);
  const k = x.ndim;
  const x2 = classesLast(x),
    g2 = f(x2),
    r = g2.reshape([x._shape[0], ...x._shape.slice(2), x._shape[1]]);
  const out = r.permute([0, k - 1, ...Array.from({ length: k - 2 }, (_, i) => i + 1)]);
  for (const u of [x2, g2, r]) u.dispose();
  return out;
}

/** The logits' gradient written with ops (for createGraph). */
function gradWithOps(g: Tensor, x: Tensor, t: Tensor, w: Tensor | null, a: RowArgs): Tensor {
  const C = x._shape[1],
    e = a.eps;
  const p = softmax(x, 1);
  const gr = g.unsqueeze(1);
  if (isFloating(t.dtype)) {
    const tt = e > 0 ? t.mul(1 - e).add(e / C) : t;
    const wtt = w ? tt.mul(w) : tt;
    return p.mul(wtt.sum(1, true)).sub(wtt).mul(gr);
  }
  const keep = t.ne(a.ignoreIndex).to(x.dtype);
  const safe = t.where(t.ne(a.ignoreIndex), 0);
  const wt = w ? w.gather(0, safe).mul(keep) : keep;
  const onehot = safe
    .unsqueeze(1)
    .eq(arange(0, C, 1, { device: x.device }))
    .to(x.dtype);
  const sw = w ? w.sum() : C;
  const A = wt.mul(1 - e).add(keep.mul(sw).mul(e / C));
  let B = onehot.mul(wt.unsqueeze(1)).mul(1 - e);
  if (e > 0) B = B.add((w ? w.unsqueeze(0).mul(keep.unsqueeze(1)) : keep.unsqueeze(1)).mul(e / C));
  return p.mul(A.unsqueeze(1)).sub(B).mul(gr);
}

/**
 * The fused backward: d loss[r] / d logits[r, :] times gloss[r], from the logits and the
 * forward's saved log-sum-exp (0 for ignored rows). Not differentiable itself (see the row).
 */
export function crossEntropyBackward(
  gloss: Tensor,
  x: Tensor,
  t: Tensor,
  w: Tensor | null,
  lse: Tensor,
  ignoreIndex: number,
  eps: number,
): Tensor {
  if (x.ndim !== 2 || gloss._shape.join() !== String(x._shape[0]))
    throw new KilnError(
      'ERR_SHAPE',
      `crossEntropyBackward: grad ${shapeStr(gloss._shape)} must be [rows] of logits ${shapeStr(x._shape)}`,
    );
  const g = castTo(gloss, x.dtype);
  const xc = dense(x),
    tc = dense(t),
    w1 = w ? dense(w) : none(x.dtype);
  const gx = Tensor._empty(x._shape.slice(), x.dtype, 'crossEntropyBackward');
  runKernel(OP.CROSS_ENTROPY_BACKWARD, [gx], [xc, tc, w1, lse, g], [ignoreIndex, eps]);
  disposeTemps([
    [xc, x],
    [tc, t],
    [w1, w],
    [g, gloss],
  ]);
  return gx;
}

/** Class dim 1 (or 0 for an unbatched [C] input) moved last and flattened: [rows, C]. */
function classesLast(x: Tensor): Tensor {
  if (x.ndim === 1) return x.unsqueeze(0);
  if (x.ndim === 2) return x;
  const C = x._shape[1];
  const p = x.permute([0, ...x._shape.slice(2).map((_, i) => i + 2), 1]);
  const r = p.reshape([-1, C]);
  p.dispose(); // every op returns a handle of its own: the permuted view's goes here
  return r;
}

/**
 * Cross entropy of logits against class indices or class probabilities
 * (torch.nn.functional.cross_entropy), as one fused kernel each way. The public form is
 * nn.functional.crossEntropy.
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const reduction = opts.reduction ?? 'mean',
    ignoreIndex = opts.ignoreIndex ?? -100,
    eps = opts.labelSmoothing ?? 0;
  if (!['mean', 'sum', 'none'].includes(reduction))
    throw new KilnError('ERR_ARG', `crossEntropy: reduction must be mean, sum, none; got '${reduction}'`);
  if (!(eps >= 0 && eps <= 1))
    throw new KilnError('ERR_ARG', `crossEntropy: labelSmoothing must be in [0, 1], got ${eps}`);
  if (!Number.isInteger(ignoreIndex)) throw new KilnError('ERR_ARG', `crossEntropy: ignoreIndex must be an integer`);
  checkTensor(input, 'crossEntropy', 'input');
  checkTensor(target, 'crossEntropy', 'target');
  if (input.ndim < 1) throw new KilnError('ERR_SHAPE', 'crossEntropy: input needs a class dim, got a 0-d tensor');
  const cdim = input.ndim === 1 ? 0 : 1;
  const C = input.shape[cdim];
  if (C === 0) throw new KilnError('ERR_SHAPE', `crossEntropy: input ${shapeStr(input.shape)} has no classes`);
  const weight = opts.weight ?? null;
  if (weight) checkTensor(weight, 'crossEntropy', 'weight');
  if (weight && (weight.ndim !== 1 || weight.shape[0] !== C))
    throw new KilnError('ERR_SHAPE', `crossEntropy: weight must have shape [${C}], got ${shapeStr(weight.shape)}`);
  const prob = isFloating(target.dtype);
  const rowShape = input.shape.filter((_, d) => d !== cdim);
  if (prob && target.shape.join() !== input.shape.join())
    throw new KilnError(
      'ERR_SHAPE',
      `crossEntropy: probability target ${shapeStr(target.shape)} must have the input's shape ${shapeStr(input.shape)}`,
    );
  if (!prob && target.shape.join() !== rowShape.join())
    throw new KilnError(
      'ERR_SHAPE',
      `crossEntropy: target ${shapeStr(target.shape)} must be ${shapeStr(rowShape)} for input ${shapeStr(input.shape)} (class dim ${cdim})`,
    );
  if (!prob && !['int64', 'int32', 'uint8'].includes(target.dtype))
    throw new KilnError('ERR_DTYPE', `crossEntropy: class-index targets must be integers, got ${target.dtype}`);
  const wide = computeDtype(input.dtype); // integer logits compute in float32, as logSoftmax does
  const x = castTo(input, wide);
  // float32 on the CPU with index targets and no smoothing, classes not last ([N, C, d...]),
  // contiguous and with positions for a vector (d... of 16 at least): the kernel reads the
  // columns in place, without the permuted copy (cross_entropy.cpp forward_cols), and a fused
  // gradient comes out in the input's layout (the leaf's own: no reshape between). A strided view
  // whose classes run last already, or d... of 1, is rows as it is.
  const inPlace =
    !prob &&
    eps === 0 &&
    wide === 'float32' &&
    x.device === 'cpu' &&
    x.ndim > 2 &&
    x.isContiguous() &&
    x.numel() >= 16 * x._shape[0] * C &&
    C <= 1 << 24;
  const x2 = inPlace ? x : classesLast(x);
  const t2 = prob
    ? classesLast(castTo(target, wide))
    : noGrad(() => {
        const r = target.reshape([-1]),
          t = r.to('int64');
        if (t !== r) r.dispose();
        return t;
      });
  const w = weight ? castTo(weight, wide) : null;
  // mean: over the summed weights of the counted rows (indices), over the rows (probabilities)
  const rows = inPlace ? x2.numel() / C : x2._shape[0];
  // (unweighted: the count as an integer, exact past 2^24 rows, without a float copy of the mask)
  const countRows = (): Tensor =>
    noGrad(() => {
      const t = t2.reshape([-1]),
        keep = t.ne(ignoreIndex),
        wr = w ? w.gather(0, t.where(keep, 0)).mul(keep) : keep.sum();
      const d = w ? wr.sum() : wr.to(wide);
      for (const u of [t, keep, wr]) if (u !== d) u.dispose();
      return d;
    });
  // Training (a CPU input that needs a gradient, a mean or sum): the kernel also writes the
  // gradient of the result, so loss.backward() does not read the logits again (12 -> 8 bytes per
  // logit over forward and backward). The mean's denominator is then known first.
  const fuse = reduction !== 'none' && x2.device === 'cpu' && gradMode.enabled && x2._requiresGrad;
  const pre = fuse && reduction === 'mean' && !prob ? countRows() : null;
  const gradScale = !fuse
    ? null
    : reduction === 'sum'
      ? 1
      : roundTo(wide, 1 / roundTo(wide, pre ? (pre.item() as number) : rows));
  const { loss, wrow } = lossRows(x2, t2, { weight: w, ignoreIndex, eps, gradScale });
  let out: Tensor;
  if (reduction === 'none') out = loss.reshape(rowShape);
  else {
    const s = loss.sum();
    const denom = reduction === 'mean' && !prob ? (pre ?? wrow.sum()) : null;
    out = reduction === 'sum' ? s : s.div(denom ?? rows);
    disposeTemps([
      [denom, null],
      [s, out],
    ]);
  }
  const result = out.dtype === input.dtype || !isFloating(input.dtype) ? out : out.to(input.dtype);
  // The graph keeps its own handles on what it needs.
  disposeTemps([
    [wrow, null],
    [loss, out],
    [out, result],
    [x2, x],
    [x, input],
    [t2, target],
    [w, weight],
  ]);
  return result;
}

// ---- Op-table rows ----

/** Plain float64 cross entropy, following PyTorch's definitions term by term. */
function refCrossEntropy(
  x: number[],
  rows: number,
  C: number,
  t: number[],
  prob: boolean,
  w: number[] | null,
  ignore: number,
  e: number,
  reduction: string,
): number[] {
  const per: number[] = [];
  let wsum = 0;
  for (let r = 0; r < rows; r++) {
    const row = x.slice(r * C, r * C + C);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    const wc = (c: number) => (w ? w[c] : 1);
    if (prob) {
      let l = 0;
      for (let c = 0; c < C; c++) l += wc(c) * (t[r * C + c] * (1 - e) + e / C) * (lse - row[c]);
      per.push(l);
      wsum += 1;
      continue;
    }
    if (t[r] === ignore) {
      per.push(0);
      continue;
    }
    let smooth = 0;
    for (let c = 0; c < C; c++) smooth += wc(c) * (lse - row[c]);
    per.push((1 - e) * wc(t[r]) * (lse - row[t[r]]) + (e / C) * smooth);
    wsum += wc(t[r]);
  }
  if (reduction === 'none') return per;
  const s = per.reduce((a, b) => a + b, 0);
  return [reduction === 'sum' ? s : s / wsum];
}

export const crossEntropyRow: OpRow<typeof crossEntropy> = {
  name: 'cross_entropy',
  kind: 'custom',
  native: { nin: 3, nout: 4, nattr: 3 },
  dtypes: FLOAT_DTYPES,
  fn: crossEntropy,
  grad: (g) => [g, g],
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    const shapes: [number, number][] = [
      [1, 1],
      [4, 3],
      [0, 5],
      [7, 37],
      [3, 300],
      [randInt(rng, 1, 20), randInt(rng, 1, 70)],
    ];
    for (const [N, C] of shapes)
      for (const prob of [false, true])
        for (const [weighted, e, reduction] of [
          [false, 0, 'none'],
          [true, 0, 'mean'],
          [false, 0.2, 'mean'],
          [true, 0.1, 'sum'],
          [true, 0.3, 'none'],
        ] as [boolean, number, string][]) {
          const X = makeInput(rng, [N, C], dtype, N > 2 ? 'transposed' : 'contiguous', [-4, 4]);
          const W = weighted ? makeInput(rng, [C], dtype, 'contiguous', [0.2, 2]) : null;
          let tv: number[], tt: Tensor;
          if (prob) {
            tv = [];
            for (let r = 0; r < N; r++) {
              const raw = Array.from({ length: C }, () => rng() + 0.01);
              const s = raw.reduce((a, b) => a + b, 0);
              tv.push(...raw.map((v) => v / s));
            }
            tt = fromNumbers(tv, [N, C], dtype);
            tv = tt._numbers().map(Number);
          } else {
            tv = Array.from({ length: N }, () => (rng() < 0.2 ? -100 : randInt(rng, 0, C - 1)));
            tt = fromNumbers(tv, [N], 'int64');
          }
          const want = refCrossEntropy(X.ref.data, N, C, tv, prob, W?.ref.data ?? null, -100, e, reduction);
          out.push({
            label: `[${N},${C}] ${prob ? 'probabilities' : 'indices'} ${weighted ? 'weighted ' : ''}smoothing ${e} ${reduction}`,
            got: crossEntropy(X.t, tt, { weight: W?.t ?? null, labelSmoothing: e, reduction: reduction as never }),
            want: { shape: reduction === 'none' ? [N] : [], data: want },
            tol: 16 * (C + 4),
          });
          for (const t of [X.t, W?.t, tt]) t?.dispose();
        }
    // [N, C, d] layout, and logits of 1e4 (stable).
    const X3 = makeInput(rng, [2, 3, 4], dtype, 'contiguous');
    const t3 = [0, 1, 2, 1, 2, 2, 0, 1];
    const perm: number[] = [];
    for (let n = 0; n < 2; n++)
      for (let d = 0; d < 4; d++) for (let c = 0; c < 3; c++) perm.push(X3.ref.data[n * 12 + c * 4 + d]);
    const T3 = fromNumbers(t3, [2, 4], 'int64');
    out.push({
      label: '[2, 3, 4] class dim 1',
      got: crossEntropy(X3.t, T3, { reduction: 'none' }),
      want: { shape: [2, 4], data: refCrossEntropy(perm, 8, 3, t3, false, null, -100, 0, 'none') },
      tol: 64,
    });
    const big = dtype === 'float32' || dtype === 'float64' ? 1e4 : 8192;
    const B = fromNumbers([big, 0, -big, big], [2, 2], dtype);
    const T = fromNumbers([1, 0], [2], 'int64');
    out.push({
      label: `logits ${big}`,
      got: crossEntropy(B, T, { reduction: 'none' }),
      want: { shape: [2], data: [big, big * 2] },
      tol: 16,
    });
    for (const t of [X3.t, T3, B, T]) t.dispose();
    return out;
  },
  gradSamples: (rng) => {
    const y = () => fromNumbers([0, 2, 1, -100], [4], 'int64');
    const w = () => fromNumbers([0.5, 1.5, 2], [3], 'float64');
    return [
      { label: 'indices mean', fn: (x) => crossEntropy(x, y()), inputs: [gradInput(rng, [4, 3])] },
      {
        label: 'weights + smoothing',
        fn: (x) => crossEntropy(x, y(), { weight: w(), labelSmoothing: 0.2 }),
        inputs: [gradInput(rng, [4, 3])],
      },
      {
        label: 'probabilities (both inputs) weighted smoothed sum',
        fn: (x, p) => crossEntropy(x, p, { weight: w(), labelSmoothing: 0.1, reduction: 'sum' }),
        inputs: [gradInput(rng, [2, 3]), gradInput(rng, [2, 3])],
      },
      {
        label: '[N, C, d] none',
        fn: (x) => crossEntropy(x, fromNumbers([0, 1, 2, 1], [2, 2], 'int64'), { reduction: 'none' }),
        inputs: [gradInput(rng, [2, 3, 2])],
      },
    ];
  },
  errors: () => {
    const x = () => fromNumbers([1, 2, 3, 4, 5, 6], [2, 3], 'float32');
    return errorCases([
      ['target out of range', () => crossEntropy(x(), fromNumbers([0, 3], [2], 'int64')), 'ERR_INDEX'],
      ['negative target', () => crossEntropy(x(), fromNumbers([-1, 0], [2], 'int64')), 'ERR_INDEX'],
      ['target shape', () => crossEntropy(x(), fromNumbers([0, 1, 2], [3], 'int64')), 'ERR_SHAPE'],
      [
        'weight shape',
        () => crossEntropy(x(), fromNumbers([0, 1], [2], 'int64'), { weight: fromNumbers([1], [1], 'float32') }),
        'ERR_SHAPE',
      ],
      [
        'reduction',
        () => crossEntropy(x(), fromNumbers([0, 1], [2], 'int64'), { reduction: 'avg' as never }),
        'ERR_ARG',
      ],
      ['labelSmoothing', () => crossEntropy(x(), fromNumbers([0, 1], [2], 'int64'), { labelSmoothing: 2 }), 'ERR_ARG'],
      ['bool target', () => crossEntropy(x(), fromNumbers([0, 1], [2], 'bool')), 'ERR_DTYPE'],
    ]);
  },
};

export const crossEntropyBackwardRow: OpRow<typeof crossEntropyBackward> = {
  name: 'cross_entropy_backward',
  kind: 'custom',
  native: { nin: 5, nout: 1, nattr: 2 },
  dtypes: ['float32', 'float64'],
  fn: crossEntropyBackward,
  grad: {
    nondiff:
      'runs only when no graph of the gradient is recorded; under createGraph cross_entropy writes its gradient with differentiable ops instead',
  },
  cases: (rng: Rng, dtype) => {
    const out: Case[] = [];
    for (const [N, C] of [
      [1, 1],
      [5, 7],
      [3, 130],
      [0, 4],
    ] as [number, number][])
      for (const prob of [false, true])
        for (const [weighted, e] of [
          [false, 0],
          [true, 0.25],
        ] as [boolean, number][]) {
          const X = makeInput(rng, [N, C], dtype, 'contiguous', [-4, 4]);
          const G = makeInput(rng, [N], dtype, 'contiguous', [-2, 2]);
          const W = weighted ? makeInput(rng, [C], dtype, 'contiguous', [0.2, 2]).t : null;
          const wv = W ? W._numbers().map(Number) : null;
          const tv = prob
            ? Array.from({ length: N * C }, () => rng())
            : Array.from({ length: N }, () => (rng() < 0.2 ? -100 : randInt(rng, 0, C - 1)));
          const T = prob ? fromNumbers(tv, [N, C], dtype) : fromNumbers(tv, [N], 'int64');
          const ts = T._numbers().map(Number);
          const lse: number[] = [],
            want: number[] = [];
          for (let r = 0; r < N; r++) {
            const row = X.ref.data.slice(r * C, r * C + C);
            const m = Math.max(...row);
            const l = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
            lse.push(l);
            const wc = (c: number) => (wv ? wv[c] : 1);
            // target distribution times weight, and its total
            const tw = row.map((_, c) =>
              prob
                ? wc(c) * (ts[r * C + c] * (1 - e) + e / C)
                : ts[r] === -100
                  ? 0
                  : wc(c) * ((c === ts[r] ? 1 - e : 0) + e / C),
            );
            const A = tw.reduce((s, v) => s + v, 0);
            row.forEach((v, c) => want.push(G.ref.data[r] * (A * Math.exp(v - l) - tw[c])));
          }
          const L = fromNumbers(lse, [N], dtype);
          out.push({
            label: `[${N},${C}] ${prob ? 'probabilities' : 'indices'} weighted ${weighted} smoothing ${e}`,
            got: crossEntropyBackward(G.t, X.t, T, W, L, -100, e),
            want: { shape: [N, C], data: want },
            tol: 32,
          });
          for (const t of [X.t, G.t, W, T, L]) t?.dispose();
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
          return crossEntropyBackward(
            x,
            x,
            fromNumbers([0, 1], [2], 'int64'),
            null,
            fromNumbers([0, 0], [2], 'float32'),
            -100,
            0,
          );
        },
        'ERR_SHAPE',
      ],
    ]),
};
