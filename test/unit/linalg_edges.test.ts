// kiln.linalg's factorisations and solves at the edges, against PyTorch 1.13 where it gives values:
// empty batches, 0x0 and 1x1 matrices, views, the error codes, the blocked paths of large matrices,
// and the live tensor count over repeated calls.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';
import { settledMemory } from '../helpers/settled';
import {
  f64,
  f32,
  leaf,
  close,
  SPD3,
  SPD3B,
  G3,
  G3B,
  G4,
  B32,
  B23,
  b3,
  T43,
  W34,
  W3,
  errorOf,
  NEG2,
  BAD_SPD,
  CHOL_SPD3,
  CHOL_SPD3B,
  SOLVE_G3_B32,
  SOLVE_G3B_B32,
  INV_G3,
  INV_G3B,
  DET_G3B,
  LA,
} from '../helpers/linalg_fixtures';
import type { Nested } from '../helpers/linalg_fixtures';

test('empty batches and 0x0 matrices: shapes as torch gives them, det of 0x0 is 1', () => {
  const e = kiln.zeros([0, 3, 3], { dtype: 'float64' });
  assert.equal(LA.cholesky(e).shape, [0, 3, 3]);
  assert.equal(LA.solve(e, f64(B32)).shape, [0, 3, 2]);
  assert.equal(LA.solve(e, kiln.zeros([0, 3], { dtype: 'float64' })).shape, [0, 3]);
  assert.equal(LA.inv(e).shape, [0, 3, 3]);
  assert.equal(LA.det(e).shape, [0]);
  assert.equal(LA.slogdet(e).logabsdet.shape, [0]);
  const r = LA.lu(e);
  for (const t of [r.P, r.L, r.U]) assert.equal(t.shape, [0, 3, 3]);
  const f = LA.luFactor(e);
  assert.equal(f.LU.shape, [0, 3, 3]);
  assert.equal(f.pivots.shape, [0, 3]);
  assert.equal(LA.luSolve(f.LU, f.pivots, f64(B32)).shape, [0, 3, 2]);
  assert.equal(LA.solveTriangular(e, f64(B32), { upper: true }).shape, [0, 3, 2]);
  assert.equal(LA.choleskyEx(e).info.shape, [0]);
  const z = kiln.zeros([0, 0], { dtype: 'float64' });
  close(LA.det(z), 1, 'det of 0x0');
  close(LA.det(kiln.zeros([2, 0, 0], { dtype: 'float64' })), [1, 1], 'det of two 0x0');
  close(LA.slogdet(z).sign, 1, 'slogdet sign of 0x0');
  close(LA.slogdet(z).logabsdet, 0, 'slogdet logabsdet of 0x0');
  assert.equal(LA.inv(z).shape, [0, 0]);
  assert.equal(LA.cholesky(z).shape, [0, 0]);
  assert.equal(LA.solve(z, kiln.zeros([0, 2], { dtype: 'float64' })).shape, [0, 2]);
  for (const t of Object.values(LA.lu(z))) assert.equal(t.shape, [0, 0]);
});

test('1x1 matrices and a [2, 1, 3, 3] batch', () => {
  close(LA.inv(f64([[4]])), [[0.25]], 'inv 1x1');
  close(LA.det(f64([[-3]])), -3, 'det 1x1');
  close(LA.solve(f64([[2]]), f64([3])), [1.5], 'solve 1x1');
  const lu1 = LA.lu(f64([[-3]]));
  close(lu1.P, [[1]], 'lu P 1x1');
  close(lu1.U, [[-3]], 'lu U 1x1');
  const A = f64(G3B).reshape([2, 1, 3, 3]);
  close(
    LA.solve(A, f64(B32)),
    (SOLVE_G3B_B32 as Nested[]).map((m) => [m]),
    'solve [2, 1, 3, 3]',
  );
  close(
    LA.inv(A),
    (INV_G3B as Nested[]).map((m) => [m]),
    'inv [2, 1, 3, 3]',
  );
  close(
    LA.det(A),
    (DET_G3B as Nested[]).map((d) => [d]),
    'det [2, 1, 3, 3]',
  );
  // B [1, 2, 3, 2] broadcasts with A [2, 1, 3, 3] to [2, 2, 3, 2].
  const X = LA.solve(A, f64([[B32, B32]]));
  assert.equal(X.shape, [2, 2, 3, 2]);
  close(X.select(1, 1), SOLVE_G3B_B32, 'solve broadcast [2, 1] with [1, 2]');
  const Ls = f64(SPD3B).reshape([2, 1, 3, 3]).cholesky();
  close(
    Ls,
    (CHOL_SPD3B as Nested[]).map((m) => [m]),
    'cholesky [2, 1, 3, 3]',
  );
});

test('non-contiguous inputs and views at an offset give torch values', () => {
  // G3 inside a bigger tensor: [2, 4, 5] with G3 at [1, 1:4, 0:3], so its view has an offset and row stride 5.
  const pad = (m: number[][]) => [[9, 9, 9, 9, 9], ...m.map((r) => [...r, 7, 7])];
  const big = f64([pad(SPD3), pad(G3)]);
  const view = big.select(0, 1).narrow(0, 1, 3).narrow(1, 0, 3);
  assert.ok(!view.isContiguous(), 'the view is not contiguous');
  close(LA.solve(view, f64(B32)), SOLVE_G3_B32, 'solve, offset view');
  close(LA.inv(view), INV_G3, 'inv, offset view');
  close(LA.det(view), DET_G3B[0], 'det, offset view');
  const vt = view.transpose(0, 1);
  close(
    LA.solve(vt, f64(B32)),
    [
      [0.38167938931297707, 1],
      [-0.09160305343511449, 0],
      [0.6564885496183206, 0],
    ],
    'solve, transposed offset view',
  );
  close(
    LA.inv(f64(G3).transpose(0, 1)),
    [
      [0.42748091603053434, -0.15267175572519082, -0.015267175572519082],
      [0.13740458015267176, 0.23664122137404578, -0.07633587786259542],
      [0.015267175572519076, 0.13740458015267173, 0.21374045801526717],
    ],
    'inv, transposed',
  );
  close(LA.det(vt), 32.75, 'det, transposed');
  close(LA.cholesky(big.select(0, 0).narrow(0, 1, 3).narrow(1, 0, 3)), CHOL_SPD3, 'cholesky, offset view');
  close(LA.lu(vt).U, LA.lu(vt.contiguous()).U.toArray() as Nested, 'lu, transposed view');
  // A batch view: every other matrix of a [4, 3, 3].
  const four = f64([G3B[0], SPD3, G3B[1], SPD3]).reshape([2, 2, 3, 3]).select(1, 0);
  close(LA.inv(four), INV_G3B, 'inv of a strided batch');
  close(LA.det(four), DET_G3B, 'det of a strided batch');
  const strided = kiln.stack([f64(G3B[0]), f64(G3B[1])], 2).select(2, 0);
  close(LA.solve(strided, f64(B32)), SOLVE_G3_B32, 'solve, a select() view');
  // Gradients reach a transposed leaf.
  const a = leaf(G3);
  LA.inv(a.transpose(0, 1)).mul(f64(W3).transpose(0, 1)).sum().backward();
  close(
    a.grad!,
    [
      [-0.0005360992949128614, 0.12494609871219627, -0.08078783287687195],
      [-0.016420954489831587, 0.0010663714235767258, 0.003694423401899665],
      [-0.12684575490938754, 0.04159431268574093, 0.05011362974185653],
    ],
    'inv gradient through a transposed view',
    1e-9,
  );
});

test('ERR_LINALG for singular and non-positive-definite matrices, naming the batch element', () => {
  const sing = [
    [1, 2],
    [2, 4],
  ];
  let m = errorOf(() => LA.solve(f64(sing), f64([1, 2])), 'ERR_LINALG', 'singular solve');
  assert.ok(/singular/.test(m) && !/batch element/.test(m), m);
  m = errorOf(() => LA.inv(f64([NEG2, sing, NEG2])), 'ERR_LINALG', 'singular inv in a batch');
  assert.ok(m.includes('batch element 1'), m);
  m = errorOf(() => f64([[NEG2], [sing]]).inverse(), 'ERR_LINALG', 'Tensor.inverse, [2, 1] batch');
  assert.ok(m.includes('batch element 1'), m);
  m = errorOf(() => LA.solve(f64([NEG2, NEG2, sing]), f64([1, 2])), 'ERR_LINALG', 'singular solve in a batch');
  assert.ok(m.includes('batch element 2'), m);
  m = errorOf(() => LA.cholesky(f64(BAD_SPD)), 'ERR_LINALG', 'cholesky of a non-PD batch');
  assert.ok(m.includes('batch element 1') && /positive/.test(m), m);
  m = errorOf(
    () =>
      LA.cholesky(
        f64([
          [1, 2],
          [2, 1],
        ]),
        { upper: true },
      ),
    'ERR_LINALG',
    'cholesky upper, indefinite',
  );
  throwsCode(() => LA.cholesky(f64([[0]])), 'ERR_LINALG', 'cholesky of [[0]]');
  throwsCode(() => LA.matrixPower(f64(sing), -1), 'ERR_LINALG', 'a negative power of a singular matrix');
  // luFactor and det do not throw for singular matrices.
  close(LA.det(f64(sing)), 0, 'det of a singular matrix');
  const t = LA.solveTriangular(
    f64([
      [0, 0],
      [1, 1],
    ]),
    f64([[1], [1]]),
    { upper: false },
  );
  assert.ok(
    !Number.isFinite((t.toArray() as number[][])[0][0]),
    'a zero on the diagonal of a triangle: no throw, as torch',
  );
});

test('argument errors: ERR_SHAPE, ERR_DTYPE and ERR_ARG', () => {
  throwsCode(() => LA.cholesky(f64(T43)), 'ERR_SHAPE', 'cholesky of a non-square matrix');
  throwsCode(() => LA.inv(f64(b3)), 'ERR_SHAPE', 'inv of a vector');
  throwsCode(() => LA.det(f64(W34)), 'ERR_SHAPE', 'det of a non-square matrix');
  throwsCode(() => LA.solve(f64(G3), f64(G4)), 'ERR_SHAPE', 'solve with mismatched B');
  throwsCode(() => LA.solve(f64(G3), f64(b3), { left: false }), 'ERR_SHAPE', 'solve left: false with a vector');
  throwsCode(
    () => LA.solve(f64(G3B), kiln.zeros([3, 3, 2], { dtype: 'float64' })),
    'ERR_SHAPE',
    'solve: batches that do not broadcast',
  );
  throwsCode(
    () => LA.solveTriangular(f64(G3), f64(B23), { upper: true }),
    'ERR_SHAPE',
    'solveTriangular with mismatched B',
  );
  throwsCode(
    () =>
      LA.inv(
        kiln.tensor(
          [
            [1, 2],
            [3, 4],
          ],
          { dtype: 'int32' },
        ),
      ),
    'ERR_DTYPE',
    'inv of int32',
  );
  throwsCode(() => LA.cholesky(kiln.tensor([[true]])), 'ERR_DTYPE', 'cholesky of bool');
  throwsCode(() => LA.solve(f64(G3), f32(B32)), 'ERR_DTYPE', 'solve with mixed dtypes');
  throwsCode(
    () => LA.solveTriangular(f64(G3), f32(B32), { upper: true }),
    'ERR_DTYPE',
    'solveTriangular with mixed dtypes',
  );
  const f = LA.luFactor(f64(G3));
  throwsCode(() => LA.luSolve(f.LU, f.pivots.to('int64'), f64(B32)), 'ERR_DTYPE', 'luSolve with int64 pivots');
  throwsCode(() => LA.luSolve(f.LU, f.pivots, f64(B23)), 'ERR_SHAPE', 'luSolve with mismatched B');
  throwsCode(
    () => LA.solveTriangular(f64(G3), f64(B32), {} as kiln.linalg.SolveTriangularOptions),
    'ERR_ARG',
    'solveTriangular without upper',
  );
  throwsCode(() => LA.matrixPower(f64(G3), 1.5), 'ERR_ARG', 'matrixPower with a fractional n');
});

// --------------------------------------------------------------------------------------------
// large matrices: the blocked paths, checked by residuals

test('matrices of 150 and 200 rows (blocked paths): cholesky, solve, inv, lu, solveTriangular residuals in float32 and float64', () => {
  kiln.manualSeed(7);
  for (const dtype of ['float64', 'float32'] as const) {
    const tol = dtype === 'float64' ? 1e-13 : 2e-5;
    /** max |x - y| relative to max |y|, with y's scale given. */
    const rel = (x: kiln.Tensor, y: kiln.Tensor, scale: number) => (x.sub(y).abs().max().item() as number) / scale;
    for (const n of [150, 200]) {
      const X = kiln.randn([n, n], { dtype });
      const A = X.add(kiln.eye(n, n, { dtype }).mul(Math.sqrt(n))); // general, well conditioned
      const S = X.matmul(X.transpose(0, 1)).add(kiln.eye(n, n, { dtype }).mul(n)); // SPD
      const B = kiln.randn([2, n, 5], { dtype });
      const what = `${dtype} n=${n}`;
      const norm = (t: kiln.Tensor) => t.abs().max().item() as number;
      const L = LA.cholesky(S);
      assert.is(L.dtype, dtype);
      assert.ok(rel(L.matmul(L.transpose(0, 1)), S, norm(S)) < tol, `${what}: L Lᵀ = S`);
      assert.ok(norm(L.triu(1)) === 0, `${what}: L is lower triangular`);
      const U = LA.cholesky(S, { upper: true });
      assert.ok(rel(U.transpose(0, 1).matmul(U), S, norm(S)) < tol, `${what}: Uᵀ U = S`);
      const Xs = LA.solve(A, B);
      assert.ok(
        rel(A.matmul(Xs), B, norm(A) * norm(Xs) * 10) < tol,
        `${what}: A X = B (${rel(A.matmul(Xs), B, norm(A) * norm(Xs) * 10)})`,
      );
      const Xr = LA.solve(A, B.transpose(1, 2), { left: false });
      assert.ok(rel(Xr.matmul(A), B.transpose(1, 2), norm(A) * norm(Xr) * 10) < tol, `${what}: X A = B`);
      const Ai = LA.inv(A);
      assert.ok(rel(A.matmul(Ai), kiln.eye(n, n, { dtype }), norm(A) * norm(Ai) * 10) < tol, `${what}: A A⁻¹ = I`);
      const { P, L: Ll, U: Uu } = LA.lu(A);
      assert.ok(rel(P.matmul(Ll).matmul(Uu), A, norm(A)) < tol, `${what}: P L U = A`);
      const f = LA.luFactor(A);
      const Xl = LA.luSolve(f.LU, f.pivots, B, { adjoint: true });
      assert.ok(rel(A.transpose(0, 1).matmul(Xl), B, norm(A) * norm(Xl) * 10) < tol, `${what}: Aᵀ X = B by luSolve`);
      const Xt = LA.solveTriangular(L, B, { upper: false });
      assert.ok(rel(L.matmul(Xt), B, norm(L) * norm(Xt) * 10) < tol, `${what}: L X = B`);
      const Xu = LA.solveTriangular(U, B.transpose(1, 2), { upper: true, left: false });
      assert.ok(rel(Xu.matmul(U), B.transpose(1, 2), norm(U) * norm(Xu) * 10) < tol, `${what}: X U = B`);
      // slogdet agrees with the log of the Cholesky diagonal: log det S = 2 Σ log L_ii.
      const lad = LA.slogdet(S).logabsdet.item() as number;
      const want = 2 * (kiln.diagonal(L.to('float64')).log().sum().item() as number);
      assert.ok(
        Math.abs(lad - want) < (dtype === 'float64' ? 1e-9 : 1e-2) * Math.abs(want),
        `${what}: slogdet ${lad} vs ${want}`,
      );
    }
  }
});

// --------------------------------------------------------------------------------------------
// memory

/** Disposes every tensor in x (a tensor, or an object or array of them). */
function disposeAll(x: unknown): void {
  if (x instanceof kiln.Tensor) return void (x.isDisposed || x.dispose());
  if (x && typeof x === 'object') for (const v of Object.values(x)) disposeAll(v);
}

/** The sum of every output that needs a gradient (null when none does), its intermediates disposed. */
function lossOf(out: unknown): kiln.Tensor | null {
  let total: kiln.Tensor | null = null;
  const add = (x: unknown): void => {
    if (x instanceof kiln.Tensor) {
      if (!x.requiresGrad) return;
      const s = x.sum();
      if (!total) return void (total = s);
      const next = total.add(s);
      total.dispose();
      s.dispose();
      total = next;
    } else if (x && typeof x === 'object') for (const v of Object.values(x)) add(v);
  };
  add(out);
  return total;
}

// [name, input, f]: f(input) with every result disposed by hand (no scope, which would hide a handle
// an op forgot); with backward, input is a fresh leaf each time.
const G = f64(G3),
  S = f64(SPD3),
  Bm = f64(B32),
  T = f64(T43);
const B4 = f64([...B32, [1, 1]]),
  v3 = f64(b3),
  v4 = f64([1, 0, 2, 1]);
const CALLS: [string, kiln.Tensor, (x: kiln.Tensor) => unknown][] = [
  ['cholesky', S, (x) => LA.cholesky(x)],
  ['cholesky upper', S, (x) => LA.cholesky(x, { upper: true })],
  ['cholesky of a batch', f64(SPD3B), (x) => LA.cholesky(x)],
  ['choleskyEx of a batch', f64(SPD3B), (x) => LA.choleskyEx(x)],
  ['choleskyEx upper of a batch', f64(SPD3B), (x) => LA.choleskyEx(x, { upper: true })],
  ['solve', G, (x) => LA.solve(x, Bm)],
  ['solve, vector b', G, (x) => LA.solve(x, v3)],
  ['solve of a batch', f64(G3B), (x) => LA.solve(x, Bm)],
  ['solveTriangular', G, (x) => LA.solveTriangular(x, Bm, { upper: true, left: true })],
  ['inv', G, (x) => LA.inv(x)],
  [
    'inv of a transposed view',
    G,
    (x) => {
      const v = x.transpose(0, 1);
      return [v, LA.inv(v)];
    },
  ],
  ['det', G, (x) => LA.det(x)],
  ['det of a batch', f64(G3B), (x) => LA.det(x)],
  ['slogdet', G, (x) => LA.slogdet(x)],
  ['logdet', S, (x) => LA.logdet(x)],
  ['luFactor', G, (x) => LA.luFactor(x)],
  ['luFactor of a batch', f64(G3B), (x) => LA.luFactor(x)],
  ['luFactorEx', G, (x) => LA.luFactorEx(x)],
  [
    'luFactor then luSolve',
    f64(G3B),
    (x) => {
      const f = LA.luFactor(x);
      return [f, LA.luSolve(f.LU, f.pivots, Bm)];
    },
  ],
  ['lu', G, (x) => LA.lu(x)],
  ['qr', T, (x) => LA.qr(x)],
  ['qr of a batch', f64([T43, T43]), (x) => LA.qr(x)],
  ['eigh', S, (x) => LA.eigh(x)],
  ['eigh of a batch', f64(SPD3B), (x) => LA.eigh(x)],
  ['eigvalsh of a batch', f64(SPD3B), (x) => LA.eigvalsh(x)],
  ['svd', T, (x) => LA.svd(x, { fullMatrices: false })],
  ['svd of a batch', f64([T43, T43]), (x) => LA.svd(x, { fullMatrices: false })],
  ['svdvals of a batch', f64([T43, T43]), (x) => LA.svdvals(x)],
  ['lstsq', T, (x) => LA.lstsq(x, B4)],
  ['lstsq, vector b', T, (x) => LA.lstsq(x, v4)],
  ['pinv', T, (x) => LA.pinv(x)],
  ['matrixRank', T, (x) => LA.matrixRank(x)],
  ['matrixNorm nuc', T, (x) => LA.matrixNorm(x, 'nuc')],
  ['norm', T, (x) => LA.norm(x, 2)],
  ['cond', G, (x) => LA.cond(x)],
  ['matrixPower -2', G, (x) => LA.matrixPower(x, -2)],
  ['multiDot', G, (x) => LA.multiDot([v3, x, x, v3])],
  [
    'diagonal and diagEmbed',
    G,
    (x) => {
      const d = kiln.diagonal(x, 1);
      return [d, kiln.diagEmbed(d, -1)];
    },
  ],
];

test('no tensor left behind: each function 20 times, results disposed by hand, with and without backward', () => {
  const leaks: string[] = [];
  for (const [name, input, f] of CALLS)
    for (const backward of [false, true]) {
      const once = () => {
        const x = backward ? input.clone().requiresGrad_() : input;
        const out = f(x);
        if (backward) {
          const l = lossOf(out);
          l?.backward();
          l?.dispose();
          disposeAll([x.grad, x]);
        }
        disposeAll(out);
      };
      once(); // anything made once (caches) comes into being
      const before = settledMemory().numTensors;
      for (let i = 0; i < 20; i++) once();
      // No growth (a collection mid-loop may free older garbage, so not equality).
      const grown = kiln.memory().numTensors - before;
      if (grown > 0) leaks.push(`${name}${backward ? ', with backward' : ''}: +${grown / 20} tensors per call`);
    }
  assert.equal(leaks, []);
});

test('no tensor left behind: twenty rounds of all of them inside kiln.scope, with backward', () => {
  const round = () =>
    kiln.scope(() => {
      const xs = CALLS.map(([, input]) => input.clone().requiresGrad_());
      const outs = CALLS.map(([, , f], i) => f(xs[i]));
      lossOf(outs)!.backward();
    });
  round();
  const before = settledMemory();
  for (let i = 0; i < 20; i++) round();
  const after = kiln.memory();
  assert.ok(
    after.numTensors <= before.numTensors,
    `live tensors grew from ${before.numTensors} to ${after.numTensors}`,
  );
  assert.ok(after.numBytes <= before.numBytes, `live bytes grew from ${before.numBytes} to ${after.numBytes}`);
});

test.run();
