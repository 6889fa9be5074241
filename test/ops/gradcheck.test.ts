// Finite-difference gradient checks in float64 for every differentiable row of the op table,
// and second-order checks (gradient of the gradient) for a few.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { ROWS } from '../../ts/ops/table';
import { rngFrom } from '../../ts/ops/samples';

for (const row of ROWS) {
  if ('nondiff' in row.grad) {
    test(`${row.name} is marked non-differentiable with a reason`, () => {
      assert.ok((row.grad as { nondiff: string }).nondiff.length > 5);
      assert.is(row.gradSamples(rngFrom(1)).length, 0);
    });
    continue;
  }
  test(`${row.name} gradient matches finite differences`, () => {
    const samples = row.gradSamples(rngFrom(0x9ad ^ row.name.length));
    assert.ok(samples.length > 0, `${row.name} is differentiable but has no gradient samples`);
    for (const s of samples) {
      try {
        kiln.gradcheck(s.fn, s.inputs);
      } catch (e) {
        assert.unreachable(`${row.name} ${s.label}: ${(e as Error).message}`);
      }
      s.inputs.forEach((t) => t.dispose());
    }
  });
}

const f64 = (shape: number[], lo = -1.5, hi = 1.5) =>
  kiln
    .rand(shape, { dtype: 'float64' })
    .mul(hi - lo)
    .add(lo)
    .detach()
    .requiresGrad_();

const second: [string, (...xs: kiln.Tensor[]) => kiln.Tensor, () => kiln.Tensor[]][] = [
  ['mul', (a, b) => a.mul(b).mul(a), () => [f64([3]), f64([3])]],
  ['exp/tanh', (x) => x.exp().tanh(), () => [f64([4])]],
  ['div', (a, b) => a.div(b), () => [f64([3]), f64([3], 0.5, 2)]],
  ['matmul', (a, b) => a.matmul(b).pow(2), () => [f64([2, 3]), f64([3, 2])]],
  ['sigmoid/sum', (x) => x.sigmoid().sum(0).mul(x.sum()), () => [f64([3, 2])]],
  ['softmax', (x) => x.softmax(-1).mul(kiln.arange(0, 4).to('float64')), () => [f64([2, 4])]],
  ['slice/cat', (x) => kiln.cat([x.slice(0, 1), x.mul(x)], 0), () => [f64([3, 2])]],
];
for (const [name, fn, inputs] of second)
  test(`second-order gradient of ${name} matches finite differences`, () => {
    kiln.gradgradcheck(fn, inputs());
  });

test('gradcheck reports a wrong gradient', () => {
  const x = f64([3]);
  // detach() in the middle hides a dependency: autograd's answer is wrong on purpose
  const wrong = (t: kiln.Tensor) => t.mul(t.detach());
  assert.throws(
    () => kiln.gradcheck(wrong, [x]),
    (e: kiln.KilnError) => e.code === 'ERR_AUTOGRAD',
  );
});

test.run();
