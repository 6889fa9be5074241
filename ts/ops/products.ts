/**
 * Products and grids that PyTorch has beside matmul and einsum: cross, cdist, kron, tensordot,
 * blockDiag, meshgrid and cartesianProd. Composites of views, elementwise ops, matmul and cat,
 * so they run on every device and are differentiable.
 */
import { zeros } from '../creation';
import { isFloating, promoteTypes } from '../dtype';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { broadcastShapes, normDim, shapeStr } from '../shape';
import type { Tensor } from '../tensor';
import { cat } from './indexing';
import { checkTensor } from './kinds';
import { stack } from './composite';

/**
 * The cross product of 3-vectors along dim (torch.linalg.cross; the last dim by default), a and
 * b broadcasting.
 */
export function cross(a: Tensor, b: Tensor, dim = -1): Tensor {
  checkTensor(a, 'cross', 'input');
  checkTensor(b, 'cross', 'other');
  const shape = broadcastShapes('cross', a.shape, b.shape);
  const d = normDim(dim, shape.length, 'cross');
  if (shape[d] !== 3) throw new KilnError('ERR_SHAPE', `cross: dim ${d} must have size 3, got ${shapeStr(shape)}`);
  return scope(() => {
    const [a1, a2, a3] = a.broadcastTo(shape).unbind(d),
      [b1, b2, b3] = b.broadcastTo(shape).unbind(d);
    return stack([a2.mul(b3).sub(a3.mul(b2)), a3.mul(b1).sub(a1.mul(b3)), a1.mul(b2).sub(a2.mul(b1))], d);
  });
}

/**
 * The p-norm distance between each row of x1 ([..., P, M]) and each row of x2 ([..., R, M]):
 * [..., P, R] (torch.cdist). p = 2 over more than 25 rows on either side takes PyTorch's
 * matrix-product form, |a|^2 + |b|^2 - 2 a.b (clamped at 0); otherwise the differences' norm.
 */
export function cdist(x1: Tensor, x2: Tensor, p = 2): Tensor {
  checkTensor(x1, 'cdist', 'x1');
  checkTensor(x2, 'cdist', 'x2');
  if (x1.ndim < 2 || x2.ndim < 2 || x1.shape[x1.ndim - 1] !== x2.shape[x2.ndim - 1])
    throw new KilnError(
      'ERR_SHAPE',
      `cdist: x1 ${shapeStr(x1.shape)} and x2 ${shapeStr(x2.shape)} must be [..., P, M] and [..., R, M]`,
    );
  if (!isFloating(x1.dtype) || !isFloating(x2.dtype))
    throw new KilnError('ERR_DTYPE', 'cdist: inputs must be floating');
  if (!(p >= 0)) throw new KilnError('ERR_ARG', `cdist: p must be non-negative, got ${p}`);
  return scope(() => {
    const P = x1.shape[x1.ndim - 2],
      R = x2.shape[x2.ndim - 2];
    if (p === 2 && (P > 25 || R > 25)) {
      const n1 = x1.square().sum(-1, true),
        n2 = x2.square().sum(-1, true);
      return n1
        .add(n2.transpose(-1, -2))
        .sub(x1.matmul(x2.transpose(-1, -2)).mul(2))
        .clamp(0, null)
        .sqrt();
    }
    return x1.unsqueeze(-2).sub(x2.unsqueeze(-3)).norm(p, -1);
  });
}

/** The Kronecker product (torch.kron): each element of a times all of b, blocks in a's layout. */
export function kron(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'kron', 'input');
  checkTensor(b, 'kron', 'other');
  return scope(() => {
    const nd = Math.max(a.ndim, b.ndim);
    const sa = [...Array(nd - a.ndim).fill(1), ...a.shape],
      sb = [...Array(nd - b.ndim).fill(1), ...b.shape];
    // a[i, j] b[k, l] at [i, k, j, l], then the pairs merged
    const av = a.reshape(sa.flatMap((s) => [s, 1])),
      bv = b.reshape(sb.flatMap((s) => [1, s]));
    return av.mul(bv).reshape(sa.map((s, k) => s * sb[k]));
  });
}

/**
 * Sums products over dims of a and b (torch.tensordot): dims a count (a's last, b's first) or
 * [a's dims, b's dims]. The result has a's other dims, then b's.
 */
export function tensordot(a: Tensor, b: Tensor, dims: number | [number[], number[]] = 2): Tensor {
  checkTensor(a, 'tensordot', 'a');
  checkTensor(b, 'tensordot', 'b');
  let da: number[], db: number[];
  if (typeof dims === 'number') {
    if (!Number.isInteger(dims) || dims < 0 || dims > a.ndim || dims > b.ndim)
      throw new KilnError('ERR_ARG', `tensordot: dims ${dims} must be an integer in [0, ${Math.min(a.ndim, b.ndim)}]`);
    da = [...Array(dims).keys()].map((k) => a.ndim - dims + k);
    db = [...Array(dims).keys()];
  } else {
    if (!Array.isArray(dims) || dims.length !== 2 || dims[0].length !== dims[1].length)
      throw new KilnError('ERR_ARG', 'tensordot: dims must be a count or two lists of the same length');
    da = dims[0].map((d) => normDim(d, a.ndim, 'tensordot'));
    db = dims[1].map((d) => normDim(d, b.ndim, 'tensordot'));
  }
  da.forEach((d, k) => {
    if (a.shape[d] !== b.shape[db[k]])
      throw new KilnError(
        'ERR_SHAPE',
        `tensordot: a's dim ${d} (${a.shape[d]}) and b's dim ${db[k]} (${b.shape[db[k]]}) differ`,
      );
  });
  return scope(() => {
    const ra = [...Array(a.ndim).keys()].filter((d) => !da.includes(d)),
      rb = [...Array(b.ndim).keys()].filter((d) => !db.includes(d));
    const K = da.reduce((s, d) => s * a.shape[d], 1);
    const am = a.permute([...ra, ...da]).reshape([-1, K]),
      bm = b.permute([...db, ...rb]).reshape([K, -1]);
    return am.matmul(bm).reshape([...ra.map((d) => a.shape[d]), ...rb.map((d) => b.shape[d])]);
  });
}

/** The tensors (0-d, 1-d as a row, 2-d) on the diagonal of a zero matrix (torch.block_diag). */
export function blockDiag(...tensors: Tensor[]): Tensor {
  tensors.forEach((t, i) => {
    checkTensor(t, 'blockDiag', `tensors[${i}]`);
    if (t.ndim > 2)
      throw new KilnError('ERR_SHAPE', `blockDiag: tensors[${i}] must have at most 2 dims, got ${shapeStr(t.shape)}`);
  });
  if (tensors.length === 0) return zeros([1, 0]);
  return scope(() => {
    const mats = tensors.map((t) => (t.ndim === 2 ? t : t.reshape([1, -1])));
    const cols = mats.reduce((s, m) => s + m.shape[1], 0);
    const dtype = mats.map((m) => m.dtype).reduce(promoteTypes);
    let left = 0;
    const rows = mats.map((m) => {
      const r = m.to(dtype).pad([left, cols - left - m.shape[1]]);
      left += m.shape[1];
      return r;
    });
    return cat(rows, 0);
  });
}

/**
 * Coordinate grids of 1-d tensors (torch.meshgrid): each expanded over the others' lengths;
 * indexing 'ij' (matrix order, PyTorch's default) or 'xy' (the first two swapped).
 */
export function meshgrid(tensors: Tensor[], opts: { indexing?: 'ij' | 'xy' } = {}): Tensor[] {
  const indexing = opts.indexing ?? 'ij';
  if (indexing !== 'ij' && indexing !== 'xy')
    throw new KilnError('ERR_ARG', `meshgrid: indexing must be 'ij' or 'xy', got '${String(indexing)}'`);
  tensors.forEach((t, i) => {
    checkTensor(t, 'meshgrid', `tensors[${i}]`);
    if (t.ndim > 1)
      throw new KilnError('ERR_SHAPE', `meshgrid: tensors[${i}] must be 0-d or 1-d, got ${shapeStr(t.shape)}`);
  });
  const n = tensors.length;
  const swap = indexing === 'xy' && n >= 2;
  const axis = (i: number) => (swap && i < 2 ? 1 - i : i);
  const sizes = tensors.map((t) => t.numel());
  const shape = [...Array(n).keys()].map((k) => sizes[swap && k < 2 ? 1 - k : k]);
  return tensors.map((t, i) => {
    const view = shape.map((_, k) => (k === axis(i) ? sizes[i] : 1));
    return t.reshape(view).expand(shape);
  });
}

/** The Cartesian product of 1-d tensors as rows (torch.cartesian_prod): [prod of lengths, count]. */
export function cartesianProd(...tensors: Tensor[]): Tensor {
  return scope(() => {
    const grids = meshgrid(tensors);
    return tensors.length === 1
      ? grids[0].reshape([-1])
      : stack(
          grids.map((g) => g.reshape([-1])),
          1,
        );
  });
}

/** The dot product of two 1-d tensors (torch.dot; vdot is the same for real tensors). */
export function dot(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'dot', 'input');
  checkTensor(b, 'dot', 'other');
  if (a.ndim !== 1 || b.ndim !== 1 || a.shape[0] !== b.shape[0])
    throw new KilnError(
      'ERR_SHAPE',
      `dot: needs two 1-d tensors of one length, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`,
    );
  return a.matmul(b);
}
export const vdot = dot;

/** Sums over the last dims of a and b (torch.inner): [...a's others, ...b's others]. */
export function inner(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'inner', 'input');
  checkTensor(b, 'inner', 'other');
  if (a.ndim === 0 || b.ndim === 0) return a.mul(b);
  return tensordot(a, b, [[a.ndim - 1], [b.ndim - 1]]);
}

/** Matrix times vector (torch.mv): [n, m] and [m] give [n]. */
export function mv(m: Tensor, v: Tensor): Tensor {
  checkTensor(m, 'mv', 'input');
  checkTensor(v, 'mv', 'vec');
  if (m.ndim !== 2 || v.ndim !== 1 || m.shape[1] !== v.shape[0])
    throw new KilnError('ERR_SHAPE', `mv: needs [n, m] and [m], got ${shapeStr(m.shape)} and ${shapeStr(v.shape)}`);
  return m.matmul(v);
}
