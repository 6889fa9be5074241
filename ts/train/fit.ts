/**
 * fit(), evaluate() and predict(): the training loop a user starts from. Per epoch: shuffled
 * batches through forward, loss, backward (with gradient accumulation and clipping), optimizer
 * and scheduler steps, each batch inside kiln.scope() so nothing leaks; then validation with
 * kiln.metrics. Around it: a live cli-progress bar (loss, samples/s), JSONL logs, early stopping,
 * the best checkpoint as safetensors, resuming from a checkpoint, and an HTML page with the loss
 * and metric curves as SVG.
 */
import * as fs from 'fs';
import { noGrad } from '../autograd/grad_mode';
import { KilnError } from '../errors';
import { loadCheckpointSync, saveCheckpointSync } from '../io/checkpoint';
import { scope } from '../memory';
import { classificationReport, ClassReport } from '../metrics/index';
import { clipGradNorm_ } from '../nn/clip';
import { crossEntropy } from '../nn/losses';
import type { Module } from '../nn/module';
import type { LRScheduler, ReduceLROnPlateau } from '../optim/lr_scheduler';
import type { Optimizer } from '../optim/optimizer';
import { PALETTE, lineChart } from '../svg_chart';
import { Tensor } from '../tensor';

/** What a batch turns into: the model's output and the target the loss compares it with. */
export interface Step {
  output: Tensor;
  target: Tensor;
}
export type ForwardFn<B> = (model: Module, batch: B) => Step;

/** Default: a batch is [inputs, target] and the model takes the inputs. */
const defaultForward = (model: Module, batch: unknown): Step => {
  const [x, y] = batch as [Tensor, Tensor];
  return { output: model.forward(x) as Tensor, target: y };
};

export interface EpochLog {
  epoch: number;
  trainLoss: number;
  valLoss?: number;
  valAccuracy?: number;
  valMacroF1?: number;
  lr: number;
  samplesPerSec: number;
  seconds: number;
}

type Monitor = 'valLoss' | 'valAccuracy' | 'valMacroF1' | 'trainLoss';

export interface FitOptions<B> {
  model: Module;
  optimizer: Optimizer<object>;
  train: Iterable<B>;
  val?: Iterable<B>;
  epochs: number;
  forward?: ForwardFn<B>;
  /** Default: crossEntropy(output, target). */
  loss?: (output: Tensor, target: Tensor) => Tensor;
  scheduler?: LRScheduler | ReduceLROnPlateau;
  /** When the scheduler steps (default 'epoch'; ReduceLROnPlateau always steps per epoch on the monitored value). */
  schedulerStep?: 'batch' | 'epoch';
  /** Optimizer step every N batches, gradients summed in between (the loss is divided by N). */
  gradAccumulation?: number;
  clipGradNorm?: number;
  /** What early stopping, the best checkpoint and ReduceLROnPlateau watch (default valLoss, or trainLoss without val). */
  monitor?: Monitor;
  earlyStopping?: { patience: number; minDelta?: number };
  /** Where the best epoch's checkpoint goes (model, optimizer, scheduler). */
  checkpoint?: string;
  /** Continue from this checkpoint (written by fit's `checkpoint` or kiln.saveCheckpoint). */
  resumeFrom?: string;
  /** One JSON line per epoch. */
  logFile?: string;
  /** An HTML page with the loss and metric curves (SVG). */
  plotFile?: string;
  /** A cli-progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  numClasses?: number;
  onEpochEnd?: (log: EpochLog) => void;
}

export interface History {
  epochs: EpochLog[];
  bestEpoch: number | null;
  stoppedEarly: boolean;
}

const lower = (m: Monitor): boolean => m === 'valLoss' || m === 'trainLoss';
const groupLr = (o: Optimizer<object>): number => (o.paramGroups[0] as unknown as { lr: number }).lr;

/** Loss, accuracy and the classification report of a model over batches, without gradients. */
export function evaluate<B>(
  model: Module,
  batches: Iterable<B>,
  o: { forward?: ForwardFn<B>; loss?: (output: Tensor, target: Tensor) => Tensor; numClasses?: number } = {},
): { loss: number; accuracy: number; report: ClassReport } {
  const forward = o.forward ?? (defaultForward as ForwardFn<B>),
    lossFn = o.loss ?? ((out: Tensor, t: Tensor) => crossEntropy(out, t));
  const wasTraining = model.training;
  model.eval();
  let total = 0,
    count = 0;
  const preds: number[] = [],
    targets: number[] = [];
  try {
    noGrad(() => {
      for (const batch of batches)
        scope(() => {
          const { output, target } = forward(model, batch);
          const n = target.shape[0] ?? 1;
          total += (lossFn(output, target).item() as number) * n;
          count += n;
          preds.push(...(output.argmax(-1).reshape([-1]).toArray() as number[]));
          targets.push(...(target.reshape([-1]).toArray() as number[]));
        });
    });
  } finally {
    model.train(wasTraining);
  }
  const report = classificationReport(preds, targets, o.numClasses);
  return { loss: count ? total / count : NaN, accuracy: report.accuracy, report };
}

/** The predicted class of each row (argmax of the output's last dim). */
export function predict<B>(model: Module, batches: Iterable<B> | Tensor, o: { forward?: ForwardFn<B> } = {}): number[] {
  const wasTraining = model.training;
  model.eval();
  const out: number[] = [];
  try {
    noGrad(() => {
      const list = batches instanceof Tensor ? [[batches, batches] as unknown as B] : batches;
      for (const batch of list)
        scope(() => {
          const { output } = (o.forward ?? (defaultForward as ForwardFn<B>))(model, batch);
          out.push(...(output.argmax(-1).reshape([-1]).toArray() as number[]));
        });
    });
  } finally {
    model.train(wasTraining);
  }
  return out;
}

function writePlot(file: string, logs: EpochLog[]): void {
  const x = (f: (l: EpochLog) => number | undefined) =>
    logs.filter((l) => f(l) !== undefined && Number.isFinite(f(l)!)).map((l) => [l.epoch, f(l)!] as [number, number]);
  const loss = lineChart({
    title: 'Loss',
    xLabel: 'epoch',
    yLabel: 'loss',
    series: [
      { label: 'train', color: PALETTE[0], points: x((l) => l.trainLoss) },
      { label: 'validation', color: PALETTE[1], points: x((l) => l.valLoss) },
    ].filter((s) => s.points.length),
  });
  const metric = lineChart({
    title: 'Validation metrics',
    xLabel: 'epoch',
    yLabel: 'score',
    series: [
      { label: 'accuracy', color: PALETTE[2], points: x((l) => l.valAccuracy) },
      { label: 'macro F1', color: PALETTE[3], points: x((l) => l.valMacroF1) },
    ].filter((s) => s.points.length),
  });
  fs.writeFileSync(
    file,
    `<!doctype html><html><head><meta charset="utf-8"><title>kiln training curves</title></head><body>\n${loss}\n${metric}\n</body></html>\n`,
  );
}

/** Trains `model` and returns the per-epoch history. */
export function fit<B>(o: FitOptions<B>): History {
  const forward = o.forward ?? (defaultForward as ForwardFn<B>),
    lossFn = o.loss ?? ((out: Tensor, t: Tensor) => crossEntropy(out, t));
  const accum = o.gradAccumulation ?? 1;
  if (!Number.isInteger(o.epochs) || o.epochs < 0)
    throw new KilnError('ERR_ARG', `fit: epochs must be a non-negative integer, got ${o.epochs}`);
  if (!Number.isInteger(accum) || accum < 1)
    throw new KilnError('ERR_ARG', `fit: gradAccumulation must be a positive integer, got ${accum}`);
  const monitor: Monitor = o.monitor ?? (o.val ? 'valLoss' : 'trainLoss');
  if (monitor.startsWith('val') && !o.val)
    throw new KilnError('ERR_ARG', `fit: monitor ${monitor} needs validation data`);
  const plateau = o.scheduler && !('baseLrs' in o.scheduler) ? (o.scheduler as ReduceLROnPlateau) : null;
  const sched = o.scheduler && 'baseLrs' in o.scheduler ? (o.scheduler as LRScheduler) : null;
  const perBatch = o.schedulerStep === 'batch';

  let startEpoch = 1;
  const history: History = { epochs: [], bestEpoch: null, stoppedEarly: false };
  if (o.resumeFrom) {
    const extra = loadCheckpointSync(o.resumeFrom, { model: o.model, optimizer: o.optimizer, scheduler: o.scheduler });
    startEpoch = Number(extra.epoch ?? 0) + 1;
    history.epochs = (extra.history as EpochLog[] | undefined) ?? [];
    history.bestEpoch = (extra.bestEpoch as number | undefined) ?? null;
  }
  let best =
    history.bestEpoch !== null ? (history.epochs.find((l) => l.epoch === history.bestEpoch)?.[monitor] ?? null) : null;
  let bad = 0;
  if (o.logFile && startEpoch === 1) fs.writeFileSync(o.logFile, '');
  const showBar = o.progress ?? Boolean(process.stderr.isTTY);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const bar = showBar
    ? new (require('cli-progress') as typeof import('cli-progress')).SingleBar({
        format: 'epoch {epoch} |{bar}| {value}/{total} batches | loss {loss} | {rate} samples/s',
        stream: process.stderr,
        hideCursor: true,
      })
    : null;

  const step = (): void => {
    if (o.clipGradNorm !== undefined) clipGradNorm_(o.model.parameters(), o.clipGradNorm).dispose();
    o.optimizer.step();
    o.optimizer.zeroGrad();
    if (sched && perBatch) sched.step();
  };

  for (let epoch = startEpoch; epoch <= o.epochs; epoch++) {
    o.model.train();
    const total = Array.isArray(o.train) ? o.train.length : ((o.train as { length?: number }).length ?? 0);
    const t0 = process.hrtime.bigint();
    let lossSum = 0,
      samples = 0,
      i = 0;
    bar?.start(total, 0, { epoch, loss: '-', rate: '-' });
    o.optimizer.zeroGrad();
    const it = o.train[Symbol.iterator]();
    for (;;) {
      // The batch is made inside the step's scope, so its tensors go with the step's temporaries.
      const done = scope(() => {
        const next = it.next();
        if (next.done) return true;
        const { output, target } = forward(o.model, next.value);
        const loss = lossFn(output, target);
        const n = target.shape[0] ?? 1;
        lossSum += (loss.item() as number) * n;
        samples += n;
        (accum > 1 ? loss.div(accum) : loss).backward();
        return false;
      });
      if (done) break;
      i++;
      if (i % accum === 0) step();
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      bar?.update(i, { epoch, loss: (lossSum / samples).toFixed(4), rate: (samples / secs).toFixed(0) });
    }
    if (i % accum !== 0) step();
    bar?.stop();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const log: EpochLog = {
      epoch,
      trainLoss: lossSum / Math.max(1, samples),
      lr: groupLr(o.optimizer),
      samplesPerSec: samples / seconds,
      seconds,
    };
    if (o.val) {
      const v = evaluate(o.model, o.val, { forward, loss: lossFn, numClasses: o.numClasses });
      Object.assign(log, { valLoss: v.loss, valAccuracy: v.accuracy, valMacroF1: v.report.macro.f1 });
    }
    if (sched && !perBatch) sched.step();
    if (plateau) plateau.step(log[monitor]!);
    history.epochs.push(log);
    o.onEpochEnd?.(log);
    if (o.logFile) fs.appendFileSync(o.logFile, `${JSON.stringify(log)}\n`);
    if (o.plotFile) writePlot(o.plotFile, history.epochs);

    const value = log[monitor]!;
    const delta = o.earlyStopping?.minDelta ?? 0;
    const improved = best === null || (lower(monitor) ? value < best - delta : value > best + delta);
    if (improved) {
      best = value;
      bad = 0;
      history.bestEpoch = epoch;
    } else bad++;
    if (o.checkpoint && improved)
      saveCheckpointSync(o.checkpoint, {
        model: o.model,
        optimizer: o.optimizer,
        scheduler: o.scheduler,
        extra: { epoch, history: history.epochs, bestEpoch: history.bestEpoch, monitor },
      });
    if (o.earlyStopping && bad > o.earlyStopping.patience) {
      history.stoppedEarly = true;
      break;
    }
  }
  return history;
}
