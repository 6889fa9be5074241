/**
 * The dense linear algebra MultivariateNormal needs, composed from kiln's tensor ops so autograd
 * differentiates it: a Cholesky factorisation and a lower-triangular solve, both over batches of
 * small matrices ([..., n, n]). Each loops over the n columns (or rows) with whole-batch ops,
 * O(n) op calls in all, so they suit the event sizes of distributions, not large matrices.
 */
import { noGrad } from '../autograd/grad_mode';
import { arange } from '../creation';
import { KilnError } from '../errors';
import { stack } from '../ops/composite';
import { scope } from '../memory';
import { broadcastShapes, shapeStr } from '../shape';
import type { Tensor } from '../tensor';

function checkSquare(a: Tensor, op: string): number {
  const s = a.shape;
  if (s.length < 2 || s[s.length - 1] !== s[s.length - 2] || s[s.length - 1] === 0)
    throw new KilnError('ERR_SHAPE', `${op}: expected non-empty square matrices [..., n, n], got ${shapeStr(s)}`);
  return s[s.length - 1];
}

/** The diagonals of a batch of square matrices: [..., n, n] to [..., n]. */
export function batchDiagonal(a: Tensor): Tensor {
  const n = checkSquare(a, 'diagonal');
  return scope(() => {
    const idx = arange(0, n, 1, { device: a.device });
    const eye = idx.unsqueeze(-1).eq(idx).to(a.dtype);
    return a.mul(eye).sum(-1);
  });
}

/**
 * The lower-triangular L with L Lᵀ = A for symmetric positive-definite A (torch.linalg.cholesky;
 * only A's lower triangle is read). Throws ERR_ARG when A is not positive definite.
 */
export function cholesky(a: Tensor): Tensor {
  const n = checkSquare(a, 'cholesky');
  return scope(() => {
    const rows = arange(0, n, 1, { device: a.device });
    const cols: Tensor[] = [];
    for (let j = 0; j < n; j++) {
      // Column j of A less what the earlier columns of L already account for.
      let v = a.select(-1, j);
      if (j > 0) {
        const part = stack(cols, -1);
        v = v.sub(part.matmul(part.select(-2, j).unsqueeze(-1)).squeeze(-1));
      }
      const d = v.select(-1, j);
      const ok = noGrad(() => d.gt(0).all().item() as boolean);
      if (!ok) throw new KilnError('ERR_ARG', `cholesky: the matrix ${shapeStr(a.shape)} is not positive definite`);
      const below = rows.ge(j).to(a.dtype);
      cols.push(v.div(d.sqrt().unsqueeze(-1)).mul(below));
    }
    return stack(cols, -1);
  });
}

/**
 * X with L X = B for lower-triangular L [..., n, n] and B [..., n, m] (batch dims broadcast;
 * torch.linalg.solve_triangular with upper=false).
 */
export function solveTriangular(l: Tensor, b: Tensor): Tensor {
  const n = checkSquare(l, 'solveTriangular');
  if (b.ndim < 2 || b.shape[b.ndim - 2] !== n)
    throw new KilnError(
      'ERR_SHAPE',
      `solveTriangular: right-hand side ${shapeStr(b.shape)} does not match the matrix ${shapeStr(l.shape)}`,
    );
  return scope(() => {
    const batch = broadcastShapes('solveTriangular', l.shape.slice(0, -2), b.shape.slice(0, -2));
    l = l.expand([...batch, n, n]);
    b = b.expand([...batch, n, b.shape[b.ndim - 1]]);
    const xs: Tensor[] = [];
    for (let i = 0; i < n; i++) {
      let r = b.select(-2, i);
      if (i > 0) {
        const lrow = l.select(-2, i).slice(-1, 0, i).unsqueeze(-2);
        r = r.sub(lrow.matmul(stack(xs, -2)).squeeze(-2));
      }
      xs.push(r.div(l.select(-2, i).select(-1, i).unsqueeze(-1)));
    }
    return stack(xs, -2);
  });
}
