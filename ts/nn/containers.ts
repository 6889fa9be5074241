/** Containers: Sequential, ModuleList, ModuleDict. Children are properties named '0', '1', ... or by key. */
import { KilnError } from '../errors';
import { Module } from './module';

const slot = (m: Module): Record<string, unknown> => m as unknown as Record<string, unknown>;

/** A list of modules whose parameters are registered (it has no forward of its own). */
export class ModuleList extends Module {
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }
  get length(): number {
    return [...this.children()].length;
  }
  at(i: number): Module {
    const all = [...this.children()];
    const m = all[i < 0 ? i + all.length : i];
    if (!m)
      throw new KilnError(
        'ERR_INDEX',
        `${this.constructor.name}.at: index ${i} is out of range for ${all.length} modules`,
      );
    return m;
  }
  append(m: Module): this {
    this.registerModule(String(this.length), m);
    return this;
  }
  extend(ms: Iterable<Module>): this {
    for (const m of ms) this.append(m);
    return this;
  }
  forward(..._args: unknown[]): unknown {
    throw new KilnError('ERR_ARG', 'ModuleList has no forward(); iterate over it in your own forward');
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.children();
  }
}

/** Modules in order (a ModuleList); forward() feeds each one's output to the next. */
export class Sequential extends ModuleList {
  constructor(...modules: Module[]) {
    super(modules);
  }
  override forward(x: unknown): unknown {
    let y = x;
    for (const m of this.children()) y = m.forward(y);
    return y;
  }
}

/** Modules by name, in insertion order. */
export class ModuleDict extends Module {
  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    const entries = Symbol.iterator in modules ? [...(modules as Iterable<[string, Module]>)] : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
  }
  set(key: string, m: Module): this {
    if (key === 'training' || key.startsWith('_') || (key in this && !(slot(this)[key] instanceof Module)))
      throw new KilnError('ERR_ARG', `ModuleDict: '${key}' cannot be a key (it is reserved or a property)`);
    this.registerModule(key, m);
    return this;
  }
  get(key: string): Module | undefined {
    const m = slot(this)[key];
    return m instanceof Module ? m : undefined;
  }
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }
  keys(): string[] {
    return [...this.namedChildren()].map(([k]) => k);
  }
  values(): Module[] {
    return [...this.children()];
  }
  entries(): [string, Module][] {
    return [...this.namedChildren()];
  }
  forward(): never {
    throw new KilnError('ERR_ARG', 'ModuleDict has no forward(); look modules up in your own forward');
  }
}
