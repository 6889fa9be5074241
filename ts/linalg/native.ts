/**
 * The kiln.linalg kernels (native/cpu/linalg.cpp), called on contiguous [B, r, c] stacks; no
 * autograd here. Each returns fresh tensors and disposes what it made on failure.
 */
import { runKernel } from '../dispatch';
import { OP } from '../ops/op_ids.gen';
import { Tensor } from '../tensor';

function run(op: number, outs: Tensor[], ins: Tensor[], attrs: number[]): void {
  try {
    runKernel(op, outs, ins, attrs);
  } catch (e) {
    for (const t of outs) t.dispose();
    throw e;
  }
}

const empty = (shape: number[], like: Tensor, op: string): Tensor => Tensor._empty(shape, like.dtype, op, like.device);
const ints = (shape: number[], like: Tensor, op: string): Tensor => Tensor._empty(shape, 'int32', op, like.device);

/** Lower Cholesky factors of the lower triangles of a [B, n, n], and LAPACK's info per matrix. */
export function choleskyRaw(a: Tensor): { L: Tensor; info: Tensor } {
  const [b, n] = a._shape;
  const L = empty([b, n, n], a, 'cholesky'),
    info = ints([b], a, 'cholesky');
  run(OP.LINALG_CHOLESKY, [L, info], [a], []);
  return { L, info };
}

/** P A = L U with partial pivoting (packed LU, 1-based int32 pivots, info) of a [B, m, n]. */
export function luRaw(a: Tensor): { LU: Tensor; pivots: Tensor; info: Tensor } {
  const [b, m, n] = a._shape;
  const LU = empty([b, m, n], a, 'lu_factor'),
    pivots = ints([b, Math.min(m, n)], a, 'lu_factor'),
    info = ints([b], a, 'lu_factor');
  run(OP.LINALG_LU, [LU, pivots, info], [a], []);
  return { LU, pivots, info };
}

/** X with op(A) X = B for triangular a [B, n, n] and b [B, n, k]; op(A) = Aᵀ when trans. */
export function trsmRaw(a: Tensor, b: Tensor, upper: boolean, trans: boolean, unit: boolean): Tensor {
  const X = empty(b._shape.slice(), b, 'solve_triangular');
  run(OP.LINALG_SOLVE_TRIANGULAR, [X], [a, b], [upper ? 1 : 0, trans ? 1 : 0, unit ? 1 : 0]);
  return X;
}

/** X with A X = B (Aᵀ X = B when trans) from A's packed LU [B, n, n] and pivots [B, n]. */
export function luSolveRaw(LU: Tensor, pivots: Tensor, b: Tensor, trans: boolean): Tensor {
  const X = empty(b._shape.slice(), b, 'lu_solve');
  run(OP.LINALG_LU_SOLVE, [X], [LU, pivots, b], [trans ? 1 : 0]);
  return X;
}

/** Householder QR of a [B, m, n]: Q [B, m, qcols] (qcols 0: no Q) and R [B, rrows, n]. */
export function qrRaw(a: Tensor, qcols: number, rrows: number): { Q: Tensor; R: Tensor } {
  const [b, m, n] = a._shape;
  const Q = empty(qcols ? [b, m, qcols] : [b, 0, 0], a, 'qr'),
    R = empty([b, rrows, n], a, 'qr');
  run(OP.LINALG_QR, [Q, R], [a], []);
  return { Q, R };
}

/** Ascending eigenvalues [B, n] of symmetric a [B, n, n] (one triangle read), eigenvectors as columns. */
export function eighRaw(a: Tensor, upper: boolean, vectors: boolean): { w: Tensor; V: Tensor; info: Tensor } {
  const [b, n] = a._shape;
  const w = empty([b, n], a, 'eigh'),
    V = empty(vectors ? [b, n, n] : [b, 0, 0], a, 'eigh'),
    info = ints([b], a, 'eigh');
  run(OP.LINALG_EIGH, [w, V, info], [a], [upper ? 1 : 0, vectors ? 1 : 0]);
  return { w, V, info };
}

/** Descending singular values [B, k] of a [B, m, n], with U and Vh (full or reduced) when vectors. */
export function svdRaw(a: Tensor, vectors: boolean, full: boolean): { U: Tensor; S: Tensor; Vh: Tensor; info: Tensor } {
  const [b, m, n] = a._shape;
  const k = Math.min(m, n);
  const U = empty(vectors ? [b, m, full ? m : k] : [b, 0, 0], a, 'svd'),
    S = empty([b, k], a, 'svd'),
    Vh = empty(vectors ? [b, full ? n : k, n] : [b, 0, 0], a, 'svd'),
    info = ints([b], a, 'svd');
  run(OP.LINALG_SVD, [U, S, Vh, info], [a], [vectors ? 1 : 0]);
  return { U, S, Vh, info };
}
