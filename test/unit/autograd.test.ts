// The tape: accumulation, retainGraph, noGrad, detach, retainGrad, autograd.grad with
// createGraph (higher order), gradients through views and broadcasting, and freeing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const arr = (t: kiln.Tensor | null) => t!.toArray();

test('gradients accumulate across backward calls and zero on demand', () => {
  const x = kiln.tensor([1, 2, 3], { requiresGrad: true });
  x.mul(x).sum().backward();
  assert.equal(arr(x.grad), [2, 4, 6]);
  x.mul(3).sum().backward();
  assert.equal(arr(x.grad), [5, 7, 9]);
  x.grad!.zero_();
  x.sum().backward();
  assert.equal(arr(x.grad), [1, 1, 1]);
});

test('a tensor used twice gets the sum of both paths; broadcasting sums back', () => {
  const a = kiln.tensor(
    [
      [1, 2],
      [3, 4],
    ],
    { requiresGrad: true },
  );
  const b = kiln.tensor([10, 20], { requiresGrad: true });
  a.add(b).mul(a).sum().backward(); // d/da = 2a + b, d/db = sum over rows of a
  assert.equal(arr(a.grad), [
    [12, 24],
    [16, 28],
  ]);
  assert.equal(arr(b.grad), [4, 6]);
});

test('backward with an explicit gradient; the caller keeps its tensor', () => {
  const x = kiln.tensor([1, 2], { requiresGrad: true });
  const g = kiln.tensor([1, -1]);
  x.mul(2).backward(g);
  assert.equal(arr(x.grad), [2, -2]);
  assert.equal(arr(g), [1, -1]);
  assert.not.ok(g.isDisposed);
});

test('retainGraph allows a second backward', () => {
  const x = kiln.tensor([2], { requiresGrad: true });
  const y = x.exp().sum();
  y.backward(undefined, { retainGraph: true });
  y.backward();
  assert.ok(Math.abs((x.grad!.item() as number) - 2 * Math.exp(2)) < 1e-4);
});

test('noGrad and detach stop recording; enableGrad turns it back on', () => {
  const x = kiln.tensor([1, 2], { requiresGrad: true });
  const y = kiln.noGrad(() => x.mul(2));
  assert.not.ok(y.requiresGrad);
  assert.is(y.gradFn, null);
  const z = x.detach().mul(2);
  assert.not.ok(z.requiresGrad);
  const w = kiln.noGrad(() => kiln.enableGrad(() => x.mul(2)));
  assert.ok(w.requiresGrad);
  assert.is(w.gradFn!.name, 'mul');
});

test('retainGrad keeps the gradient of a non-leaf', () => {
  const x = kiln.tensor([1, 2], { requiresGrad: true });
  const h = x.mul(3).retainGrad();
  h.pow(2).sum().backward();
  assert.equal(arr(h.grad), [6, 12]);
  assert.equal(arr(x.grad), [18, 36]);
});

test('autograd.grad returns gradients without touching .grad; higher order with createGraph', () => {
  const x = kiln.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
  const y = x.pow(3).sum();
  const [g] = kiln.autograd.grad(y, [x], { createGraph: true });
  assert.equal(arr(g), [3, 12, 27]);
  assert.is(x.grad, null);
  const [g2] = kiln.autograd.grad(g!.sum(), [x], { createGraph: true });
  assert.equal(arr(g2), [6, 12, 18]);
  const [g3] = kiln.autograd.grad(g2!.sum(), [x]);
  assert.equal(arr(g3), [6, 6, 6]);
});

test('gradients flow through views, slices and reshapes into the right elements', () => {
  const x = kiln.arange(0, 12).to('float32').reshape([3, 4]).detach().requiresGrad_();
  x.transpose(0, 1)
    .slice(0, 1, 4, 2)
    .reshape([-1])
    .mul(kiln.tensor([1, 2, 3, 4, 5, 6]).to('float32'))
    .sum()
    .backward();
  // transpose -> [4,3]; rows 1 and 3 of that are columns 1 and 3 of x
  assert.equal(arr(x.grad), [
    [0, 1, 0, 4],
    [0, 2, 0, 5],
    [0, 3, 0, 6],
  ]);
});

test('mixed dtypes: a float64 leaf behind a float32 op gets a float64 gradient', () => {
  const x = kiln.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
  const y = x.to('float32').mul(kiln.tensor([3, 4], { dtype: 'float32' }));
  y.sum().backward();
  assert.is(x.grad!.dtype, 'float64');
  assert.equal(arr(x.grad), [3, 4]);
});

test('saved tensors survive the user disposing inputs, and are freed after backward', () => {
  const before = kiln.memory().numTensors;
  const x = kiln.tensor([1, 2, 3], { requiresGrad: true });
  const w = kiln.tensor([4, 5, 6]);
  const m = x.mul(w);
  const y = m.sum();
  w.dispose();
  y.backward();
  assert.equal(arr(x.grad), [4, 5, 6]);
  m.dispose();
  y.dispose();
  x.grad!.dispose();
  x.dispose();
  assert.is(kiln.memory().numTensors, before);
});

test('printing shows grad_fn and requires_grad like PyTorch', () => {
  const x = kiln.tensor([1.5, 2], { requiresGrad: true });
  assert.is(x.toString(), 'tensor([1.5000, 2.0000], requires_grad=True)');
  assert.match(x.mul(2).toString(), /grad_fn=<MulBackward>/);
});

test.run();
