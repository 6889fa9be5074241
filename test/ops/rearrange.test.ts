// flip, roll, repeat, tile, tril, triu, unbind, outer, diag, trace, F.pad's modes (ts/ops/rearrange.ts), lerp,
// addcmul, addcdiv (ts/ops/arith.ts), norm (ts/ops/vector_norm.ts) and clip: values worked out by
// hand (PyTorch's answers on the same inputs), gradients by finite differences, argument errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';

const arr = (t: kiln.Tensor) => t.toArray() as unknown[];
const m23 = () =>
  kiln.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
const close = (a: number, b: number, tol = 1e-6) =>
  assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${a} vs ${b}`);

test('flip and roll', () => {
  const x = m23();
  assert.equal(arr(x.flip(1)), [
    [3, 2, 1],
    [6, 5, 4],
  ]);
  assert.equal(arr(kiln.flip(x, [0, 1])), [
    [6, 5, 4],
    [3, 2, 1],
  ]);
  assert.equal(arr(x.roll(1, 1)), [
    [3, 1, 2],
    [6, 4, 5],
  ]);
  assert.equal(arr(x.roll(-1, 1)), [
    [2, 3, 1],
    [5, 6, 4],
  ]);
  assert.equal(arr(x.roll(2)), [
    [5, 6, 1],
    [2, 3, 4],
  ]); // flattened
  assert.equal(arr(kiln.roll(x, [1, 4], [0, 1])), [
    [6, 4, 5],
    [3, 1, 2],
  ]);
  assert.equal(arr(x.roll(3, 1)), arr(x));
  throwsCode(() => x.roll([1, 2], 0), 'ERR_ARG', 'x.roll([1, 2], 0)');
  throwsCode(() => x.roll([1, 2]), 'ERR_ARG', 'x.roll([1, 2])');
  throwsCode(() => x.flip(2), 'ERR_ARG', 'x.flip(2)');
});

test('repeat and tile', () => {
  const v = kiln.tensor([1, 2]);
  assert.equal(arr(v.repeat([2, 3])), [
    [1, 2, 1, 2, 1, 2],
    [1, 2, 1, 2, 1, 2],
  ]);
  assert.equal(m23().repeat([2, 1]).shape, [4, 3]);
  assert.equal(arr(m23().repeat([1, 2]))[1], [4, 5, 6, 4, 5, 6]);
  assert.equal(m23().repeat([0, 2]).shape, [0, 6]);
  assert.equal(arr(m23().tile(2)), [
    [1, 2, 3, 1, 2, 3],
    [4, 5, 6, 4, 5, 6],
  ]);
  assert.equal(kiln.tile(v, [3, 1, 1]).shape, [3, 1, 2]);
  throwsCode(() => m23().repeat(2), 'ERR_ARG', 'm23().repeat(2)');
  throwsCode(() => v.repeat([-1]), 'ERR_ARG', 'v.repeat([-1])');
});

test('tril and triu (batched, offsets)', () => {
  const x = kiln.ones([2, 3, 4]);
  assert.equal(arr(x.tril())[1], [
    [1, 0, 0, 0],
    [1, 1, 0, 0],
    [1, 1, 1, 0],
  ]);
  assert.equal(arr(kiln.triu(x, 1))[0], [
    [0, 1, 1, 1],
    [0, 0, 1, 1],
    [0, 0, 0, 1],
  ]);
  assert.equal(arr(m23().tril(-1)), [
    [0, 0, 0],
    [4, 0, 0],
  ]);
  assert.is(m23().triu().dtype, 'int64');
  throwsCode(() => kiln.tensor([1, 2]).tril(), 'ERR_SHAPE', 'kiln.tensor([1, 2]).tril()');
});

test('unbind, outer, diag, trace', () => {
  const parts = m23().unbind(1);
  assert.is(parts.length, 3);
  assert.equal(arr(parts[2]), [3, 6]);
  assert.equal(arr(kiln.outer(kiln.tensor([1, 2]), kiln.tensor([3, 4, 5]))), [
    [3, 4, 5],
    [6, 8, 10],
  ]);
  assert.equal(arr(kiln.tensor([1, 2]).diag()), [
    [1, 0],
    [0, 2],
  ]);
  assert.equal(arr(kiln.tensor([1, 2]).diag(1)), [
    [0, 1, 0],
    [0, 0, 2],
    [0, 0, 0],
  ]);
  assert.equal(arr(kiln.tensor([1, 2]).diag(-1)), [
    [0, 0, 0],
    [1, 0, 0],
    [0, 2, 0],
  ]);
  assert.equal(arr(m23().diag()), [1, 5]);
  assert.equal(arr(m23().diag(1)), [2, 6]);
  assert.equal(arr(m23().diag(-1)), [4]);
  assert.equal(m23().diag(3).shape, [0]);
  assert.is(m23().trace().item(), 6);
  throwsCode(() => kiln.outer(m23(), kiln.tensor([1])), 'ERR_SHAPE', 'kiln.outer(m23(), kiln.tensor([1]))');
  throwsCode(() => kiln.ones([2, 2, 2]).diag(), 'ERR_SHAPE', 'kiln.ones([2, 2, 2]).diag()');
});

test('lerp, addcmul, addcdiv, clip', () => {
  const a = kiln.tensor([0, 10], { dtype: 'float32' }),
    b = kiln.tensor([10, 20], { dtype: 'float32' });
  assert.equal(arr(a.lerp(b, 0.25)), [2.5, 12.5]);
  assert.equal(arr(kiln.lerp(a, b, kiln.tensor([0, 1], { dtype: 'float32' }))), [0, 20]);
  assert.equal(arr(a.addcmul(a, b, { value: 0.5 })), [0, 110]);
  assert.equal(arr(kiln.addcdiv(a, b, kiln.tensor([2, 4], { dtype: 'float32' }))), [5, 15]);
  assert.equal(arr(kiln.tensor([-2, 0.5, 3]).clip(-1, 1)), [-1, 0.5, 1]);
  assert.equal(arr(kiln.clip(kiln.tensor([-2, 3]), 0)), [0, 3]);
});

test('norm: orders, dims, keepdim, and a zero gradient at zero', () => {
  const x = kiln.tensor(
    [
      [3, -4],
      [0, 0],
    ],
    { dtype: 'float64' },
  );
  close(x.norm().item() as number, 5);
  close(kiln.norm(x, 'fro').item() as number, 5);
  assert.equal(arr(x.norm(2, 1)), [5, 0]);
  assert.equal(x.norm(2, 1, true).shape, [2, 1]);
  close(x.norm(1).item() as number, 7);
  close(x.norm(Infinity).item() as number, 4);
  close((x.norm(-Infinity, 1).toArray() as number[])[0], 3);
  close(x.norm(0).item() as number, 2);
  close(x.norm(3).item() as number, Math.cbrt(27 + 64));
  // d|x| / dx = x / |x|, and 0 (not NaN) for the zero row.
  const xg = x.detach().requiresGrad_();
  xg.norm(2, 1).sum().backward();
  assert.equal(arr(xg.grad!), [
    [0.6, -0.8],
    [0, 0],
  ]);
  throwsCode(() => kiln.tensor([1, 2]).norm(), 'ERR_DTYPE', 'kiln.tensor([1, 2]).norm()');
  throwsCode(() => x.norm(-1), 'ERR_ARG', 'x.norm(-1)');
});

test('gradients by finite differences', () => {
  kiln.manualSeed(5);
  const r = (s: number[]) => kiln.randn(s, { dtype: 'float64' }).requiresGrad_();
  const cases: [string, (...t: kiln.Tensor[]) => kiln.Tensor, kiln.Tensor[]][] = [
    ['flip', (x) => x.flip([0, 2]), [r([2, 3, 4])]],
    ['roll', (x) => x.roll([1, -2], [0, 1]), [r([3, 4])]],
    ['repeat', (x) => x.repeat([2, 1, 3]), [r([2, 3])]],
    ['tril', (x) => x.tril(1), [r([2, 3, 4])]],
    ['outer', (a, b) => kiln.outer(a, b), [r([3]), r([4])]],
    ['diag 1-d', (x) => x.diag(-1), [r([3])]],
    ['diag 2-d', (x) => x.diag(1), [r([3, 4])]],
    ['lerp', (a, b, w) => a.lerp(b, w), [r([3]), r([3]), r([3])]],
    ['addcdiv', (a, b, c) => a.addcdiv(b, c.abs().add(1), { value: 0.3 }), [r([3]), r([3]), r([3])]],
    ['norm 2', (x) => x.norm(2, [0, 2]), [r([2, 3, 2])]],
    ['norm 3', (x) => x.norm(3, 1, true), [r([2, 3])]],
  ];
  for (const [label, fn, inputs] of cases) {
    try {
      kiln.gradcheck(fn, inputs);
    } catch (e) {
      assert.unreachable(`${label}: ${(e as Error).message}`);
    }
  }
});

test("F.pad's modes (PyTorch's values), their gradients and errors", () => {
  const F = kiln.nn.functional;
  const x = kiln.arange(0, 12, 1, { dtype: 'float32' }).reshape([1, 3, 4]);
  assert.equal(arr(F.pad(x, [2, 1], { mode: 'reflect' }))[0], [
    [2, 1, 0, 1, 2, 3, 2],
    [6, 5, 4, 5, 6, 7, 6],
    [10, 9, 8, 9, 10, 11, 10],
  ]);
  assert.equal(arr(F.pad(x, [2, 1], { mode: 'replicate' }))[0], [
    [0, 0, 0, 1, 2, 3, 3],
    [4, 4, 4, 5, 6, 7, 7],
    [8, 8, 8, 9, 10, 11, 11],
  ]);
  assert.equal(arr(F.pad(x, [2, 1], { mode: 'circular' }))[0], [
    [2, 3, 0, 1, 2, 3, 0],
    [6, 7, 4, 5, 6, 7, 4],
    [10, 11, 8, 9, 10, 11, 8],
  ]);
  const x2 = kiln.arange(0, 6, 1, { dtype: 'float32' }).reshape([1, 1, 2, 3]);
  assert.equal(arr(F.pad(x2, [1, 2, 1, 1], { mode: 'reflect' })), [
    [
      [
        [4, 3, 4, 5, 4, 3],
        [1, 0, 1, 2, 1, 0],
        [4, 3, 4, 5, 4, 3],
        [1, 0, 1, 2, 1, 0],
      ],
    ],
  ]);
  assert.equal(arr(F.pad(x2, [1, 0, 2, 1], { mode: 'circular' })), [
    [
      [
        [2, 0, 1, 2],
        [5, 3, 4, 5],
        [2, 0, 1, 2],
        [5, 3, 4, 5],
        [2, 0, 1, 2],
      ],
    ],
  ]);
  assert.equal((F.pad(x2, [1, 1], { value: 7 }).toArray() as number[][][][])[0][0][0], [7, 0, 1, 2, 7]);
  const r = (s: number[]) => kiln.randn(s, { dtype: 'float64' }).requiresGrad_();
  for (const mode of ['reflect', 'replicate', 'circular'] as const)
    kiln.gradcheck((t) => F.pad(t, [2, 1, 1, 2], { mode }).pow(2), [r([2, 3, 4])]);
  throwsCode(() => F.pad(x, [4, 0], { mode: 'reflect' }), 'ERR_ARG', 'reflect pad 4 of a dim of 4');
  throwsCode(() => F.pad(x, [5, 0], { mode: 'circular' }), 'ERR_ARG', 'circular pad 5 of a dim of 4');
  throwsCode(() => F.pad(x, [1, 0], { mode: 'reflect', value: 2 }), 'ERR_ARG', 'a value with reflect');
  throwsCode(() => F.pad(x, [1, 0], { mode: 'wrap' as never }), 'ERR_ARG', 'an unknown mode');
  throwsCode(() => F.pad(x, [1], { mode: 'replicate' }), 'ERR_ARG', 'odd pads');
});

test.run();
