/**
 * norm(x, p, dim, keepdim): the vector p-norm over dims (all by default), as torch.norm /
 * torch.linalg.vector_norm: p = 2 or 'fro' (the default), 1, Infinity, -Infinity, 0 (the count of
 * non-zeros) or any other positive p. The 2-norm has a gradient of its own, x g / norm, taken as 0
 * where the norm is 0 (the composite sqrt(sum(x^2)) would give 0 / 0 there, as clipping a zero
 * gradient does); the others go through the ops they are made of.
 */
import { noGrad } from '../autograd/grad_mode';
import { record } from '../autograd/node';
import { isFloating } from '../dtype';
import { KilnError } from '../errors';
import { normDims } from '../shape';
import type { Tensor } from '../tensor';
import { where } from './indexing';
import { checkTensor } from './kinds';

export type NormOrder = number | 'fro';

export function norm(x: Tensor, p: NormOrder = 2, dim?: number | number[] | null, keepdim = false): Tensor {
  checkTensor(x, 'norm', 'input');
  if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `norm: needs a floating input, got ${x.dtype}`);
  if (p !== 'fro' && (typeof p !== 'number' || Number.isNaN(p) || p < 0) && p !== -Infinity)
    throw new KilnError('ERR_ARG', `norm: p must be 'fro', a number >= 0, Infinity or -Infinity, got ${String(p)}`);
  const dims = normDims(dim, x.ndim, 'norm');
  const order = p === 'fro' ? 2 : p;
  if (order === 2) return twoNorm(x, dims, keepdim);
  const a = x.abs();
  let out: Tensor;
  if (order === Infinity) out = a.amax(dims, keepdim);
  else if (order === -Infinity) out = a.amin(dims, keepdim);
  else if (order === 0) out = noGrad(() => x.ne(0).sum(dims, keepdim).to(x.dtype));
  else if (order === 1) out = a.sum(dims, keepdim);
  else {
    const pw = a.pow(order),
      s = pw.sum(dims, keepdim);
    out = s.pow(1 / order);
    pw.dispose();
    s.dispose();
  }
  a.dispose();
  return out;
}

function twoNorm(x: Tensor, dims: number[], keepdim: boolean): Tensor {
  const y = noGrad(() => {
    const sq = x.mul(x),
      s = sq.sum(dims, true),
      r = s.sqrt();
    sq.dispose();
    s.dispose();
    return r;
  });
  const kept = record(
    'norm',
    y,
    [x],
    (g, c) => {
      const n = c.output!;
      const q = c.inputs[0].div(n);
      const safe = where(n.eq(0), 0, q);
      const gx = safe.mul(g);
      q.dispose();
      safe.dispose();
      return [gx];
    },
    {},
    true,
  );
  if (keepdim) return kept;
  const out = kept.squeeze(dims);
  if (out !== kept) kept.dispose();
  return out;
}
