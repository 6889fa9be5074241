// The tape: accumulation, retainGraph, noGrad, detach, retainGrad, autograd.grad with
// createGraph (higher order), gradients through views and broadcasting, and freeing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { settledMemory } from '../helpers/settled';

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
  const before = settledMemory().numTensors;
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
  assert.ok(kiln.memory().numTensors <= before);
});

test('slices of one tensor: their gradients add into one sum (steps, overlaps, with dense gradients too)', () => {
  const L = 6,
    N = 3;
  const leaf = kiln
    .arange(0, L * N, 1, { dtype: 'float64' })
    .reshape([L, N])
    .requiresGrad_(true);
  for (const viaNode of [false, true]) {
    leaf.grad = null;
    const x = viaNode ? leaf.mul(1) : leaf; // a node's sum (the engine's map) or a leaf's
    let loss = x.sum().mul(2); // dense
    for (let t = 0; t < L; t++)
      loss = loss.add(
        x
          .select(0, t)
          .mul(t + 1)
          .sum(),
      ); // select
    loss = loss.add(x.narrow(0, 1, 2).sum()).add(x.narrow(0, 2, 2).sum()); // overlapping
    loss = loss.add(x.slice(0, 0, L, 2).mul(10).sum()).add(x.select(1, 2).mul(100).sum()); // step, other dim
    const want = (i: number, j: number) =>
      2 +
      (i + 1) +
      (i === 1 || i === 2 ? 1 : 0) +
      (i === 2 || i === 3 ? 1 : 0) +
      (i % 2 === 0 ? 10 : 0) +
      (j === 2 ? 100 : 0);
    const check = (g: kiln.Tensor, what: string) =>
      (g.toArray() as number[][]).forEach((r, i) =>
        r.forEach((v, j) => assert.is(v, want(i, j), `${what} [${i}, ${j}]`)),
      );
    const [g] = kiln.autograd.grad([loss], [leaf], { retainGraph: true });
    check(g!, `autograd.grad, via node ${viaNode}`);
    loss.backward();
    check(leaf.grad!, `backward, via node ${viaNode}`);
  }
  // with a graph of the gradient: the dense slice gradients, differentiable again
  const x = kiln.randn([4, 3], { dtype: 'float64', requiresGrad: true });
  kiln.gradgradcheck(
    (v) =>
      [0, 1, 2, 3].reduce(
        (s, t) =>
          s.add(
            v
              .select(0, t)
              .square()
              .mul(t + 1)
              .sum(),
          ),
        v.sum(),
      ),
    [x],
  );
});

test('a gradient passed on to two inputs is not added into in place: s = p + q, with s and p used again', () => {
  const x1 = kiln.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
  const x2 = kiln.tensor([3, 4], { dtype: 'float64', requiresGrad: true });
  const p = x1.mul(2),
    q = x2.mul(3);
  const s = p.add(q);
  s.sum().add(s.mul(2).sum()).add(p.sum()).backward(); // dL/ds = 3 (a sum of two), dL/dp = 3 + 1
  assert.equal(arr(x1.grad), [8, 8]);
  assert.equal(arr(x2.grad), [9, 9]);
});

test('a loop over L slices of a tensor keeps a couple of its copies in the backward pass, not L', () => {
  const L = 64;
  const x = kiln.randn([L, 16384], { requiresGrad: true }); // 4 MB
  const bytes = 4 * L * 16384;
  const loss = x.unbind(0).reduce((s, r, t) => s.add(r.mul(t).sum()), kiln.zeros([]));
  const base = kiln.memory().numBytes,
    p0 = kiln.memory().peakBytes;
  loss.backward();
  const p1 = kiln.memory().peakBytes;
  const held = p1 > p0 ? p1 - base : 0; // the pass's peak, where it set a new one
  assert.ok(held < 4 * bytes, `the pass held ${(held / bytes).toFixed(1)} copies of x`);
  const g = x.grad!.mean(1).toArray() as number[];
  g.forEach((v, t) => assert.ok(Math.abs(v - t) < 1e-6, `row ${t}: ${v}`));
});

test('printing shows grad_fn and requires_grad like PyTorch', () => {
  const x = kiln.tensor([1.5, 2], { requiresGrad: true });
  assert.is(x.toString(), 'tensor([1.5000, 2.0000], requires_grad=True)');
  assert.match(x.mul(2).toString(), /grad_fn=<MulBackward>/);
});

test.run();
