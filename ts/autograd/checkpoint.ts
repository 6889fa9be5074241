/**
 * Activation checkpointing (torch.utils.checkpoint): run a block without keeping what its
 * backward would need, and run it again during backward() to get that. A block's activations then
 * cost memory only while its own gradient is computed, for one more forward pass of compute.
 */
import { KilnError } from '../errors';
import { scope } from '../memory';
import { defaultGenerator } from '../ops/random';
import { Tensor } from '../tensor';
import { backward, inGradCall } from './engine';
import { enableGrad, gradMode, noGrad } from './grad_mode';
import { Node } from './node';

/**
 * fn(...args), without saving its intermediate tensors for backward: backward() runs fn again
 * (with the random state it first saw, so dropout draws the same mask) and passes the gradient
 * through the recomputed graph, to the tensors among args and to the parameters fn uses.
 * Like PyTorch's reentrant checkpoint, gradients reach fn's parameters through backward() only:
 * autograd.grad() and createGraph through a checkpoint are refused.
 * @example
 * const h = kiln.utils.checkpoint((x) => block.forward(x) as kiln.Tensor, x);
 */
export function checkpoint(fn: (...args: never[]) => Tensor, ...args: unknown[]): Tensor {
  if (typeof fn !== 'function') throw new KilnError('ERR_ARG', 'checkpoint: fn must be a function');
  const block = fn as (...a: unknown[]) => unknown;
  if (!gradMode.enabled) return checkOut(block(...args));
  const rng = defaultGenerator.getState();
  let out = checkOut(noGrad(() => call(block, args)));
  const tensors = args.filter((a): a is Tensor => a instanceof Tensor);
  // a tensor fn did not make (an argument, a parameter) keeps its own history: give out a new handle
  if (out._gradFn || out._requiresGrad || tensors.includes(out)) out = out._view(out._shape, out._strides, out._offset);
  const node = new Node(
    'CheckpointBackward',
    tensors,
    (g, ctx) => recompute(block, args, ctx.inputs, rng, g),
    {},
    null,
  );
  out._setGradFn(node);
  out._requiresGrad = true;
  return out;
}

function checkOut(out: unknown): Tensor {
  if (!(out instanceof Tensor))
    throw new KilnError('ERR_ARG', `checkpoint: fn must return a Tensor, got ${out === null ? 'null' : typeof out}`);
  return out;
}

function recompute(
  fn: (...a: unknown[]) => unknown,
  args: unknown[],
  saved: Tensor[],
  rng: ReturnType<typeof defaultGenerator.getState>,
  g: Tensor,
): (Tensor | null)[] {
  if (gradMode.enabled || inGradCall())
    throw new KilnError(
      'ERR_AUTOGRAD',
      'checkpoint: only backward() goes through a checkpoint (not autograd.grad() nor createGraph), as with PyTorch reentrant checkpoints',
    );
  // the saved handles, detached, as leaves that collect the block's input gradients
  const inputs = saved.map((t) => {
    const d = t.detach();
    d._requiresGrad = t._requiresGrad; // a leaf for this pass only (not requiresGrad_: no parameter mark)
    return d;
  });
  let i = 0;
  const again = args.map((a) => (a instanceof Tensor ? inputs[i++] : a));
  const now = defaultGenerator.getState();
  defaultGenerator.setState(rng);
  let out: Tensor;
  try {
    out = checkOut(enableGrad(() => call(fn, again)));
  } finally {
    defaultGenerator.setState(now);
  }
  if (out._requiresGrad) backward(out, g);
  out.dispose();
  return inputs.map((d) => d.grad);
}

type Layer = { forward(x: Tensor): unknown };

/** fn(...args) in a scope: its temporaries go when it returns. */
const call = (fn: (...a: unknown[]) => unknown, args: unknown[]): unknown => scope(() => fn(...args));

/**
 * input through the modules in turn, in `segments` checkpointed runs of about equal length (the
 * last run is not checkpointed: its gradient comes first anyway), as torch's checkpoint_sequential.
 */
export function checkpointSequential(
  layers: readonly { forward(x: Tensor): unknown }[] | { children(): Iterable<{ forward(x: Tensor): unknown }> },
  segments: number,
  input: Tensor,
): Tensor {
  const modules = Array.isArray(layers) ? layers : [...(layers as { children(): Iterable<Layer> }).children()];
  if (!Number.isInteger(segments) || segments < 1)
    throw new KilnError('ERR_ARG', `checkpointSequential: segments must be a positive integer, got ${segments}`);
  const per = Math.ceil(modules.length / segments);
  const run = (from: number, to: number) => (x: Tensor) => {
    for (let i = from; i < to; i++) x = checkOut(modules[i].forward(x));
    return x;
  };
  let x = input;
  let start = 0;
  for (; start + per < modules.length; start += per) x = checkpoint(run(start, start + per), x);
  return run(start, modules.length)(x);
}
