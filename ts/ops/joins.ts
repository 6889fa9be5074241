/**
 * NumPy-style joins and splits (torch.hstack, vstack, dstack, columnStack, tensorSplit, hsplit,
 * vsplit, dsplit) and atleast1d/2d/3d: views and cat, so differentiable on every device.
 */
import { KilnError } from '../errors';
import { normDim } from '../shape';
import type { Tensor } from '../tensor';
import { cat } from './indexing';
import { checkTensor } from './kinds';

/** x with leading size-1 dims up to n dims (1-d x becomes a row [1, n]; 2-d gains a dim last for 3). */
function atLeast(x: Tensor, n: number): Tensor {
  if (x.ndim >= n) return x;
  if (n === 3 && x.ndim === 2) return x.unsqueeze(2);
  if (n === 3 && x.ndim === 1) return x.reshape([1, x.shape[0], 1]);
  return x.reshape([...Array(n - x.ndim).fill(1), ...x.shape]);
}
export const atleast1d = (x: Tensor): Tensor => atLeast(checkTensor(x, 'atleast1d', 'input'), 1);
export const atleast2d = (x: Tensor): Tensor => atLeast(checkTensor(x, 'atleast2d', 'input'), 2);
export const atleast3d = (x: Tensor): Tensor => atLeast(checkTensor(x, 'atleast3d', 'input'), 3);

function joined(op: string, tensors: readonly Tensor[]): Tensor[] {
  if (!Array.isArray(tensors) || tensors.length === 0)
    throw new KilnError('ERR_ARG', `${op}: expected a non-empty array of tensors`);
  return tensors.map((t, i) => checkTensor(t, op, `tensors[${i}]`));
}

/** Joined along dim 1, or dim 0 for 1-d tensors (torch.hstack). */
export function hstack(tensors: readonly Tensor[]): Tensor {
  const ts = joined('hstack', tensors).map((t) => atLeast(t, 1));
  return cat(ts, ts[0].ndim === 1 ? 0 : 1);
}
/** Joined along dim 0, 1-d tensors as rows (torch.vstack). */
export const vstack = (tensors: readonly Tensor[]): Tensor =>
  cat(
    joined('vstack', tensors).map((t) => atLeast(t, 2)),
    0,
  );
/** Joined along dim 2 (torch.dstack). */
export const dstack = (tensors: readonly Tensor[]): Tensor =>
  cat(
    joined('dstack', tensors).map((t) => atLeast(t, 3)),
    2,
  );
/** 1-d (and 0-d) tensors as columns, 2-d ones as they are, joined along dim 1 (torch.column_stack). */
export const columnStack = (tensors: readonly Tensor[]): Tensor =>
  cat(
    joined('columnStack', tensors).map((t) => (t.ndim <= 1 ? t.reshape([-1, 1]) : t)),
    1,
  );

/**
 * Views of x split along dim (torch.tensor_split): into `sections` pieces as even as can be (the
 * first ones one longer), or at the given indices.
 */
export function tensorSplit(x: Tensor, sections: number | readonly number[], dim = 0): Tensor[] {
  checkTensor(x, 'tensorSplit', 'input');
  const d = normDim(dim, x.ndim, 'tensorSplit');
  const n = x.shape[d];
  let cuts: number[];
  if (typeof sections === 'number') {
    if (!Number.isInteger(sections) || sections <= 0)
      throw new KilnError('ERR_ARG', `tensorSplit: sections must be a positive integer, got ${sections}`);
    const base = Math.floor(n / sections),
      extra = n % sections;
    cuts = [];
    for (let i = 1, at = 0; i < sections; i++) cuts.push((at += base + (i <= extra ? 1 : 0)));
  } else cuts = [...sections];
  const bounds = [0, ...cuts.map((c) => Math.min(Math.max(c < 0 ? c + n : c, 0), n)), n];
  return bounds.slice(1).map((e, i) => x.narrow(d, Math.min(bounds[i], e), Math.max(0, e - bounds[i])));
}

function evenSplit(op: string, x: Tensor, sections: number | readonly number[], dim: number): Tensor[] {
  checkTensor(x, op, 'input');
  if (typeof sections === 'number' && x.shape[dim] % sections !== 0)
    throw new KilnError(
      'ERR_ARG',
      `${op}: dim ${dim} of size ${x.shape[dim]} does not split into ${sections} equal parts`,
    );
  return tensorSplit(x, sections, dim);
}
/** tensorSplit along dim 1 (dim 0 for 1-d), equal parts only for a count (torch.hsplit). */
export const hsplit = (x: Tensor, sections: number | readonly number[]): Tensor[] =>
  evenSplit('hsplit', x, sections, x.ndim === 1 ? 0 : 1);
/** tensorSplit along dim 0, equal parts only for a count (torch.vsplit). */
export const vsplit = (x: Tensor, sections: number | readonly number[]): Tensor[] =>
  evenSplit('vsplit', x, sections, 0);
/** tensorSplit along dim 2, equal parts only for a count (torch.dsplit). */
export const dsplit = (x: Tensor, sections: number | readonly number[]): Tensor[] =>
  evenSplit('dsplit', x, sections, 2);
