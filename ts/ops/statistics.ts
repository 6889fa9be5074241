/**
 * Order statistics and moments that PyTorch has beside sum and mean: median and nanmedian,
 * quantile and nanquantile, nansum and nanmean, aminmax, cov and corrcoef. Composites of sort,
 * kthvalue, gather and the reductions, so they run on every device and are differentiable where
 * PyTorch's are (the selected values of the medians and quantiles, the sums, cov, corrcoef).
 */
import { full } from '../creation';
import { isFloating } from '../dtype';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { normDim, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { where } from './indexing';
import { checkTensor } from './kinds';
import { kthvalue, type ValuesIndices } from './sort';

function floating(op: string, x: Tensor): void {
  checkTensor(x, op, 'input');
  if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `${op}: input must be floating, got ${x.dtype}`);
}

/** floor(t / 2) of non-negative integers held in int64, exactly (through float64). */
const half = (t: Tensor) => t.to('float64').mul(0.5).floor().to('int64');

/** The values of f on the flattened x (dim 0); NaN where there are no elements, as in PyTorch. */
function ofAll(op: string, x: Tensor, f: (flat: Tensor) => ValuesIndices): Tensor {
  const flat = x.reshape([-1]);
  if (flat.numel() === 0) {
    if (!isFloating(x.dtype)) throw new KilnError('ERR_SHAPE', `${op}: the input has no elements`);
    return full([], NaN, { dtype: x.dtype, device: x.device });
  }
  const r = f(flat);
  r.indices.dispose();
  return r.values;
}

/**
 * The lower median (torch.median): of all elements, or along dim as { values, indices }; NaN
 * where the elements hold a NaN (its index the first NaN's).
 * @example
 * kiln.tensor([3, 1, 4, 2]).median(); // 2
 */
export function median(x: Tensor): Tensor;
export function median(x: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function median(x: Tensor, dim?: number, keepdim = false): Tensor | ValuesIndices {
  checkTensor(x, 'median', 'input');
  if (dim === undefined) return ofAll('median', x, (flat) => median(flat, 0));
  const d = normDim(dim, Math.max(1, x.ndim), 'median');
  const n = x.ndim ? x.shape[d] : 1;
  if (n === 0) throw new KilnError('ERR_SHAPE', `median: dim ${d} of ${shapeStr(x.shape)} is empty`);
  const r = kthvalue(x, Math.floor((n - 1) / 2) + 1, d, keepdim);
  if (!isFloating(x.dtype)) return r;
  return scope(() => {
    const nan = x.isnan();
    const has = nan.any(d, keepdim);
    return {
      values: where(has, NaN, r.values),
      indices: where(has, nan.to('uint8').argmax(d, keepdim), r.indices),
    };
  });
}

/**
 * The lower median of the elements that are not NaN (torch.nanmedian), NaN where all are.
 * Of all elements, or along dim as { values, indices }.
 */
export function nanmedian(x: Tensor): Tensor;
export function nanmedian(x: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function nanmedian(x: Tensor, dim?: number, keepdim = false): Tensor | ValuesIndices {
  checkTensor(x, 'nanmedian', 'input');
  if (!isFloating(x.dtype)) return dim === undefined ? median(x) : median(x, dim, keepdim);
  if (dim === undefined) return ofAll('nanmedian', x, (flat) => nanmedian(flat, 0));
  const d = normDim(dim, Math.max(1, x.ndim), 'nanmedian');
  return scope(() => {
    const x1 = x.ndim ? x : x.reshape([1]);
    if (x1.shape[d] === 0) throw new KilnError('ERR_SHAPE', `nanmedian: dim ${d} of ${shapeStr(x.shape)} is empty`);
    const s = x1.sort(d); // NaN last
    const valid = x1.isnan().logicalNot().sum(d, true);
    const at = half(valid.sub(1).clamp(0, null)); // the lower median's place among the valid ones
    let values = s.values.gather(d, at),
      indices = s.indices.gather(d, at);
    if (!keepdim || x.ndim === 0) {
      values = values.squeeze(d);
      indices = indices.squeeze(d);
    }
    return { values, indices };
  });
}

/** The sum treating NaN as zero (torch.nansum). */
export function nansum(x: Tensor, dim?: number | number[] | null, keepdim = false): Tensor {
  checkTensor(x, 'nansum', 'input');
  if (!isFloating(x.dtype)) return x.sum(dim ?? null, keepdim);
  return scope(() => where(x.isnan(), 0, x).sum(dim ?? null, keepdim));
}

/** The mean of the elements that are not NaN (torch.nanmean); NaN where all are. */
export function nanmean(x: Tensor, dim?: number | number[] | null, keepdim = false): Tensor {
  floating('nanmean', x);
  return scope(() => {
    const nan = x.isnan();
    return where(nan, 0, x)
      .sum(dim ?? null, keepdim)
      .div(
        nan
          .logicalNot()
          .sum(dim ?? null, keepdim)
          .to(x.dtype),
      );
  });
}

export type QuantileInterpolation = 'linear' | 'lower' | 'higher' | 'midpoint' | 'nearest';
export interface QuantileOptions {
  dim?: number | null;
  keepdim?: boolean;
  interpolation?: QuantileInterpolation;
}

function quantileImpl(op: string, x: Tensor, q: number | Tensor, o: QuantileOptions, skipNan: boolean): Tensor {
  floating(op, x);
  const interp = o.interpolation ?? 'linear';
  if (!['linear', 'lower', 'higher', 'midpoint', 'nearest'].includes(interp))
    throw new KilnError(
      'ERR_ARG',
      `${op}: interpolation must be linear, lower, higher, midpoint or nearest, got '${interp}'`,
    );
  const qt = q instanceof Tensor ? checkTensor(q, op, 'q') : null;
  if (qt && qt.ndim > 1)
    throw new KilnError('ERR_SHAPE', `${op}: q must be a scalar or 1-d, got ${shapeStr(qt.shape)}`);
  const qs: number | number[] = qt ? (qt.to('float64').toArray() as number[] | number) : (q as number);
  const qv: number[] = typeof qs === 'number' ? [qs] : qs;
  if (qv.some((v) => !(v >= 0 && v <= 1))) throw new KilnError('ERR_ARG', `${op}: q must lie in [0, 1]`);
  const dim = o.dim ?? null;
  return scope(() => {
    const src = dim === null ? x.reshape([-1]) : x.ndim ? x : x.reshape([1]);
    const d = dim === null ? 0 : normDim(dim, src.ndim, op);
    const n = src.shape[d];
    if (n === 0) throw new KilnError('ERR_SHAPE', `${op}: the reduced dim of ${shapeStr(x.shape)} is empty`);
    const s = src.sort(d).values; // NaN last
    const nan = src.isnan();
    // the places, per q and slice: q (m - 1) among the m values counted
    const m = skipNan
      ? nan.logicalNot().sum(d, true).to('float64')
      : full([], n, { dtype: 'float64', device: x.device });
    const outs = qv.map((qq) => {
      const pos = m.sub(1).clamp(0, null).mul(qq);
      const lo = pos.floor(),
        hi = pos.ceil();
      const at = (p: Tensor) => s.gather(d, p.to('int64').expand(keepShape(s.shape, d)));
      let v: Tensor;
      if (interp === 'lower') v = at(lo);
      else if (interp === 'higher') v = at(hi);
      else if (interp === 'nearest') v = at(pos.round());
      else {
        const a = at(lo),
          b = at(hi);
        v = interp === 'midpoint' ? a.add(b.sub(a).mul(0.5)) : a.add(b.sub(a).mul(pos.sub(lo).to(x.dtype)));
      }
      // NaN: quantile where a slice holds one, nanquantile where a slice holds nothing else
      const bad = skipNan ? m.eq(0) : nan.any(d, true);
      v = where(bad, NaN, v);
      return o.keepdim && dim !== null
        ? v
        : dim === null
          ? v.reshape(o.keepdim ? x.shape.map(() => 1) : [])
          : v.squeeze(d);
    });
    const r = typeof qs === 'number' ? outs[0] : outs.map((t: Tensor) => t.unsqueeze(0));
    return Array.isArray(r)
      ? r.length
        ? r[0].cat(r.slice(1), 0)
        : full([0], 0, { dtype: x.dtype, device: x.device })
      : r;
  });
}

/** The slice shape with dim d of size 1 (a gathered place per slice). */
const keepShape = (shape: readonly number[], d: number) => shape.map((s, k) => (k === d ? 1 : s));

/**
 * The q-th quantiles (torch.quantile) of all elements or along dim, interpolated as asked
 * (linear by default); q a number or a 1-d tensor (its dim first in the result). NaN where a
 * slice holds a NaN.
 * @example
 * kiln.tensor([0, 1, 2, 3], { dtype: 'float32' }).quantile(0.5); // 1.5
 */
export const quantile = (x: Tensor, q: number | Tensor, opts: QuantileOptions = {}): Tensor =>
  quantileImpl('quantile', x, q, opts, false);

/** quantile over the elements that are not NaN (torch.nanquantile); NaN where all are. */
export const nanquantile = (x: Tensor, q: number | Tensor, opts: QuantileOptions = {}): Tensor =>
  quantileImpl('nanquantile', x, q, opts, true);

/** The min and max at once (torch.aminmax), over all elements or along dim. */
export function aminmax(
  x: Tensor,
  opts: { dim?: number | null; keepdim?: boolean } = {},
): { min: Tensor; max: Tensor } {
  checkTensor(x, 'aminmax', 'input');
  const dim = opts.dim ?? null;
  return { min: x.amin(dim, opts.keepdim ?? false), max: x.amax(dim, opts.keepdim ?? false) };
}

export interface CovOptions {
  /** Subtracted from the observation count (1: the unbiased estimate). */
  correction?: number;
  /** Integer frequency of each observation. */
  fweights?: Tensor | null;
  /** Weight of each observation. */
  aweights?: Tensor | null;
}

/**
 * The covariance matrix of the variables in x's rows, observations in its columns (torch.cov);
 * 1-d x: one variable. With weights, numpy's formula.
 */
export function cov(x: Tensor, opts: CovOptions = {}): Tensor {
  floating('cov', x);
  if (x.ndim > 2) throw new KilnError('ERR_SHAPE', `cov: input must be 1-d or 2-d, got ${shapeStr(x.shape)}`);
  const correction = opts.correction ?? 1;
  return scope(() => {
    const v = x.ndim < 2 ? x.reshape([1, -1]) : x;
    const N = v.shape[1];
    const check = (w: Tensor | null | undefined, name: string) => {
      if (!w) return null;
      checkTensor(w, 'cov', name);
      if (w.ndim !== 1 || w.shape[0] !== N)
        throw new KilnError('ERR_SHAPE', `cov: ${name} must be [${N}], got ${shapeStr(w.shape)}`);
      return w.to(x.dtype);
    };
    const fw = check(opts.fweights, 'fweights'),
      aw = check(opts.aweights, 'aweights');
    const w = fw && aw ? fw.mul(aw) : (fw ?? aw);
    let c: Tensor;
    if (!w) {
      const xm = v.sub(v.mean(1, true));
      c = xm.matmul(xm.t()).div(N - correction);
    } else {
      const wsum = w.sum();
      const avg = v.mul(w).sum(1, true).div(wsum);
      const xm = v.sub(avg);
      const fact = aw ? wsum.sub(w.mul(aw).sum().div(wsum).mul(correction)) : wsum.sub(correction);
      c = xm.mul(w).matmul(xm.t()).div(fact);
    }
    return x.ndim < 2 ? c.reshape([]) : c;
  });
}

/** Pearson correlation coefficients of x's rows (torch.corrcoef), clipped to [-1, 1]. */
export function corrcoef(x: Tensor): Tensor {
  floating('corrcoef', x);
  return scope(() => {
    const c = cov(x);
    if (c.ndim === 0) return c.div(c);
    const sd = c.diag().sqrt();
    return c.div(sd.unsqueeze(1)).div(sd.unsqueeze(0)).clamp(-1, 1);
  });
}
