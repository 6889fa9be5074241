// Optimizers: 20-step trajectories on a quadratic against PyTorch's documented update rules
// written here in float64, for float64 and float32 parameters; groups, state dicts, errors.
import { spawnSync } from 'child_process';
import { test } from 'uvu';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const { optim } = kiln;
const N = 7;
const A = [0.5, 1, 2, 3, 0.1, 4, 1.5]; // loss = sum a_i (p_i - c_i)^2 / 2, gradient a (p - c)
const Cc = [1, -2, 0.5, 3, -1, 0.25, 2];
const P0 = [0.3, 0.1, -0.7, 1.2, 2.0, -0.4, 0.9];
const grad = (p: number[]) => p.map((v, i) => A[i] * (v - Cc[i]));

type Ref = (p: number[], g: number[], s: Record<string, number[]>, t: number) => void;

// PyTorch's update rules (torch.optim docs), one element at a time, in float64.
const sgd =
  (lr: number, mom = 0, damp = 0, wd = 0, nesterov = false, maximize = false): Ref =>
  (p, g, s, t) =>
    p.forEach((_, i) => {
      let d = maximize ? -g[i] : g[i];
      d += wd * p[i];
      if (mom) {
        s.buf ??= new Array(N).fill(0);
        s.buf[i] = t === 1 ? d : mom * s.buf[i] + (1 - damp) * d;
        d = nesterov ? d + mom * s.buf[i] : s.buf[i];
      }
      p[i] -= lr * d;
    });
const adam =
  (lr: number, b1: number, b2: number, eps: number, wd: number, amsgrad: boolean, decoupled: boolean): Ref =>
  (p, g, s, t) =>
    p.forEach((_, i) => {
      s.m ??= new Array(N).fill(0);
      s.v ??= new Array(N).fill(0);
      s.vmax ??= new Array(N).fill(0);
      let d = g[i];
      if (decoupled) p[i] *= 1 - lr * wd;
      else d += wd * p[i];
      s.m[i] = b1 * s.m[i] + (1 - b1) * d;
      s.v[i] = b2 * s.v[i] + (1 - b2) * d * d;
      let v = s.v[i];
      if (amsgrad) v = s.vmax[i] = Math.max(s.vmax[i], v);
      const denom = Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps;
      p[i] -= (lr / (1 - b1 ** t)) * (s.m[i] / denom);
    });
const adagrad =
  (lr: number, lrDecay: number, wd: number, init: number, eps: number): Ref =>
  (p, g, s, t) =>
    p.forEach((_, i) => {
      s.sum ??= new Array(N).fill(init);
      const d = g[i] + wd * p[i];
      s.sum[i] += d * d;
      p[i] -= (lr / (1 + (t - 1) * lrDecay)) * (d / (Math.sqrt(s.sum[i]) + eps));
    });
const rmsprop =
  (lr: number, alpha: number, eps: number, wd: number, mom: number, centered: boolean): Ref =>
  (p, g, s) =>
    p.forEach((_, i) => {
      s.sq ??= new Array(N).fill(0);
      s.buf ??= new Array(N).fill(0);
      s.ga ??= new Array(N).fill(0);
      const d = g[i] + wd * p[i];
      s.sq[i] = alpha * s.sq[i] + (1 - alpha) * d * d;
      let avg: number;
      if (centered) {
        s.ga[i] = alpha * s.ga[i] + (1 - alpha) * d;
        avg = Math.sqrt(s.sq[i] - s.ga[i] * s.ga[i]) + eps;
      } else avg = Math.sqrt(s.sq[i]) + eps;
      if (mom > 0) {
        s.buf[i] = mom * s.buf[i] + d / avg;
        p[i] -= lr * s.buf[i];
      } else p[i] -= (lr * d) / avg;
    });

const CASES: [string, (ps: kiln.Tensor[]) => kiln.optim.Optimizer<never>, Ref][] = [
  ['SGD', (ps) => new optim.SGD(ps, { lr: 0.1 }) as never, sgd(0.1)],
  [
    'SGD momentum dampening wd',
    (ps) => new optim.SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }) as never,
    sgd(0.05, 0.9, 0.1, 0.01),
  ],
  [
    'SGD nesterov',
    (ps) => new optim.SGD(ps, { lr: 0.05, momentum: 0.8, nesterov: true }) as never,
    sgd(0.05, 0.8, 0, 0, true),
  ],
  ['SGD maximize', (ps) => new optim.SGD(ps, { lr: 0.05, maximize: true }) as never, sgd(0.05, 0, 0, 0, false, true)],
  ['Adam', (ps) => new optim.Adam(ps, { lr: 0.05 }) as never, adam(0.05, 0.9, 0.999, 1e-8, 0, false, false)],
  [
    'Adam amsgrad + L2',
    (ps) => new optim.Adam(ps, { lr: 0.05, betas: [0.8, 0.99], weightDecay: 0.1, amsgrad: true }) as never,
    adam(0.05, 0.8, 0.99, 1e-8, 0.1, true, false),
  ],
  ['AdamW', (ps) => new optim.AdamW(ps, { lr: 0.05 }) as never, adam(0.05, 0.9, 0.999, 1e-8, 0.01, false, true)],
  [
    'AdamW amsgrad',
    (ps) => new optim.AdamW(ps, { lr: 0.02, weightDecay: 0.3, amsgrad: true, eps: 1e-6 }) as never,
    adam(0.02, 0.9, 0.999, 1e-6, 0.3, true, true),
  ],
  [
    'Adagrad',
    (ps) => new optim.Adagrad(ps, { lr: 0.3, lrDecay: 0.01, weightDecay: 0.05, initialAccumulatorValue: 0.1 }) as never,
    adagrad(0.3, 0.01, 0.05, 0.1, 1e-10),
  ],
  ['RMSprop', (ps) => new optim.RMSprop(ps, { lr: 0.01 }) as never, rmsprop(0.01, 0.99, 1e-8, 0, 0, false)],
  [
    'RMSprop centered momentum wd',
    (ps) => new optim.RMSprop(ps, { lr: 0.01, alpha: 0.9, momentum: 0.5, centered: true, weightDecay: 0.02 }) as never,
    rmsprop(0.01, 0.9, 1e-8, 0.02, 0.5, true),
  ],
];

/** Runs `steps` updates with kiln on two parameters (the vector split 3 + 4) and with the reference. */
function trajectory(make: (ps: kiln.Tensor[]) => kiln.optim.Optimizer<never>, ref: Ref, dtype: 'float32' | 'float64') {
  const a = kiln.tensor(P0.slice(0, 3), { dtype, requiresGrad: true });
  const b = kiln.tensor(P0.slice(3), { dtype, requiresGrad: true });
  const opt = make([a, b]);
  const r = P0.slice();
  const s: Record<string, number[]> = {};
  const ca = kiln.tensor(Cc.slice(0, 3), { dtype }),
    cb = kiln.tensor(Cc.slice(3), { dtype });
  const aa = kiln.tensor(A.slice(0, 3), { dtype }),
    ab = kiln.tensor(A.slice(3), { dtype });
  for (let t = 1; t <= 20; t++) {
    opt.zeroGrad();
    a.sub(ca).square().mul(aa).sum().add(b.sub(cb).square().mul(ab).sum()).mul(0.5).backward();
    opt.step();
    ref(r, grad(r), s, t);
  }
  return { got: [...(a.toArray() as number[]), ...(b.toArray() as number[])], want: r, opt, params: [a, b] };
}

test('trajectories match the update rules (float64 to 1e-12, float32 to 1e-5)', () => {
  for (const [label, make, ref] of CASES)
    for (const [dtype, tol] of [
      ['float64', 1e-12],
      ['float32', 1e-5],
    ] as const) {
      const { got, want } = trajectory(make, ref, dtype);
      got.forEach((v, i) =>
        assert.ok(
          Math.abs(v - want[i]) <= tol * (1 + Math.abs(want[i])),
          `${label} ${dtype} p[${i}]: ${v} vs ${want[i]}`,
        ),
      );
      assert.ok(
        got.some((v, i) => Math.abs(v - P0[i]) > 1e-3),
        `${label}: parameters moved`,
      );
    }
});

test('stateDict / loadStateDict continue a run exactly; param groups keep their own options', () => {
  const [, make, ref] = CASES.find(([l]) => l === 'AdamW amsgrad')!;
  const full = trajectory(make, ref, 'float64');
  // 10 steps, save, rebuild, load, 10 more.
  const a = kiln.tensor(P0.slice(0, 3), { dtype: 'float64', requiresGrad: true });
  const b = kiln.tensor(P0.slice(3), { dtype: 'float64', requiresGrad: true });
  const lossOf = () =>
    a
      .sub(kiln.tensor(Cc.slice(0, 3), { dtype: 'float64' }))
      .square()
      .mul(kiln.tensor(A.slice(0, 3), { dtype: 'float64' }))
      .sum()
      .add(
        b
          .sub(kiln.tensor(Cc.slice(3), { dtype: 'float64' }))
          .square()
          .mul(kiln.tensor(A.slice(3), { dtype: 'float64' }))
          .sum(),
      )
      .mul(0.5);
  let opt = make([a, b]);
  for (let t = 0; t < 10; t++) {
    opt.zeroGrad();
    lossOf().backward();
    opt.step();
  }
  const sd = opt.stateDict();
  assert.equal(Object.keys(sd.state), ['0', '1']);
  assert.equal(Object.keys(sd.state[0]).sort(), ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
  assert.is(sd.state[0].step, 10);
  assert.equal(sd.paramGroups[0].params, [0, 1]);
  opt = make([a, b]);
  opt.loadStateDict(sd);
  for (let t = 0; t < 10; t++) {
    opt.zeroGrad();
    lossOf().backward();
    opt.step();
  }
  assert.equal([...(a.toArray() as number[]), ...(b.toArray() as number[])], full.got);

  const p = kiln.tensor([1, 1], { dtype: 'float64', requiresGrad: true }),
    q = kiln.tensor([1, 1], { dtype: 'float64', requiresGrad: true });
  const sgd2 = new optim.SGD([{ params: [p] }, { params: [q], lr: 0.5 }], { lr: 0.1 });
  p.sum().add(q.sum()).backward();
  sgd2.step();
  assert.equal(p.toArray(), [0.9, 0.9]);
  assert.equal(q.toArray(), [0.5, 0.5]);
  assert.is(sgd2.paramGroups[1].lr, 0.5);
  sgd2.zeroGrad();
  assert.is(p.grad, null);
  // A parameter without a gradient is skipped (its step count stays).
  q.sum().backward();
  sgd2.step();
  assert.equal(p.toArray(), [0.9, 0.9]);
  assert.is(sgd2.state.get(p)!.step, 1);
  assert.is(sgd2.state.get(q)!.step, 2);
});

test('a module trains with AdamW', () => {
  kiln.manualSeed(2);
  const model = new kiln.nn.Sequential(new kiln.nn.Linear(4, 32, { activation: 'relu' }), new kiln.nn.Linear(32, 3));
  const x = kiln.randn([128, 4]);
  const y = x.matmul(kiln.randn([4, 3])).argmax(1);
  const opt = new optim.AdamW(model.parameters(), { lr: 0.02 });
  const lossAt = () =>
    kiln.noGrad(() => kiln.nn.functional.crossEntropy(model.forward(x) as kiln.Tensor, y).item() as number);
  const first = lossAt();
  for (let i = 0; i < 150; i++) {
    opt.zeroGrad();
    kiln.nn.functional.crossEntropy(model.forward(x) as kiln.Tensor, y).backward();
    opt.step();
  }
  assert.ok(lossAt() < 0.2 * first, `loss ${first} -> ${lossAt()}`);
});

test('clipGradNorm_ and clipGradValue_', () => {
  const a = kiln.zeros([2], { requiresGrad: true }),
    b = kiln.zeros([2], { requiresGrad: true });
  a.grad = kiln.tensor([3, 0], { dtype: 'float32' });
  b.grad = kiln.tensor([0, 4], { dtype: 'float32' });
  const n = kiln.nn.utils.clipGradNorm_([a, b], 1);
  assert.ok(Math.abs((n.item() as number) - 5) < 1e-6);
  const scale = 1 / (5 + 1e-6);
  assert.ok(Math.abs((a.grad.toArray() as number[])[0] - 3 * scale) < 1e-6);
  assert.ok(Math.abs((b.grad.toArray() as number[])[1] - 4 * scale) < 1e-6);
  // Below the limit nothing changes; the inf-norm is the largest |g|.
  b.grad = kiln.tensor([0, -0.5], { dtype: 'float32' });
  assert.ok(Math.abs((kiln.nn.utils.clipGradNorm_(b, 10, Infinity).item() as number) - 0.5) < 1e-7);
  assert.equal(b.grad.toArray(), [0, -0.5]);
  assert.ok(Math.abs((kiln.nn.utils.clipGradNorm_([a, b], 100, 1).item() as number) - (3 * scale + 0.5)) < 1e-6);
  b.grad = kiln.tensor([NaN, 1], { dtype: 'float32' });
  assert.throws(
    () => kiln.nn.utils.clipGradNorm_([b], 1, 2, { errorIfNonfinite: true }),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  b.grad = kiln.tensor([-3, 0.2], { dtype: 'float32' });
  kiln.nn.utils.clipGradValue_([a, b], 0.5);
  assert.equal(b.grad.toArray(), [-0.5, Math.fround(0.2)]);
});

test('errors', () => {
  const p = kiln.zeros([2], { requiresGrad: true });
  const code = (fn: () => unknown, c: string, label: string) =>
    assert.throws(fn, (e: kiln.KilnError) => e.code === c, label);
  code(() => new optim.SGD([p], { lr: -1 }), 'ERR_ARG', 'negative lr');
  code(() => new optim.SGD([p], { lr: 0.1, nesterov: true }), 'ERR_ARG', 'nesterov without momentum');
  code(() => new optim.Adam([p], { betas: [1, 0.9] }), 'ERR_ARG', 'beta1 = 1');
  code(() => new optim.Adam([]), 'ERR_ARG', 'no params');
  code(() => new optim.SGD([p, p]), 'ERR_ARG', 'duplicate');
  code(() => new optim.SGD([p.mul(2)]), 'ERR_ARG', 'non-leaf');
  code(() => new optim.SGD([kiln.zeros([2], { dtype: 'float16' })]), 'ERR_DTYPE', 'float16');
  const sd = new optim.SGD([p]).stateDict();
  code(
    () => new optim.SGD([{ params: [p] }, { params: [kiln.zeros([1], { requiresGrad: true })] }]).loadStateDict(sd),
    'ERR_STATE_DICT',
    'group count',
  );
});

const PY_OPT = `
import json, torch
A = torch.tensor(${JSON.stringify(A)}, dtype=torch.float64); C = torch.tensor(${JSON.stringify(Cc)}, dtype=torch.float64)
P0 = ${JSON.stringify(P0)}
def run(make):
    a = torch.tensor(P0[:3], dtype=torch.float64, requires_grad=True); b = torch.tensor(P0[3:], dtype=torch.float64, requires_grad=True)
    opt = make([a, b])
    for _ in range(20):
        opt.zero_grad(); p = torch.cat([a, b]); (0.5 * (A * (p - C) ** 2).sum()).backward(); opt.step()
    return torch.cat([a, b]).tolist()
O = torch.optim
print(json.dumps([
  run(lambda ps: O.SGD(ps, lr=0.1)),
  run(lambda ps: O.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
  run(lambda ps: O.SGD(ps, lr=0.05, momentum=0.8, nesterov=True)),
  run(lambda ps: O.SGD(ps, lr=0.05, maximize=True)),
  run(lambda ps: O.Adam(ps, lr=0.05)),
  run(lambda ps: O.Adam(ps, lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
  run(lambda ps: O.AdamW(ps, lr=0.05)),
  run(lambda ps: O.AdamW(ps, lr=0.02, weight_decay=0.3, amsgrad=True, eps=1e-6)),
  run(lambda ps: O.Adagrad(ps, lr=0.3, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1)),
  run(lambda ps: O.RMSprop(ps, lr=0.01)),
  run(lambda ps: O.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.02)),
]))
`;

test(`the same 20 steps in PyTorch${torchSuffix}`, () => {
  if (skipWithoutTorch('optimizer comparison with PyTorch')) return;
  const r = spawnSync(PY, ['-c', PY_OPT], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as number[][];
  assert.is(want.length, CASES.length);
  CASES.forEach(([label, make, ref], i) => {
    const { got } = trajectory(make, ref, 'float64');
    got.forEach((v, j) =>
      assert.ok(
        Math.abs(v - want[i][j]) <= 1e-10 * (1 + Math.abs(want[i][j])),
        `${label} p[${j}]: kiln ${v}, PyTorch ${want[i][j]}`,
      ),
    );
  });
});

test.run();
