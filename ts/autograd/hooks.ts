/**
 * Gradient hooks on tensors (torch.Tensor.register_hook): a function called with the tensor's
 * gradient during backward() and autograd.grad(), which may return a replacement. A non-leaf's
 * hooks sit on the node that made it and see the summed gradient before that node's formula; a
 * leaf's see its summed gradient before it is added into .grad.
 */
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';

export type GradHook = (grad: Tensor) => Tensor | void | null | undefined;

/** What a register call returns: remove() takes the hook off again. */
export interface RemovableHandle {
  remove(): void;
}

/**
 * Calls hook(grad) whenever a gradient with respect to t is computed; a tensor it returns (of t's
 * shape) replaces the gradient.
 * @example
 * h.registerHook((g) => g.clamp(-1, 1)); // clip the gradient flowing through h
 */
export function registerHook(t: Tensor, hook: GradHook): RemovableHandle {
  t._check('registerHook');
  if (typeof hook !== 'function') throw new KilnError('ERR_ARG', 'registerHook: hook must be a function');
  if (!t.requiresGrad)
    throw new KilnError(
      'ERR_AUTOGRAD',
      'registerHook: the tensor does not require grad, so it has no gradient to hook',
    );
  const list = t._gradFn ? (t._gradFn.hooks ??= []) : ((t._origin ?? t)._hooks ??= []);
  list.push(hook);
  return {
    remove() {
      const i = list.indexOf(hook);
      if (i >= 0) list.splice(i, 1);
    },
  };
}

/** g after each hook in turn (a hook that returns nothing leaves it as it is). */
export function runHooks(hooks: readonly GradHook[] | null, g: Tensor): Tensor {
  if (!hooks) return g;
  for (const hook of hooks.slice()) {
    const r = hook(g);
    if (r === undefined || r === null) continue;
    if (!(r instanceof Tensor))
      throw new KilnError('ERR_AUTOGRAD', `registerHook: a hook returned ${typeof r}, not a Tensor or nothing`);
    if (r.ndim !== g.ndim || r._shape.some((s, i) => s !== g._shape[i]))
      throw new KilnError(
        'ERR_SHAPE',
        `registerHook: a hook returned a gradient of shape ${shapeStr(r._shape)} for one of shape ${shapeStr(g._shape)}`,
      );
    g = r;
  }
  return g;
}
