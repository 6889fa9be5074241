/**
 * kiln.linalg functions built from the decompositions (torch.linalg's names): matrixNorm, norm,
 * vectorNorm, cond, matrixRank, pinv, lstsq, matrixPower, multiDot, vecdot. Each is a composite,
 * so autograd differentiates it through the decompositions' gradients.
 */
import { noGrad } from '../autograd/grad_mode';
import { eye } from '../creation';
import { finfo } from '../finfo';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { where } from '../ops/indexing';
import { norm as vectorNormImpl } from '../ops/vector_norm';
import { normDim, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { mT } from './factor';
import { inv, luFactorEx } from './lu';
import { eigvalsh, svd, svdvals } from './spectral';
import { checkMatrices } from './stack';

/** The matrix norms of torch.linalg.matrix_norm. */
export type MatrixOrder = 'fro' | 'nuc' | number;

/** The two matrix dims moved last. */
function lastTwo(op: string, a: Tensor, dim: [number, number]): Tensor {
  const d0 = normDim(dim[0], a.ndim, op),
    d1 = normDim(dim[1], a.ndim, op);
  if (d0 === d1) throw new KilnError('ERR_ARG', `${op}: the two dims must differ, got ${d0} twice`);
  return a.movedim([d0, d1], [-2, -1]);
}

/**
 * Matrix norms over two dims (torch.linalg.matrix_norm): 'fro', 'nuc', 2 and -2 (largest and
 * smallest singular value), 1 and -1 (max and min column sum of |A|), Infinity and -Infinity (row sums).
 */
export function matrixNorm(
  a: Tensor,
  ord: MatrixOrder = 'fro',
  dim: [number, number] = [-2, -1],
  keepdim = false,
): Tensor {
  checkMatrices(a, 'matrixNorm');
  if (![1, -1, 2, -2, Infinity, -Infinity, 'fro', 'nuc'].includes(ord as never))
    throw new KilnError(
      'ERR_ARG',
      `matrixNorm: ord must be 'fro', 'nuc', 1, -1, 2, -2, Infinity or -Infinity, got ${String(ord)}`,
    );
  return scope(() => {
    const m = lastTwo('matrixNorm', a, dim);
    let r: Tensor;
    if (ord === 'fro') r = vectorNormImpl(m, 2, [-2, -1]);
    else if (ord === 'nuc') r = svdvals(m).sum(-1);
    else if (ord === 2) r = svdvals(m).amax(-1);
    else if (ord === -2) r = svdvals(m).amin(-1);
    else if (Math.abs(ord) === 1) r = m.abs().sum(-2)[ord > 0 ? 'amax' : 'amin'](-1);
    else r = m.abs().sum(-1)[ord > 0 ? 'amax' : 'amin'](-1);
    if (!keepdim) return r;
    const d = [normDim(dim[0], a.ndim, 'matrixNorm'), normDim(dim[1], a.ndim, 'matrixNorm')].sort((x, y) => x - y);
    return r.unsqueeze(d[0]).unsqueeze(d[1]);
  });
}

/** The vector norm over dims (all by default) (torch.linalg.vector_norm). */
export function vectorNorm(x: Tensor, ord: number = 2, dim: number | number[] | null = null, keepdim = false): Tensor {
  return vectorNormImpl(x, ord, dim, keepdim);
}

/**
 * torch.linalg.norm: a matrix norm when dim names two dims (or, with ord given and no dim, when x
 * is 2-d), else a vector norm (of the flattened x when neither is given).
 */
export function norm(
  x: Tensor,
  ord: MatrixOrder | null = null,
  dim: number | number[] | null = null,
  keepdim = false,
): Tensor {
  const dims = dim === null ? null : Array.isArray(dim) ? dim : [dim];
  if ((dims && dims.length === 2) || (!dims && ord !== null && x.ndim === 2))
    return matrixNorm(x, ord ?? 'fro', (dims ?? [-2, -1]) as [number, number], keepdim);
  if (ord === 'nuc' || ord === 'fro') {
    if (ord === 'fro' && !dims) return vectorNormImpl(x, 2, null, keepdim);
    throw new KilnError('ERR_ARG', `norm: ord '${ord}' needs a matrix (two dims), got dim ${JSON.stringify(dim)}`);
  }
  return vectorNormImpl(x, ord ?? 2, dims, keepdim);
}

/** The condition number in a matrix norm (torch.linalg.cond): 2 (default) and -2 from singular values. */
export function cond(a: Tensor, p: MatrixOrder | null = null): Tensor {
  checkMatrices(a, 'cond');
  return scope(() => {
    if (p === null || p === 2 || p === -2) {
      const s = svdvals(a);
      const [hi, lo] = [s.amax(-1), s.amin(-1)];
      return p === -2 ? lo.div(hi) : hi.div(lo);
    }
    // A singular matrix has an infinite condition number (torch's), not an error: its inverse is
    // taken of A + I where singular (any invertible stand-in), then replaced by Infinity.
    const singular = noGrad(() => scope(() => luFactorEx(a.detach()).info.ne(0)));
    const n = a._shape[a.ndim - 1];
    const I = eye(n, n, { dtype: a.dtype, device: a.device });
    const standIn = a.add(I.mul(singular.to(a.dtype).unsqueeze(-1).unsqueeze(-1)));
    return where(singular, Infinity, matrixNorm(a, p).mul(matrixNorm(inv(standIn), p)));
  });
}

/** Tolerances of matrixRank and pinv (torch's keywords). */
export interface RankOptions {
  atol?: number;
  rtol?: number;
  /** A is symmetric: use its eigenvalues' magnitudes. */
  hermitian?: boolean;
}

/** The singular values (or |eigenvalues|) and the cut-off below which they count as zero. */
function spectrumAndTol(op: string, a: Tensor, o: RankOptions): { s: Tensor; tol: Tensor } {
  checkMatrices(a, op);
  const [m, n] = a._shape.slice(-2);
  const s = o.hermitian ? eigvalsh(a).abs() : svdvals(a);
  const rtol = o.rtol ?? (o.atol === undefined ? finfo(a.dtype).eps * Math.max(m, n) : 0);
  const smax = s._shape[s.ndim - 1] ? s.amax(-1, true) : s.sum(-1, true);
  return { s, tol: smax.mul(rtol).clampMin(o.atol ?? 0) };
}

/** The numerical rank: singular values above max(atol, rtol · σ_max) (torch.linalg.matrix_rank). */
export function matrixRank(a: Tensor, opts: RankOptions = {}): Tensor {
  return scope(() => {
    const { s, tol } = spectrumAndTol('matrixRank', a, opts);
    return s.gt(tol).sum(-1);
  });
}

/** The Moore-Penrose pseudo-inverse, by SVD, zeroing singular values under the tolerance (torch.linalg.pinv). */
export function pinv(a: Tensor, opts: RankOptions = {}): Tensor {
  checkMatrices(a, 'pinv');
  return scope(() => {
    const { tol } = spectrumAndTol('pinv', a, opts);
    const { U, S, Vh } = svd(a, { fullMatrices: false });
    const keep = S.gt(tol);
    const sInv = keep.to(a.dtype).div(where(keep, S, 1));
    return mT(Vh).mul(sInv.unsqueeze(-2)).matmul(mT(U));
  });
}

/** lstsq's results (torch.linalg.lstsq's named tuple). */
export interface Lstsq {
  solution: Tensor;
  /** Squared residual norms per column of B when m > n and A has full rank, else empty. */
  residuals: Tensor;
  rank: Tensor;
  singularValues: Tensor;
}

/**
 * The least-squares (minimum-norm) solution of A X = B (torch.linalg.lstsq), by SVD as LAPACK's
 * gelsd driver: singular values under rcond · σ_max count as zero (default: eps · max(m, n)), so
 * rank-deficient A is handled. rank and singularValues are always filled.
 */
export function lstsq(a: Tensor, b: Tensor, opts: { rcond?: number } = {}): Lstsq {
  checkMatrices(a, 'lstsq');
  const vector = b?.ndim === a.ndim - 1;
  const [m, n] = a._shape.slice(-2);
  return scope(() => {
    const bm = vector ? b.unsqueeze(-1) : checkMatrices(b, 'lstsq', 'B');
    if (bm._shape[bm.ndim - 2] !== m)
      throw new KilnError(
        'ERR_SHAPE',
        `lstsq: A ${shapeStr(a._shape)} and B ${shapeStr(b._shape)} have different row counts`,
      );
    const { U, S, Vh } = svd(a, { fullMatrices: false });
    const rcond = opts.rcond ?? finfo(a.dtype).eps * Math.max(m, n);
    const smax = S._shape[S.ndim - 1] ? S.amax(-1, true) : S.sum(-1, true);
    const keep = S.gt(smax.mul(rcond));
    const sInv = keep.to(a.dtype).div(where(keep, S, 1));
    const x = mT(Vh).matmul(mT(U).matmul(bm).mul(sInv.unsqueeze(-1)));
    const rank = keep.sum(-1);
    const full = m > n && (rank.numel() === 0 || (rank.eq(n).all().item() as boolean));
    const residuals = full ? a.matmul(x).sub(bm).square().sum(-2) : Tensor._empty([0], a.dtype, 'lstsq', a.device);
    return {
      solution: vector ? x.squeeze(-1) : x,
      residuals, // [..., 1] for a vector b, as torch's
      rank,
      singularValues: S,
    };
  });
}

/** A to the integer power n (torch.linalg.matrix_power): n = 0 gives I, n < 0 powers of inv(A). */
export function matrixPower(a: Tensor, n: number): Tensor {
  checkMatrices(a, 'matrixPower', 'A', true);
  if (!Number.isInteger(n)) throw new KilnError('ERR_ARG', `matrixPower: n must be an integer, got ${n}`);
  const k = a._shape[a.ndim - 1];
  return scope(() => {
    if (n === 0) return eye(k, k, { dtype: a.dtype, device: a.device }).expand(a._shape.slice()).contiguous();
    let base = n < 0 ? inv(a) : a;
    let result: Tensor | null = null;
    for (let e = Math.abs(n); e > 0; e = Math.floor(e / 2)) {
      if (e % 2) result = result ? result.matmul(base) : base;
      if (e > 1) base = base.matmul(base);
    }
    return result === a ? a.clone() : (result as Tensor);
  });
}

/**
 * The product of matrices in the cheapest order (torch.linalg.multi_dot): the first may be 1-d (a
 * row vector) and the last 1-d (a column); the others 2-d.
 */
export function multiDot(tensors: readonly Tensor[]): Tensor {
  if (!Array.isArray(tensors) || tensors.length < 2)
    throw new KilnError('ERR_ARG', 'multiDot: expected a list of at least 2 tensors');
  const k = tensors.length;
  return scope(() => {
    const mats = tensors.map((t, i) => {
      if (t.ndim === 1 && (i === 0 || i === k - 1)) return i === 0 ? t.unsqueeze(0) : t.unsqueeze(1);
      if (t.ndim !== 2)
        throw new KilnError('ERR_SHAPE', `multiDot: tensor ${i} must be 2-d, got ${shapeStr(t._shape)}`);
      return t;
    });
    const dims = [mats[0]._shape[0], ...mats.map((t) => t._shape[1])];
    // cost[i][j]: the cheapest product of mats i..j; split[i][j] where it splits.
    const cost = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    const split = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    for (let len = 1; len < k; len++)
      for (let i = 0; i + len < k; i++) {
        const j = i + len;
        cost[i][j] = Infinity;
        for (let s = i; s < j; s++) {
          const c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1];
          if (c < cost[i][j]) [cost[i][j], split[i][j]] = [c, s];
        }
      }
    const product = (i: number, j: number): Tensor =>
      i === j ? mats[i] : product(i, split[i][j]).matmul(product(split[i][j] + 1, j));
    let out = product(0, k - 1);
    if (tensors[k - 1].ndim === 1) out = out.squeeze(1);
    if (tensors[0].ndim === 1) out = out.squeeze(0);
    return out;
  });
}

/** The dot product along dim (torch.linalg.vecdot), batch dims broadcast. */
export function vecdot(x: Tensor, y: Tensor, dim = -1): Tensor {
  return scope(() => x.mul(y).sum(dim));
}
