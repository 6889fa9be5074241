// Fast paths that must give what the general rule gives: the 2x2 / 2 max-pool (branch-free max,
// first tap equal to it, rows with a NaN re-run by the general rule), relu's gradient (PyTorch's:
// 0 at x = 0) and where's mask select on random conditions with broadcast operands.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

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
