/**
 * SGD, Adam, AdamW, Adagrad and RMSprop with PyTorch's options and update rules (torch.optim),
 * each step one fused native pass per parameter group (native/cpu/optim.cpp).
 */
import { KilnError } from '../errors';
import { Optimizer, ParamGroup, ParamsArg } from './optimizer';

const KIND = { sgd: 0, adam: 1, adagrad: 2, rmsprop: 3 };
const flag = (b: boolean | undefined): number => (b ? 1 : 0);

function check(name: string, what: string, v: unknown, ok: (x: number) => boolean): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))
    throw new KilnError('ERR_ARG', `${name}: invalid ${what} ${String(v)}`);
}

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

/** Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay. */
export class SGD extends Optimizer<SGDOptions> {
  protected readonly kind = KIND.sgd;
  protected readonly name = 'SGD';
  constructor(params: ParamsArg<SGDOptions>, opts: Partial<SGDOptions> = {}) {
    super(params, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...opts });
  }
  protected validate(g: ParamGroup<SGDOptions>): void {
    check('SGD', 'lr', g.lr, (x) => x >= 0);
    check('SGD', 'momentum', g.momentum, (x) => x >= 0);
    check('SGD', 'dampening', g.dampening, () => true);
    check('SGD', 'weightDecay', g.weightDecay, (x) => x >= 0);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0))
      throw new KilnError('ERR_ARG', 'SGD: Nesterov momentum requires a momentum and zero dampening');
  }
  protected hyper(g: ParamGroup<SGDOptions>): number[] {
    return [g.lr, g.momentum, g.dampening, g.weightDecay, flag(g.nesterov), flag(g.maximize)];
  }
  protected buffers(g: ParamGroup<SGDOptions>): (string | null)[] {
    return [g.momentum !== 0 ? 'momentum_buffer' : null];
  }
}

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

function validateAdam(name: string, g: ParamGroup<AdamOptions>): void {
  check(name, 'lr', g.lr, (x) => x >= 0);
  check(name, 'eps', g.eps, (x) => x >= 0);
  check(name, 'beta1', g.betas?.[0], (x) => x >= 0 && x < 1);
  check(name, 'beta2', g.betas?.[1], (x) => x >= 0 && x < 1);
  check(name, 'weightDecay', g.weightDecay, (x) => x >= 0);
}

/** Adam (optionally AMSGrad), with L2 weight decay added to the gradient. */
export class Adam extends Optimizer<AdamOptions> {
  protected readonly kind = KIND.adam;
  protected readonly name: string = 'Adam';
  protected readonly decoupled: boolean = false;
  constructor(params: ParamsArg<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, {
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      amsgrad: false,
      maximize: false,
      ...opts,
    });
  }
  protected validate(g: ParamGroup<AdamOptions>): void {
    validateAdam(this.name ?? 'Adam', g);
  }
  protected hyper(g: ParamGroup<AdamOptions>): number[] {
    return [
      g.lr,
      g.betas[0],
      g.betas[1],
      g.eps,
      g.weightDecay,
      flag(g.amsgrad),
      flag(g.maximize),
      flag(this.decoupled),
    ];
  }
  protected buffers(g: ParamGroup<AdamOptions>): (string | null)[] {
    return ['exp_avg', 'exp_avg_sq', g.amsgrad ? 'max_exp_avg_sq' : null];
  }
}

/** Adam with decoupled weight decay (p *= 1 - lr * weightDecay before the Adam step); default weightDecay 0.01. */
export class AdamW extends Adam {
  protected override readonly name: string = 'AdamW';
  protected override readonly decoupled: boolean = true;
  constructor(params: ParamsArg<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 1e-2, ...opts });
  }
}

export interface AdagradOptions {
  lr: number;
  lrDecay: number;
  weightDecay: number;
  initialAccumulatorValue: number;
  eps: number;
  maximize: boolean;
}

/** Adagrad: per-element learning rates from the running sum of squared gradients. */
export class Adagrad extends Optimizer<AdagradOptions> {
  protected readonly kind = KIND.adagrad;
  protected readonly name = 'Adagrad';
  constructor(params: ParamsArg<AdagradOptions>, opts: Partial<AdagradOptions> = {}) {
    super(params, {
      lr: 1e-2,
      lrDecay: 0,
      weightDecay: 0,
      initialAccumulatorValue: 0,
      eps: 1e-10,
      maximize: false,
      ...opts,
    });
  }
  protected validate(g: ParamGroup<AdagradOptions>): void {
    check('Adagrad', 'lr', g.lr, (x) => x >= 0);
    check('Adagrad', 'lrDecay', g.lrDecay, (x) => x >= 0);
    check('Adagrad', 'weightDecay', g.weightDecay, (x) => x >= 0);
    check('Adagrad', 'initialAccumulatorValue', g.initialAccumulatorValue, (x) => x >= 0);
    check('Adagrad', 'eps', g.eps, (x) => x >= 0);
  }
  protected hyper(g: ParamGroup<AdagradOptions>): number[] {
    return [g.lr, g.lrDecay, g.weightDecay, g.eps, flag(g.maximize)];
  }
  protected buffers(): (string | null)[] {
    return ['sum'];
  }
  protected override initialValue(g: ParamGroup<AdagradOptions>): number {
    return g.initialAccumulatorValue;
  }
}

export interface RMSpropOptions {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
  maximize: boolean;
}

/** RMSprop, optionally centered and with momentum. */
export class RMSprop extends Optimizer<RMSpropOptions> {
  protected readonly kind = KIND.rmsprop;
  protected readonly name = 'RMSprop';
  constructor(params: ParamsArg<RMSpropOptions>, opts: Partial<RMSpropOptions> = {}) {
    super(params, {
      lr: 1e-2,
      alpha: 0.99,
      eps: 1e-8,
      weightDecay: 0,
      momentum: 0,
      centered: false,
      maximize: false,
      ...opts,
    });
  }
  protected validate(g: ParamGroup<RMSpropOptions>): void {
    check('RMSprop', 'lr', g.lr, (x) => x >= 0);
    check('RMSprop', 'alpha', g.alpha, (x) => x >= 0);
    check('RMSprop', 'eps', g.eps, (x) => x >= 0);
    check('RMSprop', 'weightDecay', g.weightDecay, (x) => x >= 0);
    check('RMSprop', 'momentum', g.momentum, (x) => x >= 0);
  }
  protected hyper(g: ParamGroup<RMSpropOptions>): number[] {
    return [g.lr, g.alpha, g.eps, g.weightDecay, g.momentum, flag(g.centered), flag(g.maximize)];
  }
  protected buffers(g: ParamGroup<RMSpropOptions>): (string | null)[] {
    return ['square_avg', g.momentum > 0 ? 'momentum_buffer' : null, g.centered ? 'grad_avg' : null];
  }
}
