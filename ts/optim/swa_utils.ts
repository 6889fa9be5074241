/**
 * Stochastic weight averaging and EMA of weights (torch.optim.swa_utils): AveragedModel keeps a
 * deep copy of a model whose parameters (and optionally buffers) are a running average of the
 * model's; SWALR anneals the learning rate to a constant; updateBn recomputes BatchNorm running
 * statistics of the averaged weights with one pass over the data. The averaging functions follow
 * torch 2.x (get_ema_multi_avg_fn and friends) and take the count as a number.
 */
import { noGrad } from '../autograd/grad_mode';
import { zeros } from '../creation';
import { isFloating } from '../dtype';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { Module } from '../nn/module';
import { BatchNormBase } from '../nn/layers/norm';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { bad, groupsOf, LRScheduler, perGroup } from './lr_base';
import type { Optimizer } from './optimizer';

/** Returns the new average of one tensor from the average, the model's value and how many were averaged. */
export type AvgFn = (averaged: Tensor, current: Tensor, numAveraged: number) => Tensor;
/** Updates every averaged tensor of one device and dtype in place (torch's multi_avg_fn). */
export type MultiAvgFn = (averaged: Tensor[], current: Tensor[], numAveraged: number) => void;

function checkDecay(name: string, decay: number): void {
  if (typeof decay !== 'number' || !(decay >= 0 && decay <= 1)) bad(name, 'decay', decay);
}

/** `a + (b - a) w` written into a, in a's dtype (integer buffers round toward zero, as torch's copy_). */
function lerpInto(a: Tensor, b: Tensor, w: number): void {
  if (isFloating(a.dtype)) a.copy_(a.add(b.sub(a).mul(w)));
  else {
    const af = a.to('float64');
    a.copy_(af.add(b.to('float64').sub(af).mul(w)));
  }
}

/** Equal-weight running average: averaged + (current - averaged) / (numAveraged + 1) (torch's get_swa_avg_fn). */
export function getSwaAvgFn(): AvgFn {
  return (a, c, n) => {
    if (isFloating(a.dtype)) return a.add(c.sub(a).div(n + 1));
    const af = a.to('float64');
    return af.add(
      c
        .to('float64')
        .sub(af)
        .div(n + 1),
    );
  };
}

/** The equal-weight average over lists, in place (torch's get_swa_multi_avg_fn); AveragedModel's default. */
export function getSwaMultiAvgFn(): MultiAvgFn {
  return (as, cs, n) => noGrad(() => scope(() => as.forEach((a, i) => lerpInto(a, cs[i], 1 / (n + 1)))));
}

/**
 * Exponential moving average: decay * averaged + (1 - decay) * current (torch's get_ema_avg_fn).
 * @example
 * const ema = new optim.swaUtils.AveragedModel(model, { avgFn: optim.swaUtils.getEmaAvgFn(0.999) });
 */
export function getEmaAvgFn(decay = 0.999): AvgFn {
  checkDecay('getEmaAvgFn', decay);
  return (a, c) => {
    const [af, cf] = isFloating(a.dtype) ? [a, c] : [a.to('float64'), c.to('float64')];
    return af.mul(decay).add(cf.mul(1 - decay));
  };
}

/**
 * The exponential moving average over lists, in place: averaged += (1 - decay)(current - averaged)
 * (torch's get_ema_multi_avg_fn).
 * @example
 * const ema = new optim.swaUtils.AveragedModel(model, { multiAvgFn: optim.swaUtils.getEmaMultiAvgFn(0.999) });
 * // after each optimizer step: ema.updateParameters(model)
 */
export function getEmaMultiAvgFn(decay = 0.999): MultiAvgFn {
  checkDecay('getEmaMultiAvgFn', decay);
  return (as, cs) => noGrad(() => scope(() => as.forEach((a, i) => lerpInto(a, cs[i], 1 - decay))));
}

export interface AveragedModelOptions {
  /** Where the averaged copy lives (default: where the model is). */
  device?: string;
  /** The averaging function of one tensor; default the equal-weight average. */
  avgFn?: AvgFn;
  /** The averaging function over lists, in place; used in preference to avgFn. */
  multiAvgFn?: MultiAvgFn;
  /** Average the buffers too (default false: they are copied from the model at each update). */
  useBuffers?: boolean;
}

/**
 * A running average of a model's weights (torch.optim.swa_utils.AveragedModel): a deep copy of
 * `model`, whose parameters updateParameters(model) moves toward the model's. The first update
 * copies the model; later ones call multiAvgFn (grouped by device and dtype), else avgFn, else the
 * equal-weight average. forward() runs the averaged copy. State-dict keys are torch's
 * (`n_averaged`, `module.*`); the functions are not saved.
 * @example
 * const swa = new optim.swaUtils.AveragedModel(model);
 * for (let epoch = 0; epoch < 20; epoch++) { train(model); if (epoch >= 10) swa.updateParameters(model); }
 * optim.swaUtils.updateBn(loader, swa);
 */
export class AveragedModel<M extends Module = Module> extends Module {
  readonly module: M;
  declare nAveraged: Tensor;
  readonly avgFn: AvgFn | null;
  readonly multiAvgFn: MultiAvgFn | null;
  readonly useBuffers: boolean;

  constructor(model: M, opts: AveragedModelOptions = {}) {
    super();
    if (!(model instanceof Module)) throw new KilnError('ERR_ARG', 'AveragedModel: model must be an nn.Module');
    if (opts.avgFn !== undefined && opts.avgFn !== null && typeof opts.avgFn !== 'function')
      bad('AveragedModel', 'avgFn', opts.avgFn);
    if (opts.multiAvgFn !== undefined && opts.multiAvgFn !== null && typeof opts.multiAvgFn !== 'function')
      bad('AveragedModel', 'multiAvgFn', opts.multiAvgFn);
    let copy = model.clone();
    if (opts.device !== undefined) copy = copy.to(opts.device);
    this.module = copy;
    this.registerBuffer('nAveraged', zeros([], { dtype: 'int64', device: opts.device }));
    this.avgFn = opts.avgFn ?? null;
    this.multiAvgFn = opts.multiAvgFn ?? null;
    this.useBuffers = opts.useBuffers ?? false;
  }

  /** Runs the averaged copy. */
  forward(...args: Parameters<M['forward']>): ReturnType<M['forward']> {
    return (this.module.forward as (...a: unknown[]) => ReturnType<M['forward']>)(...args);
  }

  /** Moves the average one step toward `model`'s parameters (and buffers with useBuffers). */
  updateParameters(model: M): void {
    if (!(model instanceof Module))
      throw new KilnError('ERR_ARG', 'AveragedModel.updateParameters: model must be an nn.Module');
    const mine = this.useBuffers ? [...this.module.parameters(), ...this.module.buffers()] : this.parameters();
    const theirs = this.useBuffers ? [...model.parameters(), ...model.buffers()] : model.parameters();
    pairUp('updateParameters', mine, theirs);
    const n = Number(this.nAveraged.item());
    noGrad(() =>
      scope(() => {
        const current = theirs.map((t, i) => t.detach().to(mine[i].device));
        const averaged = mine.map((t) => t.detach());
        if (n === 0) averaged.forEach((a, i) => a.copy_(current[i]));
        else if (this.multiAvgFn || !this.avgFn) {
          const multi = this.multiAvgFn ?? getSwaMultiAvgFn();
          const groups = new Map<string, [Tensor[], Tensor[]]>();
          averaged.forEach((a, i) => {
            const key = `${a.device} ${a.dtype}`;
            const g = groups.get(key) ?? groups.set(key, [[], []]).get(key)!;
            g[0].push(a);
            g[1].push(current[i]);
          });
          for (const [as, cs] of groups.values()) multi(as, cs, n);
        } else averaged.forEach((a, i) => a.copy_(this.avgFn!(a, current[i], n)));
        if (!this.useBuffers) {
          // As torch 2.x: buffers that are not averaged follow the model.
          const bs = this.module.buffers(),
            ms = model.buffers();
          pairUp('updateParameters (buffers)', bs, ms);
          bs.forEach((b, i) => b.copy_(ms[i].detach().to(b.device)));
        }
        this.nAveraged.add_(1);
      }),
    );
  }

  override extraRepr(): string {
    return `useBuffers=${this.useBuffers}`;
  }
}

function pairUp(what: string, mine: Tensor[], theirs: Tensor[]): void {
  if (mine.length !== theirs.length)
    throw new KilnError(
      'ERR_ARG',
      `AveragedModel.${what}: the averaged model has ${mine.length} tensors, the model ${theirs.length}`,
    );
  mine.forEach((t, i) => {
    if (t.shape.join() !== theirs[i].shape.join())
      throw new KilnError(
        'ERR_SHAPE',
        `AveragedModel.${what}: tensor ${i} is ${shapeStr(t.shape)} here, ${shapeStr(theirs[i].shape)} in the model`,
      );
  });
}

type BN = {
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked: Tensor | null;
  momentum: number | null;
};

/**
 * Recomputes the running statistics of every BatchNorm layer of `model` with one pass over
 * `loader` (torch.optim.swa_utils.update_bn): the statistics are reset, each layer's momentum is
 * set to null (a cumulative average over the batches) and restored afterwards, and the model's
 * train/eval mode is restored. A batch is a tensor, or an array whose first element is the input.
 * Each batch runs inside its own kiln.scope().
 * @example
 * optim.swaUtils.updateBn(trainLoader, swaModel);
 */
export function updateBn(loader: Iterable<unknown>, model: Module, opts: { device?: string } = {}): void {
  if (!(model instanceof Module)) throw new KilnError('ERR_ARG', 'updateBn: model must be an nn.Module');
  if (loader === null || typeof (loader as Iterable<unknown>)[Symbol.iterator] !== 'function')
    throw new KilnError('ERR_ARG', 'updateBn: loader must be an iterable of batches');
  const momenta = new Map<BN, number | null>();
  for (const m of model.modules())
    if (m instanceof BatchNormBase) {
      const bn = m as unknown as BN;
      noGrad(() => {
        bn.runningMean?.zero_();
        bn.runningVar?.fill_(1);
        bn.numBatchesTracked?.zero_();
      });
      momenta.set(bn, bn.momentum);
    }
  if (momenta.size === 0) return;
  const wasTraining = model.training;
  model.train();
  for (const bn of momenta.keys()) bn.momentum = null;
  try {
    const it = loader[Symbol.iterator]();
    for (;;) {
      // The batch is made inside the scope, so its tensors go with the forward's temporaries.
      const done = scope(() =>
        noGrad(() => {
          const r = it.next();
          if (r.done) return true;
          let input = Array.isArray(r.value) ? r.value[0] : r.value;
          if (!(input instanceof Tensor))
            throw new KilnError('ERR_ARG', 'updateBn: a batch must be a tensor or an array starting with one');
          if (opts.device !== undefined) input = input.to(opts.device as never);
          model.forward(input);
          return false;
        }),
      );
      if (done) break;
    }
  } finally {
    for (const [bn, m] of momenta) bn.momentum = m;
    model.train(wasTraining);
  }
}

export interface SWALROptions {
  /** Epochs of the annealing phase (default 10; 0 jumps to swaLr). */
  annealEpochs?: number;
  /** 'cos' (default) or 'linear'. */
  annealStrategy?: 'cos' | 'linear';
}

/**
 * Anneals each group's learning rate to `swaLr` over annealEpochs steps, then holds it
 * (torch.optim.swa_utils.SWALR). Like torch, each step anneals from the rate now set, so it can
 * take over from another scheduler; swaLr is stored in the param groups.
 * @example
 * const swaSched = new optim.swaUtils.SWALR(opt, 0.05, { annealEpochs: 5, annealStrategy: 'linear' });
 */
export class SWALR extends LRScheduler {
  readonly annealEpochs: number;
  readonly annealStrategy: 'cos' | 'linear';

  constructor(optimizer: Optimizer<object>, swaLr: number | number[], opts: SWALROptions = {}, lastEpoch = -1) {
    const lrs = perGroup('SWALR', 'swaLr', optimizer, swaLr);
    for (const v of lrs) if (typeof v !== 'number' || !(v >= 0)) bad('SWALR', 'swaLr', v);
    const strategy = opts.annealStrategy ?? 'cos';
    if (strategy !== 'cos' && strategy !== 'linear') bad('SWALR', "annealStrategy (want 'cos' or 'linear')", strategy);
    const epochs = opts.annealEpochs ?? 10;
    if (!Number.isInteger(epochs) || epochs < 0) bad('SWALR', 'annealEpochs', epochs);
    super(optimizer, lastEpoch);
    groupsOf(optimizer).forEach((g, i) => ((g as { swaLr?: number }).swaLr = lrs[i]));
    this.annealEpochs = epochs;
    this.annealStrategy = strategy;
    this.init();
  }

  private anneal(t: number): number {
    return this.annealStrategy === 'linear' ? t : (1 - Math.cos(Math.PI * t)) / 2;
  }

  /** torch has no closed form: step(epoch) anneals from the rates now set, as step() does. */
  protected lrAt(_e: number): number[] {
    return this.nextLr(
      _e,
      groupsOf(this.optimizer).map((g) => g.lr),
    );
  }

  protected override nextLr(_e: number, lrs: number[]): number[] {
    const n = this.annealEpochs;
    const step = n === 0 ? Math.max(1, this.stepCount - 1) : this.stepCount - 1;
    const prevAlpha = this.anneal(Math.max(0, Math.min(1, (step - 1) / Math.max(1, n))));
    const alpha = this.anneal(Math.max(0, Math.min(1, step / Math.max(1, n))));
    return groupsOf(this.optimizer).map((g, i) => {
      const swa = (g as { swaLr?: number }).swaLr!;
      // The rate before annealing began, recovered from the rate now set (torch's _get_initial_lr).
      const start = prevAlpha === 1 ? swa : (lrs[i] - prevAlpha * swa) / (1 - prevAlpha);
      return swa * alpha + start * (1 - alpha);
    });
  }
}
