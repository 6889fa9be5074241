// crossEntropy on [N, C, d...] float32 logits with index targets (cross_entropy.cpp forward_cols:
// the columns read in place, the class dim down the rows, no permuted copy): losses, reductions,
// weights and ignoreIndex against the [N d, C] rows path and float64; the fused training gradient
// (in the input's own layout), the backward of other incoming gradients and createGraph; logits
// of 1e4; the kernel's errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { settledMemory } from '../helpers/settled';
import { runKernel } from '../../ts/dispatch';
import { OP } from '../../ts/ops/op_ids.gen';
import { throwsCode } from '../helpers/compare';

const F = kiln.nn.functional;
const num = (t: kiln.Tensor): number[] => Array.from(t.contiguous().data() as ArrayLike<number>);
function worst(a: number[], b: number[], floor: number): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i]) !== Number.isNaN(a[i])) return Infinity;
    if (!Number.isNaN(b[i])) w = Math.max(w, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + floor));
  }
  return w;
}

/** [N, C, ...spatial] logits and targets with about a sixth of them -100 (ignored). */
function sample(shape: number[], scale = 3): { x: kiln.Tensor; t: kiln.Tensor } {
  const C = shape[1];
  const x = kiln.randn(shape).mul(scale);
  const tshape = [shape[0], ...shape.slice(2)];
  const t = kiln.randint(0, C, tshape).where(kiln.rand(tshape).gt(1 / 6), -100);
  return { x, t };
}

// C across the 8-row blocks, the spatial size across the vectors and the 256-column groups
const shapes = [
  [2, 1, 5],
  [3, 3, 17],
  [2, 19, 16, 20],
  [1, 64, 300],
  [2, 9, 5, 7, 11],
  [1, 200, 40],
  [4, 6, 1, 1], // positions fewer than a vector: the rows path
];

test('losses match the rows path and float64, every reduction, with and without weights', () => {
  kiln.manualSeed(1);
  for (const shape of shapes) {
    const { x, t } = sample(shape);
    const C = shape[1];
    const perm = [0, ...shape.slice(2).map((_, i) => i + 2), 1];
    const rows = x.permute(perm).reshape([-1, C]),
      trows = t.reshape([-1]);
    for (const weight of [undefined, kiln.rand([C]).add(0.5)])
      for (const reduction of ['none', 'mean', 'sum'] as const) {
        const opts = { weight, reduction };
        const got = num(F.crossEntropy(x, t, opts));
        const viaRows = num(F.crossEntropy(rows, trows, opts));
        const f64 = num(F.crossEntropy(x.to('float64'), t, { weight: weight?.to('float64'), reduction }));
        const label = `[${shape}] ${reduction} weight ${!!weight}`;
        assert.ok(worst(got, viaRows, 1) < 2e-6, `${label} vs rows: ${worst(got, viaRows, 1)}`);
        assert.ok(worst(got, f64, 1) < 2e-6, `${label} vs float64: ${worst(got, f64, 1)}`);
      }
  }
});

test('the fused training gradient, in the input layout, against float64', () => {
  kiln.manualSeed(2);
  for (const shape of shapes)
    for (const reduction of ['mean', 'sum'] as const) {
      const { x, t } = sample(shape);
      const C = shape[1];
      const weight = kiln.rand([C]).add(0.5);
      const xg = x.clone().requiresGrad_();
      F.crossEntropy(xg, t, { weight, reduction }).backward();
      const x64 = x.to('float64').requiresGrad_();
      F.crossEntropy(x64, t, { weight: weight.to('float64'), reduction }).backward();
      assert.equal(xg.grad!.shape, shape);
      const g = num(xg.grad!),
        g64 = num(x64.grad!);
      const big = Math.max(1e-30, ...g64.map(Math.abs));
      assert.ok(worst(g, g64, big) < 2e-6, `[${shape}] ${reduction}: ${worst(g, g64, big)}`);
      // ignored targets' columns are exactly 0
      const tv = num(t),
        inner = shape.slice(2).reduce((a, b) => a * b, 1);
      tv.forEach((v, r) => {
        if (v !== -100) return;
        const n = Math.floor(r / inner),
          j = r % inner;
        for (let c = 0; c < C; c++) assert.is(g[(n * C + c) * inner + j], 0, `[${shape}] ignored row ${r}`);
      });
    }
});

test('other incoming gradients and createGraph take the rows path and come back in the input layout', () => {
  kiln.manualSeed(3);
  const shape = [2, 7, 6, 5];
  const { x, t } = sample(shape);
  const gl = kiln.randn([2, 6, 5]);
  const xg = x.clone().requiresGrad_();
  F.crossEntropy(xg, t, { reduction: 'none' }).backward(gl);
  const x64 = x.to('float64').requiresGrad_();
  F.crossEntropy(x64, t, { reduction: 'none' }).backward(gl.to('float64'));
  const big = Math.max(...num(x64.grad!).map(Math.abs));
  assert.ok(worst(num(xg.grad!), num(x64.grad!), big) < 2e-6, 'none, backward(g)');
  // createGraph: the gradient differentiates (d/dx of sum(dx^2)) as float64's does
  const xc = x.clone().requiresGrad_();
  const [dx] = kiln.autograd.grad(F.crossEntropy(xc, t), [xc], { createGraph: true });
  assert.ok(dx!.requiresGrad, 'differentiable');
  const [ddx] = kiln.autograd.grad(dx!.square().sum(), [xc]);
  const xd = x.to('float64').requiresGrad_();
  const [dx64] = kiln.autograd.grad(F.crossEntropy(xd, t), [xd], { createGraph: true });
  const [ddx64] = kiln.autograd.grad(dx64!.square().sum(), [xd]);
  const b2 = Math.max(...num(ddx64!).map(Math.abs));
  assert.ok(worst(num(ddx!), num(ddx64!), b2) < 1e-5, `double backward: ${worst(num(ddx!), num(ddx64!), b2)}`);
});

test('logits of 1e4 keep their differences; a column of +inf or NaN gives NaN as the rows do', () => {
  kiln.manualSeed(4);
  const { x, t } = sample([2, 5, 40], 1);
  const xb = x.add(1e4);
  const got = num(F.crossEntropy(xb, t, { reduction: 'none' })),
    f64 = num(F.crossEntropy(xb.to('float64'), t, { reduction: 'none' }));
  assert.ok(worst(got, f64, 1) < 4e-6, `1e4: ${worst(got, f64, 1)}`);
  const v = num(x);
  v[1 * 40 + 3] = Infinity; // image 0, class 1, column 3
  v[2 * 40 + 7] = NaN; // image 0, class 2, column 7
  const xs = kiln.tensor(v).reshape([2, 5, 40]);
  const tt = kiln.zeros([2, 40], { dtype: 'int64' });
  const a = num(F.crossEntropy(xs, tt, { reduction: 'none' })),
    b = num(F.crossEntropy(xs.permute([0, 2, 1]).reshape([-1, 5]), tt.reshape([-1]), { reduction: 'none' }));
  assert.ok(Number.isNaN(a[3]) && Number.isNaN(a[7]), 'the +inf and NaN columns');
  assert.ok(worst(a, b, 1) < 2e-6, 'the rest as the rows path');
  // the fused gradient: NaN down those two columns, elsewhere as the rows path's
  const xa = xs.clone().requiresGrad_(),
    xr = xs.permute([0, 2, 1]).reshape([-1, 5]).contiguous().requiresGrad_();
  F.crossEntropy(xa, tt).backward();
  F.crossEntropy(xr, tt.reshape([-1])).backward();
  const ga = num(xa.grad!),
    gr = num(xr.grad!.reshape([2, 40, 5]).permute([0, 2, 1]));
  for (const j of [3, 7]) for (let c = 0; c < 5; c++) assert.ok(Number.isNaN(ga[c * 40 + j]), `column ${j} class ${c}`);
  assert.ok(worst(ga, gr, 1e-3) < 2e-6, 'the other columns as the rows path');
  // the NaN column's target ignored: its loss and gradient are 0, the +inf column's still NaN
  const ti = kiln
    .tensor(
      num(tt).map((v, r) => (r === 7 ? -100 : v)),
      { dtype: 'int64' },
    )
    .reshape([2, 40]);
  assert.is(num(F.crossEntropy(xs, ti, { reduction: 'none' }))[7], 0, 'ignored NaN column: loss');
  const xi = xs.clone().requiresGrad_();
  F.crossEntropy(xi, ti, { reduction: 'sum' }).backward();
  const gi = num(xi.grad!);
  for (let c = 0; c < 5; c++) {
    assert.is(gi[c * 40 + 7], 0, `ignored NaN column, class ${c}`);
    assert.ok(Number.isNaN(gi[c * 40 + 3]), `+inf column, class ${c}`);
  }
});

test('float16 logits and strided views', () => {
  kiln.manualSeed(5);
  const { x, t } = sample([2, 7, 40]);
  const h = x.to('float16');
  const l = F.crossEntropy(h, t, { reduction: 'none' });
  assert.is(l.dtype, 'float16');
  const got = num(l.to('float32')),
    want = num(F.crossEntropy(h.to('float64'), t, { reduction: 'none' }));
  assert.ok(worst(got, want, 1) < 1e-3, `float16 (its own rounding, 2^-11): ${worst(got, want, 1)}`);
  // [2, 40, 7] logits seen as [2, 7, 40] (classes last in memory): the rows path, no copy needed
  const v = x.permute([0, 2, 1]).contiguous().permute([0, 2, 1]);
  const a = num(F.crossEntropy(v, t, { reduction: 'none' })),
    b = num(F.crossEntropy(v.to('float64'), t, { reduction: 'none' }));
  assert.ok(worst(a, b, 1) < 2e-6, `strided: ${worst(a, b, 1)}`);
});

test('a target out of range in training frees what the forward made', () => {
  const x = kiln.randn([2, 4, 20]).requiresGrad_();
  const t = kiln.zeros([2, 20], { dtype: 'int64' }).add(7); // 7 of 4 classes
  const before = settledMemory().numTensors;
  throwsCode(() => kiln.scope(() => F.crossEntropy(x, t)), 'ERR_INDEX', 'training forward');
  assert.is(kiln.memory().numTensors, before);
});

test('errors: a target out of range names its row; the kernel refuses what only rows take', () => {
  const x = kiln.randn([2, 4, 10]);
  const t = kiln.zeros([2, 10], { dtype: 'int64' });
  const bad = num(t);
  bad[13] = 4;
  const tb = kiln.tensor(bad, { dtype: 'int64' }).reshape([2, 10]);
  throwsCode(() => F.crossEntropy(x, tb), 'ERR_INDEX', 'target 4 of 4 classes');
  try {
    F.crossEntropy(x, tb);
  } catch (e) {
    assert.match((e as Error).message, 'row 13');
  }
  const f32 = (n: number[]) => kiln.empty(n),
    f64 = (n: number[]) => kiln.empty(n, { dtype: 'float64' });
  const out = (gx: kiln.Tensor = f32([0])) => [f32([20]), f64([20]), f32([20]), gx];
  const t1 = t.reshape([-1]);
  runKernel(OP.CROSS_ENTROPY, out(), [x, t1, f32([0])], [-100, 0, 0]); // the kernel's own form works
  throwsCode(() => runKernel(OP.CROSS_ENTROPY, out(), [x, t1, f32([0])], [-100, 0.1, 0]), 'ERR_ARG', 'smoothing');
  const xt = kiln.randn([2, 10, 4]).permute([0, 2, 1]); // [2, 4, 10], not contiguous
  throwsCode(() => runKernel(OP.CROSS_ENTROPY, out(), [xt, t1, f32([0])], [-100, 0, 0]), 'ERR_SHAPE', 'strided');
  const p = kiln.rand([2, 4, 10]);
  throwsCode(() => runKernel(OP.CROSS_ENTROPY, out(), [x, p, f32([0])], [-100, 0, 0]), 'ERR_ARG', 'probabilities');
  const o64 = [f64([20]), f64([20]), f64([20]), f64([0])];
  throwsCode(
    () => runKernel(OP.CROSS_ENTROPY, o64, [x.to('float64'), t1, f64([0])], [-100, 0, 0]),
    'ERR_DTYPE',
    'float64',
  );
  throwsCode(
    () => runKernel(OP.CROSS_ENTROPY, out(f32([2, 4, 9])), [x, t1, f32([0])], [-100, 0, 1]),
    'ERR_SHAPE',
    'gx',
  );
  // more classes than a float holds row indices exactly (shape only: the check refuses it first)
  const huge = {
    _storage: x._storage,
    _offset: 0,
    dtype: 'float32',
    _shape: [1, 2 ** 24 + 1, 16],
    _strides: [(2 ** 24 + 1) * 16, 16, 1],
  } as unknown as kiln.Tensor;
  throwsCode(() => runKernel(OP.CROSS_ENTROPY, out(), [huge, t1, f32([0])], [-100, 0, 0]), 'ERR_ARG', '2^24 + 1');
  throwsCode(
    () =>
      runKernel(OP.CROSS_ENTROPY_BACKWARD, [f32([2, 4, 10])], [x, t1, f32([0]), f64([20]), kiln.ones([20])], [-100, 0]),
    'ERR_SHAPE',
    'the backward takes rows',
  );
});

test('the saved lse: [0] where no backward can come (the same losses); any other length, and [0] in the backward, refused', () => {
  kiln.manualSeed(11);
  const f32 = (n: number[]) => kiln.empty(n),
    f64 = (n: number[]) => kiln.empty(n, { dtype: 'float64' });
  // [N, C, d] (forward_cols) and [rows, C] (the row path)
  for (const x of [kiln.randn([2, 4, 10]), kiln.randn([20, 7])]) {
    const t = kiln.randint(0, x.shape[1], [20]);
    const full = [f32([20]), f64([20]), f32([20]), f32([0])],
      bare = [f32([20]), f64([0]), f32([20]), f32([0])];
    runKernel(OP.CROSS_ENTROPY, full, [x, t, f32([0])], [-100, 0, 0]);
    runKernel(OP.CROSS_ENTROPY, bare, [x, t, f32([0])], [-100, 0, 0]);
    assert.equal(num(bare[0]), num(full[0]));
    assert.equal(num(bare[2]), num(full[2]));
    assert.ok(
      num(full[1]).every((v) => Number.isFinite(v) && v !== 0),
      'the full one holds every lse',
    );
    throwsCode(
      () => runKernel(OP.CROSS_ENTROPY, [f32([20]), f64([19]), f32([20]), f32([0])], [x, t, f32([0])], [-100, 0, 0]),
      'ERR_SHAPE',
      'an lse of 19 rows',
    );
    if (x.ndim === 2)
      throwsCode(
        () =>
          runKernel(OP.CROSS_ENTROPY_BACKWARD, [f32([20, 7])], [x, t, f32([0]), f64([0]), kiln.ones([20])], [-100, 0]),
        'ERR_SHAPE',
        'the backward needs the lse',
      );
    // through the API: without a gradient (no lse kept) the loss of the training forward, to its
    // rounding (that one sums the exps its gradient writes: another polynomial, not the same bits)
    const plain = F.crossEntropy(x, t.reshape(x.ndim === 3 ? [2, 10] : [20])).item() as number,
      xg = x.detach().requiresGrad_();
    const l = F.crossEntropy(xg, t.reshape(x.ndim === 3 ? [2, 10] : [20]));
    assert.ok(Math.abs((l.item() as number) - plain) <= 4e-7 * plain, `${l.item()} against ${plain}`);
    l.backward();
    assert.ok(xg.grad !== null && num(xg.grad).every(Number.isFinite));
  }
});

test.run();
