/**
 * In-place ops under autograd, as PyTorch has them. `y.add_(x)` on a tensor with gradient history
 * (or with an `x` that requires grad) writes y and makes the op's node y's gradFn ("rebasing" y's
 * history): in place when the op's gradient reads no input value or only its output
 * (writeInPlace), else computed from a copy of y's old values and written back (rebase).
 *
 * Views share their memory, so a write through one changes what the others hold. Each view keeps
 * the handle it was taken from (Tensor._base); the top-most live one is the memory's base, and a
 * write through a view rebases the base at once, to a CopySlices node: the base's old history outside the written region, the
 * view's new one inside it. Every other handle on the memory is then stale (its _rebases lags the
 * storage's count); the first time autograd meets one it regenerates its history as a view of the
 * base's (ensureFresh). A handle that cannot be regenerated (its base was disposed) is refused
 * with ERR_AUTOGRAD rather than given a wrong gradient.
 */
import { ITEMSIZE, isFloating } from '../dtype';
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { zeros } from '../creation';
import { gradMode, noGrad } from './grad_mode';
import { Node, record } from './node';

/**
 * The autograd base of t's memory: the top-most handle t is a view of (through views of views)
 * that is not disposed, or null. A disposed link is passed over: what lies above it still holds
 * t's elements (an op's internal result, gone, under the view it returned, has nothing above it).
 */
function liveBase(t: Tensor): Tensor | null {
  let top: Tensor | null = null;
  for (let p = t._base; p; p = p._base) if (!p._disposed) top = p;
  return top;
}

/**
 * True when the in-place op `op` on `self` (with tensor arguments `others`) must go through
 * rebase(). Throws, as PyTorch does, for a leaf that requires grad or a view of one: writing a
 * parameter in place would change what its gradient means (optimizers write under kiln.noGrad()).
 */
export function inplaceNeedsGrad(op: string, self: Tensor, others: readonly Tensor[] = []): boolean {
  if (!gradMode.enabled) return false;
  ensureFresh(self, op);
  const base = liveBase(self);
  if (!(self._requiresGrad || base?._requiresGrad || others.some((o) => o._requiresGrad))) return false;
  if (self._requiresGrad && self.isLeaf)
    throw new KilnError(
      'ERR_AUTOGRAD',
      `${op}: a leaf tensor that requires grad (shape ${shapeStr(self._shape)}) cannot be modified in place; run the update inside kiln.noGrad() (as optimizers do), or clone() it first`,
    );
  if (!self._requiresGrad && base?._requiresGrad)
    throw new KilnError(
      'ERR_AUTOGRAD',
      `${op}: self (shape ${shapeStr(self._shape)}) is a view taken under kiln.noGrad() of a tensor with gradient history; take the view with grad on to write through it`,
    );
  if (self._storage.gradLeaf)
    throw new KilnError(
      'ERR_AUTOGRAD',
      `${op}: self (shape ${shapeStr(self._shape)}) is a view of a leaf tensor that requires grad and cannot be modified in place; run the update inside kiln.noGrad(), or clone() first`,
    );
  return true;
}

/**
 * Makes t's history match its memory after in-place writes through other handles on it: a view of
 * its base's current history. Throws when that cannot be done.
 */
export function ensureFresh(t: Tensor, op: string): void {
  if (t._rebases === t._storage.rebases) return;
  const base = liveBase(t);
  if (!base || base._rebases !== base._storage.rebases)
    throw new KilnError(
      'ERR_AUTOGRAD',
      `${op}: a tensor of shape ${shapeStr(t._shape)} shares memory with one that an op recorded by autograd modified in place, and the tensor it is a view of is ${base ? 'stale too' : 'gone (disposed, or it has none)'}; its gradient would be wrong. Use the tensor the in-place op returned, or clone() before modifying in place`,
    );
  if (overlapping(t))
    throw new KilnError(
      'ERR_AUTOGRAD',
      `${op}: a view with overlapping elements (unfold windows) of shape ${shapeStr(t._shape)} shares memory that was modified in place; its gradient cannot be regenerated. Take it again after the write`,
    );
  t._rebases = base._rebases;
  if (!base._requiresGrad) {
    t._setGradFn(null);
    t._requiresGrad = false;
    return;
  }
  const node = new Node('AsStridedBackward', [base], viewGrad, geometry(base, t), null);
  node._inputsUnread();
  t._setGradFn(node);
  t._requiresGrad = true;
}

/** Whether two elements of t share memory, other than through broadcast (stride 0) dims. */
function overlapping(t: Tensor): boolean {
  const dims = t._shape
    .map((n, i) => [n, Math.abs(t._strides[i])])
    .filter(([n, st]) => n > 1 && st > 0)
    .sort((a, b) => a[1] - b[1]);
  let reach = 0; // the furthest element offset the smaller-stride dims reach
  for (const [n, st] of dims) {
    if (st <= reach) return true;
    reach += (n - 1) * st;
  }
  return false;
}

/** ensureFresh for getters (requiresGrad, gradFn): leaves a handle that cannot be regenerated as it is. */
Tensor._refresh = (t: Tensor): void => {
  try {
    ensureFresh(t, 'autograd');
  } catch {
    // reported when autograd next uses it
  }
};

/**
 * self = f(clone of self) with autograd, for ops whose gradient reads self's old values (mul_,
 * div_, sin_, addmm_ ...): f returns a new tensor of self's shape, which is written into self's
 * memory (converted to self's dtype), and its gradFn becomes self's. When self is a view, its base
 * is rebased too.
 */
export function rebase(op: string, self: Tensor, f: (s: Tensor) => Tensor): Tensor {
  const base = liveBase(self);
  const s = self.clone();
  let r: Tensor;
  try {
    r = f(s);
  } finally {
    s.dispose();
  }
  try {
    if (r.ndim !== self.ndim || r._shape.some((d, i) => d !== self._shape[i]))
      throw new KilnError(
        'ERR_SHAPE',
        `${op}: result of shape ${shapeStr(r._shape)} cannot be written into a tensor of shape ${shapeStr(self._shape)}`,
      );
    if (isFloating(r.dtype) && !isFloating(self.dtype))
      throw new KilnError('ERR_DTYPE', `${op}: result dtype ${r.dtype} cannot be written into a ${self.dtype} tensor`);
    if (r.dtype !== self.dtype) {
      const c = r.to(self.dtype);
      r.dispose();
      r = c;
    }
    noGrad(() => self.copy_(r));
    self._setGradFn(r._gradFn);
    self._requiresGrad = r._requiresGrad;
    const n = ++self._storage.rebases;
    self._rebases = n;
    if (base) rebaseBase(base, self, n);
  } finally {
    r.dispose();
  }
  return self;
}

/** The base of a view just written: its old history outside the view, the view's inside. */
function rebaseBase(base: Tensor, view: Tensor, n: number): void {
  base._rebases = n;
  if (!base._requiresGrad && !view._requiresGrad) return;
  const node = new Node('CopySlices', [base, view], copySlicesGrad, geometry(base, view), null);
  node._inputsUnread();
  base._setGradFn(node);
  base._requiresGrad = true;
}

/**
 * The in-place path for ops whose gradient reads no input values (add_, sub_, copy_) or only the
 * output (exp_, sigmoid_, relu_): `write` runs the plain kernel into self, then `attach` records
 * the op's node on self, with self (its old history) among the inputs. No copy is made.
 */
export function writeInPlace(self: Tensor, write: () => void, attach: () => void): Tensor {
  const base = liveBase(self);
  noGrad(write);
  attach();
  self._gradFn?._inputsUnread(self._storage);
  const n = ++self._storage.rebases;
  self._rebases = n;
  if (base) rebaseBase(base, self, n);
  return self;
}

/**
 * self's values replaced by ones that depend on no tensor (fill_, uniform_): it keeps requiring
 * grad, with a zero gradient to what it was, as in PyTorch.
 */
export const overwrite = (op: string, self: Tensor, write: () => void): Tensor =>
  writeInPlace(self, write, () => record(op, self, [self], () => [null]));

// ---------------------------------------------------------------------------------------------
// Gradients between a base and a view of it, through the memory they share: the gradient is laid
// out in a zeroed buffer of the storage's size, at each one's offset and strides.

interface Geometry {
  n: number;
  base: [number[], number[], number];
  view: [number[], number[], number];
}

function geometry(base: Tensor, view: Tensor): Record<string, unknown> {
  const g: Geometry = {
    n: base._storage.nbytes / ITEMSIZE[base.dtype],
    base: [base._shape.slice(), base._strides.slice(), base._offset],
    view: [view._shape.slice(), view._strides.slice(), view._offset],
  };
  return { g };
}

function noSecondOrder(op: string): void {
  if (gradMode.enabled)
    throw new KilnError(
      'ERR_AUTOGRAD',
      `${op}: second-order gradients (createGraph) through in-place writes to views are not supported`,
    );
}

/** Runs fn on a zeroed storage-sized buffer, disposing the views it takes. */
function inStorage<T>(like: Tensor, n: number, fn: (at: (geo: Geometry['base']) => Tensor) => T): T {
  const buf = zeros([n], { dtype: like.dtype, device: like.device });
  const views: Tensor[] = [];
  try {
    return fn(([shape, strides, offset]) => {
      const v = buf._view(shape, strides, offset);
      views.push(v);
      return v;
    });
  } finally {
    for (const v of views) v.dispose();
    buf.dispose();
  }
}

/** Base of [the view's gradient placed at the view's elements]. */
function viewGrad(g: Tensor, c: { attrs: Record<string, unknown> }): Tensor[] {
  noSecondOrder('AsStridedBackward');
  const { n, base, view } = c.attrs.g as Geometry;
  // a broadcast view's elements repeat: sum over those dims first
  const [shape, strides, offset] = view;
  const rep = shape.map((s, i) => (s > 1 && strides[i] === 0 ? i : -1)).filter((i) => i >= 0);
  const gs = rep.length ? g.sum(rep, true) : g;
  const once = shape.map((s, i) => (rep.includes(i) ? 1 : s));
  try {
    return inStorage(g, n, (at) => {
      at([once, strides, offset]).copy_(gs);
      return [at(base).clone()];
    });
  } finally {
    if (gs !== g) gs.dispose();
  }
}

/** [base's gradient with the view's elements zeroed, the view's elements]. */
function copySlicesGrad(g: Tensor, c: { attrs: Record<string, unknown> }): Tensor[] {
  noSecondOrder('CopySlices');
  const { n, base, view } = c.attrs.g as Geometry;
  return inStorage(g, n, (at) => {
    at(base).copy_(g);
    const gv = at(view).clone();
    at(view).zero_();
    return [at(base).clone(), gv];
  });
}
