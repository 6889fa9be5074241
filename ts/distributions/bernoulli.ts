/** Bernoulli(probs | logits) (torch.distributions.Bernoulli). */
import { bernoulli } from '../ops/random';
import { scope } from '../memory';
import type { Tensor } from '../tensor';
import {
  argError,
  broadcastAll,
  checkParam,
  constraints,
  type Constraint,
  Distribution,
  type DistributionOptions,
  type Param,
  type SampleOptions,
} from './distribution';
import { binaryLogits, softplus } from './logits';

/** Bernoulli's parameters: exactly one of probs and logits. */
export interface BernoulliParams {
  probs?: Param;
  logits?: Param;
}

/**
 * 1 with probability probs (or sigmoid(logits)), else 0; samples take the parameter's dtype.
 * @example
 * const d = new kiln.distributions.Bernoulli({ probs: kiln.tensor([0.2, 0.9]) });
 * d.logProb(kiln.tensor([1, 0], { dtype: 'float32' })); // [log 0.2, log 0.1]
 */
export class Bernoulli extends Distribution {
  /** The parameter given (probs or logits), broadcast. */
  private readonly given: 'probs' | 'logits';
  private readonly param: Tensor;
  constructor(params: BernoulliParams, opts: DistributionOptions = {}) {
    const { probs, logits } = params ?? {};
    if ((probs === undefined) === (logits === undefined))
      argError('Bernoulli', 'exactly one of probs and logits must be given');
    const [p] = broadcastAll('Bernoulli', [(probs ?? logits) as Param]);
    super(p.shape, [], opts);
    this.given = probs !== undefined ? 'probs' : 'logits';
    this.param = p;
    checkParam(this, this.given, p, this.given === 'probs' ? constraints.unitInterval : constraints.real);
  }
  /** The probability of 1 (made from logits on each use when logits were given). */
  get probs(): Tensor {
    return this.given === 'probs' ? this.param : this.param.sigmoid();
  }
  /** log(probs / (1 - probs)). */
  get logits(): Tensor {
    return this.given === 'logits' ? this.param : binaryLogits(this.param);
  }
  get support(): Constraint {
    return constraints.boolean;
  }
  protected get like(): Tensor {
    return this.param;
  }
  get mean(): Tensor {
    // probs is a new tensor when logits were given: returned as it is, not copied and left behind
    return this.given === 'probs' ? this.param.clone() : this.probs;
  }
  get variance(): Tensor {
    return scope(() => this.probs.mul(this.probs.neg().add(1)));
  }
  override sample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    const shape = this.extendedShape(sampleShape);
    return scope(() => bernoulli(this.probs.detach().expand(shape), { generator: opts.generator }));
  }
  logProb(value: Tensor | number): Tensor {
    const v = this.value(value);
    // -binary_cross_entropy_with_logits(logits, value), stable for large |logits|.
    return scope(() => {
      const l = this.logits;
      return v.mul(l).sub(softplus(l));
    });
  }
  entropy(): Tensor {
    return scope(() => {
      const l = this.logits;
      return softplus(l).sub(this.probs.mul(l));
    });
  }
}
