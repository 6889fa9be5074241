/** MultivariateNormal(loc, covarianceMatrix | scaleTril) (torch.distributions.MultivariateNormal). */
import { KilnError } from '../errors';
import { randn } from '../ops/random';
import { tril } from '../ops/rearrange';
import { scope } from '../memory';
import { broadcastShapes, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import {
  allTrue,
  argError,
  checkParam,
  constraints,
  type Constraint,
  Distribution,
  type DistributionOptions,
  paramDType,
  type SampleOptions,
} from './distribution';
import { diagonal } from '../ops/diagonal';
import { cholesky, solveTriangular } from '../linalg/factor';

const LOG_2PI = Math.log(2 * Math.PI);

/** The covariance: exactly one of covarianceMatrix and scaleTril. */
export interface MultivariateNormalParams {
  /** Symmetric positive-definite [..., K, K]. */
  covarianceMatrix?: Tensor;
  /** Lower-triangular with a positive diagonal, [..., K, K]: covariance = scaleTril scaleTrilᵀ. */
  scaleTril?: Tensor;
}

/**
 * The multivariate normal over the last dim of loc ([..., K]); eventShape [K]. The Cholesky
 * factor is composed from kiln ops, so gradients reach loc and the covariance.
 * @example
 * const d = new kiln.distributions.MultivariateNormal(kiln.zeros([2]), { covarianceMatrix: kiln.eye(2) });
 * d.rsample([3]).shape; // [3, 2]
 */
export class MultivariateNormal extends Distribution {
  readonly loc: Tensor;
  /** The lower Cholesky factor of the covariance, [...batchShape, K, K]. */
  readonly scaleTril: Tensor;
  constructor(loc: Tensor, params: MultivariateNormalParams, opts: DistributionOptions = {}) {
    const name = 'MultivariateNormal';
    const { covarianceMatrix, scaleTril } = params ?? {};
    if ((covarianceMatrix === undefined) === (scaleTril === undefined))
      argError(name, 'exactly one of covarianceMatrix and scaleTril must be given');
    const m = (covarianceMatrix ?? scaleTril) as Tensor;
    if (!(loc instanceof Tensor) || !(m instanceof Tensor)) argError(name, 'loc and the matrix must be Tensors');
    if (loc.ndim < 1) argError(name, 'loc must have at least one dim');
    const k = loc.shape[loc.ndim - 1];
    if (m.ndim < 2 || m.shape[m.ndim - 1] !== k || m.shape[m.ndim - 2] !== k)
      throw new KilnError(
        'ERR_SHAPE',
        `${name}: the matrix ${shapeStr(m.shape)} must be [..., ${k}, ${k}] to match loc ${shapeStr(loc.shape)}`,
      );
    const dtype = paramDType([loc, m]);
    const l = loc.dtype === dtype ? loc : loc.to(dtype);
    const mat = m.dtype === dtype ? m : m.to(dtype);
    const batch = broadcastShapes(name, l.shape.slice(0, -1), mat.shape.slice(0, -2));
    super(batch, [k], opts);
    this.loc = l.expand([...batch, k]);
    checkParam(this, 'loc', this.loc, constraints.real);
    if (scaleTril !== undefined) {
      if (this.validateArgs) {
        const lower = () => tril(mat.detach()).eq(mat.detach());
        const diagPos = () => diagonal(mat.detach(), 0, -2, -1).gt(0);
        if (!allTrue(lower) || !allTrue(diagPos))
          argError(name, 'scaleTril must be lower triangular with a positive diagonal');
      }
      this.scaleTril = mat.expand([...batch, k, k]);
    } else {
      if (this.validateArgs) {
        const sym = () => {
          const d = mat.detach();
          return d.sub(d.transpose(-1, -2)).abs().le(d.abs().amax().mul(1e-6));
        };
        if (!allTrue(sym)) argError(name, 'covarianceMatrix must be symmetric');
      }
      // A covariance that is not positive definite is a bad argument (ERR_ARG). cholesky reads the
      // lower triangle only: the symmetric part makes the gradient symmetric, as torch's is.
      const symmetric = scope(() => mat.add(mat.transpose(-1, -2)).mul(0.5));
      let l: Tensor;
      try {
        l = cholesky(symmetric);
      } catch (e) {
        if (e instanceof KilnError && e.code === 'ERR_LINALG') argError(name, `covarianceMatrix: ${e.message}`);
        throw e;
      } finally {
        symmetric.dispose();
      }
      this.scaleTril = l.expand([...batch, k, k]);
    }
  }
  override get hasRsample(): boolean {
    return true;
  }
  get support(): Constraint {
    return { name: 'real vectors', check: (v) => v.eq(v).all(-1) };
  }
  protected get like(): Tensor {
    return this.loc;
  }
  /** scaleTril scaleTrilᵀ. */
  get covarianceMatrix(): Tensor {
    return this.scaleTril.matmul(this.scaleTril.transpose(-1, -2));
  }
  get mean(): Tensor {
    return this.loc.clone();
  }
  get variance(): Tensor {
    return scope(() => this.scaleTril.square().sum(-1));
  }
  override rsample(sampleShape: readonly number[] = [], opts: SampleOptions = {}): Tensor {
    const shape = this.extendedShape(sampleShape);
    return scope(() => {
      const eps = randn(shape, { dtype: this.loc.dtype, device: this.loc.device, generator: opts.generator });
      return this.loc.add(this.scaleTril.matmul(eps.unsqueeze(-1)).squeeze(-1));
    });
  }
  /** log|det scaleTril| = the sum of the log-diagonal, [...batchShape]. */
  halfLogDet(): Tensor {
    return scope(() => diagonal(this.scaleTril, 0, -2, -1).log().sum(-1));
  }
  logProb(value: Tensor | number): Tensor {
    const v = this.value(value);
    return scope(() => {
      const diff = v.sub(this.loc);
      const z = solveTriangular(this.scaleTril, diff.unsqueeze(-1), { upper: false }).squeeze(-1);
      const maha = z.square().sum(-1);
      const k = this.eventShape[0];
      return maha
        .add(k * LOG_2PI)
        .mul(-0.5)
        .sub(this.halfLogDet());
    });
  }
  entropy(): Tensor {
    const k = this.eventShape[0];
    return scope(() => this.halfLogDet().add(0.5 * k * (1 + LOG_2PI)));
  }
}
