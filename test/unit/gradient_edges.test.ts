// Gradients at the points where a formula meets 0 / 0, a kink or a tie, against PyTorch 1.13's
// answers on the same inputs (x.grad after .backward()): prod with zeros, max(dim) / min(dim) ties
// (the gradient goes to the index), binary cross-entropy (with logits at 0; probabilities of 0 and
// 1), cosine similarity of a zero vector, hardswish at +-3, clamp at its bounds, pow and std.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const F = kiln.nn.functional;
const f32 = { dtype: 'float32' } as const;
const grad = (t: kiln.Tensor) => Array.from(t.grad!.data() as Float32Array);
const near = (got: number[], want: number[], what: string) =>
  got.forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]) <= 1e-6 * (1 + Math.abs(want[i])), `${what}[${i}]: ${v} want ${want[i]}`),
  );

test('prod: the product of the others at a lone zero, 0 with two zeros', () => {
  for (const [v, want] of [
    [
      [0, 2, 3],
      [6, 0, 0],
    ],
    [
      [0, 2, 0],
      [0, 0, 0],
    ],
    [
      [1, 2, 3],
      [6, 3, 2],
    ],
  ]) {
    const x = kiln.tensor(v, f32).requiresGrad_();
    x.prod().backward();
    assert.equal(grad(x), want, `prod ${v}`);
  }
  const m = kiln
    .tensor(
      [
        [0, 2, 3],
        [4, 0, 0],
      ],
      f32,
    )
    .requiresGrad_();
  m.prod(1).sum().backward();
  assert.equal(grad(m), [6, 0, 0, 0, 0, 0]);
});

test('max(dim) and min(dim) send the gradient to their index; amax splits it among ties', () => {
  const x = kiln.tensor([[2, 2, 1]], f32).requiresGrad_();
  const r = x.max(1);
  r.values.sum().backward();
  assert.equal(grad(x), [1, 0, 0]);
  assert.equal(Array.from(r.indices.data() as BigInt64Array, Number), [0]);
  const y = kiln.tensor([[3, 1, 1]], f32).requiresGrad_();
  y.min(1, true).values.sum().backward();
  assert.equal(grad(y), [0, 1, 0]);
  const z = kiln.tensor([2, 2, 1], f32).requiresGrad_();
  z.amax().backward();
  assert.equal(grad(z), [0.5, 0.5, 0]);
});

test('binaryCrossEntropyWithLogits at 0 and far out', () => {
  const x = kiln.tensor([-100, 0, 100], f32).requiresGrad_();
  F.binaryCrossEntropyWithLogits(x, kiln.tensor([1, 0, 0], f32)).backward();
  near(grad(x), [-1 / 3, 1 / 6, 1 / 3], 'bce');
});

test('cosineSimilarity of a zero vector', () => {
  const a = kiln
      .tensor(
        [
          [0, 0],
          [1, 2],
        ],
        f32,
      )
      .requiresGrad_(),
    b = kiln
      .tensor(
        [
          [1, 1],
          [2, 1],
        ],
        f32,
      )
      .requiresGrad_();
  F.cosineSimilarity(a, b, { dim: 1 }).sum().backward();
  near(grad(a), [70710680, 70710680, 0.24, -0.12], 'a');
  near(grad(b), [0, 0, -0.12, 0.24], 'b');
});

test('binaryCrossEntropy at probabilities of exactly 0 and 1, and its target gradient', () => {
  const x = kiln.tensor([0, 1, 0.5], f32).requiresGrad_();
  F.binaryCrossEntropy(x, kiln.tensor([0, 1, 1], f32)).backward();
  near(grad(x), [0, 0, -2 / 3], 'saturated');
  const p = kiln.tensor([0.2, 0.7, 0], f32).requiresGrad_(),
    t = kiln.tensor([0, 1, 0.3], f32).requiresGrad_();
  F.binaryCrossEntropy(p, t).backward();
  near(grad(p), [0.4166666269302368, -0.4761904776096344, -100000006144.0], 'input');
  near(grad(t).slice(0, 2), [0.4620981216430664, -0.2824326157569885], 'target');
  assert.is(grad(t)[2], Infinity);
});

test('hardswish at -3 and 3: the middle piece, x / 3 + 1/2', () => {
  const x = kiln.tensor([-3, 0, 3, -4, 4], f32).requiresGrad_();
  F.hardswish(x).sum().backward();
  near(grad(x), [-0.5, 0.5, 1.5, 0, 1], 'hardswish');
});

test("clamp with number bounds has PyTorch's gradient: 1 at the bounds, 0 outside and at NaN", () => {
  // PyTorch 1.13 on the same inputs: x.clamp(lo, hi).sum().backward()
  const cases: [number | null, number | null, number[]][] = [
    [0, 1, [1, 1, 1, 0, 0, 0]],
    [0, null, [1, 1, 1, 0, 1, 0]],
    [null, 1, [1, 1, 1, 1, 0, 0]],
  ];
  for (const [lo, hi, want] of cases) {
    const x = kiln.tensor([0, 0.5, 1, -1, 2, NaN]).requiresGrad_();
    const y = x.clamp(lo, hi);
    y.sum().backward();
    assert.equal(Array.from(x.grad!.data() as Float32Array), want, `clamp(${lo}, ${hi})`);
    const v = Array.from(y.data() as Float32Array);
    assert.equal(v.slice(0, 5), [0, 0.5, 1, lo ?? -1, hi ?? 2]);
    assert.ok(Number.isNaN(v[5]));
  }
});

test("pow and std take PyTorch's gradients where the formula would give NaN", () => {
  // PyTorch 1.13: a.pow(b).sum().backward() and x.std(1).sum().backward() on the same inputs.
  const a = kiln.tensor([0, 2, 0], f32).requiresGrad_(),
    b = kiln.tensor([2, 3, 0], f32).requiresGrad_();
  a.pow(b).sum().backward();
  assert.equal(Array.from(a.grad!.data() as Float32Array), [0, 12, 0]);
  const gb = Array.from(b.grad!.data() as Float32Array);
  assert.equal([gb[0], gb[2]], [0, 0]);
  assert.ok(Math.abs(gb[1] - 5.545177459716797) < 1e-5, `${gb[1]}`);
  const x = kiln.tensor([0, 1, 4], f32).requiresGrad_();
  x.pow(0).sum().backward();
  assert.equal(Array.from(x.grad!.data() as Float32Array), [0, 0, 0]);
  const y = kiln
    .tensor(
      [
        [1, 1, 1],
        [1, 2, 4],
      ],
      f32,
    )
    .requiresGrad_();
  y.std(1).sum().backward();
  const want = [0, 0, 0, -0.4364357590675354, -0.10910891741514206, 0.5455447435379028];
  Array.from(y.grad!.data() as Float32Array).forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]) < 1e-6, `std grad ${i}: ${v} want ${want[i]}`),
  );
});

test.run();
