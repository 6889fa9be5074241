// Results are bit-identical for any thread count (work is split into fixed tasks, never by
// thread), and random numbers depend only on the seed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { assertSameBitsAcrossThreads } from '../helpers/threads';

test('1, 2 and 3 threads give identical bits', () => assertSameBitsAcrossThreads('fingerprint.ts'));

test('the same seed gives the same numbers; a different seed does not', () => {
  kiln.manualSeed(7);
  const a = kiln.randn([100]).toArray();
  const b = kiln.randn([100]).toArray();
  kiln.manualSeed(7);
  assert.equal(kiln.randn([100]).toArray(), a);
  assert.equal(kiln.randn([100]).toArray(), b);
  assert.not.equal(a, b);
  const g = new kiln.Generator(7);
  assert.equal(kiln.randn([100], { generator: g }).toArray(), a);
});

test('random draws have the right moments and ranges', () => {
  kiln.manualSeed(3);
  const u = kiln.rand([100000], { dtype: 'float64' });
  assert.ok(Math.abs((u.mean().item() as number) - 0.5) < 0.01);
  assert.ok((u.amin().item() as number) >= 0 && (u.amax().item() as number) < 1);
  const n = kiln.randn([100000]);
  assert.ok(Math.abs(n.mean().item() as number) < 0.02);
  assert.ok(Math.abs((n.std().item() as number) - 1) < 0.02);
  const r = kiln.randint(-3, 4, [10000]);
  assert.is(r.dtype, 'int64');
  assert.is(r.amin().item(), -3);
  assert.is(r.amax().item(), 3);
  const p = kiln.full([10000], 0.25);
  const bern = p.bernoulli();
  assert.ok(Math.abs((bern.mean().item() as number) - 0.25) < 0.02);
});

test.run();
