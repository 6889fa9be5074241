/**
 * The backward pass: topological order over the nodes reachable from the roots, one gradient
 * per node output, accumulation into leaves' .grad (backward) or into a result map
 * (autograd.grad). Gradients are computed with ordinary ops, so with createGraph they are
 * themselves differentiable. Temporaries made during the pass are freed at its end.
 */
import { KilnError } from '../errors';
import { shapeStr } from '../shape';
import { scopeStore } from '../storage';
import type { Tensor } from '../tensor';
import { enableGrad, noGrad } from './grad_mode';
import { runHooks } from './hooks';
import { ensureFresh } from './inplace';
import { PartialGrad, type Node } from './node';

type Grad = Tensor | PartialGrad;
const dense = (g: Grad): Tensor => (g instanceof PartialGrad ? g.dense() : g);
/** Whether `g` can be added into `acc` in place: the same shape and dtype (no promotion). */
const inPlace = (acc: Tensor, g: Tensor): boolean =>
  acc.dtype === g.dtype && acc._shape.length === g._shape.length && acc._shape.every((d, i) => d === g._shape[i]);

export interface BackwardOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
}

interface Run {
  roots: Tensor[];
  rootGrads: Tensor[];
  retainGraph: boolean;
  createGraph: boolean;
  /** autograd.grad: collect gradients for these tensors instead of writing .grad */
  inputs: Tensor[] | null;
  allowUnused?: boolean;
}

function topoOrder(rootNodes: Node[]): { order: Node[]; deps: Map<Node, number> } {
  const deps = new Map<Node, number>();
  const seen = new Set<Node>();
  const stack = [...rootNodes];
  for (const n of rootNodes) seen.add(n);
  while (stack.length) {
    const n = stack.pop()!;
    for (const e of n.edges) {
      if (!e || !('node' in e)) continue;
      deps.set(e.node, (deps.get(e.node) ?? 0) + 1);
      if (!seen.has(e.node)) {
        seen.add(e.node);
        stack.push(e.node);
      }
    }
  }
  // Kahn's algorithm from the roots.
  const order: Node[] = [];
  const pending = new Map(deps);
  const ready = rootNodes.filter((n, i) => !pending.get(n) && rootNodes.indexOf(n) === i);
  while (ready.length) {
    const n = ready.pop()!;
    order.push(n);
    for (const e of n.edges) {
      if (!e || !('node' in e)) continue;
      const left = pending.get(e.node)! - 1;
      pending.set(e.node, left);
      if (left === 0) ready.push(e.node);
    }
  }
  return { order, deps };
}

/** The passes running now, innermost last (a checkpoint's recomputation runs one inside another). */
const passes: Run[] = [];
/** @internal Whether the innermost pass running is autograd.grad's (it fills no .grad). */
export const inGradCall = (): boolean => passes.length > 0 && passes[passes.length - 1].inputs !== null;

function execute(run: Run): Map<Tensor, Tensor> {
  passes.push(run);
  try {
    return executeRun(run);
  } finally {
    passes.pop();
  }
}

function executeRun(run: Run): Map<Tensor, Tensor> {
  const temps = new Set<{ dispose(): void }>();
  const results = new Map<Tensor, Tensor>(); // leaf or input -> gradient (autograd.grad)
  const keep = new Set<Tensor>();
  const leaves: Tensor[] = [];
  const visited: Node[] = [];
  const found = new Map<Tensor, Grad>(); // the results while the pass runs
  const body = () => {
    const grads = new Map<Node, Grad>();
    const wanted = run.inputs ? new Set(run.inputs) : null;
    // Sums this pass made that nothing else holds yet: further gradients are added into them in
    // place (without createGraph). One leaves the set when a node takes it, since a node may pass
    // its gradient on as an input's (add, views), so the same tensor can then sit in two sums.
    const own = new Set<Tensor>();
    const add = (prev: Grad | undefined, g: Grad): Grad => {
      if (!prev) return g;
      if (run.createGraph) return dense(prev).add(dense(g));
      if (prev instanceof PartialGrad && !(g instanceof PartialGrad)) [prev, g] = [g, prev];
      if (!(prev instanceof PartialGrad) && !(g instanceof PartialGrad) && !(own.has(prev) && inPlace(prev, g))) {
        const sum = prev.add(g);
        own.add(sum);
        return sum;
      }
      // a partial gradient, or a sum of ours: add into a tensor this pass owns
      const acc = prev instanceof PartialGrad ? prev.dense() : own.has(prev) ? prev : prev.clone();
      own.add(acc);
      if (g instanceof PartialGrad) g.into(acc);
      else acc.add_(g);
      return acc;
    };
    const take = (g: Grad): Tensor => {
      const t = dense(g);
      own.delete(t);
      return t;
    };
    const leafGrads = new Map<Tensor, Grad>();
    const deliverLeaf = (leaf: Tensor, g: Grad) => {
      if (wanted) {
        if (wanted.has(leaf)) found.set(leaf, add(found.get(leaf), g));
        return;
      }
      leafGrads.set(leaf, add(leafGrads.get(leaf), g));
    };
    const rootNodes: Node[] = [];
    for (const r of run.roots) ensureFresh(r, 'backward');
    run.roots.forEach((r, i) => {
      const g = run.rootGrads[i];
      if (r._gradFn) {
        grads.set(r._gradFn, add(grads.get(r._gradFn), g));
        rootNodes.push(r._gradFn);
      } else deliverLeaf(r, g);
    });
    const { order } = topoOrder(rootNodes);
    for (const node of order) {
      visited.push(node);
      const gp = grads.get(node);
      if (!gp) continue;
      grads.delete(node);
      const g = runHooks(node.hooks, take(gp));
      if (node.retainTarget) {
        if (wanted?.has(node.retainTarget)) found.set(node.retainTarget, add(found.get(node.retainTarget), g));
        else if (!wanted) deliverLeaf(node.retainTarget, g);
      }
      if (wanted)
        for (const t of wanted) if (t._gradFn === node && !node.retainTarget) found.set(t, add(found.get(t), g));
      const inGrads = node.backward(g);
      node.edges.forEach((e, i) => {
        const gi = inGrads[i];
        if (!e || !gi) return;
        if ('leaf' in e) deliverLeaf(e.leaf, gi);
        else grads.set(e.node, add(grads.get(e.node), gi));
      });
    }
    // autograd.grad's leaves: their hooks, as backward() runs them before .grad (a non-leaf's ran at its node)
    for (const [t, g] of found) if (!t._gradFn && t._hooks) found.set(t, runHooks(t._hooks, dense(g)));
    // Leaves are written once the pass is over, so stealing or updating in place is safe.
    for (const [leaf, g] of leafGrads) {
      accumulate(leaf, runHooks(leaf._hooks, take(g)), temps, run.createGraph, keep);
      leaves.push(leaf);
    }
  };
  scopeStore.run(temps, () => {
    run.createGraph ? enableGrad(body) : noGrad(body);
    for (const [t, g] of found) results.set(t, dense(g)); // dense: only made without a graph
  });
  for (const g of results.values()) keep.add(g);
  for (const t of temps) if (!keep.has(t as Tensor)) t.dispose();
  // Gradients outlive the pass. A leaf's gradient belongs to the leaf's scope (none for tensors
  // made outside any scope, such as parameters), so a scope that disposes a leaf also disposes its
  // gradient unless it returns the leaf; autograd.grad's results belong to the caller's scope.
  for (const t of keep) t._scope = null;
  const adopt = (t: Tensor, owner: Set<{ dispose(): void }> | null | undefined) => {
    if (!owner || t._disposed) return;
    owner.add(t);
    t._scope = owner;
  };
  for (const leaf of leaves) if (leaf.grad && keep.has(leaf.grad)) adopt(leaf.grad, leaf._scope);
  for (const g of results.values()) adopt(g, scopeStore.getStore());
  if (!run.retainGraph) for (const n of visited) n.release();
  return results;
}

function accumulate(
  leaf: Tensor,
  g: Tensor,
  temps: Set<{ dispose(): void }>,
  createGraph: boolean,
  keep: Set<Tensor>,
): void {
  if (leaf._disposed)
    throw new KilnError(
      'ERR_DISPOSED',
      `backward: a tensor of shape ${shapeStr(leaf._shape)} that needs a gradient was disposed`,
    );
  if (!leaf.grad) {
    // Own the gradient: copy a tensor the pass did not create (a user's grad argument) or one
    // whose memory something else shares.
    const own = temps.has(g) && !keep.has(g) && g._storage.refs === 1 && g.isContiguous();
    leaf.grad = own ? g : g.clone();
    keep.add(leaf.grad);
    return;
  }
  if (createGraph || leaf.grad._disposed) {
    const next = leaf.grad._disposed ? g : leaf.grad.add(g);
    leaf.grad = next;
    keep.add(next);
  } else {
    noGrad(() => leaf.grad!.add_(g));
  }
}

function defaultGrads(roots: Tensor[], grads: (Tensor | null | undefined)[] | undefined, fn: string): Tensor[] {
  return roots.map((r, i) => {
    r._check(fn);
    if (!r._requiresGrad)
      throw new KilnError(
        'ERR_AUTOGRAD',
        `${fn}: output ${i} does not require grad and has no grad_fn (did you forget requiresGrad?)`,
      );
    const g = grads?.[i];
    if (g) {
      g._check(fn);
      if (g._shape.join() !== r._shape.join())
        throw new KilnError(
          'ERR_SHAPE',
          `${fn}: gradient of shape ${shapeStr(g._shape)} does not match output of shape ${shapeStr(r._shape)}`,
        );
      return g;
    }
    if (r.numel() !== 1)
      throw new KilnError(
        'ERR_AUTOGRAD',
        `${fn}: grad can be implicitly created only for scalar outputs (got shape ${shapeStr(r._shape)}); pass a gradient`,
      );
    return noGrad(() => scopeStore.exit(() => r.onesLike()));
  });
}

/** tensor.backward(grad?, opts) */
export function backward(root: Tensor, grad?: Tensor | BackwardOptions | null, opts: BackwardOptions = {}): void {
  // backward({ retainGraph: true }): the options in the gradient's place
  if (grad !== null && grad !== undefined && typeof (grad as Tensor)._check !== 'function') {
    if (typeof grad !== 'object')
      throw new KilnError('ERR_ARG', `backward: grad must be a Tensor or an options object, got ${typeof grad}`);
    [grad, opts] = [null, grad as BackwardOptions];
  }
  const rootGrads = defaultGrads([root], [grad as Tensor | null | undefined], 'backward');
  const made = !grad;
  try {
    execute({
      roots: [root],
      rootGrads,
      retainGraph: !!opts.retainGraph,
      createGraph: !!opts.createGraph,
      inputs: null,
    });
  } finally {
    if (made && rootGrads[0] !== root.grad) rootGrads[0].dispose();
  }
}

/**
 * Gradients of outputs with respect to inputs, returned instead of written to .grad
 * (torch.autograd.grad). With createGraph the results can be differentiated again.
 * @example
 * const [dx] = kiln.autograd.grad(y, [x], { createGraph: true });
 */
export function grad(
  outputs: Tensor | Tensor[],
  inputs: Tensor | Tensor[],
  opts: BackwardOptions & { gradOutputs?: (Tensor | null)[]; allowUnused?: boolean } = {},
): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  for (const t of ins)
    if (!t._requiresGrad) throw new KilnError('ERR_AUTOGRAD', 'autograd.grad: every input must require grad');
  const rootGrads = defaultGrads(outs, opts.gradOutputs, 'autograd.grad');
  const res = execute({
    roots: outs,
    rootGrads,
    retainGraph: opts.retainGraph ?? !!opts.createGraph,
    createGraph: !!opts.createGraph,
    inputs: ins,
  });
  return ins.map((t, i) => {
    const g = res.get(t);
    if (!g && !opts.allowUnused)
      throw new KilnError(
        'ERR_AUTOGRAD',
        `autograd.grad: input ${i} is not reachable from the outputs (pass allowUnused: true to get null)`,
      );
    const outer = scopeStore.getStore();
    if (g) {
      g._scope = outer ?? null;
      outer?.add(g);
    }
    return g ?? null;
  });
}
