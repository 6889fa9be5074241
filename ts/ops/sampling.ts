/**
 * Sampling from categorical weights, composed from other ops with kiln's Philox generators:
 * multinomial (inverse-CDF sampling with replacement; the Gumbel-top-k trick without, which draws
 * exactly like sampling one category at a time and renormalising) and nn.functional.gumbelSoftmax.
 */
import { noGrad } from '../autograd/grad_mode';
import { zeros } from '../creation';
import { isFloating } from '../dtype';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { normDim, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { checkTensor } from './kinds';
import { type Generator, rand } from './random';
import { searchsorted } from './selection';

/** Options of multinomial, torch's names and defaults. */
export interface MultinomialOptions {
  /** Draw with replacement (default false: each category at most once per row). */
  replacement?: boolean;
  generator?: Generator;
}

/**
 * Standard Gumbel noise of `shape` in float64: -log(-log(u)) for u uniform in (0, 1). The
 * uniform's 0 (one draw in 2^53 or so) is lifted to the smallest normal float64, so the noise
 * stays finite.
 */
function gumbelNoise(shape: number[], device: Tensor['device'], generator?: Generator): Tensor {
  return scope(() =>
    rand(shape, { dtype: 'float64', device, generator })
      .clampMin(2 ** -1022)
      .log()
      .neg()
      .log()
      .neg(),
  );
}

/**
 * Draws `numSamples` category indices from each row of non-negative weights (torch.multinomial):
 * input [K] gives [numSamples], [R, K] gives [R, numSamples], int64. Weights need not sum to 1; a
 * zero weight is never drawn. Without replacement the draws of a row are distinct, in the order
 * sequential sampling would pick them. The same seed (kiln.manualSeed or `generator`) gives the
 * same draws.
 * @example
 * kiln.multinomial(kiln.tensor([0.1, 0.2, 0.7]), 4, { replacement: true }); // e.g. [2, 2, 1, 2]
 * kiln.tensor([[1, 0, 3], [1, 1, 0]], { dtype: 'float32' }).multinomial(2); // e.g. [[2, 0], [1, 0]]
 */
export function multinomial(input: Tensor, numSamples: number, opts: MultinomialOptions = {}): Tensor {
  checkTensor(input, 'multinomial', 'input');
  if (!isFloating(input.dtype))
    throw new KilnError('ERR_DTYPE', `multinomial: input must have a floating dtype, got ${input.dtype}`);
  if (input.ndim !== 1 && input.ndim !== 2)
    throw new KilnError('ERR_SHAPE', `multinomial: input must be 1-d or 2-d, got ${shapeStr(input._shape)}`);
  if (!Number.isInteger(numSamples) || numSamples < 1)
    throw new KilnError('ERR_ARG', `multinomial: numSamples must be an integer >= 1, got ${numSamples}`);
  const replacement = !!opts.replacement;
  const k = input._shape[input.ndim - 1];
  if (!replacement && numSamples > k)
    throw new KilnError(
      'ERR_ARG',
      `multinomial: cannot draw ${numSamples} samples without replacement from ${k} categories (input ${shapeStr(input._shape)})`,
    );
  if (k === 0) throw new KilnError('ERR_SHAPE', `multinomial: input ${shapeStr(input._shape)} has no categories`);
  return noGrad(() =>
    scope(() => {
      const w = input.detach().to('float64').reshape([-1, k]);
      const rows = w._shape[0];
      if (rows === 0)
        return zeros(input.ndim === 1 ? [numSamples] : [0, numSamples], { dtype: 'int64', device: input.device });
      const bad = w.lt(0).logicalOr(w.isnan()).logicalOr(w.isinf()).any().item();
      if (bad)
        throw new KilnError(
          'ERR_ARG',
          `multinomial: weights must be finite and non-negative (input ${shapeStr(input._shape)} has a negative, NaN or infinite weight)`,
        );
      const fewest = w.gt(0).sum(-1).amin().item() as number;
      if (fewest === 0)
        throw new KilnError('ERR_ARG', `multinomial: a row of input ${shapeStr(input._shape)} has only zero weights`);
      if (!replacement && numSamples > fewest)
        throw new KilnError(
          'ERR_ARG',
          `multinomial: cannot draw ${numSamples} samples without replacement from a row with only ${fewest} non-zero weights (input ${shapeStr(input._shape)})`,
        );
      let idx: Tensor;
      if (replacement) {
        // cdf's last entry is total / total, exactly 1 > u: the search never runs off the end.
        // A zero weight repeats its left neighbour's cdf (or 0 for the first), so the first
        // entry > u is never one.
        const c = w.cumsum(-1);
        const cdf = c.div(c.narrow(1, k - 1, 1));
        const u = rand([rows, numSamples], { dtype: 'float64', device: input.device, generator: opts.generator });
        idx = searchsorted(cdf, u, { right: true });
      } else {
        // Gumbel-top-k: the k largest log(w) + Gumbel keys are distributed like k sequential
        // draws without replacement; log(0) = -inf keeps zero weights out (fewest >= numSamples).
        const keys = w.log().add(gumbelNoise([rows, k], input.device, opts.generator));
        idx = keys.topk(numSamples, -1).indices;
      }
      return input.ndim === 1 ? idx.reshape([numSamples]) : idx;
    }),
  );
}

/** Options of gumbelSoftmax, torch's names and defaults. */
export interface GumbelSoftmaxOptions {
  /** Temperature (> 0; default 1). */
  tau?: number;
  /** One-hot output in the forward pass, the soft sample's gradient in the backward (default false). */
  hard?: boolean;
  /** The dim that softmax runs over (default -1). */
  dim?: number;
  generator?: Generator;
}

/**
 * Samples from the Gumbel-softmax distribution (torch.nn.functional.gumbel_softmax):
 * softmax((logits + g) / tau) with g standard Gumbel noise. With hard, the result is the one-hot
 * of its argmax in the forward pass and differentiates like the soft sample (straight-through:
 * yHard - ySoft.detach() + ySoft).
 * @example
 * F.gumbelSoftmax(logits, { tau: 0.5, hard: true }); // one-hot rows, gradients of the soft sample
 */
export function gumbelSoftmax(logits: Tensor, opts: GumbelSoftmaxOptions = {}): Tensor {
  checkTensor(logits, 'gumbelSoftmax', 'logits');
  if (!isFloating(logits.dtype))
    throw new KilnError('ERR_DTYPE', `gumbelSoftmax: logits must have a floating dtype, got ${logits.dtype}`);
  const tau = opts.tau ?? 1;
  if (typeof tau !== 'number' || !(tau > 0) || !Number.isFinite(tau))
    throw new KilnError('ERR_ARG', `gumbelSoftmax: tau must be a finite number > 0, got ${tau}`);
  if (logits.ndim === 0)
    throw new KilnError('ERR_SHAPE', 'gumbelSoftmax: logits must have at least 1 dim, got a 0-d tensor');
  const dim = normDim(opts.dim ?? -1, logits.ndim, 'gumbelSoftmax');
  const noise = gumbelNoise(logits._shape.slice(), logits.device, opts.generator);
  const g = noise.to(logits.dtype);
  noise.dispose();
  const z = logits.add(g);
  const zt = tau === 1 ? z : z.div(tau);
  const ySoft = zt.softmax(dim);
  for (const t of tau === 1 ? [g, z] : [g, z, zt]) t.dispose();
  if (!opts.hard) return ySoft;
  const out = scope(() => {
    const soft = ySoft.detach();
    const index = soft.argmax(dim, true);
    const yHard = zeros(logits._shape.slice(), { dtype: logits.dtype, device: logits.device }).scatter(dim, index, 1);
    return yHard.sub(soft).add(ySoft);
  });
  ySoft.dispose();
  return out;
}
