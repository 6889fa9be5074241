// any / all / isclose / allclose / equal (ts/ops/logical.ts) against values worked out by hand
// (PyTorch's answers on the same inputs), including empty reductions, NaN and infinities, and
// their argument errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';

const arr = (t: kiln.Tensor) => t.toArray();

test('any and all: over everything, over dims, keepdim, non-bool inputs', () => {
  const b = kiln.tensor([
    [true, false, false],
    [true, true, true],
  ]);
  assert.is(b.any().item(), true);
  assert.is(b.all().item(), false);
  assert.equal(arr(b.any(1)), [true, true]);
  assert.equal(arr(b.all(1)), [false, true]);
  assert.equal(arr(b.all(0)), [true, false, false]);
  assert.equal(b.all(1, true).shape, [2, 1]);
  assert.equal(arr(kiln.all(b, [0, 1])), false);
  const x = kiln.tensor([
    [0, 2.5],
    [0, 0],
  ]);
  assert.equal(arr(x.any(1)), [true, false]);
  assert.is(x.any().dtype, 'bool');
  assert.equal(arr(kiln.tensor([1, -3, 7]).all()), true); // int64: non-zero is true
  assert.is(kiln.tensor([NaN]).all().item(), true); // NaN is non-zero, as in PyTorch
  assert.equal(arr(kiln.any(kiln.zeros([2, 2]), -1)), [false, false]);
});

test('any and all over no element: false and true (the identities)', () => {
  const e = kiln.zeros([0, 3]);
  assert.is(e.any().item(), false);
  assert.is(e.all().item(), true);
  assert.equal(arr(e.any(0)), [false, false, false]);
  assert.equal(arr(e.all(0)), [true, true, true]);
  assert.equal(e.any(1).shape, [0]);
  assert.equal(e.all(0, true).shape, [1, 3]);
});

test('isclose: tolerances, broadcasting, infinities, NaN, integers', () => {
  const a = kiln.tensor([1, 1 + 1e-6, 1.1, 1e10, Infinity, -Infinity, Infinity, NaN, 0], { dtype: 'float64' });
  const b = kiln.tensor([1, 1, 1, 1e10 * (1 + 1e-6), Infinity, -Infinity, -Infinity, NaN, 1e-9], { dtype: 'float64' });
  assert.equal(arr(a.isclose(b)), [true, true, false, true, true, true, false, false, true]);
  assert.equal((arr(kiln.isclose(a, b, { equalNan: true })) as boolean[])[7], true);
  assert.equal(arr(kiln.isclose(a, b, { rtol: 0, atol: 0 })), [
    true,
    false,
    false,
    false,
    true,
    true,
    false,
    false,
    false,
  ]);
  assert.equal((arr(kiln.isclose(a, b, { rtol: 0.2 })) as boolean[])[2], true);
  // A finite value is not close to an infinity, whatever the tolerance.
  assert.equal(arr(kiln.tensor([1e30]).isclose(kiln.tensor([Infinity]), { rtol: 1, atol: 1 })), [false]);
  const col = kiln.tensor([[1], [2]]),
    row = kiln.tensor([1, 2, 2.00001]);
  assert.equal(arr(col.to('float32').isclose(row.to('float32'))), [
    [true, false, false],
    [false, true, true],
  ]);
  assert.equal(arr(kiln.tensor([3, 4]).isclose(kiln.tensor([3, 5]))), [true, false]);
  assert.equal(arr(kiln.tensor([100, 4]).isclose(kiln.tensor([101, 5]), { rtol: 0.01, atol: 0 })), [true, false]);
});

test('allclose and equal give JS booleans', () => {
  const a = kiln.tensor([1, 2, 3], { dtype: 'float32' });
  assert.is(a.allclose(a.add(1e-7)), true);
  assert.is(a.allclose(a.add(1e-3)), false);
  assert.is(kiln.allclose(a, a.add(1e-3), { atol: 1e-2 }), true);
  assert.is(a.equal(kiln.tensor([1, 2, 3], { dtype: 'float32' })), true);
  assert.is(kiln.equal(a, kiln.tensor([1, 2, 4], { dtype: 'float32' })), false);
  assert.is(a.equal(a.reshape([3, 1])), false); // shapes differ
  assert.is(kiln.tensor([NaN]).equal(kiln.tensor([NaN])), false);
  assert.is(kiln.tensor([1, 2]).equal(kiln.tensor([1, 2], { dtype: 'float64' })), true); // values, after promotion
});

test('errors: bad dims, negative tolerances, non-tensors', () => {
  const a = kiln.ones([2, 2]);
  throwsCode(() => a.any(2), 'ERR_ARG', 'a.any(2)');
  throwsCode(() => a.isclose(a, { rtol: -1 }), 'ERR_ARG', 'a.isclose(a, { rtol: -1 })');
  throwsCode(() => a.isclose(a, { atol: NaN }), 'ERR_ARG', 'a.isclose(a, { atol: NaN })');
  throwsCode(() => kiln.all(3 as unknown as kiln.Tensor), 'ERR_ARG', 'kiln.all(3 as unknown as kiln.Tensor)');
  throwsCode(
    () => kiln.isclose(a, [1, 2] as unknown as kiln.Tensor),
    'ERR_ARG',
    'kiln.isclose(a, [1, 2] as unknown as kiln.Tensor)',
  );
});

test.run();
