// kiln.autograd.functional (torch.autograd.functional): Jacobians, Hessians and the vector
// products, against closed forms worked out by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';

const F = kiln.autograd.functional;

const f64 = (data: number[] | number[][]) => kiln.tensor(data, { dtype: 'float64' });
const close = (got: kiln.Tensor, want: kiln.Tensor, label: string) => {
  assert.equal(got.shape, want.shape, `${label}: shape`);
  const d = got.sub(want).abs().max().item() as number;
  assert.ok(d < 1e-10, `${label}: differs by ${d}`);
};

test('jacobian of an elementwise and a matrix map, one input and two', () => {
  const x = f64([1, 2, 3]);
  close(
    F.jacobian((t) => t.pow(3), x) as kiln.Tensor,
    f64([
      [3, 0, 0],
      [0, 12, 0],
      [0, 0, 27],
    ]),
    'x^3',
  );
  const A = f64([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const [jA, jx] = F.jacobian((a, t) => a.matmul(t), [A, x]) as kiln.Tensor[];
  close(jx, A, 'd(Ax)/dx = A');
  assert.equal(jA.shape, [2, 2, 3]);
  // d(Ax)_i / dA_jk = [i == j] x_k
  close(jA.select(0, 1).select(0, 1), x, 'row 1');
  close(jA.select(0, 0).select(0, 1), f64([0, 0, 0]), 'other row');
  assert.ok(x.isLeaf && !x.requiresGrad, "the caller's tensor is left alone");
  close(
    F.jacobian(() => f64([1, 2]), x) as kiln.Tensor,
    kiln.zeros([2, 3], { dtype: 'float64' }),
    'no dependence: zeros',
  );
});

test('hessian of a cubic and of a two-input function, blocks included', () => {
  const x = f64([1, -2]);
  // f = sum(x^3) + x0 x1: H = diag(6x) + [[0, 1], [1, 0]]
  const H = F.hessian(
    (t) =>
      t
        .pow(3)
        .sum()
        .add(t.select(0, 0).mul(t.select(0, 1))),
    x,
  ) as kiln.Tensor;
  close(
    H,
    f64([
      [6, 1],
      [1, -12],
    ]),
    'H',
  );
  const y = f64([3]);
  // g = x0^2 y0 + y0^3: d2/dx2 = [[2 y, 0], [0, 0]], d2/dxdy = [[2 x0], [0]], d2/dy2 = [[6 y]]
  const blocks = F.hessian(
    (a, b) => a.select(0, 0).square().mul(b.select(0, 0)).add(b.pow(3).sum()),
    [x, y],
  ) as kiln.Tensor[][];
  close(
    blocks[0][0],
    f64([
      [6, 0],
      [0, 0],
    ]),
    'xx',
  );
  close(blocks[0][1], f64([[2], [0]]), 'xy');
  close(blocks[1][0], f64([[2, 0]]), 'yx');
  close(blocks[1][1], f64([[18]]), 'yy');
});

test('vjp, jvp, vhp and hvp equal the products with the full matrices', () => {
  kiln.manualSeed(4);
  const x = kiln.randn([4], { dtype: 'float64' });
  const W = kiln.randn([3, 4], { dtype: 'float64' });
  const fn = (t: kiln.Tensor) => W.matmul(t.tanh());
  const J = F.jacobian(fn, x) as kiln.Tensor;
  const v3 = kiln.randn([3], { dtype: 'float64' }),
    v4 = kiln.randn([4], { dtype: 'float64' });
  const { output, vjp } = F.vjp(fn, x, v3);
  close(output, fn(x), 'output');
  close(vjp as kiln.Tensor, v3.matmul(J), 'vjp');
  close(F.jvp(fn, x, v4).jvp, J.matmul(v4), 'jvp');
  const s = (t: kiln.Tensor) => fn(t).square().sum();
  const H = F.hessian(s, x) as kiln.Tensor;
  close(F.vhp(s, x, v4).vhp as kiln.Tensor, v4.matmul(H), 'vhp');
  close(F.hvp(s, x, v4).hvp as kiln.Tensor, H.matmul(v4), 'hvp');
  close(H, H.transpose(0, 1), 'symmetric');
});

test('errors: a missing v, wrong shapes, a non-scalar Hessian, bad fn', () => {
  const x = f64([1, 2]);
  throwsCode(() => F.vjp((t) => t.mul(2), x), 'ERR_ARG', 'v needed');
  throwsCode(() => F.vjp((t) => t.mul(2), x, f64([1, 2, 3])), 'ERR_SHAPE', 'v shape');
  throwsCode(() => F.jvp((t) => t.mul(2), x, [x, x]), 'ERR_ARG', 'tangent count');
  throwsCode(() => F.hessian((t) => t.mul(2), x), 'ERR_ARG', 'non-scalar');
  throwsCode(() => F.jacobian(() => 3 as never, x), 'ERR_ARG', 'not a tensor');
  throwsCode(() => F.jacobian((t) => t, [3 as never]), 'ERR_ARG', 'input not a tensor');
});

test.run();
