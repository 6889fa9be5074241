// float64 convolution (im2col and the float64 GEMM, native/cpu/conv_f64.cpp): forward and both gradients
// against the float32 paths (independent kernels: Winograd, implicit GEMM, depthwise, pointwise) on
// strides, padding, dilation and groups, pixel blocks that split an output row, finite differences, and
// the edges.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const F = kiln.nn.functional;

interface Geo {
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
}

/** y, dx, dw of sum(conv2d(x, w) * gy) in the dtype of x. */
function run(x: kiln.Tensor, w: kiln.Tensor, gy: kiln.Tensor, g: Geo) {
  const xs = x.detach().requiresGrad_(),
    ws = w.detach().requiresGrad_();
  const y = F.conv2d(xs, ws, null, g);
  y.mul(gy.to(y.dtype)).sum().backward();
  return { y: y.detach(), dx: xs.grad!, dw: ws.grad! };
}

/** max |a - b| relative to max |b|. */
function rel(a: kiln.Tensor, b: kiln.Tensor): number {
  const d = a.to('float64').sub(b.to('float64')).abs().max().item() as number;
  return d / Math.max(b.to('float64').abs().max().item() as number, 1e-300);
}

test('float64 conv2d, grad input and grad weight agree with the float32 kernels', () => {
  kiln.manualSeed(64);
  const cases: [number[], number[], Geo][] = [
    [[2, 16, 12, 12], [16, 16, 3, 3], { stride: 1, padding: 1, dilation: 1, groups: 1 }],
    [[2, 6, 11, 9], [4, 3, 3, 3], { stride: 2, padding: 1, dilation: 1, groups: 2 }],
    [[1, 4, 13, 10], [6, 4, 5, 3], { stride: 3, padding: 2, dilation: 2, groups: 1 }],
    [[3, 8, 7, 7], [8, 1, 3, 3], { stride: 1, padding: 1, dilation: 1, groups: 8 }],
    [[2, 12, 6, 8], [10, 12, 1, 1], { stride: 1, padding: 0, dilation: 1, groups: 1 }],
    [[1, 3, 5, 5], [2, 3, 7, 7], { stride: 1, padding: 3, dilation: 1, groups: 1 }],
    // CRS = 576: pixel blocks of 1820 split the 2500 output pixels mid-row
    [[1, 64, 50, 50], [4, 64, 3, 3], { stride: 1, padding: 1, dilation: 1, groups: 1 }],
  ];
  for (const [xs, wsh, g] of cases) {
    const x = kiln.randn(xs, { dtype: 'float64' }),
      w = kiln.randn(wsh, { dtype: 'float64' });
    const y64 = F.conv2d(x, w, null, g);
    const gy = kiln.randn([...y64.shape], { dtype: 'float64' });
    const a = run(x, w, gy, g),
      b = run(x.float(), w.float(), gy.float(), g);
    const label = `x [${xs}] w [${wsh}] ${JSON.stringify(g)}`;
    for (const key of ['y', 'dx', 'dw'] as const) {
      assert.is(a[key].dtype, 'float64', `${label} ${key}: dtype`);
      const r = rel(a[key], b[key]);
      assert.ok(r < 5e-5, `${label} ${key}: float64 vs float32 ${r}`);
    }
  }
});

test('float64 conv2d gradients by finite differences: dilation, stride 3, 1x1, groups with bias', () => {
  kiln.manualSeed(65);
  const r = (s: number[]) => kiln.randn(s, { dtype: 'float64' }).requiresGrad_();
  const cases: [string, (...t: kiln.Tensor[]) => kiln.Tensor, kiln.Tensor[]][] = [
    ['dilated', (x, w) => F.conv2d(x, w, null, { padding: 2, dilation: 2 }), [r([1, 2, 6, 5]), r([3, 2, 3, 3])]],
    ['stride 3', (x, w) => F.conv2d(x, w, null, { stride: 3, padding: 1 }), [r([2, 2, 7, 8]), r([2, 2, 3, 2])]],
    ['1x1', (x, w) => F.conv2d(x, w), [r([2, 3, 4, 4]), r([2, 3, 1, 1])]],
    [
      'groups, bias',
      (x, w, b) => F.conv2d(x, w, b, { padding: 1, groups: 3 }),
      [r([1, 6, 4, 5]), r([3, 2, 3, 3]), r([3])],
    ],
  ];
  for (const [label, fn, inputs] of cases) {
    try {
      kiln.gradcheck(fn, inputs);
    } catch (e) {
      assert.unreachable(`${label}: ${(e as Error).message}`);
    }
  }
});

test('float64 conv2d: an empty batch, and a kernel as large as the image (one output pixel)', () => {
  const w = kiln.randn([3, 2, 3, 3], { dtype: 'float64' });
  assert.equal(F.conv2d(kiln.randn([0, 2, 5, 5], { dtype: 'float64' }), w).shape, [0, 3, 3, 3]);
  const x = kiln.randn([2, 2, 3, 3], { dtype: 'float64' });
  const y = F.conv2d(x, w).reshape([2, 3]).toArray() as number[][];
  const xv = x.reshape([2, 18]).toArray() as number[][];
  const wv = w.reshape([3, 18]).toArray() as number[][];
  for (let n = 0; n < 2; n++)
    for (let k = 0; k < 3; k++) {
      const want = xv[n].reduce((s, v, i) => s + v * wv[k][i], 0);
      assert.ok(Math.abs(y[n][k] - want) < 1e-12, `y[${n}, ${k}] = ${y[n][k]}, want ${want}`);
    }
});

test.run();
