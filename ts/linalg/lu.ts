/**
 * LU-based functions (torch.linalg's names): luFactor, lu, luSolve, solve, inv, det, slogdet,
 * logdet, and their *Ex forms. The factorisation and the solves run native kernels; gradients are
 * torch's formulas written with these functions and the triangular solves, so they can be
 * differentiated again.
 */
import { isGradEnabled, noGrad } from '../autograd/grad_mode';
import { needsGrad, record } from '../autograd/node';
import { arange, eye, fromNumbers } from '../creation';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { diagonal } from '../ops/diagonal';
import { broadcastShapes, numelOf, shapeStr } from '../shape';
import type { Tensor } from '../tensor';
import { luRaw, luSolveRaw } from './native';
import { batchOf, checkInfo, checkMatrices, refuseGrad, toStack } from './stack';
import { mT, solveTriangular } from './factor';

/** The packed LU factors and 1-based int32 pivots of P A = L U (torch.linalg.lu_factor). */
export interface LuFactor {
  LU: Tensor;
  pivots: Tensor;
}

/**
 * LU factorisation with partial pivoting of A [..., m, n] (torch.linalg.lu_factor_ex): LU holds U
 * and L's strict lower part, pivots[i] the 1-based row swapped with row i, info the first exactly
 * zero pivot (1-based; 0: none). A singular matrix still factors. LU is differentiable for square A.
 */
export function luFactorEx(a: Tensor): LuFactor & { info: Tensor } {
  checkMatrices(a, 'luFactor');
  const [m, n] = a._shape.slice(-2);
  if (m !== n) refuseGrad('luFactor', [a], 'the gradient of the LU of a non-square matrix is not implemented');
  const s = toStack(a);
  const { LU, pivots, info } = luRaw(s);
  if (s !== a) s.dispose();
  const batch = batchOf(a);
  const out = {
    LU: LU.reshape(a._shape.slice()),
    pivots: pivots.reshape([...batch, Math.min(m, n)]),
    info: info.reshape(batch),
  };
  for (const [x, y] of [
    [LU, out.LU],
    [pivots, out.pivots],
    [info, out.info],
  ])
    if (x !== y) x.dispose();
  // pivots: an input without gradient, so the node keeps its own handle on them
  out.LU = record(
    'lu_factor',
    out.LU,
    [a, out.pivots],
    (g, c) => [luBackward(g, c.output as Tensor, c.inputs[1]), null],
    {},
    true,
  );
  return out;
}

/** luFactorEx without info (torch.linalg.lu_factor). */
export function luFactor(a: Tensor): LuFactor {
  const r = luFactorEx(a);
  r.info.dispose();
  return { LU: r.LU, pivots: r.pivots };
}

/** The permutation matrices P of P A = L U (LAPACK's) from 1-based pivots [..., k], for n rows. */
export function pivotsToPermutation(pivots: Tensor, n: number): Tensor {
  return noGrad(() => {
    const p = pivots.contiguous().data();
    const k = pivots._shape[pivots.ndim - 1];
    const rows = k ? pivots.numel() / k : numelOf(pivots._shape.slice(0, -1));
    const perm = new Array<number>(rows * n);
    for (let r = 0; r < rows; r++) {
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = 0; i < k; i++) {
        const j = Number(p[r * k + i]) - 1;
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (let i = 0; i < n; i++) perm[r * n + i] = order[i];
    }
    // Row i of P A is row order[i] of A: P[i, order[i]] = 1.
    return scope(() => {
      const ord = fromNumbers(perm, [...pivots._shape.slice(0, -1), n, 1], 'int64', 'lu', pivots.device);
      return ord.eq(arange(0, n, 1, { dtype: 'int64', device: pivots.device })).to('float64');
    });
  });
}

/** Ā for square P A = L U (torch's formula): P L⁻ᵀ [tril(Lᵀ L̄, -1) + triu(Ū Uᵀ)] U⁻ᵀ. */
function luBackward(g: Tensor, lu: Tensor, pivots: Tensor): Tensor {
  return scope(() => {
    const n = lu._shape[lu.ndim - 1];
    const I = eye(n, n, { dtype: lu.dtype, device: lu.device });
    const L = lu.tril(-1).add(I),
      U = lu.triu();
    const inner = mT(L)
      .matmul(g.tril(-1))
      .tril(-1)
      .add(g.triu().matmul(mT(U)).triu());
    const left = solveTriangular(L, inner, { upper: false, trans: true, unitriangular: true });
    const x = solveTriangular(U, left, { upper: true, left: false, trans: true });
    return mT(pivotsToPermutation(pivots, n).to(lu.dtype)).matmul(x);
  });
}

/** P, L, U with A = P L U (torch.linalg.lu), from luFactor. */
export function lu(a: Tensor): { P: Tensor; L: Tensor; U: Tensor } {
  const [m, n] = a._shape.slice(-2);
  const k = Math.min(m, n);
  return scope(() => {
    const { LU, pivots } = luFactor(a);
    const L = LU.narrow(-1, 0, k)
      .tril(-1)
      .add(eye(m, k, { dtype: a.dtype, device: a.device }));
    const U = LU.narrow(-2, 0, k).triu();
    const P = mT(pivotsToPermutation(pivots, m).to(a.dtype));
    return { P, L, U };
  });
}

function luSolveCore(LU: Tensor, pivots: Tensor, b: Tensor, trans: boolean, a: Tensor | null): Tensor {
  const sl = toStack(LU),
    sb = toStack(b);
  const sp = pivots.reshape([sl._shape[0], sl._shape[1]]).contiguous();
  const x = luSolveRaw(sl, sp, sb, trans);
  for (const [t, o] of [
    [sl, LU],
    [sb, b],
    [sp, pivots],
  ])
    if (t !== o) t.dispose();
  const xb = x.reshape(b._shape.slice());
  if (xb !== x) x.dispose();
  if (!a) return xb;
  // X = A⁻¹ B: B̄ = A⁻ᵀ X̄ and Ā = -B̄ Xᵀ (transposed when the solve was with Aᵀ).
  // LU and pivots are inputs without gradient, so the node keeps them.
  return record(
    'solve',
    xb,
    [a, b, LU, pivots],
    (g, c) => {
      const [A, , f, p] = c.inputs;
      const X = c.output as Tensor;
      const gb = isGradEnabled() ? solve(trans ? A : mT(A), g) : luSolveCore(f, p, g, !trans, null);
      const ga = A._requiresGrad ? (trans ? X.matmul(mT(gb)) : gb.matmul(mT(X))).neg() : null;
      return [ga, gb, null, null];
    },
    {},
    true,
  );
}

/** Options of luSolve (torch.linalg.lu_solve's keywords). */
export interface LuSolveOptions {
  left?: boolean;
  /** Solve with Aᵀ. */
  adjoint?: boolean;
}

/**
 * X with A X = B from luFactor's LU and pivots (torch.linalg.lu_solve); left: false solves X A = B,
 * adjoint: true uses Aᵀ. Differentiable in B (and in LU through luFactor's gradient for A).
 */
export function luSolve(LU: Tensor, pivots: Tensor, b: Tensor, opts: LuSolveOptions = {}): Tensor {
  checkMatrices(LU, 'luSolve', 'LU', true);
  checkMatrices(b, 'luSolve', 'B');
  if (pivots?.dtype !== 'int32')
    throw new KilnError('ERR_DTYPE', `luSolve: pivots must be luFactor's int32 pivots, got ${pivots?.dtype}`);
  const left = opts.left ?? true;
  const n = LU._shape[LU.ndim - 1];
  return scope(() => {
    const batch = broadcastShapes('luSolve', batchOf(LU), batchOf(b), pivots._shape.slice(0, -1));
    const bt = left ? b : mT(b);
    if (bt._shape[bt.ndim - 2] !== n)
      throw new KilnError('ERR_SHAPE', `luSolve: B ${shapeStr(b._shape)} does not match LU ${shapeStr(LU._shape)}`);
    const el = LU.expand([...batch, n, n]),
      ep = pivots.expand([...batch, n]),
      eb = bt.expand([...batch, ...bt._shape.slice(-2)]);
    const trans = left ? !!opts.adjoint : !opts.adjoint;
    let x: Tensor;
    if (needsGrad([LU])) {
      // Through the triangles, so LU's gradient flows (to A through luFactor's).
      const L = el.tril(-1).add(eye(n, n, { dtype: LU.dtype, device: LU.device })),
        U = el.triu();
      const P = pivotsToPermutation(ep, n).to(LU.dtype);
      x = trans
        ? mT(P).matmul(
            solveTriangular(L, solveTriangular(U, eb, { upper: true, trans: true }), {
              upper: false,
              trans: true,
              unitriangular: true,
            }),
          )
        : solveTriangular(U, solveTriangular(L, P.matmul(eb), { upper: false, unitriangular: true }), { upper: true });
    } else {
      x = luSolveCore(el, ep, eb, trans, null);
      if (needsGrad([b]))
        x = record('lu_solve', x, [eb, el, ep], (g, c) => [luSolveCore(c.inputs[1], c.inputs[2], g, !trans, null)]);
    }
    return left ? x : mT(x);
  });
}

/** Options of solve (torch.linalg.solve's keyword). */
export interface SolveOptions {
  /** Solve A X = B (default) or X A = B. */
  left?: boolean;
}

const singular = (k: number) => `the matrix is singular (U[${k - 1}, ${k - 1}] of its LU is zero)`;

/**
 * X with A X = B for square A [..., n, n] (torch.linalg.solve): B is [..., n, k], or a vector
 * [..., n] when it has one dim fewer than A; batch dims broadcast. Throws ERR_LINALG for a
 * singular A.
 * @example
 * kiln.linalg.solve(kiln.tensor([[3, 1], [1, 2]]), kiln.tensor([9, 8])); // [2, 3]
 */
export function solve(a: Tensor, b: Tensor, opts: SolveOptions = {}): Tensor {
  const { result, info } = solveEx(a, b, opts, true);
  info.dispose();
  return result;
}

/**
 * solve that reports singular matrices in `info` (0, or the 1-based zero pivot of A's LU) instead
 * of throwing, unless checkErrors (torch.linalg.solve_ex); a singular matrix's solution is not finite.
 */
export function solveEx(
  a: Tensor,
  b: Tensor,
  opts: SolveOptions = {},
  checkErrors = false,
): { result: Tensor; info: Tensor } {
  checkMatrices(a, 'solve', 'A', true);
  const left = opts.left ?? true;
  const vector = b?.ndim === 1 || (b?.ndim === a.ndim - 1 && shapeStr(b._shape) === shapeStr(a._shape.slice(0, -1)));
  if (vector && !left) throw new KilnError('ERR_SHAPE', 'solve: B must be a matrix when left is false');
  const n = a._shape[a.ndim - 1];
  const out = scope(() => {
    const bm = vector ? b.unsqueeze(-1) : checkMatrices(b, 'solve', 'B');
    if (a.dtype !== b.dtype)
      throw new KilnError('ERR_DTYPE', `solve: A and B have different dtypes (${a.dtype}, ${b.dtype})`);
    const bt = left ? bm : mT(bm);
    if (bt._shape[bt.ndim - 2] !== n)
      throw new KilnError('ERR_SHAPE', `solve: A ${shapeStr(a._shape)} and B ${shapeStr(b._shape)} do not match`);
    const batch = broadcastShapes('solve', batchOf(a), batchOf(bt));
    const ea = a.expand([...batch, n, n]),
      eb = bt.expand([...batch, ...bt._shape.slice(-2)]);
    const f = noGrad(() => luFactorEx(ea.detach()));
    if (checkErrors) checkInfo('solve', f.info, batch, singular);
    // X A = B is Aᵀ Xᵀ = Bᵀ: the LU of A serves both.
    const xs = luSolveCore(f.LU, f.pivots, eb, !left, ea);
    const x = left ? xs : mT(xs);
    return { result: vector ? x.squeeze(-1) : x, info: f.info };
  });
  return out;
}

/**
 * The inverse of square matrices (torch.linalg.inv); throws ERR_LINALG for a singular one.
 * @example
 * kiln.linalg.inv(kiln.tensor([[2, 0], [0, 4]])); // [[0.5, 0], [0, 0.25]]
 */
export function inv(a: Tensor): Tensor {
  const { inverse, info } = invEx(a, true);
  info.dispose();
  return inverse;
}

/** inv that reports singular matrices in `info` instead of throwing, unless checkErrors (torch.linalg.inv_ex). */
export function invEx(a: Tensor, checkErrors = false): { inverse: Tensor; info: Tensor } {
  checkMatrices(a, 'inv', 'A', true);
  const n = a._shape[a.ndim - 1];
  return scope(() => {
    const r = solveEx(a, eye(n, n, { dtype: a.dtype, device: a.device }).expand(a._shape.slice()), {}, checkErrors);
    return { inverse: r.result, info: r.info };
  });
}

/** Determinants from an LU: the product of U's diagonal, negated per row swap. */
function luDeterminantParts(a: Tensor): { diag: Tensor; sign: Tensor } {
  return noGrad(() =>
    scope(() => {
      const { LU, pivots } = luFactor(a.detach());
      const n = a._shape[a.ndim - 1];
      const swaps = pivots.ne(arange(1, n + 1, 1, { dtype: 'int32', device: a.device })).sum(-1);
      const sign = swaps.remainder(2).mul(-2).add(1).to(a.dtype);
      return { diag: diagonal(LU, 0, -2, -1), sign };
    }),
  );
}

/**
 * Determinants of square matrices [..., n, n] (torch.linalg.det). The gradient, det · A⁻ᵀ, is
 * not finite at singular matrices.
 */
export function det(a: Tensor): Tensor {
  checkMatrices(a, 'det', 'A', true);
  const { diag, sign } = luDeterminantParts(a);
  const d = noGrad(() => scope(() => diag.prod(-1).mul(sign)));
  diag.dispose();
  sign.dispose();
  return record(
    'det',
    d,
    [a],
    (g, c) => [
      scope(() =>
        mT(inv(c.inputs[0])).mul(
          g
            .mul(c.output as Tensor)
            .unsqueeze(-1)
            .unsqueeze(-1),
        ),
      ),
    ],
    {},
    true,
  );
}

/** The sign (-1, 0 or 1) and log |det| of square matrices (torch.linalg.slogdet). */
export function slogdet(a: Tensor): { sign: Tensor; logabsdet: Tensor } {
  checkMatrices(a, 'slogdet', 'A', true);
  const { diag, sign } = luDeterminantParts(a);
  const out = noGrad(() =>
    scope(() => ({
      sign: diag.sign().prod(-1).mul(sign),
      logabsdet: diag.abs().log().sum(-1),
    })),
  );
  diag.dispose();
  sign.dispose();
  const logabsdet = record('slogdet', out.logabsdet, [a], (g, c) => [
    scope(() => mT(inv(c.inputs[0])).mul(g.unsqueeze(-1).unsqueeze(-1))),
  ]);
  return { sign: out.sign, logabsdet };
}

/** log det A (torch.logdet): NaN where det < 0, -Infinity where it is 0. */
export function logdet(a: Tensor): Tensor {
  const { sign, logabsdet } = slogdet(a);
  const negative = sign.lt(0);
  const out = logabsdet.maskedFill(negative, NaN);
  for (const t of [sign, negative]) t.dispose();
  logabsdet.dispose();
  return out;
}
