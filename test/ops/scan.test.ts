// cumsum and cumprod (ts/ops/scan.ts): against plain left-to-right float64 scans on random shapes,
// dims and lengths (1, powers of two and their neighbours), PyTorch's dtypes, zeros in cumprod's
// gradient, gradients by finite differences, no tensor left behind, argument errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
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
  const before = kiln.memory().numTensors;
  y.cumsum(1).dispose();
  y.cumprod(0, { dtype: 'float64' }).dispose();
  y0.cumsum(0).dispose();
  assert.is(kiln.memory().numTensors, before, 'the scans dispose their intermediates');
  y.dispose();
  y0.dispose();
});

test('argument errors', () => {
  const x = kiln.randn([2, 3]);
  throwsCode(() => x.cumsum(2), 'ERR_ARG', 'x.cumsum(2)');
  throwsCode(() => x.cumprod(-3), 'ERR_ARG', 'x.cumprod(-3)');
  throwsCode(() => kiln.cumsum(null as unknown as kiln.Tensor, 0), 'ERR_ARG', 'cumsum(null)');
});

test.run();
