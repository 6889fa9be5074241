// In-place ops under autograd (autograd/inplace.ts): gradients through add_, mul_, exp_, relu_,
// copy_, fill_ ... on tensors with history equal those of the out-of-place forms; leaves, views of
// leaves, stale views and saved tensors written in place are refused; relu_ keeps one copy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';
import { settledMemory } from '../helpers/settled';

const f64 = (shape: number[], lo = -2, hi = 2) =>
  kiln
    .rand(shape, { dtype: 'float64' })
    .mul(hi - lo)
    .add(lo)
    .requiresGrad_();

function closeArrays(got: kiln.Tensor | null, want: kiln.Tensor | null, label: string): void {
  assert.ok(got && want, `${label}: a gradient is missing`);
  const d = got!.sub(want!).abs().max().item() as number;
  assert.ok(d < 1e-12, `${label}: differs by ${d}`);
}

type Step = [string, (y: kiln.Tensor, w: kiln.Tensor) => kiln.Tensor, (y: kiln.Tensor, w: kiln.Tensor) => kiln.Tensor];
const steps: Step[] = [
  ['add_', (y, w) => y.add_(w), (y, w) => y.add(w)],
  ['sub_', (y, w) => y.sub_(w), (y, w) => y.sub(w)],
  ['mul_', (y, w) => y.mul_(w), (y, w) => y.mul(w)],
  ['div_', (y, w) => y.div_(w.abs().add(0.5)), (y, w) => y.div(w.abs().add(0.5))],
  ['maximum_', (y, w) => y.maximum_(w), (y, w) => y.maximum(w)],
  ['add_ scalar', (y) => y.add_(3), (y) => y.add(3)],
  ['mul_ broadcast row', (y, w) => y.mul_(w.select(0, 0)), (y, w) => y.mul(w.select(0, 0))],
  ['exp_', (y) => y.exp_(), (y) => y.exp()],
  ['sigmoid_', (y) => y.sigmoid_(), (y) => y.sigmoid()],
  ['tanh_', (y) => y.tanh_(), (y) => y.tanh()],
  ['sin_', (y) => y.sin_(), (y) => y.sin()],
  ['relu_', (y) => y.relu_(), (y) => y.relu()],
  ['clamp_', (y) => y.clamp_(-0.5, 0.7), (y) => y.clamp(-0.5, 0.7)],
];

test('each in-place op on a tensor with history gives the out-of-place gradients (x and the other operand)', () => {
  kiln.manualSeed(7);
  for (const [name, inplace, outOfPlace] of steps) {
    const x = f64([3, 5]),
      w = f64([3, 5]);
    const c = kiln.rand([3, 5], { dtype: 'float64' });
    const y = x.mul(1.5);
    const r = inplace(y, w);
    assert.is(r, y, `${name} returns self`);
    assert.ok(y.requiresGrad && !y.isLeaf, `${name}: y keeps a history`);
    y.mul(c).sum().backward();
    const [gx, gw] = [x.grad, w.grad];
    x.grad = null;
    w.grad = null;
    outOfPlace(x.mul(1.5), w).mul(c).sum().backward();
    closeArrays(gx, x.grad, `${name} dx`);
    if (w.grad) closeArrays(gw, w.grad, `${name} dw`);
    else assert.is(gw, null, `${name}: no dw`);
  }
});

test('a chain of in-place ops passes gradcheck against finite differences', () => {
  kiln.manualSeed(3);
  const fn = (x: kiln.Tensor, w: kiln.Tensor) => {
    const y = x.mul(w);
    y.add_(w).mul_(x).div_(w.square().add(1)).sub_(x).exp_(); // exp_ saves y: the last write to it
    const b = kiln.zeros([2, 3, 4], { dtype: 'float64' });
    b.copy_(y); // broadcast over a new leading dim
    b.select(0, 1).relu_();
    return b.sigmoid();
  };
  assert.ok(kiln.gradcheck(fn, [f64([3, 4], -1, 1), f64([3, 4], 0.2, 1)]));
});

test('an in-place op with a grad-requiring operand gives a plain buffer a history (copy_, add_, mul_)', () => {
  const w = kiln.tensor([1, -2, 3], { dtype: 'float64', requiresGrad: true });
  const buf = kiln.zeros([2, 3], { dtype: 'float32' });
  buf.copy_(w); // broadcast, converted to float32
  assert.ok(buf.requiresGrad);
  assert.is(buf.dtype, 'float32');
  buf.mul_(w).add_(w);
  assert.ok(!buf.isLeaf);
  buf.sum().backward();
  // d/dw sum over 2 rows of (w*w + w) = 2 * (2w + 1)
  assert.equal(w.grad!.toArray(), [6, -6, 14]);
  const acc = kiln.zeros([3], { dtype: 'float64' });
  acc.add_(w).sum().backward();
  assert.is(acc.grad, null, 'a buffer that did not require grad gets no .grad of its own');
  assert.equal(w.grad!.toArray(), [7, -5, 15]);
  assert.is(w.grad!.dtype, 'float64');
});

test('fill_, zero_, uniform_ and normal_ cut the history: still requires grad, nothing flows back', () => {
  for (const [name, op] of [
    ['fill_', (t: kiln.Tensor) => t.fill_(2)],
    ['zero_', (t: kiln.Tensor) => t.zero_()],
    ['uniform_', (t: kiln.Tensor) => t.uniform_()],
    ['normal_', (t: kiln.Tensor) => t.normal_()],
  ] as const) {
    const x = kiln.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const y = x.mul(2);
    op(y);
    assert.ok(y.requiresGrad && y.gradFn !== null, `${name}: y still has a history`);
    if (name === 'fill_') assert.equal(y.toArray(), [2, 2, 2]);
    y.add(x).sum().backward();
    assert.equal(x.grad!.toArray(), [1, 1, 1], `${name}: only the add's gradient reaches x`);
  }
});

test('errors: leaves, views of leaves, stale views, saved tensors written in place, bad dtypes and shapes', () => {
  const x = kiln.ones([2, 3], { dtype: 'float64', requiresGrad: true });
  throwsCode(() => x.mul_(2), 'ERR_AUTOGRAD', 'in-place on a leaf that requires grad');
  throwsCode(() => x.select(0, 1).add_(1), 'ERR_AUTOGRAD', 'in-place on a view of a leaf');
  throwsCode(
    () => x.select(0, 1).copy_(kiln.ones([3], { dtype: 'float64' })),
    'ERR_AUTOGRAD',
    'copy_ into a leaf view',
  );
  kiln.noGrad(() => x.select(0, 1).add_(1)); // what optimizers do: allowed
  assert.equal(x.sum().item(), 9);

  // a sibling view whose base was disposed cannot be regenerated
  const gone = x.mul(2);
  const first = gone.select(0, 0),
    second = gone.select(0, 1);
  gone.dispose();
  first.add_(1);
  throwsCode(() => second.sum(), 'ERR_AUTOGRAD', 'stale view of a disposed base');
  // saved output (exp) and saved input (mul) overwritten: caught at backward, as in PyTorch
  const e = x.exp();
  const le = e.sum();
  e.add_(1);
  throwsCode(() => le.backward(), 'ERR_AUTOGRAD', 'saved output modified by an in-place op');
  const a = x.mul(2);
  const lb = a.mul(a).sum();
  a.add_(1);
  throwsCode(() => lb.backward(), 'ERR_AUTOGRAD', 'saved input modified by an in-place op');
  const t = x.tanh();
  const lt = t.sum();
  kiln.noGrad(() => t.mul_(2));
  throwsCode(() => lt.backward(), 'ERR_AUTOGRAD', 'saved output modified under noGrad');

  throwsCode(() => kiln.zeros([3], { dtype: 'int32' }).add_(x.select(0, 0)), 'ERR_DTYPE', 'float into int');
  const hist = x.mul(2);
  const quiet = kiln.noGrad(() => hist.select(0, 0));
  throwsCode(() => quiet.mul_(2), 'ERR_AUTOGRAD', 'a view taken under noGrad of a tensor with history');
  const seq = x.mul(2).reshape([6]);
  const windows = seq.unfold(0, 3, 1); // overlapping views of seq
  seq.select(0, 0).add_(1);
  throwsCode(() => windows.sum(), 'ERR_AUTOGRAD', 'overlapping windows cannot be regenerated');
  const late = seq.unfold(0, 3, 1);
  assert.ok(late.sum().requiresGrad, 'windows taken after the write are fine');
  throwsCode(() => x.mul(1).select(0, 0).add_(x), 'ERR_SHAPE', 'result larger than self');
});

test('writes through views rebase the base and regenerate views taken before (PyTorch CopySlices)', () => {
  kiln.manualSeed(11);
  const x = f64([4, 3]),
    w = f64([3]);
  const c = kiln.rand([4, 3], { dtype: 'float64' }),
    c2 = kiln.rand([2, 6], { dtype: 'float64' });
  const y = x.mul(2);
  const early = y.reshape([2, 6]); // a view taken before the writes
  y.select(0, 1).mul_(w);
  y.select(0, 2).add_(w);
  y.slice(1, 0, 2).select(0, 3).zero_();
  early.select(0, 0).mul_(early.select(0, 1).clone()); // rows 0-1 of y times rows 2-3, through the early view
  y.select(0, 2).exp_(); // exp_ saves what it wrote: the last write to this memory
  assert.ok(early.requiresGrad && y.requiresGrad);
  y.mul(c).sum().add(early.mul(c2).sum()).backward();
  const [gx, gw] = [x.grad!.clone(), w.grad!.clone()];
  x.grad = null;
  w.grad = null;
  // the same values out of place
  const z = x.mul(2);
  const r3 = kiln.cat([z.select(0, 3).slice(0, 0, 2).mul(0), z.select(0, 3).slice(0, 2, 3)], 0);
  const r2 = z.select(0, 2).add(w);
  const low = kiln.stack([r2, r3]);
  const top = kiln.stack([z.select(0, 0), z.select(0, 1).mul(w)]).mul(low);
  const ref = kiln.cat([top, kiln.stack([r2.exp(), r3])], 0);
  ref
    .mul(c)
    .sum()
    .add(ref.reshape([2, 6]).mul(c2).sum())
    .backward();
  closeArrays(gx, x.grad, 'dx');
  closeArrays(gw, w.grad, 'dw');
  closeArrays(y.detach(), ref.detach(), 'values');
});

test('a buffer without grad filled row by row from tensors that require grad (a cache) passes their gradients', () => {
  const k = f64([3, 2]);
  const cache = kiln.zeros([4, 2], { dtype: 'float64' });
  for (let t = 0; t < 3; t++) cache.select(0, t).copy_(k.select(0, t).mul(t + 1));
  assert.ok(cache.requiresGrad, 'the buffer now requires grad');
  const c = kiln.rand([4, 2], { dtype: 'float64' });
  cache.mul(c).sum().backward();
  const want = c.slice(0, 0, 3).mul(kiln.tensor([[1], [2], [3]], { dtype: 'float64' }));
  closeArrays(k.grad, want, 'dk');
});

test('relu_ under autograd keeps one copy of its result (the node saves the tensor it wrote)', () => {
  const x = kiln.randn([256, 256], { requiresGrad: true });
  const y = x.mul(2);
  const before = settledMemory();
  y.relu_();
  const after = settledMemory();
  assert.ok(after.numBytes - before.numBytes <= 0, 'no second 256 KiB buffer is kept');
  const want = x.mul(2).relu().mul(3).sum();
  y.mul(3).sum().backward();
  const gx = x.grad!.clone();
  x.grad = null;
  want.backward();
  closeArrays(gx, x.grad, 'relu_');
});

test('nn.ReLU(true) in a conv, batch-norm, residual block trains like nn.ReLU()', () => {
  kiln.manualSeed(1);
  const conv = new kiln.nn.Conv2d(4, 4, 3, { padding: 1 });
  const bn = new kiln.nn.BatchNorm2d(4);
  const x = kiln.randn([2, 4, 6, 6]);
  const grads = (inplace: boolean) => {
    const params = [...conv.parameters(), ...bn.parameters()];
    for (const p of params) p.grad = null;
    const h = bn.forward(conv.forward(x));
    const s = inplace ? h.add_(x) : h.add(x);
    new kiln.nn.ReLU(inplace).forward(s).square().sum().backward();
    return params.map((p) => p.grad!.clone());
  };
  const a = grads(false),
    b = grads(true);
  a.forEach((g, i) => assert.ok(g.sub(b[i]).abs().max().item() === 0, `parameter ${i}`));
  assert.ok(String(new kiln.nn.ReLU(true)).startsWith('ReLU(inplace=true)'));
});

test.run();
