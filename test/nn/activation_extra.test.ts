// threshold, prelu / PReLU and huberLoss / HuberLoss (ts/nn): values and gradients against PyTorch
// 1.13's on the same inputs, and their argument errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';

const F = kiln.nn.functional;
const f32 = { dtype: 'float32' } as const;
const arr = (t: kiln.Tensor) => Array.from(t.data() as Float32Array);

test('threshold: value at or below, x above; the gradient above only', () => {
  const x = kiln.tensor([1, 0.5, 2], f32).requiresGrad_();
  const y = F.threshold(x, 1, -3);
  assert.equal(arr(y), [-3, -3, 2]);
  y.sum().backward();
  assert.equal(arr(x.grad!), [0, 0, 1]);
  assert.equal(arr(new kiln.nn.Threshold(0, 7).forward(kiln.tensor([-1, 1], f32))), [7, 1]);
});

test('prelu: one slope or one per channel; at 0 the slope side', () => {
  const x = kiln.tensor([0, -1, 1], f32).requiresGrad_(),
    w = kiln.tensor([0.25], f32).requiresGrad_();
  const y = F.prelu(x, w);
  assert.equal(arr(y), [0, -0.25, 1]);
  y.sum().backward();
  assert.equal(arr(x.grad!), [0.25, 0.25, 1]);
  assert.equal(arr(w.grad!), [-1]);
  const m = new kiln.nn.PReLU(2, 0.5);
  const z = m.forward(kiln.tensor([[[-2, 2]], [[-4, 4]]], f32).reshape([1, 2, 2]));
  assert.equal(arr(z), [-1, 2, -2, 4]);
  assert.is(m.numParameters(), 2);
  throwsCode(() => F.prelu(kiln.zeros([2, 3]), kiln.zeros([2])), 'ERR_SHAPE', 'slopes per channel');
  throwsCode(() => new kiln.nn.PReLU(0), 'ERR_ARG', 'numParameters');
});

test('huberLoss: quadratic inside delta, linear outside', () => {
  const x = kiln.tensor([1, 0.5, 2, -3], f32).requiresGrad_();
  const t = kiln.zeros([4]);
  const l = F.huberLoss(x, t, { delta: 1 });
  assert.ok(Math.abs((l.item() as number) - (0.5 + 0.125 + 1.5 + 2.5) / 4) < 1e-6);
  l.backward();
  assert.equal(arr(x.grad!), [0.25, 0.125, 0.25, -0.25]);
  const d2 = F.huberLoss(kiln.tensor([3], f32), kiln.zeros([1]), { delta: 2, reduction: 'sum' });
  assert.is(d2.item(), 2 * (3 - 1));
  assert.is(
    new kiln.nn.HuberLoss({ reduction: 'sum' }).forward(kiln.tensor([0.5], f32), kiln.zeros([1])).item(),
    0.125,
  );
  throwsCode(() => F.huberLoss(x, t, { delta: 0 }), 'ERR_ARG', 'delta');
});

test.run();
