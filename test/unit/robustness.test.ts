// Regression tests from the native review: inputs that used to crash the process, corrupt
// memory or give platform-dependent answers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { runKernel } from '../../ts/dispatch';
import { OP } from '../../ts/ops/op_ids.gen';
import type { Tensor } from '../../ts/tensor';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as kiln.KilnError).code;
  }
  return undefined;
};

test('integer remainder and division by -1 of the minimum value do not trap', () => {
  for (const dtype of ['int32', 'int64'] as const) {
    const min = dtype === 'int32' ? -2147483648 : -(2 ** 63);
    assert.equal(
      kiln
        .tensor([min], { dtype })
        .remainder(kiln.tensor([-1], { dtype }))
        .toArray(),
      [0],
    );
  }
  assert.equal(kiln.tensor([-2147483648], { dtype: 'int32' }).neg().toArray(), [-2147483648]); // wraps
});

test('float to integer conversion is defined: NaN is 0, int32 saturates, uint8 wraps', () => {
  assert.equal(
    kiln.tensor([NaN, Infinity, -Infinity, 3e9, -2.5]).to('int32').toArray(),
    [0, 2147483647, -2147483648, 2147483647, -2],
  );
  assert.equal(kiln.tensor([-2.5, 300]).to('uint8').toArray(), [254, 44]);
});

test('a broadcast matmul against a transposed weight packs the weight once', () => {
  kiln.manualSeed(1);
  const x = kiln.randn([32, 3, 64]);
  const w = kiln.randn([48, 64]);
  const before = kiln.memory().cpu.allocatedBytes;
  const y = x.matmul(w.t());
  assert.ok(kiln.memory().cpu.allocatedBytes - before < 32 * 3 * 48 * 4 + 4096, 'no per-batch copy of w kept');
  const y0 = x.select(0, 5).matmul(w.t().contiguous());
  const d = y.select(0, 5).sub(y0).abs().amax().item() as number;
  assert.ok(d < 1e-5, `max difference ${d}`);
});

test('native code rejects descriptors whose shapes disagree (no out-of-bounds access)', () => {
  const a = kiln.zeros([10]),
    big = kiln.zeros([1000]);
  const fake = (t: Tensor, shape: number[], strides: number[]) =>
    ({ _storage: t._storage, _offset: 0, dtype: t.dtype, _shape: shape, _strides: strides }) as unknown as Tensor;
  assert.is(
    code(() => runKernel(OP.NEG, [big], [a])),
    'ERR_SHAPE',
  );
  assert.is(
    code(() => runKernel(OP.ADD, [big], [big, fake(a, [10], [1])])),
    'ERR_SHAPE',
  );
  assert.is(
    code(() => runKernel(OP.SUM, [fake(big, [100], [1])], [fake(a, [2, 3], [3, 1])], [1])),
    'ERR_SHAPE',
  );
  assert.is(
    code(() => runKernel(OP.SUM, [a], [a], [NaN])),
    'ERR_ARG',
  );
  assert.is(
    code(() => runKernel(OP.NEG, [fake(a, [10], [NaN])], [a])),
    'ERR_SHAPE',
  );
});

test('writing into an expanded view (shared elements) is refused', () => {
  const z = kiln.zeros([4, 1]).expand([4, 8]);
  assert.is(
    code(() => z.add_(1)),
    'ERR_ARG',
  );
  assert.is(
    code(() => z.fill_(1)),
    'ERR_ARG',
  );
});

test('uniform draws stay below the upper bound in every dtype', () => {
  kiln.manualSeed(0);
  for (const dtype of ['bfloat16', 'float16', 'float32'] as const) {
    const u = kiln.rand([1 << 20], { dtype });
    assert.ok((u.amax().item() as number) < 1, `${dtype} reached 1`);
  }
  const big = kiln.empty([100000], { dtype: 'float64' }).uniform_(1e15, 1e15 + 10);
  assert.ok((big.amax().item() as number) < 1e15 + 10);
  assert.ok(
    (kiln
      .randint(1e15, 1e15 + 10, [100000])
      .amax()
      .item() as number) <=
      1e15 + 9,
  );
});

test('int64 argmax compares exactly above 2^53', () => {
  const t = kiln.tensor([2n ** 60n, 2n ** 60n + 1n, 5n]);
  assert.is(t.argmax().item(), 1);
});

test('bool bytes other than 0 and 1 (written through data()) read as true', () => {
  const t = kiln.tensor([true, false, true]);
  (t.data() as Uint8Array)[0] = 2;
  assert.equal(t.logicalNot().toArray(), [false, true, false]);
  assert.equal(t.eq(true).toArray(), [true, false, true]);
  assert.is(t.sum().item(), 2);
});

test('info().warning is about startup only, not the last failed op', () => {
  assert.ok(code(() => kiln.ones([3]).gather(0, kiln.tensor([5]))) === 'ERR_INDEX');
  assert.is(
    kiln.info().warning,
    process.env.KILN_ISA && !kiln.info().supportedIsas.includes(process.env.KILN_ISA) ? kiln.info().warning : null,
  );
});

test.run();
