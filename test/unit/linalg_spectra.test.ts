// eigh and svd on hard spectra and at every size their paths change at: repeated and clustered eigenvalues
// and singular values, rank deficiency, grading, splitting tridiagonals, and the zero matrix, in float32 and
// float64. Each result is judged as LAPACK's tests judge one, by backward error and orthogonality scaled by
// n eps (||A V - V diag(w)|| / (n ||A|| eps), ||VᵀV - I|| / (n eps)), computed here in float64 JS.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const LA = kiln.linalg;
type Dt = 'float32' | 'float64';
const EPS: Record<Dt, number> = { float32: 2 ** -23, float64: 2 ** -52 };
const LIMIT = 30; // LAPACK's test threshold for these ratios

// A deterministic generator (mulberry32) and normal deviates from it, so failures reproduce.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

type M = number[][];
const matrix = (r: number, c: number, f: (i: number, j: number) => number): M =>
  Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => f(i, j)));
const randn = (r: number, c: number, seed: number): M => {
  const g = rng(seed);
  return matrix(r, c, () => g());
};
const mul = (a: M, b: M): M => {
  const n = b[0]?.length ?? 0;
  return a.map((row) => {
    const out = new Array<number>(n).fill(0);
    row.forEach((x, p) => {
      if (x !== 0) for (let j = 0; j < n; j++) out[j] += x * b[p][j];
    });
    return out;
  });
};
const tr = (a: M): M => matrix(a[0]?.length ?? 0, a.length, (i, j) => a[j][i]);
const maxAbs = (a: M): number => a.reduce((m, row) => row.reduce((mm, x) => Math.max(mm, Math.abs(x)), m), 0);
const sub = (a: M, b: M): M => a.map((row, i) => row.map((x, j) => x - b[i][j]));
const eye = (n: number): M => matrix(n, n, (i, j) => (i === j ? 1 : 0));
const scaleCols = (a: M, s: number[]): M => a.map((row) => row.map((x, j) => x * s[j]));

// A random orthogonal matrix (the Q of a Gaussian matrix's QR, computed by kiln in float64).
function orthogonal(n: number, seed: number): M {
  const { Q } = LA.qr(kiln.tensor(randn(n, n, seed), { dtype: 'float64' }));
  return Q.toArray() as M;
}
// Q diag(w) Qᵀ, symmetrised exactly.
function withEigenvalues(w: number[], seed: number): M {
  const q = orthogonal(w.length, seed);
  const a = mul(scaleCols(q, w), tr(q));
  return matrix(w.length, w.length, (i, j) => (i >= j ? a[i][j] : a[j][i]));
}
function tridiagonal(d: number[], e: number[]): M {
  return matrix(d.length, d.length, (i, j) => (i === j ? d[i] : Math.abs(i - j) === 1 ? e[Math.min(i, j)] : 0));
}

// eigh's result checked against A as the input dtype rounds it; returns the eigenvalues.
function checkEigh(a: M, dtype: Dt, label: string): number[] {
  const n = a.length;
  const t = kiln.tensor(a, { dtype });
  const A = t.to('float64').toArray() as M; // A as rounded to dtype
  const { eigenvalues, eigenvectors } = LA.eigh(t);
  const w = eigenvalues.to('float64').toArray() as number[];
  const V = eigenvectors.to('float64').toArray() as M;
  const vals = LA.eigvalsh(t).to('float64').toArray() as number[];
  [t, eigenvalues, eigenvectors].forEach((x) => x.dispose());
  assert.is(w.length, n, `${label}: count`);
  for (let i = 1; i < n; i++) assert.ok(w[i - 1] <= w[i], `${label}: ascending at ${i}`);
  const eps = EPS[dtype];
  const norm = maxAbs(A) || 1;
  const resid = maxAbs(sub(mul(A, V), scaleCols(V, w))) / (n * norm * eps);
  const orth = maxAbs(sub(mul(tr(V), V), eye(n))) / (n * eps);
  assert.ok(resid < LIMIT, `${label}: residual ${resid.toFixed(2)} n eps ||A||`);
  assert.ok(orth < LIMIT, `${label}: orthogonality ${orth.toFixed(2)} n eps`);
  // eigvalsh takes the path without vectors: the same values to the same backward error.
  vals.forEach((x, i) =>
    assert.ok(Math.abs(x - w[i]) <= LIMIT * n * eps * norm, `${label}: eigvalsh[${i}] ${x} vs ${w[i]}`),
  );
  return w;
}

function checkSvd(a: M, dtype: Dt, label: string, fullMatrices = false): number[] {
  const m = a.length;
  const n = a[0].length;
  const k = Math.min(m, n);
  const t = kiln.tensor(a, { dtype });
  const A = t.to('float64').toArray() as M;
  const { U, S, Vh } = LA.svd(t, { fullMatrices });
  const u = U.to('float64').toArray() as M;
  const s = S.to('float64').toArray() as number[];
  const vh = Vh.to('float64').toArray() as M;
  const vals = LA.svdvals(t).to('float64').toArray() as number[];
  [t, U, S, Vh].forEach((x) => x.dispose());
  assert.is(s.length, k, `${label}: count`);
  for (let i = 0; i < k; i++) assert.ok(s[i] >= 0 && (i === 0 || s[i - 1] >= s[i]), `${label}: descending at ${i}`);
  const ucols = fullMatrices ? m : k;
  const vrows = fullMatrices ? n : k;
  assert.equal([u.length, u[0]?.length ?? 0, vh.length], [m, ucols, vrows], `${label}: shapes`);
  const eps = EPS[dtype];
  const big = Math.max(m, n);
  const norm = maxAbs(A) || 1;
  const uk = u.map((row) => row.slice(0, k));
  const resid = maxAbs(sub(A, mul(scaleCols(uk, s), vh.slice(0, k)))) / (big * norm * eps);
  const orthU = maxAbs(sub(mul(tr(u), u), eye(ucols))) / (big * eps);
  const orthV = maxAbs(sub(mul(vh, tr(vh)), eye(vrows))) / (big * eps);
  assert.ok(resid < LIMIT, `${label}: residual ${resid.toFixed(2)} n eps ||A||`);
  assert.ok(orthU < LIMIT, `${label}: U orthogonality ${orthU.toFixed(2)} n eps`);
  assert.ok(orthV < LIMIT, `${label}: V orthogonality ${orthV.toFixed(2)} n eps`);
  vals.forEach((x, i) =>
    assert.ok(Math.abs(x - s[i]) <= LIMIT * big * eps * norm, `${label}: svdvals[${i}] ${x} vs ${s[i]}`),
  );
  return s;
}

const DTYPES: Dt[] = ['float32', 'float64'];

test('eigh: random symmetric matrices at sizes around every path change, both dtypes', () => {
  for (const dtype of DTYPES)
    for (const n of [1, 2, 3, 24, 25, 26, 31, 32, 33, 63, 64, 65, 100, 150, 257]) {
      const g = randn(n, n, 1000 + n);
      checkEigh(
        matrix(n, n, (i, j) => (i >= j ? g[i][j] : g[j][i])),
        dtype,
        `${dtype} n=${n}`,
      );
    }
});

test('eigh: repeated and clustered eigenvalues keep orthogonal eigenvectors', () => {
  for (const dtype of DTYPES) {
    const n = 120;
    const twoValues = Array.from({ length: n }, (_, i) => (i < n / 2 ? 1 : 2));
    const w = checkEigh(withEigenvalues(twoValues, 7), dtype, `${dtype} two values`);
    const tol = LIMIT * n * EPS[dtype] * 2;
    w.forEach((x, i) => assert.ok(Math.abs(x - twoValues[i]) <= tol, `${dtype} two values: w[${i}] = ${x}`));
    const cluster = Array.from({ length: n }, (_, i) => 1 + i * 1e-7);
    checkEigh(withEigenvalues(cluster, 8), dtype, `${dtype} cluster`);
    checkEigh(
      eye(n).map((row) => row.map((x) => 3 * x)),
      dtype,
      `${dtype} 3 I`,
    );
    const ones = checkEigh(
      matrix(n, n, () => 1),
      dtype,
      `${dtype} ones (rank 1)`,
    );
    assert.ok(Math.abs(ones[n - 1] - n) <= tol * n, `${dtype} ones: largest ${ones[n - 1]}`);
  }
});

test('eigh: tridiagonals that split, Wilkinson W+ (close pairs), (1, 2, 1) Toeplitz and a graded matrix', () => {
  for (const dtype of DTYPES) {
    const n = 101;
    const split = tridiagonal(
      Array.from({ length: n }, (_, i) => Math.sin(i)),
      Array.from({ length: n - 1 }, (_, i) => (i % 17 === 16 ? 0 : 0.5)),
    );
    checkEigh(split, dtype, `${dtype} splitting`);
    const m = (n - 1) / 2;
    checkEigh(
      tridiagonal(
        Array.from({ length: n }, (_, i) => Math.abs(i - m)),
        new Array<number>(n - 1).fill(1),
      ),
      dtype,
      `${dtype} W+${n}`,
    );
    const toeplitz = checkEigh(
      tridiagonal(new Array<number>(n).fill(2), new Array<number>(n - 1).fill(1)),
      dtype,
      `${dtype} (1, 2, 1)`,
    );
    // eigenvalues 2 + 2 cos(k π / (n + 1)), k = 1..n
    toeplitz.forEach((x, i) => {
      const want = 2 + 2 * Math.cos(((n - i) * Math.PI) / (n + 1));
      assert.ok(Math.abs(x - want) <= LIMIT * n * EPS[dtype] * 4, `${dtype} (1, 2, 1): w[${i}] = ${x}, want ${want}`);
    });
    const g = randn(n, n, 5);
    const range = dtype === 'float32' ? 12 : 24;
    const scale = Array.from({ length: n }, (_, i) => 10 ** ((range * i) / (n - 1) - range / 2));
    checkEigh(
      matrix(n, n, (i, j) => (i >= j ? g[i][j] : g[j][i]) * Math.sqrt(scale[i] * scale[j])),
      dtype,
      `${dtype} graded`,
    );
  }
});

test('eigh: the zero matrix and a diagonal one', () => {
  for (const dtype of DTYPES) {
    const w = checkEigh(
      matrix(80, 80, () => 0),
      dtype,
      `${dtype} zeros`,
    );
    assert.ok(
      w.every((x) => x === 0),
      `${dtype} zeros: eigenvalues ${w.slice(0, 3)}`,
    );
    const d = Array.from({ length: 80 }, (_, i) => ((i * 37) % 80) - 40);
    const wd = checkEigh(
      matrix(80, 80, (i, j) => (i === j ? d[i] : 0)),
      dtype,
      `${dtype} diagonal`,
    );
    assert.equal(
      wd,
      [...d].sort((x, y) => x - y),
      `${dtype} diagonal: exact eigenvalues`,
    );
  }
});

test('svd: square, tall and wide random matrices at sizes around every path change, both dtypes', () => {
  for (const dtype of DTYPES)
    for (const [m, n] of [
      [1, 1],
      [2, 2],
      [3, 2],
      [2, 3],
      [19, 19],
      [20, 20],
      [25, 25],
      [33, 33],
      [64, 64],
      [65, 65],
      [100, 100],
      [257, 40],
      [40, 257],
      [150, 120],
      [120, 150],
      [200, 64],
    ]) {
      checkSvd(randn(m, n, 10 * m + n), dtype, `${dtype} ${m}x${n}`);
    }
});

test('svd: full matrices complete orthonormal bases for tall and wide inputs', () => {
  for (const dtype of DTYPES) {
    checkSvd(randn(90, 40, 3), dtype, `${dtype} full 90x40`, true);
    checkSvd(randn(40, 90, 4), dtype, `${dtype} full 40x90`, true);
    checkSvd(randn(70, 70, 6), dtype, `${dtype} full 70x70`, true);
  }
});

test('svd: rank deficiency, repeated singular values, grading and the zero matrix', () => {
  for (const dtype of DTYPES) {
    const low = mul(randn(120, 5, 11), randn(5, 100, 12));
    const s = checkSvd(low, dtype, `${dtype} rank 5`);
    const eps = EPS[dtype];
    for (let i = 5; i < s.length; i++)
      assert.ok(s[i] <= LIMIT * 120 * eps * s[0], `${dtype} rank 5: s[${i}] = ${s[i]}`);
    const lowFull = checkSvd(tr(low), dtype, `${dtype} rank 5, wide, full`, true);
    assert.is(lowFull.length, 100);
    const ones = checkSvd(orthogonal(100, 13), dtype, `${dtype} orthogonal`);
    ones.forEach((x, i) => assert.ok(Math.abs(x - 1) <= LIMIT * 100 * eps, `${dtype} orthogonal: s[${i}] = ${x}`));
    const twoValues = Array.from({ length: 80 }, (_, i) => (i < 40 ? 3 : 1));
    checkSvd(mul(scaleCols(orthogonal(80, 14), twoValues), orthogonal(80, 15)), dtype, `${dtype} two values`);
    const g = randn(90, 90, 16);
    const range = dtype === 'float32' ? 12 : 24;
    checkSvd(
      g.map((row, i) => row.map((x) => x * 10 ** ((range * i) / 89 - range / 2))),
      dtype,
      `${dtype} graded rows`,
    );
    const z = checkSvd(
      matrix(60, 45, () => 0),
      dtype,
      `${dtype} zeros`,
    );
    assert.ok(
      z.every((x) => x === 0),
      `${dtype} zeros: singular values ${z.slice(0, 3)}`,
    );
  }
});

test('batches of large matrices (one matrix per pool task) give each matrix its own result', () => {
  const B = 5,
    n = 100;
  const g = kiln.tensor(
    Array.from({ length: B }, (_, b) => randn(n, n, 900 + b)),
    { dtype: 'float64' },
  );
  const sym = g.add(g.mT);
  const { eigenvalues, eigenvectors } = LA.eigh(sym);
  const { U, S, Vh } = LA.svd(g, { fullMatrices: false });
  for (let b = 0; b < B; b++) {
    const one = LA.eigh(sym.select(0, b));
    assert.ok(
      (eigenvalues.select(0, b).sub(one.eigenvalues).abs().max().item() as number) < 1e-9,
      `eigh batch ${b}: eigenvalues`,
    );
    const v = eigenvectors.select(0, b);
    const back = v.mul(eigenvalues.select(0, b).unsqueeze(0)).matmul(v.mT);
    assert.ok((back.sub(sym.select(0, b)).abs().max().item() as number) < 1e-9, `eigh batch ${b}: V W Vᵀ`);
    const s1 = LA.svdvals(g.select(0, b));
    assert.ok((S.select(0, b).sub(s1).abs().max().item() as number) < 1e-9, `svd batch ${b}: singular values`);
    const us = U.select(0, b).mul(S.select(0, b).unsqueeze(0)).matmul(Vh.select(0, b));
    assert.ok((us.sub(g.select(0, b)).abs().max().item() as number) < 1e-9, `svd batch ${b}: U S Vh`);
  }
});

test.run();
