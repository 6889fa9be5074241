/**
 * torch.autograd.functional: vector-Jacobian and Jacobian-vector products, Jacobians and Hessians
 * of a function of tensors, built on autograd.grad. Each input is taken as a fresh leaf (a handle
 * on the same memory), so the caller's tensors and their histories are left alone.
 */
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { stack } from '../ops/composite';
import { Tensor } from '../tensor';
import { grad } from './engine';
import { enableGrad } from './grad_mode';

type Fn = (...xs: Tensor[]) => Tensor;
type Inputs = Tensor | Tensor[];
export interface FunctionalOptions {
  /** Keep the results differentiable (to differentiate them again). */
  createGraph?: boolean;
}

const list = (x: Inputs, what: string): Tensor[] => {
  const xs = Array.isArray(x) ? x : [x];
  xs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new KilnError('ERR_ARG', `autograd.functional: ${what} ${i} must be a Tensor`);
    t._check('autograd.functional');
  });
  return xs;
};
/** One result per input, in the shape the inputs came in (a tensor, or an array). */
const shaped = <T>(x: Inputs, rs: T[]): T | T[] => (Array.isArray(x) ? rs : rs[0]);

/** Fresh leaves on the inputs' memory (not requiresGrad_: that would mark the memory a parameter's). */
function leaves(xs: Tensor[]): Tensor[] {
  return xs.map((t) => {
    const d = t.detach();
    d._requiresGrad = true;
    return d;
  });
}

function callOn(fn: Fn, xs: Tensor[]): Tensor {
  if (typeof fn !== 'function') throw new KilnError('ERR_ARG', 'autograd.functional: fn must be a function');
  const out = enableGrad(() => fn(...xs));
  if (!(out instanceof Tensor))
    throw new KilnError('ERR_ARG', `autograd.functional: fn must return a Tensor, got ${typeof out}`);
  return out;
}

/** Gradients of out (weighted by v) with respect to xs, zeros where out does not depend on one. */
function grads(out: Tensor, xs: Tensor[], v: Tensor | null, createGraph: boolean, retainGraph: boolean): Tensor[] {
  if (!out._requiresGrad) return xs.map((x) => x.zerosLike());
  const gs = grad([out], xs, { gradOutputs: [v], createGraph, retainGraph, allowUnused: true });
  return gs.map((g, i) => g ?? xs[i].zerosLike());
}

function checkV(v: Tensor, like: Tensor, what: string): void {
  if (v.ndim !== like.ndim || v._shape.some((s, i) => s !== like._shape[i]))
    throw new KilnError(
      'ERR_SHAPE',
      `autograd.functional: ${what} of shape ${shapeStr(v._shape)} for one of shape ${shapeStr(like._shape)}`,
    );
}

/**
 * fn's output and vᵀ J (the gradient of v · fn(inputs) with respect to each input); v may be left
 * out for a one-element output.
 * @example
 * const { output, vjp } = kiln.autograd.functional.vjp((x) => x.exp().sum(), x);
 */
export function vjp(fn: Fn, inputs: Inputs, v?: Tensor, opts: FunctionalOptions = {}) {
  const xs = leaves(list(inputs, 'input'));
  const out = callOn(fn, xs);
  if (v) checkV(v, out, 'v');
  else if (out.numel() !== 1)
    throw new KilnError(
      'ERR_ARG',
      `autograd.functional.vjp: v is needed for an output of shape ${shapeStr(out._shape)}`,
    );
  const gs = grads(out, xs, v ?? null, !!opts.createGraph, false);
  return { output: opts.createGraph ? out : out.detach(), vjp: shaped(inputs, gs) };
}

/**
 * fn's output and J v (the directional derivative along v, one tangent per input), by the double
 * vector-Jacobian product: no forward-mode autograd needed.
 */
export function jvp(fn: Fn, inputs: Inputs, v: Inputs, opts: FunctionalOptions = {}) {
  const xs = leaves(list(inputs, 'input'));
  const vs = list(v, 'v');
  if (vs.length !== xs.length)
    throw new KilnError('ERR_ARG', `autograd.functional.jvp: ${vs.length} tangents for ${xs.length} inputs`);
  vs.forEach((t, i) => checkV(t, xs[i], `v ${i}`));
  const out = callOn(fn, xs);
  if (!out._requiresGrad) return { output: out, jvp: out.zerosLike() };
  // g(u) = uᵀ J is linear in u; its gradient with respect to u along v is J v
  const u = enableGrad(() => out.zerosLike());
  u._requiresGrad = true;
  const gs = grad([out], xs, { gradOutputs: [u], createGraph: true, allowUnused: true });
  const pairs = gs.map((g, i) => [g, vs[i]] as const).filter(([g]) => g !== null && g._requiresGrad);
  const r = pairs.length
    ? grad(
        pairs.map(([g]) => g!),
        [u],
        { gradOutputs: pairs.map(([, t]) => t), createGraph: !!opts.createGraph, allowUnused: true },
      )[0]
    : null;
  return { output: opts.createGraph ? out : out.detach(), jvp: r ?? out.zerosLike() };
}

/**
 * The Jacobian of fn at inputs: for one input, a tensor of shape [...output, ...input]; for an
 * array of inputs, one such tensor per input. One backward pass per output element.
 * @example
 * const J = kiln.autograd.functional.jacobian((x) => x.pow(2), kiln.tensor([1, 2, 3]));
 */
export function jacobian(fn: Fn, inputs: Inputs, opts: FunctionalOptions = {}): Tensor | Tensor[] {
  const xs = leaves(list(inputs, 'input'));
  const out = callOn(fn, xs);
  const n = out.numel();
  const rows: Tensor[][] = xs.map(() => []);
  const flat = enableGrad(() => out.reshape([n]));
  for (let i = 0; i < n; i++) {
    const gs = grads(flat.select(0, i), xs, null, !!opts.createGraph, true);
    gs.forEach((g, j) => rows[j].push(g));
  }
  const js = xs.map((x, j) => {
    const shape = [...out._shape, ...x._shape];
    if (n === 0)
      return x
        .zerosLike()
        .reshape([0, ...x._shape])
        .reshape(shape);
    return stack(rows[j]).reshape(shape);
  });
  return shaped(inputs, js);
}

/**
 * The Hessian of a function with a one-element output: for one input, [...input, ...input]; for
 * an array, an array (over inputs) of arrays of the blocks.
 */
export function hessian(fn: Fn, inputs: Inputs, opts: FunctionalOptions = {}): Tensor | Tensor[][] {
  const xs = list(inputs, 'input');
  const gradOf = (...ys: Tensor[]): Tensor[] => {
    const out = callOn(fn, ys);
    if (out.numel() !== 1)
      throw new KilnError(
        'ERR_ARG',
        `autograd.functional.hessian: fn must return one element, got ${shapeStr(out._shape)}`,
      );
    return grads(out, ys, null, true, true);
  };
  const blocks = xs.map((_, i) => jacobian((...ys: Tensor[]) => gradOf(...ys)[i], xs, opts) as Tensor[]);
  return Array.isArray(inputs) ? blocks : blocks[0][0];
}

/** fn's output and vᵀ H (= H v, H being symmetric) for a one-element fn, without forming H. */
export function vhp(fn: Fn, inputs: Inputs, v: Inputs, opts: FunctionalOptions = {}) {
  const xs = leaves(list(inputs, 'input'));
  const vs = list(v, 'v');
  if (vs.length !== xs.length)
    throw new KilnError('ERR_ARG', `autograd.functional.vhp: ${vs.length} vectors for ${xs.length} inputs`);
  vs.forEach((t, i) => checkV(t, xs[i], `v ${i}`));
  const out = callOn(fn, xs);
  if (out.numel() !== 1)
    throw new KilnError('ERR_ARG', `autograd.functional.vhp: fn must return one element, got ${shapeStr(out._shape)}`);
  const gs = grads(out, xs, null, true, true);
  const dot = enableGrad(() => gs.map((g, i) => g.mul(vs[i]).sum()).reduce((a, b) => a.add(b)));
  const hv = grads(dot, xs, null, !!opts.createGraph, false);
  return { output: opts.createGraph ? out : out.detach(), vhp: shaped(inputs, hv) };
}

/** H v; the same as vhp (Hessians are symmetric), as torch has both. */
export function hvp(fn: Fn, inputs: Inputs, v: Inputs, opts: FunctionalOptions = {}) {
  const { output, vhp: hv } = vhp(fn, inputs, v, opts);
  return { output, hvp: hv };
}
