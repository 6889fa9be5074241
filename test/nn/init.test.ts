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
