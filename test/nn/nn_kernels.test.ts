// The fused nn kernels (GELU, SiLU, dropout, batch norm, embedding): bit-identical results for 1, 2
// and 3 threads, dropout's mask regenerated in backward, batch norm's double backward, the float32
// vector paths' accuracy against float64, and PyTorch cross-checks (skipped without torch).
import { spawnSync } from 'child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { REF, geluBackward, siluBackward } from '../../ts/ops/activation';
import { assertSameBitsAcrossThreads } from '../helpers/threads';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';

const F = kiln.nn.functional;

test('1, 2 and 3 threads give identical bits', () => {
  assertSameBitsAcrossThreads('nn_fingerprint.ts');
});

test('dropout: backward regenerates the forward mask; same seed, same mask; p = 0, eval and p = 1', () => {
  const x = kiln.rand([1000, 37]).add(0.5).requiresGrad_();
  kiln.manualSeed(5);
  const y = F.dropout(x, 0.4);
  const g = kiln.randn([1000, 37]);
  y.backward(g);
  const kept = y.ne(0).to('float32');
  const frac = kept.mean().item() as number;
  assert.ok(Math.abs(frac - 0.6) < 0.01, `kept ${frac}`);
  const scale = Math.fround(1 / 0.6);
  assert.equal(x.grad!.toArray(), g.mul(scale).mul(kept).toArray(), 'the gradient has the forward mask');
  assert.equal(y.toArray(), x.detach().mul(scale).mul(kept).toArray());
  kiln.manualSeed(5);
  assert.equal(F.dropout(x.detach(), 0.4).toArray(), y.detach().toArray(), 'same seed, same mask');
  assert.not.equal(F.dropout(x.detach(), 0.4).toArray(), y.detach().toArray(), 'the offset advances');
  assert.ok(F.dropout(x, 0) === x && F.dropout(x, 0.5, false) === x, 'identity without a copy');
  assert.is(F.dropout(x.detach(), 1).abs().sum().item(), 0);
  // a strided input gets the mask of its row-major element order
  const xt = kiln.randn([40, 30]);
  kiln.manualSeed(9);
  const a = F.dropout(xt.t(), 0.5);
  kiln.manualSeed(9);
  assert.equal(a.toArray(), F.dropout(xt.t().contiguous(), 0.5).toArray());
});

test('batchNorm: double backward matches finite differences (the gradient is written in ops under createGraph)', () => {
  const f = (s: number[]) => kiln.randn(s, { dtype: 'float64' }).requiresGrad_();
  const w = f([3]),
    b = f([3]);
  const bn = (x: kiln.Tensor, wi: kiln.Tensor, bi: kiln.Tensor) =>
    F.batchNorm(x, null, null, { weight: wi, bias: bi, training: true }).pow(2);
  kiln.gradgradcheck(bn, [f([4, 3, 2]), w, b]);
  kiln.gradcheck(bn, [f([5, 3]), w, b]);
});

// erfc by its continued fraction (z >= 2; float64-accurate there): the left tail of GELU, where
// 1 + erf(x) has cancelled away and only an erfc form keeps relative accuracy.
function erfcTail(z: number): number {
  let f = 0;
  for (let k = 300; k >= 1; k--) f = k / 2 / (z + f);
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
}

test('GELU keeps relative accuracy in its left tail (x in [-12, -3], forward and backward)', () => {
  const x32 = kiln.linspace(-12, -3, 9001).to('float32');
  const xs = x32.to('float64').toArray() as number[];
  const y = F.gelu(x32).toArray() as number[],
    g = geluBackward(kiln.onesLike(x32), x32).toArray() as number[];
  let wy = 0,
    wg = 0;
  xs.forEach((x, i) => {
    const cdf = 0.5 * erfcTail(-x / Math.SQRT2),
      pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
    wy = Math.max(wy, Math.abs(y[i] - x * cdf) / Math.abs(x * cdf));
    wg = Math.max(wg, Math.abs(g[i] - (cdf + x * pdf)) / Math.abs(cdf + x * pdf));
  });
  assert.ok(wy < 2e-6 && wg < 2e-6, `relative error ${wy} (forward), ${wg} (backward)`);
});

test("GELU at its table path's edges (interval ends k/4 and their neighbours, +-8) and at +-inf and NaN", () => {
  // AVX-512 reads GELU off 32 polynomial pieces on |x| < 8 (arch/gemm.inc) and sends x <= -8, +inf and
  // NaN to the erfc form: lanes of both kinds share vectors here.
  const xs: number[] = [];
  for (let k = -36; k <= 36; k++)
    for (const d of [-(2 ** -20), 0, 2 ** -20]) xs.push(Math.fround(k / 4 + d * Math.max(1, Math.abs(k / 4))));
  const x32 = kiln.tensor(xs, { dtype: 'float32' });
  const xv = x32.to('float64').toArray() as number[];
  const y = F.gelu(x32).toArray() as number[],
    g = geluBackward(kiln.onesLike(x32), x32).toArray() as number[];
  xv.forEach((x, i) => {
    for (const [got, want] of [
      [y[i], REF.gelu(x)],
      [g[i], REF.geluGrad(x)],
    ])
      assert.ok(Math.abs(got - want) <= 4 * 2 ** -23 * Math.max(1, Math.abs(want)), `x = ${x}: ${got} vs ${want}`);
  });
  const sp = kiln.tensor([NaN, Infinity, -Infinity, 0, -0], { dtype: 'float32' });
  // PyTorch's answers: gelu(-inf) = -inf * 0 and every gradient at an infinity is NaN (inf * 0).
  assert.equal(String(F.gelu(sp).toArray()), 'NaN,Infinity,NaN,0,0');
  assert.equal(String(geluBackward(kiln.onesLike(sp), sp).toArray()), 'NaN,NaN,NaN,0.5,0.5');
});

test('float32 vector paths stay within a few ulp of float64 (printed)', () => {
  const n = 1 << 18;
  const xs = kiln.rand([n], { dtype: 'float64' }).mul(24).sub(12);
  const x32 = xs.to('float32'),
    xv = x32.to('float64').toArray() as number[];
  const ones = kiln.onesLike(x32);
  const rows: [string, kiln.Tensor, (v: number) => number][] = [
    ['gelu', F.gelu(x32), REF.gelu],
    ['gelu tanh', F.gelu(x32, { approximate: 'tanh' }), REF.geluTanh],
    ['silu', F.silu(x32), REF.silu],
    ['gelu backward', geluBackward(ones, x32), REF.geluGrad],
    ['gelu tanh backward', geluBackward(ones, x32, 'tanh'), REF.geluTanhGrad],
    ['silu backward', siluBackward(ones, x32), REF.siluGrad],
  ];
  const lines: string[] = [];
  for (const [name, t, ref] of rows) {
    const got = t.toArray() as number[];
    let worst = 0;
    got.forEach((v, i) => {
      const want = ref(xv[i]);
      worst = Math.max(worst, Math.abs(v - want) / (2 ** -23 * Math.max(1, Math.abs(want))));
    });
    lines.push(`${name}: ${worst.toFixed(2)} ulp of max(1, |y|)`);
    assert.ok(worst < 8, `${name}: ${worst} ulp`);
  }
  console.log(`  float32 accuracy on [-12, 12] (${kiln.info().isa}): ${lines.join('; ')}`);
});

test(`matches PyTorch: gelu, silu, batch_norm train (outputs, gradients, running stats), embedding${torchSuffix}`, () => {
  if (skipWithoutTorch('nn kernels vs PyTorch')) return;
  kiln.manualSeed(11);
  const x = kiln.randn([6, 4, 5, 3], { dtype: 'float64' }).mul(2).add(1);
  const g = kiln.randn([6, 4, 5, 3], { dtype: 'float64' });
  const w = kiln.randn([4], { dtype: 'float64' }),
    b = kiln.randn([4], { dtype: 'float64' });
  const idx = kiln.randint(0, 7, [5, 3]);
  const emb = kiln.randn([7, 4], { dtype: 'float64' });
  const ge = kiln.randn([5, 3, 4], { dtype: 'float64' });
  const payload = JSON.stringify({
    x: x.toArray(),
    g: g.toArray(),
    w: w.toArray(),
    b: b.toArray(),
    idx: idx.toArray(),
    emb: emb.toArray(),
    ge: ge.toArray(),
  });
  const py = `
import json, sys, torch
import torch.nn.functional as F
d = json.loads(sys.stdin.read())
T = lambda k: torch.tensor(d[k], dtype=torch.float64)
out = {}
for name, fn in [('gelu', lambda t: F.gelu(t)), ('gelu_tanh', lambda t: F.gelu(t, approximate='tanh')), ('silu', F.silu)]:
    x = T('x').requires_grad_()
    y = fn(x); y.backward(T('g'))
    out[name] = [y.detach().flatten().tolist(), x.grad.flatten().tolist()]
x = T('x').requires_grad_(); w = T('w').requires_grad_(); b = T('b').requires_grad_()
rm = torch.zeros(4, dtype=torch.float64); rv = torch.ones(4, dtype=torch.float64)
y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2, eps=1e-4); y.backward(T('g'))
out['bn'] = [y.detach().flatten().tolist(), x.grad.flatten().tolist(), w.grad.tolist(), b.grad.tolist(), rm.tolist(), rv.tolist()]
e = T('emb').requires_grad_()
y = F.embedding(torch.tensor(d['idx']), e, padding_idx=2); y.backward(T('ge'))
out['emb'] = [y.detach().flatten().tolist(), e.grad.flatten().tolist()]
print(json.dumps(out))
`;
  const r = spawnSync(PY, ['-c', py], { input: payload, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as Record<string, number[][]>;
  const close = (got: kiln.Tensor, ref: number[], what: string) => {
    const a = got.contiguous().toArray() as unknown;
    const flat = (a as number[]).flat ? ((a as number[]).flat(4) as number[]) : [a as number];
    assert.is(flat.length, ref.length, what);
    flat.forEach((v, i) =>
      assert.ok(Math.abs(v - ref[i]) <= 1e-10 * Math.max(1, Math.abs(ref[i])), `${what} [${i}]: ${v} vs ${ref[i]}`),
    );
  };
  for (const [name, fn] of [
    ['gelu', (t: kiln.Tensor) => F.gelu(t)],
    ['gelu_tanh', (t: kiln.Tensor) => F.gelu(t, { approximate: 'tanh' })],
    ['silu', (t: kiln.Tensor) => F.silu(t)],
  ] as const) {
    const xi = x.detach().requiresGrad_();
    const y = fn(xi);
    y.backward(g);
    close(y, want[name][0], `${name} forward`);
    close(xi.grad!, want[name][1], `${name} backward`);
  }
  const xi = x.detach().requiresGrad_(),
    wi = w.detach().requiresGrad_(),
    bi = b.detach().requiresGrad_();
  const rm = kiln.zeros([4], { dtype: 'float64' }),
    rv = kiln.ones([4], { dtype: 'float64' });
  const y = F.batchNorm(xi, rm, rv, { weight: wi, bias: bi, training: true, momentum: 0.2, eps: 1e-4 });
  y.backward(g);
  [y, xi.grad!, wi.grad!, bi.grad!, rm, rv].forEach((t, i) => close(t, want.bn[i], `batch_norm output ${i}`));
  const e = emb.detach().requiresGrad_();
  const ye = F.embedding(idx, e, 2);
  ye.backward(ge);
  close(ye, want.emb[0], 'embedding forward');
  close(e.grad!, want.emb[1], 'embedding backward');
});

test.run();
