// Norm, embedding, dropout, positional, attention and Transformer layers: forward against
// references computed here, train vs eval behaviour, PyTorch's initialisation, and, when Debian's
// torch is installed, the same weights loaded into PyTorch's modules (which checks the state-dict
// keys) giving the same outputs.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const { nn } = kiln;
const F = nn.functional;
const maxDiff = (a: kiln.Tensor, b: kiln.Tensor) => a.sub(b).abs().amax().item() as number;

test('layerNorm, rmsNorm, groupNorm against float64 formulas', () => {
  kiln.manualSeed(1);
  const x = kiln.randn([3, 4, 6], { dtype: 'float64' });
  const v = x.toArray() as number[][][];
  const w = kiln.randn([6], { dtype: 'float64' }),
    b = kiln.randn([6], { dtype: 'float64' });
  const wv = w.toArray() as number[],
    bv = b.toArray() as number[];
  const ln = F.layerNorm(x, [6], w, b).toArray() as number[][][];
  const rms = F.rmsNorm(x, [6], w, 1e-6).toArray() as number[][][];
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 4; j++) {
      const row = v[i][j];
      const mu = row.reduce((s, t) => s + t, 0) / 6;
      const va = row.reduce((s, t) => s + (t - mu) ** 2, 0) / 6;
      const ms = row.reduce((s, t) => s + t * t, 0) / 6;
      row.forEach((t, k) => {
        assert.ok(Math.abs(ln[i][j][k] - (((t - mu) / Math.sqrt(va + 1e-5)) * wv[k] + bv[k])) < 1e-12);
        assert.ok(Math.abs(rms[i][j][k] - (t / Math.sqrt(ms + 1e-6)) * wv[k]) < 1e-12);
      });
    }
  // groupNorm: 2 groups of 2 channels of [2, 4, 3].
  const g = kiln.randn([2, 4, 3], { dtype: 'float64' });
  const gv = g.toArray() as number[][][];
  const gn = F.groupNorm(g, 2).toArray() as number[][][];
  for (let n = 0; n < 2; n++)
    for (let grp = 0; grp < 2; grp++) {
      const vals = [...gv[n][2 * grp], ...gv[n][2 * grp + 1]];
      const mu = vals.reduce((s, t) => s + t, 0) / 6;
      const va = vals.reduce((s, t) => s + (t - mu) ** 2, 0) / 6;
      for (const c of [2 * grp, 2 * grp + 1])
        gv[n][c].forEach((t, k) => assert.ok(Math.abs(gn[n][c][k] - (t - mu) / Math.sqrt(va + 1e-5)) < 1e-12));
    }
  assert.throws(
    () => F.layerNorm(x, [5]),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
  assert.throws(
    () => new nn.GroupNorm(3, 4),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  assert.equal([...new nn.LayerNorm(6).stateDict().keys()], ['weight', 'bias']);
});

test('groupNorm with weight and bias: the float64 formula, gradients by finite differences, float32, errors', () => {
  kiln.manualSeed(5);
  const x = kiln.randn([2, 6, 3, 2], { dtype: 'float64' }),
    w = kiln.randn([6], { dtype: 'float64' }),
    b = kiln.randn([6], { dtype: 'float64' });
  const xv = x.toArray() as number[][][][],
    wv = w.toArray() as number[],
    bv = b.toArray() as number[];
  const y = F.groupNorm(x, 3, w, b).toArray() as number[][][][];
  for (let n = 0; n < 2; n++)
    for (let grp = 0; grp < 3; grp++) {
      const vals = [2 * grp, 2 * grp + 1].flatMap((c) => xv[n][c].flat());
      const mu = vals.reduce((s, t) => s + t, 0) / vals.length;
      const va = vals.reduce((s, t) => s + (t - mu) ** 2, 0) / vals.length;
      for (const c of [2 * grp, 2 * grp + 1])
        xv[n][c].flat().forEach((t, k) => {
          const want = ((t - mu) / Math.sqrt(va + 1e-5)) * wv[c] + bv[c];
          assert.ok(Math.abs(y[n][c][k >> 1][k & 1] - want) < 1e-12, `n ${n} c ${c} ${k}`);
        });
    }
  for (const args of [
    [w, b],
    [w, null],
    [null, b],
    [null, null],
  ] as [kiln.Tensor | null, kiln.Tensor | null][]) {
    const ins = [x, ...args.filter((t): t is kiln.Tensor => t !== null)].map((t) => t.detach().requiresGrad_());
    const f = (...t: kiln.Tensor[]) => F.groupNorm(t[0], 3, args[0] ? t[1] : null, args[1] ? t[args[0] ? 2 : 1] : null);
    kiln.gradcheck(f, ins);
  }
  kiln.gradgradcheck(
    (xi, wi, bi) => F.groupNorm(xi, 2, wi, bi),
    [x, w, b].map((t) => t.detach().requiresGrad_()),
  );
  // float32 (the ISA's kernels) and bf16 (widened) against float64
  const y32 = F.groupNorm(x.to('float32'), 3, w.to('float32'), b.to('float32')).to('float64');
  const err32 = y32
    .sub(F.groupNorm(x, 3, w, b))
    .abs()
    .max()
    .item() as number;
  assert.ok(err32 < 1e-5, `float32 off by ${err32}`);
  assert.equal(F.groupNorm(x.to('bfloat16'), 3).dtype, 'bfloat16');
  assert.throws(
    () => F.groupNorm(x, 4),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  assert.throws(
    () => F.groupNorm(x, 3, kiln.ones([5], { dtype: 'float64' })),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
});

test('groupNorm backward (the fused kernel): float32 against float64, and only the gradients asked for', () => {
  kiln.manualSeed(9);
  const x = kiln.randn([3, 12, 9, 11], { dtype: 'float64' }).mul(3).add(1),
    w = kiln.randn([12], { dtype: 'float64' }),
    b = kiln.randn([12], { dtype: 'float64' }),
    gy = kiln.randn([3, 12, 9, 11], { dtype: 'float64' });
  const grads = (dtype: kiln.DType, which: boolean[]) => {
    const ins = [x, w, b].map((t, i) => {
      const c = t.to(dtype).detach();
      return which[i] ? c.requiresGrad_() : c;
    });
    F.groupNorm(ins[0], 4, ins[1], ins[2]).backward(gy.to(dtype));
    return ins.map((t) => (t.grad ? t.grad.to('float64') : null));
  };
  const want = grads('float64', [true, true, true]);
  const got = grads('float32', [true, true, true]);
  for (let i = 0; i < 3; i++) {
    const scale = want[i]!.abs().max().item() as number;
    const err = got[i]!.sub(want[i]!).abs().max().item() as number;
    assert.ok(err < 2e-5 * Math.max(1, scale), `input ${i}: float32 off by ${err} (scale ${scale})`);
  }
  // the weight alone: x and b get nothing, w's gradient is the full one's
  const only = grads('float64', [false, true, false]);
  assert.is(only[0], null);
  assert.is(only[2], null);
  assert.ok((only[1]!.sub(want[1]!).abs().max().item() as number) === 0, 'the weight gradient alone differs');
});

test('BatchNorm: batch statistics and running-stat update in train, running stats in eval', () => {
  kiln.manualSeed(2);
  const bn = new nn.BatchNorm2d(3);
  assert.equal([...bn.stateDict().keys()], ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
  const x = kiln.randn([4, 3, 2, 2]).mul(2).add(1);
  const y = bn.forward(x);
  const mean = x.mean([0, 2, 3]),
    varB = x.var([0, 2, 3], { correction: 0 }),
    varU = x.var([0, 2, 3]);
  const ref = x.sub(mean.reshape([1, 3, 1, 1])).div(varB.add(1e-5).sqrt().reshape([1, 3, 1, 1]));
  assert.ok(maxDiff(y, ref) < 1e-5);
  assert.ok(maxDiff(bn.runningMean!, mean.mul(0.1)) < 1e-6);
  assert.ok(maxDiff(bn.runningVar!, varU.mul(0.1).add(0.9)) < 1e-6);
  assert.is(bn.numBatchesTracked!.item(), 1);
  bn.eval();
  const ye = bn.forward(x);
  const refE = x.sub(bn.runningMean!.reshape([1, 3, 1, 1])).div(bn.runningVar!.add(1e-5).sqrt().reshape([1, 3, 1, 1]));
  assert.ok(maxDiff(ye, refE) < 1e-5);
  assert.is(bn.numBatchesTracked!.item(), 1, 'eval does not count batches');
  const bn1 = new nn.BatchNorm1d(5);
  assert.equal(bn1.forward(kiln.randn([8, 5])).shape, [8, 5]);
  assert.throws(
    () => bn1.forward(kiln.randn([8, 4])),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
});

test('Embedding (paddingIdx gets no gradient), Dropout train/eval, positional embeddings', () => {
  kiln.manualSeed(3);
  const emb = new nn.Embedding(10, 4, { paddingIdx: 0 });
  assert.equal(emb.weight.narrow(0, 0, 1).toArray(), [[0, 0, 0, 0]]);
  const idx = kiln.tensor([
    [1, 0, 3],
    [3, 9, 0],
  ]);
  const out = emb.forward(idx);
  assert.equal(out.shape, [2, 3, 4]);
  assert.equal(out.select(0, 1).select(0, 1).toArray(), emb.weight.select(0, 9).toArray());
  out.sum().backward();
  const g = emb.weight.grad!.toArray() as number[][];
  assert.equal(g[0], [0, 0, 0, 0]);
  assert.equal(g[3], [2, 2, 2, 2]);
  assert.equal(g[2], [0, 0, 0, 0]);
  assert.throws(
    () => emb.forward(kiln.tensor([10])),
    (e: kiln.KilnError) => e.code === 'ERR_INDEX',
  );

  const d = new nn.Dropout(0.25);
  const x = kiln.ones([100000]);
  const y = d.forward(x);
  const zeros = (y.eq(0).sum().item() as number) / 100000;
  assert.ok(Math.abs(zeros - 0.25) < 0.01, `dropped ${zeros}`);
  assert.ok(Math.abs((y.max().item() as number) - 1 / 0.75) < 1e-6);
  d.eval();
  assert.ok(d.forward(x) === x);

  const pe = new nn.SinusoidalPositionalEmbedding(50, 6);
  const z = pe
    .forward(kiln.zeros([2, 7, 6]))
    .select(0, 1)
    .toArray() as number[][];
  for (let pos = 0; pos < 7; pos++)
    for (let i = 0; i < 6; i++) {
      const ang = pos / 10000 ** ((2 * Math.floor(i / 2)) / 6);
      assert.ok(Math.abs(z[pos][i] - (i % 2 ? Math.cos(ang) : Math.sin(ang))) < 1e-5);
    }
  assert.equal([...pe.stateDict().keys()], [], 'the sinusoid is not saved');
  const lp = new nn.LearnedPositionalEmbedding(8, 4);
  assert.equal([...lp.stateDict().keys()], ['weight']);
  assert.throws(
    () => lp.forward(kiln.zeros([1, 9, 4])),
    (e: kiln.KilnError) => e.code === 'ERR_SHAPE',
  );
});

test('MultiheadAttention against attention written out per head', () => {
  kiln.manualSeed(4);
  const E = 8,
    H = 2,
    B = 2,
    S = 5;
  const mha = new nn.MultiheadAttention(E, H, { batchFirst: true });
  assert.equal([...mha.stateDict().keys()], ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']);
  const x = kiln.randn([B, S, E]);
  const pad = kiln.tensor([
    [false, false, false, true, true],
    [false, false, false, false, false],
  ]);
  const [out, w] = mha.forward(x, x, x, { keyPaddingMask: pad });
  // Reference: each head by hand.
  const W = mha.inProjWeight,
    bias = mha.inProjBias!;
  const q = x.matmul(W.narrow(0, 0, E).t()).add(bias.narrow(0, 0, E));
  const k = x.matmul(W.narrow(0, E, E).t()).add(bias.narrow(0, E, E));
  const v = x.matmul(W.narrow(0, 2 * E, E).t()).add(bias.narrow(0, 2 * E, E));
  const heads: kiln.Tensor[] = [];
  const probs: kiln.Tensor[] = [];
  for (let h = 0; h < H; h++) {
    const sl = (t: kiln.Tensor) => t.narrow(2, h * 4, 4);
    let s = sl(q).matmul(sl(k).transpose(1, 2)).div(2);
    s = s.maskedFill(pad.unsqueeze(1), -Infinity);
    const p = s.softmax(-1);
    probs.push(p);
    heads.push(p.matmul(sl(v)));
  }
  const ref = kiln.cat(heads, 2).matmul(mha.outProj.weight.t()).add(mha.outProj.bias!);
  assert.ok(maxDiff(out, ref) < 1e-5, `output differs by ${maxDiff(out, ref)}`);
  assert.ok(maxDiff(w!, probs[0].add(probs[1]).div(2)) < 1e-6);
  assert.equal((w!.toArray() as number[][][])[0][2].slice(3), [0, 0], 'padded keys get no weight');
  // Causal: query i sees keys <= i; sequence-first layout by default.
  const mhaS = new nn.MultiheadAttention(E, H);
  const [, wc] = mhaS.forward(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), { isCausal: true });
  const wcv = wc!.toArray() as number[][][];
  assert.ok(wcv[0][1].slice(2).every((t) => t === 0) && wcv[1][0][0] === 1);
  assert.throws(
    () => new nn.MultiheadAttention(10, 3),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  // scaledDotProductAttention: boolean mask means "may attend".
  const sd = F.scaledDotProductAttention(q, k, v, { isCausal: true });
  const lower = kiln
    .arange(0, S, 1)
    .unsqueeze(1)
    .ge(kiln.arange(0, S, 1).unsqueeze(0));
  const sm = F.scaledDotProductAttention(q, k, v, { attnMask: lower });
  assert.ok(maxDiff(sd, sm) < 1e-6);
});

test('TransformerEncoder: independent clones; post- and pre-norm formulas; train vs eval', () => {
  kiln.manualSeed(5);
  const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0.1, batchFirst: true });
  const enc = new nn.TransformerEncoder(layer, 2);
  const w0 = (enc.layers.at(0) as kiln.nn.TransformerEncoderLayer).linear1.weight,
    w1 = (enc.layers.at(1) as kiln.nn.TransformerEncoderLayer).linear1.weight;
  assert.ok(w0 !== w1 && w0 !== layer.linear1.weight);
  assert.equal(w0.toArray(), w1.toArray());
  assert.is(enc.parameters().length, 2 * layer.parameters().length);
  assert.ok([...enc.stateDict().keys()].includes('layers.1.self_attn.in_proj_weight'));
  const x = kiln.randn([3, 4, 8]);
  enc.eval();
  const a = enc.forward(x),
    b = enc.forward(x);
  assert.equal(a.toArray(), b.toArray(), 'eval is deterministic');
  enc.train();
  assert.not.equal(enc.forward(x).toArray(), a.toArray(), 'dropout is on in train');
  // Post-norm written out with the layer's own parts (eval: no dropout).
  layer.eval();
  const sa = (t: kiln.Tensor) => layer.selfAttn.forward(t, t, t, { needWeights: false })[0];
  const ff = (t: kiln.Tensor) => layer.linear2.forward(layer.linear1.forward(t));
  const h = layer.norm1.forward(x.add(sa(x)));
  assert.ok(maxDiff(layer.forward(x), layer.norm2.forward(h.add(ff(h)))) < 1e-5);
  const pre = new nn.TransformerEncoderLayer(8, 2, {
    dimFeedforward: 16,
    dropout: 0,
    batchFirst: true,
    normFirst: true,
  });
  const saP = (t: kiln.Tensor) => pre.selfAttn.forward(t, t, t, { needWeights: false })[0];
  const h2 = x.add(saP(pre.norm1.forward(x)));
  const want = h2.add(pre.linear2.forward(pre.linear1.forward(pre.norm2.forward(h2))));
  assert.ok(maxDiff(pre.forward(x), want) < 1e-5);
});

const PY_CHECK = `
import json, struct, sys, torch
DT = {'F32': torch.float32, 'I64': torch.int64, 'BOOL': torch.bool}
b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); t = {}
for k, v in h.items():
    if k == '__metadata__': continue
    s, e = v['data_offsets']; t[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=DT[v['dtype']]).reshape(v['shape'])
torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=(sys.argv[2] == '1'), activation='gelu')
enc = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
sd = {k[4:]: v for k, v in t.items() if k.startswith('enc.')}
enc.load_state_dict(sd, strict=True)
enc.eval()
with torch.no_grad():
    y = enc(t['x'], src_key_padding_mask=t['pad'])
print(json.dumps(y.tolist()))
`;

test(`TransformerEncoder matches PyTorch's with the same weights${torchSuffix}`, () => {
  if (skipWithoutTorch('Transformer comparison with PyTorch')) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-tf-'));
  try {
    for (const normFirst of [false, true]) {
      kiln.manualSeed(6);
      const layer = new nn.TransformerEncoderLayer(8, 2, {
        dimFeedforward: 16,
        dropout: 0,
        batchFirst: true,
        normFirst,
        activation: 'gelu',
      });
      const enc = new nn.TransformerEncoder(layer, 2);
      for (const p of enc.parameters()) kiln.noGrad(() => p.add_(kiln.randn(p.shape.slice()).mul(0.1)));
      enc.eval();
      const x = kiln.randn([2, 5, 8]);
      const pad = kiln.tensor([
        [false, false, false, false, true],
        [false, false, false, false, false],
      ]);
      const tensors = new Map<string, kiln.Tensor>([
        ['x', x],
        ['pad', pad],
      ]);
      for (const [k, t] of enc.stateDict()) tensors.set(`enc.${k}`, t);
      const file = path.join(dir, 'tf.safetensors');
      kiln.saveSync(tensors, file);
      const r = spawnSync(PY, ['-c', PY_CHECK, file, normFirst ? '1' : '0'], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      const want = kiln.tensor(JSON.parse(r.stdout) as number[][][], { dtype: 'float32' });
      const got = enc.forward(x, { srcKeyPaddingMask: pad });
      assert.ok(maxDiff(got, want) < 1e-4, `normFirst ${normFirst}: differs from PyTorch by ${maxDiff(got, want)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
