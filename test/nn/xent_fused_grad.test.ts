// crossEntropy's gradient written by its forward (a CPU input that needs a gradient, a mean or a
// sum): loss.backward() hands it over, the gradient the backward kernel computes for the same
// incoming gradient (bit for bit in float64; float32 takes it from the forward's own exps, to a few
// ulp of the row's largest element); any other incoming gradient, a second pass (retainGraph) and createGraph
// compute it as before; nothing is left behind, used or not; a scope ending around the forward does
// not free it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { settledMemory } from '../helpers/settled';

const F = kiln.nn.functional;

/** The logits' gradient of loss(x) through reduction 'none' and a mean or sum written after it (no fused gradient). */
function unfused(
  x: kiln.Tensor,
  t: kiln.Tensor,
  opts: kiln.nn.CrossEntropyOptions,
  denom: kiln.Tensor | number | null,
): number[] {
  const xg = x.detach().requiresGrad_();
  const per = F.crossEntropy(xg, t, { ...opts, reduction: 'none' });
  const s = per.sum();
  (denom === null ? s : s.div(denom)).backward();
  return xg.grad!.flatten().toArray() as number[];
}

test('the forward-written gradient is the backward kernel gradient (float64 bit for bit)', () => {
  kiln.manualSeed(5);
  for (const dtype of ['float32', 'float64'] as const)
    for (const [rows, C] of [
      [37, 256],
      [5, 4099],
      [1, 3],
    ]) {
      const x = kiln.randn([rows, C], { dtype }).mul(3);
      const t = kiln.randint(0, C, [rows]);
      if (rows > 2) t.narrow(0, 1, 1).fill_(-100); // an ignored row
      const w = kiln.rand([C], { dtype }).add(0.5);
      const probs = kiln.softmax(kiln.randn([rows, C], { dtype }), 1);
      const keep = t.ne(-100);
      const cases: [string, kiln.Tensor, kiln.nn.CrossEntropyOptions, kiln.Tensor | number | null][] = [
        ['mean', t, {}, keep.to(dtype).sum()],
        [
          'mean, weights, smoothing',
          t,
          { weight: w, labelSmoothing: 0.1 },
          w.gather(0, t.where(keep, 0)).mul(keep).sum(),
        ],
        ['sum', t, { reduction: 'sum' }, null],
        ['mean of probabilities', probs, {}, rows],
      ];
      for (const [label, target, opts, denom] of cases) {
        const xg = x.detach().requiresGrad_();
        const loss = F.crossEntropy(xg, target, opts);
        loss.backward();
        const got = xg.grad!.flatten().toArray() as number[];
        const want = unfused(x, target, opts, denom);
        const what = `${dtype} [${rows}, ${C}] ${label}`;
        if (dtype === 'float64') assert.equal(got, want, what);
        else {
          // float32: the forward's exps over their sum against the backward's exp(x - lse); both
          // within a few ulp of the true softmax, so within 2^-20 of the largest gradient element
          const top = Math.max(...want.map(Math.abs));
          const off = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
          assert.ok(off <= 2 ** -20 * top, `${what}: off by ${off}, largest ${top}`);
          // the exps are kept for rows of up to 4096 classes (cross_entropy.cpp kTermsMaxC)
          if (C > 4096) assert.is(off, 0, `${what}: past 4096 classes, the backward kernel's bits`);
          else if (C >= 16) assert.ok(off > 0, `${what}: the same bits (the forward's exps were not used?)`);
        }
      }
    }
});

test('another incoming gradient, a second pass and createGraph compute it again', () => {
  kiln.manualSeed(6);
  const x = kiln.randn([9, 40]).requiresGrad_(),
    t = kiln.randint(0, 40, [9]);
  F.crossEntropy(x, t).backward();
  const g1 = x.grad!.toArray() as number[][];
  x.grad = null;
  F.crossEntropy(x, t).mul(2).backward();
  const g2 = x.grad!.toArray() as number[][];
  g2.forEach((r, i) => r.forEach((v, j) => assert.ok(Math.abs(v - 2 * g1[i][j]) <= 1e-7, `2x at ${i},${j}`)));
  x.grad = null;
  const loss = F.crossEntropy(x, t);
  loss.backward(null, { retainGraph: true });
  loss.backward();
  const g3 = x.grad!.toArray() as number[][];
  g3.forEach((r, i) => r.forEach((v, j) => assert.ok(Math.abs(v - 2 * g1[i][j]) <= 1e-7, `twice at ${i},${j}`)));
  x.grad = null;
  const [gg] = kiln.autograd.grad([F.crossEntropy(x, t)], [x], { createGraph: true });
  (gg!.toArray() as number[][]).forEach((r, i) =>
    r.forEach((v, j) => assert.ok(Math.abs(v - g1[i][j]) <= 1e-6, `createGraph at ${i},${j}`)),
  );
});

test('nothing left behind, with or without a backward; a scope around the forward keeps it', () => {
  const x = kiln.randn([64, 1000]).requiresGrad_(),
    t = kiln.randint(0, 1000, [64]);
  const before = settledMemory();
  for (let i = 0; i < 3; i++) F.crossEntropy(x, t).dispose(); // forward only: the gradient goes with the node
  const l = F.crossEntropy(x, t);
  l.backward();
  l.dispose();
  x.grad!.dispose();
  x.grad = null;
  const after = kiln.memory();
  assert.is(after.numTensors, before.numTensors, 'tensors');
  assert.is(after.numBytes, before.numBytes, 'bytes');
  const loss = kiln.scope(() => F.crossEntropy(x, t));
  loss.backward();
  const kept = x.grad as kiln.Tensor | null;
  assert.ok(kept && (kept.abs().sum().item() as number) > 0, 'the gradient survived the scope');
});

test.run();
