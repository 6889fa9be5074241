/** Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_), in place on .grad. */
import { noGrad } from '../autograd/grad_mode';
import { KilnError } from '../errors';
import { Tensor } from '../tensor';
import { zeros } from '../creation';
import { scope } from '../memory';

const gradsOf = (params: Iterable<Tensor> | Tensor): Tensor[] =>
  [...(params instanceof Tensor ? [params] : params)].map((p) => p.grad).filter((g): g is Tensor => g !== null);

/**
 * Scales all gradients together so that their joint `normType`-norm is at most maxNorm; returns
 * the norm before clipping (a 0-d float tensor). Infinity gives the max-abs norm.
 */
export function clipGradNorm_(
  params: Iterable<Tensor> | Tensor,
  maxNorm: number,
  normType = 2,
  opts: { errorIfNonfinite?: boolean } = {},
): Tensor {
  if (!(maxNorm >= 0)) throw new KilnError('ERR_ARG', `clipGradNorm_: maxNorm must be >= 0, got ${maxNorm}`);
  if (!(normType > 0)) throw new KilnError('ERR_ARG', `clipGradNorm_: normType must be > 0, got ${normType}`);
  const grads = gradsOf(params);
  return noGrad(() => {
    if (grads.length === 0) return zeros([]);
    // In a scope: the per-gradient temporaries (float64 copies of whole gradients among them) go
    // at once, not when the garbage collector finds them.
    const total = scope(() => {
      if (normType === Infinity) return grads.map((g) => g.abs().amax().to('float64')).reduce((a, b) => a.maximum(b));
      const parts = grads.map((g) => g.to('float64').abs().pow(normType).sum());
      return parts.reduce((a, b) => a.add(b)).pow(1 / normType);
    });
    const norm = total.item() as number;
    if (opts.errorIfNonfinite && !Number.isFinite(norm)) {
      total.dispose();
      throw new KilnError('ERR_ARG', `clipGradNorm_: the total gradient norm is ${norm}`);
    }
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) for (const g of grads) g.mul_(coef);
    const out = total.to(grads[0].dtype);
    if (out !== total) total.dispose();
    return out;
  });
}

/** Clamps every gradient element to [-clipValue, clipValue]. */
export function clipGradValue_(params: Iterable<Tensor> | Tensor, clipValue: number): void {
  if (!(clipValue >= 0)) throw new KilnError('ERR_ARG', `clipGradValue_: clipValue must be >= 0, got ${clipValue}`);
  noGrad(() => {
    for (const g of gradsOf(params)) g.clamp_(-clipValue, clipValue);
  });
}
