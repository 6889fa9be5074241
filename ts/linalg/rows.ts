/**
 * The op-table rows of the kiln.linalg kernels: conformance cases against the float64 references
 * of reference.ts on random batches (small matrices, and one past the blocked kernels' 128
 * threshold), gradient samples and error inputs. Decompositions that are unique only up to signs
 * (QR, eigh, SVD) are compared through what is unique: |R|, the eigenvalues, the singular values,
 * and the products that rebuild A.
 */
import type { GradFn } from '../autograd/node';
import { fromNumbers } from '../creation';
import type { DType } from '../dtype';
import { roundTo } from '../dtype';
import { KilnError } from '../errors';
import type { Case, OpRow, Rng } from '../ops/row';
import { errorCases, gradInput, randInt } from '../ops/samples';
import { numelOf, shapeStr } from '../shape';
import type { Tensor } from '../tensor';
import { cholesky, mT, solveTriangular } from './factor';
import { luFactor, luSolve } from './lu';
import { refAbsR, refCholesky, refEigvalsh, refLu, refLuSolve, refSvdvals, refTrsm } from './reference';
import { eigh, qr, svd } from './spectral';

const LINALG_DTYPES = ['float32', 'float64'] as const;
/** The gradients are recorded by the functions themselves (factor.ts, spectral.ts); the samples check them. */
const RECORDED: GradFn = () => {
  throw new KilnError('ERR_NATIVE', 'linalg rows record their gradients in their functions');
};

/** A batch of matrices built per matrix by `make`, as a tensor (transposed storage on odd draws). */
function batchOf(
  rng: Rng,
  dtype: DType,
  batch: number[],
  m: number,
  n: number,
  make: () => number[],
): { t: Tensor; mats: number[][] } {
  const mats = Array.from({ length: numelOf(batch) }, () => make().map((v) => roundTo(dtype, v)));
  const transposed = rng() < 0.5;
  const flat: number[] = [];
  for (const a of mats)
    for (let i = 0; i < (transposed ? n : m); i++)
      for (let j = 0; j < (transposed ? m : n); j++) flat.push(transposed ? a[j * n + i] : a[i * n + j]);
  const base = fromNumbers(flat, [...batch, ...(transposed ? [n, m] : [m, n])], dtype);
  if (!transposed) return { t: base, mats };
  const t = mT(base);
  base.dispose();
  return { t, mats };
}

const uniform = (rng: Rng, len: number): number[] => Array.from({ length: len }, () => 2 * rng() - 1);
/** Symmetric positive definite: M Mᵀ + n I. */
function spd(rng: Rng, n: number): number[] {
  const m = uniform(rng, n * n);
  const a = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      for (let p = 0; p < n; p++) a[i * n + j] += m[i * n + p] * m[j * n + p];
      if (i === j) a[i * n + j] += n;
    }
  return a;
}
/** Triangular with a diagonal in [1, 2] (well conditioned); the other triangle holds noise. */
function triangular(rng: Rng, n: number, upper: boolean): number[] {
  const a = uniform(rng, n * n).map((v) => v * 0.5);
  for (let i = 0; i < n; i++) a[i * n + i] = (upper ? 1 : -1) * (1 + rng());
  return a;
}

/** Random batch shapes and sizes, plus one matrix past the blocked kernels' threshold. */
function problems(rng: Rng, big: number): { batch: number[]; n: number }[] {
  const out = [
    { batch: [], n: 0 },
    { batch: [2], n: 1 },
    { batch: [0], n: 3 },
    { batch: [], n: big },
  ];
  for (let k = 0; k < 4; k++)
    out.push({ batch: Array.from({ length: randInt(rng, 0, 2) }, () => randInt(rng, 1, 3)), n: randInt(rng, 2, 12) });
  return out;
}

const flatten = (mats: number[][]): number[] => mats.flat();
const tolFor = (dtype: DType, n: number) => (dtype === 'float32' ? 64 + 8 * n : 1024 + 64 * n);

export const choleskyRow: OpRow<typeof cholesky> = {
  name: 'linalg_cholesky',
  kind: 'custom',
  native: { nin: 1, nout: 2, nattr: 0 },
  dtypes: LINALG_DTYPES,
  fn: cholesky,
  grad: RECORDED,
  cases: (rng, dtype) =>
    problems(rng, 150).map(({ batch, n }) => {
      const { t, mats } = batchOf(rng, dtype, batch, n, n, () => spd(rng, n));
      const got = cholesky(t);
      t.dispose();
      return {
        label: `cholesky ${shapeStr([...batch, n, n])}`,
        got,
        want: { shape: [...batch, n, n], data: flatten(mats.map((a) => refCholesky(a, n) as number[])) },
        tol: tolFor(dtype, n),
      };
    }),
  gradSamples: (rng) => [
    {
      label: 'cholesky of X Xᵀ + I',
      fn: (x) => cholesky(x.matmul(mT(x)).add(fromNumbers([1, 0, 0, 0, 1, 0, 0, 0, 1], [3, 3], 'float64'))),
      inputs: [gradInput(rng, [3, 3])],
    },
    {
      label: 'cholesky upper, batched',
      fn: (x) =>
        cholesky(
          mT(x)
            .matmul(x)
            .add(fromNumbers([2, 0, 0, 2], [2, 2], 'float64')),
          { upper: true },
        ),
      inputs: [gradInput(rng, [2, 2, 2])],
    },
  ],
  errors: () =>
    errorCases([
      ['not positive definite', () => cholesky(fromNumbers([1, 2, 2, 1], [2, 2], 'float32')), 'ERR_LINALG'],
      ['not square', () => cholesky(fromNumbers([1, 2, 3, 4, 5, 6], [2, 3], 'float32')), 'ERR_SHAPE'],
      ['integer input', () => cholesky(fromNumbers([1, 0, 0, 1], [2, 2], 'int32')), 'ERR_DTYPE'],
      ['a vector', () => cholesky(fromNumbers([1, 2], [2], 'float32')), 'ERR_SHAPE'],
    ]),
};

export const luRow: OpRow<typeof luFactor> = {
  name: 'linalg_lu',
  kind: 'custom',
  native: { nin: 1, nout: 3, nattr: 0 },
  dtypes: LINALG_DTYPES,
  fn: luFactor,
  grad: RECORDED,
  cases: (rng, dtype) => {
    const out: Case[] = [];
    const shapes = [
      ...problems(rng, 140).map(({ batch, n }) => ({ batch, m: n, n })),
      { batch: [2], m: 5, n: 3 },
      { batch: [], m: 3, n: 6 },
    ];
    for (const { batch, m, n } of shapes) {
      const { t, mats } = batchOf(rng, dtype, batch, m, n, () => uniform(rng, m * n));
      const { LU, pivots } = luFactor(t);
      t.dispose();
      const refs = mats.map((a) => refLu(a, m, n));
      const label = `lu ${shapeStr([...batch, m, n])}`;
      out.push({
        label,
        got: LU,
        want: { shape: [...batch, m, n], data: refs.flatMap((r) => r.lu) },
        tol: tolFor(dtype, 4 * n),
      });
      out.push({
        label: `${label} pivots`,
        got: pivots,
        want: { shape: [...batch, Math.min(m, n)], data: refs.flatMap((r) => r.piv) },
      });
    }
    return out;
  },
  gradSamples: (rng) => [
    { label: 'lu_factor LU', fn: (x) => luFactor(x).LU, inputs: [gradInput(rng, [4, 4])] },
    { label: 'lu_factor, batched', fn: (x) => luFactor(x).LU, inputs: [gradInput(rng, [2, 3, 3])] },
  ],
  errors: () =>
    errorCases([
      ['integer input', () => luFactor(fromNumbers([1, 0, 0, 1], [2, 2], 'int64')), 'ERR_DTYPE'],
      ['0-d input', () => luFactor(fromNumbers([1], [], 'float32')), 'ERR_SHAPE'],
      ['not a tensor', () => luFactor([[1]] as never), 'ERR_ARG'],
    ]),
};

export const solveTriangularRow: OpRow<typeof solveTriangular> = {
  name: 'linalg_solve_triangular',
  kind: 'custom',
  native: { nin: 2, nout: 1, nattr: 3 },
  dtypes: LINALG_DTYPES,
  fn: solveTriangular,
  grad: RECORDED,
  cases: (rng, dtype) =>
    problems(rng, 140).map(({ batch, n }, i) => {
      const upper = i % 2 === 0,
        trans = i % 3 === 0,
        unit = i % 4 === 1;
      const k = randInt(rng, 1, 5);
      const A = batchOf(rng, dtype, batch, n, n, () => triangular(rng, n, upper));
      const B = batchOf(rng, dtype, batch, n, k, () => uniform(rng, n * k));
      const got = solveTriangular(A.t, B.t, { upper, trans, unitriangular: unit });
      A.t.dispose();
      B.t.dispose();
      return {
        label: `solveTriangular ${shapeStr([...batch, n, n])} k=${k} upper=${upper} trans=${trans} unit=${unit}`,
        got,
        want: {
          shape: [...batch, n, k],
          data: A.mats.flatMap((a, b) => refTrsm(a, B.mats[b], n, k, upper, trans, unit)),
        },
        tol: tolFor(dtype, n),
      };
    }),
  gradSamples: (rng) => [
    {
      label: 'lower, A and B',
      fn: (a, b) =>
        solveTriangular(a.add(fromNumbers([3, 0, 0, 0, 3, 0, 0, 0, 3], [3, 3], 'float64')), b, { upper: false }),
      inputs: [gradInput(rng, [3, 3]), gradInput(rng, [3, 2])],
    },
    {
      label: 'upper, right side, unit, broadcast batch',
      fn: (a, b) => solveTriangular(a, b, { upper: true, left: false, unitriangular: true }),
      inputs: [gradInput(rng, [3, 3]), gradInput(rng, [2, 4, 3])],
    },
    {
      label: 'trans',
      fn: (a, b) =>
        solveTriangular(a.add(fromNumbers([3, 0, 0, 3], [2, 2], 'float64')), b, { upper: true, trans: true }),
      inputs: [gradInput(rng, [2, 2]), gradInput(rng, [2, 3])],
    },
  ],
  errors: () => {
    const a = () => fromNumbers([1, 0, 1, 1], [2, 2], 'float32');
    return errorCases([
      ['no upper option', () => solveTriangular(a(), a(), {} as never), 'ERR_ARG'],
      [
        'rows do not match',
        () => solveTriangular(a(), fromNumbers([1, 2, 3], [3, 1], 'float32'), { upper: false }),
        'ERR_SHAPE',
      ],
      [
        'dtypes differ',
        () => solveTriangular(a(), fromNumbers([1, 2], [2, 1], 'float64'), { upper: false }),
        'ERR_DTYPE',
      ],
      [
        'batches do not broadcast',
        () => solveTriangular(a().expand([2, 2, 2]), a().expand([3, 2, 2]), { upper: true }),
        'ERR_SHAPE',
      ],
    ]);
  },
};

export const luSolveRow: OpRow<typeof luSolve> = {
  name: 'linalg_lu_solve',
  kind: 'custom',
  native: { nin: 3, nout: 1, nattr: 1 },
  dtypes: LINALG_DTYPES,
  fn: luSolve,
  grad: RECORDED,
  cases: (rng, dtype) =>
    problems(rng, 140).map(({ batch, n }, i) => {
      const adjoint = i % 2 === 1;
      const k = randInt(rng, 1, 4);
      const A = batchOf(rng, dtype, batch, n, n, () =>
        uniform(rng, n * n).map((v, j) => (j % (n + 1) === 0 ? v + 3 : v)),
      );
      const B = batchOf(rng, dtype, batch, n, k, () => uniform(rng, n * k));
      const { LU, pivots } = luFactor(A.t);
      const got = luSolve(LU, pivots, B.t, { adjoint });
      for (const t of [A.t, B.t, LU, pivots]) t.dispose();
      return {
        label: `luSolve ${shapeStr([...batch, n, n])} k=${k} adjoint=${adjoint}`,
        got,
        want: {
          shape: [...batch, n, k],
          data: A.mats.flatMap((a, b) => {
            const r = refLu(a, n, n);
            return refLuSolve(r.lu, r.piv, B.mats[b], n, k, adjoint);
          }),
        },
        tol: tolFor(dtype, 4 * n),
      };
    }),
  gradSamples: (rng) => [
    {
      label: 'through the LU of A',
      fn: (a, b) => {
        const { LU, pivots } = luFactor(a);
        return luSolve(LU, pivots, b);
      },
      inputs: [gradInput(rng, [3, 3]), gradInput(rng, [3, 2])],
    },
    {
      label: 'adjoint, left: false',
      fn: (a, b) => {
        const { LU, pivots } = luFactor(a);
        return luSolve(LU, pivots, b, { left: false, adjoint: true });
      },
      inputs: [gradInput(rng, [3, 3]), gradInput(rng, [2, 3])],
    },
  ],
  errors: () => {
    const a = () => fromNumbers([2, 1, 1, 3], [2, 2], 'float32');
    return errorCases([
      ['pivots not int32', () => luSolve(a(), fromNumbers([1, 2], [2], 'int64'), a()), 'ERR_DTYPE'],
      ['pivot out of range', () => luSolve(a(), fromNumbers([3, 2], [2], 'int32'), a()), 'ERR_INDEX'],
      [
        'B rows do not match',
        () => luSolve(a(), fromNumbers([1, 2], [2], 'int32'), fromNumbers([1, 2, 3], [3, 1], 'float32')),
        'ERR_SHAPE',
      ],
    ]);
  },
};

/** got vs want for each invariant of a decomposition, on one problem. */
function invariantCases(label: string, dtype: DType, n: number, pairs: [string, Tensor, number[], number[]][]): Case[] {
  return pairs.map(([what, got, shape, data]) => ({
    label: `${label} ${what}`,
    got,
    want: { shape, data },
    tol: tolFor(dtype, 4 * n),
  }));
}

const identity = (batch: number[], k: number): number[] =>
  Array.from({ length: numelOf(batch) * k * k }, (_, i) => (Math.floor(i / k) % k === i % k ? 1 : 0));

export const qrRow: OpRow<typeof qr> = {
  name: 'linalg_qr',
  kind: 'custom',
  native: { nin: 1, nout: 2, nattr: 0 },
  dtypes: LINALG_DTYPES,
  fn: qr,
  grad: RECORDED,
  cases: (rng, dtype) => {
    const out: Case[] = [];
    const shapes = [...problems(rng, 130).map(({ batch, n }) => ({ batch, m: n + 2, n })), { batch: [2], m: 3, n: 5 }];
    for (const [i, { batch, m, n }] of shapes.entries()) {
      const mode = i % 2 ? 'complete' : 'reduced';
      const { t, mats } = batchOf(rng, dtype, batch, m, n, () => uniform(rng, m * n));
      const { Q, R } = qr(t, mode);
      const k = Math.min(m, n),
        qc = mode === 'complete' ? m : k;
      const label = `qr ${mode} ${shapeStr([...batch, m, n])}`;
      const rows = mode === 'complete' ? m : k;
      const absR = mats.flatMap((a) => {
        const r = refAbsR(a, m, n);
        return [...r, ...new Array<number>((rows - k) * n).fill(0)];
      });
      out.push(
        ...invariantCases(label, dtype, m, [
          ['Q R', Q.narrow(-1, 0, k).matmul(R.narrow(-2, 0, k)), [...batch, m, n], flatten(mats)],
          ['QᵀQ', mT(Q).matmul(Q), [...batch, qc, qc], identity(batch, qc)],
          ['|R|', R.abs(), [...batch, rows, n], absR],
        ]),
      );
      for (const x of [t, Q, R]) x.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: 'tall, Q and R',
      fn: (x) => {
        const { Q, R } = qr(x);
        return Q.add(R.sum(0));
      },
      inputs: [gradInput(rng, [4, 3])],
    },
    { label: 'wide, Q', fn: (x) => qr(x).Q, inputs: [gradInput(rng, [2, 4])] },
    { label: 'square complete, R', fn: (x) => qr(x, 'complete').R, inputs: [gradInput(rng, [2, 3, 3])] },
  ],
  errors: () =>
    errorCases([
      ['bad mode', () => qr(fromNumbers([1, 0, 0, 1], [2, 2], 'float32'), 'full' as never), 'ERR_ARG'],
      ['a vector', () => qr(fromNumbers([1, 2], [2], 'float32')), 'ERR_SHAPE'],
      ['integer input', () => qr(fromNumbers([1, 0, 0, 1], [2, 2], 'int32')), 'ERR_DTYPE'],
      [
        "mode 'r' under autograd",
        () => qr(fromNumbers([1, 0, 0, 1], [2, 2], 'float64').requiresGrad_(), 'r'),
        'ERR_AUTOGRAD',
      ],
    ]),
};

export const eighRow: OpRow<typeof eigh> = {
  name: 'linalg_eigh',
  kind: 'custom',
  native: { nin: 1, nout: 3, nattr: 2 },
  dtypes: LINALG_DTYPES,
  fn: eigh,
  grad: RECORDED,
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const [i, { batch, n }] of problems(rng, 130).entries()) {
      const uplo = i % 2 ? 'U' : 'L';
      const { t, mats } = batchOf(rng, dtype, batch, n, n, () => uniform(rng, n * n));
      // the triangle eigh reads, as a full symmetric matrix
      const sym = mats.map((a) =>
        a.map((_, j) => {
          const [r, c] = [Math.floor(j / n), j % n];
          const [lo, hi] = r >= c ? [r, c] : [c, r];
          return uplo === 'L' ? a[lo * n + hi] : a[hi * n + lo];
        }),
      );
      const { eigenvalues: w, eigenvectors: V } = eigh(t, uplo);
      const label = `eigh ${uplo} ${shapeStr([...batch, n, n])}`;
      out.push(
        ...invariantCases(label, dtype, n, [
          ['eigenvalues', w.clone(), [...batch, n], sym.flatMap((a) => refEigvalsh(a, n))],
          ['V diag(w) Vᵀ', V.mul(w.unsqueeze(-2)).matmul(mT(V)), [...batch, n, n], flatten(sym)],
          ['VᵀV', mT(V).matmul(V), [...batch, n, n], identity(batch, n)],
        ]),
      );
      for (const x of [t, w, V]) x.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    { label: 'eigenvalues of X + Xᵀ', fn: (x) => eigh(x.add(mT(x))).eigenvalues, inputs: [gradInput(rng, [4, 4])] },
    {
      label: 'sign-free eigenvector products, batched',
      fn: (x) => {
        const { eigenvectors: v } = eigh(x.add(mT(x)), 'U');
        return v.mul(v);
      },
      inputs: [gradInput(rng, [2, 3, 3])],
    },
  ],
  errors: () =>
    errorCases([
      ['not square', () => eigh(fromNumbers([1, 2, 3, 4, 5, 6], [2, 3], 'float32')), 'ERR_SHAPE'],
      ['bad UPLO', () => eigh(fromNumbers([1, 0, 0, 1], [2, 2], 'float32'), 'X' as never), 'ERR_ARG'],
      ['NaN input', () => eigh(fromNumbers([NaN, 0, 0, 1], [2, 2], 'float32')), 'ERR_LINALG'],
    ]),
};

export const svdRow: OpRow<typeof svd> = {
  name: 'linalg_svd',
  kind: 'custom',
  native: { nin: 1, nout: 4, nattr: 1 },
  dtypes: LINALG_DTYPES,
  fn: svd,
  grad: RECORDED,
  cases: (rng, dtype) => {
    const out: Case[] = [];
    const shapes = [
      ...problems(rng, 130).map(({ batch, n }, i) => ({ batch, m: i % 2 ? n + 3 : n, n })),
      { batch: [2], m: 3, n: 6 },
    ];
    for (const [i, { batch, m, n }] of shapes.entries()) {
      const full = i % 3 === 0;
      const { t, mats } = batchOf(rng, dtype, batch, m, n, () => uniform(rng, m * n));
      const { U, S, Vh } = svd(t, { fullMatrices: full });
      const k = Math.min(m, n);
      const [uc, vr] = full ? [m, n] : [k, k];
      const label = `svd ${full ? 'full' : 'reduced'} ${shapeStr([...batch, m, n])}`;
      out.push(
        ...invariantCases(label, dtype, Math.max(m, n), [
          ['S', S.clone(), [...batch, k], mats.flatMap((a) => refSvdvals(a, m, n))],
          [
            'U diag(S) Vh',
            U.narrow(-1, 0, k)
              .mul(S.unsqueeze(-2))
              .matmul(Vh.narrow(-2, 0, k)),
            [...batch, m, n],
            flatten(mats),
          ],
          ['UᵀU', mT(U).matmul(U), [...batch, uc, uc], identity(batch, uc)],
          ['Vh Vhᵀ', Vh.matmul(mT(Vh)), [...batch, vr, vr], identity(batch, vr)],
        ]),
      );
      for (const x of [t, U, S, Vh]) x.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    { label: 'singular values', fn: (x) => svd(x, { fullMatrices: false }).S, inputs: [gradInput(rng, [4, 3])] },
    {
      label: 'U diag(c) Vh, tall',
      fn: (x) => {
        const { U, Vh } = svd(x, { fullMatrices: false });
        return U.mul(fromNumbers([1, 2, 3], [3], 'float64')).matmul(Vh);
      },
      inputs: [gradInput(rng, [5, 3])],
    },
    {
      label: 'U diag(c) Vh, wide, batched',
      fn: (x) => {
        const { U, Vh } = svd(x, { fullMatrices: false });
        return U.mul(fromNumbers([3, -1], [2], 'float64')).matmul(Vh);
      },
      inputs: [gradInput(rng, [2, 2, 4])],
    },
    {
      label: 'square, full',
      fn: (x) => {
        const { U, S, Vh } = svd(x);
        return U.mul(U)
          .mul(fromNumbers([1, 2, 3], [3], 'float64'))
          .sum(-1)
          .add(S)
          .add(Vh.mul(Vh).sum(0));
      },
      inputs: [gradInput(rng, [3, 3])],
    },
  ],
  errors: () =>
    errorCases([
      ['a vector', () => svd(fromNumbers([1, 2], [2], 'float32')), 'ERR_SHAPE'],
      ['integer input', () => svd(fromNumbers([1, 0, 0, 1], [2, 2], 'int32')), 'ERR_DTYPE'],
      [
        'full matrices of a non-square matrix under autograd',
        () => svd(fromNumbers([1, 2, 3, 4, 5, 6], [2, 3], 'float64').requiresGrad_()),
        'ERR_AUTOGRAD',
      ],
    ]),
};
