// fit / evaluate / predict: learning a small problem, validation metrics, JSONL logs, the HTML
// plot, early stopping, best checkpoint and resume, gradient accumulation, flat memory.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { settledMemory } from '../helpers/settled';

const { nn, optim, data } = kiln;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-fit-'));

/** Three Gaussian blobs in 2-d. */
function blobs(n: number, seed: number) {
  kiln.manualSeed(seed);
  const y = kiln.randint(0, 3, [n]);
  const centers = kiln.tensor([
    [0, 3],
    [3, -2],
    [-3, -2],
  ]);
  const x = centers.indexSelect(0, y).add(kiln.randn([n, 2]).mul(0.8));
  return new data.TensorDataset(x, y);
}
const model = () => {
  kiln.manualSeed(1);
  return new nn.Sequential(new nn.Linear(2, 16, { activation: 'relu' }), new nn.Linear(16, 3));
};

test('fit learns, validates, logs JSONL and writes the curves', () => {
  const m = model();
  const opt = new optim.AdamW(m.parameters(), { lr: 0.05 });
  const logFile = path.join(dir, 'log.jsonl'),
    plotFile = path.join(dir, 'curves.html');
  const h = kiln.train.fit({
    model: m,
    optimizer: opt,
    train: new data.DataLoader(blobs(300, 2), { batchSize: 32, shuffle: true, seed: 1 }),
    val: new data.DataLoader(blobs(100, 3), { batchSize: 50 }),
    epochs: 8,
    scheduler: new optim.lrScheduler.CosineAnnealingLR(opt, 8),
    logFile,
    plotFile,
    progress: false,
  });
  assert.is(h.epochs.length, 8);
  const last = h.epochs[7];
  assert.ok(last.valAccuracy! > 0.95, `validation accuracy ${last.valAccuracy}`);
  assert.ok(last.trainLoss < h.epochs[0].trainLoss);
  assert.ok(last.lr < 0.01, 'the scheduler stepped per epoch');
  const lines = fs
    .readFileSync(logFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.is(lines.length, 8);
  assert.equal(Object.keys(lines[0]).sort(), [
    'epoch',
    'lr',
    'samplesPerSec',
    'seconds',
    'trainLoss',
    'valAccuracy',
    'valLoss',
    'valMacroF1',
  ]);
  const html = fs.readFileSync(plotFile, 'utf8');
  assert.is((html.match(/<svg/g) ?? []).length, 2);
  const ev = kiln.train.evaluate(m, new data.DataLoader(blobs(100, 3), { batchSize: 64 }));
  assert.ok(Math.abs(ev.accuracy - last.valAccuracy!) < 1e-12);
  assert.is(ev.report.confusion.length, 3);
  const preds = kiln.train.predict(m, blobs(10, 4).tensors[0]);
  assert.is(preds.length, 10);
});

test('early stopping, best checkpoint and resume', () => {
  const ckpt = path.join(dir, 'best.safetensors');
  const m = model();
  const opt = new optim.SGD(m.parameters(), { lr: 0.0 }); // no learning: validation never improves
  const h = kiln.train.fit({
    model: m,
    optimizer: opt,
    train: new data.DataLoader(blobs(64, 5), { batchSize: 16 }),
    val: new data.DataLoader(blobs(32, 6), { batchSize: 32 }),
    epochs: 20,
    earlyStopping: { patience: 2 },
    checkpoint: ckpt,
    progress: false,
  });
  assert.ok(h.stoppedEarly);
  assert.is(h.epochs.length, 4, 'best at 1, then 3 epochs without improvement');
  assert.is(h.bestEpoch, 1);
  // Resume a real run from its best checkpoint: the next epoch is the one after it.
  const m2 = model();
  const opt2 = new optim.AdamW(m2.parameters(), { lr: 0.05 });
  const run = (mm: kiln.nn.Module, oo: kiln.optim.Optimizer<object>, epochs: number, resumeFrom?: string) =>
    kiln.train.fit({
      model: mm,
      optimizer: oo,
      train: new data.DataLoader(blobs(128, 7), { batchSize: 32 }),
      val: new data.DataLoader(blobs(64, 8), { batchSize: 64 }),
      epochs,
      checkpoint: path.join(dir, 'run.safetensors'),
      resumeFrom,
      progress: false,
    });
  run(m2, opt2, 3);
  const m3 = model();
  const opt3 = new optim.AdamW(m3.parameters(), { lr: 0.05 });
  const h3 = run(m3, opt3, 5, path.join(dir, 'run.safetensors'));
  assert.ok(h3.epochs.length === 5 && h3.epochs[3].epoch === 4, 'history continues after the resumed epoch');
});

test('gradient accumulation: 2 x 8 gives the update of one batch of 16', () => {
  const once = (batch: number, accum: number) => {
    const m = model();
    const opt = new optim.SGD(m.parameters(), { lr: 0.1 });
    kiln.train.fit({
      model: m,
      optimizer: opt,
      train: new data.DataLoader(blobs(16, 9), { batchSize: batch }),
      epochs: 1,
      gradAccumulation: accum,
      progress: false,
    });
    return m.parameters().map((p) => p.toArray());
  };
  const a = once(16, 1).flat(2) as number[],
    b = once(8, 2).flat(2) as number[];
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `param ${i}: ${v} vs ${b[i]}`));
});

test('memory stays flat across epochs', () => {
  const m = model();
  const opt = new optim.AdamW(m.parameters(), { lr: 0.01 });
  const loader = new data.DataLoader(blobs(256, 10), { batchSize: 16, shuffle: true });
  const args = { model: m, optimizer: opt, train: loader, epochs: 1, progress: false };
  kiln.train.fit(args);
  const before = settledMemory().numTensors;
  for (let i = 0; i < 5; i++) kiln.train.fit(args);
  assert.is(kiln.memory().numTensors, before, '80 more steps, no more tensors');
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
test.run();
