// The float32 GEMM against a float64 reference: random and edge shapes (1..300, primes, 1 x N,
// N x 1, K = 1, empty), all four transpose combinations, strided and offset views, alpha/beta,
// bias and activation epilogues, batch broadcasting, and the GEMV paths. npm test runs this file
// under every ISA the CPU has (KILN_ISA); test/unit/determinism compares thread counts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { rngFrom } from '../../ts/ops/samples';

const F = kiln.nn.functional;
const rng = rngFrom(0x6e33);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
const SIZES = [1, 2, 3, 5, 7, 13, 14, 15, 16, 17, 29, 31, 32, 33, 47, 64, 97, 127, 128, 255, 300];

/** A [rows, cols] float32 operand in one of several layouts, and its values row-major. */
function operand(rows: number, cols: number, layout: string): { t: kiln.Tensor; v: Float64Array } {
  let t: kiln.Tensor;
  if (layout === 'transposed') t = kiln.randn([cols, rows]).t();
  else if (layout === 'strided') t = kiln.randn([rows, 2 * cols + 1]).slice(1, 1, 2 * cols + 1, 2);
  else if (layout === 'rowstep')
    t = kiln
      .randn([2 * rows, cols + 3])
      .slice(0, 0, 2 * rows, 2)
      .slice(1, 3, cols + 3);
  else t = kiln.randn([rows, cols]);
  return { t, v: Float64Array.from(t.contiguous().data() as Float32Array) };
}

/** out = a @ b in float64, and the sum of |a_ik b_kj| per element (the rounding scale). */
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
  assert.equal(got.dtype, 'float32', label);
  const g = got.contiguous().data() as Float32Array;
  assert.is(g.length, want.length, `${label}: element count`);
  for (let i = 0; i < want.length; i++) {
    const tol = (K + 4) * 1.2e-7 * (mag[i] + Math.abs(want[i])) + 1e-30;
    if (!(Math.abs(g[i] - want[i]) <= tol))
      assert.unreachable(`${label}: element ${i}: got ${g[i]}, want ${want[i]} (tolerance ${tol})`);
  }
}

const LAYOUTS = ['contiguous', 'transposed', 'strided', 'rowstep'];

test('random shapes, every layout pair', () => {
  for (let it = 0; it < 120; it++) {
    const M = pick(SIZES),
      K = pick(SIZES),
      N = pick(SIZES);
    const la = pick(LAYOUTS),
      lb = pick(LAYOUTS);
    const A = operand(M, K, la),
      B = operand(K, N, lb);
    const { out, mag } = reference(A.v, B.v, M, K, N);
    expectClose(A.t.matmul(B.t), out, mag, K, `${M}x${K}x${N} A ${la} B ${lb}`);
  }
});

test('edge shapes: 1 x N, N x 1, K = 1, empty, and sizes across the blocking', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 300, 1],
    [1, 7, 300],
    [300, 7, 1],
    [300, 1, 300],
    [2, 1000, 3],
    [45, 1500, 70],
    [200, 600, 900],
    [0, 5, 4],
    [4, 5, 0],
    [3, 0, 4],
  ];
  for (const [M, K, N] of shapes)
    for (const [la, lb] of [
      ['contiguous', 'contiguous'],
      ['transposed', 'transposed'],
      ['contiguous', 'transposed'],
      ['transposed', 'contiguous'],
    ]) {
      const A = operand(M, K, la),
        B = operand(K, N, lb);
      const { out, mag } = reference(A.v, B.v, M, K, N);
      expectClose(A.t.matmul(B.t), out, mag, K, `${M}x${K}x${N} A ${la} B ${lb}`);
    }
});

test('K = 0 gives zeros, and beta * C with addmm', () => {
  const z = kiln.empty([3, 0]).matmul(kiln.empty([0, 4]));
  assert.equal(z.toArray(), [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
  ]);
  for (const dtype of ['bfloat16', 'float16', 'float64', 'int32'] as const)
    assert.equal(
      kiln
        .empty([2, 0], { dtype })
        .matmul(kiln.empty([0, 3], { dtype }))
        .toArray(),
      [
        [0, 0, 0],
        [0, 0, 0],
      ],
    );
  const c = kiln.full([2, 2], 3);
  assert.equal(kiln.addmm(c, kiln.empty([2, 0]), kiln.empty([0, 2]), { beta: 0.5 }).toArray(), [
    [1.5, 1.5],
    [1.5, 1.5],
  ]);
});

test('alpha and beta: addmm and addmm_ accumulating into an existing buffer', () => {
  for (const [M, K, N] of [
    [5, 9, 33],
    [64, 300, 70],
    [1, 500, 40],
    [40, 500, 1],
  ]) {
    const A = operand(M, K, pick(LAYOUTS)),
      B = operand(K, N, pick(LAYOUTS));
    const C = operand(M, N, 'contiguous');
    const { out, mag } = reference(A.v, B.v, M, K, N);
    for (const [alpha, beta] of [
      [1, 1],
      [0.5, -2],
      [2, 0],
    ]) {
      const want = out.map((p, q) => alpha * p + beta * C.v[q]);
      const m = mag.map((x, q) => Math.abs(alpha) * x + Math.abs(beta * C.v[q]));
      expectClose(kiln.addmm(C.t, A.t, B.t, { alpha, beta }), want, m, K, `addmm ${M}x${K}x${N} ${alpha} ${beta}`);
      const buf = C.t.clone();
      buf.addmm_(A.t, B.t, { alpha, beta });
      expectClose(buf, want, m, K, `addmm_ ${M}x${K}x${N} ${alpha} ${beta}`);
    }
  }
  // beta = 0 ignores what the buffer held, NaN included (as PyTorch does).
  const nan = kiln.full([2, 3], NaN);
  nan.addmm_(kiln.ones([2, 4]), kiln.ones([4, 3]), { beta: 0 });
  assert.equal(nan.toArray(), [
    [4, 4, 4],
    [4, 4, 4],
  ]);
});

test('bias and activation epilogues (linear) on the GEMM and GEMV paths', () => {
  const acts = [null, 'relu', 'gelu', 'geluTanh'] as const;
  const phi = (s: number): number => {
    // Phi(s) by erfc's continued fraction / series; accurate to ~1e-12 for this test's range.
    const x = -s / Math.SQRT2,
      a = Math.abs(x);
    let erfc: number;
    if (a < 2) {
      let term = a,
        sum = a;
      for (let n = 1; n < 200 && term > 1e-18 * sum; n++) {
        term *= (2 * a * a) / (2 * n + 1);
        sum += term;
      }
      erfc = 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
    } else {
      let f = 0;
      for (let n = 100; n >= 1; n--) f = n / 2 / (a + f);
      erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
    }
    return (x < 0 ? 2 - erfc : erfc) / 2;
  };
  const apply = (act: string | null, s: number): number =>
    act === 'relu'
      ? Math.max(s, 0)
      : act === 'gelu'
        ? s * phi(s)
        : act === 'geluTanh'
          ? 0.5 * s * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (s + 0.044715 * s * s * s)))
          : s;
  for (const [M, K, N] of [
    [37, 70, 45],
    [1, 300, 200],
    [130, 300, 1],
    [3, 1, 2],
  ])
    for (const act of acts) {
      const x = operand(M, K, 'contiguous'),
        w = operand(N, K, pick(LAYOUTS)),
        b = kiln.randn([N]);
      const bv = b.toArray() as number[];
      const wt = new Float64Array(K * N);
      for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) wt[k * N + j] = w.v[j * K + k];
      const { out, mag } = reference(x.v, wt, M, K, N);
      const want = out.map((s, q) => apply(act, s + bv[q % N]));
      const got = kiln.noGrad(() => F.linear(x.t, w.t, b, { activation: act }));
      expectClose(
        got,
        want,
        mag.map((m, q) => m + Math.abs(bv[q % N]) + 1e-6 * Math.abs(out[q])),
        K,
        `${M}x${K}x${N} ${act}`,
      );
    }
});

test('batch broadcasting', () => {
  const cases: [number[], number[]][] = [
    [
      [3, 17, 9],
      [9, 33],
    ],
    [
      [1, 17, 9],
      [4, 9, 33],
    ],
    [
      [2, 1, 5, 40],
      [1, 3, 40, 6],
    ],
    [
      [5, 1, 64],
      [64, 70],
    ],
  ];
  for (const [sa, sb] of cases) {
    const a = kiln.randn(sa),
      b = kiln.randn(sb);
    const c = a.matmul(b);
    const batch = c.shape.slice(0, -2);
    const M = sa[sa.length - 2],
      K = sa[sa.length - 1],
      N = sb[sb.length - 1];
    const nb = batch.reduce((p, s) => p * s, 1);
    const ea = a.expand([...batch, M, K]).contiguous(),
      eb = b.expand([...batch, K, N]).contiguous();
    for (let q = 0; q < nb; q++) {
      const av = Float64Array.from((ea.data() as Float32Array).subarray(q * M * K, (q + 1) * M * K));
      const bv = Float64Array.from((eb.data() as Float32Array).subarray(q * K * N, (q + 1) * K * N));
      const { out, mag } = reference(av, bv, M, K, N);
      const cq = c.reshape([nb, M, N]).select(0, q);
      expectClose(cq, out, mag, K, `${sa} @ ${sb} batch ${q}`);
    }
  }
});

test('bfloat16 and float16: float32 accumulation, one rounding on store', () => {
  for (const dtype of ['bfloat16', 'float16'] as const) {
    const eps = dtype === 'bfloat16' ? 2 ** -8 : 2 ** -11;
    for (const [M, K, N] of [
      [1, 1, 1],
      [5, 7, 9],
      [15, 33, 31],
      [64, 301, 70],
      [130, 1000, 45],
      [1, 64, 300],
    ])
      for (const [la, lb] of [
        ['contiguous', 'contiguous'],
        ['transposed', 'strided'],
      ]) {
        const A = operand(M, K, la),
          B = operand(K, N, lb);
        const a = A.t.to(dtype),
          b = B.t.to(dtype);
        const av = Float64Array.from(a.to('float32').contiguous().data() as Float32Array);
        const bv = Float64Array.from(b.to('float32').contiguous().data() as Float32Array);
        const { out, mag } = reference(av, bv, M, K, N);
        const bias = kiln.randn([N]).to(dtype);
        const biasv = bias.to('float32').toArray() as number[];
        for (const withBias of [false, true]) {
          const got = withBias ? kiln.addmm(bias, a, b) : a.matmul(b);
          assert.is(got.dtype, dtype);
          const g = got.to('float32').data() as Float32Array;
          for (let q = 0; q < out.length; q++) {
            const want = out[q] + (withBias ? biasv[q % N] : 0);
            // One rounding to the output dtype, after float32 accumulation.
            const tol = eps * Math.abs(want) + (K + 4) * 1.2e-7 * mag[q] + 1e-6;
            if (!(Math.abs(g[q] - want) <= tol))
              assert.unreachable(
                `${dtype} ${M}x${K}x${N} ${la}/${lb} bias ${withBias}: element ${q}: got ${g[q]}, want ${want}`,
              );
          }
        }
      }
  }
});

test('non-finite inputs propagate', () => {
  const a = kiln.ones([20, 40]);
  const b = kiln.ones([40, 50]);
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
