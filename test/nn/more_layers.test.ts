// Padding modules, ConvTranspose1d, Unflatten, ChannelShuffle, PixelUnshuffle, adaptive max
// pooling, LP pooling and EmbeddingBag against PyTorch 1.13 numbers (embedded below; made by a
// script with integer-formula inputs, torch in float64), plus gradchecks in float64 and the errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const { nn } = kiln;
const F = nn.functional;
type DT = 'float32' | 'float64';

/** [shape] filled with ((i a + b) mod m - off) / div, the formula the reference script uses. */
function seq(shape: number[], a: number, b: number, m: number, off: number, div: number, dtype: DT = 'float32') {
  const n = shape.reduce((p, s) => p * s, 1);
  const v = Array.from({ length: n }, (_, i) => (((i * a + b) % m) - off) / div);
  return kiln.tensor(v, { dtype }).reshape(shape);
}
/** The weights of the scalar loss sum(y * gw) whose gradients the references hold. */
const gw = (shape: readonly number[]) => seq([...shape], 5, 1, 7, 3, 2);
const flat = (t: kiln.Tensor) => t.reshape([-1]).toArray() as number[];
const num = (t: kiln.Tensor) => t.item() as number;

/** Asserts t's values (and shape) match want within tol relative to max(1, |want|). */
function close(t: kiln.Tensor, want: readonly number[], tol = 1e-5, shape?: readonly number[]) {
  if (shape) assert.equal(t.shape, [...shape]);
  const got = flat(t);
  assert.is(got.length, want.length, 'element count');
  got.forEach((g, i) => {
    if (!(Math.abs(g - want[i]) <= tol * Math.max(1, Math.abs(want[i]))))
      assert.unreachable(`element ${i}: got ${g}, want ${want[i]}`);
  });
}
/** d sum(f(x) * gw) / dx. */
function inputGrad(f: (x: kiln.Tensor) => kiln.Tensor, x: kiln.Tensor): kiln.Tensor {
  const xr = x.detach().clone().requiresGrad_(true);
  const y = f(xr);
  y.mul(gw(y.shape).to(y.dtype)).sum().backward();
  return xr.grad!;
}
const throwsCode = (fn: () => unknown, code: string) =>
  assert.throws(fn, (e: unknown) => e instanceof kiln.KilnError && e.code === code);
const ints = (v: number[], shape = [v.length]) => kiln.tensor(v, { dtype: 'int64' }).reshape(shape);

// PyTorch 1.13 outputs in float64: torch's modules (F.pad for circular, which 1.13 has no module
// for) on the same seq(...) inputs and weights as each test below; gradients of sum(y * gw(y.shape)).
const REF = {
  pad1_constant: {
    shape: [2, 3, 8],
    data: [
      1.5, 1.5, -1.5, 0.25, -1.25, 0.5, -1.0, 1.5, 1.5, 1.5, 0.75, -0.75, 1.0, -0.5, 1.25, 1.5, 1.5, 1.5, -0.25, 1.5,
      0.0, -1.5, 0.25, 1.5, 1.5, 1.5, -1.25, 0.5, -1.0, 0.75, -0.75, 1.5, 1.5, 1.5, 1.0, -0.5, 1.25, -0.25, 1.5, 1.5,
      1.5, 1.5, 0.0, -1.5, 0.25, -1.25, 0.5, 1.5,
    ],
  },
  pad1_reflect: {
    shape: [2, 3, 8],
    data: [
      -1.25, 0.25, -1.5, 0.25, -1.25, 0.5, -1.0, 0.5, 1.0, -0.75, 0.75, -0.75, 1.0, -0.5, 1.25, -0.5, 0.0, 1.5, -0.25,
      1.5, 0.0, -1.5, 0.25, -1.5, -1.0, 0.5, -1.25, 0.5, -1.0, 0.75, -0.75, 0.75, 1.25, -0.5, 1.0, -0.5, 1.25, -0.25,
      1.5, -0.25, 0.25, -1.5, 0.0, -1.5, 0.25, -1.25, 0.5, -1.25,
    ],
  },
  pad1_replicate: {
    shape: [2, 3, 8],
    data: [
      -1.5, -1.5, -1.5, 0.25, -1.25, 0.5, -1.0, -1.0, 0.75, 0.75, 0.75, -0.75, 1.0, -0.5, 1.25, 1.25, -0.25, -0.25,
      -0.25, 1.5, 0.0, -1.5, 0.25, 0.25, -1.25, -1.25, -1.25, 0.5, -1.0, 0.75, -0.75, -0.75, 1.0, 1.0, 1.0, -0.5, 1.25,
      -0.25, 1.5, 1.5, 0.0, 0.0, 0.0, -1.5, 0.25, -1.25, 0.5, 0.5,
    ],
  },
  pad1_circular: {
    shape: [2, 3, 8],
    data: [
      0.5, -1.0, -1.5, 0.25, -1.25, 0.5, -1.0, -1.5, -0.5, 1.25, 0.75, -0.75, 1.0, -0.5, 1.25, 0.75, -1.5, 0.25, -0.25,
      1.5, 0.0, -1.5, 0.25, -0.25, 0.75, -0.75, -1.25, 0.5, -1.0, 0.75, -0.75, -1.25, -0.25, 1.5, 1.0, -0.5, 1.25,
      -0.25, 1.5, 1.0, -1.25, 0.5, 0.0, -1.5, 0.25, -1.25, 0.5, 0.0,
    ],
  },
  pad2_constant: {
    shape: [1, 2, 6, 7],
    data: [
      1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, -1.5, 0.25, -1.25, 0.5, 1.5, 1.5, 1.5,
      -1.0, 0.75, -0.75, 1.0, 1.5, 1.5, 1.5, -0.5, 1.25, -0.25, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5,
      1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 0.0, -1.5, 0.25, -1.25, 1.5, 1.5, 1.5, 0.5,
      -1.0, 0.75, -0.75, 1.5, 1.5, 1.5, 1.0, -0.5, 1.25, -0.25, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5,
    ],
  },
  pad2_reflect: {
    shape: [1, 2, 6, 7],
    data: [
      1.25, -0.5, 1.25, -0.25, 1.5, -0.25, 1.25, 0.75, -1.0, 0.75, -0.75, 1.0, -0.75, 0.75, 0.25, -1.5, 0.25, -1.25,
      0.5, -1.25, 0.25, 0.75, -1.0, 0.75, -0.75, 1.0, -0.75, 0.75, 1.25, -0.5, 1.25, -0.25, 1.5, -0.25, 1.25, 0.75,
      -1.0, 0.75, -0.75, 1.0, -0.75, 0.75, -0.5, 1.0, -0.5, 1.25, -0.25, 1.25, -0.5, -1.0, 0.5, -1.0, 0.75, -0.75, 0.75,
      -1.0, -1.5, 0.0, -1.5, 0.25, -1.25, 0.25, -1.5, -1.0, 0.5, -1.0, 0.75, -0.75, 0.75, -1.0, -0.5, 1.0, -0.5, 1.25,
      -0.25, 1.25, -0.5, -1.0, 0.5, -1.0, 0.75, -0.75, 0.75, -1.0,
    ],
  },
  pad2_replicate: {
    shape: [1, 2, 6, 7],
    data: [
      -1.5, -1.5, 0.25, -1.25, 0.5, 0.5, 0.5, -1.5, -1.5, 0.25, -1.25, 0.5, 0.5, 0.5, -1.5, -1.5, 0.25, -1.25, 0.5, 0.5,
      0.5, -1.0, -1.0, 0.75, -0.75, 1.0, 1.0, 1.0, -0.5, -0.5, 1.25, -0.25, 1.5, 1.5, 1.5, -0.5, -0.5, 1.25, -0.25, 1.5,
      1.5, 1.5, 0.0, 0.0, -1.5, 0.25, -1.25, -1.25, -1.25, 0.0, 0.0, -1.5, 0.25, -1.25, -1.25, -1.25, 0.0, 0.0, -1.5,
      0.25, -1.25, -1.25, -1.25, 0.5, 0.5, -1.0, 0.75, -0.75, -0.75, -0.75, 1.0, 1.0, -0.5, 1.25, -0.25, -0.25, -0.25,
      1.0, 1.0, -0.5, 1.25, -0.25, -0.25, -0.25,
    ],
  },
  pad2_circular: {
    shape: [1, 2, 6, 7],
    data: [
      1.0, -1.0, 0.75, -0.75, 1.0, -1.0, 0.75, 1.5, -0.5, 1.25, -0.25, 1.5, -0.5, 1.25, 0.5, -1.5, 0.25, -1.25, 0.5,
      -1.5, 0.25, 1.0, -1.0, 0.75, -0.75, 1.0, -1.0, 0.75, 1.5, -0.5, 1.25, -0.25, 1.5, -0.5, 1.25, 0.5, -1.5, 0.25,
      -1.25, 0.5, -1.5, 0.25, -0.75, 0.5, -1.0, 0.75, -0.75, 0.5, -1.0, -0.25, 1.0, -0.5, 1.25, -0.25, 1.0, -0.5, -1.25,
      0.0, -1.5, 0.25, -1.25, 0.0, -1.5, -0.75, 0.5, -1.0, 0.75, -0.75, 0.5, -1.0, -0.25, 1.0, -0.5, 1.25, -0.25, 1.0,
      -0.5, -1.25, 0.0, -1.5, 0.25, -1.25, 0.0, -1.5,
    ],
  },
  pad3_constant: {
    shape: [1, 1, 3, 5, 5],
    data: [
      1.5, 1.5, 1.5, 1.5, 1.5, 1.5, -1.5, 0.25, -1.25, 0.5, 1.5, -1.0, 0.75, -0.75, 1.0, 1.5, -0.5, 1.25, -0.25, 1.5,
      1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 0.0, -1.5, 0.25, -1.25, 1.5, 0.5, -1.0, 0.75, -0.75, 1.5,
      1.0, -0.5, 1.25, -0.25, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5,
      1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5,
    ],
  },
  pad3_reflect: {
    shape: [1, 1, 3, 5, 5],
    data: [
      0.75, -1.0, 0.75, -0.75, 1.0, 0.25, -1.5, 0.25, -1.25, 0.5, 0.75, -1.0, 0.75, -0.75, 1.0, 1.25, -0.5, 1.25, -0.25,
      1.5, 0.75, -1.0, 0.75, -0.75, 1.0, -1.0, 0.5, -1.0, 0.75, -0.75, -1.5, 0.0, -1.5, 0.25, -1.25, -1.0, 0.5, -1.0,
      0.75, -0.75, -0.5, 1.0, -0.5, 1.25, -0.25, -1.0, 0.5, -1.0, 0.75, -0.75, 0.75, -1.0, 0.75, -0.75, 1.0, 0.25, -1.5,
      0.25, -1.25, 0.5, 0.75, -1.0, 0.75, -0.75, 1.0, 1.25, -0.5, 1.25, -0.25, 1.5, 0.75, -1.0, 0.75, -0.75, 1.0,
    ],
  },
  pad3_replicate: {
    shape: [1, 1, 3, 5, 5],
    data: [
      -1.5, -1.5, 0.25, -1.25, 0.5, -1.5, -1.5, 0.25, -1.25, 0.5, -1.0, -1.0, 0.75, -0.75, 1.0, -0.5, -0.5, 1.25, -0.25,
      1.5, -0.5, -0.5, 1.25, -0.25, 1.5, 0.0, 0.0, -1.5, 0.25, -1.25, 0.0, 0.0, -1.5, 0.25, -1.25, 0.5, 0.5, -1.0, 0.75,
      -0.75, 1.0, 1.0, -0.5, 1.25, -0.25, 1.0, 1.0, -0.5, 1.25, -0.25, 0.0, 0.0, -1.5, 0.25, -1.25, 0.0, 0.0, -1.5,
      0.25, -1.25, 0.5, 0.5, -1.0, 0.75, -0.75, 1.0, 1.0, -0.5, 1.25, -0.25, 1.0, 1.0, -0.5, 1.25, -0.25,
    ],
  },
  pad3_circular: {
    shape: [1, 1, 3, 5, 5],
    data: [
      1.5, -0.5, 1.25, -0.25, 1.5, 0.5, -1.5, 0.25, -1.25, 0.5, 1.0, -1.0, 0.75, -0.75, 1.0, 1.5, -0.5, 1.25, -0.25,
      1.5, 0.5, -1.5, 0.25, -1.25, 0.5, -0.25, 1.0, -0.5, 1.25, -0.25, -1.25, 0.0, -1.5, 0.25, -1.25, -0.75, 0.5, -1.0,
      0.75, -0.75, -0.25, 1.0, -0.5, 1.25, -0.25, -1.25, 0.0, -1.5, 0.25, -1.25, 1.5, -0.5, 1.25, -0.25, 1.5, 0.5, -1.5,
      0.25, -1.25, 0.5, 1.0, -1.0, 0.75, -0.75, 1.0, 1.5, -0.5, 1.25, -0.25, 1.5, 0.5, -1.5, 0.25, -1.25, 0.5,
    ],
  },
  pad1_int3: [
    0.5, -1.25, 0.25, -1.5, 0.25, -1.25, 0.5, -1.0, 0.5, -1.25, 0.25, -0.5, 1.0, -0.75, 0.75, -0.75, 1.0, -0.5, 1.25,
    -0.5, 1.0, -0.75, -1.5, 0.0, 1.5, -0.25, 1.5, 0.0, -1.5, 0.25, -1.5, 0.0, 1.5, 0.75, -1.0, 0.5, -1.25, 0.5, -1.0,
    0.75, -0.75, 0.75, -1.0, 0.5, -0.25, 1.25, -0.5, 1.0, -0.5, 1.25, -0.25, 1.5, -0.25, 1.25, -0.5, -1.25, 0.25, -1.5,
    0.0, -1.5, 0.25, -1.25, 0.5, -1.25, 0.25, -1.5,
  ],
  pad2_neg: {
    shape: [1, 2, 2, 5],
    data: [
      0.25, -1.25, 0.5, 0.5, 0.5, 0.75, -0.75, 1.0, 0.5, 0.5, -1.5, 0.25, -1.25, 0.5, 0.5, -1.0, 0.75, -0.75, 0.5, 0.5,
    ],
  },
  pad2_reflect_grad: [
    1.5, -0.5, 0.5, -1.5, 4.5, -1.5, 1.5, -4.5, 3.0, -1.0, 1.0, -3.0, 1.5, -0.5, 0.5, -1.5, 4.5, -1.5, 1.5, -4.5, 3.0,
    -1.0, 1.0, -3.0,
  ],
  pad3_circular_grad: [
    -0.5, 2.5, 2.0, -2.0, -0.5, 1.0, -1.0, -1.5, 2.0, -2.0, -2.5, 3.0, -2.0, -0.5, 1.0, -1.0, 1.5, 0.5, -0.5, -2.5, 1.0,
    -1.0, 0.5, 1.5,
  ],
  ct1: {
    shape: [2, 6, 10],
    data: [
      -1.433333333, -0.4333333333, -0.4333333333, -0.3, -1.233333333, -0.7666666667, -0.2333333333, -0.6333333333,
      -1.033333333, 0.03333333333, -0.3833333333, -0.65, -0.7166666667, -0.05, -0.45, -0.05, -0.7833333333, 0.55,
      -0.5166666667, -0.9166666667, 0.6666666667, -0.1333333333, -1.0, 0.2, 0.3333333333, -0.06666666667, -1.333333333,
      0.2666666667, 0.0, -0.4, 0.05, 0.45, -0.2166666667, -0.15, 0.1166666667, -0.15, -0.15, 2.25, 1.383333333,
      -1.016666667, -0.2333333333, 0.7, 0.5666666667, 0.5666666667, -0.4333333333, 1.033333333, 0.3666666667, -1.5,
      1.766666667, 1.566666667, 1.683333333, 0.95, 0.6166666667, 0.55, 1.95, 0.75, 0.8833333333, -0.85, -0.7833333333,
      1.95, -1.233333333, -0.7666666667, -0.2333333333, -0.6333333333, -1.033333333, 1.3, 0.5666666667, -2.166666667,
      -0.8333333333, -0.1, -0.45, -0.05, -0.7833333333, 0.55, -0.5166666667, -2.45, 0.95, 1.15, -0.5833333333,
      -0.5833333333, 0.3333333333, -0.06666666667, -1.333333333, 0.2666666667, 0.0, -1.8, 1.333333333, 1.533333333,
      -0.3333333333, -0.3333333333, 0.1166666667, -0.15, -0.15, 2.25, 1.383333333, -1.35, -0.08333333333, 1.65, 1.45,
      -1.283333333, -0.4333333333, 1.033333333, 0.3666666667, -1.5, 1.766666667, 1.966666667, 0.1666666667,
      -1.166666667, 1.566666667, 1.766666667, 1.95, 0.75, 0.8833333333, -0.85, -0.7833333333, 2.35, 1.15, -1.05,
      -0.5166666667, 1.883333333,
    ],
    gx: [
      1.5, -5.9, 3.1, -1.9, 1.5, -4.3, 2.7, -2.2, 1.3, 2.0, 0.1, 2.4, 0.1, -0.8, 1.8, 0.9, -1.8, 1.1, 1.9, -1.5, 2.4,
      -1.9, 1.5, 0.7, -0.1, -1.8, 1.3, 2.0, -1.5, 2.7, 0.5, -0.8, 1.8, -3.3, 2.8, 0.5, 1.9, -1.5, 2.8, -4.8,
    ],
    gw: [
      3.166666667, 3.166666667, -2.833333333, 0.8333333333, 3.833333333, 0.1666666667, -7.333333333, 3.333333333,
      3.166666667, 4.666666667, 1.666666667, -7.666666667, 3.5, 5.166666667, -4.166666667, -1.166666667, 5.166666667,
      1.666666667, -0.3333333333, 3.666666667, -1.0, -1.5, 3.666666667, 2.5, -7.333333333, 2.5, 3.666666667, 4.0, -3.0,
      -4.166666667, 4.666666667, 2.833333333, -7.666666667, 3.0, 5.166666667, -3.0,
    ],
    gb: [0.5, 0.0, -0.5, -1.0, -1.5, 1.5],
    keys: { weight: [4, 3, 3], bias: [6] },
  },
  ct1_unbatched: {
    shape: [2, 6],
    data: [
      0.2666666667, 0.2666666667, -0.06666666667, -0.6666666667, 0.2666666667, -0.3333333333, 0.2666666667,
      -0.9333333333, -0.3333333333, 2.533333333, -1.466666667, 2.6,
    ],
    keys: ['weight'],
  },
  channel_shuffle: [
    0.0, 1.0, 2.0, 3.0, 8.0, 9.0, 10.0, 11.0, 16.0, 17.0, 18.0, 19.0, 4.0, 5.0, 6.0, 7.0, 12.0, 13.0, 14.0, 15.0, 20.0,
    21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 32.0, 33.0, 34.0, 35.0, 40.0, 41.0, 42.0, 43.0, 28.0, 29.0, 30.0, 31.0,
    36.0, 37.0, 38.0, 39.0, 44.0, 45.0, 46.0, 47.0,
  ],
  pixel_unshuffle: [
    0.0, 2.0, 4.0, 12.0, 14.0, 16.0, 1.0, 3.0, 5.0, 13.0, 15.0, 17.0, 6.0, 8.0, 10.0, 18.0, 20.0, 22.0, 7.0, 9.0, 11.0,
    19.0, 21.0, 23.0, 24.0, 26.0, 28.0, 36.0, 38.0, 40.0, 25.0, 27.0, 29.0, 37.0, 39.0, 41.0, 30.0, 32.0, 34.0, 42.0,
    44.0, 46.0, 31.0, 33.0, 35.0, 43.0, 45.0, 47.0,
  ],
  amp2: {
    data: [
      10.2, 10.2, 1.7, 5.4, 10.2, 10.2, 8.7, 0.2, 5.0, 8.7, 9.8, 9.8, 9.4, 0.9, 4.6, 8.3, 10.5, 10.5, -0.6, 3.1, 7.9,
      9.0, 10.1, 10.1, 0.1, 3.8, 7.5, 8.6, 9.7, -1.4, 2.3, 6.0, 8.2, 9.3, 9.3, 0.8, 3.0, 6.7, 10.4, 10.4, 10.0, 1.5,
      5.2, 8.9, 10.0, 8.5, 0.0, 3.7, 5.9, 9.6, 9.6, 8.1, 0.7, 4.4, 8.1, 9.2, 10.3, -0.8, 2.9, 6.6, 8.8, 9.9, 9.9, -1.2,
      3.6, 7.3, 8.4, 9.5, -1.6, 2.1, 5.8, 9.5,
    ],
    idx: [
      11, 11, 3, 4, 11, 11, 22, 14, 21, 22, 28, 28, 10, 2, 3, 4, 16, 16, 13, 14, 21, 27, 33, 33, 1, 2, 3, 9, 15, 12, 13,
      14, 26, 32, 32, 24, 1, 2, 3, 3, 20, 12, 13, 14, 20, 31, 23, 24, 1, 2, 2, 13, 11, 12, 13, 19, 25, 22, 23, 24, 1, 7,
      7, 4, 11, 12, 18, 24, 21, 22, 23, 24,
    ],
  },
  amp2_none: {
    shape: [2, 3, 7, 2],
    data: [
      -2.0, 5.4, 9.1, 2.8, 10.2, 0.2, 7.6, -2.4, 8.7, 8.7, 6.1, 9.8, 3.5, 7.2, 0.9, 8.3, -1.7, 5.7, 9.4, 3.1, 10.5, 0.5,
      7.9, -2.1, 9.0, 9.0, 6.4, 10.1, 3.8, 7.5, 1.2, 8.6, -1.4, 6.0, 9.7, 3.4, 7.1, 0.8, 8.2, -1.8, 9.3, 9.3, 6.7, 10.4,
      4.1, 7.8, 1.5, 8.9, -1.1, 6.3, 10.0, 3.7, 7.4, 1.1, 8.5, -1.5, 9.6, 9.6, 7.0, 7.0, 4.4, 8.1, 1.8, 9.2, -0.8, 6.6,
      10.3, 4.0, 7.7, 1.4, 8.8, -1.2, 9.9, 9.9, 7.3, 7.3, 4.7, 8.4, 2.1, 9.5, -0.5, 6.9, -3.1, 4.3,
    ],
    idx: [
      2, 4, 5, 9, 11, 14, 16, 19, 22, 22, 27, 28, 32, 33, 2, 4, 7, 9, 10, 14, 16, 19, 21, 24, 27, 27, 32, 33, 2, 3, 7,
      9, 12, 14, 15, 19, 20, 24, 26, 29, 32, 32, 2, 3, 7, 8, 12, 14, 17, 19, 20, 24, 25, 29, 31, 34, 2, 2, 7, 7, 12, 13,
      17, 19, 22, 24, 25, 29, 30, 34, 1, 4, 7, 7, 12, 12, 17, 18, 22, 24, 27, 29, 32, 34,
    ],
  },
  amp2_grad: [
    0.0, 0.0, 0.0, 1.5, 0.5, -1.0, 0.0, 0.0, 0.0, 1.0, 0.0, -2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0, 0.0, 0.0, 0.5, 0.0, -1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, -0.5,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    2.0, 0.0, 0.0, -0.5, 0.0, -1.5, 0.0, 0.0, 0.0, 0.0, -1.0, 2.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, -1.5,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 0.0, -1.5, 0.0,
    1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.5, 0.5, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0,
    -2.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.5, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0,
    0.0, -2.5, 0.0, 0.0, 0.0, 0.0, 0.0, 2.5, 0.0, 0.0, 0.5, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.5, 0.0, 0.0, 0.0,
    0.0, -1.0, 2.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.5, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0,
    0.0, -1.0, 1.5, 0.0, 0.0, 0.0, 0.0, 0.0,
  ],
  amp1: {
    data: [
      -2.0, 5.4, 9.1, 2.8, 10.2, 0.2, 7.6, -2.4, 8.7, 8.7, 6.1, 9.8, 3.5, 7.2, 0.9, 8.3, -1.7, 5.7, 9.4, 3.1, 10.5, 0.5,
      7.9, -2.1,
    ],
    idx: [2, 4, 5, 9, 1, 4, 6, 9, 2, 2, 7, 8, 2, 3, 7, 9, 2, 4, 5, 9, 1, 4, 6, 9],
  },
  lp2: {
    shape: [1, 2, 3, 4],
    data: [
      2.25, 2.25, 2.291287847, 2.193741097, 2.318404624, 2.193741097, 2.291287847, 2.25, 2.270737766, 2.186606961,
      2.143303525, 2.143303525, 2.318404624, 2.304886114, 2.331844763, 2.397915762, 2.25, 2.291287847, 2.193741097,
      2.318404624, 2.186606961, 2.270737766, 2.391390809, 2.291287847,
    ],
  },
  lp2_p3: {
    shape: [1, 2, 3, 2],
    data: [
      2.378342477, 2.454164789, 2.205932679, 2.310108314, 2.310108314, 2.205932679, 2.454164789, 2.378342477,
      2.320794417, 2.261260424, 2.23132694, 2.378342477,
    ],
    grad: [
      -0.2762302529, -0.3977715642, 0.2490484353, 0.762710833, 0.0, -0.7071494474, -0.04419684046, 0.996193741,
      0.1400897448, 0.0, 0.1027508671, 0.231189451, -0.1463946967, -0.1463946967, 0.0, 0.1027508671, 0.3146745306,
      -0.05270209081, -0.3747704235, 0.0, -1.124311271, -0.1581062724, 0.6293490611, 0.2055017343, 0.0, -0.4391840901,
      -0.4391840901, 0.4623789021, 0.2055017343, 0.0, 0.0, 0.0, -0.04419684046, -0.7071494474, 0.0, 0.0, 0.0,
      -0.3977715642, -0.2762302529, 0.0, 0.6266144925, 0.27849533, 0.2994642183, 0.05500363194, 0.0, 0.0696238325,
      1.11398132, 0.05500363194, 0.2994642183, 0.0, -0.2259571585, -0.1569146934, -0.4143453794, -0.5966573463, 0.0,
      -0.307552799, -0.05648928962, -1.060724171, -0.0662952607, 0.0,
    ],
  },
  lp1: {
    shape: [2, 2, 3],
    data: [
      2.101781106, 2.005541119, 1.98354173, 2.727983339, 2.47096245, 2.260007763, 2.47096245, 2.727983339, 2.82772796,
      2.005541119, 2.101781106, 2.260007763,
    ],
  },
  bag_sum: [-1.5, -4.0, 1.25, 0.0, 0.0, 0.0, -1.0, -3.5, 1.75, -3.0, 0.5, 4.0],
  bag_mean: [
    -0.5, -1.333333333, 0.4166666667, 0.0, 0.0, 0.0, -0.3333333333, -1.166666667, 0.5833333333, -1.5, 0.25, 2.0,
  ],
  bag_max: [2.25, 1.25, 3.0, 0.0, 0.0, 0.0, 2.25, 1.5, 3.25, -0.5, 1.25, 3.0],
  bag_mean_pad: [-1.875, -0.125, 1.625, 0.0, 0.0, 0.0, -1.625, 0.125, 1.875, -1.5, 0.25, 2.0],
  bag_max_pad: [-0.5, 1.25, 3.0, 0.0, 0.0, 0.0, -0.25, 1.5, 3.25, -0.5, 1.25, 3.0],
  bag_mean_single: [-3.25, -1.5, 0.25, 0.875, -1.25, 0.5, -0.9375, -1.125, 0.625],
  bag_2d: [-0.5, 1.25, 0.4166666667, -0.25, -1.083333333, 0.6666666667],
  bag_psw: [1.125, 2.0, 2.875, 0.0, 0.0, 0.0, 2.875, -2.75, -4.5, -0.5, 1.25, 3.0],
  bag_last: [-1.5, -4.0, 1.25, 2.0, -2.25, 1.25, -6.0, -0.75, 4.5],
  bag_mean_gw: [
    -0.5, 0.75, 0.25, 0.0, 0.0, 0.0, -0.25, 0.5, -0.5, 0.0, -0.5, 0.75, 0.0, 0.0, 0.0, 0.0, -0.5, 0.75, 0.0, 0.0, 0.0,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25, -0.25, -0.75,
  ],
  bag_max_gw: [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, -1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0, 1.5, 0.0, 0.0, 0.0, 0.0,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
  ],
  bag_psw_gw: [
    0.5, -0.75, -0.25, 0.0, 0.0, 0.0, -0.5, 1.0, -1.0, 0.0, 0.5, -0.75, 0.0, -0.5, 0.75, 0.0, 1.0, -1.5, 0.0, 0.0, 0.0,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
  ],
  bag_psw_gp: [1.125, 3.875, -8.875, 3.375, 0.75, 2.0, -5.375, -2.375],
  bag_keys: { weight: [10, 3] },
  bag_pad_row_zero: true,
} as const;

test('padding modules: every mode in 1-d, 2-d and 3-d as torch', () => {
  const xs: Record<number, kiln.Tensor> = {
    1: seq([2, 3, 5], 7, 0, 13, 6, 4),
    2: seq([1, 2, 3, 4], 7, 0, 13, 6, 4),
    3: seq([1, 1, 2, 3, 4], 7, 0, 13, 6, 4),
  };
  const pads: Record<number, number[]> = { 1: [2, 1], 2: [1, 2, 2, 1], 3: [1, 0, 1, 1, 0, 1] };
  const make: Record<string, (d: number, p: number[]) => kiln.nn.Module> = {
    constant: (d, p) => new [nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d][d - 1](p, 1.5),
    reflect: (d, p) => new [nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d][d - 1](p),
    replicate: (d, p) => new [nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d][d - 1](p),
    circular: (d, p) => new [nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d][d - 1](p),
  };
  for (const d of [1, 2, 3])
    for (const mode of Object.keys(make)) {
      const ref = (REF as unknown as Record<string, { shape: number[]; data: number[] }>)[`pad${d}_${mode}`];
      const m = make[mode](d, pads[d]);
      close(m.forward(xs[d]) as kiln.Tensor, ref.data, 1e-6, ref.shape);
      // unbatched: the same values without the batch dim
      const un = m.forward(xs[d].select(0, xs[d].shape[0] - 1)) as kiln.Tensor;
      const per = ref.data.length / xs[d].shape[0];
      close(un, ref.data.slice(ref.data.length - per), 1e-6, ref.shape.slice(1));
    }
  close(new nn.ReflectionPad1d(3).forward(xs[1]), REF.pad1_int3, 1e-6, [2, 3, 11]);
  close(new nn.ConstantPad2d([-1, 2, 0, -1], 0.5).forward(xs[2]), REF.pad2_neg.data, 1e-6, REF.pad2_neg.shape);
  // zero padding is constant padding with 0
  const z = new nn.ZeroPad2d([1, 2, 2, 1]).forward(xs[2]);
  const c0 = new nn.ConstantPad2d([1, 2, 2, 1], 0).forward(xs[2]);
  assert.ok(z.equal(c0));
  assert.is(z.select(2, 0).abs().sum().item(), 0);
  assert.equal(new nn.ZeroPad1d(2).forward(xs[1]).shape, [2, 3, 9]);
  assert.equal(new nn.ZeroPad3d(1).forward(xs[3]).shape, [1, 1, 4, 5, 6]);
  assert.equal(new nn.ZeroPad2d(1).padding, [1, 1, 1, 1]);
  // input gradients as torch's
  close(
    inputGrad((x) => new nn.ReflectionPad2d([1, 2, 2, 1]).forward(x), xs[2]),
    REF.pad2_reflect_grad,
  );
  close(
    inputGrad((x) => new nn.CircularPad3d([1, 0, 1, 1, 0, 1]).forward(x), xs[3]),
    REF.pad3_circular_grad,
  );
});

test('padding modules: gradcheck in float64 and errors', () => {
  kiln.manualSeed(3);
  const x = kiln.randn([2, 3, 4, 5], { dtype: 'float64', requiresGrad: true });
  for (const m of [
    new nn.ReflectionPad2d([1, 2, 3, 0]),
    new nn.ReplicationPad2d(2),
    new nn.CircularPad2d([0, 3, 1, 1]),
    new nn.ConstantPad2d([-1, 1, 2, 0], 2),
  ])
    assert.ok(kiln.gradcheck((t) => m.forward(t), [x]));
  const x1 = kiln.randn([2, 6], { dtype: 'float64', requiresGrad: true });
  assert.ok(kiln.gradcheck((t) => new nn.ReflectionPad1d([2, 3]).forward(t), [x1]));
  assert.ok(kiln.gradcheck((t) => new nn.ReplicationPad3d(1).forward(t.reshape([1, 1, 2, 3, 2])), [x1]));

  throwsCode(() => new nn.ReflectionPad1d(1).forward(kiln.ones([4])), 'ERR_SHAPE');
  throwsCode(() => new nn.ReflectionPad1d(1).forward(kiln.ones([1, 2, 3, 4])), 'ERR_SHAPE');
  throwsCode(() => new nn.ReplicationPad2d(1).forward(kiln.ones([3, 4])), 'ERR_SHAPE');
  throwsCode(() => new nn.CircularPad3d(1).forward(kiln.ones([2, 2, 2])), 'ERR_SHAPE');
  throwsCode(() => new nn.ZeroPad2d(1).forward(kiln.ones([4])), 'ERR_SHAPE');
  throwsCode(() => new nn.ConstantPad1d([-3, 0], 0).forward(kiln.ones([1, 2])), 'ERR_SHAPE');
  throwsCode(() => new nn.ReflectionPad2d([1, 2, 3]), 'ERR_ARG');
  throwsCode(() => new nn.ReflectionPad1d(-1), 'ERR_ARG');
  throwsCode(() => new nn.ZeroPad1d(1.5), 'ERR_ARG');
  throwsCode(() => new nn.ReflectionPad1d(3).forward(kiln.ones([1, 3])), 'ERR_ARG'); // reflect needs pad < size
});

test('ConvTranspose1d: torch values, gradients, state-dict keys, unbatched', () => {
  const ct = new nn.ConvTranspose1d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2 });
  const sd = ct.stateDict();
  assert.equal(Object.fromEntries([...sd].map(([k, v]) => [k, v.shape])), REF.ct1.keys);
  kiln.noGrad(() => {
    ct.weight.copy_(seq([4, 3, 3], 3, 1, 11, 5, 5));
    ct.bias!.copy_(seq([6], 1, 0, 6, 2, 4));
  });
  const x = seq([2, 4, 5], 5, 2, 9, 4, 3).requiresGrad_(true);
  const y = ct.forward(x);
  close(y, REF.ct1.data, 1e-5, REF.ct1.shape);
  y.mul(gw(y.shape)).sum().backward();
  close(x.grad!, REF.ct1.gx);
  close(ct.weight.grad!, REF.ct1.gw);
  close(ct.bias!.grad!, REF.ct1.gb);
  // the functional form gives the same
  close(
    F.convTranspose1d(x.detach(), ct.weight.detach(), ct.bias!.detach(), {
      stride: 2,
      padding: 1,
      outputPadding: 1,
      groups: 2,
    }),
    REF.ct1.data,
  );

  const ct2 = new nn.ConvTranspose1d(3, 2, 2, { dilation: 2, bias: false });
  assert.equal([...ct2.stateDict().keys()], REF.ct1_unbatched.keys);
  assert.is(ct2.bias, null);
  kiln.noGrad(() => ct2.weight.copy_(seq([3, 2, 2], 3, 1, 11, 5, 5)));
  close(ct2.forward(seq([3, 4], 5, 2, 9, 4, 3)), REF.ct1_unbatched.data, 1e-5, REF.ct1_unbatched.shape);

  const w = kiln.randn([3, 2, 3], { dtype: 'float64', requiresGrad: true });
  const xi = kiln.randn([2, 3, 4], { dtype: 'float64', requiresGrad: true });
  assert.ok(kiln.gradcheck((a, b) => F.convTranspose1d(a, b, null, { stride: 2, padding: 1 }), [xi, w]));

  throwsCode(() => ct.forward(kiln.ones([1, 4, 2, 5])), 'ERR_SHAPE');
  throwsCode(() => ct.forward(kiln.ones([1, 3, 5])), 'ERR_SHAPE');
  throwsCode(() => new nn.ConvTranspose1d(4, 5, 3, { groups: 2 }), 'ERR_ARG');
  throwsCode(
    () => F.convTranspose1d(kiln.ones([1, 4, 5]), ct.weight, null, { stride: 2, outputPadding: 2 }),
    'ERR_ARG',
  );
});

test('Unflatten, ChannelShuffle and PixelUnshuffle', () => {
  const x = kiln.arange(0, 60).reshape([3, 20]);
  const u = new nn.Unflatten(1, [4, -1]).forward(x);
  assert.equal(u.shape, [3, 4, 5]);
  assert.equal(flat(u), flat(x));
  assert.equal(new nn.Unflatten(-1, [2, 2, 5]).forward(x).shape, [3, 2, 2, 5]);
  assert.equal(new nn.Unflatten(0, [1, 3]).forward(x).shape, [1, 3, 20]);
  assert.ok(new nn.Flatten().forward(new nn.Unflatten(1, [5, 4]).forward(x)).equal(x));
  throwsCode(() => new nn.Unflatten(1, [3, 7]).forward(x), 'ERR_SHAPE');
  throwsCode(() => new nn.Unflatten(1, [3, -1]).forward(x), 'ERR_SHAPE');
  throwsCode(() => new nn.Unflatten(1, [-1, -1]), 'ERR_ARG');
  throwsCode(() => new nn.Unflatten(2, [2, 10]).forward(x), 'ERR_ARG');

  const xs = seq([2, 6, 2, 2], 1, 0, 1000, 0, 1);
  const s = new nn.ChannelShuffle(3).forward(xs);
  close(s, REF.channel_shuffle, 0, [2, 6, 2, 2]);
  assert.equal(flat(F.channelShuffle(kiln.arange(0, 4).reshape([1, 4, 1]), 2)), [0, 2, 1, 3]);
  assert.ok(F.channelShuffle(F.channelShuffle(xs, 3), 2).equal(xs)); // shuffling by C / g undoes it
  throwsCode(() => F.channelShuffle(xs, 4), 'ERR_SHAPE');
  throwsCode(() => F.channelShuffle(kiln.ones([2, 6]), 2), 'ERR_SHAPE');
  throwsCode(() => new nn.ChannelShuffle(0), 'ERR_ARG');

  close(new nn.PixelUnshuffle(2).forward(seq([1, 2, 4, 6], 1, 0, 1000, 0, 1)), REF.pixel_unshuffle, 0, [1, 8, 2, 3]);
});

test('AdaptiveMaxPool1d/2d: torch windows, values, indices and gradients', () => {
  const x = seq([2, 3, 7, 5], 37, 11, 211, 105, 10);
  const [y, idx] = new nn.AdaptiveMaxPool2d([3, 4], { returnIndices: true }).forward(x);
  close(y, REF.amp2.data, 1e-6, [2, 3, 3, 4]);
  assert.is(idx.dtype, 'int64');
  assert.equal(flat(idx), REF.amp2.idx);
  // each index points at its value in its own plane
  assert.ok(
    x
      .reshape([2, 3, 35])
      .gather(2, idx.reshape([2, 3, 12]))
      .reshape([2, 3, 3, 4])
      .equal(y),
  );
  const [yn, idn] = F.adaptiveMaxPool2dWithIndices(x, [null, 2]);
  close(yn, REF.amp2_none.data, 1e-6, REF.amp2_none.shape);
  assert.equal(flat(idn), REF.amp2_none.idx);
  assert.ok(new nn.AdaptiveMaxPool2d([3, 4]).forward(x).equal(y)); // values alone by default
  assert.ok(F.adaptiveMaxPool2d(x.select(0, 1), [3, 4]).equal(y.select(0, 1))); // unbatched
  close(
    inputGrad((t) => F.adaptiveMaxPool2d(t, [4, 3]), x),
    REF.amp2_grad,
  );
  // output as large as the input: every element its own window
  const same = F.adaptiveMaxPool2dWithIndices(x, [7, 5]);
  assert.ok(same[0].equal(x));

  const x1 = seq([2, 3, 10], 37, 11, 211, 105, 10);
  const [y1, i1] = new nn.AdaptiveMaxPool1d(4, { returnIndices: true }).forward(x1);
  close(y1, REF.amp1.data, 1e-6, [2, 3, 4]);
  assert.equal(flat(i1), REF.amp1.idx);
  assert.equal(new nn.AdaptiveMaxPool1d(3).forward(x1.select(0, 0)).shape, [3, 3]);

  kiln.manualSeed(5);
  const xg = kiln.randn([2, 2, 5, 7], { dtype: 'float64', requiresGrad: true });
  assert.ok(kiln.gradcheck((t) => F.adaptiveMaxPool2d(t, [3, 4]), [xg]));
  const xg1 = kiln.randn([2, 9], { dtype: 'float64', requiresGrad: true });
  assert.ok(kiln.gradcheck((t) => F.adaptiveMaxPool1d(t, 4), [xg1]));

  throwsCode(() => F.adaptiveMaxPool2d(kiln.ones([5, 7]), 2), 'ERR_SHAPE');
  throwsCode(() => F.adaptiveMaxPool1d(kiln.ones([1, 1, 1, 4]), 2), 'ERR_SHAPE');
  throwsCode(() => F.adaptiveMaxPool2d(kiln.ones([1, 1, 0, 3]), 2), 'ERR_SHAPE');
  throwsCode(() => F.adaptiveMaxPool2d(x, 0), 'ERR_ARG');
  throwsCode(() => F.adaptiveMaxPool2d(x, [1, 2, 3] as unknown as [number, number]), 'ERR_ARG');
});

test('LPPool1d/2d: torch values, ceil mode, gradients', () => {
  const x = seq([1, 2, 6, 5], 7, 3, 13, 6, 4);
  close(new nn.LPPool2d(2, [3, 2], { stride: [2, 1], ceilMode: true }).forward(x), REF.lp2.data, 1e-5, REF.lp2.shape);
  const xp = x.abs().add(0.5);
  const m3 = new nn.LPPool2d(3, 2);
  close(m3.forward(xp), REF.lp2_p3.data, 1e-5, REF.lp2_p3.shape);
  close(
    inputGrad((t) => m3.forward(t), xp),
    REF.lp2_p3.grad,
  );
  // p = 1 over positive values is the window sum
  assert.ok(num(F.lpPool2d(xp, 1, 2).sub(F.avgPool2d(xp, 2).mul(4)).abs().amax()) < 1e-5);
  const x1 = seq([2, 2, 7], 7, 3, 13, 6, 4).abs().add(0.25);
  close(new nn.LPPool1d(1.5, 3, { stride: 2, ceilMode: true }).forward(x1), REF.lp1.data, 1e-5, REF.lp1.shape);
  assert.equal(F.lpPool1d(x1.select(0, 0), 2, 3).shape, [2, 2]); // unbatched

  kiln.manualSeed(7);
  const xg = kiln.rand([1, 2, 5, 4], { dtype: 'float64' }).add(0.5).requiresGrad_(true);
  assert.ok(kiln.gradcheck((t) => F.lpPool2d(t, 2, [2, 3], { stride: 1 }), [xg]));
  assert.ok(kiln.gradcheck((t) => F.lpPool2d(t, 3, 2, { ceilMode: true }), [xg]));

  throwsCode(() => new nn.LPPool2d(0, 2), 'ERR_ARG');
  throwsCode(() => F.lpPool2d(x, 2, 2, { stride: 0 }), 'ERR_ARG');
  throwsCode(() => F.lpPool2d(kiln.ones([6, 5]), 2, 2), 'ERR_SHAPE');
  throwsCode(() => F.lpPool1d(kiln.ones([6]), 2, 2), 'ERR_SHAPE');
  throwsCode(() => F.lpPool2d(x, 2, 7), 'ERR_SHAPE');
});

test('EmbeddingBag: sum, mean, max, padding, perSampleWeights, offsets forms as torch', () => {
  const W = seq([10, 3], 7, 2, 31, 15, 4);
  const inp = ints([0, 2, 4, 5, 4, 3, 2, 9]);
  const off = ints([0, 3, 3, 6]);
  close(F.embeddingBag(inp, W, off, { mode: 'sum' }), REF.bag_sum, 1e-6);
  close(F.embeddingBag(inp, W, off), REF.bag_mean, 1e-6); // mean by default
  close(F.embeddingBag(inp, W, off, { mode: 'max' }), REF.bag_max, 1e-6);
  close(F.embeddingBag(inp, W, off, { mode: 'mean', paddingIdx: 4 }), REF.bag_mean_pad, 1e-6);
  close(F.embeddingBag(inp, W, off, { mode: 'max', paddingIdx: -6 }), REF.bag_max_pad, 1e-6);
  close(F.embeddingBag(inp, W, ints([0, 1, 4]), { paddingIdx: 5 }), REF.bag_mean_single, 1e-6, [3, 3]);
  close(F.embeddingBag(ints([1, 2, 3, 4, 5, 6], [2, 3]), W), REF.bag_2d, 1e-6, [2, 3]);
  const psw = seq([8], 3, 1, 5, 2, 2);
  close(F.embeddingBag(inp, W, off, { mode: 'sum', perSampleWeights: psw }), REF.bag_psw, 1e-6);
  close(
    F.embeddingBag(inp, W, ints([0, 3, 5, 8]), { mode: 'sum', includeLastOffset: true }),
    REF.bag_last,
    1e-6,
    [3, 3],
  );
  assert.equal(F.embeddingBag(inp, W, ints([0]), { mode: 'max' }).shape, [1, 3]);

  // the module: torch's state-dict keys, the padding row zero, forward(input, offsets, perSampleWeights)
  const eb = new nn.EmbeddingBag(10, 3, { mode: 'sum', paddingIdx: 2 });
  const sd = eb.stateDict();
  assert.equal(Object.fromEntries([...sd].map(([k, v]) => [k, v.shape])), REF.bag_keys);
  assert.is(eb.weight.select(0, 2).abs().sum().item() === 0, REF.bag_pad_row_zero);
  assert.ok(num(eb.weight.select(0, 3).abs().sum()) > 0);
  kiln.noGrad(() => eb.weight.copy_(W));
  // entries equal to paddingIdx 2 count as weight 0
  const masked = F.embeddingBag(inp, W, off, { mode: 'sum', perSampleWeights: psw.mul(inp.ne(2).to('float32')) });
  close(eb.forward(inp, off, psw), flat(masked), 1e-6);
  const unmasked = F.embeddingBag(inp, W, off, { mode: 'sum', perSampleWeights: psw });
  assert.ok(num(masked.sub(unmasked).abs().amax()) > 0.1);
  const plain = new nn.EmbeddingBag(10, 3, { mode: 'sum' });
  kiln.noGrad(() => plain.weight.copy_(W));
  close(plain.forward(inp, off, psw), REF.bag_psw, 1e-6);
  assert.is(eb.weight.requiresGrad, true);
});

test('EmbeddingBag: gradients reach the weight (and perSampleWeights); gradcheck; errors', () => {
  const inp = ints([0, 2, 4, 5, 4, 3, 2, 9]);
  const off = ints([0, 3, 3, 6]);
  const W = seq([10, 3], 7, 2, 31, 15, 4);
  close(
    inputGrad((w) => F.embeddingBag(inp, w, off, { mode: 'mean', paddingIdx: 4 }), W),
    REF.bag_mean_gw,
  );
  close(
    inputGrad((w) => F.embeddingBag(inp, w, off, { mode: 'max' }), W),
    REF.bag_max_gw,
  );
  const w = W.clone().requiresGrad_(true),
    p = seq([8], 3, 1, 5, 2, 2).requiresGrad_(true);
  const y = F.embeddingBag(inp, w, off, { mode: 'sum', perSampleWeights: p });
  y.mul(gw(y.shape)).sum().backward();
  close(w.grad!, REF.bag_psw_gw);
  close(p.grad!, REF.bag_psw_gp);
  // through the module too
  const eb = new nn.EmbeddingBag(10, 3, { mode: 'mean' });
  eb.forward(inp, off).sum().backward();
  assert.ok(num(eb.weight.grad!.abs().sum()) > 0);
  assert.is(eb.weight.grad!.select(0, 1).abs().sum().item(), 0); // row 1 is in no bag

  kiln.manualSeed(11);
  const w64 = kiln.randn([10, 3], { dtype: 'float64', requiresGrad: true });
  for (const mode of ['sum', 'mean', 'max'] as const)
    assert.ok(kiln.gradcheck((t) => F.embeddingBag(inp, t, off, { mode, paddingIdx: 3 }), [w64]));
  assert.ok(kiln.gradcheck((t) => F.embeddingBag(ints([1, 2, 3, 4, 5, 6], [3, 2]), t, null, { mode: 'max' }), [w64]));
  const p64 = kiln.randn([8], { dtype: 'float64', requiresGrad: true });
  assert.ok(kiln.gradcheck((t, q) => F.embeddingBag(inp, t, off, { mode: 'sum', perSampleWeights: q }), [w64, p64]));

  throwsCode(() => F.embeddingBag(inp, W, ints([1, 3])), 'ERR_ARG'); // offsets[0] != 0
  throwsCode(() => F.embeddingBag(inp, W, ints([0, 3, 9])), 'ERR_ARG'); // past the end
  throwsCode(() => F.embeddingBag(inp, W, ints([0, 5, 3])), 'ERR_ARG'); // decreasing
  throwsCode(() => F.embeddingBag(inp, W), 'ERR_ARG'); // 1-d input without offsets
  throwsCode(() => F.embeddingBag(ints([1, 2], [1, 2]), W, off), 'ERR_ARG'); // 2-d input with offsets
  throwsCode(() => F.embeddingBag(ints([1, 2], [1, 1, 2]), W), 'ERR_SHAPE');
  throwsCode(() => F.embeddingBag(inp, W, off, { mode: 'mean', perSampleWeights: kiln.ones([8]) }), 'ERR_ARG');
  throwsCode(() => F.embeddingBag(inp, W, off, { mode: 'sum', perSampleWeights: kiln.ones([7]) }), 'ERR_SHAPE');
  throwsCode(() => F.embeddingBag(kiln.ones([4]), W, off), 'ERR_DTYPE');
  throwsCode(() => F.embeddingBag(ints([0, 10]), W, ints([0])), 'ERR_INDEX');
  throwsCode(() => F.embeddingBag(inp, W, off, { paddingIdx: 10 }), 'ERR_ARG');
  throwsCode(() => new nn.EmbeddingBag(10, 3, { mode: 'median' as 'sum' }), 'ERR_ARG');
});

test('adaptive max pools of an empty batch give empty outputs, as torch', () => {
  const F = kiln.nn.functional;
  assert.equal(F.adaptiveMaxPool2d(kiln.randn([0, 3, 4, 4]), 2).shape, [0, 3, 2, 2]);
  assert.equal(F.adaptiveMaxPool1d(kiln.randn([0, 3, 4]), 2).shape, [0, 3, 2]);
});

test.run();
