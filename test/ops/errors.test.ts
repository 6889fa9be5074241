// Bad inputs: every row's error cases throw their documented KilnError code, and so do the
// cross-cutting ones (disposed tensors, layouts, devices, memory, autograd misuse).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { ROWS } from '../../ts/ops/table';
import { throwsCode } from '../helpers/compare';

for (const row of ROWS)
  test(`${row.name} rejects bad inputs with documented codes`, () => {
    const cases = row.errors();
    assert.ok(cases.length > 0, `${row.name} has no error cases`);
    for (const c of cases) throwsCode(c.run, c.code, `${row.name}: ${c.label}`);
  });

test('ERR_DISPOSED: any use of a disposed tensor', () => {
  const t = kiln.ones([2, 2]);
  t.dispose();
  throwsCode(() => t.add(1), 'ERR_DISPOSED', 'add');
  throwsCode(() => t.data(), 'ERR_DISPOSED', 'data');
  throwsCode(() => t.reshape([4]), 'ERR_DISPOSED', 'reshape');
  throwsCode(() => kiln.ones([2]).add(t), 'ERR_DISPOSED', 'as other');
  throwsCode(() => t.item(), 'ERR_DISPOSED', 'item');
  t.dispose(); // twice is fine
  assert.match(t.toString(), /disposed/);
});

test('ERR_ARG: data() of a non-contiguous view', () => {
  throwsCode(() => kiln.ones([2, 3]).transpose(0, 1).data(), 'ERR_ARG', 'transposed data()');
});

test('ERR_SHAPE: item() of many elements, ragged nested arrays', () => {
  throwsCode(() => kiln.ones([2]).item(), 'ERR_SHAPE', 'item');
  throwsCode(() => kiln.tensor([[1, 2], [3]]), 'ERR_SHAPE', 'ragged');
  throwsCode(() => kiln.zeros([1, 1, 1, 1, 1, 1, 1, 1, 1]), 'ERR_SHAPE', 'too many dims');
});

test('ERR_NOT_COMPILED and ERR_DEVICE: devices', () => {
  // A CPU-only build: ERR_NOT_COMPILED; the CUDA build without a GPU: ERR_DEVICE (test/cuda covers GPUs).
  const code = kiln.info().cuda ? 'ERR_DEVICE' : 'ERR_NOT_COMPILED';
  if (!kiln.cuda.isAvailable()) {
    throwsCode(() => kiln.zeros([2], { device: 'cuda' }), code, 'cuda');
    throwsCode(() => kiln.ones([2]).cuda(), code, 'cuda()');
  }
  throwsCode(() => kiln.zeros([2], { device: 'cuda:99' }), code, 'cuda:99');
  throwsCode(() => kiln.zeros([2], { device: 'gpu' }), 'ERR_DEVICE', 'gpu');
});

test('ERR_OOM: an allocation the machine cannot give', () => {
  throwsCode(() => kiln.empty([1 << 30, 1 << 22]), 'ERR_OOM', 'petabytes');
  // the process is fine afterwards
  assert.is(kiln.ones([3]).sum().item(), 3);
});

test('ERR_INDEX: out-of-range indices', () => {
  throwsCode(() => kiln.ones([3]).gather(0, kiln.tensor([3])), 'ERR_INDEX', 'gather');
  throwsCode(() => kiln.ones([3]).select(0, -4), 'ERR_INDEX', 'select');
  throwsCode(() => kiln.oneHot(kiln.tensor([0, 5]), 3), 'ERR_INDEX', 'oneHot');
});

test('ERR_DTYPE: dtype misuse', () => {
  throwsCode(() => kiln.ones([2], { dtype: 'int32' }).requiresGrad_(), 'ERR_DTYPE', 'int grad');
  throwsCode(() => kiln.tensor([1, 2]).mean(), 'ERR_DTYPE', 'int mean');
  throwsCode(() => kiln.ones([2], { dtype: 'int32' }).add_(1.5), 'ERR_DTYPE', 'float into int in place');
  throwsCode(() => kiln.tensor(['a'] as never), 'ERR_ARG', 'string element');
});

test('ERR_AUTOGRAD: misuse of autograd', () => {
  const x = kiln.ones([2], { requiresGrad: true });
  throwsCode(() => x.add_(1), 'ERR_AUTOGRAD', 'in-place on a leaf');
  throwsCode(() => kiln.ones([2]).sum().backward(), 'ERR_AUTOGRAD', 'no grad_fn');
  throwsCode(() => x.mul(2).backward(), 'ERR_AUTOGRAD', 'non-scalar without grad');
  const y = x.mul(x).sum();
  y.backward();
  throwsCode(() => y.backward(), 'ERR_AUTOGRAD', 'second backward');
  const a = kiln.ones([2], { requiresGrad: true });
  const b = kiln.ones([2]);
  const z = a.mul(b).sum();
  kiln.noGrad(() => b.add_(1));
  throwsCode(() => z.backward(), 'ERR_AUTOGRAD', 'saved tensor modified in place');
  throwsCode(
    () => kiln.autograd.grad(x.sum(), [kiln.ones([1], { requiresGrad: true })]),
    'ERR_AUTOGRAD',
    'unreachable input',
  );
});

test('bad arguments never crash the process', () => {
  const t = kiln.ones([2, 3]);
  for (const bad of [undefined, null, 'x', {}, [1, 'a'], NaN, -1, 1.5, [1e20]]) {
    for (const fn of [
      () => t.reshape(bad as never),
      () => t.sum(bad as never),
      () => t.permute(bad as never),
      () => t.slice(bad as never),
    ]) {
      try {
        fn();
      } catch (e) {
        assert.instance(e, kiln.KilnError, String((e as Error).message));
      }
    }
  }
  assert.is(t.sum().item(), 6);
});

test.run();
