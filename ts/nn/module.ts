/**
 * nn.Module and nn.Parameter. A module's parameters, buffers and submodules are its own
 * properties, found in the order they were assigned (as PyTorch registers them): a property
 * holding a Parameter is a parameter, one holding a Module a submodule, and buffers are
 * declared with registerBuffer(). State-dict keys are PyTorch's: the property path in snake_case
 * (`selfAttn.inProjWeight` is `self_attn.in_proj_weight`), so checkpoints match PyTorch modules.
 */
import { noGrad } from '../autograd/grad_mode';
import type { RemovableHandle } from '../autograd/hooks';
import { KilnError } from '../errors';
import { keep } from '../memory';
import { shapeStr } from '../shape';
import { Tensor } from '../tensor';

const PARAM = Symbol('kiln.parameter');

/**
 * A tensor that is a module's learnable parameter: a leaf that requires grad. `new
 * nn.Parameter(t)` returns `t` itself (detached when it has history), marked, and outside any
 * kiln.scope(); `x instanceof nn.Parameter` tells parameters apart.
 */
export class Parameter {
  constructor(data: Tensor, requiresGrad = true) {
    const t = data.isLeaf ? data : data.detach();
    if (requiresGrad) t.requiresGrad_(true);
    (t as unknown as Record<symbol, boolean>)[PARAM] = true;
    keep(t);
    return t as unknown as Parameter;
  }
  static [Symbol.hasInstance](x: unknown): boolean {
    return x instanceof Tensor && (x as unknown as Record<symbol, boolean>)[PARAM] === true;
  }
}

/** Parameters are tensors: `new nn.Parameter(t)` has the Tensor type. */
// eslint-disable-next-line @typescript-eslint/no-redeclare
export interface Parameter extends Tensor {}

type ForwardHook = (module: Module, args: unknown[], output?: unknown) => unknown;
const forwardHooks = new WeakMap<Module, { pre: ForwardHook[]; post: ForwardHook[] }>();

/** Adds a forward hook, wrapping m.forward (once) in a function that runs them around it. */
function addHook(m: Module, kind: 'pre' | 'post', hook: ForwardHook): RemovableHandle {
  if (typeof hook !== 'function') throw new KilnError('ERR_ARG', 'registerForwardHook: hook must be a function');
  let hooks = forwardHooks.get(m);
  if (!hooks) {
    const h = (hooks = { pre: [] as ForwardHook[], post: [] as ForwardHook[] });
    forwardHooks.set(m, h);
    const inner = m.forward;
    Object.defineProperty(m, 'forward', {
      configurable: true,
      writable: true,
      enumerable: false,
      value: (...args: unknown[]): unknown => {
        for (const f of h.pre.slice()) {
          const r = f(m, args);
          if (r !== undefined) args = Array.isArray(r) ? r : [r];
        }
        let out = inner.apply(m, args);
        for (const f of h.post.slice()) {
          const r = f(m, args, out);
          if (r !== undefined) out = r;
        }
        return out;
      },
    });
  }
  const list = hooks[kind];
  list.push(hook);
  return {
    remove() {
      const i = list.indexOf(hook);
      if (i >= 0) list.splice(i, 1);
    },
  };
}

/** camelCase property name to PyTorch's snake_case key part (`runningMean` -> `running_mean`). */
export const snakeCase = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * Base class of every layer. Subclasses assign parameters (nn.Parameter), submodules and
 * buffers (registerBuffer) in the constructor and implement forward().
 * @example
 * class Mlp extends nn.Module {
 *   fc1 = new nn.Linear(784, 128);
 *   fc2 = new nn.Linear(128, 10);
 *   forward(x: kiln.Tensor) { return this.fc2.forward(this.fc1.forward(x).relu()); }
 * }
 */
export abstract class Module {
  /** train() / eval() mode; dropout and batch norm read it. */
  training = true;
  /** @internal Names of buffer properties, and the ones left out of stateDict(). */
  private readonly _bufferNames = new Set<string>();
  private readonly _nonPersistent = new Set<string>();

  abstract forward(...args: unknown[]): unknown;

  /**
   * Calls hook(module, args) before every forward(); an array it returns replaces the arguments
   * (torch's register_forward_pre_hook).
   */
  registerForwardPreHook(hook: (module: this, args: unknown[]) => unknown[] | void): RemovableHandle {
    return addHook(this, 'pre', hook as ForwardHook);
  }
  /**
   * Calls hook(module, args, output) after every forward(); a value it returns replaces the
   * output (torch's register_forward_hook): to read or change intermediate features.
   * @example
   * const feats: kiln.Tensor[] = [];
   * model.layer2.registerForwardHook((_m, _args, out) => void feats.push((out as kiln.Tensor).detach()));
   */
  registerForwardHook(hook: (module: this, args: unknown[], output: unknown) => unknown): RemovableHandle {
    return addHook(this, 'post', hook as ForwardHook);
  }

  /** Declares `name` a buffer (saved in stateDict unless persistent is false, never trained). */
  registerBuffer(name: string, t: Tensor | null, persistent = true): void {
    if (name in this && !this._bufferNames.has(name))
      throw new KilnError('ERR_ARG', `registerBuffer: '${name}' is already a property of this module`);
    if (t) keep(t);
    this._bufferNames.add(name);
    if (!persistent) this._nonPersistent.add(name);
    (this as unknown as Record<string, unknown>)[name] = t;
  }
  /** Adds a parameter under `name` (same as assigning an nn.Parameter to the property). */
  registerParameter(name: string, p: Tensor | null): void {
    (this as unknown as Record<string, unknown>)[name] = p === null || p instanceof Parameter ? p : new Parameter(p);
  }
  /** Adds a submodule under `name` (same as assigning it to the property). */
  registerModule(name: string, m: Module | null): void {
    (this as unknown as Record<string, unknown>)[name] = m;
  }

  private ownEntries(): [string, unknown][] {
    return Object.entries(this).filter(([k]) => k !== 'training' && !k.startsWith('_'));
  }
  /** Direct submodules with their property names. */
  *namedChildren(): Generator<[string, Module]> {
    for (const [k, v] of this.ownEntries()) if (v instanceof Module) yield [k, v];
  }
  *children(): Generator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }
  /** This module and every submodule, depth first, with dotted paths ('' for this one). */
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [k, m] of this.namedChildren()) yield* m.namedModules(prefix ? `${prefix}.${k}` : k);
  }
  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }
  /** Parameters with dotted property paths (each tensor once, at its first path). */
  *namedParameters(prefix = '', recurse = true): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    for (const [path, m] of recurse ? this.namedModules(prefix) : [[prefix, this] as [string, Module]])
      for (const [k, v] of m.ownEntries())
        if (v instanceof Parameter && !seen.has(v as Tensor)) {
          seen.add(v as Tensor);
          yield [path ? `${path}.${k}` : k, v as Tensor];
        }
  }
  parameters(recurse = true): Tensor[] {
    return [...this.namedParameters('', recurse)].map(([, p]) => p);
  }
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix))
      for (const name of m._bufferNames) {
        const b = (m as unknown as Record<string, Tensor | null>)[name];
        if (b) yield [path ? `${path}.${name}` : name, b];
      }
  }
  buffers(): Tensor[] {
    return [...this.namedBuffers()].map(([, b]) => b);
  }

  /** Training mode on (or off) for this module and every submodule. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** Calls fn on every submodule (children first) and then on this one. */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }
  /** Clears every parameter's .grad (setToNone, the default, drops it; else fills it with 0). */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      if (!p.grad) continue;
      if (setToNone) {
        p.grad.dispose();
        p.grad = null;
      } else noGrad(() => p.grad!.zero_());
    }
  }
  /**
   * Moves parameters and buffers to a device or converts floating ones to a dtype, in place of
   * the old tensors (as PyTorch's Module.to does).
   */
  to(target: string): this {
    for (const m of this.modules())
      for (const [k, v] of Object.entries(m)) {
        if (!(v instanceof Tensor) || !(v instanceof Parameter || m._bufferNames.has(k))) continue;
        const isDtype = !target.startsWith('cpu') && !target.startsWith('cuda');
        if (isDtype && !(v.dtype.startsWith('float') || v.dtype === 'bfloat16')) continue;
        const moved = noGrad(() => v.to(target as never));
        if (moved === v) continue;
        const next = v instanceof Parameter ? new Parameter(moved, v.requiresGrad) : keep(moved);
        (m as unknown as Record<string, unknown>)[k] = next;
        v.dispose();
      }
    return this;
  }

  /**
   * Parameters and persistent buffers by PyTorch key (snake_case paths). The tensors are the
   * module's own (not copies), as in PyTorch.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [path, m] of this.namedModules()) {
      const pre = path ? `${path.split('.').map(snakeCase).join('.')}.` : '';
      // PyTorch's order: each module's parameters, then its buffers, then its children's.
      const own = m.ownEntries();
      for (const [k, v] of own) if (v instanceof Parameter) out.set(pre + snakeCase(k), v as Tensor);
      for (const [k, v] of own)
        if (v instanceof Tensor && m._bufferNames.has(k) && !m._nonPersistent.has(k)) out.set(pre + snakeCase(k), v);
    }
    return out;
  }

  /**
   * Copies values from a state dict (a Map or a plain object keyed like stateDict()) into this
   * module's tensors. strict (default): any missing or unexpected key throws ERR_STATE_DICT naming
   * them; a shape mismatch always throws, naming the key and both shapes.
   */
  loadStateDict(sd: Map<string, Tensor> | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const given = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !given.has(k));
    const unexpectedKeys = [...given.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    for (const [k, t] of own) {
      const src = given.get(k);
      if (src && src.shape.join() !== t.shape.join())
        mismatched.push(`${k}: checkpoint ${shapeStr(src.shape)}, module ${shapeStr(t.shape)}`);
    }
    if (mismatched.length || (strict && (missingKeys.length || unexpectedKeys.length))) {
      const parts = [];
      if (missingKeys.length) parts.push(`missing keys: ${missingKeys.join(', ')}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
      if (mismatched.length) parts.push(`shape mismatch: ${mismatched.join('; ')}`);
      throw new KilnError('ERR_STATE_DICT', `loadStateDict: ${parts.join('; ')}`);
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const src = given.get(k);
        if (src) t.copy_(src);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /**
   * A deep copy: parameters and buffers copied into new tensors, submodules cloned, other
   * properties copied (as copy.deepcopy does for PyTorch modules).
   */
  clone(): this {
    const copy = Object.create(Object.getPrototypeOf(this)) as Record<string, unknown>;
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) copy[k] = v.clone();
      else if (v instanceof Parameter)
        copy[k] = new Parameter(
          noGrad(() => (v as Tensor).clone()),
          (v as Tensor).requiresGrad,
        );
      else if (v instanceof Tensor) copy[k] = keep(noGrad(() => v.clone()));
      else if (v instanceof Set) copy[k] = new Set(v);
      else if (Array.isArray(v)) copy[k] = v.slice();
      else copy[k] = v;
    }
    return copy as this;
  }

  /** Number of parameter elements (trainable only with `trainableOnly`). */
  numParameters(trainableOnly = false): number {
    return this.parameters()
      .filter((p) => !trainableOnly || p.requiresGrad)
      .reduce((s, p) => s + p.numel(), 0);
  }

  /** A short name and the constructor arguments worth printing (subclasses override extraRepr). */
  extraRepr(): string {
    return '';
  }

  /** PyTorch-style nested description, with parameter counts per submodule and in total. */
  summary(): string {
    const lines: string[] = [];
    const walk = (name: string, m: Module, depth: number): void => {
      const own = m.parameters(false).reduce((s, p) => s + p.numel(), 0);
      const label = `${'  '.repeat(depth)}${name ? `(${name}): ` : ''}${m.constructor.name}(${m.extraRepr()})`;
      lines.push(own ? `${label}  [${own.toLocaleString('en-US')} params]` : label);
      for (const [k, c] of m.namedChildren()) walk(k, c, depth + 1);
    };
    walk('', this, 0);
    const total = this.numParameters(),
      trainable = this.numParameters(true);
    lines.push(`Total params: ${total.toLocaleString('en-US')} (trainable ${trainable.toLocaleString('en-US')})`);
    return lines.join('\n');
  }
  toString(): string {
    return this.summary();
  }
}
