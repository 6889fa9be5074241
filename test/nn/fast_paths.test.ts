// Fast paths that must give what the general rule gives: float32 max pooling (the ISA's vector rows
// for the windows inside the plane, stride 1 or 2; float64 takes the scalar rule), relu's gradient
// (PyTorch's: 0 at x = 0) and where's mask select on random conditions with broadcast operands.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { maxPool2dBackward } from '../../ts/ops/pool';

const F = kiln.nn.functional;

// PyTorch's max-pool rule on one window list: first tap inside, a larger value or a NaN wins.
function refPool(x: Float32Array, planes: number, H: number, W: number): { y: number[]; i: number[] } {
  const y: number[] = [],
    idx: number[] = [];
  for (let p = 0; p < planes; p++)
    for (let oh = 0; oh < H >> 1; oh++)
      for (let ow = 0; ow < W >> 1; ow++) {
        let best = -Infinity,
          at = -1;
        for (const [r, s] of [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ]) {
          const j = (2 * oh + r) * W + 2 * ow + s,
            v = x[p * H * W + j];
          if (at < 0 || v > best || Number.isNaN(v)) ((best = v), (at = j));
        }
        (y.push(best), idx.push(at));
      }
  return { y, i: idx };
}

test('2x2 max pool: ties take the first tap, NaN wins and stays, as the general rule', () => {
  const [N, C, H, W] = [2, 3, 6, 8];
  const n = N * C * H * W;
  const vals = new Float32Array(n);
  let seed = 7;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    vals[i] = (seed % 5) - 2; // few distinct values: many ties
  }
  vals[3] = NaN;
  vals[17] = NaN;
  vals[18] = NaN;
  vals[5 * W + 1] = Infinity;
  const x = kiln.tensor(vals).reshape([N, C, H, W]);
  const [y, idx] = F.maxPool2dWithIndices(x, 2);
  const ref = refPool(vals, N * C, H, W);
  const got = Array.from(y.data() as Float32Array);
  for (let k = 0; k < got.length; k++)
    assert.ok(Object.is(got[k], ref.y[k]) || got[k] === ref.y[k], `value ${k}: ${got[k]} vs ${ref.y[k]}`);
  assert.equal(Array.from(idx.data() as BigInt64Array, Number), ref.i);
  // The general path (stride 1 here) agrees with the same rule on its own windows.
  const [y1] = F.maxPool2dWithIndices(x, 2, { stride: 1 });
  assert.equal(y1.shape, [N, C, H - 1, W - 1]);
});

test('float32 max pooling (vector rows) picks what the float64 scalar rule picks, on random windows', () => {
  let seed = 11;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor(seed / 65536) % n; // the high bits: the low ones of this generator cycle
  };
  for (let c = 0; c < 60; c++) {
    let kh = 1 + rnd(4),
      kw = 1 + rnd(4),
      sh = 1 + rnd(3),
      sw = 1 + rnd(c % 3 === 2 ? 3 : 2), // mostly the vector strides
      dh = 1 + rnd(2),
      dw = 1 + rnd(2);
    let ph = rnd(Math.floor(kh / 2) + 1),
      pw = rnd(Math.floor(kw / 2) + 1);
    let H = (kh - 1) * dh + 1 + rnd(12),
      W = (kw - 1) * dw + 1 + rnd(90);
    // first: 1x1 windows on planes 41 wide, where 41 * fl(1 / 41) rounds below 1 (the backward's
    // row estimate must be corrected up for indices at column 0)
    if (c === 0) [kh, kw, sh, sw, ph, pw, dh, dw, H, W] = [1, 1, 1, 1, 0, 0, 1, 1, 5, 41];
    const n = 2 * 3 * H * W;
    const vals = new Float32Array(n);
    const distinct = c % 2 === 0 ? 4 : 1000; // few values: many ties
    for (let i = 0; i < n; i++) vals[i] = rnd(distinct) - distinct / 2;
    for (let i = 0; i < 4; i++) vals[rnd(n)] = [NaN, -Infinity, Infinity, NaN][i];
    const x = kiln.tensor(vals).reshape([2, 3, H, W]);
    const o = {
      stride: [sh, sw] as [number, number],
      padding: [ph, pw] as [number, number],
      dilation: [dh, dw] as [number, number],
      ceilMode: c % 4 === 3,
    };
    const label = `k ${kh}x${kw} s ${sh},${sw} p ${ph},${pw} d ${dh},${dw} ${H}x${W}${o.ceilMode ? ' ceil' : ''}`;
    const [y, idx] = F.maxPool2dWithIndices(x, [kh, kw], o);
    const [y64, idx64] = F.maxPool2dWithIndices(x.to('float64'), [kh, kw], o);
    assert.equal(
      Array.from(idx.data() as BigInt64Array, Number),
      Array.from(idx64.data() as BigInt64Array, Number),
      label,
    );
    const a = y.data() as Float32Array,
      b = y64.data() as Float64Array;
    for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], b[i]) || a[i] === b[i], `${label}: value ${i}`);
    // The backward (float32: the vector index check) adds what the scalar rule adds, also for
    // indices that are not their window's taps; integer gradients make both sums exact.
    const iv = (idx.data() as BigInt64Array).slice();
    for (let i = 0; i < iv.length; i += 1 + rnd(7)) {
      const near = [1, -1, W, -W, 2 * W + 1][rnd(5)]; // beside a tap: off the dilation grid or the window
      iv[i] = rnd(2) ? iv[i] + BigInt(near) : BigInt([-1, rnd(H * W + 4) - 2, 2 ** 40, H * W][rnd(4)]);
    }
    const bad = kiln.tensor(iv).reshape([...idx.shape]);
    const gyv = new Float32Array(y.numel());
    for (let i = 0; i < gyv.length; i++) gyv[i] = rnd(17) - 8;
    const gy = kiln.tensor(gyv).reshape([...y.shape]);
    const geo = { kernel: [kh, kw] as [number, number], stride: o.stride, padding: o.padding, dilation: o.dilation };
    for (const ix of [idx, bad]) {
      const g32 = maxPool2dBackward(gy, ix, geo, [H, W]).data() as Float32Array;
      const g64 = maxPool2dBackward(gy.to('float64'), ix, geo, [H, W]).data() as Float64Array;
      assert.equal(Array.from(g32), Array.from(g64), `${label}: backward${ix === bad ? ' (bad indices)' : ''}`);
    }
  }
});

test('global average pool: the sums in row-major order in double, as the general path (so the CUDA bits)', () => {
  kiln.manualSeed(12);
  for (const [N, C, H, W] of [
    [3, 21, 7, 7],
    [2, 5, 1, 9],
    [1, 17, 13, 3],
  ]) {
    for (const dtype of ['float32', 'float64'] as const) {
      const x = kiln.randn([N, C, H, W], { dtype }).mul(1e3).detach().requiresGrad_();
      const y = kiln.nn.functional.adaptiveAvgPool2d(x, 1);
      const xs = x.detach().reshape([-1]).toArray() as number[];
      const r = dtype === 'float32' ? Math.fround : (v: number) => v;
      const ys = y.detach().reshape([-1]).toArray() as number[];
      for (let p = 0; p < N * C; p++) {
        let s = 0;
        for (let e = 0; e < H * W; e++) s += xs[p * H * W + e];
        assert.is(ys[p], r(s / (H * W)), `${dtype} [${N},${C},${H},${W}] plane ${p}`);
      }
      // the backward: 0 + g / (H W) everywhere in the plane (+0 for a -0 gradient)
      const gv = Array.from({ length: N * C }, (_, i) => (i === 1 ? -0 : i * 0.37 - 3));
      const gt = kiln.tensor(gv, { dtype });
      const gr = gt.toArray() as number[]; // as the dtype holds them
      y.backward(gt.reshape([N, C, 1, 1]));
      const gx = x.grad!.reshape([-1]).toArray() as number[];
      for (let i = 0; i < gx.length; i++)
        assert.ok(Object.is(gx[i], r(0 + gr[Math.floor(i / (H * W))] / (H * W))), `${dtype} gradient ${i}`);
    }
  }
});

test("relu's gradient is PyTorch's: 1 where x > 0, else 0 (also at x = 0)", () => {
  const x = kiln.tensor([-2, -0, 0, 0.5, 3]).requiresGrad_();
  const y = F.relu(x);
  assert.equal(Array.from(y.data() as Float32Array), [0, 0, 0, 0.5, 3]);
  y.sum().backward();
  assert.equal(Array.from(x.grad!.data() as Float32Array), [0, 0, 0, 1, 1]);
});

test('where on random masks with broadcast operands matches the scalar rule', () => {
  for (const dtype of ['float32', 'float64', 'int32', 'uint8'] as const) {
    const n = 1000;
    const c = kiln.rand([n]).gt(0.5);
    const a = kiln.arange(n).to(dtype);
    const b = kiln.tensor(7).to(dtype);
    const out = kiln.where(c, a, b);
    const cs = c.data() as Uint8Array,
      os = Array.from(out.data() as ArrayLike<number>, Number);
    for (let i = 0; i < n; i++) assert.is(os[i], cs[i] ? i % (dtype === 'uint8' ? 256 : Infinity) : 7, `${dtype} ${i}`);
  }
});

test.run();
