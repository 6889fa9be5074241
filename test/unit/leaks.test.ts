// Nothing left behind: the forward and backward of layers, losses and common ops, disposed by hand,
// and training steps of common layers with each optimizer and gradient clipping, leave
// the live tensor count and bytes where they were once their results are disposed. A handle an op
// forgets keeps its memory alive until the garbage collector happens to run (the sweep is a
// backstop): in a training loop that is memory growing step after step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { settledMemory } from '../helpers/settled';

const live = () => {
  const m = kiln.memory();
  return { tensors: m.numTensors, bytes: m.numBytes };
};

// [name, inputs, f]: f(...inputs) and its backward, then every result disposed by hand (no scope,
// which would hide a forgotten handle).
const r = (s: number[]) => kiln.randn(s).requiresGrad_();
const F = kiln.nn.functional;
const CALLS: [string, () => kiln.Tensor[], (...a: kiln.Tensor[]) => kiln.Tensor][] = [
  ['mseLoss', () => [r([4, 5]), kiln.randn([4, 5])], (x, t) => F.mseLoss(x, t)],
  ['l1Loss', () => [r([4, 5]), kiln.randn([4, 5])], (x, t) => F.l1Loss(x, t)],
  ['smoothL1Loss', () => [r([4, 5]), kiln.randn([4, 5])], (x, t) => F.smoothL1Loss(x, t)],
  [
    'binaryCrossEntropy',
    () => [kiln.rand([4, 5]).mul(0.8).add(0.1).requiresGrad_(), kiln.rand([4, 5])],
    (x, t) => F.binaryCrossEntropy(x, t),
  ],
  [
    'binaryCrossEntropyWithLogits',
    () => [r([4, 5]), kiln.rand([4, 5])],
    (x, t) => F.binaryCrossEntropyWithLogits(x, t),
  ],
  ['klDiv', () => [r([4, 5]), kiln.rand([4, 5])], (x, t) => F.klDiv(x, t)],
  ['nllLoss', () => [r([4, 5]), kiln.tensor([0, 1, 2, 3])], (x, t) => F.nllLoss(x, t)],
  ['crossEntropy', () => [r([4, 5]), kiln.tensor([0, 1, 2, 3])], (x, t) => F.crossEntropy(x, t)],
  [
    'crossEntropy [N, C, d], int32 targets',
    () => [
      r([2, 5, 3]),
      kiln.tensor(
        [
          [0, 1, 2],
          [3, 4, 0],
        ],
        { dtype: 'int32' },
      ),
    ],
    (x, t) => F.crossEntropy(x, t, { reduction: 'none' }),
  ],
  ['mean', () => [r([4, 5])], (x) => x.mean(1)],
  ['var', () => [r([4, 5])], (x) => x.var(1)],
  ['std', () => [r([4, 5])], (x) => x.std(0)],
  ['sum over two dims', () => [r([2, 3, 4])], (x) => x.sum([0, 2])],
  ['layerNorm', () => [r([2, 4, 6])], (x) => F.layerNorm(x, [6])],
  ['rmsNorm', () => [r([2, 4, 6])], (x) => F.rmsNorm(x, [6])],
  ['groupNorm', () => [r([2, 4, 6])], (x) => F.groupNorm(x, 2)],
  ['batchNorm, training', () => [r([4, 3, 2])], (x) => F.batchNorm(x, null, null, { training: true })],
  ['batchNorm, eval', () => [r([4, 3, 2]), kiln.zeros([3]), kiln.ones([3])], (x, m, v) => F.batchNorm(x, m, v)],
  ['softmax', () => [r([4, 5])], (x) => F.softmax(x, 1)],
  ['logSoftmax', () => [r([4, 5])], (x) => F.logSoftmax(x, 0)],
  ['logsumexp', () => [r([4, 5])], (x) => x.logsumexp([0, 1])],
  ['gelu', () => [r([4, 5])], (x) => F.gelu(x)],
  ['silu', () => [r([4, 5])], (x) => F.silu(x)],
  ['dropout', () => [r([4, 5])], (x) => F.dropout(x, 0.2)],
  ['linear', () => [r([4, 5]), r([3, 5]), r([3])], (x, w, b) => F.linear(x, w, b)],
  ['conv2d', () => [r([1, 2, 6, 6]), r([3, 2, 3, 3]), r([3])], (x, w, b) => F.conv2d(x, w, b, { padding: 1 })],
  ['maxPool2d', () => [r([1, 2, 6, 6])], (x) => F.maxPool2d(x, 2)],
  ['avgPool2d', () => [r([1, 2, 6, 6])], (x) => F.avgPool2d(x, 2)],
  [
    'scaledDotProductAttention',
    () => [r([1, 2, 4, 8])],
    (q) => F.scaledDotProductAttention(q, q, q, { isCausal: true }),
  ],
  [
    'embedding',
    () => [
      r([6, 3]),
      kiln.tensor([
        [0, 1],
        [1, 2],
      ]),
    ],
    (w, i) => F.embedding(i, w),
  ],
  ['cat', () => [r([3, 4]), r([2, 4])], (a, b) => kiln.cat([a, b], 0)],
  ['pad', () => [r([3, 4])], (x) => F.pad(x, [1, 1])],
  ['pad, reflect', () => [r([2, 3, 4])], (x) => F.pad(x, [1, 2, 1, 0], { mode: 'reflect' })],
  ['where', () => [r([3, 4]), kiln.randn([3, 4]).gt(0)], (x, c) => kiln.where(c, x, 0)],
  ['gather', () => [r([3, 4]), kiln.zeros([3, 1], { dtype: 'int64' })], (x, i) => x.gather(1, i)],
  ['stack', () => [r([2, 3]), r([2, 3])], (a, b) => kiln.stack([a, b], 1)],
  ['leakyRelu', () => [r([4, 5])], (x) => F.leakyRelu(x, 0.1)],
  ['oneHot', () => [kiln.tensor([0, 2, 1])], (i) => F.oneHot(i, 3)],
  ['tril', () => [r([4, 4])], (x) => x.tril(-1)],
  ['conv1d', () => [r([1, 2, 8]), r([3, 2, 3])], (x, w) => F.conv1d(x, w)],
  ['clamp', () => [r([4, 5])], (x) => x.clamp(-0.5, 0.5)],
  ['maskedFill', () => [r([4, 5]), kiln.randn([4, 5]).gt(0)], (x, m) => x.maskedFill(m, 0)],
  ['mish, softplus', () => [r([4, 5])], (x) => F.mish(x)],
  ['cosineSimilarity', () => [r([3, 4]), r([3, 4])], (a, b) => F.cosineSimilarity(a, b)],
  ['cumsum', () => [r([3, 9])], (x) => x.cumsum(1)],
  ['cumprod', () => [r([3, 9])], (x) => x.cumprod(0)],
  ['interpolate, nearest', () => [r([1, 2, 3, 4])], (x) => F.interpolate(x, { size: [5, 7] })],
  ['interpolate, bilinear', () => [r([1, 2, 3, 4])], (x) => F.interpolate(x, { scaleFactor: 2, mode: 'bilinear' })],
  ['interpolate, bicubic', () => [r([1, 2, 3, 4])], (x) => F.interpolate(x, { size: [5, 3], mode: 'bicubic' })],
  ['interpolate, identity', () => [r([1, 2, 4])], (x) => F.interpolate(x, { size: 4, mode: 'linear' })],
  ['einsum, batched matmul', () => [r([2, 3, 4]), r([2, 4, 5])], (a, b) => kiln.einsum('bij,bjk->bik', a, b)],
  ['einsum, diagonal', () => [r([3, 3, 2])], (x) => kiln.einsum('iij->ji', x)],
  ['einsum, three operands', () => [r([2, 3]), r([1, 4]), r([4, 2])], (a, b, c) => kiln.einsum('ij,jk,kl', a, b, c)],
  ['einsum, identity', () => [r([2, 3])], (x) => kiln.einsum('ij', x)],
];

test('layers, losses and common ops: forward and backward leave nothing behind', () => {
  settledMemory(); // what earlier files left undisposed goes first
  const leaks: string[] = [];
  for (const [name, make, f] of CALLS) {
    const ins = make();
    const before = live();
    let out: kiln.Tensor;
    try {
      out = f(...ins);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
    const loss = out.sum();
    if (loss.requiresGrad) loss.backward();
    for (const t of [loss, out]) t.dispose();
    for (const t of ins) {
      t.grad?.dispose();
      t.grad = null;
    }
    const after = live();
    if (after.tensors !== before.tensors || after.bytes !== before.bytes)
      leaks.push(`${name}: ${after.tensors - before.tensors} tensors, ${after.bytes - before.bytes} bytes`);
    ins.forEach((t) => t.dispose());
  }
  assert.equal(leaks, []);
});

test('training steps (conv, batch norm, layer norm, attention, embedding, dropout; SGD, Adam, AdamW, clipping) hold steady', () => {
  const nn = kiln.nn;
  class Net extends nn.Module {
    emb = new nn.Embedding(10, 8);
    conv = new nn.Conv2d(2, 4, 3, { padding: 1 });
    bn = new nn.BatchNorm2d(4);
    ln = new nn.LayerNorm(8);
    fc = new nn.Linear(8, 3);
    forward(x: kiln.Tensor, ids: kiln.Tensor): kiln.Tensor {
      const F = nn.functional;
      const c = this.bn.forward(this.conv.forward(x)).relu(); // [2, 4, 4, 4]
      const e = this.ln.forward(this.emb.forward(ids)); // [2, 5, 8]
      const q = e.reshape([2, 1, 5, 8]);
      const a = F.scaledDotProductAttention(q, q, q, { isCausal: true }).reshape([2, 5, 8]);
      const h = F.dropout(F.gelu(a), 0.1).mean(1); // [2, 8]
      return this.fc.forward(h).add(c.mean([1, 2, 3]).unsqueeze(1));
    }
  }
  for (const make of [
    (p: kiln.Tensor[]) => new kiln.optim.SGD(p, { lr: 0.1, momentum: 0.9 }),
    (p: kiln.Tensor[]) => new kiln.optim.Adam(p, { lr: 1e-3 }),
    (p: kiln.Tensor[]) => new kiln.optim.AdamW(p, { lr: 1e-3 }),
  ]) {
    const net = new Net();
    const opt = make([...net.parameters()]);
    const x = kiln.randn([2, 2, 4, 4]),
      ids = kiln.randint(0, 10, [2, 5]),
      target = kiln.tensor([0, 2]);
    // The forward and backward in a scope (the documented loop: it disposes the step's
    // intermediates); the optimizer and the clipping outside any, where nothing would hide a
    // handle they forgot.
    const step = () => {
      opt.zeroGrad();
      kiln.scope(() => nn.functional.crossEntropy(net.forward(x, ids), target).backward());
      nn.utils.clipGradNorm_([...net.parameters()], 1.0).dispose();
      opt.step();
    };
    step(); // optimizer state and gradients come into being
    step();
    const before = live();
    for (let i = 0; i < 3; i++) step();
    const after = live();
    assert.equal(after, before, `${opt.constructor.name}: live tensors and bytes after three more steps`);
    for (const t of [x, ids, target]) t.dispose();
  }
});

test('a forward with grad on and no backward frees its saved tensors when its outputs go', () => {
  // Nodes are counted (autograd/node.ts): the saved handles go with the last handle or node that
  // holds the node, not when the garbage collector finds the graph.
  const x = kiln.randn([64, 256]).requiresGrad_();
  const before = live();
  for (let i = 0; i < 4; i++) x.softmax(-1).dispose(); // saves its output
  kiln.scope(() => {
    x.mul(2).exp().sum(); // a chain, its handles disposed by the scope
  });
  const h = x.mul(3); // kept: its node stays, so a loss made after its consumers went still backs up
  h.exp().dispose();
  const loss = h.sum();
  h.dispose(); // the loss's node holds h's
  loss.backward();
  assert.ok(x.grad, 'the gradient reached x through a disposed intermediate');
  assert.equal(Array.from(x.grad!.data() as Float32Array).slice(0, 3), [3, 3, 3]);
  loss.dispose();
  x.grad!.dispose();
  x.grad = null;
  assert.equal(live(), before, 'live tensors and bytes after the graphs went');
  x.dispose();
});

test('in-place ops under autograd, hooks, checkpoints, fold, EmbeddingBag, a decoder layer, a distribution and LBFGS hold steady', () => {
  const nn = kiln.nn;
  const F = nn.functional;
  class Net extends nn.Module {
    lin = new nn.Linear(8, 8);
    dec = new nn.TransformerDecoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, batchFirst: true });
    bag = new nn.EmbeddingBag(10, 8, { mode: 'mean' });
    loc = new nn.Parameter(kiln.zeros([8]));
    forward(tgt: kiln.Tensor, mem: kiln.Tensor, ids: kiln.Tensor, offsets: kiln.Tensor): kiln.Tensor {
      const h = this.lin.forward(tgt);
      h.add_(tgt); // in place, with history
      h.select(1, 0).mul_(2); // through a view: h is rebased
      h.relu_(); // saves h: the last write to it
      h.registerHook((g) => g.mul(1));
      const d = kiln.utils.checkpoint((t: kiln.Tensor) => this.dec.forward(t, mem), h); // [2, 5, 8]
      const u = F.fold(F.unfold(d.unsqueeze(1), [1, 2]), [5, 8], [1, 2]); // [2, 1, 5, 8]
      const b = this.bag.forward(ids, offsets); // [2, 8]
      const lp = new kiln.distributions.Normal(this.loc, 1).logProb(b).mean();
      return u.mean([1, 2]).add(b).square().mean().sub(lp);
    }
  }
  const tgt = kiln.randn([2, 5, 8]),
    mem = kiln.randn([2, 3, 8]),
    ids = kiln.tensor([1, 2, 4, 5, 4, 3]),
    offsets = kiln.tensor([0, 2]);
  for (const kind of ['sgd', 'lbfgs']) {
    const net = new Net();
    const params = [...net.parameters()];
    const opt =
      kind === 'sgd'
        ? new kiln.optim.SGD(params, { lr: 0.01, momentum: 0.9 })
        : new kiln.optim.LBFGS(params, { maxIter: 3, historySize: 2 });
    const closure = () => {
      opt.zeroGrad();
      return kiln.scope(() => {
        const loss = net.forward(tgt, mem, ids, offsets);
        loss.backward();
        return loss;
      });
    };
    const step = () => {
      if (kind === 'sgd') closure().dispose();
      else (opt as kiln.optim.LBFGS).step(closure)?.dispose();
      if (kind === 'sgd') opt.step();
    };
    step();
    step();
    settledMemory(); // earlier tests' garbage goes now, not in the middle of the count
    const before = live();
    for (let i = 0; i < 3; i++) step();
    const after = live(); // no more than before (a collection may still take older garbage)
    assert.ok(
      after.tensors <= before.tensors && after.bytes <= before.bytes,
      `${kind}: ${after.tensors - before.tensors} tensors, ${after.bytes - before.bytes} bytes more after three more steps`,
    );
  }
  for (const t of [tgt, mem, ids, offsets]) t.dispose();
});

test.run();
