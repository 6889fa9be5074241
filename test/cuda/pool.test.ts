// Pooling on CUDA against the CPU backend: max pooling (values and indices, NaNs, ties, padding,
// dilation, ceil mode), average pooling (countIncludePad, divisorOverride) and adaptive average
// pooling, forward and gradients, float32 and float64. The CUDA kernels sum in the CPU's order,
// so forward results and the average poolings' gradients are expected bit for bit; max pooling's
// gradient is a scatter-add (atomics on the GPU), exact where windows do not overlap.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const F = kiln.nn.functional;

if (!kiln.cuda.isAvailable()) {
  console.log(
    `cuda pooling tests: skipped (${
      kiln.cuda.isCompiled()
        ? 'the CUDA build is loaded, but no CUDA device is visible'
        : 'this build has no CUDA backend'
    })`,
  );
} else {
  const flat = (t: kiln.Tensor) => Array.from(t.cpu().contiguous().data() as ArrayLike<number | bigint>, Number);
  const same = (got: kiln.Tensor, want: kiln.Tensor, label: string, tol = 0) => {
    const a = flat(got),
      b = flat(want);
    assert.is(a.length, b.length, label);
    for (let i = 0; i < a.length; i++) {
      const ok = Number.isNaN(b[i]) ? Number.isNaN(a[i]) : Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i]));
      if (!ok) assert.unreachable(`${label}: element ${i}: cuda ${a[i]}, cpu ${b[i]}`);
    }
  };
  type Opts = {
    stride?: [number, number];
    padding?: [number, number];
    dilation?: [number, number];
    ceilMode?: boolean;
  };
  const CFGS: [number[], [number, number], Opts][] = [
    [[2, 3, 8, 8], [2, 2], {}],
    [[2, 3, 9, 11], [2, 2], { ceilMode: true }],
    [[1, 2, 9, 11], [3, 3], { stride: [2, 2], padding: [1, 1], ceilMode: true }],
    [[2, 2, 7, 6], [3, 2], { stride: [1, 2], padding: [1, 1] }],
    [[1, 3, 10, 9], [2, 3], { stride: [1, 1], padding: [0, 1], dilation: [2, 2] }],
    [[3, 4, 33, 64], [3, 3], { stride: [2, 2], padding: [1, 1] }],
  ];

  for (const dtype of ['float32', 'float64'] as const) {
    test(`maxPool2dWithIndices on cuda equals the cpu (${dtype})`, () => {
      kiln.manualSeed(3);
      for (const [shape, k, o] of CFGS)
        for (const kind of ['normal', 'ties', 'nans']) {
          let x = kiln.randn(shape, { dtype });
          if (kind === 'ties') x = x.mul(2).round();
          if (kind === 'nans') x = kiln.where(kiln.rand(shape).lt(0.1), NaN, x);
          const label = `${shape} k${k} ${JSON.stringify(o)} ${kind}`;
          const [yc, ic] = F.maxPool2dWithIndices(x, k, o);
          const [yg, ig] = F.maxPool2dWithIndices(x.cuda(), k, o);
          assert.is(yg.device, 'cuda:0');
          same(yg, yc, `${label} values`);
          same(ig, ic, `${label} indices`);
        }
    });

    // The gradient is ts/ops/pool.ts's scatter-add into zeros([N, C, H * W]), made without a
    // device: on the default device (cpu), so on cuda this throws ERR_DEVICE until pool.ts makes
    // them on g.device (gather's gradient in ts/ops/indexing.ts has the same pattern).
    test(`maxPool2d gradient on cuda equals the cpu (${dtype})`, () => {
      kiln.manualSeed(4);
      for (const [shape, k, o] of CFGS) {
        const x = kiln.randn(shape, { dtype });
        const label = `${shape} k${k} ${JSON.stringify(o)}`;
        const xc = x.clone().requiresGrad_(),
          xg = x.cuda().requiresGrad_();
        const yc = F.maxPool2d(xc, k, o);
        const w = kiln.randn([...yc.shape], { dtype });
        yc.mul(w).sum().backward();
        F.maxPool2d(xg, k, o).mul(w.cuda()).sum().backward();
        // Overlapping windows add in an unspecified order on the GPU (scatter-add with atomics).
        same(xg.grad!, xc.grad!, `${label} gradient`, dtype === 'float32' ? 1e-6 : 1e-14);
      }
    });

    test(`avgPool2d and adaptiveAvgPool2d on cuda equal the cpu bit for bit, gradients too (${dtype})`, () => {
      kiln.manualSeed(5);
      for (const [shape, k, o] of CFGS) {
        if (o.dilation) continue;
        for (const extra of [{}, { countIncludePad: false }, { divisorOverride: 3 }]) {
          const x = kiln.randn(shape, { dtype });
          const label = `${shape} k${k} ${JSON.stringify({ ...o, ...extra })}`;
          const xc = x.clone().requiresGrad_(),
            xg = x.cuda().requiresGrad_();
          const yc = F.avgPool2d(xc, k, { ...o, ...extra }),
            yg = F.avgPool2d(xg, k, { ...o, ...extra });
          same(yg, yc, label);
          const w = kiln.randn([...yc.shape], { dtype });
          yc.mul(w).sum().backward();
          yg.mul(w.cuda()).sum().backward();
          same(xg.grad!, xc.grad!, `${label} gradient`);
        }
      }
      for (const [shape, out] of [
        [
          [2, 3, 10, 9],
          [3, 4],
        ],
        [
          [1, 2, 5, 3],
          [8, 7],
        ],
        [
          [2, 2, 64, 48],
          [7, 7],
        ],
        [
          [1, 1, 13, 1],
          [5, 1],
        ],
      ] as [number[], [number, number]][]) {
        const x = kiln.randn(shape, { dtype });
        const xc = x.clone().requiresGrad_(),
          xg = x.cuda().requiresGrad_();
        const yc = F.adaptiveAvgPool2d(xc, out),
          yg = F.adaptiveAvgPool2d(xg, out);
        same(yg, yc, `adaptive ${shape} -> ${out}`);
        const w = kiln.randn([...yc.shape], { dtype });
        yc.mul(w).sum().backward();
        yg.mul(w.cuda()).sum().backward();
        same(xg.grad!, xc.grad!, `adaptive ${shape} -> ${out} gradient`);
      }
    });
  }

  test('pooling a non-contiguous and a float16 cuda tensor (converted like on the cpu)', () => {
    const x = kiln.randn([2, 3, 8, 10]);
    const t = x.transpose(2, 3);
    same(F.maxPool2d(t.cuda(), [2, 2]), F.maxPool2d(t, [2, 2]), 'transposed max');
    same(
      F.avgPool2d(t.cuda(), [3, 3], { stride: [2, 2] }),
      F.avgPool2d(t, [3, 3], { stride: [2, 2] }),
      'transposed avg',
    );
    const h = x.to('float16');
    const g = F.avgPool2d(h.cuda(), [2, 2]);
    assert.is(g.dtype, 'float16');
    same(g, F.avgPool2d(h, [2, 2]), 'float16 avg');
  });
}

test.run();
