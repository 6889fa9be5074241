// nn.Module, Parameter, containers, Linear and the activations: registration order, PyTorch
// state-dict keys, loadStateDict errors, train/eval, zeroGrad, to(), and each layer's forward
// against a reference computed here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const { nn } = kiln;
const F = nn.functional;

class Block extends nn.Module {
  selfAttn = new nn.Linear(4, 12);
  outProj = new nn.Linear(12, 4, { bias: false });
  constructor() {
    super();
    this.registerBuffer('runningMean', kiln.zeros([4]));
    this.registerBuffer('scratch', kiln.zeros([2]), false);
  }
  forward(x: kiln.Tensor): kiln.Tensor {
    return this.outProj.forward(this.selfAttn.forward(x).relu());
  }
}

class Net extends nn.Module {
  embedScale = new nn.Parameter(kiln.ones([1]));
  layers = new nn.ModuleList([new Block(), new Block()]);
  head = new nn.Sequential(new nn.Linear(4, 3), new nn.Tanh());
  forward(x: kiln.Tensor): kiln.Tensor {
    let h = x.mul(this.embedScale);
    for (const b of this.layers) h = (b as Block).forward(h);
    return this.head.forward(h) as kiln.Tensor;
  }
}

test('parameters, buffers and modules in assignment order, with PyTorch state-dict keys', () => {
  kiln.manualSeed(0);
  const net = new Net();
  const names = [...net.namedParameters()].map(([k]) => k);
  assert.equal(names, [
    'embedScale',
    'layers.0.selfAttn.weight',
    'layers.0.selfAttn.bias',
    'layers.0.outProj.weight',
    'layers.1.selfAttn.weight',
    'layers.1.selfAttn.bias',
    'layers.1.outProj.weight',
    'head.0.weight',
    'head.0.bias',
  ]);
  assert.equal(
    [...net.stateDict().keys()],
    // PyTorch's order: each module's own parameters and buffers, then its children's.
    [
      'embed_scale',
      'layers.0.running_mean',
      'layers.0.self_attn.weight',
      'layers.0.self_attn.bias',
      'layers.0.out_proj.weight',
      'layers.1.running_mean',
      'layers.1.self_attn.weight',
      'layers.1.self_attn.bias',
      'layers.1.out_proj.weight',
      'head.0.weight',
      'head.0.bias',
    ],
  );
  assert.equal(
    [...net.namedBuffers()].map(([k]) => k),
    ['layers.0.runningMean', 'layers.0.scratch', 'layers.1.runningMean', 'layers.1.scratch'],
  );
  assert.is(net.parameters().length, 9);
  assert.ok(net.parameters().every((p) => p instanceof nn.Parameter && p.requiresGrad));
  assert.not.ok(kiln.zeros([1]) instanceof nn.Parameter);
  assert.is(net.numParameters(), 1 + 2 * (4 * 12 + 12 + 12 * 4) + 4 * 3 + 3);
  assert.equal(
    [...net.namedModules()].map(([k]) => k),
    [
      '',
      'layers',
      'layers.0',
      'layers.0.selfAttn',
      'layers.0.outProj',
      'layers.1',
      'layers.1.selfAttn',
      'layers.1.outProj',
      'head',
      'head.0',
      'head.1',
    ],
  );
  const s = net.summary();
  assert.match(s, /\(selfAttn\): Linear\(inFeatures=4, outFeatures=12, bias=true\)\s+\[60 params\]/);
  assert.match(s, new RegExp(`Total params: ${net.numParameters().toLocaleString('en-US')}`));
});

test('stateDict round trip; loadStateDict names missing, unexpected and mis-shaped keys', () => {
  kiln.manualSeed(1);
  const a = new Net(),
    b = new Net();
  const x = kiln.randn([5, 4]);
  assert.not.equal(a.forward(x).toArray(), b.forward(x).toArray());
  const r = b.loadStateDict(a.stateDict());
  assert.equal(r, { missingKeys: [], unexpectedKeys: [] });
  assert.equal(b.forward(x).toArray(), a.forward(x).toArray());
  // The state dict holds the module's own tensors (no copies), as in PyTorch.
  assert.ok(a.stateDict().get('head.0.weight') === (a.head.at(0) as kiln.nn.Linear).weight);

  const sd = new Map(a.stateDict());
  sd.delete('layers.1.self_attn.bias');
  sd.set('layers.9.extra', kiln.zeros([1]));
  try {
    b.loadStateDict(sd);
    assert.unreachable('strict load should throw');
  } catch (e) {
    assert.instance(e, kiln.KilnError);
    assert.is((e as kiln.KilnError).code, 'ERR_STATE_DICT');
    assert.match((e as Error).message, 'missing keys: layers.1.self_attn.bias');
    assert.match((e as Error).message, 'unexpected keys: layers.9.extra');
  }
  assert.equal(b.loadStateDict(sd, { strict: false }), {
    missingKeys: ['layers.1.self_attn.bias'],
    unexpectedKeys: ['layers.9.extra'],
  });
  const bad = new Map(a.stateDict());
  bad.set('head.0.weight', kiln.zeros([3, 5]));
  try {
    b.loadStateDict(bad, { strict: false });
    assert.unreachable('a shape mismatch always throws');
  } catch (e) {
    assert.is((e as kiln.KilnError).code, 'ERR_STATE_DICT');
    assert.match((e as Error).message, 'head.0.weight: checkpoint [3, 5], module [3, 4]');
  }
  // Plain objects load too.
  const obj = Object.fromEntries(a.stateDict());
  assert.equal(new Net().loadStateDict(obj), { missingKeys: [], unexpectedKeys: [] });
});

test('train/eval, apply, zeroGrad and to(dtype)', () => {
  const net = new Net();
  assert.ok([...net.modules()].every((m) => m.training));
  net.eval();
  assert.ok([...net.modules()].every((m) => !m.training));
  net.train();
  assert.ok(net.layers.training);
  const visited: string[] = [];
  net.head.apply((m) => visited.push(m.constructor.name));
  assert.equal(visited, ['Linear', 'Tanh', 'Sequential']);

  net
    .forward(kiln.randn([3, 4]))
    .sum()
    .backward();
  assert.ok(net.parameters().every((p) => p.grad !== null));
  net.zeroGrad(false);
  assert.ok(net.parameters().every((p) => (p.grad!.abs().sum().item() as number) === 0));
  net.zeroGrad();
  assert.ok(net.parameters().every((p) => p.grad === null));

  net.to('float64');
  assert.ok(net.parameters().every((p) => p.dtype === 'float64' && p instanceof nn.Parameter && p.requiresGrad));
  assert.is(net.forward(kiln.randn([2, 4], { dtype: 'float64' })).dtype, 'float64');
  if (!kiln.cuda.isAvailable())
    assert.throws(
      () => net.to('cuda'),
      (e: kiln.KilnError) => e.code === (kiln.info().cuda ? 'ERR_DEVICE' : 'ERR_NOT_COMPILED'),
    );
});

test('containers: Sequential, ModuleList, ModuleDict', () => {
  const seq = new nn.Sequential(new nn.Linear(3, 5), new nn.ReLU(), new nn.Linear(5, 2));
  assert.is(seq.length, 3);
  assert.instance(seq.at(-1), nn.Linear);
  const x = kiln.randn([4, 3]);
  const l0 = seq.at(0) as kiln.nn.Linear,
    l2 = seq.at(2) as kiln.nn.Linear;
  const want = F.linear(F.linear(x, l0.weight, l0.bias).relu(), l2.weight, l2.bias);
  assert.equal((seq.forward(x) as kiln.Tensor).toArray(), want.toArray());
  seq.append(new nn.Identity());
  assert.is(seq.length, 4);
  assert.throws(
    () => seq.at(7),
    (e: kiln.KilnError) => e.code === 'ERR_INDEX',
  );

  const list = new nn.ModuleList([new nn.Linear(2, 2)]).extend([new nn.Tanh(), new nn.Linear(2, 1)]);
  assert.is(list.length, 3);
  assert.equal([...list.stateDict().keys()], ['0.weight', '0.bias', '2.weight', '2.bias']);
  assert.throws(
    () => list.forward(),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );

  const dict = new nn.ModuleDict({ encoder: new nn.Linear(2, 3), decoder: new nn.Linear(3, 2) });
  assert.equal(dict.keys(), ['encoder', 'decoder']);
  assert.ok(dict.has('decoder'));
  assert.equal([...dict.stateDict().keys()], ['encoder.weight', 'encoder.bias', 'decoder.weight', 'decoder.bias']);
  assert.throws(
    () => dict.set('training', new nn.ReLU()),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
});

test('Linear: PyTorch default init bounds, fused activation, errors', () => {
  kiln.manualSeed(3);
  const lin = new nn.Linear(400, 300);
  const bound = 1 / Math.sqrt(400);
  const w = lin.weight.data() as Float32Array,
    b = lin.bias!.data() as Float32Array;
  const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(maxAbs(w) <= bound && maxAbs(w) > 0.95 * bound, `weight within ±1/sqrt(in): ${maxAbs(w)}`);
  assert.ok(maxAbs(b) <= bound && maxAbs(b) > 0.9 * bound);
  const x = kiln.randn([7, 400]);
  const ref = x.matmul(lin.weight.t()).add(lin.bias!);
  const got = lin.forward(x);
  assert.ok((got.sub(ref).abs().amax().item() as number) < 1e-4);
  const fused = new nn.Linear(400, 300, { activation: 'relu' });
  fused.loadStateDict(lin.stateDict());
  assert.ok((fused.forward(x).sub(ref.relu()).abs().amax().item() as number) < 1e-4);
  assert.equal(new nn.Linear(3, 2, { bias: false }).parameters().length, 1);
  assert.throws(
    () => new nn.Linear(-1, 2),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  assert.is(new nn.Linear(2, 2, { dtype: 'float64' }).weight.dtype, 'float64');
});

test('activations against their formulas; Flatten and Identity', () => {
  const xs = [-3, -0.5, 0, 0.25, 2];
  const x = kiln.tensor(xs, { dtype: 'float64' });
  const close = (t: kiln.Tensor, f: (v: number) => number, label: string) => {
    const got = t.toArray() as number[];
    xs.forEach((v, i) => assert.ok(Math.abs(got[i] - f(v)) < 1e-12, `${label}(${v}): ${got[i]} vs ${f(v)}`));
  };
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  close(new nn.ReLU().forward(x), (v) => Math.max(v, 0), 'relu');
  close(new nn.LeakyReLU(0.2).forward(x), (v) => (v > 0 ? v : 0.2 * v), 'leakyRelu');
  close(new nn.SiLU().forward(x), (v) => v * sig(v), 'silu');
  close(new nn.Tanh().forward(x), Math.tanh, 'tanh');
  close(new nn.Sigmoid().forward(x), sig, 'sigmoid');
  close(
    new nn.GELU('tanh').forward(x),
    (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
    'gelu tanh',
  );
  const g = new nn.GELU().forward(kiln.tensor([-1, 1], { dtype: 'float64' })).toArray() as number[];
  assert.ok(Math.abs(g[1] - 0.8413447460685429) < 1e-12 && Math.abs(g[0] + 0.15865525393145707) < 1e-12);
  const sm = new nn.Softmax(0).forward(x).toArray() as number[];
  const z = xs.reduce((s, v) => s + Math.exp(v), 0);
  xs.forEach((v, i) => assert.ok(Math.abs(sm[i] - Math.exp(v) / z) < 1e-12));
  const lsm = new nn.LogSoftmax(0).forward(x).toArray() as number[];
  xs.forEach((v, i) => assert.ok(Math.abs(lsm[i] - (v - Math.log(z))) < 1e-12));
  assert.equal(new nn.Flatten().forward(kiln.zeros([2, 3, 4])).shape, [2, 12]);
  assert.equal(new nn.Flatten(0, 1).forward(kiln.zeros([2, 3, 4])).shape, [6, 4]);
  const id = kiln.zeros([3]);
  assert.ok(new nn.Identity().forward(id) === id);
});

test('a small MLP trains with its parameters', () => {
  kiln.manualSeed(4);
  const model = new nn.Sequential(new nn.Linear(2, 16, { activation: 'relu' }), new nn.Linear(16, 1));
  const x = kiln.randn([64, 2]);
  const y = x.select(1, 0).mul(2).sub(x.select(1, 1)).unsqueeze(1);
  const lossAt = () => kiln.noGrad(() => (model.forward(x) as kiln.Tensor).sub(y).square().mean().item() as number);
  const first = lossAt();
  for (let step = 0; step < 200; step++) {
    model.zeroGrad();
    (model.forward(x) as kiln.Tensor).sub(y).square().mean().backward();
    kiln.noGrad(() => {
      for (const p of model.parameters()) p.sub_(p.grad!.mul(0.05));
    });
  }
  assert.ok(lossAt() < 0.05 * first, `loss ${first} -> ${lossAt()}`);
});

test.run();
