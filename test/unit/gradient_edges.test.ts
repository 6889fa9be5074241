// Gradients at the points where a formula meets 0 / 0, a kink or a tie, against PyTorch 1.13's
// answers on the same inputs (x.grad after .backward()): prod with zeros, max(dim) / min(dim) ties
// (the gradient goes to the index), binary cross-entropy with logits at 0, cosine similarity of a
// zero vector.
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

test.run();
