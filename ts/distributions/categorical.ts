/** Categorical and OneHotCategorical (torch.distributions), over the last dim of probs or logits. */
import { full } from '../creation';
import { isFloating } from '../dtype';
import { KilnError } from '../errors';
import { oneHot } from '../ops/composite';
import { multinomial } from '../ops/sampling';
import { scope } from '../memory';
import { broadcastShapes, numelOf, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import {
  allTrue,
  argError,
  checkParam,
  constraints,
  type Constraint,
  Distribution,
  type DistributionOptions,
  type Param,
  paramDType,
  type SampleOptions,
} from './distribution';
import { MAX_OF } from '../finfo';
import { categoricalLogits } from './logits';

/** The parameters of Categorical and OneHotCategorical: exactly one of probs and logits. */
export interface CategoricalParams {
  /** Non-negative weights over the last dim (normalised to sum to 1). */
  probs?: Tensor;
  /** Unnormalised log-probabilities over the last dim. */
  logits?: Tensor;
}

function asFloat(t: Param, name: string, dist: string): Tensor {
  if (!(t instanceof Tensor)) argError(dist, `${name} must be a Tensor with at least one dim`);
  const dt = paramDType([t]);
  return t.dtype === dt ? t : t.to(dt);
}

/**
 * A distribution over the indices 0..K-1 of the last dim; samples are int64 of shape
 * sampleShape + batchShape (batchShape = the parameter's shape less its last dim).
 * @example
 * const d = new kiln.distributions.Categorical({ probs: kiln.tensor([0.1, 0.2, 0.7]) });
 * d.sample([4]); // e.g. [2, 2, 1, 2]
 * d.logProb(kiln.tensor([2])); // [log 0.7]
 */
export class Categorical extends Distribution {
  /** Normalised probabilities, [...batchShape, K]. */
  readonly probs: Tensor;
  /** Normalised log-probabilities (logsumexp 0 over the last dim), [...batchShape, K]. */
  readonly logits: Tensor;
  /** The number of categories K. */
  readonly numEvents: number;
  constructor(params: CategoricalParams, opts: DistributionOptions = {}, name = 'Categorical') {
    const { probs, logits } = params ?? {};
    if ((probs === undefined) === (logits === undefined))
      argError(name, 'exactly one of probs and logits must be given');
    const given = asFloat((probs ?? logits) as Param, probs !== undefined ? 'probs' : 'logits', name);
    if (given.ndim < 1) argError(name, `${probs !== undefined ? 'probs' : 'logits'} must have at least one dim`);
    const k = given.shape[given.ndim - 1];
    if (k < 1) argError(name, `needs at least one category, got ${shapeStr(given.shape)}`);
    super(given.shape.slice(0, -1), [], opts);
    this.numEvents = k;
    if (probs !== undefined) {
      checkParam(this, 'probs', given, constraints.nonnegative);
      this.probs = scope(() => given.div(given.sum(-1, true)));
      if (this.validateArgs && !allTrue(() => this.probs.sum(-1).sub(1).abs().le(1e-6)))
        argError(name, 'probs must have a positive, finite sum over the last dim');
      this.logits = categoricalLogits(this.probs);
    } else {
      checkParam(this, 'logits', given, constraints.real);
      this.logits = scope(() => given.sub(given.logsumexp(-1, true)));
      this.probs = this.logits.softmax(-1);
    }
  }
  get support(): Constraint {
    const k = this.numEvents;
    return {
      name: `integer interval [0, ${k - 1}]`,
      check: (v) => {
        const inRange = v.ge(0).logicalAnd(v.le(k - 1));
        return isFloating(v.dtype) ? inRange.logicalAnd(v.eq(v.floor())) : inRange;
      },
    };
  }
  protected get like(): Tensor {
    return this.probs;
  }
  /** Undefined for a categorical: NaN of batchShape, as in torch. */
  get mean(): Tensor {
    return full(this.batchShape, NaN, { dtype: this.probs.dtype, device: this.probs.device });
  }
  get variance(): Tensor {
    return full(this.batchShape, NaN, { dtype: this.probs.dtype, device: this.probs.device });
  }
  override sample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    const shape = this.extendedShape(sampleShape);
    const n = numelOf(shape.slice(0, shape.length - this.batchShape.length));
    return scope(() => {
      const rows = this.probs.detach().reshape([-1, this.numEvents]);
      if (n === 0 || rows.shape[0] === 0) return full(shape, 0, { dtype: 'int64', device: this.probs.device });
      const draws = multinomial(rows, n, { replacement: true, generator: opts.generator });
      return draws.transpose(0, 1).contiguous().reshape(shape);
    });
  }
  logProb(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => {
      const idx = v.dtype === 'int64' ? v : v.to('int64');
      const shape = broadcastShapes('Categorical.logProb', idx.shape, this.batchShape);
      const logits = this.logits.expand([...shape, this.numEvents]);
      return logits.gather(-1, idx.expand(shape).unsqueeze(-1)).squeeze(-1);
    });
  }
  entropy(): Tensor {
    // Logits clamped to the dtype's most negative finite value so 0 * -inf gives 0, not NaN.
    return scope(() => this.logits.clampMin(-MAX_OF[this.logits.dtype]).mul(this.probs).sum(-1).neg());
  }
}

/**
 * Categorical with one-hot samples: draws are one-hot vectors of length K in the parameter's
 * dtype (eventShape [K]).
 * @example
 * new kiln.distributions.OneHotCategorical({ logits: kiln.zeros([3]) }).sample(); // e.g. [0, 1, 0]
 */
export class OneHotCategorical extends Distribution {
  /** The categorical over indices this one encodes. */
  readonly base: Categorical;
  constructor(params: CategoricalParams, opts: DistributionOptions = {}) {
    const base = new Categorical(params, opts, 'OneHotCategorical');
    super(base.batchShape, [base.numEvents], opts);
    this.base = base;
  }
  get probs(): Tensor {
    return this.base.probs;
  }
  get logits(): Tensor {
    return this.base.logits;
  }
  get support(): Constraint {
    return {
      name: 'one-hot vectors',
      check: (v) => v.eq(0).logicalOr(v.eq(1)).all(-1).logicalAnd(v.sum(-1).eq(1)),
    };
  }
  protected get like(): Tensor {
    return this.base.probs;
  }
  get mean(): Tensor {
    return this.probs.clone();
  }
  get variance(): Tensor {
    return scope(() => this.probs.mul(this.probs.neg().add(1)));
  }
  override sample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    return scope(() => {
      const idx = this.base.sample(sampleShape, opts);
      return oneHot(idx, this.base.numEvents).to(this.probs.dtype);
    });
  }
  logProb(value: Tensor | number): Tensor {
    const v = this.value(value);
    if (v.ndim < 1) throw new KilnError('ERR_SHAPE', 'OneHotCategorical.logProb: value needs a last dim of size K');
    return scope(() => this.base.logProb(v.argmax(-1)));
  }
  entropy(): Tensor {
    return this.base.entropy();
  }
}
