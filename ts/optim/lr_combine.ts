/**
 * Schedulers driven by a metric or by other schedulers (torch.optim.lr_scheduler):
 * ReduceLROnPlateau, SequentialLR and ChainedScheduler.
 */
import { KilnError } from '../errors';
import type { Optimizer } from './optimizer';
import { groupsOf, lrsOf, bad, perGroup, LRScheduler } from './lr_base';

export interface PlateauOptions {
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  minLr?: number | number[];
  eps?: number;
}

/** Multiplies the rates by `factor` once the metric passed to step(metric) stops improving. */
export class ReduceLROnPlateau {
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private readonly o: Required<Omit<PlateauOptions, 'minLr'>>;
  private readonly minLrs: number[];
  constructor(
    readonly optimizer: Optimizer<object>,
    opts: PlateauOptions = {},
  ) {
    this.o = {
      mode: 'min',
      factor: 0.1,
      patience: 10,
      threshold: 1e-4,
      thresholdMode: 'rel',
      cooldown: 0,
      eps: 1e-8,
      ...opts,
    };
    if (!(this.o.factor < 1 && this.o.factor >= 0)) bad('ReduceLROnPlateau', 'factor', this.o.factor);
    this.minLrs = perGroup('ReduceLROnPlateau', 'minLr', optimizer, opts.minLr ?? 0);
    this.best = this.o.mode === 'min' ? Infinity : -Infinity;
  }
  private better(a: number): boolean {
    const { mode, threshold, thresholdMode } = this.o;
    if (mode === 'min') return thresholdMode === 'rel' ? a < this.best * (1 - threshold) : a < this.best - threshold;
    return thresholdMode === 'rel' ? a > this.best * (1 + threshold) : a > this.best + threshold;
  }
  step(metric: number): void {
    this.lastEpoch += 1;
    if (this.better(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else this.numBadEpochs += 1;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.o.patience) {
      groupsOf(this.optimizer).forEach((g, i) => {
        const next = Math.max(g.lr * this.o.factor, this.minLrs[i]);
        if (g.lr - next > this.o.eps) g.lr = next;
      });
      this.cooldownCounter = this.o.cooldown;
      this.numBadEpochs = 0;
    }
  }
  getLastLr(): number[] {
    return groupsOf(this.optimizer).map((g) => g.lr);
  }
  stateDict(): Record<string, unknown> {
    return {
      best: this.best,
      numBadEpochs: this.numBadEpochs,
      cooldownCounter: this.cooldownCounter,
      lastEpoch: this.lastEpoch,
    };
  }
  loadStateDict(sd: Record<string, unknown>): void {
    Object.assign(this, sd);
    // JSON has no Infinity: a best that went through it as null is "nothing seen yet".
    if (typeof this.best !== 'number') this.best = this.o.mode === 'min' ? Infinity : -Infinity;
  }
}

/** The base of schedulers that drive others: they must share the optimizer; state dicts nest theirs. */
export abstract class SchedulerList extends LRScheduler {
  readonly schedulers: LRScheduler[];
  constructor(name: string, optimizer: Optimizer<object>, schedulers: LRScheduler[], lastEpoch: number) {
    super(optimizer, lastEpoch);
    if (!Array.isArray(schedulers) || schedulers.length === 0)
      throw new KilnError('ERR_ARG', `${name}: needs at least one scheduler`);
    if (schedulers.some((s) => s.optimizer !== optimizer))
      throw new KilnError('ERR_ARG', `${name}: every scheduler must drive the same optimizer`);
    this.schedulers = schedulers.slice();
  }
  protected lrAt(): number[] {
    return this.getLastLr();
  }
  override stateDict(): Record<string, unknown> {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  override loadStateDict(sd: Record<string, unknown>): void {
    const { schedulers, ...rest } = sd;
    if (!Array.isArray(schedulers) || schedulers.length !== this.schedulers.length)
      throw new KilnError(
        'ERR_ARG',
        `${this.constructor.name}.loadStateDict: expected the state of ${this.schedulers.length} schedulers under 'schedulers'`,
      );
    (schedulers as Record<string, unknown>[]).forEach((x, i) => this.schedulers[i].loadStateDict(x));
    super.loadStateDict(rest);
  }
}

/** Runs schedulers one after another, switching at the milestones (SequentialLR). */
export class SequentialLR extends SchedulerList {
  readonly milestones: number[];
  constructor(optimizer: Optimizer<object>, schedulers: LRScheduler[], milestones: number[], lastEpoch = -1) {
    super('SequentialLR', optimizer, schedulers, lastEpoch);
    if (schedulers.length !== milestones.length + 1)
      throw new KilnError(
        'ERR_ARG',
        `SequentialLR: ${schedulers.length} schedulers need ${schedulers.length - 1} milestones, got ${milestones.length}`,
      );
    this.milestones = milestones.slice();
    // Undo the constructors' initial steps of the later schedulers, then start the first (as PyTorch).
    groupsOf(optimizer).forEach((g, i) => (g.lr = g.initialLr ?? this.baseLrs[i]));
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0].step();
    this.lastEpoch = lastEpoch + 1;
    this.lastLr = schedulers[0].getLastLr();
  }
  override step(): void {
    this.lastEpoch += 1;
    const idx = this.milestones.filter((m) => m <= this.lastEpoch).length;
    const s = this.schedulers[idx];
    // A scheduler starts at its milestone from its closed form at epoch 0.
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.step(0);
    else s.step();
    this.lastLr = s.getLastLr();
  }
}

/**
 * Steps several schedulers of one optimizer together (ChainedScheduler): chainable ones multiply
 * their factors into the rate the ones before them set.
 */
export class ChainedScheduler extends SchedulerList {
  constructor(schedulers: LRScheduler[]) {
    if (!Array.isArray(schedulers) || !(schedulers[0] instanceof LRScheduler))
      throw new KilnError('ERR_ARG', 'ChainedScheduler: needs at least one scheduler');
    super('ChainedScheduler', schedulers[0].optimizer, schedulers, -1);
    this.lastEpoch = 0;
    this.lastLr = lrsOf(this.optimizer);
  }
  override step(): void {
    for (const s of this.schedulers) s.step();
    this.lastEpoch += 1;
    this.lastLr = lrsOf(this.optimizer);
  }
}
