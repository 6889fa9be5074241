// logsumexp's fused kernel (ops/logsumexp.ts, arch/rows.inc logsumexp_f32) and the cross-entropy
// forward that runs on it: the same bits for 1, 2 and 3 threads and for a row whatever rows run
// beside it; accuracy against float64 on long and offset rows; PyTorch's answers for rows of
// +-inf and NaN (and cross-entropy's NaN for them, as its log-softmax gives); the composite for
// several dims; gradients through autograd.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { assertSameBitsAcrossThreads } from '../helpers/threads';

const F = kiln.nn.functional;
const bits = (t: kiln.Tensor): number[] =>
  Array.from(new Uint32Array(Float32Array.from(t.data() as Float32Array).buffer));

test('1, 2 and 3 threads give identical bits', () => {
  assertSameBitsAcrossThreads('logsumexp_fingerprint.ts');
});

test("a row's bits do not depend on the rows beside it", () => {
  kiln.manualSeed(3);
  for (const n of [1, 5, 16, 37, 256, 1000, 1025, 2500]) {
    const x = kiln.randn([9, n]).mul(3);
    const all = bits(x.logsumexp(1));
    for (let r = 0; r < 9; r++) {
      const one = bits(x.slice(0, r, r + 1).logsumexp(1));
      assert.is(one[0], all[r], `n ${n} row ${r}`);
    }
    // the same rows as columns of the transpose go through the column path
    const cols = x.t().contiguous().logsumexp(0).toArray() as number[];
    const rows = x.logsumexp(1).toArray() as number[];
    cols.forEach((v, r) =>
      assert.ok(Math.abs(v - rows[r]) <= 4e-7 * Math.max(1, Math.abs(rows[r])), `n ${n} col ${r}`),
    );
  }
});

test('within a few float32 ulps of float64 on long, offset and spread rows', () => {
  kiln.manualSeed(11);
  for (const [n, scale, offset] of [
    [7, 1, 0],
    [300, 4, 0],
    [4096, 2, 0],
    [32768, 3, 0],
    [1000, 0.01, 0.5],
    [513, 20, -1e4],
    [200, 2, 1e4],
  ]) {
    const x = kiln.randn([6, n]).mul(scale).add(offset);
    const got = x.logsumexp(1).toArray() as number[];
    const want = x.to('float64').logsumexp(1).toArray() as number[];
    got.forEach((g, r) => {
      const ulp = 2 ** -23 * Math.max(1, Math.abs(want[r]));
      assert.ok(Math.abs(g - want[r]) <= 4 * ulp, `n ${n} scale ${scale} offset ${offset}: ${g} vs ${want[r]}`);
    });
  }
});

test('+-inf and NaN rows as PyTorch: logsumexp -inf/+inf/NaN, crossEntropy NaN', () => {
  const I = Infinity;
  for (const n of [4, 40]) {
    const pad = (row: number[]) => row.concat(new Array(n - 4).fill(-I));
    const x = kiln.tensor([pad([-I, -I, -I, -I]), pad([1, I, 2, -I]), pad([1, NaN, I, 2]), pad([0, -I, 1, 2])]);
    const l = x.logsumexp(1).toArray() as number[];
    assert.is(l[0], -I);
    assert.is(l[1], I);
    assert.ok(Number.isNaN(l[2]));
    assert.ok(Math.abs(l[3] - Math.log(1 + Math.E + Math.E ** 2)) < 1e-6);
    const ce = F.crossEntropy(x, kiln.tensor([0, 0, 0, 2]), { reduction: 'none' }).toArray() as number[];
    assert.ok(ce.slice(0, 3).every(Number.isNaN), `n ${n}: ${ce}`);
    assert.ok(Math.abs(ce[3] - (l[3] - 1)) < 1e-6);
  }
  assert.equal(kiln.zeros([3, 0]).logsumexp(1).toArray(), [-I, -I, -I]);
  // Columns, read in blocks of rows with a running max: -inf blocks first, a max that grows in
  // every block, a +inf late, a NaN late.
  const n = 100;
  const col = (f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
  const cols = [
    col((i) => (i < 70 ? -I : i - 70)),
    col((i) => i / 10),
    col((i) => (i === 90 ? I : 0)),
    col((i) => (i === 95 ? NaN : 0)),
    col(() => -I),
  ];
  const t = kiln.tensor(Array.from({ length: n }, (_, i) => cols.map((c) => c[i])));
  const got = t.logsumexp(0).toArray() as number[];
  const lse = (c: number[]) => {
    const m = Math.max(...c);
    return m + Math.log(c.reduce((a, v) => a + Math.exp(v - m), 0));
  };
  for (const k of [0, 1])
    assert.ok(Math.abs(got[k] - lse(cols[k])) < 4e-6, `column ${k}: ${got[k]} vs ${lse(cols[k])}`);
  assert.is(got[2], I);
  assert.ok(Number.isNaN(got[3]));
  assert.is(got[4], -I);
});

test('rows whose max lies far past their first vector, +inf, NaN: against float64', () => {
  // First vectors far below the rest (-40, -1e4, -inf), spans just under and over 30 (where an
  // earlier one-pass kernel summed from the first vector's max and redid the row), a +inf and a
  // NaN past the first vector. softmax, logSoftmax, logsumexp and crossEntropy against float64.
  const I = Infinity;
  kiln.manualSeed(5);
  for (const n of [5, 16, 17, 40, 256, 1000, 4100]) {
    const head = Math.min(16, n);
    const rows: number[][] = [];
    const base = () => Array.from(kiln.randn([n]).data() as Float32Array);
    for (const low of [-40, -1e4, -I, -29.5, -30.5]) {
      const r = base().map((v) => Math.min(v, 0.5)); // the max is 0.5: spans of 30 and 31 for -29.5, -30.5
      for (let i = 0; i < head; i++) r[i] = low + (i === 0 ? 0 : -1);
      if (n > head) r[n - 1] = 0.5; // the max, past the first vector
      rows.push(r);
    }
    const spread = base().map((v) => v * 25); // spans past 30 within a row
    rows.push(spread);
    const withInf = base();
    const withNaN = base();
    if (n > head) {
      withInf[n - 1] = I;
      withNaN[n - 1] = NaN;
      rows.push(withInf, withNaN);
    }
    const x = kiln.tensor(rows);
    const x64 = x.to('float64');
    const t = kiln.zeros([rows.length], { dtype: 'int64' }).add(n - 1);
    const pairs: [kiln.Tensor, kiln.Tensor, string][] = [
      [x.softmax(1), x64.softmax(1), 'softmax'],
      [x.logSoftmax(1), x64.logSoftmax(1), 'logSoftmax'],
      [x.logsumexp(1), x64.logsumexp(1), 'logsumexp'],
      [F.crossEntropy(x, t, { reduction: 'none' }), F.crossEntropy(x64, t, { reduction: 'none' }), 'crossEntropy'],
    ];
    const lse64 = Array.from(pairs[2][1].data() as Float64Array);
    for (const [got, want, name] of pairs) {
      const g = Array.from(got.data() as Float32Array),
        w = Array.from(want.data() as Float64Array);
      g.forEach((v, i) => {
        if (Number.isNaN(w[i]) || !Number.isFinite(w[i])) {
          assert.ok(
            Object.is(v, w[i]) || (Number.isNaN(v) && Number.isNaN(w[i])),
            `${name} n ${n} [${i}]: ${v} vs ${w[i]}`,
          );
          return;
        }
        // crossEntropy's lse - x[t] cancels: its error scales with the lse
        const scale = Math.max(1, Math.abs(w[i]), name === 'crossEntropy' ? Math.abs(lse64[i]) : 0);
        // softmax: x - max rounds to 2^-24 of itself, which exp turns into relative error
        const tol =
          name === 'softmax' ? (2e-6 + 2 ** -23 * Math.abs(Math.log(w[i]))) * w[i] + 1e-30 : 8 * 2 ** -23 * scale;
        assert.ok(v === w[i] || Math.abs(v - w[i]) <= tol, `${name} n ${n} [${i}]: ${v} vs ${w[i]}`);
      });
    }
  }
});

test('several dims run the composite; integer inputs give float32; keepdim', () => {
  const x = kiln.randn([3, 4, 5]);
  const two = x.logsumexp([0, 2]).toArray() as number[];
  const step = x.logsumexp(2).logsumexp(0).toArray() as number[];
  two.forEach((v, i) => assert.ok(Math.abs(v - step[i]) < 1e-5));
  const i = kiln.tensor([[1, 2, 3]], { dtype: 'int32' }).logsumexp(1);
  assert.is(i.dtype, 'float32');
  assert.ok(Math.abs((i.toArray() as number[])[0] - Math.log(Math.E + Math.E ** 2 + Math.E ** 3)) < 1e-6);
  assert.equal(x.logsumexp(1, true).shape, [3, 1, 5]);
  assert.equal(x.to('float16').logsumexp(-1).dtype, 'float16');
});

test('gradient: softmax(x) g, and a gradient of the gradient', () => {
  const x = kiln.randn([4, 6], { dtype: 'float64' }).requiresGrad_();
  const g = kiln.randn([4], { dtype: 'float64' });
  const [gx] = kiln.autograd.grad(x.logsumexp(1), [x], { gradOutputs: [g], createGraph: true });
  const want = x.softmax(1).mul(g.unsqueeze(1));
  const d = gx!.sub(want).abs().max().item() as number;
  assert.ok(d < 1e-12, `${d}`);
  const [gg] = kiln.autograd.grad(gx!.sum(), [x]);
  assert.equal(gg!.shape, [4, 6]);
});

test.run();
