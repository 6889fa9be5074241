// The fused row kernels (softmax, logSoftmax, layerNorm, rmsNorm, crossEntropy): bit-identical
// results for 1, 2 and 3 threads; forward and backward against PyTorch 1.13 in float64 (when
// Debian's torch is installed); RMSNorm's default eps; gradients of gradients (createGraph).
import { spawnSync } from 'child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { assertSameBitsAcrossThreads } from '../helpers/threads';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';

const F = kiln.nn.functional;

test('1, 2 and 3 threads give identical bits', () => {
  assertSameBitsAcrossThreads('fused_rows_fingerprint.ts');
});

const PY_REF = `
import json, sys, torch
import torch.nn.functional as F
torch.set_default_dtype(torch.float64)
d = json.load(sys.stdin)
T = lambda k, **kw: torch.tensor(d[k], **kw)
out = {}
def grads(name, y, xs, gy=None):
    gs = torch.autograd.grad(y, xs, gy)
    out[name] = [y.flatten().tolist()] + [g.flatten().tolist() for g in gs]
x = T('sm_x', requires_grad=True)
grads('softmax', torch.softmax(x, 1), [x], T('sm_g'))
grads('logSoftmax', torch.log_softmax(x, 1), [x], T('sm_g'))
x, w, b = T('ln_x', requires_grad=True), T('ln_w', requires_grad=True), T('ln_b', requires_grad=True)
grads('layerNorm', F.layer_norm(x, (2, 7), w, b, 1e-5), [x, w, b], T('ln_g'))
x32, w32 = T('ln_x', dtype=torch.float32, requires_grad=True), T('ln_w', dtype=torch.float32)
eps = torch.finfo(torch.float32).eps
out['rmsNorm32'] = (x32 * torch.rsqrt(x32.pow(2).mean((-2, -1), keepdim=True) + eps) * w32).flatten().tolist()
x = T('ce_x', requires_grad=True)
grads('ceIndex', F.cross_entropy(x, T('ce_t'), weight=T('ce_w'), ignore_index=1, label_smoothing=0.15), [x])
x, p = T('cp_x', requires_grad=True), T('cp_p', requires_grad=True)
grads('ceProb', F.cross_entropy(x, p, weight=T('cp_w'), label_smoothing=0.2, reduction='sum'), [x, p])
print(json.dumps(out))
`;

test(`forward and backward match PyTorch${torchSuffix}`, () => {
  if (skipWithoutTorch('PyTorch comparison')) return;
  kiln.manualSeed(5);
  const f64 = (s: number[], scale = 1) => kiln.randn(s, { dtype: 'float64' }).mul(scale).requiresGrad_();
  const inp = {
    sm_x: f64([4, 9, 5], 3),
    sm_g: f64([4, 9, 5]),
    ln_x: f64([6, 2, 7], 2),
    ln_w: f64([2, 7]),
    ln_b: f64([2, 7]),
    ln_g: f64([6, 2, 7]),
    ce_x: f64([5, 4, 3], 2),
    ce_t: kiln.tensor([
      [0, 1, 3],
      [2, 2, 1],
      [3, 0, 0],
      [1, 1, 2],
      [0, 3, 2],
    ]),
    ce_w: kiln.tensor([0.5, 1.5, 2, 0.7], { dtype: 'float64' }),
    cp_x: f64([6, 5], 2),
    cp_p: kiln.rand([6, 5], { dtype: 'float64' }).requiresGrad_(),
    cp_w: kiln.rand([5], { dtype: 'float64' }).add(0.5),
  };
  const json = Object.fromEntries(Object.entries(inp).map(([k, t]) => [k, t.toArray()]));
  const r = spawnSync(PY, ['-c', PY_REF], { input: JSON.stringify(json), encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as Record<string, number[][] | number[]>;
  const close = (label: string, got: kiln.Tensor | null, w: number[], tol = 1e-10) => {
    const g = got!.contiguous().toArray() as unknown;
    const flat = ([g] as unknown[]).flat(4) as number[];
    assert.is(flat.length, w.length, `${label}: length`);
    flat.forEach((v, i) =>
      assert.ok(Math.abs(v - w[i]) <= tol * (1 + Math.abs(w[i])), `${label}[${i}]: ${v} vs ${w[i]}`),
    );
  };
  const check = (name: string, y: kiln.Tensor, xs: kiln.Tensor[], gy?: kiln.Tensor) => {
    const gs = kiln.autograd.grad([y], xs, { gradOutputs: gy ? [gy] : undefined });
    const w = want[name] as number[][];
    close(`${name} forward`, y, w[0]);
    gs.forEach((g, i) => close(`${name} grad ${i}`, g, w[i + 1]));
  };
  check('softmax', inp.sm_x.softmax(1), [inp.sm_x], inp.sm_g);
  check('logSoftmax', inp.sm_x.logSoftmax(1), [inp.sm_x], inp.sm_g);
  check('layerNorm', F.layerNorm(inp.ln_x, [2, 7], inp.ln_w, inp.ln_b), [inp.ln_x, inp.ln_w, inp.ln_b], inp.ln_g);
  const x32 = inp.ln_x.detach().to('float32'),
    w32 = inp.ln_w.detach().to('float32');
  close('rmsNorm float32 default eps', F.rmsNorm(x32, [2, 7], w32), want.rmsNorm32 as number[], 1e-5);
  const ce = F.crossEntropy(inp.ce_x, inp.ce_t, { weight: inp.ce_w, ignoreIndex: 1, labelSmoothing: 0.15 });
  check('ceIndex', ce, [inp.ce_x]);
  const cp = F.crossEntropy(inp.cp_x, inp.cp_p, { weight: inp.cp_w, labelSmoothing: 0.2, reduction: 'sum' });
  check('ceProb', cp, [inp.cp_x, inp.cp_p]);
});

test('RMSNorm: eps defaults to the dtype machine epsilon, as PyTorch 2.x', () => {
  const x = kiln.randn([3, 8]).mul(1e-4);
  const want = F.rmsNorm(x, [8], null, 2 ** -23).toArray();
  assert.equal(F.rmsNorm(x, [8]).toArray(), want);
  assert.equal(new kiln.nn.RMSNorm(8).forward(x).toArray(), F.rmsNorm(x, [8], kiln.ones([8])).toArray());
});

test('stable at logits of 1e4 and -inf entries; NaN for a row of all -inf', () => {
  const x = kiln.tensor([
    [1e4, 1e4 - 1, -Infinity],
    [-Infinity, -Infinity, -Infinity],
  ]);
  const p = x.softmax(1).toArray() as number[][];
  assert.ok(Math.abs(p[0][0] - 1 / (1 + Math.exp(-1))) < 1e-6 && p[0][2] === 0);
  assert.ok(p[1].every(Number.isNaN));
  const lp = x.logSoftmax(1).toArray() as number[][];
  assert.is(lp[0][2], -Infinity);
  const l = F.crossEntropy(kiln.tensor([[1e4, -1e4, 0]], { dtype: 'float32' }), kiln.tensor([1]), {
    reduction: 'none',
  });
  assert.ok(Math.abs((l.toArray() as number[])[0] - 2e4) < 1e-2);
});

const f64 = (shape: number[]) => kiln.randn(shape, { dtype: 'float64' }).requiresGrad_();
test('gradients of gradients (createGraph) by finite differences', () => {
  kiln.gradgradcheck((x, w, b) => F.layerNorm(x, [4], w, b).pow(2), [f64([3, 4]), f64([4]), f64([4])]);
  kiln.gradgradcheck((x, w) => F.rmsNorm(x, [4], w, 1e-6).pow(2), [f64([2, 4]), f64([4])]);
  kiln.gradgradcheck((x) => x.logSoftmax(0).pow(2), [f64([4, 3])]);
  const t = kiln.tensor([0, 2, 1, 1]);
  const w = kiln.tensor([0.5, 1, 2], { dtype: 'float64' });
  kiln.gradgradcheck((x) => F.crossEntropy(x, t, { weight: w, labelSmoothing: 0.1, ignoreIndex: 1 }), [f64([4, 3])]);
  const p = kiln.rand([3, 3], { dtype: 'float64' }).requiresGrad_();
  kiln.gradgradcheck((x, q) => F.crossEntropy(x, q, { labelSmoothing: 0.2 }), [f64([3, 3]), p]);
});

test.run();
