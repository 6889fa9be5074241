/**
 * torch.diagonal and torch.diag_embed over any pair of dims. diagonal gathers the diagonal's flat
 * positions from the two dims moved last and merged, so autograd differentiates it as an index
 * select; diagEmbed multiplies by an identity mask. Both copy (torch's diagonal is a view).
 */
import { arange } from '../creation';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { normDim, shapeStr } from '../shape';
import type { Tensor } from '../tensor';
import { checkTensor } from './kinds';
import { movedim } from './rearrange';

function checkOffset(op: string, offset: number): void {
  if (!Number.isInteger(offset)) throw new KilnError('ERR_ARG', `${op}: offset must be an integer, got ${offset}`);
}

/**
 * The diagonal of dims dim1 and dim2 (offset > 0 above it, < 0 below), as a new last dim
 * (torch.diagonal).
 * @example
 * kiln.diagonal(kiln.eye(3).reshape([1, 3, 3]), 0, -2, -1).shape; // [1, 3]
 */
export function diagonal(x: Tensor, offset = 0, dim1 = 0, dim2 = 1): Tensor {
  checkTensor(x, 'diagonal', 'input');
  checkOffset('diagonal', offset);
  if (x.ndim < 2) throw new KilnError('ERR_SHAPE', `diagonal: needs at least 2 dims, got ${shapeStr(x._shape)}`);
  const d1 = normDim(dim1, x.ndim, 'diagonal', 'dim1'),
    d2 = normDim(dim2, x.ndim, 'diagonal', 'dim2');
  if (d1 === d2) throw new KilnError('ERR_ARG', `diagonal: dim1 and dim2 are the same dim (${d1})`);
  return scope(() => {
    const moved = movedim(x, [d1, d2], [-2, -1]);
    const batch = moved._shape.slice(0, -2);
    const [r, c] = moved._shape.slice(-2);
    const len = Math.max(0, offset >= 0 ? Math.min(r, c - offset) : Math.min(r + offset, c));
    const start = offset >= 0 ? offset : -offset * c;
    const idx = arange(start, start + len * (c + 1), c + 1, { dtype: 'int64', device: x.device });
    return moved.reshape([...batch, r * c]).indexSelect(-1, idx);
  });
}

/**
 * Matrices with x's last dim on the diagonal of the two new last dims (torch.diag_embed with its
 * default dims; offset as in diagonal).
 * @example
 * kiln.diagEmbed(kiln.ones([2, 3])).shape; // [2, 3, 3]
 */
export function diagEmbed(x: Tensor, offset = 0): Tensor {
  checkTensor(x, 'diagEmbed', 'input');
  checkOffset('diagEmbed', offset);
  if (x.ndim < 1) throw new KilnError('ERR_SHAPE', 'diagEmbed: needs at least 1 dim');
  const n = x._shape[x.ndim - 1],
    m = n + Math.abs(offset);
  return scope(() => {
    const i = arange(0, m, 1, { dtype: 'int64', device: x.device });
    const mask = i.unsqueeze(-1).add(offset).eq(i).to(x.dtype);
    // Row i holds x[i] (offset >= 0) or column j holds x[j] (offset < 0): pad x to m, then spread.
    const padded = m === n ? x : x.pad([0, m - n]);
    const spread = offset >= 0 ? padded.unsqueeze(-1) : padded.unsqueeze(-2);
    return spread.mul(mask);
  });
}
