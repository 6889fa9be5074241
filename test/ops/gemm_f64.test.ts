// The float64 GEMM (gemm_f64.cpp and each ISA's register tile, arch/gemm_f64.inc) against a float64
// reference: random and edge shapes across the tile and the K blocking, all layout pairs, alpha/beta with
// addmm, bias and activation after the product, batch broadcasting and non-finite values (the same bits for
// any thread count: test/unit/determinism). npm test runs this file under every ISA the CPU has (KILN_ISA).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { rngFrom } from '../../ts/ops/samples';

const rng = rngFrom(0x64f6);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
// across the register tiles (4, 6, 8, 14 rows; 4, 6, 8, 16 columns) and the K blocks (about 200 here)
const SIZES = [2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 15, 16, 17, 28, 29, 33, 64, 97, 210, 230, 300];
const LAYOUTS = ['contiguous', 'transposed', 'strided'];
const EPS = 2 ** -52;

function operand(rows: number, cols: number, layout: string): { t: kiln.Tensor; v: Float64Array } {
  const o = { dtype: 'float64' as const };
  let t: kiln.Tensor;
  if (layout === 'transposed') t = kiln.randn([cols, rows], o).t();
  else if (layout === 'strided') t = kiln.randn([rows, 2 * cols + 1], o).slice(1, 1, 2 * cols + 1, 2);
  else t = kiln.randn([rows, cols], o);
  return { t, v: Float64Array.from(t.contiguous().data() as Float64Array) };
}

function reference(a: Float64Array, b: Float64Array, M: number, K: number, N: number) {
  const out = new Float64Array(M * N),
    mag = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) {
      const x = a[i * K + k];
      for (let j = 0; j < N; j++) {
        out[i * N + j] += x * b[k * N + j];
        mag[i * N + j] += Math.abs(x * b[k * N + j]);
      }
    }
  return { out, mag };
}

function expectClose(got: kiln.Tensor, want: Float64Array, mag: Float64Array, K: number, label: string): void {
  assert.is(got.dtype, 'float64', label);
  const g = got.contiguous().data() as Float64Array;
  assert.is(g.length, want.length, `${label}: element count`);
  for (let i = 0; i < want.length; i++) {
    const tol = 2 * (K + 4) * EPS * (mag[i] + Math.abs(want[i])) + 1e-300;
    if (!(Math.abs(g[i] - want[i]) <= tol))
      assert.unreachable(`${label}: element ${i}: got ${g[i]}, want ${want[i]} (tolerance ${tol})`);
  }
}

test('float64: random shapes, every layout pair', () => {
  for (let it = 0; it < 80; it++) {
    const [M, K, N] = [pick(SIZES), pick(SIZES), pick(SIZES)];
    const [la, lb] = [pick(LAYOUTS), pick(LAYOUTS)];
    const A = operand(M, K, la),
      B = operand(K, N, lb);
    const { out, mag } = reference(A.v, B.v, M, K, N);
    expectClose(A.t.matmul(B.t), out, mag, K, `${M}x${K}x${N} A ${la} B ${lb}`);
  }
});

test('float64: one-row and one-column products, K = 1, long K and wide blocks', () => {
  for (const [M, K, N] of [
    [1, 300, 40],
    [40, 300, 1],
    [2, 1, 3],
    [20, 1, 33],
    [3, 1500, 5],
    [150, 700, 520],
    [0, 5, 4],
    [4, 5, 0],
  ])
    for (const [la, lb] of [
      ['contiguous', 'contiguous'],
      ['transposed', 'transposed'],
    ]) {
      const A = operand(M, K, la),
        B = operand(K, N, lb);
      const { out, mag } = reference(A.v, B.v, M, K, N);
      expectClose(A.t.matmul(B.t), out, mag, K, `${M}x${K}x${N} A ${la} B ${lb}`);
    }
});

test('float64: alpha and beta with addmm, beta = 0 never reads C', () => {
  for (const [M, K, N] of [
    [5, 9, 33],
    [64, 300, 70],
    [17, 250, 15],
  ]) {
    const A = operand(M, K, 'contiguous'),
      B = operand(K, N, 'transposed');
    const c = kiln.randn([M, N], { dtype: 'float64' });
    const cv = c.data() as Float64Array;
    const { out, mag } = reference(A.v, B.v, M, K, N);
    const got = kiln.addmm(c, A.t, B.t, { alpha: -0.5, beta: 2 });
    expectClose(
      got,
      out.map((s, i) => -0.5 * s + 2 * cv[i]),
      mag.map((m, i) => 0.5 * m + 2 * Math.abs(cv[i])),
      K,
      `addmm ${M}x${K}x${N}`,
    );
    // alpha = 0 reads neither A nor B (BLAS's rule): their NaNs do not reach C
    const an = kiln.full([M, K], NaN, { dtype: 'float64' });
    const scaled = kiln.addmm(c, an, B.t, { alpha: 0, beta: 3 }).data() as Float64Array;
    assert.ok(
      scaled.every((v, i) => v === 3 * cv[i]),
      `alpha 0 ${M}x${K}x${N}`,
    );
    const nan = kiln.full([M, N], NaN, { dtype: 'float64' });
    expectClose(kiln.addmm(nan, A.t, B.t, { beta: 0 }), out, mag, K, `beta 0 over NaN ${M}x${K}x${N}`);
  }
});

test('float64: bias and relu after the product (linear)', () => {
  const [M, K, N] = [37, 70, 45];
  const x = operand(M, K, 'contiguous'),
    w = operand(N, K, 'contiguous'),
    b = kiln.randn([N], { dtype: 'float64' });
  const bv = b.data() as Float64Array;
  const wt = new Float64Array(K * N);
  for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) wt[k * N + j] = w.v[j * K + k];
  const { out, mag } = reference(x.v, wt, M, K, N);
  const got = kiln.noGrad(() => kiln.nn.functional.linear(x.t, w.t, b, { activation: 'relu' }));
  expectClose(
    got,
    out.map((s, q) => Math.max(0, s + bv[q % N])),
    mag.map((m, q) => m + Math.abs(bv[q % N])),
    K,
    'linear relu',
  );
});

test('float64: batch broadcasting', () => {
  const a = kiln.randn([3, 1, 20, 30], { dtype: 'float64' });
  const b = kiln.randn([4, 30, 18], { dtype: 'float64' });
  const got = a.matmul(b);
  assert.equal(got.shape, [3, 4, 20, 18]);
  for (const [i, j] of [
    [0, 0],
    [2, 3],
    [1, 2],
  ]) {
    const ai = a.select(0, i).select(0, 0);
    const bj = b.select(0, j);
    const { out, mag } = reference(
      Float64Array.from(ai.contiguous().data() as Float64Array),
      Float64Array.from(bj.contiguous().data() as Float64Array),
      20,
      30,
      18,
    );
    expectClose(got.select(0, i).select(0, j), out, mag, 30, `batch ${i}, ${j}`);
  }
});

test('float64: non-finite inputs propagate to their rows and columns only', () => {
  const a = kiln.ones([20, 40], { dtype: 'float64' });
  const b = kiln.ones([40, 50], { dtype: 'float64' });
  const an = a.clone();
  an.narrow(0, 3, 1).narrow(1, 7, 1).fill_(NaN);
  const c = an.matmul(b).toArray() as number[][];
  assert.ok(c[3].every((v) => Number.isNaN(v)));
  assert.ok(c[2].every((v) => v === 40));
  const bi = b.clone();
  bi.narrow(0, 0, 1).narrow(1, 5, 1).fill_(Infinity);
  const d = a.matmul(bi).toArray() as number[][];
  assert.ok(d.every((row) => row[5] === Infinity && row[4] === 40));
});

test.run();
