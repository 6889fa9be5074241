// Gradient hooks on tensors, forward hooks on modules, and activation checkpointing
// (kiln.utils.checkpoint): each against the same computation without them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';
import { settledMemory } from '../helpers/settled';

const { nn } = kiln;
const maxDiff = (a: kiln.Tensor, b: kiln.Tensor) => a.sub(b).abs().max().item() as number;

test('a hook on a non-leaf sees its summed gradient and may replace it', () => {
  const x = kiln.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
  const h = x.mul(2);
  const seen: number[][] = [];
  h.registerHook((g) => void seen.push(g.toArray() as number[]));
  const handle = h.registerHook((g) => g.mul(10));
  h.mul(h).sum().add(h.sum()).backward({ retainGraph: true }); // dL/dh = 2h + 1
  assert.equal(seen, [[5, 9, 13]]);
  assert.equal(x.grad!.toArray(), [100, 180, 260]);
  handle.remove();
  x.grad = null;
  h.sum().backward();
  assert.equal(x.grad!.toArray(), [2, 2, 2], 'the removed hook no longer runs');
});

test("a leaf's hooks run on its summed gradient before .grad, in backward() and autograd.grad()", () => {
  const w = kiln.tensor([1, -2], { dtype: 'float64', requiresGrad: true });
  let calls = 0;
  w.registerHook((g) => {
    calls++;
    return g.clamp(-1, 1);
  });
  w.mul(3).sum().add(w.mul(2).sum()).backward(); // 5 per element, clipped once
  assert.is(calls, 1);
  assert.equal(w.grad!.toArray(), [1, 1]);
  const [gw] = kiln.autograd.grad(w.mul(-4).sum(), [w]);
  assert.equal(gw!.toArray(), [-1, -1]);
  assert.is(calls, 2);
});

test('hook errors: a tensor without grad, a non-function, a wrong shape or type returned', () => {
  throwsCode(() => kiln.ones([2]).registerHook((g) => g), 'ERR_AUTOGRAD', 'no grad');
  const x = kiln.ones([2], { requiresGrad: true });
  throwsCode(() => x.registerHook(3 as never), 'ERR_ARG', 'not a function');
  const y = x.mul(2);
  y.registerHook(() => kiln.ones([3]));
  throwsCode(() => y.sum().backward(), 'ERR_SHAPE', 'wrong shape');
  const z = x.mul(2);
  z.registerHook(() => 5 as never);
  throwsCode(() => z.sum().backward(), 'ERR_AUTOGRAD', 'not a tensor');
  throwsCode(() => x.sum().backward(3 as never), 'ERR_ARG', 'backward(3)');
});

test('forward hooks: a pre-hook changes the arguments, a hook reads and replaces the output, remove() undoes', () => {
  kiln.manualSeed(2);
  const model = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2));
  const x = kiln.randn([5, 4]);
  const plain = model.forward(x) as kiln.Tensor;
  const first = [...model.children()][0];
  const feats: kiln.Tensor[] = [];
  const h1 = first.registerForwardHook((_m, args, out) => {
    assert.equal((args[0] as kiln.Tensor).shape, [5, 4]);
    feats.push((out as kiln.Tensor).detach());
  });
  assert.ok(maxDiff(model.forward(x) as kiln.Tensor, plain) === 0, 'a hook that returns nothing changes nothing');
  assert.is(feats.length, 1);
  assert.equal(feats[0].shape, [5, 3]);
  const h2 = first.registerForwardPreHook((_m, args) => [(args[0] as kiln.Tensor).mul(0)]);
  const h3 = model.registerForwardHook((_m, _a, out) => (out as kiln.Tensor).add(1));
  const zeroed = model.forward(x) as kiln.Tensor;
  const want = (model.forward(kiln.zeros([5, 4])) as kiln.Tensor).sub(0); // hooks still on: zeros in, +1
  assert.ok(maxDiff(zeroed, want) === 0);
  h2.remove();
  h3.remove();
  h1.remove();
  assert.ok(maxDiff(model.forward(x) as kiln.Tensor, plain) === 0, 'removed');
  assert.is(feats.length, 3);
  assert.equal(
    [...model.namedParameters()].map(([k]) => k),
    ['0.weight', '0.bias', '2.weight', '2.bias'],
  );
});

function block(width: number, depth: number) {
  kiln.manualSeed(5);
  const layers: kiln.nn.Module[] = [];
  for (let i = 0; i < depth; i++) layers.push(new nn.Linear(width, width), new nn.Tanh(), new nn.Dropout(0.25));
  return new nn.Sequential(...layers);
}

test('checkpoint gives the gradients of the plain run (parameters, inputs, dropout replayed)', () => {
  const model = block(16, 3);
  const x = kiln.randn([8, 16], { requiresGrad: true });
  const grads = (fn: () => kiln.Tensor) => {
    model.zeroGrad();
    x.grad = null;
    kiln.manualSeed(9);
    fn().square().sum().backward();
    return [x.grad!.clone(), ...model.parameters().map((p) => p.grad!.clone())];
  };
  const plain = grads(() => model.forward(x) as kiln.Tensor);
  const ck = grads(() => kiln.utils.checkpoint((t: kiln.Tensor) => model.forward(t) as kiln.Tensor, x));
  const seq = grads(() => kiln.utils.checkpointSequential(model, 3, x));
  plain.forEach((g, i) => {
    assert.ok(maxDiff(g, ck[i]) < 1e-6, `checkpoint grad ${i}: ${maxDiff(g, ck[i])}`);
    assert.ok(maxDiff(g, seq[i]) < 1e-6, `checkpointSequential grad ${i}`);
  });
  // an input without grad still gets the parameters their gradients
  const data = kiln.randn([8, 16]);
  model.zeroGrad();
  kiln.utils
    .checkpoint((t: kiln.Tensor) => model.forward(t) as kiln.Tensor, data)
    .sum()
    .backward();
  assert.ok(model.parameters().every((p) => p.grad !== null));
});

test('checkpoint keeps no activations between forward and backward', () => {
  const model = block(512, 4).eval();
  const x = kiln.randn([512, 512], { requiresGrad: true });
  const held = (fn: () => kiln.Tensor) => {
    const before = settledMemory().numBytes;
    const y = fn();
    const after = settledMemory().numBytes;
    y.sum().backward();
    y.dispose();
    return after - before;
  };
  const plain = held(() => model.forward(x) as kiln.Tensor);
  const ck = held(() => kiln.utils.checkpoint((t: kiln.Tensor) => model.forward(t) as kiln.Tensor, x));
  const MB = 1 << 20;
  assert.ok(plain >= 4 * MB, `the plain run holds its activations (${plain / MB} MB)`);
  assert.ok(ck <= 1.5 * MB, `the checkpoint holds its output only (${ck / MB} MB)`);
});

test('checkpoint errors and edges: autograd.grad, a non-tensor result, fn returning its input', () => {
  const x = kiln.ones([3], { requiresGrad: true });
  const y = kiln.utils.checkpoint((t: kiln.Tensor) => t.mul(2), x);
  throwsCode(() => kiln.autograd.grad(y.sum(), [x]), 'ERR_AUTOGRAD', 'autograd.grad through a checkpoint');
  throwsCode(() => kiln.utils.checkpoint(() => 3 as never), 'ERR_ARG', 'fn must return a tensor');
  const same = kiln.utils.checkpoint((t: kiln.Tensor) => t, x);
  assert.ok(x.isLeaf && same !== x, 'the input keeps its own history');
  same.mul(3).sum().backward();
  assert.equal(x.grad!.toArray(), [3, 3, 3]);
  const off = kiln.noGrad(() => kiln.utils.checkpoint((t: kiln.Tensor) => t.mul(2), x));
  assert.ok(!off.requiresGrad, 'under noGrad it is a plain call');
});

test.run();
