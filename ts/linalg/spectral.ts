/**
 * Orthogonal decompositions (torch.linalg's names): qr, eigh, eigvalsh, svd, svdvals. Each runs
 * one native kernel; outputs that are differentiable together share one node (packOutputs), and
 * the gradients are torch's formulas, written with kiln ops.
 */
import { needsGrad } from '../autograd/node';
import { eye } from '../creation';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { diagEmbed } from '../ops/diagonal';
import { cat } from '../ops/indexing';
import { Tensor } from '../tensor';
import { mT, solveTriangular } from './factor';
import { eighRaw, qrRaw, svdRaw } from './native';
import { batchOf, checkInfo, checkMatrices, packOutputs, refuseGrad, toStack } from './stack';

/** An empty tensor of a's dtype and device (torch's Q in mode 'r', and the vectors not computed). */
const Tensor0 = (a: Tensor): Tensor => Tensor._empty([0], a.dtype, 'linalg', a.device);

/** Q and R of A = Q R. */
export interface QR {
  Q: Tensor;
  R: Tensor;
}

/** sym(M) from its lower triangle: tril(M, -1) + tril(M, -1)ᵀ + diag(M). */
const copyLowerToUpper = (m: Tensor): Tensor => {
  const low = m.tril(-1);
  return low.add(mT(low)).add(m.triu().tril());
};

/** Ā for A = Q R with m >= n (Q [m, n], R [n, n]): (Q̄ + Q copyltu(M)) R⁻ᵀ, M = R R̄ᵀ - Q̄ᵀ Q. */
function qrBackwardTall(gq: Tensor, gr: Tensor, q: Tensor, r: Tensor): Tensor {
  const m = r.matmul(mT(gr)).sub(mT(gq).matmul(q));
  const b = gq.add(q.matmul(copyLowerToUpper(m)));
  return solveTriangular(r, b, { upper: true, left: false, trans: true });
}

function qrBackward(gq: Tensor, gr: Tensor, q: Tensor, r: Tensor): Tensor {
  return scope(() => {
    const [m, n] = [q._shape[q.ndim - 2], r._shape[r.ndim - 1]];
    if (m >= n) return qrBackwardTall(gq, gr, q, r);
    // A = [X | Y] with X = Q U (square) and Y = Q V: Y's part passes through Q.
    const u = r.narrow(-1, 0, m),
      v = r.narrow(-1, m, n - m);
    const gu = gr.narrow(-1, 0, m),
      gv = gr.narrow(-1, m, n - m);
    const y = q.matmul(v);
    const gx = qrBackwardTall(gq.add(y.matmul(mT(gv))), gu, q, u);
    return cat([gx, q.matmul(gv)], -1);
  });
}

/**
 * The QR decomposition A = Q R of A [..., m, n] (torch.linalg.qr), by Householder reflections
 * with LAPACK's signs (R's diagonal may be negative, as in torch). mode 'reduced': Q [..., m, k],
 * R [..., k, n] with k = min(m, n); 'complete': Q [..., m, m], R [..., m, n]; 'r': R only (Q is
 * empty). Differentiable in 'reduced' mode, and in 'complete' when m <= n.
 * @example
 * const { Q, R } = kiln.linalg.qr(kiln.randn([5, 3]));
 */
export function qr(a: Tensor, mode: 'reduced' | 'complete' | 'r' = 'reduced'): QR {
  checkMatrices(a, 'qr');
  if (mode !== 'reduced' && mode !== 'complete' && mode !== 'r')
    throw new KilnError('ERR_ARG', `qr: mode must be 'reduced', 'complete' or 'r', got ${String(mode)}`);
  const [m, n] = a._shape.slice(-2);
  const k = Math.min(m, n);
  if (mode === 'r') refuseGrad('qr', [a], "mode 'r' computes no Q, which the gradient needs; use mode 'reduced'");
  if (mode === 'complete' && m > n)
    refuseGrad('qr', [a], "mode 'complete' with m > n is not differentiable (as in torch); use mode 'reduced'");
  const qcols = mode === 'r' ? 0 : mode === 'complete' ? m : k;
  const rrows = mode === 'complete' ? m : k;
  const s = toStack(a);
  const { Q, R } = qrRaw(s, qcols, rrows);
  if (s !== a) s.dispose();
  const batch = batchOf(a);
  if (mode === 'r') {
    Q.dispose();
    const Rb = R.reshape([...batch, rrows, n]);
    if (Rb !== R) R.dispose();
    return { Q: Tensor0(a), R: Rb };
  }
  const [q, r] = packOutputs(
    'qr',
    [Q, R],
    [
      [...batch, m, qcols],
      [...batch, rrows, n],
    ],
    [a],
    ([gq, gr], [q, r]) => [qrBackward(gq, gr, q, r)],
  );
  return { Q: q, R: r };
}

/** Eigenvalues (ascending) and eigenvectors (columns) of symmetric matrices. */
export interface Eigh {
  eigenvalues: Tensor;
  eigenvectors: Tensor;
}

/** Ā = V (diag(w̄) + F ∘ (M - Mᵀ) / 2) Vᵀ with M = Vᵀ V̄ and F_ij = 1 / (w_j - w_i), 0 on the diagonal. */
function eighBackward(gw: Tensor, gv: Tensor, w: Tensor, v: Tensor): Tensor {
  return scope(() => {
    const n = w._shape[w.ndim - 1];
    const I = eye(n, n, { dtype: w.dtype, device: w.device });
    const m = mT(v).matmul(gv);
    const e = w.unsqueeze(-2).sub(w.unsqueeze(-1));
    const f = I.neg().add(1).div(e.add(I)); // the diagonal's 0 / 1, not 0 / 0
    const inner = diagEmbed(gw).add(f.mul(m.sub(mT(m))).mul(0.5));
    return v.matmul(inner).matmul(mT(v));
  });
}

function checkUplo(op: string, uplo: string): boolean {
  if (uplo !== 'L' && uplo !== 'U')
    throw new KilnError('ERR_ARG', `${op}: UPLO must be 'L' or 'U', got ${String(uplo)}`);
  return uplo === 'U';
}

function eighImpl(op: string, a: Tensor, uplo: string, vectors: boolean): Eigh {
  checkMatrices(a, op, 'A', true);
  const upper = checkUplo(op, uplo);
  const n = a._shape[a.ndim - 1];
  const batch = batchOf(a);
  const s = toStack(a);
  const { w, V, info } = eighRaw(s, upper, vectors);
  if (s !== a) s.dispose();
  try {
    checkInfo(op, info, batch, () => 'the eigenvalue iteration did not converge');
  } catch (e) {
    for (const t of [w, V]) t.dispose();
    throw e;
  } finally {
    info.dispose();
  }
  if (!vectors) {
    V.dispose();
    const wb = w.reshape([...batch, n]);
    if (wb !== w) w.dispose();
    return { eigenvalues: wb, eigenvectors: Tensor0(a) };
  }
  const [wv, vv] = packOutputs(
    op,
    [w, V],
    [
      [...batch, n],
      [...batch, n, n],
    ],
    [a],
    ([gw, gv], [ww, vw]) => [eighBackward(gw, gv, ww, vw)],
  );
  return { eigenvalues: wv, eigenvectors: vv };
}

/**
 * Eigenvalues (ascending) and orthonormal eigenvectors (as columns) of symmetric matrices
 * [..., n, n], reading the lower triangle ('L') or the upper one ('U') (torch.linalg.eigh).
 * Eigenvectors' signs are arbitrary, as in LAPACK; the gradient is not finite at repeated
 * eigenvalues when it goes through the eigenvectors.
 * @example
 * kiln.linalg.eigh(kiln.tensor([[2, 1], [1, 2]])).eigenvalues; // [1, 3]
 */
export function eigh(a: Tensor, uplo: 'L' | 'U' = 'L'): Eigh {
  return eighImpl('eigh', a, uplo, true);
}

/** The eigenvalues of symmetric matrices, ascending (torch.linalg.eigvalsh). */
export function eigvalsh(a: Tensor, uplo: 'L' | 'U' = 'L'): Tensor {
  if (!needsGrad([a])) {
    const r = eighImpl('eigvalsh', a, uplo, false);
    r.eigenvectors.dispose();
    return r.eigenvalues;
  }
  // The gradient needs the eigenvectors: Ā = V diag(w̄) Vᵀ.
  const { eigenvalues, eigenvectors } = eighImpl('eigvalsh', a, uplo, true);
  eigenvectors.dispose();
  return eigenvalues;
}

/** U, S and Vh of A = U diag(S) Vh. */
export interface SVD {
  U: Tensor;
  S: Tensor;
  Vh: Tensor;
}

/** torch's svd_backward for real A [m, n], reduced factors (k = min(m, n)). */
function svdBackward(gu: Tensor, gs: Tensor, gvh: Tensor, u: Tensor, s: Tensor, vh: Tensor): Tensor {
  return scope(() => {
    const [m, n] = [u._shape[u.ndim - 2], vh._shape[vh.ndim - 1]];
    const v = mT(vh),
      gv = mT(gvh);
    const uhgu = mT(u).matmul(gu),
      vhgv = vh.matmul(gv);
    const skew = (x: Tensor) => x.sub(mT(x));
    const s2 = s.mul(s);
    const k = s._shape[s.ndim - 1];
    const I = eye(k, k, { dtype: s.dtype, device: s.device });
    const e = s2.unsqueeze(-2).sub(s2.unsqueeze(-1)).add(I); // S_j² - S_i², 1 on the diagonal
    let inner = skew(uhgu)
      .mul(s.unsqueeze(-2))
      .add(s.unsqueeze(-1).mul(skew(vhgv)))
      .div(e);
    inner = inner.add(diagEmbed(gs));
    let ga = u.matmul(inner).matmul(vh);
    const sInv = s.reciprocal().unsqueeze(-2);
    if (m > n) ga = ga.add(gu.sub(u.matmul(uhgu)).mul(sInv).matmul(vh));
    if (m < n) ga = ga.add(u.matmul(mT(gv.sub(v.matmul(vhgv)).mul(sInv))));
    return ga;
  });
}

function svdImpl(op: string, a: Tensor, full: boolean, vectors: boolean): SVD {
  checkMatrices(a, op);
  const [m, n] = a._shape.slice(-2);
  const k = Math.min(m, n);
  if (vectors && full && m !== n)
    refuseGrad(
      op,
      [a],
      'fullMatrices: true with a non-square matrix is not differentiable (as in torch); pass { fullMatrices: false }',
    );
  const batch = batchOf(a);
  const s = toStack(a);
  const r = svdRaw(s, vectors, full);
  if (s !== a) s.dispose();
  try {
    checkInfo(op, r.info, batch, () => 'the SVD iteration did not converge');
  } catch (e) {
    for (const t of [r.U, r.S, r.Vh]) t.dispose();
    throw e;
  } finally {
    r.info.dispose();
  }
  if (!vectors) {
    r.U.dispose();
    r.Vh.dispose();
    const sb = r.S.reshape([...batch, k]);
    if (sb !== r.S) r.S.dispose();
    return { U: Tensor0(a), S: sb, Vh: Tensor0(a) };
  }
  const uc = full ? m : k,
    vr = full ? n : k;
  const [U, S, Vh] = packOutputs(
    op,
    [r.U, r.S, r.Vh],
    [
      [...batch, m, uc],
      [...batch, k],
      [...batch, vr, n],
    ],
    [a],
    ([gu, gs, gvh], [u, sv, vh]) => [svdBackward(gu, gs, gvh, u, sv, vh)],
  );
  return { U, S, Vh };
}

/** Options of svd (torch.linalg.svd's keyword). */
export interface SvdOptions {
  /** U [..., m, m] and Vh [..., n, n] (default, as in torch), or the reduced [..., m, k] and [..., k, n]. */
  fullMatrices?: boolean;
}

/**
 * The singular value decomposition A = U diag(S) Vh of A [..., m, n] (torch.linalg.svd), by
 * one-sided Jacobi rotations: S descending. Singular vectors' signs are arbitrary (as in LAPACK);
 * the gradient through U or Vh is not finite at repeated singular values.
 * @example
 * const { U, S, Vh } = kiln.linalg.svd(kiln.randn([4, 3]), { fullMatrices: false });
 */
export function svd(a: Tensor, opts: SvdOptions = {}): SVD {
  return svdImpl('svd', a, opts.fullMatrices ?? true, true);
}

/** The singular values of A [..., m, n], descending (torch.linalg.svdvals). */
export function svdvals(a: Tensor): Tensor {
  if (!needsGrad([a])) {
    const r = svdImpl('svdvals', a, false, false);
    r.U.dispose();
    r.Vh.dispose();
    return r.S;
  }
  // The gradient needs the singular vectors: Ā = U diag(S̄) Vh.
  const { U, S, Vh } = svdImpl('svdvals', a, false, true);
  U.dispose();
  Vh.dispose();
  return S;
}
