// lgamma, digamma and polygamma(1) against PyTorch 1.13 (float64 numbers embedded below), across
// the poles, the negative axis, tiny and huge arguments; float32; the gradient chain lgamma' =
// digamma, digamma' = trigamma; and polygamma's refused orders.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';

const X = [-2.5, -1, -0.5, 0, 1e-8, 0.5, 1, 2.5, 10, 100, 1e6];
// torch.lgamma / torch.digamma of X
const LGAMMA = [
  -0.05624371649767405,
  Infinity,
  1.2655121234846454,
  Infinity,
  18.42068073818021,
  0.5723649429247001,
  0,
  0.2846828704729192,
  12.801827480081469,
  359.1342053695754,
  12815504.569147611,
];
const DIGAMMA = [
  1.1031566406452433,
  NaN,
  0.03648997397857639,
  -Infinity,
  -100000000.57721564,
  -1.9635100260214229,
  -0.5772156649015328,
  0.7031566406452431,
  2.251752589066721,
  4.600161852738088,
  13.81551005796419,
];
// polygamma(1, x): torch's where it is accurate; π²/6 at 1 and π²/2 at 0.5 exactly (torch's are off
// by 5e-10); +Infinity at the poles (torch gives 6.6e32 at -1).
const TRIGAMMA = [
  9.53924664493752,
  Infinity,
  8.934802200544679,
  Infinity,
  1e16,
  4.934802200544679,
  1.6449340668482264,
  0.4903577561002349,
  0.10516633568168575,
  0.010050166663333571,
  1.0000005000001667e-6,
];

function close(got: kiln.Tensor, want: number[], label: string, tol: number): void {
  const g = got.to('float64').toArray() as number[];
  want.forEach((w, i) => {
    if (Number.isNaN(w)) return assert.ok(Number.isNaN(g[i]), `${label}[${i}]: got ${g[i]}, want NaN`);
    if (!Number.isFinite(w)) return assert.is(g[i], w, `${label}[${i}]`);
    assert.ok(Math.abs(g[i] - w) <= tol * Math.max(1, Math.abs(w)), `${label}[${i}]: got ${g[i]}, want ${w}`);
  });
}

test('lgamma, digamma and polygamma(1) match torch in float64 and float32', () => {
  const x = kiln.tensor(X, { dtype: 'float64' });
  close(kiln.lgamma(x), LGAMMA, 'lgamma', 1e-14);
  close(kiln.digamma(x), DIGAMMA, 'digamma', 1e-14);
  close(kiln.polygamma(1, x), TRIGAMMA, 'trigamma', 1e-9);
  close(x.polygamma(0), DIGAMMA, 'polygamma(0) method', 1e-14);
  const x32 = x.float();
  assert.is(kiln.lgamma(x32).dtype, 'float32');
  close(kiln.lgamma(x32), LGAMMA, 'lgamma float32', 1e-6);
  close(kiln.digamma(x32), DIGAMMA, 'digamma float32', 2e-6);
  // integers compute in float32, as torch's
  assert.is(kiln.lgamma(kiln.tensor([1, 2, 3])).dtype, 'float32');
});

test('gradients: d lgamma = digamma, d digamma = polygamma(1); in-place forms', () => {
  const x = kiln.tensor([0.7, 3.2, -1.5], { dtype: 'float64', requiresGrad: true });
  kiln.lgamma(x).sum().backward();
  close(x.grad!, kiln.digamma(x.detach()).toArray() as number[], 'd lgamma', 1e-15);
  const y = kiln.tensor([0.7, 3.2, -1.5], { dtype: 'float64', requiresGrad: true });
  kiln.digamma(y).sum().backward();
  close(y.grad!, kiln.polygamma(1, y.detach()).toArray() as number[], 'd digamma', 1e-15);
  assert.ok(
    kiln.gradcheck((t) => kiln.lgamma(t), [kiln.tensor([0.3, 2.5, -0.7], { dtype: 'float64', requiresGrad: true })]),
  );
  const z = kiln.tensor([0.5, 1], { dtype: 'float64' });
  z.lgamma_();
  close(z, [0.5723649429247001, 0], 'lgamma_', 1e-15);
});

test('polygamma of order 2 or more throws ERR_ARG', () => {
  throwsCode(() => kiln.polygamma(2, kiln.ones([2])), 'ERR_ARG', 'order 2');
  throwsCode(() => kiln.polygamma(-1, kiln.ones([2])), 'ERR_ARG', 'order -1');
});

test.run();
