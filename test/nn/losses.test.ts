// Losses against float64 references written here from PyTorch's documented formulas, each
// reduction, weights, ignoreIndex and labelSmoothing; gradients by finite differences; errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const F = kiln.nn.functional;
const f64 = (data: number[] | number[][], requiresGrad = false) =>
  kiln.tensor(data, { dtype: 'float64', requiresGrad });
const close = (got: kiln.Tensor, want: number | number[], label: string, tol = 1e-12) => {
  const g = got.toArray() as number | number[];
  const gs = Array.isArray(g) ? (g.flat(Infinity) as number[]) : [g],
    ws = Array.isArray(want) ? want : [want];
  assert.is(gs.length, ws.length, `${label}: length`);
  gs.forEach((v, i) =>
    assert.ok(Math.abs(v - ws[i]) <= tol * (1 + Math.abs(ws[i])), `${label}[${i}]: ${v} vs ${ws[i]}`),
  );
};

const logits = [
  [1.5, -0.3, 0.2],
  [0.1, 2.0, -1.0],
  [-0.5, 0.4, 0.9],
  [3.0, -2.0, 0.5],
];
const labels = [0, 1, 2, 2];
const logSoftmaxRef = (row: number[]) => {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  return row.map((v) => v - lse);
};
const lp = logits.map(logSoftmaxRef);

test('crossEntropy: class indices, reductions, weights, ignoreIndex, labelSmoothing', () => {
  const x = f64(logits),
    y = kiln.tensor(labels);
  const per = labels.map((c, n) => -lp[n][c]);
  close(F.crossEntropy(x, y, { reduction: 'none' }), per, 'none');
  close(
    F.crossEntropy(x, y, { reduction: 'sum' }),
    per.reduce((a, b) => a + b),
    'sum',
  );
  close(F.crossEntropy(x, y), per.reduce((a, b) => a + b) / 4, 'mean');
  const w = [0.2, 1.0, 3.0];
  const wy = labels.map((c) => w[c]);
  close(
    F.crossEntropy(x, y, { weight: f64(w) }),
    per.reduce((s, v, n) => s + v * wy[n], 0) / wy.reduce((a, b) => a + b),
    'weighted mean',
  );
  // ignoreIndex: row 1 does not count, in the loss or the mean's denominator.
  const yi = kiln.tensor([0, -100, 2, 2]);
  close(F.crossEntropy(x, yi), (per[0] + per[2] + per[3]) / 3, 'ignoreIndex mean');
  close(F.crossEntropy(x, yi, { reduction: 'none' }), [per[0], 0, per[2], per[3]], 'ignoreIndex none');
  // Label smoothing e: (1 - e) nll + e / C * sum_c -logp_c.
  const e = 0.1;
  const sm = lp.map((row) => -row.reduce((a, b) => a + b));
  close(
    F.crossEntropy(x, y, { labelSmoothing: e }),
    per.reduce((s, v, n) => s + (1 - e) * v + (e / 3) * sm[n], 0) / 4,
    'labelSmoothing',
  );
  // Smoothing with class weights and an ignored row: both terms over the counted weights.
  const smw = lp.map((row) => -row.reduce((s, v, c) => s + w[c] * v, 0));
  const rows = [0, 2, 3];
  const wsum = rows.reduce((s, n) => s + wy[n], 0);
  close(
    F.crossEntropy(x, yi, { weight: f64(w), labelSmoothing: e }),
    ((1 - e) * rows.reduce((s, n) => s + wy[n] * per[n], 0)) / wsum +
      ((e / 3) * rows.reduce((s, n) => s + smw[n], 0)) / wsum,
    'weights + smoothing + ignore',
  );
});

test('crossEntropy: class probabilities, [N, C, d] inputs, stability at 1e4', () => {
  const probs = [
    [0.7, 0.2, 0.1],
    [0.0, 1.0, 0.0],
    [0.3, 0.3, 0.4],
    [0.5, 0.0, 0.5],
  ];
  const per = probs.map((p, n) => -p.reduce((s, v, c) => s + v * lp[n][c], 0));
  close(F.crossEntropy(f64(logits), f64(probs)), per.reduce((a, b) => a + b) / 4, 'probabilities');
  // [N=2, C=3, d=2]: class dim 1, the loss per (n, d).
  const x3 = kiln.tensor(logits.flat(), { dtype: 'float64' }).reshape([2, 2, 3]).permute([0, 2, 1]).contiguous();
  const y3 = kiln.tensor([
    [0, 1],
    [2, 2],
  ]);
  close(
    F.crossEntropy(x3, y3, { reduction: 'none' }),
    labels.map((c, n) => -lp[n][c]),
    '[N, C, d]',
  );
  const big = kiln.tensor([[1e4, -1e4, 0]]);
  const l = F.crossEntropy(big, kiln.tensor([1]));
  assert.ok(Math.abs((l.item() as number) - 2e4) < 1, `logits of 1e4: ${l.item()}`);
  assert.ok(Number.isFinite(F.crossEntropy(big, kiln.tensor([0])).item() as number));
});

test('crossEntropy: the loss of logits near 1e4 to float32 precision (as PyTorch: (max - x[t]) + log-sum)', () => {
  kiln.manualSeed(11);
  for (const C of [100, 300]) {
    // lse = 1e4 + a few: its float32 rounding alone is 5e-4; the loss is a few units
    const x = kiln.randn([64, C]).mul(2).add(1e4);
    const t = kiln.randint(0, C, [64]);
    const got = F.crossEntropy(x, t, { reduction: 'none' }).toArray() as number[];
    const want = F.crossEntropy(x.to('float64'), t, { reduction: 'none' }).toArray() as number[];
    got.forEach((v, i) =>
      assert.ok(Math.abs(v - want[i]) <= 4e-6 * (1 + Math.abs(want[i])), `C=${C} row ${i}: ${v} vs ${want[i]}`),
    );
  }
});

test('crossEntropy: the gradient of logits near 1e4 to float32 precision, fused or not', () => {
  kiln.manualSeed(12);
  for (const C of [100, 300]) {
    const x = kiln.randn([32, C]).mul(2).add(1e4);
    const t = kiln.randint(0, C, [32]);
    const rowW = kiln.rand([32]);
    const grad = (xs: kiln.Tensor, fused: boolean) => {
      const xg = xs.detach().requiresGrad_();
      // mean: the forward writes the gradient; a weighted sum of 'none' takes the backward kernel
      const l = fused
        ? F.crossEntropy(xg, t)
        : F.crossEntropy(xg, t, { reduction: 'none' }).mul(rowW.to(xs.dtype)).sum();
      l.backward();
      return xg.grad!.flatten().toArray() as number[];
    };
    for (const fused of [true, false]) {
      const got = grad(x, fused),
        want = grad(x.to('float64'), fused);
      const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
      // a float lse's rounding alone was 5e-4 of each softmax term (1 / 32 of it in the mean)
      assert.ok(worst < 2e-7, `C=${C} ${fused ? 'fused' : 'backward kernel'}: worst ${worst}`);
    }
  }
});

test('nllLoss, mse, l1, smoothL1, bce, bce with logits, klDiv', () => {
  const x = f64(lp),
    y = kiln.tensor(labels);
  close(F.nllLoss(x, y), labels.reduce((s, c, n) => s - lp[n][c], 0) / 4, 'nll');
  const a = [0.5, -1.2, 3.0, 0.1],
    b = [0.0, -1.0, 1.0, 0.4];
  const d = a.map((v, i) => v - b[i]);
  close(F.mseLoss(f64(a), f64(b)), d.reduce((s, v) => s + v * v, 0) / 4, 'mse');
  close(
    F.l1Loss(f64(a), f64(b), { reduction: 'sum' }),
    d.reduce((s, v) => s + Math.abs(v), 0),
    'l1',
  );
  const beta = 0.5;
  const hub = d.map((v) => (Math.abs(v) < beta ? (0.5 * v * v) / beta : Math.abs(v) - beta / 2));
  close(F.smoothL1Loss(f64(a), f64(b), { beta, reduction: 'none' }), hub, 'smoothL1');
  const p = [0.9, 0.2, 0.5, 1e-50],
    t = [1, 0, 0.3, 1];
  const bce = p.map((v, i) => -(t[i] * Math.max(Math.log(v), -100) + (1 - t[i]) * Math.max(Math.log1p(-v), -100)));
  close(F.binaryCrossEntropy(f64(p), f64(t), { reduction: 'none' }), bce, 'bce (log clamped at -100)');
  const z = [2.0, -1.0, 0.0, -800],
    pw = 3;
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const bcel = z.map((v, i) => -(pw * t[i] * Math.log(sig(v)) + (1 - t[i]) * Math.log(1 - sig(v))));
  bcel[3] = 800 * pw; // log(sigmoid(-800)) = -800, exactly, where the naive formula gives -inf
  close(
    F.binaryCrossEntropyWithLogits(f64(z), f64(t), { posWeight: f64([pw]), reduction: 'none' }),
    bcel,
    'bce with logits, posWeight',
  );
  const q = [0.1, 0.6, 0.3],
    r = [0.0, 0.5, 0.5];
  const lq = q.map(Math.log);
  const kl = r.map((v, i) => (v > 0 ? v * (Math.log(v) - lq[i]) : 0));
  close(
    F.klDiv(f64(lq), f64(r), { reduction: 'sum' }),
    kl.reduce((s, v) => s + v, 0),
    'klDiv',
  );
  close(
    F.klDiv(f64([lq]), f64([r]), { reduction: 'batchmean' }),
    kl.reduce((s, v) => s + v, 0),
    'klDiv batchmean',
  );
  // logTarget: exp(t) (t - input); a log target of -inf gives NaN, as in PyTorch, so none here.
  const r2 = [0.2, 0.5, 0.3];
  close(
    F.klDiv(f64(lq), f64(r2.map(Math.log)), { reduction: 'sum', logTarget: true }),
    r2.reduce((s, v, i) => s + v * (Math.log(v) - lq[i]), 0),
    'klDiv logTarget',
  );
});

test('gradients by finite differences', () => {
  kiln.manualSeed(9);
  const x = () => kiln.randn([4, 3], { dtype: 'float64' }).requiresGrad_();
  const y = kiln.tensor(labels),
    w = f64([0.3, 1, 2]);
  const pr = kiln.randn([4, 3], { dtype: 'float64' }).softmax(1);
  const checks: [string, (...t: kiln.Tensor[]) => kiln.Tensor, kiln.Tensor[]][] = [
    ['crossEntropy weights + smoothing', (a) => F.crossEntropy(a, y, { weight: w, labelSmoothing: 0.2 }), [x()]],
    ['crossEntropy probabilities', (a) => F.crossEntropy(a, pr), [x()]],
    ['nllLoss', (a) => F.nllLoss(a.logSoftmax(1), y, { reduction: 'sum' }), [x()]],
    ['mse', (a, b) => F.mseLoss(a, b), [x(), x()]],
    ['smoothL1', (a, b) => F.smoothL1Loss(a, b, { beta: 0.7 }), [x(), x()]],
    ['bce', (a) => F.binaryCrossEntropy(a.sigmoid(), pr), [x()]],
    ['bce with logits', (a) => F.binaryCrossEntropyWithLogits(a, pr, { posWeight: f64([2, 1, 0.5]) }), [x()]],
    ['klDiv', (a) => F.klDiv(a.logSoftmax(1), pr, { reduction: 'batchmean' }), [x()]],
  ];
  for (const [label, fn, inputs] of checks) {
    try {
      kiln.gradcheck(fn, inputs);
    } catch (e) {
      assert.unreachable(`${label}: ${(e as Error).message}`);
    }
  }
});

test('loss modules and errors', () => {
  const x = f64(logits),
    y = kiln.tensor(labels);
  const m = new kiln.nn.CrossEntropyLoss({ weight: f64([1, 2, 3]), labelSmoothing: 0.1 });
  close(
    m.forward(x, y),
    F.crossEntropy(x, y, { weight: f64([1, 2, 3]), labelSmoothing: 0.1 }).item() as number,
    'module',
  );
  assert.equal([...m.stateDict().keys()], ['weight']);
  close(new kiln.nn.MSELoss({ reduction: 'sum' }).forward(f64([1, 2]), f64([0, 0])), 5, 'MSELoss');
  const code = (fn: () => unknown, c: string) =>
    assert.throws(fn, (e: kiln.KilnError) => e.code === c, `expected ${c}`);
  code(() => F.crossEntropy(x, kiln.tensor([0, 1, 3, 0])), 'ERR_INDEX');
  code(() => F.crossEntropy(x, kiln.tensor([0, 1, 2])), 'ERR_SHAPE');
  code(() => F.crossEntropy(x, y, { reduction: 'avg' as never }), 'ERR_ARG');
  code(() => F.crossEntropy(x, y, { labelSmoothing: 1.5 }), 'ERR_ARG');
  code(() => F.crossEntropy(x, y, { weight: f64([1, 2]) }), 'ERR_SHAPE');
  code(() => F.nllLoss(x, kiln.tensor([0.5, 1, 1, 1])), 'ERR_DTYPE');
  code(() => F.mseLoss(f64([1, 2]), f64([1])), 'ERR_SHAPE');
  code(() => F.smoothL1Loss(f64([1]), f64([1]), { beta: -1 }), 'ERR_ARG');
});

test('binaryCrossEntropyWithLogits (fused): second derivatives, float32 against float64, mixed dtypes', () => {
  kiln.manualSeed(4);
  const x = kiln.randn([6, 5], { dtype: 'float64' }).mul(4),
    t = kiln.rand([6, 5], { dtype: 'float64' }),
    pw = kiln.rand([5], { dtype: 'float64' }).add(0.5),
    w = kiln.rand([6, 1], { dtype: 'float64' }).add(0.5);
  // createGraph: the input's gradient written with ops, differentiable again
  kiln.gradgradcheck(
    (a, b) => F.binaryCrossEntropyWithLogits(a, b, { posWeight: pw, weight: w }),
    [x.detach().requiresGrad_(), t.detach().requiresGrad_()],
  );
  // logits exactly 0: the target's gradient uses softplus(-x), whose derivative there is -1/2
  kiln.gradgradcheck(
    (a, b) => F.binaryCrossEntropyWithLogits(a, b, { posWeight: pw.narrow(0, 0, 3) }),
    [
      kiln.tensor([0, 0, 1.5], { dtype: 'float64' }).requiresGrad_(),
      kiln.tensor([0.25, 0.5, 1], { dtype: 'float64' }).requiresGrad_(),
    ],
  );
  // float32 (the ISA's rows) against float64, losses and the input's gradient, each reduction
  for (const reduction of ['none', 'mean', 'sum'] as const) {
    const run = (dtype: kiln.DType) => {
      const xi = x.to(dtype).requiresGrad_();
      const l = F.binaryCrossEntropyWithLogits(xi, t.to(dtype), {
        posWeight: pw.to(dtype),
        weight: w.to(dtype),
        reduction,
      });
      (reduction === 'none' ? l.sum() : l).backward();
      return [l.to('float64'), xi.grad!.to('float64')];
    };
    const [l64, g64] = run('float64'),
      [l32, g32] = run('float32');
    const err = (a: kiln.Tensor, b: kiln.Tensor) => a.sub(b).abs().max().item() as number;
    assert.ok(err(l32, l64) < 1e-5 * Math.max(1, l64.abs().max().item() as number), `${reduction}: loss`);
    assert.ok(err(g32, g64) < 1e-6, `${reduction}: gradient off by ${err(g32, g64)}`);
  }
  // a float32 input with float64 targets: the ops' type promotion, a float64 loss
  const mixed = F.binaryCrossEntropyWithLogits(x.to('float32'), t);
  assert.is(mixed.dtype, 'float64');
  const fused = F.binaryCrossEntropyWithLogits(x.to('float32'), t.to('float32'));
  assert.ok(Math.abs((mixed.item() as number) - (fused.item() as number)) < 1e-5);
});

test.run();
