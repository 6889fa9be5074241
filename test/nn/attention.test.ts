// Fused attention beyond the op-table suites: bit-identical results for 1, 2 and 3 threads,
// dropout decisions regenerated in the backward pass, second-order gradients, the fused and
// weights paths of MultiheadAttention, and a cross-check with PyTorch's composite attention.
import { spawnSync } from 'child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { assertSameBitsAcrossThreads } from '../helpers/threads';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';

const F = kiln.nn.functional;
const maxDiff = (a: kiln.Tensor, b: kiln.Tensor) => a.sub(b).abs().amax().item() as number;

test('1, 2 and 3 threads give identical bits (forward and backward)', () => {
  assertSameBitsAcrossThreads('attention_fingerprint.ts');
});

test('dropout: kept probabilities scaled by 1/(1-p), same seed same bits, backward regenerates', () => {
  // v = identity makes the output the (dropped) probability matrix itself.
  const Sq = 40,
    Sk = 64,
    p = 0.3;
  kiln.manualSeed(5);
  const q = kiln.randn([2, 3, Sq, 8]),
    k = kiln.randn([2, 3, Sk, 8]);
  const v = kiln.eye(Sk).expand([2, 3, Sk, Sk]);
  const probs = F.scaledDotProductAttention(q, k, v);
  kiln.manualSeed(21);
  const a = F.scaledDotProductAttention(q, k, v, { dropoutP: p });
  const b = F.scaledDotProductAttention(q, k, v, { dropoutP: p });
  kiln.manualSeed(21);
  const a2 = F.scaledDotProductAttention(q, k, v, { dropoutP: p });
  assert.equal(a2.toArray(), a.toArray(), 'the same seed gives the same decisions');
  assert.not.equal(b.toArray(), a.toArray(), 'the generator advances');
  const got = a.data() as Float32Array,
    want = probs.data() as Float32Array;
  let dropped = 0;
  for (let i = 0; i < got.length; i++) {
    if (got[i] === 0) dropped++;
    else assert.ok(Math.abs(got[i] - want[i] / (1 - p)) <= 1e-6, `element ${i}: ${got[i]} vs ${want[i] / (1 - p)}`);
  }
  const frac = dropped / got.length;
  assert.ok(Math.abs(frac - p) < 0.02, `dropped fraction ${frac}`);
  // Backward with dropout equals the composite gradient through the same kept mask.
  const keep = a.ne(0).to('float32');
  const qd = q.detach().requiresGrad_(),
    kd = k.detach().requiresGrad_(),
    vd = kiln.randn([2, 3, Sk, 5]).requiresGrad_();
  const w = kiln.randn([2, 3, Sq, 5]);
  kiln.manualSeed(21);
  F.scaledDotProductAttention(qd, kd, vd, { dropoutP: p }).mul(w).sum().backward();
  const q2 = q.detach().requiresGrad_(),
    k2 = k.detach().requiresGrad_(),
    v2 = vd.detach().requiresGrad_();
  const pr = q2
    .matmul(k2.transpose(-1, -2))
    .mul(1 / Math.sqrt(8))
    .softmax(-1);
  pr.mul(keep)
    .mul(1 / (1 - p))
    .matmul(v2)
    .mul(w)
    .sum()
    .backward();
  for (const [x, y] of [
    [qd, q2],
    [kd, k2],
    [vd, v2],
  ])
    assert.ok(maxDiff(x.grad!, y.grad!) < 1e-4, `dropout gradient differs by ${maxDiff(x.grad!, y.grad!)}`);
});

test('second-order gradients (no dropout) match finite differences; with dropout they throw', () => {
  const f64 = (s: number[]) => kiln.randn(s, { dtype: 'float64' }).requiresGrad_();
  kiln.gradgradcheck(
    (q, k, v) => F.scaledDotProductAttention(q, k, v, { isCausal: true }),
    [f64([1, 2, 3, 2]), f64([1, 1, 4, 2]), f64([1, 1, 4, 3])],
  );
  const mask = kiln.tensor([
    [true, false, true],
    [true, true, false],
  ]);
  kiln.gradgradcheck(
    (q, k, v) => F.scaledDotProductAttention(q, k, v, { attnMask: mask }),
    [f64([2, 2]), f64([3, 2]), f64([3, 2])],
  );
  const q = f64([2, 3]),
    k = f64([4, 3]),
    v = f64([4, 3]);
  const out = F.scaledDotProductAttention(q, k, v, { dropoutP: 0.5 });
  assert.throws(
    () => kiln.autograd.grad(out.sum(), [q], { createGraph: true }),
    (e: kiln.KilnError) => e.code === 'ERR_AUTOGRAD',
  );
});

test('MultiheadAttention: fused path (needWeights false) equals the weights path for every mask kind', () => {
  kiln.manualSeed(8);
  const E = 12,
    H = 3,
    B = 2,
    S = 7;
  const mha = new kiln.nn.MultiheadAttention(E, H, { batchFirst: true });
  const x = kiln.randn([B, S, E]);
  const pad = kiln.tensor([
    [false, false, false, false, false, true, true],
    [false, false, false, false, false, false, false],
  ]);
  const boolMask = kiln.rand([S, S]).gt(0.7).logicalAnd(kiln.eye(S).eq(0));
  const floatMask = kiln.randn([B * H, S, S]);
  const variants: [string, kiln.nn.MhaForwardOptions][] = [
    ['none', {}],
    ['causal', { isCausal: true }],
    ['key padding', { keyPaddingMask: pad }],
    ['bool mask + padding + causal', { attnMask: boolMask, keyPaddingMask: pad, isCausal: true }],
    ['float mask + padding', { attnMask: floatMask, keyPaddingMask: pad }],
  ];
  for (const [name, o] of variants) {
    const [fused] = mha.forward(x, x, x, { ...o, needWeights: false });
    const [ref] = mha.forward(x, x, x, { ...o, needWeights: true });
    assert.ok(maxDiff(fused, ref) < 1e-5, `${name}: ${maxDiff(fused, ref)}`);
  }
});

const PY_SDPA = `
import json, sys, torch
cases = json.load(sys.stdin)
res = []
for c in cases:
    q = torch.tensor(c['q'], dtype=torch.float64, requires_grad=True)
    k = torch.tensor(c['k'], dtype=torch.float64, requires_grad=True)
    v = torch.tensor(c['v'], dtype=torch.float64, requires_grad=True)
    g = q.shape[-3] // k.shape[-3]
    kr, vr = k.repeat_interleave(g, dim=-3), v.repeat_interleave(g, dim=-3)
    s = q @ kr.transpose(-1, -2) * c['scale']
    if c['causal']:
        s = s.masked_fill(~torch.ones(s.shape[-2], s.shape[-1], dtype=torch.bool).tril(), float('-inf'))
    if c['mask'] is not None:
        m = torch.tensor(c['mask'], dtype=torch.float64)
        s = s.masked_fill(m == 0, float('-inf')) if c['maskBool'] else s + m
    o = s.softmax(-1) @ vr
    w = torch.tensor(c['w'], dtype=torch.float64)
    (o * w).sum().backward()
    res.append({'out': o.flatten().tolist(), 'dq': q.grad.flatten().tolist(), 'dk': k.grad.flatten().tolist(), 'dv': v.grad.flatten().tolist()})
print(json.dumps(res))
`;

test(`matches PyTorch's composite attention, forward and gradients${torchSuffix}`, () => {
  if (skipWithoutTorch('attention comparison with PyTorch')) return;
  kiln.manualSeed(31);
  const specs: { q: number[]; k: number[]; v: number[]; causal?: boolean; mask?: number[]; bool?: boolean }[] = [
    { q: [2, 4, 37, 16], k: [2, 2, 53, 16], v: [2, 2, 53, 9] },
    { q: [1, 2, 70, 32], k: [1, 2, 45, 32], v: [1, 2, 45, 32], causal: true },
    { q: [2, 2, 19, 8], k: [2, 1, 30, 8], v: [2, 1, 30, 8], mask: [19, 30], bool: true },
    { q: [2, 3, 11, 5], k: [2, 3, 140, 5], v: [2, 3, 140, 7], mask: [2, 1, 1, 140] },
  ];
  const payload: unknown[] = [];
  const runs: { t: Record<string, kiln.Tensor>; opts: kiln.nn.SdpaOptions; w: kiln.Tensor }[] = [];
  for (const s of specs) {
    const q = kiln.randn(s.q, { dtype: 'float64' }),
      k = kiln.randn(s.k, { dtype: 'float64' }),
      v = kiln.randn(s.v, { dtype: 'float64' });
    const mask = s.mask ? (s.bool ? kiln.rand(s.mask).gt(0.3) : kiln.randn(s.mask, { dtype: 'float64' })) : null;
    const scale = 1 / Math.sqrt(s.q[3]);
    const w = kiln.randn([s.q[0], s.q[1], s.q[2], s.v[3]], { dtype: 'float64' });
    payload.push({
      q: q.toArray(),
      k: k.toArray(),
      v: v.toArray(),
      w: w.toArray(),
      scale,
      causal: !!s.causal,
      mask: mask ? mask.to('float64').toArray() : null,
      maskBool: !!s.bool,
    });
    runs.push({ t: { q, k, v }, opts: { attnMask: mask, isCausal: !!s.causal }, w });
  }
  const r = spawnSync(PY, ['-c', PY_SDPA], { input: JSON.stringify(payload), encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.is(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as Record<string, number[]>[];
  runs.forEach((run, i) => {
    for (const dtype of ['float64', 'float32'] as const) {
      const [q, k, v] = ['q', 'k', 'v'].map((n) => run.t[n].to(dtype).detach().requiresGrad_());
      const m =
        run.opts.attnMask && run.opts.attnMask.dtype !== 'bool' ? run.opts.attnMask.to(dtype) : run.opts.attnMask;
      const out = F.scaledDotProductAttention(q, k, v, { ...run.opts, attnMask: m });
      out.mul(run.w.to(dtype)).sum().backward();
      const tol = dtype === 'float64' ? 1e-10 : 2e-4;
      for (const [name, t] of [
        ['out', out],
        ['dq', q.grad!],
        ['dk', k.grad!],
        ['dv', v.grad!],
      ] as const) {
        const got = t.contiguous()._numbers();
        const ref = want[i][name];
        assert.is(got.length, ref.length);
        let worst = 0;
        for (let j = 0; j < got.length; j++)
          worst = Math.max(worst, Math.abs(got[j] - ref[j]) / Math.max(1, Math.abs(ref[j])));
        assert.ok(worst < tol, `case ${i} ${dtype} ${name}: differs from PyTorch by ${worst}`);
      }
    }
  });
});

test.run();
