// F.interpolate and nn.Upsample (ts/ops/interpolate.ts): values PyTorch 1.13 gave on fixed inputs
// (embedded), then, where Debian's python3-torch is installed, seeded random shapes, sizes, scale
// factors and modes compared with PyTorch in the same run; finite-difference gradients of every
// mode in float64; no in*out intermediate; and each argument error's code.
import { spawnSync } from 'child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import type { InterpolateOptions } from '../../ts/ops/interpolate';
import { throwsCode } from '../helpers/compare';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';

const F = kiln.nn.functional;
const flat = (t: kiln.Tensor) => [...t.contiguous().data()].map(Number);
const closeAll = (got: number[], want: number[], tol: number, label: string) => {
  assert.is(got.length, want.length, `${label}: length`);
  for (let i = 0; i < got.length; i++)
    if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i]))))
      assert.unreachable(`${label}: element ${i}: got ${got[i]}, want ${want[i]}`);
};
const ramp = (shape: number[], dtype: kiln.DType = 'float32') =>
  kiln
    .arange(
      0,
      shape.reduce((a, b) => a * b, 1),
      1,
      { dtype },
    )
    .reshape(shape);

test('nearest, nearest-exact and linear on [1, 1, 4] (PyTorch 1.13 values)', () => {
  const x = ramp([1, 1, 4]);
  const cases: [InterpolateOptions, number[]][] = [
    [{ size: 7 }, [0, 0, 1, 1, 2, 2, 3]],
    [{ size: 3 }, [0, 1, 2]],
    [{ scaleFactor: 1.2 }, [0, 0, 1, 2]], // scale 1 / 1.2, not a copy
    [{ size: 7, mode: 'nearest-exact' }, [0, 0, 1, 2, 2, 3, 3]],
    [{ size: 3, mode: 'nearest-exact' }, [0, 2, 3]],
    [{ size: 6, mode: 'linear' }, [0, 0.5, 1.1666667461, 1.8333333731, 2.5, 3]],
    [{ size: 6, mode: 'linear', alignCorners: true }, [0, 0.6000000238, 1.2000000477, 1.8000000715, 2.4000000954, 3]],
    [{ size: 3, mode: 'linear' }, [0.1666666865, 1.5, 2.8333334923]],
    [{ scaleFactor: 1.2, mode: 'linear' }, [0, 1, 2, 3]], // sizes agree: a copy
    [{ scaleFactor: 1.7, mode: 'linear' }, [0, 0.382352978, 0.9705883265, 1.5588235855, 2.1470589638, 2.7352941036]],
    [{ scaleFactor: 1.7, mode: 'linear', recomputeScaleFactor: true }, [0, 0.5, 1.1666667461, 1.8333333731, 2.5, 3]],
    [{ size: 1, mode: 'linear', alignCorners: true }, [0]],
  ];
  const seven = ramp([1, 1, 7]);
  const area: [InterpolateOptions, number[]][] = [
    [{ size: 3, mode: 'area' }, [1, 3, 5]],
    [{ scaleFactor: 0.5, mode: 'area' }, [1, 3, 5]],
    [{ size: 10, mode: 'area' }, [0, 0.5, 1.5, 2, 2.5, 3.5, 4, 4.5, 5.5, 6]],
  ];
  for (const [o, want] of area) closeAll(flat(F.interpolate(seven, o)), want, 1e-6, JSON.stringify(o));
  for (const [o, want] of cases) closeAll(flat(F.interpolate(x, o)), want, 1e-6, JSON.stringify(o));
});

test("nearest's index is floor() of a float product, as PyTorch's (double arithmetic differs here)", () => {
  // 26 -> 22: 11 * 26 / 22 is 13 exactly, but the float scale 26f / 22 rounds down and torch reads 12.
  assert.equal(
    flat(F.interpolate(ramp([1, 1, 26]), { size: 22 })),
    [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24],
  );
  assert.equal(
    flat(F.interpolate(ramp([1, 1, 26], 'float64'), { size: 22 })),
    [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24],
  );
});

test('bilinear, bicubic and trilinear (PyTorch 1.13 values)', () => {
  const x = ramp([1, 1, 2, 3]).square();
  closeAll(
    flat(F.interpolate(x, { size: [3, 2], mode: 'bilinear' })),
    [0.25, 3.25, 5.5, 13, 10.75, 22.75],
    1e-6,
    'bilinear',
  );
  closeAll(
    flat(F.interpolate(x, { size: [3, 2], mode: 'bilinear', alignCorners: true })),
    [0, 4, 4.5, 14.5, 9, 25],
    1e-6,
    'bilinear alignCorners',
  );
  closeAll(
    flat(F.interpolate(x, { size: [3, 4], mode: 'bicubic' })),
    [
      -0.8156435, -0.7471215, 0.643931, 2.3550317, 4.2128906, 6.3994141, 11.1015625, 14.9306641, 9.2414227, 13.545948,
      21.5591927, 27.5062962,
    ],
    1e-5,
    'bicubic',
  );
  closeAll(
    flat(F.interpolate(x, { scaleFactor: [1, 2], mode: 'bicubic', alignCorners: true })),
    [0, 0.1719999, 0.5360002, 1.6240007, 2.908, 4, 9, 11.0679989, 13.9040022, 18.2560043, 22.0119991, 25],
    1e-5,
    'bicubic alignCorners',
  );
  const v = ramp([1, 1, 2, 2, 2]);
  closeAll(
    flat(F.interpolate(v, { size: [1, 1, 3], mode: 'trilinear', alignCorners: true })),
    [0, 0.5, 1],
    1e-6,
    'trilinear',
  );
});

// Random cases against PyTorch: the same inputs (written as numbers) on both sides.
const PY_INTERP = `
import json, sys, torch
import torch.nn.functional as F
out = []
for c in json.load(sys.stdin):
    x = torch.tensor(c['x'], dtype=torch.float64 if c['dtype'] == 'float64' else torch.float32).reshape(c['shape'])
    kw = dict(mode=c['mode'])
    if 'size' in c: kw['size'] = c['size']
    if 'sf' in c: kw['scale_factor'] = c['sf']
    if 'align' in c: kw['align_corners'] = c['align']
    if 'recompute' in c: kw['recompute_scale_factor'] = c['recompute']
    y = F.interpolate(x, **kw)
    out.append({'shape': list(y.shape), 'y': y.flatten().tolist()})
print(json.dumps(out))
`;

test(`random shapes, sizes and scale factors match PyTorch${torchSuffix}`, () => {
  if (skipWithoutTorch('interpolate vs PyTorch')) return;
  kiln.manualSeed(11);
  const modes = ['nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear', 'area'] as const;
  const k = { nearest: 0, 'nearest-exact': 0, linear: 1, bilinear: 2, bicubic: 2, trilinear: 3, area: 0 };
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
  const ri = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const cases: Record<string, unknown>[] = [];
  const xs: kiln.Tensor[] = [];
  const opts: InterpolateOptions[] = [];
  for (let n = 0; n < 175; n++) {
    const mode = modes[n % modes.length];
    const sp = k[mode] || ri(1, 3);
    const dtype: kiln.DType = n % 3 === 0 ? 'float64' : 'float32';
    // Sizes past 8 take the row-copy path (ts/ops/interpolate.ts ROW_MIN), smaller ones the gather.
    const shape = [ri(1, 2), ri(1, 10), ...Array.from({ length: sp }, () => ri(1, sp === 3 ? 9 : 14))];
    const x = kiln.randn(shape, { dtype });
    const c: Record<string, unknown> = { mode, shape, dtype, x: flat(x) };
    const o: InterpolateOptions = { mode };
    if (rnd() < 0.5) {
      o.size = shape.slice(2).map(() => ri(1, 17));
      c.size = o.size;
    } else {
      // Factors chosen to hit the awkward ones: 2, 1.5, 1/3, 1.2, 0.7, 2.9 ...
      o.scaleFactor = shape.slice(2).map(() => [2, 1.5, 1 / 3, 1.2, 0.7, 2.9, 3, 0.5][ri(0, 7)]);
      if (shape.slice(2).some((s, i) => Math.floor(s * (o.scaleFactor as number[])[i]) === 0)) o.scaleFactor = 2;
      c.sf = o.scaleFactor;
      if (rnd() < 0.3) c.recompute = o.recomputeScaleFactor = true;
    }
    if (!mode.startsWith('nearest') && mode !== 'area' && rnd() < 0.4) c.align = o.alignCorners = true;
    cases.push(c);
    xs.push(x);
    opts.push(o);
  }
  const r = spawnSync(PY, ['-c', PY_INTERP], {
    input: JSON.stringify(cases),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  assert.is(r.status, 0, `${r.error?.message ?? ''} ${r.stderr}`);
  const want = JSON.parse(r.stdout) as { shape: number[]; y: number[] }[];
  want.forEach((w, i) => {
    const y = F.interpolate(xs[i], opts[i]);
    const label = `case ${i} ${JSON.stringify({ ...cases[i], x: undefined })}`;
    assert.equal(y.shape, w.shape, label);
    // Nearest copies values: exactly equal. The weighted modes round in another order than torch.
    // The error is relative to the inputs' magnitude: cubic weights sum values of both signs.
    const mag = Math.max(...(cases[i].x as number[]).map(Math.abs));
    const tol = opts[i].mode!.startsWith('nearest') ? 0 : xs[i].dtype === 'float64' ? 1e-12 : 4e-6 * (1 + mag);
    closeAll(flat(y), w.y, tol, label);
  });
});

test('gradients of every mode by finite differences (float64)', () => {
  kiln.manualSeed(3);
  const r = (s: number[]) => kiln.randn(s, { dtype: 'float64' }).requiresGrad_();
  const cases: [string, kiln.Tensor, InterpolateOptions][] = [
    ['nearest 3-d', r([1, 2, 4]), { size: 7 }],
    ['nearest 4-d down', r([1, 1, 5, 4]), { size: [3, 2] }],
    ['nearest-exact 5-d', r([1, 1, 2, 3, 2]), { scaleFactor: [1.5, 1, 2] }],
    ['linear', r([2, 1, 4]), { size: 6, mode: 'linear' }],
    ['linear alignCorners', r([1, 2, 5]), { size: 3, mode: 'linear', alignCorners: true }],
    ['bilinear', r([1, 2, 3, 4]), { scaleFactor: 1.5, mode: 'bilinear' }],
    ['bilinear alignCorners', r([1, 1, 3, 3]), { size: [5, 2], mode: 'bilinear', alignCorners: true }],
    ['bicubic', r([1, 1, 3, 4]), { size: [5, 3], mode: 'bicubic' }],
    ['bicubic alignCorners', r([1, 1, 4, 3]), { scaleFactor: 2, mode: 'bicubic', alignCorners: true }],
    ['trilinear', r([1, 1, 2, 3, 2]), { size: [3, 2, 4], mode: 'trilinear' }],
    ['area down and up', r([1, 2, 7, 3]), { size: [3, 5], mode: 'area' }],
    ['area, long rows', r([1, 1, 5, 9]), { size: [2, 4], mode: 'area' }],
    // Rows of 8 or more: the row-copy path (H with W >= 8; W swapped with an H >= 8).
    ['bilinear, long rows', r([1, 1, 3, 9]), { size: [4, 10], mode: 'bilinear' }],
    ['bicubic, long rows', r([1, 1, 9, 3]), { size: [4, 5], mode: 'bicubic', alignCorners: true }],
    ['nearest, long rows', r([1, 1, 2, 9]), { size: [3, 8] }],
    ['linear, channels as rows', r([1, 8, 3]), { size: 5, mode: 'linear' }],
    // Whole repeats in every resized dim: one copy of an expanded view.
    ['nearest x2 x3 (repeats)', r([1, 2, 3, 2]), { scaleFactor: [2, 3] }],
    ['nearest 5-d, one dim kept (repeats)', r([1, 1, 2, 2, 3]), { size: [4, 2, 6] }],
  ];
  for (const [label, x, o] of cases) {
    try {
      kiln.gradcheck((t) => F.interpolate(t, o), [x]);
    } catch (e) {
      assert.unreachable(`${label}: ${(e as Error).message}`);
    }
  }
});

test('nearest by whole repeats: each output reads input floor(i / s), a new tensor', () => {
  const x = kiln.randn([2, 3, 5, 4]);
  const xs = x.toArray() as number[][][][];
  for (const [o, s, t] of [
    [{ scaleFactor: 2 }, 2, 2],
    [{ size: [15, 4] }, 3, 1],
    [{ scaleFactor: [1, 2], mode: 'nearest-exact' }, 1, 2],
  ] as [InterpolateOptions, number, number][]) {
    const y = F.interpolate(x, o).toArray() as number[][][][];
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < 5 * s; i++)
          for (let j = 0; j < 4 * t; j++)
            if (y[n][c][i][j] !== xs[n][c][Math.floor(i / s)][Math.floor(j / t)])
              assert.unreachable(`${JSON.stringify(o)}: [${n}, ${c}, ${i}, ${j}]`);
  }
  // x41: 41 * fl(1 / 41) rounds below 1 in float, so PyTorch's output 41 reads input 0, not
  // floor(41 / 41): not whole repeats, the gather path
  const z = kiln.randn([1, 1, 2, 3]);
  const zs = z.toArray() as number[][][][];
  const zy = F.interpolate(z, { size: [82, 3] }).toArray() as number[][][][];
  const sc = Math.fround(2 / 82);
  for (let i = 0; i < 82; i++) {
    const src = Math.min(Math.floor(Math.fround(i * sc)), 1);
    assert.equal(zy[0][0][i], zs[0][0][src], `x41: row ${i} reads ${src}`);
  }
  const same = F.interpolate(x, { scaleFactor: 1 });
  same.fill_(0);
  assert.ok((x.abs().sum().item() as number) > 0, 'the unchanged size gave a copy, not a view of x');
});

test('second-order gradients (both paths)', () => {
  kiln.manualSeed(8);
  const r = (s: number[]) => kiln.randn(s, { dtype: 'float64' }).requiresGrad_();
  const cases: [kiln.Tensor, InterpolateOptions][] = [
    [r([1, 1, 3, 4]), { size: [5, 3], mode: 'bicubic' }],
    [r([1, 1, 9, 9]), { size: [4, 10], mode: 'bilinear' }],
  ];
  for (const [x, o] of cases) kiln.gradgradcheck((t) => F.interpolate(t, o).square(), [x]);
});

test('separable: no intermediate near in * out (one pass at a time)', () => {
  // [1, 1, 64, 64] -> [1, 1, 128, 128] bicubic: the live bytes, sampled at every allocation, stay
  // a few outputs' worth (one pass's output, taps and weights), far below in * out = 64*64*128*128.
  const x = kiln.randn([1, 1, 64, 64]);
  const before = kiln.memory().numBytes;
  let peak = 0,
    allocations = 0;
  const T = kiln.Tensor as unknown as Record<string, (...a: unknown[]) => unknown>;
  const orig = T._empty;
  T._empty = function (this: unknown, ...a: unknown[]) {
    peak = Math.max(peak, kiln.memory().numBytes - before);
    allocations++;
    return orig.apply(this, a);
  };
  try {
    const y = F.interpolate(x, { size: [128, 128], mode: 'bicubic' });
    assert.equal(y.shape, [1, 1, 128, 128]);
    y.dispose();
  } finally {
    T._empty = orig;
  }
  const outBytes = 128 * 128 * 4;
  assert.ok(allocations >= 2 && peak > 0 && peak < 16 * outBytes, `peak ${peak} bytes, output ${outBytes}`);
  x.dispose();
});

test('empty batch, a permuted (non-contiguous) input, half precision', () => {
  for (const mode of ['nearest', 'bilinear', 'bicubic', 'area'] as const) {
    assert.equal(F.interpolate(kiln.randn([0, 2, 9, 9]), { size: 12, mode }).shape, [0, 2, 12, 12], mode);
    const x = kiln.randn([2, 9, 10, 3]).permute([0, 3, 1, 2]);
    const y = F.interpolate(x, { size: [13, 7], mode });
    assert.ok(y.isContiguous(), `${mode}: contiguous output`);
    assert.equal(flat(y), flat(F.interpolate(x.contiguous(), { size: [13, 7], mode })), `${mode}: permuted input`);
    for (const dt of ['float16', 'bfloat16'] as const) {
      const h = F.interpolate(x.to(dt), { size: [13, 7], mode });
      assert.is(h.dtype, dt);
      closeAll(
        flat(h.to('float32')),
        flat(F.interpolate(x.to(dt).to('float32'), { size: [13, 7], mode })),
        0.05,
        `${mode} ${dt}`,
      );
    }
  }
});

test('integer inputs: nearest copies them, the weighted modes refuse', () => {
  const x = kiln.tensor([[[1, 2, 3]]], { dtype: 'int32' });
  assert.equal(flat(F.interpolate(x, { size: 6 })), [1, 1, 2, 2, 3, 3]);
  assert.is(F.interpolate(x, { size: 6 }).dtype, 'int32');
  throwsCode(() => F.interpolate(x, { size: 6, mode: 'linear' }), 'ERR_DTYPE', 'linear on int32');
});

test('argument errors', () => {
  const x3 = kiln.randn([1, 2, 4]),
    x4 = kiln.randn([1, 2, 4, 4]);
  throwsCode(() => F.interpolate(x4, {}), 'ERR_ARG', 'neither size nor scaleFactor');
  throwsCode(() => F.interpolate(x4, { size: 2, scaleFactor: 2 }), 'ERR_ARG', 'both');
  throwsCode(() => F.interpolate(x4, { size: 2, mode: 'box' as never }), 'ERR_ARG', 'unknown mode');
  throwsCode(() => F.interpolate(x3, { size: 2, mode: 'bilinear' }), 'ERR_SHAPE', 'bilinear on 3-d');
  throwsCode(() => F.interpolate(x4, { size: 2, mode: 'linear' }), 'ERR_SHAPE', 'linear on 4-d');
  throwsCode(() => F.interpolate(x4, { size: 2, mode: 'trilinear' }), 'ERR_SHAPE', 'trilinear on 4-d');
  throwsCode(() => F.interpolate(kiln.randn([2, 4]), { size: 2 }), 'ERR_SHAPE', '2-d input');
  throwsCode(() => F.interpolate(x4, { size: 2, alignCorners: true }), 'ERR_ARG', 'alignCorners with nearest');
  throwsCode(() => F.interpolate(x4, { size: 2, mode: 'area', alignCorners: false }), 'ERR_ARG', 'alignCorners, area');
  throwsCode(() => F.interpolate(x4, { size: 2, recomputeScaleFactor: true }), 'ERR_ARG', 'recompute with size');
  throwsCode(() => F.interpolate(x3.to('int32'), { size: 2, mode: 'area' }), 'ERR_DTYPE', 'area on int32');
  throwsCode(() => F.interpolate(x4, { size: [2, 2, 2] }), 'ERR_ARG', 'three sizes for 2 dims');
  throwsCode(() => F.interpolate(x4, { size: 0 }), 'ERR_ARG', 'size 0');
  throwsCode(() => F.interpolate(x4, { size: 2.5 }), 'ERR_ARG', 'size 2.5');
  throwsCode(() => F.interpolate(x4, { scaleFactor: -1 }), 'ERR_ARG', 'negative scale');
  throwsCode(() => F.interpolate(x4, { scaleFactor: 0.1 }), 'ERR_ARG', 'empty output');
  throwsCode(() => F.interpolate(kiln.randn([1, 2, 0, 3]), { size: 2 }), 'ERR_SHAPE', 'empty spatial dim');
  throwsCode(() => F.interpolate(null as never, { size: 2 }), 'ERR_ARG', 'not a tensor');
});

test('nn.Upsample, UpsamplingNearest2d and UpsamplingBilinear2d', () => {
  const x = ramp([1, 1, 2, 3]);
  const up = new kiln.nn.Upsample({ scaleFactor: 2, mode: 'bilinear' });
  assert.equal(flat(up.forward(x)), flat(F.interpolate(x, { scaleFactor: 2, mode: 'bilinear' })));
  assert.match(up.toString(), /scaleFactor=2.*mode='bilinear'/);
  assert.equal(flat(new kiln.nn.Upsample({ size: [2, 6] }).forward(x)), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
  assert.equal(
    flat(new kiln.nn.UpsamplingNearest2d({ scaleFactor: 2 }).forward(x)),
    flat(F.interpolate(x, { scaleFactor: 2 })),
  );
  assert.equal(
    flat(new kiln.nn.UpsamplingBilinear2d({ size: [3, 5] }).forward(x)),
    flat(F.interpolate(x, { size: [3, 5], mode: 'bilinear', alignCorners: true })),
  );
  assert.equal([...new kiln.nn.Upsample({ scaleFactor: 2 }).parameters()].length, 0);
  throwsCode(() => new kiln.nn.Upsample({}), 'ERR_ARG', 'Upsample without size or scaleFactor');
  throwsCode(() => new kiln.nn.Upsample({ size: 2, mode: 'cubic' as never }), 'ERR_ARG', 'Upsample bad mode');
});

test.run();
