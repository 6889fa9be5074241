/**
 * An autograd node: the backward of one op application. It keeps its own handles on the inputs
 * (and output) its gradient formula needs, so users may dispose their tensors after the forward
 * pass; the handles are released after backward() unless retainGraph is set.
 *
 * Nodes are counted, as PyTorch's are: a node is held by each tensor handle that has it as its
 * gradFn and by each node with an edge to it, and when the last lets go (a dispose(), a kiln.scope()
 * ending, a node freed in turn) it frees its saved handles at once. Without the count a forward
 * pass with grad on and no backward kept every saved tensor until the garbage collector found the
 * graph: 30 softmaxes of 64 MB, each output disposed, held 2-4 GB.
 */
import { KilnError } from '../errors';
import type { Tensor } from '../tensor';
import { gradMode } from './grad_mode';
import { ensureFresh } from './inplace';

export interface GradCtx {
  /** Handles on the op's inputs (tensors only, in call order). */
  inputs: Tensor[];
  /** Handle on the output, when the op asked for it. */
  output: Tensor | null;
  /** Non-tensor arguments of the op. */
  attrs: Record<string, unknown>;
  /**
   * Tensors the node owns outright (no version check, no edge): disposed with the node unless
   * the gradient formula takes them out of the list (crossEntropy's gradient written by its forward).
   */
  owned: Tensor[];
}

/** Returns one gradient per tensor input (null where no gradient flows). */
export type GradFn = (g: Tensor, ctx: GradCtx) => (Tensor | null)[];

/**
 * A gradient that is zero outside one region of its input: slice's backward, when no graph of the
 * gradient is recorded. The engine adds `into` an accumulator it owns instead of building a
 * full-size gradient per slice: a loop over x.select(0, t) for t < L (an RNN's steps, unbind)
 * otherwise costs L zero-filled tensors of x's size and L full additions in the backward pass.
 */
export class PartialGrad {
  constructor(
    /** The gradient as a tensor of the input's shape (zeros outside the region). */
    readonly dense: () => Tensor,
    /** Adds the region's gradient into `acc` (the input's shape), in place. */
    readonly into: (acc: Tensor) => void,
  ) {}
}

/** A node's own gradient formula: a GradFn, or one that may return partial gradients. */
export type NodeFn = (g: Tensor, ctx: GradCtx) => (Tensor | PartialGrad | null)[];

export type Edge = { node: Node } | { leaf: Tensor } | null;

// Nodes whose count reached zero, freed by drain() in a loop: a long chain frees without a deep
// recursion (a node's saved handles let go of the nodes before it).
const pending: Node[] = [];
let draining = false;
function drain(): void {
  draining = true;
  try {
    for (let n = pending.pop(); n; n = pending.pop()) n._free();
  } finally {
    draining = false;
  }
}

export class Node {
  readonly edges: Edge[];
  private ctx: GradCtx | null;
  private versions: number[];
  private outVersion: number;
  private refs = 0;
  private freed = false;
  /** Gradient hooks of the tensor this node made (Tensor.registerHook), run on its summed gradient. */
  hooks: ((g: Tensor) => Tensor | void | null | undefined)[] | null = null;
  /** Tensor whose .grad this node fills (retainGrad()). */
  retainTarget: Tensor | null = null;
  constructor(
    readonly name: string,
    inputs: Tensor[],
    readonly fn: NodeFn,
    attrs: Record<string, unknown>,
    output: Tensor | null,
    owned: Tensor[] = [],
  ) {
    for (const t of inputs) ensureFresh(t, name);
    this.edges = inputs.map((t) =>
      !t._requiresGrad ? null : t._gradFn ? { node: t._gradFn } : { leaf: t._origin ?? t },
    );
    for (const e of this.edges) if (e && 'node' in e) e.node._hold();
    this.ctx = { inputs: inputs.map((t) => t._retain()), output: output ? output._retain() : null, attrs, owned };
    this.versions = this.ctx.inputs.map((t) => t._storage.version);
    this.outVersion = output ? output._storage.version : 0;
    if (this.ctx.output) {
      // The output is made by this node: its saved handle differentiates through it (createGraph).
      // It does not hold the node (the node holds it). An in-place op's output had a history.
      this.ctx.output._setGradFn(null);
      this.ctx.output._gradFn = this;
      this.ctx.output._requiresGrad = true;
    }
  }

  get released(): boolean {
    return this.ctx === null;
  }

  backward(g: Tensor): (Tensor | PartialGrad | null)[] {
    if (!this.ctx)
      throw new KilnError(
        'ERR_AUTOGRAD',
        `backward: ${this.name} was already used by a backward pass and its saved tensors were freed; pass { retainGraph: true } to the first backward() to go through the graph twice`,
      );
    this.ctx.inputs.forEach((t, i) => {
      if (t._storage.version !== this.versions[i] && this.versions[i] >= 0)
        throw new KilnError(
          'ERR_AUTOGRAD',
          `backward: input ${i} of ${this.name} (shape [${t._shape.join(', ')}]) was modified in place after the forward pass; its gradient would be wrong`,
        );
    });
    const out = this.ctx.output;
    if (out && out._storage.version !== this.outVersion)
      throw new KilnError(
        'ERR_AUTOGRAD',
        `backward: the output of ${this.name} (shape [${out._shape.join(', ')}]), which its gradient reads, was modified in place after the forward pass; its gradient would be wrong`,
      );
    return this.fn(g, this.ctx);
  }

  /**
   * @internal Stops checking the versions of the saved inputs (those on `storage`, or all): the
   * node's formula reads only their shapes and dtypes (views, ops that save their output), so an
   * in-place write to them later leaves its gradient right.
   */
  _inputsUnread(storage?: Tensor['_storage']): void {
    this.ctx?.inputs.forEach((t, i) => {
      if (!storage || t._storage === storage) this.versions[i] = -1;
    });
  }

  release(): void {
    if (!this.ctx) return;
    const ctx = this.ctx;
    this.ctx = null;
    for (const t of ctx.inputs) t.dispose();
    ctx.output?.dispose();
    for (const t of ctx.owned) t.dispose();
  }

  /** @internal A tensor handle or a node takes this node as its gradFn or edge. */
  _hold(): void {
    this.refs++;
  }

  /** @internal The handle or node let go; at zero the node frees its saved tensors. */
  _drop(): void {
    if (--this.refs > 0 || this.freed) return;
    pending.push(this);
    if (!draining) drain();
  }

  /** @internal Frees the saved handles and lets go of the nodes before this one (drain() only). */
  _free(): void {
    if (this.freed) return;
    this.freed = true;
    this.release();
    for (const e of this.edges) if (e && 'node' in e) e.node._drop();
  }
}

/** True when an op on these inputs must record a node. */
export function needsGrad(inputs: readonly Tensor[]): boolean {
  if (!gradMode.enabled) return false;
  for (const t of inputs) {
    if (t._rebases !== t._storage.rebases) ensureFresh(t, 'autograd');
    if (t._requiresGrad) return true;
  }
  return false;
}

/** Attaches a node to `out` when any input requires grad (and grad mode is on). */
export function record(
  name: string,
  out: Tensor,
  inputs: Tensor[],
  fn: NodeFn,
  attrs: Record<string, unknown> = {},
  saveOutput = false,
  owned: Tensor[] = [],
): Tensor {
  if (!needsGrad(inputs)) {
    for (const t of owned) t.dispose();
    return out;
  }
  // the node first: an in-place op's out is among its inputs, with the history it had
  const node = new Node(name, inputs, fn, attrs, saveOutput ? out : null, owned);
  out._requiresGrad = true;
  out._setGradFn(node);
  return out;
}

/** record() for a formula that reads its inputs' shapes and dtypes only (views, relu ...). */
export function recordUnread(...args: Parameters<typeof record>): Tensor {
  const out = record(...args);
  out._gradFn?._inputsUnread();
  return out;
}
