// Checkpoints: model + optimizer + scheduler + extra in one safetensors file; resuming from it
// continues training bit for bit; a plain tensor file is refused with ERR_STATE_DICT.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

const { nn, optim } = kiln;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ckpt-'));

function setup() {
  kiln.manualSeed(11);
  const model = new nn.Sequential(new nn.Linear(3, 8, { activation: 'gelu' }), new nn.Linear(8, 2));
  const opt = new optim.AdamW(model.parameters(), { lr: 0.01, amsgrad: true });
  const sched = new optim.lrScheduler.OneCycleLR(opt, 0.05, { totalSteps: 30 });
  return { model, opt, sched };
}
const x = () => {
  kiln.manualSeed(12);
  return kiln.randn([16, 3]);
};
function train(s: ReturnType<typeof setup>, steps: number) {
  const inp = x();
  for (let i = 0; i < steps; i++) {
    s.opt.zeroGrad();
    (s.model.forward(inp) as kiln.Tensor).square().mean().backward();
    s.opt.step();
    s.sched.step();
  }
}

test('resuming from a checkpoint continues the run exactly (sync and async)', async () => {
  const straight = setup();
  train(straight, 20);
  const a = setup();
  train(a, 10);
  kiln.saveCheckpointSync(path.join(dir, 'c.safetensors'), {
    model: a.model,
    optimizer: a.opt,
    scheduler: a.sched,
    extra: { epoch: 10 },
  });
  await kiln.saveCheckpoint(path.join(dir, 'c2.safetensors'), { model: a.model, optimizer: a.opt, scheduler: a.sched });
  for (const [file, sync] of [
    ['c.safetensors', true],
    ['c2.safetensors', false],
  ] as const) {
    const b = setup();
    const extra = sync
      ? kiln.loadCheckpointSync(path.join(dir, file), { model: b.model, optimizer: b.opt, scheduler: b.sched })
      : await kiln.loadCheckpoint(path.join(dir, file), { model: b.model, optimizer: b.opt, scheduler: b.sched });
    if (sync) assert.equal(extra, { epoch: 10 });
    assert.equal(b.opt.paramGroups[0].lr, a.opt.paramGroups[0].lr);
    train(b, 10);
    const want = [...straight.model.stateDict().values()].map((t) => t.toArray());
    assert.equal(
      [...b.model.stateDict().values()].map((t) => t.toArray()),
      want,
      file,
    );
  }
  // It is a plain safetensors file too.
  const keys = [...kiln.safetensors.inspect(path.join(dir, 'c.safetensors')).tensors.keys()];
  assert.ok(keys.includes('model.0.weight') && keys.includes('optimizer.0.exp_avg'));
});

test('plain tensor files are not checkpoints', () => {
  kiln.saveSync({ a: kiln.zeros([1]) }, path.join(dir, 'plain.safetensors'));
  const s = setup();
  assert.throws(
    () => kiln.loadCheckpointSync(path.join(dir, 'plain.safetensors'), { model: s.model }),
    (e: kiln.KilnError) => e.code === 'ERR_STATE_DICT',
  );
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
test.run();
