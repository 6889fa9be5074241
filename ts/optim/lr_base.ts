/**
 * The base classes of the learning-rate schedulers (LRScheduler, ChainableLR) and the helpers the
 * scheduler files share; lr_scheduler.ts gathers the schedulers into kiln.optim.lrScheduler.
 */
import { KilnError } from '../errors';
import type { Optimizer } from './optimizer';

export type Group = { lr: number; initialLr?: number; momentum?: number; betas?: [number, number] };
export const groupsOf = (o: Optimizer<object>): Group[] => o.paramGroups as unknown as Group[];
export const lrsOf = (o: Optimizer<object>): number[] => groupsOf(o).map((g) => g.lr);

export function bad(name: string, what: string, v: unknown): never {
  throw new KilnError(
    'ERR_ARG',
    `${name}: invalid ${what} ${typeof v === 'function' ? 'function' : JSON.stringify(v)}`,
  );
}

/** One value per param group: a list of that length, or one value for all (PyTorch's _format_param). */
export function perGroup<T>(name: string, what: string, o: Optimizer<object>, v: T | T[]): T[] {
  const n = groupsOf(o).length;
  if (!Array.isArray(v)) return new Array<T>(n).fill(v);
  if (v.length !== n) throw new KilnError('ERR_ARG', `${name}: expected ${n} values for ${what}, got ${v.length}`);
  return v.slice();
}

/** Sets SGD/RMSprop's momentum, or Adam's beta1, as PyTorch's cycling schedulers do. */
export function setMomentum(g: Group, m: number): void {
  if (g.betas) g.betas = [m, g.betas[1]];
  else g.momentum = m;
}

/** PyTorch's check before cycling momentum: every group has a momentum (SGD, RMSprop) or betas (Adam). */
export function needMomentum(name: string, o: Optimizer<object>): void {
  if (groupsOf(o).some((g) => g.momentum === undefined && g.betas === undefined))
    throw new KilnError('ERR_ARG', `${name}: cycleMomentum needs an optimizer with momentum or betas`);
}

/** What a state dict leaves out: functions (lambdas, scale functions) and the schedulers a scheduler drives. */
export const transient = (v: unknown): boolean =>
  typeof v === 'function' || v instanceof LRScheduler || (Array.isArray(v) && v.some(transient));

/** The base of the epoch-driven schedulers (PyTorch's LRScheduler): base rates, lastEpoch, state dicts. */
export abstract class LRScheduler {
  lastEpoch: number;
  readonly baseLrs: number[];
  protected lastLr: number[] = [];
  /** step() calls since construction (PyTorch's _step_count; CosineAnnealingLR's resume reads it). */
  protected stepCount = 0;

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
    this.stepCount = 0;
    this.step();
  }

  /** The rate of each group at `epoch` from the base rates (PyTorch's closed form). */
  protected abstract lrAt(epoch: number): number[];

  /** The rates step() sets at `epoch`, given the rates `lrs` now set (PyTorch's get_lr); closed unless overridden. */
  protected nextLr(epoch: number, _lrs: number[]): number[] {
    return this.lrAt(epoch);
  }

  /**
   * Advances one step and sets each group's lr. With `epoch`, jumps there and uses the closed form
   * (PyTorch's deprecated step(epoch); SequentialLR restarts a scheduler with step(0)).
   */
  step(epoch?: number): void {
    this.stepCount += 1;
    if (epoch === undefined) {
      this.lastEpoch += 1;
      this.apply(this.nextLr(this.lastEpoch, lrsOf(this.optimizer)));
      return;
    }
    if (!(Number.isFinite(epoch) && epoch >= 0)) bad(this.constructor.name, 'epoch', epoch);
    this.lastEpoch = epoch;
    this.apply(this.lrAt(epoch));
  }

  protected apply(lrs: number[]): void {
    groupsOf(this.optimizer).forEach((g, i) => (g.lr = lrs[i]));
    this.lastLr = lrs.slice();
  }

  /** The rates the last step() set. */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  /** Everything but the optimizer, functions and driven schedulers; JSON-safe. */
  stateDict(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this)) if (k !== 'optimizer' && !transient(v)) out[k] = structuredClone(v);
    return out;
  }
  /**
   * Restores a stateDict(), and the rates it last set: chained forms step from the rates now set, so
   * resuming does not depend on loading the optimizer's state first (PyTorch needs both).
   */
  loadStateDict(sd: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(sd))
      if (k !== 'optimizer') (this as unknown as Record<string, unknown>)[k] = structuredClone(v);
    if (this.lastLr.length === groupsOf(this.optimizer).length) this.apply(this.lastLr);
  }
}

/** A scheduler whose step multiplies each rate now set by a factor (PyTorch's chainable form). */
export abstract class ChainableLR extends LRScheduler {
  /** The factor step() multiplies group `group`'s rate by at `epoch`. */
  protected abstract stepFactor(epoch: number, group: number): number;
  protected override nextLr(e: number, lrs: number[]): number[] {
    return lrs.map((lr, i) => lr * this.stepFactor(e, i));
  }
}
