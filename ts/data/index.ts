/**
 * kiln.data: Dataset, TensorDataset, Subset, randomSplit and DataLoader (torch.utils.data).
 * Shuffling and splitting are seeded, so an epoch's order is reproducible. A dataset may offer
 * getBatch(indices) to build a whole batch in one step (TensorDataset gathers rows with one
 * indexSelect per tensor instead of stacking single items).
 */
import { KilnError } from '../errors';
import { stack } from '../ops/composite';
import { tensor } from '../creation';
import { Tensor } from '../tensor';

export abstract class Dataset<T> {
  abstract get length(): number;
  abstract getItem(i: number): T;
  /** Optional: the collated batch of these items in one step. */
  getBatch?(indices: number[]): T;
}

/** Rows of equally long tensors: item i is [t0[i], t1[i], ...]. */
export class TensorDataset extends Dataset<Tensor[]> {
  readonly tensors: Tensor[];
  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new KilnError('ERR_ARG', 'TensorDataset: needs at least one tensor');
    const n = tensors[0].shape[0];
    for (const t of tensors)
      if (t.ndim === 0 || t.shape[0] !== n)
        throw new KilnError('ERR_SHAPE', 'TensorDataset: every tensor needs the same first dim');
    this.tensors = tensors;
  }
  get length(): number {
    return this.tensors[0].shape[0];
  }
  getItem(i: number): Tensor[] {
    if (!(i >= 0 && i < this.length))
      throw new KilnError('ERR_INDEX', `TensorDataset: index ${i} out of range for ${this.length} items`);
    return this.tensors.map((t) => t.select(0, i));
  }
  override getBatch(indices: number[]): Tensor[] {
    const idx = tensor(indices, { dtype: 'int64' });
    const out = this.tensors.map((t) => t.indexSelect(0, idx));
    idx.dispose();
    return out;
  }
}

/** The items of `dataset` at `indices`. */
export class Subset<T> extends Dataset<T> {
  constructor(
    readonly dataset: Dataset<T>,
    readonly indices: number[],
  ) {
    super();
  }
  get length(): number {
    return this.indices.length;
  }
  getItem(i: number): T {
    return this.dataset.getItem(this.indices[i]);
  }
  override getBatch(indices: number[]): T {
    const mapped = indices.map((i) => this.indices[i]);
    return this.dataset.getBatch
      ? this.dataset.getBatch(mapped)
      : (defaultCollate(mapped.map((i) => this.dataset.getItem(i))) as T);
  }
}

/** A small seeded generator (xoshiro128**) for shuffles and splits. */
export class Rng {
  private s: Uint32Array;
  constructor(seed = 0) {
    let x = (seed >>> 0) ^ 0x9e3779b9;
    const next = () => {
      x = (x + 0x6d2b79f5) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 15), z | 1);
      z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
      return (z ^ (z >>> 14)) >>> 0;
    };
    this.s = Uint32Array.from([next(), next(), next(), next()]);
  }
  /** A float in [0, 1). */
  next(): number {
    const s = this.s;
    const r = Math.imul(((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >>> 21);
    return r / 4294967296;
  }
  /** A permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}

/**
 * Splits a dataset into non-overlapping random subsets of the given lengths (or fractions
 * summing to 1; leftovers go to the first parts, as PyTorch), seeded.
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: number[], seed = 0): Subset<T>[] {
  const n = dataset.length;
  let sizes = lengths.slice();
  if (
    sizes.every((f) => f >= 0 && f <= 1) &&
    Math.abs(sizes.reduce((a, b) => a + b, 0) - 1) < 1e-9 &&
    sizes.some((f) => f < 1)
  ) {
    sizes = sizes.map((f) => Math.floor(f * n));
    let rest = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; rest > 0; i = (i + 1) % sizes.length, rest--) sizes[i]++;
  }
  if (sizes.some((s) => !Number.isInteger(s) || s < 0) || sizes.reduce((a, b) => a + b, 0) !== n)
    throw new KilnError(
      'ERR_ARG',
      `randomSplit: lengths ${JSON.stringify(lengths)} do not add up to the dataset's ${n} items`,
    );
  const perm = new Rng(seed).permutation(n);
  let at = 0;
  return sizes.map((s) => {
    const sub = new Subset(dataset, perm.slice(at, at + s));
    at += s;
    return sub;
  });
}

/** Stacks tensors, turns numbers into a tensor, and recurses into arrays and plain objects. */
export function defaultCollate(items: unknown[]): unknown {
  const first = items[0];
  if (first instanceof Tensor) return stack(items as Tensor[]);
  if (typeof first === 'number')
    return tensor(items as number[], { dtype: items.every(Number.isInteger) ? 'int64' : 'float32' });
  if (typeof first === 'boolean') return tensor(items as boolean[]);
  if (Array.isArray(first)) return first.map((_, k) => defaultCollate(items.map((it) => (it as unknown[])[k])));
  if (first && typeof first === 'object')
    return Object.fromEntries(
      Object.keys(first).map((k) => [k, defaultCollate(items.map((it) => (it as Record<string, unknown>)[k]))]),
    );
  return items;
}

export interface DataLoaderOptions<T, B> {
  batchSize?: number;
  shuffle?: boolean;
  dropLast?: boolean;
  /** Seed of the shuffle; each epoch (each iteration) draws the next permutation. */
  seed?: number;
  collate?: (items: T[]) => B;
}

/**
 * Batches of a dataset, optionally shuffled with a seed. `for (const b of loader)` builds each
 * batch when asked; `for await (const b of loader)` builds the next batch before handing over the
 * current one, so collation interleaves with the consumer's await points. A batch belongs to the
 * caller: pull it inside the step's kiln.scope() (as fit() does) or dispose it, else it waits
 * for the garbage collector.
 */
export class DataLoader<T, B = unknown> {
  readonly batchSize: number;
  private readonly rng: Rng;
  private readonly o: DataLoaderOptions<T, B>;
  epoch = 0;
  constructor(
    readonly dataset: Dataset<T>,
    opts: DataLoaderOptions<T, B> = {},
  ) {
    this.o = opts;
    this.batchSize = opts.batchSize ?? 1;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1)
      throw new KilnError('ERR_ARG', `DataLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    this.rng = new Rng(opts.seed ?? 0);
  }
  /** Number of batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.o.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }
  /** The index lists of the next epoch's batches (advances the shuffle). */
  private plan(): number[][] {
    const n = this.dataset.length;
    const order = this.o.shuffle ? this.rng.permutation(n) : Array.from({ length: n }, (_, i) => i);
    this.epoch++;
    const out: number[][] = [];
    for (let i = 0; i < n; i += this.batchSize) {
      const b = order.slice(i, i + this.batchSize);
      if (b.length < this.batchSize && this.o.dropLast) break;
      out.push(b);
    }
    return out;
  }
  private build(indices: number[]): B {
    if (this.o.collate) return this.o.collate(indices.map((i) => this.dataset.getItem(i)));
    if (this.dataset.getBatch) return this.dataset.getBatch(indices) as unknown as B;
    return defaultCollate(indices.map((i) => this.dataset.getItem(i))) as B;
  }
  *[Symbol.iterator](): Iterator<B> {
    for (const b of this.plan()) yield this.build(b);
  }
  async *[Symbol.asyncIterator](): AsyncIterator<B> {
    const batches = this.plan();
    let next: B | null = batches.length ? this.build(batches[0]) : null;
    for (let i = 0; i < batches.length; i++) {
      const cur = next!;
      // Build the following batch on the next turn of the event loop, before the consumer resumes.
      const pending =
        i + 1 < batches.length ? new Promise<B>((done) => setImmediate(() => done(this.build(batches[i + 1])))) : null;
      yield cur;
      next = pending ? await pending : null;
    }
  }
}

export { SPECIALS, Tokenizer, Vocab, dedupe, normalize, splitWords } from './text';
export type { EncodeOptions, NormalizeOptions, TokenizerMode, TrainOptions } from './text';
export { normalizeImage, randomCrop, randomHorizontalFlip } from './image';
