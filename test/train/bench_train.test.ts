// `kiln bench train` in its quick form (tiny models, 2 steps, no PyTorch) so it cannot rot: every
// model and phase gives a record, each step stays inside kiln.scope (memory flat, else the bench
// throws), and the CLI knows the bench and its --quick shapes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { settledMemory } from '../helpers/settled';
import { parseArgs } from '../../ts/bench/cli';
import { benchTrain, TINY } from '../../ts/bench/train';

test('train bench --quick: transformer and cnn, four phases each, kiln only, memory flat', () => {
  const args = parseArgs(['train', '--quick']);
  assert.is(args.opts.quick, true);
  const before = settledMemory();
  const ms = benchTrain(args.opts, { torch: false });
  const after = kiln.memory();
  assert.equal(
    ms.map((m) => m.name),
    ['transformer', 'cnn'].flatMap((n) => ['step', 'forward', 'backward', 'optimizer'].map((p) => `${n} ${p}`)),
  );
  for (const m of ms) {
    assert.is(m.impl, 'kiln');
    assert.is(m.unit, 'steps/s');
    assert.ok(m.value > 0 && Number.isFinite(m.value), `${m.name}: ${m.value}`);
    assert.is(m.stats.samples, 2);
    assert.match(m.detail!, /kiln\.memory\(\)/);
  }
  assert.equal(ms[0].shape, [TINY.transformer.batch, TINY.transformer.seq]);
  assert.equal(ms[4].shape, [TINY.cnn.batch, 3, TINY.cnn.side, TINY.cnn.side]);
  const step = ms[0].stats.medianMs,
    parts = ms[1].stats.medianMs + ms[2].stats.medianMs + ms[3].stats.medianMs;
  assert.ok(Math.abs(step - parts) <= 0.5 * step, `phases ${parts} ms add up to about the step ${step} ms`);
  assert.is(after.numTensors, before.numTensors, 'the bench frees its models and inputs');
});

test.run();
