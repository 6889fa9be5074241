// nn.init: PyTorch's initialiser formulas on the seeded generator.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

test('initialisers follow PyTorch formulas', () => {
  kiln.manualSeed(0);
  const w = kiln.empty([256, 128]);
  kiln.nn.init.kaimingUniform_(w, { a: Math.sqrt(5) });
  const bound = 1 / Math.sqrt(128); // gain(leaky_relu, sqrt5) * sqrt(3 / fanIn)
  assert.ok((w.amax().item() as number) <= bound && (w.amax().item() as number) > 0.95 * bound);
  kiln.nn.init.xavierNormal_(w);
  assert.ok(Math.abs((w.std().item() as number) - Math.sqrt(2 / (256 + 128))) < 0.003);
  kiln.nn.init.zeros_(w);
  assert.is(w.abs().sum().item(), 0);
});

test('truncNormal_, orthogonal_, eye_', () => {
  kiln.manualSeed(11);
  const w = kiln.empty([100000], { dtype: 'float64' });
  kiln.nn.init.truncNormal_(w, 1, 2, -1, 2);
  const lo = w.amin().item() as number,
    hi = w.amax().item() as number;
  assert.ok(lo >= -1 && lo < -0.99 && hi <= 2 && hi > 1.99, `range ${lo} ${hi}`);
  // a normal(1, 2) truncated to [-1, 2]: alpha = -1, beta = 0.5; mean = 1 + 2 (phi(a) - phi(b)) / (Phi(b) - Phi(a))
  const phi = (v: number) => Math.exp((-v * v) / 2) / Math.sqrt(2 * Math.PI);
  const Phi = (v: number) =>
    0.5 *
    (1 +
      (kiln
        .tensor([v / Math.SQRT2], { dtype: 'float64' })
        .erf()
        .item() as number));
  const mean = 1 + (2 * (phi(-1) - phi(0.5))) / (Phi(0.5) - Phi(-1));
  assert.ok(Math.abs((w.mean().item() as number) - mean) < 0.01, `mean ${w.mean().item()} vs ${mean}`);
  assert.throws(
    () => kiln.nn.init.truncNormal_(w, 0, 1, 2, 1),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  for (const shape of [
    [6, 4],
    [3, 2, 4],
    [5, 5],
  ]) {
    const o = kiln.empty(shape, { dtype: 'float64' });
    kiln.nn.init.orthogonal_(o, 2);
    const m = o.reshape([shape[0], -1]);
    const g = m.shape[0] >= m.shape[1] ? m.t().matmul(m) : m.matmul(m.t());
    assert.ok(
      (g
        .sub(kiln.eye(g.shape[0], g.shape[0], { dtype: 'float64' }).mul(4))
        .abs()
        .amax()
        .item() as number) < 1e-12,
    );
  }
  const e = kiln.full([2, 3], 7);
  kiln.nn.init.eye_(e);
  assert.equal(e.toArray(), [
    [1, 0, 0],
    [0, 1, 0],
  ]);
});

test('fans and gains', () => {
  assert.equal(kiln.nn.init.fans(kiln.empty([8, 4, 3, 3])), { fanIn: 36, fanOut: 72 });
  assert.is(kiln.nn.init.calculateGain('relu'), Math.SQRT2);
  assert.is(kiln.nn.init.calculateGain('tanh'), 5 / 3);
  assert.throws(
    () => kiln.nn.init.fans(kiln.empty([3])),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
});

test.run();
