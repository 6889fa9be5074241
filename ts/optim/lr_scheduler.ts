/**
 * Learning-rate schedulers (torch.optim.lr_scheduler) with PyTorch's names, options and step
 * semantics: constructing one sets the epoch-0 rate; each step() advances one epoch (or batch).
 * Rates come from closed forms of the base rate and the step count, so they never drift.
 */
import { KilnError } from '../errors';
import type { Optimizer } from './optimizer';

type Group = { lr: number; initialLr?: number; momentum?: number; betas?: [number, number] };
const groupsOf = (o: Optimizer<object>): Group[] => o.paramGroups as unknown as Group[];

function bad(name: string, what: string, v: unknown): never {
  throw new KilnError('ERR_ARG', `${name}: invalid ${what} ${JSON.stringify(v)}`);
}

export abstract class LRScheduler {
  lastEpoch: number;
  readonly baseLrs: number[];
  protected lastLr: number[] = [];

  constructor(
    readonly optimizer: Optimizer<object>,
    lastEpoch = -1,
  ) {
    const groups = groupsOf(optimizer);
    // As PyTorch's setdefault: the first scheduler on an optimizer fixes the base rates.
    if (lastEpoch === -1) for (const g of groups) g.initialLr ??= g.lr;
    else if (groups.some((g) => g.initialLr === undefined))
      throw new KilnError('ERR_ARG', 'scheduler: lastEpoch was given but a param group has no initialLr');
    this.baseLrs = groups.map((g) => g.initialLr!);
    this.lastEpoch = lastEpoch;
  }

  /** Call at the end of the subclass constructor (PyTorch's initial step). */
  protected init(): void {
    this.step();
  }

  /** The rate of each group at `epoch`. */
  protected abstract lrAt(epoch: number): number[];

  /** Advances one step and sets each group's lr. */
  step(): void {
    this.lastEpoch += 1;
    this.apply(this.lrAt(this.lastEpoch));
  }

  protected apply(lrs: number[]): void {
    groupsOf(this.optimizer).forEach((g, i) => (g.lr = lrs[i]));
    this.lastLr = lrs.slice();
  }

  /** The rates the last step() set. */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  stateDict(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this))
      if (k !== 'optimizer' && !(v instanceof LRScheduler)) out[k] = structuredClone(v);
    return out;
  }
  loadStateDict(sd: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(sd))
      if (k !== 'optimizer') (this as unknown as Record<string, unknown>)[k] = structuredClone(v);
  }
}

/** lr = base * gamma ^ floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
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
}

/** lr = base * gamma ^ (number of milestones <= epoch). */
export class MultiStepLR extends LRScheduler {
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
}

/** lr = base * gamma ^ epoch. */
export class ExponentialLR extends LRScheduler {
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
}

/** lr = etaMin + (base - etaMin) (1 + cos(pi epoch / TMax)) / 2. */
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
}

/** lr = base * (startFactor + (endFactor - startFactor) min(epoch, totalIters) / totalIters): warm-up. */
export class LinearLR extends LRScheduler {
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
}

export interface OneCycleOptions {
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
}

/**
 * The 1cycle policy (OneCycleLR): from maxLr / divFactor up to maxLr over pctStart of the steps,
 * then down to that / finalDivFactor; momentum (or Adam's beta1) cycles the other way. Step it
 * once per batch.
 */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  private readonly phases: { end: number; lr: [number, number]; mom: [number, number] }[];
  private readonly o: Required<Omit<OneCycleOptions, 'totalSteps' | 'epochs' | 'stepsPerEpoch'>>;
  private readonly maxLrs: number[];
  constructor(optimizer: Optimizer<object>, maxLr: number | number[], opts: OneCycleOptions = {}, lastEpoch = -1) {
    const groups = groupsOf(optimizer);
    const maxLrs = Array.isArray(maxLr) ? maxLr : groups.map(() => maxLr);
    const o = {
      pctStart: 0.3,
      annealStrategy: 'cos' as const,
      cycleMomentum: true,
      baseMomentum: 0.85,
      maxMomentum: 0.95,
      divFactor: 25,
      finalDivFactor: 1e4,
      threePhase: false,
      ...opts,
    };
    // PyTorch sets initial_lr = max_lr / div_factor before the base class reads it.
    if (lastEpoch === -1) groups.forEach((g, i) => (g.lr = g.initialLr = maxLrs[i] / o.divFactor));
    super(optimizer, lastEpoch);
    this.maxLrs = maxLrs;
    this.o = o;
    const total = opts.totalSteps ?? (opts.epochs && opts.stepsPerEpoch ? opts.epochs * opts.stepsPerEpoch : NaN);
    if (!Number.isInteger(total) || total < 1)
      bad('OneCycleLR', 'totalSteps (or epochs x stepsPerEpoch)', opts.totalSteps);
    if (!(o.pctStart >= 0 && o.pctStart <= 1)) bad('OneCycleLR', 'pctStart', o.pctStart);
    if (o.annealStrategy !== 'cos' && o.annealStrategy !== 'linear')
      bad('OneCycleLR', 'annealStrategy', o.annealStrategy);
    if (o.cycleMomentum && groups.some((g) => g.momentum === undefined && g.betas === undefined))
      throw new KilnError('ERR_ARG', 'OneCycleLR: cycleMomentum needs an optimizer with momentum or betas');
    this.totalSteps = total;
    const up = o.pctStart * total - 1;
    this.phases = o.threePhase
      ? [
          { end: up, lr: [1 / o.divFactor, 1], mom: [o.maxMomentum, o.baseMomentum] },
          { end: 2 * o.pctStart * total - 2, lr: [1, 1 / o.divFactor], mom: [o.baseMomentum, o.maxMomentum] },
          {
            end: total - 1,
            lr: [1 / o.divFactor, 1 / (o.divFactor * o.finalDivFactor)],
            mom: [o.maxMomentum, o.maxMomentum],
          },
        ]
      : [
          { end: up, lr: [1 / o.divFactor, 1], mom: [o.maxMomentum, o.baseMomentum] },
          { end: total - 1, lr: [1, 1 / (o.divFactor * o.finalDivFactor)], mom: [o.baseMomentum, o.maxMomentum] },
        ];
    this.init();
  }
  private anneal(a: number, b: number, pct: number): number {
    return this.o.annealStrategy === 'cos' ? b + ((a - b) / 2) * (1 + Math.cos(Math.PI * pct)) : (b - a) * pct + a;
  }
  /** [lr factor of maxLr, momentum] at step e. */
  private at(e: number): [number, number] {
    let start = 0;
    for (let i = 0; i < this.phases.length; i++) {
      const ph = this.phases[i];
      if (e <= ph.end || i === this.phases.length - 1) {
        const pct = (e - start) / (ph.end - start);
        return [this.anneal(ph.lr[0], ph.lr[1], pct), this.anneal(ph.mom[0], ph.mom[1], pct)];
      }
      start = ph.end;
    }
    return [0, 0];
  }
  protected lrAt(e: number): number[] {
    if (e > this.totalSteps)
      throw new KilnError('ERR_ARG', `OneCycleLR: stepped ${e} times, more than totalSteps ${this.totalSteps}`);
    const [f, m] = this.at(e);
    if (this.o.cycleMomentum)
      for (const g of groupsOf(this.optimizer)) {
        if (g.betas) g.betas = [m, g.betas[1]];
        else g.momentum = m;
      }
    return this.maxLrs.map((x) => x * f);
  }
}

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
    const n = groupsOf(optimizer).length;
    this.minLrs = Array.isArray(opts.minLr) ? opts.minLr : new Array(n).fill(opts.minLr ?? 0);
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

/** Runs schedulers one after another, switching at the milestones (SequentialLR). */
export class SequentialLR extends LRScheduler {
  readonly schedulers: LRScheduler[];
  readonly milestones: number[];
  constructor(optimizer: Optimizer<object>, schedulers: LRScheduler[], milestones: number[], lastEpoch = -1) {
    super(optimizer, lastEpoch);
    if (schedulers.length !== milestones.length + 1)
      throw new KilnError(
        'ERR_ARG',
        `SequentialLR: ${schedulers.length} schedulers need ${schedulers.length - 1} milestones, got ${milestones.length}`,
      );
    if (schedulers.some((s) => s.optimizer !== optimizer))
      throw new KilnError('ERR_ARG', 'SequentialLR: every scheduler must drive the same optimizer');
    this.schedulers = schedulers;
    this.milestones = milestones;
    // Undo the constructors' initial steps of the later schedulers, then start the first (as PyTorch).
    groupsOf(optimizer).forEach((g, i) => (g.lr = g.initialLr ?? this.baseLrs[i]));
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0].step();
    this.lastEpoch = 0;
    this.lastLr = schedulers[0].getLastLr();
  }
  protected lrAt(): number[] {
    return this.getLastLr();
  }
  override step(): void {
    this.lastEpoch += 1;
    const idx = this.milestones.filter((m) => m <= this.lastEpoch).length;
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) {
      s.lastEpoch = -1;
      s.step();
    } else s.step();
    this.lastLr = s.getLastLr();
  }
  override stateDict(): Record<string, unknown> {
    return { lastEpoch: this.lastEpoch, lastLr: this.lastLr, schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  override loadStateDict(sd: Record<string, unknown>): void {
    this.lastEpoch = sd.lastEpoch as number;
    this.lastLr = (sd.lastLr as number[]).slice();
    (sd.schedulers as Record<string, unknown>[]).forEach((x, i) => this.schedulers[i].loadStateDict(x));
  }
}
