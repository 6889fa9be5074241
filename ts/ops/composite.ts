/**
 * Composites: ops written with the table's primitives, so they need no kernel and no gradient
 * of their own (mean, var/std, logsumexp, clamp, relu, softmax, oneHot, stack, split, ...).
 */
import { noGrad } from '../autograd/grad_mode';
import { inplaceNeedsGrad, writeInPlace } from '../autograd/inplace';
import { needsGrad, record, recordUnread, type GradFn } from '../autograd/node';
import { arange } from '../creation';
import { isFloating } from '../dtype';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { normDim, normDims, shapeStr } from '../shape';
import type { Tensor } from '../tensor';
import { checkTensor } from './kinds';
import { cat, where } from './indexing';
import { fusedLogsumexpOn, logsumexpDim } from './logsumexp';
import { logSoftmax as fusedLogSoftmax, softmax as fusedSoftmax } from './softmax';
import { fusedVarOn, varDim } from './var';

const countOf = (x: Tensor, dims: number[]): number => dims.reduce((n, d) => n * x._shape[d], 1);

/** Mean over dims (all by default); integer inputs are not allowed, as in PyTorch. */
export function mean(x: Tensor, dim?: number | number[] | null, keepdim = false): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    checkTensor(x, 'mean', 'input');
    if (!isFloating(x.dtype))
      throw new KilnError('ERR_DTYPE', `mean: needs a floating input, got ${x.dtype}; use x.to('float32')`);
    const dims = normDims(dim, x.ndim, 'mean');
    return x.sum(dims, keepdim).div(countOf(x, dims));
  });
}

export interface VarOptions {
  /** Bessel's correction: 1 (default, unbiased) or 0. */
  correction?: number;
  keepdim?: boolean;
}

/** Variance over dims with `correction` (default 1), like torch.var. */
export function variance(x: Tensor, dim?: number | number[] | null, opts: VarOptions = {}): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    checkTensor(x, 'var', 'input');
    if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `var: needs a floating input, got ${x.dtype}`);
    const dims = normDims(dim, x.ndim, 'var');
    if (dims.length === 1 && fusedVarOn(x)) {
      const v = varDim(x, dims[0], opts.correction ?? 1);
      return opts.keepdim || x.ndim === 0 ? v : v.squeeze(dims[0]);
    }
    const n = countOf(x, dims) - (opts.correction ?? 1);
    const centered = x.sub(x.mean(dims, true));
    return centered
      .mul(centered)
      .sum(dims, opts.keepdim ?? false)
      .div(Math.max(n, 0));
  });
}

/** Standard deviation: sqrt(var), whose gradient is 0 where it is 0 (PyTorch's; sqrt's own is inf, NaN after var's 0). */
export const std = (x: Tensor, dim?: number | number[] | null, opts: VarOptions = {}): Tensor =>
  scope(() => {
    const v = variance(x, dim, opts);
    if (!needsGrad([v])) return v.sqrt();
    const s = noGrad(() => v.sqrt());
    return record('std', s, [v], (g, c) => [g.div(c.output!.mul(2)).maskedFill(c.output!.eq(0), 0)], {}, true);
  });

/**
 * log(sum(exp(x))) over dims, computed stably (the max is subtracted first), as torch.logsumexp.
 * One dim runs the fused kernel (ops/logsumexp.ts); several dims, or a device without that
 * kernel, this composite.
 */
export function logsumexp(x: Tensor, dim: number | number[], keepdim = false): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    checkTensor(x, 'logsumexp', 'input');
    const dims = normDims(dim, x.ndim, 'logsumexp');
    if (dims.length === 1 && fusedLogsumexpOn(x)) return logsumexpDim(x, dims[0], keepdim);
    const m = noGrad(() => {
      const a = x.amax(dims, true);
      return where(a.isinf(), 0, a);
    });
    const s = x.sub(m).exp().sum(dims, true).log().add(m);
    return keepdim ? s : s.squeeze(dims);
  });
}

export function isinf(x: Tensor): Tensor {
  return x.abs().eq(Infinity);
}
export function isnan(x: Tensor): Tensor {
  return x.ne(x);
}

export { clamp } from './clamp';

/**
 * max(x, 0) with PyTorch's gradient: g where the output is > 0, else 0 (0 at x = 0, where
 * maximum's tie rule would give half). Two passes backward instead of maximum's mask algebra.
 */
const reluGrad: GradFn = (g, c) => [where(c.output!.le(0), 0, g)];
export function relu(x: Tensor): Tensor {
  const y = noGrad(() => x.maximum(0));
  return recordUnread('relu', y, [x], reluGrad, {}, true);
}
/** relu in place; under autograd it keeps relu's gradient, saving x's new values. */
export function relu_(x: Tensor): Tensor {
  checkTensor(x, 'relu_', 'self');
  if (inplaceNeedsGrad('relu_', x))
    return writeInPlace(
      x,
      () => x.maximum_(0),
      () => record('relu', x, [x], reluGrad, {}, true),
    );
  return x.maximum_(0);
}
export const square = (x: Tensor): Tensor => x.mul(x);

/** Softmax along dim, stable for large logits (one fused kernel: ops/softmax.ts). */
export const softmax = (x: Tensor, dim: number): Tensor => fusedSoftmax(x, dim);

/** log(softmax(x)) along dim (one fused kernel: ops/softmax.ts). */
export const logSoftmax = (x: Tensor, dim: number): Tensor => fusedLogSoftmax(x, dim);

/** x with value where mask is true. */
export function maskedFill(x: Tensor, mask: Tensor, value: number | boolean): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    checkTensor(mask, 'maskedFill', 'mask');
    if (mask.dtype !== 'bool') throw new KilnError('ERR_DTYPE', `maskedFill: mask must be bool, got ${mask.dtype}`);
    return where(mask, value, x).to(x.dtype);
  });
}

/** One-hot int64 rows for class indices (numClasses inferred from the max when omitted). */
export function oneHot(index: Tensor, numClasses = -1): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    checkTensor(index, 'oneHot', 'input');
    if (index.dtype !== 'int64' && index.dtype !== 'int32')
      throw new KilnError('ERR_DTYPE', `oneHot: needs integer class indices, got ${index.dtype}`);
    const n = index.numel();
    const lo = n ? (index.amin().item() as number) : 0;
    const hi = n ? (index.amax().item() as number) : -1;
    const classes = numClasses < 0 ? hi + 1 : numClasses;
    if (lo < 0 || hi >= classes)
      throw new KilnError('ERR_INDEX', `oneHot: class values must be in [0, ${classes}), got range [${lo}, ${hi}]`);
    const r = arange(0, classes, 1, { device: index.device });
    return index.unsqueeze(-1).eq(r).to('int64');
  });
}

/** Rows (along dim) chosen by a 1-d index, like torch.index_select. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  checkTensor(x, 'indexSelect', 'input');
  checkTensor(index, 'indexSelect', 'index');
  if (index.ndim > 1) throw new KilnError('ERR_SHAPE', `indexSelect: index must be 1-d, got ${shapeStr(index._shape)}`);
  const d = normDim(dim, x.ndim, 'indexSelect');
  const shape = x._shape.slice();
  shape[d] = index.numel();
  const view = x._shape.map((_, k) => (k === d ? index.numel() : 1));
  const r = index.reshape(view);
  const e = r.expand(shape);
  const out = x.gather(d, e);
  r.dispose();
  e.dispose();
  return out;
}

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  // In a scope: the intermediates go now, not when the garbage collector finds them.
  return scope(() => {
    if (!Array.isArray(tensors as unknown) || tensors.length === 0)
      throw new KilnError('ERR_ARG', 'stack: expected a non-empty array of tensors');
    const d = normDim(dim, tensors[0].ndim + 1, 'stack');
    tensors.forEach((t, i) => {
      checkTensor(t, 'stack', `tensors[${i}]`);
      if (t._shape.join() !== tensors[0]._shape.join())
        throw new KilnError(
          'ERR_SHAPE',
          `stack: tensors[${i}] has shape ${shapeStr(t._shape)}, expected ${shapeStr(tensors[0]._shape)}`,
        );
    });
    return cat(
      tensors.map((t) => t.unsqueeze(d)),
      d,
    );
  });
}

/** Splits into pieces of `size` along dim (the last may be smaller), or into the given sizes. */
export function split(x: Tensor, size: number | number[], dim = 0): Tensor[] {
  checkTensor(x, 'split', 'input');
  const d = normDim(dim, x.ndim, 'split');
  const n = x._shape[d];
  let sizes: number[];
  if (Array.isArray(size)) {
    if (size.reduce((a, b) => a + b, 0) !== n || size.some((s) => !Number.isInteger(s) || s < 0))
      throw new KilnError('ERR_ARG', `split: sizes [${size}] must be non-negative and add up to ${n}`);
    sizes = size;
  } else {
    if (!Number.isInteger(size) || size <= 0)
      throw new KilnError('ERR_ARG', `split: size must be a positive integer, got ${size}`);
    sizes = [];
    for (let o = 0; o < n; o += size) sizes.push(Math.min(size, n - o));
    if (n === 0) sizes.push(0);
  }
  let o = 0;
  return sizes.map((s) => {
    const t = x.narrow(d, o, s);
    o += s;
    return t;
  });
}

/** Splits into `chunks` pieces along dim, like torch.chunk. */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  checkTensor(x, 'chunk', 'input');
  if (!Number.isInteger(chunks) || chunks <= 0)
    throw new KilnError('ERR_ARG', `chunk: chunks must be a positive integer, got ${chunks}`);
  const d = normDim(dim, x.ndim, 'chunk');
  return split(x, Math.max(1, Math.ceil(x._shape[d] / chunks)), d);
}

/**
 * The values at the indices, gathered: their gradient goes to that one element, as PyTorch's
 * max(dim) / min(dim) route it (amax / amin split it among ties).
 */
function atIndices(x: Tensor, dim: number, keepdim: boolean, arg: 'argmax' | 'argmin') {
  return scope(() => {
    const d = normDim(dim, x.ndim, arg === 'argmax' ? 'max' : 'min');
    const idx = x[arg](d, true);
    const values = x.gather(d, idx);
    return keepdim ? { values, indices: idx } : { values: values.squeeze(d), indices: idx.squeeze(d) };
  });
}

/** max(): the largest value; max(dim, keepdim): { values, indices } like PyTorch. */
export function max(x: Tensor): Tensor;
export function max(x: Tensor, dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
export function max(x: Tensor, dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
  if (dim === undefined) return x.amax();
  return atIndices(x, dim, keepdim, 'argmax');
}
export function min(x: Tensor): Tensor;
export function min(x: Tensor, dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
export function min(x: Tensor, dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
  if (dim === undefined) return x.amin();
  return atIndices(x, dim, keepdim, 'argmin');
}

/** Matrix transpose of a 1-d or 2-d tensor (t()). */
export function t(x: Tensor): Tensor {
  checkTensor(x, 't', 'input');
  if (x.ndim > 2)
    throw new KilnError('ERR_SHAPE', `t: expects at most 2 dims, got ${shapeStr(x._shape)}; use transpose()`);
  return x.ndim < 2 ? x.reshape(x._shape.slice()) : x.transpose(0, 1);
}
