/**
 * Schedulers with a formula per epoch (torch.optim.lr_scheduler): StepLR, MultiStepLR, ExponentialLR,
 * CosineAnnealingLR, LinearLR, ConstantLR, PolynomialLR, LambdaLR and MultiplicativeLR.
 */
import type { Optimizer } from './optimizer';
import { lrsOf, bad, perGroup, LRScheduler, ChainableLR } from './lr_base';

/** lr = base * gamma ^ floor(epoch / stepSize). */
export class StepLR extends ChainableLR {
  constructor(
    optimizer: Optimizer<object>,
    readonly stepSize: number,
    readonly gamma = 0.1,
    lastEpoch = -1,
  ) {
    super(optimizer, lastEpoch);
    if (!Number.isInteger(stepSize) || stepSize < 1) bad('StepLR', 'stepSize', stepSize);
    this.init();
  }
  protected lrAt(e: number): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(e / this.stepSize));
  }
  protected stepFactor(e: number): number {
    return e === 0 || e % this.stepSize !== 0 ? 1 : this.gamma;
  }
}

/** lr = base * gamma ^ (number of milestones <= epoch). */
export class MultiStepLR extends ChainableLR {
  readonly milestones: number[];
  constructor(
    optimizer: Optimizer<object>,
    milestones: number[],
    readonly gamma = 0.1,
    lastEpoch = -1,
  ) {
    super(optimizer, lastEpoch);
    this.milestones = milestones.slice().sort((a, b) => a - b);
    this.init();
  }
  protected lrAt(e: number): number[] {
    const n = this.milestones.filter((m) => m <= e).length;
    return this.baseLrs.map((b) => b * this.gamma ** n);
  }
  protected stepFactor(e: number): number {
    const n = this.milestones.filter((m) => m === e).length;
    return n === 0 ? 1 : this.gamma ** n;
  }
}

/** lr = base * gamma ^ epoch. */
export class ExponentialLR extends ChainableLR {
  constructor(
    optimizer: Optimizer<object>,
    readonly gamma: number,
    lastEpoch = -1,
  ) {
    super(optimizer, lastEpoch);
    this.init();
  }
  protected lrAt(e: number): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** e);
  }
  protected stepFactor(e: number): number {
    return e === 0 ? 1 : this.gamma;
  }
}

/** lr = etaMin + (base - etaMin) (1 + cos(pi epoch / TMax)) / 2; step() uses PyTorch's recursive form. */
export class CosineAnnealingLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<object>,
    readonly TMax: number,
    readonly etaMin = 0,
    lastEpoch = -1,
  ) {
    super(optimizer, lastEpoch);
    if (!(TMax > 0)) bad('CosineAnnealingLR', 'TMax', TMax);
    this.init();
  }
  protected lrAt(e: number): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * e) / this.TMax))) / 2);
  }
  protected override nextLr(e: number, lrs: number[]): number[] {
    const { TMax: T, etaMin: m } = this;
    if (e === 0) return lrs;
    if (this.stepCount === 1) return this.lrAt(e); // resumed with a lastEpoch
    if ((e - 1 - T) % (2 * T) === 0)
      return lrs.map((lr, i) => lr + ((this.baseLrs[i] - m) * (1 - Math.cos(Math.PI / T))) / 2);
    const f = (1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T));
    return lrs.map((lr) => f * (lr - m) + m);
  }
}

/** lr = base * (startFactor + (endFactor - startFactor) min(epoch, totalIters) / totalIters): warm-up. */
export class LinearLR extends ChainableLR {
  constructor(
    optimizer: Optimizer<object>,
    readonly startFactor = 1 / 3,
    readonly endFactor = 1,
    readonly totalIters = 5,
    lastEpoch = -1,
  ) {
    super(optimizer, lastEpoch);
    if (!(startFactor > 0 && startFactor <= 1)) bad('LinearLR', 'startFactor', startFactor);
    if (!(endFactor >= 0 && endFactor <= 1)) bad('LinearLR', 'endFactor', endFactor);
    if (!Number.isInteger(totalIters) || totalIters < 1) bad('LinearLR', 'totalIters', totalIters);
    this.init();
  }
  protected lrAt(e: number): number[] {
    const f = this.startFactor + ((this.endFactor - this.startFactor) * Math.min(e, this.totalIters)) / this.totalIters;
    return this.baseLrs.map((b) => b * f);
  }
  protected stepFactor(e: number): number {
    const { startFactor: s, endFactor: t, totalIters: n } = this;
    if (e === 0) return s;
    if (e > n) return 1;
    return 1 + (t - s) / (n * s + (e - 1) * (t - s));
  }
}

/** lr = base * factor before epoch totalIters, base from then on. */
export class ConstantLR extends ChainableLR {
  constructor(
    optimizer: Optimizer<object>,
    readonly factor = 1 / 3,
    readonly totalIters = 5,
    lastEpoch = -1,
  ) {
    super(optimizer, lastEpoch);
    // PyTorch accepts 0, then divides by it at totalIters.
    if (!(factor > 0 && factor <= 1)) bad('ConstantLR', 'factor', factor);
    if (!Number.isInteger(totalIters) || totalIters < 1) bad('ConstantLR', 'totalIters', totalIters);
    this.init();
  }
  protected lrAt(e: number): number[] {
    return this.baseLrs.map((b) => b * (this.factor + (e >= this.totalIters ? 1 - this.factor : 0)));
  }
  protected stepFactor(e: number): number {
    if (e === 0) return this.factor;
    return e === this.totalIters ? 1 / this.factor : 1;
  }
}

/** lr = base * (1 - min(epoch, totalIters) / totalIters) ^ power. */
export class PolynomialLR extends ChainableLR {
  constructor(
    optimizer: Optimizer<object>,
    readonly totalIters = 5,
    readonly power = 1,
    lastEpoch = -1,
  ) {
    super(optimizer, lastEpoch);
    if (!Number.isInteger(totalIters) || totalIters < 1) bad('PolynomialLR', 'totalIters', totalIters);
    if (!(Number.isFinite(power) && power >= 0)) bad('PolynomialLR', 'power', power);
    this.init();
  }
  protected lrAt(e: number): number[] {
    const n = this.totalIters;
    return this.baseLrs.map((b) => b * (1 - Math.min(n, e) / n) ** this.power);
  }
  protected stepFactor(e: number): number {
    const n = this.totalIters;
    if (e === 0 || e > n) return 1;
    return ((1 - e / n) / (1 - (e - 1) / n)) ** this.power;
  }
}

/** A multiplicative factor of the epoch, for LambdaLR and MultiplicativeLR. */
export type LrLambda = (epoch: number) => number;

function lambdas(name: string, o: Optimizer<object>, f: LrLambda | LrLambda[]): LrLambda[] {
  const fs = perGroup(name, 'lrLambda', o, f);
  for (const x of fs) if (typeof x !== 'function') bad(name, 'lrLambda', x);
  return fs;
}

/**
 * lr = base * lrLambda(epoch), one function for all groups or one per group. State dicts leave the
 * functions out (as PyTorch does for plain functions).
 */
export class LambdaLR extends LRScheduler {
  readonly lrLambdas: LrLambda[];
  constructor(optimizer: Optimizer<object>, lrLambda: LrLambda | LrLambda[], lastEpoch = -1) {
    super(optimizer, lastEpoch);
    this.lrLambdas = lambdas('LambdaLR', optimizer, lrLambda);
    this.init();
  }
  protected lrAt(e: number): number[] {
    return this.baseLrs.map((b, i) => b * this.lrLambdas[i](e));
  }
}

/** Each step after the first multiplies the rate by lrLambda(epoch) (one function, or one per group). */
export class MultiplicativeLR extends ChainableLR {
  readonly lrLambdas: LrLambda[];
  constructor(optimizer: Optimizer<object>, lrLambda: LrLambda | LrLambda[], lastEpoch = -1) {
    super(optimizer, lastEpoch);
    this.lrLambdas = lambdas('MultiplicativeLR', optimizer, lrLambda);
    this.init();
  }
  /** PyTorch has no closed form here: step(epoch) applies that epoch's factor to the rates now set. */
  protected lrAt(e: number): number[] {
    return this.nextLr(e, lrsOf(this.optimizer));
  }
  protected stepFactor(e: number, group: number): number {
    return e > 0 ? this.lrLambdas[group](e) : 1;
  }
}
