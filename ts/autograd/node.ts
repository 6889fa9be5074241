/**
 * An autograd node: the backward of one op application. It keeps its own handles on the inputs
 * (and output) its gradient formula needs, so users may dispose their tensors after the forward
 * pass; the handles are released after backward() unless retainGraph is set.
 */
import { KilnError } from '../errors';
import type { Tensor } from '../tensor';
import { gradMode } from './grad_mode';

export interface GradCtx {
  /** Handles on the op's inputs (tensors only, in call order). */
  inputs: Tensor[];
  /** Handle on the output, when the op asked for it. */
  output: Tensor | null;
  /** Non-tensor arguments of the op. */
  attrs: Record<string, unknown>;
}

/** Returns one gradient per tensor input (null where no gradient flows). */
export type GradFn = (g: Tensor, ctx: GradCtx) => (Tensor | null)[];

export type Edge = { node: Node } | { leaf: Tensor } | null;

export class Node {
  readonly edges: Edge[];
  private ctx: GradCtx | null;
  private versions: number[];
  /** Tensor whose .grad this node fills (retainGrad()). */
  retainTarget: Tensor | null = null;
  constructor(
    readonly name: string,
    inputs: Tensor[],
    readonly fn: GradFn,
    attrs: Record<string, unknown>,
    output: Tensor | null,
  ) {
    this.edges = inputs.map((t) =>
      !t._requiresGrad ? null : t._gradFn ? { node: t._gradFn } : { leaf: t._origin ?? t },
    );
    this.ctx = { inputs: inputs.map((t) => t._retain()), output: output ? output._retain() : null, attrs };
    this.versions = this.ctx.inputs.map((t) => t._storage.version);
    if (this.ctx.output) {
      // The output is made by this node: its saved handle differentiates through it (createGraph).
      this.ctx.output._gradFn = this;
      this.ctx.output._requiresGrad = true;
    }
  }

  get released(): boolean {
    return this.ctx === null;
  }

  backward(g: Tensor): (Tensor | null)[] {
    if (!this.ctx)
      throw new KilnError(
        'ERR_AUTOGRAD',
        `backward: ${this.name} was already used by a backward pass and its saved tensors were freed; pass { retainGraph: true } to the first backward() to go through the graph twice`,
      );
    this.ctx.inputs.forEach((t, i) => {
      if (t._storage.version !== this.versions[i])
        throw new KilnError(
          'ERR_AUTOGRAD',
          `backward: input ${i} of ${this.name} (shape [${t._shape.join(', ')}]) was modified in place after the forward pass; its gradient would be wrong`,
        );
    });
    return this.fn(g, this.ctx);
  }

  release(): void {
    if (!this.ctx) return;
    for (const t of this.ctx.inputs) t.dispose();
    this.ctx.output?.dispose();
    this.ctx = null;
  }
}

/** True when an op on these inputs must record a node. */
export function needsGrad(inputs: readonly Tensor[]): boolean {
  if (!gradMode.enabled) return false;
  for (const t of inputs) if (t._requiresGrad) return true;
  return false;
}

/** Attaches a node to `out` when any input requires grad (and grad mode is on). */
export function record(
  name: string,
  out: Tensor,
  inputs: Tensor[],
  fn: GradFn,
  attrs: Record<string, unknown> = {},
  saveOutput = false,
): Tensor {
  if (!needsGrad(inputs)) return out;
  out._requiresGrad = true;
  out._gradFn = new Node(name, inputs, fn, attrs, saveOutput ? out : null);
  return out;
}
