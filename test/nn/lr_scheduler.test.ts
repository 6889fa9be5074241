// LR schedulers: curves against their formulas, state dicts, errors; and, when Debian's torch is
// installed, the same schedules computed by PyTorch in the same run.
import { spawnSync } from 'child_process';
import { test } from 'uvu';
import { PY, skipWithoutTorch, torchSuffix } from '../helpers/torch';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const { optim } = kiln;
const S = optim.lrScheduler;
const sgd = (lr = 0.1, momentum = 0.9) => new optim.SGD([kiln.zeros([1], { requiresGrad: true })], { lr, momentum });
const adam = (lr = 0.1) => new optim.Adam([kiln.zeros([1], { requiresGrad: true })], { lr });

/** lr after construction and after each of `n` steps. */
function curve(o: kiln.optim.Optimizer<object>, s: { step(): void }, n: number): number[] {
  const lr = () => (o.paramGroups[0] as unknown as { lr: number }).lr;
  const out = [lr()];
  for (let i = 0; i < n; i++) {
    s.step();
    out.push(lr());
  }
  return out;
}
const near = (got: number[], want: number[], label: string) =>
  got.forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]) <= 1e-12 * Math.max(1, Math.abs(want[i])), `${label}[${i}]: ${v} vs ${want[i]}`),
  );
const range = (n: number) => [...Array(n).keys()];

const SCHEDULES: Record<string, () => number[]> = {
  step: () => {
    const o = sgd();
    return curve(o, new S.StepLR(o, 3, 0.5), 10);
  },
  multistep: () => {
    const o = sgd();
    return curve(o, new S.MultiStepLR(o, [2, 5, 5, 8], 0.1), 10);
  },
  exponential: () => {
    const o = sgd();
    return curve(o, new S.ExponentialLR(o, 0.9), 10);
  },
  cosine: () => {
    const o = sgd();
    return curve(o, new S.CosineAnnealingLR(o, 6, 0.001), 10);
  },
  linear: () => {
    const o = sgd();
    return curve(o, new S.LinearLR(o, 0.25, 1, 4), 8);
  },
  sequential: () => {
    const o = sgd();
    const warm = new S.LinearLR(o, 0.1, 1, 3);
    const cos = new S.CosineAnnealingLR(o, 5);
    return curve(o, new S.SequentialLR(o, [warm, cos], [3]), 10);
  },
  onecycle: () => {
    const o = sgd();
    return curve(o, new S.OneCycleLR(o, 1.0, { totalSteps: 10 }), 9);
  },
  onecycle_linear_3phase_adam: () => {
    const o = adam();
    return curve(
      o,
      new S.OneCycleLR(o, 0.5, { totalSteps: 12, annealStrategy: 'linear', threePhase: true, pctStart: 0.25 }),
      11,
    );
  },
};

test('curves against their formulas', () => {
  near(
    SCHEDULES.step(),
    range(11).map((e) => 0.1 * 0.5 ** Math.floor(e / 3)),
    'StepLR',
  );
  near(
    SCHEDULES.multistep(),
    range(11).map((e) => 0.1 * 0.1 ** [2, 5, 5, 8].filter((m) => m <= e).length),
    'MultiStepLR',
  );
  near(
    SCHEDULES.exponential(),
    range(11).map((e) => 0.1 * 0.9 ** e),
    'ExponentialLR',
  );
  near(
    SCHEDULES.cosine(),
    range(11).map((e) => 0.001 + ((0.1 - 0.001) * (1 + Math.cos((Math.PI * e) / 6))) / 2),
    'CosineAnnealingLR',
  );
  near(
    SCHEDULES.linear(),
    range(9).map((e) => 0.1 * (0.25 + (0.75 * Math.min(e, 4)) / 4)),
    'LinearLR',
  );
  const seq = range(11).map((e) =>
    e < 3 ? 0.1 * (0.1 + (0.9 * e) / 3) : (0.1 * (1 + Math.cos((Math.PI * (e - 3)) / 5))) / 2,
  );
  near(SCHEDULES.sequential(), seq, 'SequentialLR warm-up then cosine');
  // OneCycle, two phases, cos: 0.04 -> 1.0 over steps 0..2 (pctStart 0.3 of 10, end at step 2), then to 4e-6 at 9.
  const lo = 1 / 25,
    fin = lo / 1e4;
  const cosAnneal = (a: number, b: number, p: number) => b + ((a - b) / 2) * (1 + Math.cos(Math.PI * p));
  const one = range(10).map((e) => (e <= 2 ? cosAnneal(lo, 1, e / 2) : cosAnneal(1, fin, (e - 2) / 7)));
  near(SCHEDULES.onecycle(), one, 'OneCycleLR');
});

test('OneCycleLR cycles momentum (or beta1); too many steps and bad options throw', () => {
  const o = sgd(0.1, 0.9);
  const s = new S.OneCycleLR(o, 1.0, { totalSteps: 10 });
  const mom = () => (o.paramGroups[0] as unknown as { momentum: number }).momentum;
  assert.ok(Math.abs(mom() - 0.95) < 1e-12);
  s.step();
  s.step();
  assert.ok(Math.abs(mom() - 0.85) < 1e-12, `momentum at the peak ${mom()}`);
  for (let i = 0; i < 8; i++) s.step();
  assert.throws(
    () => s.step(),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  const a = adam();
  new S.OneCycleLR(a, 1.0, { totalSteps: 5 });
  assert.ok(Math.abs(a.paramGroups[0].betas[0] - 0.95) < 1e-12);
  const plain = new optim.Adagrad([kiln.zeros([1], { requiresGrad: true })]);
  assert.throws(
    () => new S.OneCycleLR(plain, 1, { totalSteps: 5 }),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  assert.throws(
    () => new S.OneCycleLR(sgd(), 1, {}),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  assert.throws(
    () => new S.StepLR(sgd(), 0),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
  assert.throws(
    () => new S.LinearLR(sgd(), 0),
    (e: kiln.KilnError) => e.code === 'ERR_ARG',
  );
});

test('ReduceLROnPlateau: patience, threshold, cooldown, minLr', () => {
  const o = sgd(1);
  const s = new S.ReduceLROnPlateau(o, { patience: 2, factor: 0.5, cooldown: 1, minLr: 0.2 });
  const lr = () => o.paramGroups[0].lr;
  const metrics = [10, 9, 9, 9, 9, 8.9999, 9, 9, 9, 9, 9, 9, 9, 9];
  const lrs = metrics.map((m) => (s.step(m), lr()));
  // Bad epochs after the best (9): 3rd bad -> halve; cooldown 1 epoch; relative threshold 1e-4 makes
  // 8.9999 no improvement; the floor is 0.2.
  assert.equal(lrs, [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2]);
  const sd = s.stateDict();
  const s2 = new S.ReduceLROnPlateau(o, { patience: 2 });
  s2.loadStateDict(sd);
  assert.is(s2.best, 9);
});

test('scheduler state dicts resume the curve', () => {
  const o = sgd();
  const s = new S.CosineAnnealingLR(o, 10);
  for (let i = 0; i < 4; i++) s.step();
  const sd = s.stateDict();
  const o2 = sgd();
  const s2 = new S.CosineAnnealingLR(o2, 10);
  s2.loadStateDict(sd);
  s.step();
  s2.step();
  assert.equal(s2.getLastLr(), s.getLastLr());
  assert.is(s2.lastEpoch, 5);
});

const PY_CURVES = `
import json, torch
from torch.optim import lr_scheduler as S
def opt(kind='sgd', lr=0.1, m=0.9):
    p = [torch.zeros(1, requires_grad=True)]
    return torch.optim.SGD(p, lr=lr, momentum=m) if kind == 'sgd' else torch.optim.Adam(p, lr=lr)
def curve(o, s, n):
    out = [o.param_groups[0]['lr']]
    for _ in range(n):
        o.step(); s.step(); out.append(o.param_groups[0]['lr'])
    return out
r = {}
o = opt(); r['step'] = curve(o, S.StepLR(o, 3, 0.5), 10)
o = opt(); r['multistep'] = curve(o, S.MultiStepLR(o, [2, 5, 5, 8], 0.1), 10)
o = opt(); r['exponential'] = curve(o, S.ExponentialLR(o, 0.9), 10)
o = opt(); r['cosine'] = curve(o, S.CosineAnnealingLR(o, 6, 0.001), 10)
o = opt(); r['linear'] = curve(o, S.LinearLR(o, 0.25, 1, 4), 8)
o = opt(); w = S.LinearLR(o, 0.1, 1, 3); c = S.CosineAnnealingLR(o, 5); r['sequential'] = curve(o, S.SequentialLR(o, [w, c], [3]), 10)
o = opt(); r['onecycle'] = curve(o, S.OneCycleLR(o, 1.0, total_steps=10), 9)
o = opt('adam'); r['onecycle_linear_3phase_adam'] = curve(o, S.OneCycleLR(o, 0.5, total_steps=12, anneal_strategy='linear', three_phase=True, pct_start=0.25), 11)
print(json.dumps(r))
`;

test(`the same schedules in PyTorch${torchSuffix}`, () => {
  if (skipWithoutTorch('scheduler comparison with PyTorch')) return;
  const r = spawnSync(PY, ['-c', PY_CURVES], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as Record<string, number[]>;
  for (const [name, fn] of Object.entries(SCHEDULES)) {
    const got = fn();
    assert.is(got.length, want[name].length, name);
    got.forEach((v, i) =>
      assert.ok(
        Math.abs(v - want[name][i]) <= 1e-9 * Math.max(1, Math.abs(want[name][i])),
        `${name}[${i}]: kiln ${v}, PyTorch ${want[name][i]}`,
      ),
    );
  }
});

test.run();
