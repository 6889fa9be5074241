// A fixed-seed training run whose loss curve is checked in (test/train/golden_loss.json): any
// change to initialisation, kernels, autograd, the optimizer or the data order that moves the
// curve shows up here. And 1,000 training steps leave kiln.memory() flat.
// Regenerate after an intended change: KILN_WRITE_GOLDEN=1 npx tsx test/train/golden.test.ts
import * as fs from 'fs';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { settledMemory } from '../helpers/settled';

const { nn, optim, data } = kiln;
const GOLDEN = path.join(__dirname, 'golden_loss.json');

function run(steps: number): number[] {
  kiln.manualSeed(123);
  const x = kiln.randn([256, 8]);
  const y = x.matmul(kiln.randn([8, 4])).argmax(1);
  const model = new nn.Sequential(
    new nn.Linear(8, 32, { activation: 'gelu' }),
    new nn.LayerNorm(32),
    new nn.Linear(32, 4),
  );
  const opt = new optim.AdamW(model.parameters(), { lr: 0.01 });
  const sched = new optim.lrScheduler.StepLR(opt, 20, 0.5);
  const loader = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 32, shuffle: true, seed: 5 });
  const losses: number[] = [];
  while (losses.length < steps)
    for (const batch of loader) {
      if (losses.length >= steps) break;
      kiln.scope(() => {
        const [xb, yb] = batch as kiln.Tensor[];
        opt.zeroGrad();
        const loss = nn.functional.crossEntropy(model.forward(xb) as kiln.Tensor, yb);
        losses.push(loss.item() as number);
        loss.backward();
        opt.step();
        sched.step();
      });
    }
  return losses;
}

test('the fixed-seed loss curve matches the checked-in one', () => {
  const got = run(60);
  if (process.env.KILN_WRITE_GOLDEN) fs.writeFileSync(GOLDEN, `${JSON.stringify(got.map((v) => +v.toPrecision(7)))}\n`);
  const want = JSON.parse(fs.readFileSync(GOLDEN, 'utf8')) as number[];
  assert.is(got.length, want.length);
  // ISAs round differently (FMA tiles, vector exp), so not bit for bit: 1e-4 relative.
  got.forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]) <= 1e-4 * Math.abs(want[i]) + 1e-6, `step ${i}: ${v} vs ${want[i]}`),
  );
  assert.ok(got[got.length - 1] < 0.5 * got[0], 'it learns');
});

test('1,000 training steps leave memory flat', () => {
  kiln.manualSeed(1);
  const model = new nn.Sequential(
    new nn.Linear(16, 32, { activation: 'relu' }),
    new nn.Dropout(0.1),
    new nn.Linear(32, 3),
  );
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const x = kiln.randn([512, 16]),
    y = kiln.randint(0, 3, [512]);
  const loader = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 16, shuffle: true });
  // Batches are the caller's: made inside the step's scope they go with it (as fit() does).
  let it = loader[Symbol.iterator]();
  const stepOnce = () =>
    kiln.scope(() => {
      let next = it.next();
      if (next.done) {
        it = loader[Symbol.iterator]();
        next = it.next();
      }
      const [xb, yb] = next.value as kiln.Tensor[];
      opt.zeroGrad();
      nn.functional.crossEntropy(model.forward(xb) as kiln.Tensor, yb).backward();
      opt.step();
    });
  for (let i = 0; i < 40; i++) stepOnce(); // optimizer state exists from here on
  const before = settledMemory();
  for (let i = 0; i < 1000; i++) stepOnce();
  const after = kiln.memory();
  assert.is(after.numTensors, before.numTensors);
  assert.is(after.numBytes, before.numBytes);
});

test.run();
