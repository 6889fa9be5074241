/**
 * Cyclical schedulers (torch.optim.lr_scheduler): CosineAnnealingWarmRestarts, OneCycleLR and
 * CyclicLR; OneCycleLR and CyclicLR cycle momentum (or Adam's beta1) against the rate.
 */
import { KilnError } from '../errors';
import type { Optimizer } from './optimizer';
import { groupsOf, bad, perGroup, setMomentum, needMomentum, LRScheduler } from './lr_base';

/**
 * Cosine annealing with warm restarts (SGDR): lr = etaMin + (base - etaMin) (1 + cos(pi TCur / Ti)) / 2,
 * where TCur counts the epochs since the last restart and the period Ti starts at T0 and is multiplied
 * by TMult at each restart. step(epoch) takes a fractional epoch (epoch + batch / batches).
 */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  /** The current period (PyTorch's T_i). */
  Ti: number;
  /** Epochs since the last restart, possibly fractional (PyTorch's T_cur). */
  TCur: number;
  constructor(
    optimizer: Optimizer<object>,
    readonly T0: number,
    readonly TMult = 1,
    readonly etaMin = 0,
    lastEpoch = -1,
  ) {
    super(optimizer, lastEpoch);
    if (!Number.isInteger(T0) || T0 < 1) bad('CosineAnnealingWarmRestarts', 'T0', T0);
    if (!Number.isInteger(TMult) || TMult < 1) bad('CosineAnnealingWarmRestarts', 'TMult', TMult);
    this.Ti = T0;
    this.TCur = lastEpoch;
    this.init();
  }
  protected lrAt(): number[] {
    const c = 1 + Math.cos((Math.PI * this.TCur) / this.Ti);
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * c) / 2);
  }
  /** Advances one step, or goes to `epoch` (fractional allowed, as PyTorch's). */
  override step(epoch?: number): void {
    this.stepCount += 1;
    if (epoch === undefined && this.lastEpoch < 0) epoch = 0;
    if (epoch === undefined) {
      epoch = this.lastEpoch + 1;
      this.TCur += 1;
      if (this.TCur >= this.Ti) {
        this.TCur -= this.Ti;
        this.Ti *= this.TMult;
      }
    } else {
      if (!(Number.isFinite(epoch) && epoch >= 0)) bad('CosineAnnealingWarmRestarts', 'epoch', epoch);
      const { T0, TMult } = this;
      if (epoch < T0) {
        this.Ti = T0;
        this.TCur = epoch;
      } else if (TMult === 1) this.TCur = epoch % T0;
      else {
        // The restart epochs are T0 (TMult^n - 1) / (TMult - 1); PyTorch takes n from a float log.
        const n = Math.trunc(Math.log((epoch / T0) * (TMult - 1) + 1) / Math.log(TMult));
        this.TCur = epoch - (T0 * (TMult ** n - 1)) / (TMult - 1);
        this.Ti = T0 * TMult ** n;
      }
    }
    this.lastEpoch = Math.floor(epoch);
    this.apply(this.lrAt());
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
    const maxLrs = perGroup('OneCycleLR', 'maxLr', optimizer, maxLr);
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
    if (o.cycleMomentum) needMomentum('OneCycleLR', optimizer);
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
    if (this.o.cycleMomentum) for (const g of groupsOf(this.optimizer)) setMomentum(g, m);
    return this.maxLrs.map((x) => x * f);
  }
}

export interface CyclicOptions {
  /** Steps from baseLr up to maxLr (default 2000). */
  stepSizeUp?: number;
  /** Steps back down (default stepSizeUp). */
  stepSizeDown?: number;
  /** How the amplitude shrinks: not at all, halving each cycle, or gamma ^ step (default 'triangular'). */
  mode?: 'triangular' | 'triangular2' | 'expRange';
  gamma?: number;
  /** A custom amplitude scale in [0, 1] (replaces mode), of the cycle number or of the step (scaleMode). */
  scaleFn?: (x: number) => number;
  scaleMode?: 'cycle' | 'iterations';
  /** Cycle momentum (or Adam's beta1) inversely to the rate (default true, as PyTorch). */
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
}

/**
 * The cyclical learning-rate policy (CyclicLR): the rate goes from baseLr to maxLr in stepSizeUp steps
 * and back in stepSizeDown, the amplitude scaled by the mode or scaleFn; momentum cycles the other way
 * (beta1 for Adam-like optimizers, as newer PyTorch). Step it once per batch.
 */
export class CyclicLR extends LRScheduler {
  readonly maxLrs: number[];
  readonly totalSize: number;
  readonly stepRatio: number;
  readonly mode: 'triangular' | 'triangular2' | 'expRange';
  readonly gamma: number;
  readonly scaleMode: 'cycle' | 'iterations';
  readonly cycleMomentum: boolean;
  readonly baseMomentums: number[];
  readonly maxMomentums: number[];
  private readonly scaleFn?: (x: number) => number;
  constructor(
    optimizer: Optimizer<object>,
    baseLr: number | number[],
    maxLr: number | number[],
    opts: CyclicOptions = {},
    lastEpoch = -1,
  ) {
    const baseLrs = perGroup('CyclicLR', 'baseLr', optimizer, baseLr);
    if (lastEpoch === -1) groupsOf(optimizer).forEach((g, i) => (g.lr = baseLrs[i]));
    super(optimizer, lastEpoch);
    this.maxLrs = perGroup('CyclicLR', 'maxLr', optimizer, maxLr);
    const up = opts.stepSizeUp ?? 2000,
      down = opts.stepSizeDown ?? up;
    if (!(Number.isFinite(up) && up > 0)) bad('CyclicLR', 'stepSizeUp', up);
    if (!(Number.isFinite(down) && down >= 0)) bad('CyclicLR', 'stepSizeDown', down);
    this.totalSize = up + down;
    this.stepRatio = up / this.totalSize;
    this.mode = opts.mode ?? 'triangular';
    this.gamma = opts.gamma ?? 1;
    if (opts.scaleFn !== undefined) {
      if (typeof opts.scaleFn !== 'function') bad('CyclicLR', 'scaleFn', opts.scaleFn);
      this.scaleFn = opts.scaleFn;
      this.scaleMode = opts.scaleMode ?? 'cycle';
      if (this.scaleMode !== 'cycle' && this.scaleMode !== 'iterations') bad('CyclicLR', 'scaleMode', this.scaleMode);
    } else if (this.mode === 'triangular' || this.mode === 'triangular2' || this.mode === 'expRange')
      this.scaleMode = this.mode === 'expRange' ? 'iterations' : 'cycle';
    else bad('CyclicLR', "mode (want 'triangular', 'triangular2' or 'expRange')", this.mode);
    this.cycleMomentum = opts.cycleMomentum ?? true;
    if (this.cycleMomentum) needMomentum('CyclicLR', optimizer);
    this.baseMomentums = perGroup('CyclicLR', 'baseMomentum', optimizer, opts.baseMomentum ?? 0.8);
    this.maxMomentums = perGroup('CyclicLR', 'maxMomentum', optimizer, opts.maxMomentum ?? 0.9);
    this.init();
    // As PyTorch: the initial step used the groups' initialLr; baseLr takes over from the next step.
    (this as { baseLrs: number[] }).baseLrs = baseLrs;
  }
  private scale(x: number): number {
    if (this.scaleFn) return this.scaleFn(x);
    if (this.mode === 'triangular2') return 1 / 2 ** (x - 1);
    return this.mode === 'expRange' ? this.gamma ** x : 1;
  }
  protected lrAt(e: number): number[] {
    const cycle = Math.floor(1 + e / this.totalSize);
    const x = 1 + e / this.totalSize - cycle;
    const f = x <= this.stepRatio ? x / this.stepRatio : (x - 1) / (this.stepRatio - 1);
    const s = this.scale(this.scaleMode === 'cycle' ? cycle : e);
    if (this.cycleMomentum)
      groupsOf(this.optimizer).forEach((g, i) =>
        setMomentum(g, this.maxMomentums[i] - (this.maxMomentums[i] - this.baseMomentums[i]) * f * s),
      );
    return this.baseLrs.map((b, i) => b + (this.maxLrs[i] - b) * f * s);
  }
}
