/**
 * Cholesky and triangular solves (torch.linalg's names): cholesky, choleskyEx, solveTriangular.
 * Each runs one native kernel on the matrices' stack; gradients are written with these same
 * functions, so they can be differentiated again.
 */
import { record } from '../autograd/node';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { broadcastShapes, shapeStr } from '../shape';
import type { Tensor } from '../tensor';
import { choleskyRaw, trsmRaw } from './native';
import { batchOf, checkInfo, checkMatrices, toStack } from './stack';

/** The transpose of the last two dims. */
export const mT = (x: Tensor): Tensor => x.transpose(-1, -2);

/** Options of cholesky (torch.linalg.cholesky's keywords). */
export interface CholeskyOptions {
  /** Read A's upper triangle and return U with Uᵀ U = A. */
  upper?: boolean;
}

/** L and the per-matrix info (0: factored; k: the leading minor of order k is not positive definite). */
export interface CholeskyEx {
  L: Tensor;
  info: Tensor;
}

function choleskyLower(a: Tensor, check: boolean): CholeskyEx {
  const s = toStack(a);
  const { L, info } = choleskyRaw(s);
  if (s !== a) s.dispose();
  const batch = batchOf(a);
  try {
    if (check) checkInfo('cholesky', info, batch, (k) => `the leading minor of order ${k} is not positive definite`);
  } catch (e) {
    L.dispose();
    info.dispose();
    throw e;
  }
  const Lb = L.reshape(a._shape.slice());
  const infoB = info.reshape(batch);
  if (Lb !== L) L.dispose();
  if (infoB !== info) info.dispose();
  // Ā = ½ (S + Sᵀ) with S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹, Φ: the lower triangle with its diagonal halved.
  const out = record(
    'cholesky',
    Lb,
    [a],
    (g, c) => {
      const l = c.output as Tensor;
      return [
        scope(() => {
          const phi = mT(l).matmul(g.tril());
          const half = phi.tril(-1).add(phi.tril().triu().mul(0.5));
          const x = solveTriangular(l, half, { upper: false, trans: true });
          const sym = solveTriangular(l, mT(x), { upper: false, trans: true });
          return sym.add(mT(sym)).mul(0.5);
        }),
      ];
    },
    {},
    true,
  );
  return { L: out, info: infoB };
}

/**
 * The Cholesky factor of symmetric positive-definite matrices: L lower with L Lᵀ = A, reading A's
 * lower triangle (torch.linalg.cholesky); `upper` reads the upper one and gives U = Lᵀ. Throws
 * ERR_LINALG when a matrix is not positive definite.
 * @example
 * kiln.linalg.cholesky(kiln.tensor([[4, 2], [2, 3]])); // [[2, 0], [1, 1.4142]]
 */
export function cholesky(a: Tensor, opts: CholeskyOptions = {}): Tensor {
  const { L, info } = choleskyEx(a, opts, true);
  info.dispose();
  return L;
}

/** cholesky that reports failures in `info` instead of throwing, unless checkErrors (torch.linalg.cholesky_ex). */
export function choleskyEx(a: Tensor, opts: CholeskyOptions = {}, checkErrors = false): CholeskyEx {
  checkMatrices(a, 'cholesky', 'A', true);
  if (!opts.upper) return choleskyLower(a, checkErrors);
  const at = mT(a);
  const r = choleskyLower(at, checkErrors);
  at.dispose();
  const u = mT(r.L);
  r.L.dispose();
  return { L: u, info: r.info };
}

/** Options of solveTriangular (torch.linalg.solve_triangular's keywords, and trans). */
export interface SolveTriangularOptions {
  /** A is upper triangular (its lower triangle is not read), or lower. Required, as in torch. */
  upper: boolean;
  /** Solve A X = B (default) or X A = B. */
  left?: boolean;
  /** Take A's diagonal as ones (it is not read). */
  unitriangular?: boolean;
  /** Solve with Aᵀ (kiln's addition: no transposed copy of A is made). */
  trans?: boolean;
}

/** X with op(A) X = B on matched batches; A's gradient keeps to its triangle. */
function trsmCore(a: Tensor, b: Tensor, upper: boolean, trans: boolean, unit: boolean): Tensor {
  const sa = toStack(a),
    sb = toStack(b);
  const x = trsmRaw(sa, sb, upper, trans, unit);
  if (sa !== a) sa.dispose();
  if (sb !== b) sb.dispose();
  const xb = x.reshape(b._shape.slice());
  if (xb !== x) x.dispose();
  return record(
    'solve_triangular',
    xb,
    [a, b],
    (g, c) => {
      const [A] = c.inputs;
      const X = c.output as Tensor;
      const gb = trsmCore(A, g, upper, !trans, unit);
      if (!c.inputs[0]._requiresGrad) return [null, gb];
      const ga = scope(() => {
        const full = trans ? X.matmul(mT(gb)).neg() : gb.matmul(mT(X)).neg();
        return upper ? full.triu(unit ? 1 : 0) : full.tril(unit ? -1 : 0);
      });
      return [ga, gb];
    },
    {},
    true,
  );
}

/**
 * X with A X = B (or X A = B with left: false) for triangular A [..., n, n] and B [..., n, k], batch
 * dims broadcast (torch.linalg.solve_triangular). A singular triangle gives infinities, as in torch.
 * @example
 * kiln.linalg.solveTriangular(kiln.tensor([[2, 0], [1, 1]]), kiln.tensor([[2], [3]]), { upper: false }); // [[1], [2]]
 */
export function solveTriangular(a: Tensor, b: Tensor, opts: SolveTriangularOptions): Tensor {
  checkMatrices(a, 'solveTriangular', 'A', true);
  checkMatrices(b, 'solveTriangular', 'B');
  if (!opts || typeof opts.upper !== 'boolean')
    throw new KilnError('ERR_ARG', 'solveTriangular: options.upper (true or false) is required, as in torch');
  if (a.dtype !== b.dtype)
    throw new KilnError('ERR_DTYPE', `solveTriangular: A and B have different dtypes (${a.dtype}, ${b.dtype})`);
  const left = opts.left ?? true;
  const n = a._shape[a.ndim - 1];
  const bn = b._shape[b.ndim - (left ? 2 : 1)];
  if (bn !== n)
    throw new KilnError(
      'ERR_SHAPE',
      `solveTriangular: A ${shapeStr(a._shape)} and B ${shapeStr(b._shape)} do not match (${left ? 'rows' : 'columns'} of B: ${bn}, A: ${n})`,
    );
  return scope(() => {
    const batch = broadcastShapes('solveTriangular', batchOf(a), batchOf(b));
    const ea = a.expand([...batch, n, n]);
    const bb = b.expand([...batch, ...b._shape.slice(-2)]);
    // X A = B is Aᵀ Xᵀ = Bᵀ.
    const x = left
      ? trsmCore(ea, bb, opts.upper, !!opts.trans, !!opts.unitriangular)
      : mT(trsmCore(ea, mT(bb), opts.upper, !opts.trans, !!opts.unitriangular));
    return x;
  });
}
