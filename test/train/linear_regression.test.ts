// A small training loop with autograd and in-place updates: a 2-layer net fits a noisy
// function, the loss falls, and memory stays flat from step to step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { settledMemory } from '../helpers/settled';

test('gradient descent on a small MLP fits y = sin(3x) and keeps memory flat', () => {
  kiln.manualSeed(42);
  const x = kiln.rand([256, 1]).mul(2).sub(1);
  const y = x
    .mul(3)
    .sin()
    .add(kiln.randn([256, 1]).mul(0.05));
  const w1 = kiln.empty([1, 32]);
  const w2 = kiln.empty([32, 1]);
  kiln.nn.init.kaimingUniform_(w1.t(), { a: Math.sqrt(5) });
  kiln.nn.init.xavierUniform_(w2);
  const b1 = kiln.zeros([32]),
    b2 = kiln.zeros([1]);
  const params = [w1, b1, w2, b2].map((p) => p.requiresGrad_());
  const losses: number[] = [];
  let tensorsAfterFirst = 0;
  for (let step = 0; step < 400; step++) {
    const loss = kiln.scope(() => {
      const h = x.matmul(w1).add(b1).tanh();
      const pred = h.matmul(w2).add(b2);
      const l = pred.sub(y).square().mean();
      l.backward();
      return l;
    });
    kiln.scope(() =>
      kiln.noGrad(() => {
        for (const p of params) {
          p.sub_(p.grad!.mul(0.3));
          p.grad!.zero_();
        }
      }),
    );
    losses.push(loss.item() as number);
    loss.dispose();
    if (step === 0) tensorsAfterFirst = settledMemory().numTensors; // the setup's intermediates gone
  }
  assert.is(kiln.memory().numTensors, tensorsAfterFirst, 'no tensor accumulates across steps');
  assert.ok(losses[0] > 0.2, `initial loss ${losses[0]}`);
  assert.ok(losses[losses.length - 1] < 0.02, `final loss ${losses[losses.length - 1]}`);
});

test.run();
