// cumsum and cumprod (ts/ops/scan.ts): against plain left-to-right float64 scans on random shapes,
// dims and lengths (1, powers of two and their neighbours), PyTorch's dtypes, zeros in cumprod's
// gradient, gradients by finite differences, no tensor left behind, argument errors. cumsum's
// kernel (native/cpu/scan.cpp): float32 sums are the float64 running sums rounded once, on each of
// its paths (rows in lockstep groups and leftovers, rows cut in pieces, column strips), forward and
// from the end (its gradient).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { settledMemory } from '../helpers/settled';
import { throwsCode } from '../helpers/compare';

/** Left-to-right scan of a float64 copy of x along dim, flattened to a list. */
function refScan(x: kiln.Tensor, dim: number, f: (a: number, b: number) => number): number[] {
  const shape = x.shape.length ? x.shape : [1];
  const d = dim < 0 ? dim + shape.length : dim;
  const v = (x.to('float64').flatten().toArray() as number[]).slice();
  const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
  const n = shape[d];
  for (let o = 0; o < v.length; o += n * inner)
    for (let j = 0; j < inner; j++)
      for (let i = 1; i < n; i++) v[o + i * inner + j] = f(v[o + (i - 1) * inner + j], v[o + i * inner + j]);
  return v;
}

test('cumsum and cumprod match left-to-right scans (random shapes, dims, lengths)', () => {
  kiln.manualSeed(3);
  const lengths = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 64, 100];
  let k = 0;
  for (const n of lengths)
    for (const ndim of [1, 2, 3]) {
      const shape = Array.from({ length: ndim }, (_, i) => (i === k % ndim ? n : 1 + ((k * 7 + i) % 3)));
      const d = k % ndim;
      k++;
      const x = kiln.randn(shape);
      const dim = k % 2 ? d : d - ndim;
      const s = x.cumsum(dim).flatten().toArray() as number[],
        p = kiln.cumprod(x.mul(0.1).add(1), dim).flatten().toArray() as number[];
      const rs = refScan(x, dim, (a, b) => a + b),
        rp = refScan(x.mul(0.1).add(1), dim, (a, b) => a * b);
      s.forEach((v, i) => assert.ok(Math.abs(v - rs[i]) <= 1e-5 * (1 + Math.abs(rs[i])), `cumsum ${shape} dim ${dim}`));
      p.forEach((v, i) =>
        assert.ok(Math.abs(v - rp[i]) <= 1e-5 * (1 + Math.abs(rp[i])), `cumprod ${shape} dim ${dim}`),
      );
      assert.equal(x.cumsum(dim).shape, shape);
    }
});

test("cumsum and cumprod: PyTorch's dtypes, hand-worked values, 0-d, empty, strided input", () => {
  const i = kiln.tensor([1, 2, 3, 4], { dtype: 'int32' });
  assert.equal(i.cumsum(0).dtype, 'int64');
  assert.equal(i.cumsum(0).toArray(), [1, 3, 6, 10]);
  assert.equal(i.cumprod(0).toArray(), [1, 2, 6, 24]);
  assert.equal(kiln.tensor([true, false, true]).cumsum(0).toArray(), [1, 1, 2]);
  assert.equal(i.cumsum(0, { dtype: 'float32' }).dtype, 'float32');
  const h = kiln.tensor([1, 2, 3], { dtype: 'float16' }).cumsum(0);
  assert.equal([h.dtype, h.toArray()], ['float16', [1, 3, 6]]);
  const m = kiln.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.equal(m.cumsum(1).toArray(), [
    [1, 3, 6],
    [4, 9, 15],
  ]);
  assert.equal(m.cumsum(0).toArray(), [
    [1, 2, 3],
    [5, 7, 9],
  ]);
  assert.equal(m.t().cumsum(1).toArray(), [
    [1, 5],
    [2, 7],
    [3, 9],
  ]); // a strided view
  const z = kiln.tensor(5, { dtype: 'float32' }).cumsum(0);
  assert.equal([z.shape, z.item()], [[], 5]);
  assert.equal(kiln.zeros([2, 0]).cumsum(1).shape, [2, 0]);
  const nan = kiln.tensor([1, NaN, 2], { dtype: 'float32' }).cumsum(0).toArray() as number[];
  assert.ok(nan[0] === 1 && Number.isNaN(nan[1]) && Number.isNaN(nan[2]));
});

test('gradients by finite differences, cumprod through zeros; nothing left behind', () => {
  const r = (s: number[]) => kiln.randn(s, { dtype: 'float64' }).requiresGrad_();
  kiln.gradcheck((x) => x.cumsum(1), [r([3, 7])]);
  kiln.gradcheck((x) => x.cumsum(-1).pow(2), [r([2, 3, 5])]);
  kiln.gradcheck((x) => x.cumprod(0), [r([6, 2])]);
  const withZeros = kiln.tensor([0.5, 0, 2, -1, 0, 3], { dtype: 'float64' }).requiresGrad_();
  kiln.gradcheck((x) => x.cumprod(0), [withZeros]);
  // d/dx_j of sum(cumprod(x)) = sum over i >= j of prod_{l <= i, l != j} x_l, by hand on [2, 0, 3]
  const x = kiln.tensor([2, 0, 3], { dtype: 'float64' }).requiresGrad_();
  x.cumprod(0).sum().backward();
  assert.equal(x.grad!.toArray(), [1, 2 + 6, 0]);
  const y = kiln.randn([4, 33]),
    y0 = kiln.tensor(2);
  const before = settledMemory().numTensors;
  y.cumsum(1).dispose();
  y.cumprod(0, { dtype: 'float64' }).dispose();
  y0.cumsum(0).dispose();
  assert.is(kiln.memory().numTensors, before, 'the scans dispose their intermediates');
  y.dispose();
  y0.dispose();
});

/** x's running sums along dim in float64, forward or from the end, flattened. */
function runningSums(x: kiln.Tensor, dim: number, reverse: boolean): number[] {
  const v = x.to('float64').flatten().toArray() as number[];
  const inner = x.shape.slice(dim + 1).reduce((a, b) => a * b, 1),
    n = x.shape[dim];
  const out = v.slice();
  for (let o = 0; o < v.length; o += n * inner)
    for (let j = 0; j < inner; j++) {
      let acc = 0;
      for (let t = 0; t < n; t++) {
        const i = o + (reverse ? n - 1 - t : t) * inner + j;
        acc += v[i];
        out[i] = acc;
      }
    }
  return out;
}

test("cumsum's kernel: float32 sums rounded once from float64, forward and from the end (the gradient), every path", () => {
  kiln.manualSeed(11);
  // [3, 40000]: rows in pieces of 2^14 (the last short); [19, 70]: two lockstep groups of 8 and 3
  // rows left; [5, 300, 3] dim 1: column strips; [2, 600] dim 0: a strip of 256 and a short one
  for (const [shape, dim] of [
    [[3, 40000], 1],
    [[19, 70], 1],
    [[5, 300, 3], 1],
    [[2, 600], 0],
    [[1, 2 ** 15], 1],
  ] as [number[], number][]) {
    const x = kiln.randn(shape).mul(3).add(0.5).requiresGrad_(),
      g = kiln.randn(shape);
    const y = x.cumsum(dim);
    y.backward(g);
    const fwd = y.flatten().toArray() as number[],
      bwd = x.grad!.flatten().toArray() as number[];
    const rf = runningSums(x, dim, false),
      rb = runningSums(g, dim, true);
    // pieces of a long row start from a float64 sum of whole pieces: within an ulp of the
    // left-to-right sum rounded once (exactly it elsewhere)
    const ulp = (v: number) => Math.max(2 ** -149, Math.abs(v) * 2 ** -23);
    fwd.forEach((v, i) => assert.ok(Math.abs(v - Math.fround(rf[i])) <= ulp(rf[i]), `forward ${shape} [${i}]`));
    bwd.forEach((v, i) => assert.ok(Math.abs(v - Math.fround(rb[i])) <= ulp(rb[i]), `backward ${shape} [${i}]`));
    if (shape[dim] < 2 ** 14) {
      assert.equal(fwd, rf.map(Math.fround), `forward ${shape} bit for bit`);
      assert.equal(bwd, rb.map(Math.fround), `backward ${shape} bit for bit`);
    }
  }
  // int64 wraps as PyTorch's; int32 keeps its dtype when asked for
  const big = kiln.tensor([2 ** 62, 2 ** 62, 2 ** 62], { dtype: 'int64' }).cumsum(0);
  assert.equal(big.toArray(), [2 ** 62, -(2 ** 63), -(2 ** 62)]);
  const i32 = kiln.tensor([2 ** 31 - 1, 1, 5], { dtype: 'int32' }).cumsum(0, { dtype: 'int32' });
  assert.equal([i32.dtype, i32.toArray()], ['int32', [2 ** 31 - 1, -(2 ** 31), -(2 ** 31) + 5]]);
  // a second-order gradient goes through the kernel again
  const w = kiln.randn([4, 6], { dtype: 'float64' }).requiresGrad_();
  kiln.gradgradcheck((t: kiln.Tensor) => t.cumsum(1).pow(2), [w]);
});

test('argument errors', () => {
  const x = kiln.randn([2, 3]);
  throwsCode(() => x.cumsum(2), 'ERR_ARG', 'x.cumsum(2)');
  throwsCode(() => x.cumprod(-3), 'ERR_ARG', 'x.cumprod(-3)');
  throwsCode(() => kiln.cumsum(null as unknown as kiln.Tensor, 0), 'ERR_ARG', 'cumsum(null)');
});

test.run();
