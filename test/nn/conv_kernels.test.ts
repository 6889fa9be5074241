// The convolution and pooling kernels: the same bits for 1, 2 and 3 threads, and float32 forward
// and backward (input, weight and bias gradients) against PyTorch's on shapes that take every
// kernel path (image-parallel and GEMM-threaded implicit GEMM, 1x1, depthwise, strided col2im),
// and the depthwise and 1x1 paths against the float64 reference on odd shapes.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CONV_PATH_CASES, convPathResults } from '../helpers/conv_paths_fingerprint';
import { assertSameBitsAcrossThreads } from '../helpers/threads';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';
import * as kiln from '../../ts/index';

const F = kiln.nn.functional;

test('1, 2 and 3 threads give identical bits', () => assertSameBitsAcrossThreads('conv_fingerprint.ts'));

test('1, 2 and 3 threads give identical bits on the depthwise and 1x1 paths', () =>
  assertSameBitsAcrossThreads('conv_paths_fingerprint.ts'));

test('float32 depthwise and 1x1 paths match the float64 reference (strides, dilation, multipliers, odd sizes)', () => {
  CONV_PATH_CASES.forEach(([name, xs, ws, o], i) => {
    const got = convPathResults(xs, ws, o, 100 + i, 'float32');
    const want = convPathResults(xs, ws, o, 100 + i, 'float64');
    for (const k of Object.keys(want)) {
      assert.ok(got[k].data()[0] === got[k].data()[0], `${name} ${k}: NaN`);
      const scale = Math.max(1, want[k].abs().amax().item() as number);
      const err = (got[k].to('float64').sub(want[k]).abs().amax().item() as number) / scale;
      assert.ok(err < 1e-5, `${name} ${k}: float32 differs from float64 by ${err} of the largest value`);
    }
  });
});

const PY_GRADS = `
import json, struct, sys, torch
import torch.nn.functional as F
b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); t = {}
for k, v in h.items():
    if k == '__metadata__': continue
    s, e = v['data_offsets']; t[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=torch.float32).reshape(v['shape']).clone()
opts = json.loads(sys.argv[2])
out = {}
for name, o in opts.items():
    x = t[name + '.x'].requires_grad_(); w = t[name + '.w'].requires_grad_(); bias = t[name + '.b'].requires_grad_()
    y = F.conv2d(x, w, bias, stride=o['stride'], padding=o['padding'], dilation=o['dilation'], groups=o['groups'])
    (y * t[name + '.gy']).sum().backward()
    out[name] = {'y': y.detach().flatten().tolist(), 'dx': x.grad.flatten().tolist(), 'dw': w.grad.flatten().tolist(), 'db': bias.grad.flatten().tolist()}
x = t['pool.x'].requires_grad_()
m = F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True); a = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
d = F.adaptive_avg_pool2d(x, (3, 5))
(m.sum() * 1.5 + (a * a).sum() + (d * 3).sum()).backward()
out['pool'] = {'m': m.detach().flatten().tolist(), 'a': a.detach().flatten().tolist(), 'd': d.detach().flatten().tolist(), 'dx': x.grad.flatten().tolist()}
print(json.dumps(out))
`;

const maxRel = (got: kiln.Tensor, want: number[]): number => {
  const g = got.contiguous().toArray() as unknown;
  const flat = (g as number[]).flat(Infinity as 1) as number[];
  assert.is(flat.length, want.length);
  const scale = Math.max(1, ...want.map(Math.abs));
  return Math.max(...flat.map((v, i) => Math.abs(v - want[i]))) / scale;
};

test(`float32 forward and gradients match PyTorch's${torchSuffix}`, () => {
  if (skipWithoutTorch('conv kernels against PyTorch')) return;
  kiln.manualSeed(11);
  const cfgs: Record<
    string,
    { x: number[]; w: number[]; stride: number[]; padding: number[]; dilation: number[]; groups: number }
  > = {
    conv3x3: { x: [3, 16, 19, 18], w: [24, 16, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 },
    strided: { x: [2, 8, 15, 14], w: [12, 4, 3, 3], stride: [2, 2], padding: [1, 0], dilation: [1, 1], groups: 2 },
    dilated: { x: [2, 6, 12, 13], w: [10, 6, 3, 2], stride: [1, 2], padding: [2, 1], dilation: [2, 1], groups: 1 },
    pointwise: { x: [5, 32, 7, 9], w: [20, 32, 1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 },
    depthwise: { x: [4, 12, 14, 11], w: [12, 1, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 12 },
    depthwiseS2: { x: [2, 8, 13, 13], w: [16, 1, 5, 5], stride: [2, 2], padding: [2, 2], dilation: [1, 1], groups: 8 },
  };
  const tensors: Record<string, kiln.Tensor> = {};
  const got: Record<string, Record<string, kiln.Tensor>> = {};
  for (const [name, c] of Object.entries(cfgs)) {
    const x = kiln.randn(c.x).requiresGrad_(),
      w = kiln.randn(c.w).requiresGrad_(),
      b = kiln.randn([c.w[0]]).requiresGrad_();
    const y = F.conv2d(x, w, b, {
      stride: c.stride as [number, number],
      padding: c.padding as [number, number],
      dilation: c.dilation as [number, number],
      groups: c.groups,
    });
    const gy = kiln.randn([...y.shape]);
    y.mul(gy).sum().backward();
    Object.assign(tensors, {
      [`${name}.x`]: x.detach(),
      [`${name}.w`]: w.detach(),
      [`${name}.b`]: b.detach(),
      [`${name}.gy`]: gy,
    });
    got[name] = { y: y.detach(), dx: x.grad!, dw: w.grad!, db: b.grad! };
  }
  const px = kiln.randn([2, 3, 11, 14]).requiresGrad_();
  const m = F.maxPool2d(px, 3, { stride: 2, padding: 1, ceilMode: true }),
    a = F.avgPool2d(px, 3, { stride: 2, padding: 1, countIncludePad: false }),
    d = F.adaptiveAvgPool2d(px, [3, 5]);
  m.sum().mul(1.5).add(a.mul(a).sum()).add(d.mul(3).sum()).backward();
  tensors['pool.x'] = px.detach();
  got.pool = { m: m.detach(), a: a.detach(), d: d.detach(), dx: px.grad! };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-convk-'));
  try {
    const file = path.join(dir, 'in.safetensors');
    kiln.saveSync(tensors, file);
    const r = spawnSync(PY, ['-c', PY_GRADS, file, JSON.stringify(cfgs)], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.is(r.status, 0, r.stderr);
    const want = JSON.parse(r.stdout) as Record<string, Record<string, number[]>>;
    for (const [name, outs] of Object.entries(got))
      for (const [k, t] of Object.entries(outs)) {
        const e = maxRel(t, want[name][k]);
        assert.ok(e < 2e-5, `${name}.${k} differs from PyTorch by ${e} (relative to the largest value)`);
      }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
