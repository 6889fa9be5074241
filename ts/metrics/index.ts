/**
 * kiln.metrics: classification metrics from predicted and true class indices (tensors or arrays):
 * accuracy, the confusion matrix, and precision / recall / F1 per class, micro- and
 * macro-averaged, with scikit-learn's conventions (a class with no predictions has precision 0).
 */
import { KilnError } from '../errors';
import { Tensor } from '../tensor';

type Labels = Tensor | ArrayLike<number>;

function toInts(name: string, x: Labels): number[] {
  const arr = x instanceof Tensor ? (x.reshape([-1]).toArray() as number[]) : Array.from(x);
  for (const v of arr)
    if (!Number.isInteger(v) || v < 0)
      throw new KilnError('ERR_ARG', `metrics: ${name} must hold class indices >= 0, got ${v}`);
  return arr;
}

function pair(pred: Labels, target: Labels): [number[], number[]] {
  const p = toInts('pred', pred),
    t = toInts('target', target);
  if (p.length !== t.length)
    throw new KilnError('ERR_SHAPE', `metrics: ${p.length} predictions for ${t.length} targets`);
  return [p, t];
}

/** Fraction of predictions equal to the target (0 for no samples). */
export function accuracy(pred: Labels, target: Labels): number {
  const [p, t] = pair(pred, target);
  return p.length ? p.filter((v, i) => v === t[i]).length / p.length : 0;
}

/** counts[true][predicted], numClasses x numClasses (default: the largest label + 1). */
export function confusionMatrix(pred: Labels, target: Labels, numClasses?: number): number[][] {
  const [p, t] = pair(pred, target);
  const n = numClasses ?? Math.max(0, ...p, ...t) + 1;
  const m = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  p.forEach((v, i) => {
    if (v >= n || t[i] >= n)
      throw new KilnError('ERR_ARG', `confusionMatrix: label ${Math.max(v, t[i])} >= numClasses ${n}`);
    m[t[i]][v]++;
  });
  return m;
}

export interface ClassReport {
  /** Per class. */
  precision: number[];
  recall: number[];
  f1: number[];
  support: number[];
  /** Micro averages (over all samples; equal to accuracy for single-label data). */
  micro: { precision: number; recall: number; f1: number };
  /** Unweighted means over classes. */
  macro: { precision: number; recall: number; f1: number };
  accuracy: number;
  confusion: number[][];
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
const f1of = (p: number, r: number): number => (p + r === 0 ? 0 : (2 * p * r) / (p + r));

/** Precision, recall, F1 and support per class with micro and macro averages. */
export function classificationReport(pred: Labels, target: Labels, numClasses?: number): ClassReport {
  const m = confusionMatrix(pred, target, numClasses);
  const n = m.length;
  const tp = m.map((row, c) => row[c]);
  const predicted = Array.from({ length: n }, (_, c) => m.reduce((s, row) => s + row[c], 0));
  const support = m.map((row) => row.reduce((s, v) => s + v, 0));
  const precision = tp.map((v, c) => ratio(v, predicted[c]));
  const recall = tp.map((v, c) => ratio(v, support[c]));
  const f1 = precision.map((p, c) => f1of(p, recall[c]));
  const total = support.reduce((s, v) => s + v, 0),
    hits = tp.reduce((s, v) => s + v, 0);
  const microP = ratio(
      hits,
      predicted.reduce((s, v) => s + v, 0),
    ),
    microR = ratio(hits, total);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, v) => s + v, 0) / xs.length : 0);
  return {
    precision,
    recall,
    f1,
    support,
    micro: { precision: microP, recall: microR, f1: f1of(microP, microR) },
    macro: { precision: mean(precision), recall: mean(recall), f1: mean(f1) },
    accuracy: ratio(hits, total),
    confusion: m,
  };
}

export interface ScoreOptions {
  /** 'micro' or 'macro' average; else the score of class `positive` (default 1). */
  average?: 'micro' | 'macro';
  positive?: number;
}

function score(which: 'precision' | 'recall' | 'f1', pred: Labels, target: Labels, o: ScoreOptions): number {
  const r = classificationReport(pred, target);
  return o.average ? r[o.average][which] : (r[which][o.positive ?? 1] ?? 0);
}

/** Precision of one class or an average. */
export const precision = (pred: Labels, target: Labels, o: ScoreOptions = {}): number =>
  score('precision', pred, target, o);
/** Recall of one class or an average. */
export const recall = (pred: Labels, target: Labels, o: ScoreOptions = {}): number => score('recall', pred, target, o);
/** F1 of one class or an average. */
export const f1Score = (pred: Labels, target: Labels, o: ScoreOptions = {}): number => score('f1', pred, target, o);
