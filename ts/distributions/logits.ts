/** Conversions between probabilities and logits shared by the discrete families. */
import { scope } from '../memory';
import type { Tensor } from '../tensor';
import { EPS_OF } from '../finfo';

/** log(1 + e^x), stable for large |x|. */
export const softplus = (x: Tensor): Tensor => scope(() => x.clampMin(0).add(x.abs().neg().exp().log1p()));

/** Binary logits of probabilities, clamped to [eps, 1 - eps] first (torch's probs_to_logits). */
export const binaryLogits = (p: Tensor): Tensor =>
  scope(() => {
    const eps = EPS_OF[p.dtype];
    const c = p.clamp(eps, 1 - eps);
    return c.log().sub(c.neg().log1p());
  });

/** Log-probabilities over the last dim, clamped away from 0 first (torch's probs_to_logits). */
export const categoricalLogits = (p: Tensor): Tensor =>
  scope(() => p.clamp(EPS_OF[p.dtype], 1 - EPS_OF[p.dtype]).log());
