// Convolution and pooling: conv2d against a direct float64 loop, gradients by finite differences,
// modules' initialisation, errors; and, when Debian's torch is installed, every function against
// PyTorch's on the same inputs and options.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { conv2dBackward, type ConvGeometry } from '../../ts/ops/conv';

const { nn } = kiln;
const F = nn.functional;
const maxDiff = (a: kiln.Tensor, b: kiln.Tensor) => a.sub(b).abs().amax().item() as number;

/** Direct convolution in float64 JS loops. */
function conv2dRef(
  x: kiln.Tensor,
  w: kiln.Tensor,
  b: kiln.Tensor | null,
  s: number,
  p: number,
  d: number,
  g: number,
): kiln.Tensor {
  const [N, C, H, W] = x.shape,
    [K, Cg, KH, KW] = w.shape;
  const xv = x.toArray() as number[][][][],
    wv = w.toArray() as number[][][][],
    bv = b ? (b.toArray() as number[]) : null;
  const OH = Math.floor((H + 2 * p - d * (KH - 1) - 1) / s) + 1,
    OW = Math.floor((W + 2 * p - d * (KW - 1) - 1) / s) + 1;
  const out: number[][][][] = [];
  for (let n = 0; n < N; n++) {
    out.push([]);
    for (let k = 0; k < K; k++) {
      const grp = Math.floor(k / (K / g));
      const plane: number[][] = [];
      for (let i = 0; i < OH; i++) {
        const row: number[] = [];
        for (let j = 0; j < OW; j++) {
          let acc = bv ? bv[k] : 0;
          for (let c = 0; c < Cg; c++)
            for (let u = 0; u < KH; u++)
              for (let v = 0; v < KW; v++) {
                const y = i * s - p + u * d,
                  z = j * s - p + v * d;
                if (y >= 0 && y < H && z >= 0 && z < W) acc += xv[n][grp * Cg + c][y][z] * wv[k][c][u][v];
              }
          row.push(acc);
        }
        plane.push(row);
      }
      out[n].push(plane);
    }
  }
  void C;
  return kiln.tensor(out, { dtype: 'float64' });
}

test('conv2d matches a direct loop (stride, padding, dilation, groups, bias, same)', () => {
  kiln.manualSeed(1);
  for (const [C, K, H, W, k, s, p, d, g] of [
    [3, 4, 7, 6, 3, 1, 1, 1, 1],
    [4, 6, 9, 8, 3, 2, 0, 1, 2],
    [4, 4, 8, 8, 3, 1, 2, 2, 4],
    [2, 3, 5, 7, 1, 1, 0, 1, 1],
    [6, 3, 6, 5, 2, 3, 1, 1, 3],
  ]) {
    const x = kiln.randn([2, C, H, W], { dtype: 'float64' }),
      w = kiln.randn([K, C / g, k, k], { dtype: 'float64' }),
      b = kiln.randn([K], { dtype: 'float64' });
    const got = F.conv2d(x, w, b, { stride: s, padding: p, dilation: d, groups: g });
    const want = conv2dRef(x, w, b, s, p, d, g);
    assert.equal(got.shape, want.shape);
    assert.ok(maxDiff(got, want) < 1e-12, `C${C} K${K} k${k} s${s} p${p} d${d} g${g}`);
  }
  const x = kiln.randn([1, 2, 6, 5], { dtype: 'float64' }),
    w = kiln.randn([3, 2, 3, 3], { dtype: 'float64' });
  assert.ok(maxDiff(F.conv2d(x, w, null, { padding: 'same' }), conv2dRef(x, w, null, 1, 1, 1, 1)) < 1e-12);
  assert.equal(F.conv1d(kiln.randn([2, 3, 10]), kiln.randn([5, 3, 4]), null, { stride: 2 }).shape, [2, 5, 4]);
});

test('gradients by finite differences', () => {
  kiln.manualSeed(2);
  const r = (s: number[]) => kiln.randn(s, { dtype: 'float64' }).requiresGrad_();
  const cases: [string, (...t: kiln.Tensor[]) => kiln.Tensor, kiln.Tensor[]][] = [
    [
      'conv2d',
      (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1, groups: 2 }),
      [r([1, 4, 5, 5]), r([2, 2, 3, 3]), r([2])],
    ],
    [
      'convTranspose2d',
      (x, w) => F.convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }),
      [r([1, 2, 3, 3]), r([2, 3, 3, 3])],
    ],
    ['maxPool2d', (x) => F.maxPool2d(x, 2, { stride: 1, padding: 1 }), [r([1, 2, 4, 4])]],
    ['avgPool2d', (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }), [r([1, 1, 5, 5])]],
    ['adaptiveAvgPool2d', (x) => F.adaptiveAvgPool2d(x, [2, 3]), [r([1, 2, 5, 7])]],
  ];
  for (const [label, fn, inputs] of cases) {
    try {
      kiln.gradcheck(fn, inputs);
    } catch (e) {
      assert.unreachable(`${label}: ${(e as Error).message}`);
    }
  }
});

test('conv2d_backward grad bias off the fused paths: near a float64 sum, the same bits as another call', () => {
  kiln.manualSeed(11);
  // [input, weight, stride, padding, dilation, groups]: a 3x3 and a 5x5 dilated conv, 1x1 and
  // stride-2 depthwise, a grouped 3x3 over planes of 1 and of 3000 pixels
  const cases: [number[], number[], number, number, number, number][] = [
    [[2, 6, 9, 11], [4, 6, 3, 3], 1, 1, 1, 1],
    [[2, 3, 12, 12], [5, 3, 5, 5], 1, 2, 2, 1],
    [[3, 16, 10, 10], [16, 1, 1, 1], 1, 0, 1, 16],
    [[2, 8, 13, 13], [8, 1, 3, 3], 2, 1, 1, 8],
    [[4, 4, 1, 1], [6, 2, 3, 3], 1, 1, 1, 2],
    [[1, 2, 50, 60], [2, 1, 3, 3], 1, 1, 1, 2],
  ];
  for (const [xs, ws, st, pad, dil, g] of cases) {
    const x = kiln.randn(xs),
      w = kiln.randn(ws);
    const geo = { stride: [st, st], padding: [pad, pad], dilation: [dil, dil], groups: g } as ConvGeometry;
    const y = F.conv2d(x, w, null, { stride: st, padding: pad, dilation: dil, groups: g });
    const gy = kiln.randn([...y.shape]).add(0.5);
    const db = conv2dBackward(gy, x, w, geo, [false, false, true])[2]!;
    const want = gy.to('float64').sum([0, 2, 3]);
    const scale = want.abs().amax().item() as number;
    const err = db.to('float64').sub(want).abs().amax().item() as number;
    assert.ok(err <= 1e-6 * scale, `${xs} / ${ws}: grad bias off by ${err} of ${scale}`);
    const again = conv2dBackward(gy, x, w, geo, [true, true, true])[2]!;
    assert.equal(
      Array.from(again.data() as Float32Array),
      Array.from(db.data() as Float32Array),
      `${xs} / ${ws}: grad bias with dx and dw wanted`,
    );
  }
});

test('modules: PyTorch initialisation bounds, state-dict keys, errors', () => {
  kiln.manualSeed(3);
  const c = new nn.Conv2d(8, 16, 3);
  const bound = 1 / Math.sqrt(8 * 9);
  assert.ok((c.weight.abs().amax().item() as number) <= bound && (c.bias!.abs().amax().item() as number) <= bound);
  assert.equal([...c.stateDict().keys()], ['weight', 'bias']);
  assert.equal(c.forward(kiln.randn([2, 8, 10, 10])).shape, [2, 16, 8, 8]);
  assert.equal(new nn.ConvTranspose2d(4, 6, 2, { stride: 2 }).forward(kiln.randn([1, 4, 5, 5])).shape, [1, 6, 10, 10]);
  assert.equal(new nn.Conv1d(3, 5, 3, { padding: 'same' }).forward(kiln.randn([2, 3, 9])).shape, [2, 5, 9]);
  assert.equal(new nn.MaxPool2d(2).forward(kiln.randn([1, 3, 9, 9])).shape, [1, 3, 4, 4]);
  assert.equal(new nn.AvgPool2d(2, { ceilMode: true }).forward(kiln.randn([1, 3, 9, 9])).shape, [1, 3, 5, 5]);
  assert.equal(new nn.AdaptiveAvgPool2d(1).forward(kiln.randn([2, 3, 9, 7])).shape, [2, 3, 1, 1]);
  const code = (fn: () => unknown, c2: string) => assert.throws(fn, (e: kiln.KilnError) => e.code === c2);
  code(() => F.conv2d(kiln.randn([1, 3, 5, 5]), kiln.randn([4, 2, 3, 3])), 'ERR_SHAPE');
  code(() => F.conv2d(kiln.randn([1, 3, 2, 2]), kiln.randn([4, 3, 3, 3])), 'ERR_SHAPE');
  code(
    () => F.conv2d(kiln.randn([1, 3, 5, 5]), kiln.randn([4, 3, 3, 3]), null, { stride: 2, padding: 'same' }),
    'ERR_ARG',
  );
  code(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), 'ERR_ARG');
  code(() => F.maxPool2d(kiln.randn([1, 1, 4, 4]), 2, { padding: 2 }), 'ERR_ARG');
});

const PY_CONV = `
import json, struct, sys, torch
import torch.nn.functional as F
b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); t = {}
for k, v in h.items():
    if k == '__metadata__': continue
    s, e = v['data_offsets']; t[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=torch.float64).reshape(v['shape'])
x, w, wt, bias = t['x'], t['w'], t['wt'], t['b']
r = {
  'conv': F.conv2d(x, w, bias, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
  'same': F.conv2d(x, w, None, padding='same', groups=2),
  'convT': F.conv_transpose2d(x, wt, None, stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, dilation=(1, 1)),
  'convT_dil': F.conv_transpose2d(x, wt, None, stride=2, padding=2, dilation=2, groups=2),
  'max_ceil': F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
  'max_dil': F.max_pool2d(x, 2, stride=1, dilation=2),
  'avg_ceil_nopad': F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
  'avg_pad': F.avg_pool2d(x, (2, 3), stride=(2, 2), padding=(1, 1)),
  'adaptive': F.adaptive_avg_pool2d(x, (3, 4)),
  'conv1d': F.conv1d(x[:, :, 0, :], w[:, :, 0, :], None, stride=2, padding=1, groups=2),
}
print(json.dumps({k: v.tolist() for k, v in r.items()}))
`;

test(`every function matches PyTorch's${torchSuffix}`, () => {
  if (skipWithoutTorch('conv/pool comparison with PyTorch')) return;
  kiln.manualSeed(4);
  const x = kiln.randn([2, 4, 9, 11], { dtype: 'float64' }),
    w = kiln.randn([6, 2, 3, 3], { dtype: 'float64' }),
    wt = kiln.randn([4, 3, 3, 3], { dtype: 'float64' }),
    b = kiln.randn([6], { dtype: 'float64' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-conv-'));
  try {
    const file = path.join(dir, 'in.safetensors');
    kiln.saveSync({ x, w, wt, b }, file);
    const r = spawnSync(PY, ['-c', PY_CONV, file], { encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.is(r.status, 0, r.stderr);
    const want = JSON.parse(r.stdout) as Record<string, unknown>;
    const got: Record<string, kiln.Tensor> = {
      conv: F.conv2d(x, w, b, { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }),
      same: F.conv2d(x, w, null, { padding: 'same', groups: 2 }),
      convT: F.convTranspose2d(x, wt, null, { stride: [2, 3], padding: [1, 0], outputPadding: [1, 2], groups: 2 }),
      convT_dil: F.convTranspose2d(x, wt, null, { stride: 2, padding: 2, dilation: 2, groups: 2 }),
      max_ceil: F.maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }),
      max_dil: F.maxPool2d(x, 2, { stride: 1, dilation: 2 }),
      avg_ceil_nopad: F.avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
      avg_pad: F.avgPool2d(x, [2, 3], { stride: [2, 2], padding: [1, 1] }),
      adaptive: F.adaptiveAvgPool2d(x, [3, 4]),
      conv1d: F.conv1d(x.select(2, 0), w.select(2, 0), null, { stride: 2, padding: 1, groups: 2 }),
    };
    for (const [k, t] of Object.entries(got)) {
      const ref = kiln.tensor(want[k] as number[], { dtype: 'float64' });
      assert.equal(t.shape, ref.shape, `${k} shape`);
      assert.ok(maxDiff(t, ref) < 1e-10, `${k} differs from PyTorch by ${maxDiff(t, ref)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
