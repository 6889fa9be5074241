/**
 * The base of kiln.distributions (torch.distributions.Distribution): shapes, argument
 * validation and the sample/rsample split. Families are composed from kiln's tensor ops, so
 * rsample, logProb and entropy are differentiable wherever the ops are.
 */
import { noGrad } from '../autograd/grad_mode';
import { scope } from '../memory';
import { tensor } from '../creation';
import type { DType } from '../dtype';
import { isFloating, promoteTypes } from '../dtype';
import { KilnError } from '../errors';
import type { Generator } from '../ops/random';
import { broadcastShapes, checkShape, shapeStr } from '../shape';
import { Tensor } from '../tensor';

/** A distribution parameter: a tensor or a plain number (float32, like torch's default dtype). */
export type Param = Tensor | number;

/** Options every family takes (torch's validate_args). */
export interface DistributionOptions {
  /** Check parameters at construction and values in logProb (default: Distribution.defaultValidateArgs). */
  validateArgs?: boolean;
}

/** Options of sample and rsample. */
export interface SampleOptions {
  /** The Philox generator to draw from (default: the one kiln.manualSeed seeds). */
  generator?: Generator;
}

let defaultValidate = true;

/** A value constraint: a predicate on tensors plus its name for messages. */
export interface Constraint {
  name: string;
  /** Bool tensor: where value satisfies the constraint (event dims already reduced). */
  check(value: Tensor): Tensor;
}

/** True when every element of the bool tensor f makes is true (an empty tensor counts as true). */
export const allTrue = (f: () => Tensor): boolean =>
  noGrad(() =>
    scope(() => {
      const t = f(); // in the scope: the check's temporaries go with it
      return t.numel() === 0 || (t.all().item() as boolean);
    }),
  );

/** Throws ERR_ARG naming the distribution and the argument. */
export function argError(dist: string, message: string): never {
  throw new KilnError('ERR_ARG', `${dist}: ${message}`);
}

/** The common floating dtype of parameters (numbers follow the tensors; integers become float32). */
export function paramDType(params: readonly Param[]): DType {
  let dt: DType | null = null;
  for (const p of params)
    if (p instanceof Tensor) {
      const d = isFloating(p.dtype) ? p.dtype : 'float32';
      dt = dt ? promoteTypes(dt, d) : d;
    }
  return dt ?? 'float32';
}

/** Params as tensors of one floating dtype, broadcast to a common shape (torch's broadcast_all). */
export function broadcastAll(dist: string, params: readonly Param[]): Tensor[] {
  params.forEach((p, i) => {
    if (!(p instanceof Tensor) && typeof p !== 'number')
      argError(dist, `parameter ${i} must be a Tensor or a number, got ${typeof p}`);
  });
  const dtype = paramDType(params);
  const device = (params.find((p) => p instanceof Tensor) as Tensor | undefined)?.device;
  const ts = params.map((p) =>
    p instanceof Tensor ? (p.dtype === dtype ? p : p.to(dtype)) : tensor(p, { dtype, device }),
  );
  const shape = broadcastShapes(dist, ...ts.map((t) => t.shape));
  return ts.map((t) => (sameShape(t.shape, shape) ? t : t.expand(shape)));
}

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((s, i) => s === b[i]);

/** Elementwise constraints torch's distributions use. */
export const constraints = {
  real: { name: 'real', check: (v: Tensor) => v.eq(v) } as Constraint,
  positive: { name: 'positive', check: (v: Tensor) => v.gt(0) } as Constraint,
  nonnegative: { name: 'nonnegative', check: (v: Tensor) => v.ge(0) } as Constraint,
  unitInterval: { name: 'unit interval [0, 1]', check: (v: Tensor) => v.ge(0).logicalAnd(v.le(1)) } as Constraint,
  boolean: { name: 'boolean {0, 1}', check: (v: Tensor) => v.eq(0).logicalOr(v.eq(1)) } as Constraint,
};

/**
 * The base class (torch.distributions.Distribution). Subclasses set batchShape and eventShape
 * and implement logProb, entropy, mean and variance; reparameterisable ones implement rsample.
 */
export abstract class Distribution {
  /** Shape of independent, non-identical draws (the parameters' broadcast shape less eventShape). */
  readonly batchShape: number[];
  /** Shape of one draw. */
  readonly eventShape: number[];
  /** Whether parameters and logProb values are checked. */
  readonly validateArgs: boolean;
  /** Whether rsample is implemented (gradients flow from samples to parameters). */
  get hasRsample(): boolean {
    return false;
  }
  /** The set values lie in; logProb checks values against it when validateArgs is on. */
  abstract get support(): Constraint;

  /** The default of validateArgs for distributions constructed later (torch: set_default_validate_args). */
  static setDefaultValidateArgs(value: boolean): void {
    defaultValidate = !!value;
  }
  static get defaultValidateArgs(): boolean {
    return defaultValidate;
  }

  constructor(batchShape: readonly number[], eventShape: readonly number[], opts: DistributionOptions = {}) {
    this.batchShape = batchShape.slice();
    this.eventShape = eventShape.slice();
    this.validateArgs = opts.validateArgs ?? defaultValidate;
  }

  /** The name used in messages. */
  get name(): string {
    return this.constructor.name;
  }

  /** sampleShape + batchShape + eventShape. */
  extendedShape(sampleShape: readonly number[] = []): number[] {
    const s = checkShape(sampleShape, `${this.name}.sample`, 'sampleShape');
    return [...s, ...this.batchShape, ...this.eventShape];
  }

  /** Draws of shape sampleShape + batchShape + eventShape, outside autograd. */
  sample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    if (!this.hasRsample) throw new KilnError('ERR_ARG', `${this.name}: sample is not implemented`);
    return noGrad(() => this.rsample(sampleShape, opts));
  }

  /** Reparameterised draws: differentiable with respect to the parameters. */
  rsample(_sampleShape: readonly number[] = [], _opts: SampleOptions = {}): Tensor {
    throw new KilnError('ERR_ARG', `${this.name}: rsample is not implemented (the family is not reparameterisable)`);
  }

  /** Log density (or mass) of value, of shape broadcast(value's batch dims, batchShape). */
  abstract logProb(value: Tensor | number): Tensor;
  /** Entropy, of shape batchShape. */
  abstract entropy(): Tensor;
  abstract get mean(): Tensor;
  abstract get variance(): Tensor;
  get stddev(): Tensor {
    return this.variance.sqrt();
  }
  /** exp(logProb(value)). */
  prob(value: Tensor | number): Tensor {
    return this.logProb(value).exp();
  }

  /** The dtype and device samples and values take. */
  protected abstract get like(): Tensor;

  /** value as a tensor (numbers take the parameters' dtype), checked when validateArgs is on. */
  protected value(value: Tensor | number): Tensor {
    const v = value instanceof Tensor ? value : tensor(value, { dtype: this.like.dtype, device: this.like.device });
    if (!(v instanceof Tensor)) argError(this.name, 'logProb value must be a Tensor or a number');
    if (!this.validateArgs) return v;
    const ev = this.eventShape.length;
    const full = [...this.batchShape, ...this.eventShape];
    const vs = v.shape;
    const evShape = vs.slice(vs.length - ev);
    if (vs.length < ev || !sameShape(evShape, this.eventShape))
      throw new KilnError(
        'ERR_SHAPE',
        `${this.name}.logProb: value ${shapeStr(vs)} must end in the event shape ${shapeStr(this.eventShape)}`,
      );
    broadcastShapes(`${this.name}.logProb`, vs, full);
    if (!allTrue(() => this.support.check(v.detach())))
      throw new KilnError('ERR_ARG', `${this.name}.logProb: value is outside the support (${this.support.name})`);
    return v;
  }
}

/** Throws ERR_ARG unless every element of param satisfies c (validateArgs only). */
export function checkParam(d: { validateArgs: boolean; name: string }, param: string, t: Tensor, c: Constraint): void {
  if (d.validateArgs && !allTrue(() => c.check(t.detach())))
    argError(d.name, `parameter ${param} must be ${c.name} (got a value outside it)`);
}
