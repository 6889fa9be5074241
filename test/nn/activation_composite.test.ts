// elu, selu, celu, softplus, softsign, hardtanh, relu6, hardsigmoid, hardswish, mish, logsigmoid,
// normalize and cosineSimilarity (ts/nn/layers/activation_composite.ts): PyTorch's values on the
// same inputs (torch 1.13, float64, printed to 12 digits), gradients by finite differences away
// from the breakpoints, PyTorch's gradients at them, modules, argument errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';

const F = kiln.nn.functional;
const XS = [-4, -3, -1.5, -0.5, 0, 0.5, 1.5, 3, 4, 25];
const x64 = () => kiln.tensor(XS, { dtype: 'float64' });
const near = (got: number[], want: number[], label: string) =>
  got.forEach((g, i) =>
    assert.ok(Math.abs(g - want[i]) <= 1e-10 * (1 + Math.abs(want[i])), `${label}[${i}]: ${g} vs ${want[i]}`),
  );

test("values match PyTorch's", () => {
  const want: [string, (x: kiln.Tensor) => kiln.Tensor, number[]][] = [
    [
      'elu',
      (x) => F.elu(x),
      [-0.981684361111, -0.950212931632, -0.776869839852, -0.393469340287, 0, 0.5, 1.5, 3, 4, 25],
    ],
    [
      'elu alpha 2',
      (x) => F.elu(x, 2),
      [-1.96336872222, -1.90042586326, -1.5537396797, -0.786938680575, 0, 0.5, 1.5, 3, 4, 25],
    ],
    [
      'selu',
      (x) => F.selu(x),
      [
        -1.72589862819, -1.67056872877, -1.36581435337, -0.691758187803, 0, 0.525350493678, 1.57605148103,
        3.15210296207, 4.20280394942, 26.2675246839,
      ],
    ],
    [
      'celu alpha 2',
      (x) => F.celu(x, 2),
      [-1.72932943353, -1.5537396797, -1.05526689452, -0.442398433857, 0, 0.5, 1.5, 3, 4, 25],
    ],
    [
      'softplus',
      (x) => F.softplus(x),
      [
        0.0181499279178, 0.0485873515737, 0.201413277983, 0.47407698418, 0.69314718056, 0.97407698418, 1.70141327798,
        3.04858735157, 4.01814992792, 25,
      ],
    ],
    [
      'softplus beta 2 threshold 5',
      (x) => F.softplus(x, 2, 5),
      [
        0.000167703186448, 0.00123784256887, 0.0242936757869, 0.156630843759, 0.34657359028, 0.656630843759,
        1.52429367579, 3, 4, 25,
      ],
    ],
    [
      'softsign',
      (x) => F.softsign(x),
      [-0.8, -0.75, -0.6, -0.333333333333, 0, 0.333333333333, 0.6, 0.75, 0.8, 0.961538461538],
    ],
    ['hardtanh', (x) => F.hardtanh(x), [-1, -1, -1, -0.5, 0, 0.5, 1, 1, 1, 1]],
    ['relu6', (x) => F.relu6(x), [0, 0, 0, 0, 0, 0.5, 1.5, 3, 4, 6]],
    ['hardsigmoid', (x) => F.hardsigmoid(x), [0, 0, 0.25, 0.416666666667, 0.5, 0.583333333333, 0.75, 1, 1, 1]],
    ['hardswish', (x) => F.hardswish(x), [0, 0, -0.375, -0.208333333333, 0, 0.291666666667, 1.125, 3, 4, 25]],
    [
      'mish',
      (x) => F.mish(x),
      [
        -0.072591740792, -0.145647461276, -0.298099742167, -0.220743774652, 0, 0.375245211305, 1.4033782664,
        2.98653500497, 3.99741280698, 25,
      ],
    ],
    [
      'logsigmoid',
      (x) => F.logsigmoid(x),
      [
        -4.01814992792, -3.04858735157, -1.70141327798, -0.97407698418, -0.69314718056, -0.47407698418, -0.201413277983,
        -0.0485873515737, -0.0181499279178, -1.38879438649e-11,
      ],
    ],
  ];
  for (const [label, f, w] of want) near(f(x64()).toArray() as number[], w, label);
  const a = kiln.tensor(
      [
        [1, 2, 2],
        [0, 0, 0],
        [3, -4, 0],
      ],
      { dtype: 'float64' },
    ),
    b = kiln.tensor(
      [
        [2, 0, 1],
        [1, 1, 1],
        [1, 1, 1],
      ],
      { dtype: 'float64' },
    );
  near((F.normalize(a).toArray() as number[][]).flat(), [1 / 3, 2 / 3, 2 / 3, 0, 0, 0, 0.6, -0.8, 0], 'normalize');
  near(
    (F.normalize(a, { p: 1, dim: 0 }).toArray() as number[][]).flat(),
    [0.25, 1 / 3, 1, 0, 0, 0, 0.75, -2 / 3, 0],
    'normalize p 1 dim 0',
  );
  near(
    F.cosineSimilarity(a, b).toArray() as number[],
    [0.5962847939999438, 0, -0.11547005383792519],
    'cosineSimilarity',
  );
  // large inputs stay finite
  const big = kiln.tensor([-1000, 1000], { dtype: 'float32' });
  near(F.softplus(big).toArray() as number[], [0, 1000], 'softplus of +-1000');
  near(F.logsigmoid(big).toArray() as number[], [-1000, 0], 'logsigmoid of +-1000');
  near(F.mish(big).toArray() as number[], [0, 1000], 'mish of +-1000');
});

test('gradients: finite differences away from breakpoints, PyTorch at them', () => {
  const r = () => kiln.tensor([-2.7, -1.1, -0.3, 0.4, 1.3, 2.2, 3.6], { dtype: 'float64' }).requiresGrad_();
  const fs: ((x: kiln.Tensor) => kiln.Tensor)[] = [
    (x) => F.elu(x, 1.5),
    (x) => F.selu(x),
    (x) => F.celu(x, 0.7),
    (x) => F.softplus(x, 2, 3),
    (x) => F.softsign(x),
    (x) => F.hardtanh(x, -2, 2),
    (x) => F.relu6(x.mul(2)),
    (x) => F.hardsigmoid(x),
    (x) => F.hardswish(x),
    (x) => F.mish(x),
    (x) => F.logsigmoid(x),
    (x) => F.normalize(x.reshape([1, 7])),
    (x) => F.cosineSimilarity(x.reshape([1, 7]), x.reshape([1, 7]).sin()),
  ];
  for (const f of fs) kiln.gradcheck(f, [r()]);
  // torch: hardtanh's gradient is 0 at min and max, hardsigmoid's 0 at -3 and 3 (1/6 inside)
  const x = kiln.tensor([-1, 1, -3, 3], { dtype: 'float64' }).requiresGrad_();
  F.hardtanh(x).sum().backward();
  assert.equal(x.grad!.toArray(), [0, 0, 0, 0]);
  x.grad = null;
  F.hardsigmoid(x).sum().backward();
  assert.equal(x.grad!.toArray(), [1 / 6, 1 / 6, 0, 0]);
});

test('modules and argument errors', () => {
  const x = x64();
  near(new kiln.nn.ELU(2).forward(x).toArray() as number[], F.elu(x, 2).toArray() as number[], 'ELU');
  near(
    new kiln.nn.Softplus(2, 5).forward(x).toArray() as number[],
    F.softplus(x, 2, 5).toArray() as number[],
    'Softplus',
  );
  near(
    new kiln.nn.Hardtanh(-2, 2).forward(x).toArray() as number[],
    F.hardtanh(x, -2, 2).toArray() as number[],
    'Hardtanh',
  );
  for (const M of [
    kiln.nn.SELU,
    kiln.nn.Softsign,
    kiln.nn.ReLU6,
    kiln.nn.Hardsigmoid,
    kiln.nn.Hardswish,
    kiln.nn.Mish,
    kiln.nn.LogSigmoid,
    kiln.nn.CELU,
  ])
    assert.equal(new M().forward(x).shape, [10]);
  throwsCode(() => F.elu(x, NaN), 'ERR_ARG', 'elu alpha NaN');
  throwsCode(() => F.celu(x, 0), 'ERR_ARG', 'celu alpha 0');
  throwsCode(() => F.softplus(x, 0), 'ERR_ARG', 'softplus beta 0');
  throwsCode(() => F.hardtanh(x, 1, -1), 'ERR_ARG', 'hardtanh min > max');
});

test.run();
