/**
 * Random numbers from Philox 4x32-10 (native/core/philox.h). The default generator holds a
 * 64-bit seed and a counter offset; each call draws from (seed, offset) and advances offset by
 * the element count, so a seed gives the same numbers on any thread count (and device).
 */
import { inplaceNeedsGrad, overwrite } from '../autograd/inplace';
import { fromNumbers, TensorOptions } from '../creation';
import { checkDevice, getDefaultDevice } from '../device';
import { runKernel } from '../dispatch';
import { DType, FLOAT_DTYPES, checkDType, isFloating } from '../dtype';
import { KilnError } from '../errors';
import { checkShape, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { bumpVersion, checkTensor, withDetached } from './kinds';
import { OP } from './op_ids.gen';
import type { Case, OpRow } from './row';

const TWO32 = 4294967296;

/** A Philox generator: seed and counter offset. */
export class Generator {
  private seedHi = 0;
  private seedLo = 0;
  /** Counter blocks consumed (kept below 2^53). */
  offset = 0;
  constructor(seed: number | bigint = 0) {
    this.manualSeed(seed);
  }
  manualSeed(seed: number | bigint): this {
    let s: bigint;
    if (typeof seed === 'bigint') s = seed;
    else if (Number.isSafeInteger(seed)) s = BigInt(seed);
    else throw new KilnError('ERR_ARG', `manualSeed: seed must be an integer, got ${seed}`);
    s = BigInt.asUintN(64, s);
    this.seedHi = Number(s >> 32n);
    this.seedLo = Number(s & 0xffffffffn);
    this.offset = 0;
    return this;
  }
  initialSeed(): bigint {
    return (BigInt(this.seedHi) << 32n) | BigInt(this.seedLo);
  }
  /** Attributes for the kernel, then advance past the numbers drawn. */
  take(numel: number): number[] {
    const attrs = [this.seedHi, this.seedLo, Math.floor(this.offset / TWO32), this.offset % TWO32];
    this.offset += numel;
    return attrs;
  }
  getState(): { seed: bigint; offset: number } {
    return { seed: this.initialSeed(), offset: this.offset };
  }
  setState(s: { seed: bigint | number; offset: number }): this {
    this.manualSeed(s.seed);
    this.offset = s.offset;
    return this;
  }
}

/** The default generator (kiln.manualSeed seeds it). */
export const defaultGenerator = new Generator(0);

/** Seeds the default generator; returns it. */
export function manualSeed(seed: number | bigint): Generator {
  return defaultGenerator.manualSeed(seed);
}

interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

function fillRandom(
  t: Tensor,
  kind: 'uniform' | 'normal',
  p0: number,
  p1: number,
  gen: Generator = defaultGenerator,
): Tensor {
  if (!isFloating(t.dtype)) throw new KilnError('ERR_DTYPE', `${kind}: needs a floating dtype, got ${t.dtype}`);
  runKernel(kind === 'uniform' ? OP.UNIFORM : OP.NORMAL, [t], [], [...gen.take(t.numel()), p0, p1]);
  return t;
}

function newFloat(op: string, shape: number[], opts?: RandomOptions): Tensor {
  const dtype = opts?.dtype === undefined ? 'float32' : checkDType(opts.dtype, op);
  const device = checkDevice(opts?.device, op);
  if (!isFloating(dtype)) throw new KilnError('ERR_DTYPE', `${op}: needs a floating dtype, got ${dtype}`);
  return Tensor._empty(checkShape(shape, op), dtype, op, device);
}

const done = (t: Tensor, opts?: RandomOptions) => (opts?.requiresGrad ? t.requiresGrad_() : t);

/** Uniform in [0, 1). */
export function rand(shape: number[], opts?: RandomOptions): Tensor {
  return done(fillRandom(newFloat('rand', shape, opts), 'uniform', 0, 1, opts?.generator), opts);
}
/** Standard normal. */
export function randn(shape: number[], opts?: RandomOptions): Tensor {
  return done(fillRandom(newFloat('randn', shape, opts), 'normal', 0, 1, opts?.generator), opts);
}
/** Integers uniform in [low, high); int64 unless a dtype is given. */
export function randint(low: number, high: number, shape: number[], opts?: RandomOptions): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low)
    throw new KilnError('ERR_ARG', `randint: need integers low < high, got ${low} and ${high}`);
  const dtype: DType = opts?.dtype === undefined ? 'int64' : checkDType(opts.dtype, 'randint');
  const u = fillRandom(
    newFloat('randint', shape, { dtype: 'float64', device: opts?.device }),
    'uniform',
    low,
    high,
    opts?.generator,
  );
  const f = u.floor();
  u.dispose();
  const out = f.to(dtype);
  f.dispose();
  return out;
}
/** 1 with probability p (elementwise), else 0, in p's dtype. */
export function bernoulli(p: Tensor, opts?: { generator?: Generator }): Tensor {
  checkTensor(p, 'bernoulli', 'p');
  const dtype = isFloating(p.dtype) ? p.dtype : 'float32';
  const u = fillRandom(
    Tensor._empty(p._shape.slice(), dtype === 'float64' ? 'float64' : 'float32', 'bernoulli', p.device),
    'uniform',
    0,
    1,
    opts?.generator,
  );
  const m = withDetached(p, (pd) => u.lt(pd));
  u.dispose();
  const out = m.to(dtype);
  m.dispose();
  return out;
}

/** Fills t in place with uniform numbers in [from, to). */
export function uniform_(t: Tensor, from = 0, to = 1, opts?: { generator?: Generator }): Tensor {
  checkTensor(t, 'uniform_', 'self');
  if (inplaceNeedsGrad('uniform_', t)) return overwrite('uniform_', t, () => uniform_(t, from, to, opts));
  fillRandom(t, 'uniform', from, to, opts?.generator);
  bumpVersion(t);
  return t;
}
/** Fills t in place with normal numbers. */
export function normal_(t: Tensor, mean = 0, std = 1, opts?: { generator?: Generator }): Tensor {
  checkTensor(t, 'normal_', 'self');
  if (!(std >= 0)) throw new KilnError('ERR_ARG', `normal_: std must be non-negative, got ${std}`);
  if (inplaceNeedsGrad('normal_', t)) return overwrite('normal_', t, () => normal_(t, mean, std, opts));
  fillRandom(t, 'normal', mean, std, opts?.generator);
  bumpVersion(t);
  return t;
}

// ---------------------------------------------------------------------------------------------
// Rows: the reference is the distribution's moments plus the exact-replay property.

const momentsCase = (kind: 'uniform' | 'normal', dtype: DType): Case[] => {
  const g = new Generator(1234);
  const t = fillRandom(
    Tensor._empty([20000], dtype, kind, getDefaultDevice()),
    kind,
    kind === 'uniform' ? -1 : 2,
    kind === 'uniform' ? 3 : 0.5,
    g,
  );
  const xs = t.to('float64').data() as Float64Array;
  const n = xs.length;
  let m = 0;
  for (const x of xs) m += x / n;
  let v = 0;
  for (const x of xs) v += (x - m) ** 2 / (n - 1);
  const [em, ev] = kind === 'uniform' ? [1, 16 / 12] : [2, 0.25];
  const inRange = kind === 'uniform' ? xs.every((x) => x >= -1 && x <= 3) : true;
  t.dispose();
  const again = fillRandom(Tensor._empty([5], dtype, kind, getDefaultDevice()), kind, 0, 1, new Generator(7));
  const replay = fillRandom(Tensor._empty([5], dtype, kind, getDefaultDevice()), kind, 0, 1, new Generator(7));
  const stats = fromNumbers(
    [Math.abs(m - em) < 0.05 ? 1 : 0, Math.abs(v / ev - 1) < 0.05 ? 1 : 0, inRange ? 1 : 0],
    [3],
    'float64',
  );
  return [
    {
      label: `mean, variance and range of 20000 draws (${shapeStr([20000])})`,
      got: stats,
      want: { shape: [3], data: [1, 1, 1] },
    },
    { label: 'same seed, same numbers', got: again, want: { shape: [5], data: replay._numbers() } },
  ];
};

const rowFor = (kind: 'uniform' | 'normal'): OpRow<(t: Tensor, a?: number, b?: number) => Tensor> => ({
  name: kind,
  kind: 'random',
  native: { nin: 0, nout: 1, nattr: 6 },
  dtypes: FLOAT_DTYPES,
  fn: kind === 'uniform' ? uniform_ : normal_,
  grad: { nondiff: 'random sampling' },
  cases: (_rng, dtype) => momentsCase(kind, dtype),
  gradSamples: () => [],
  errors: () => [
    {
      label: 'integer tensor',
      run: () => (kind === 'uniform' ? uniform_ : normal_)(fromNumbers([1], [1], 'int32')),
      code: 'ERR_DTYPE',
    },
    { label: 'integer dtype for rand', run: () => rand([2], { dtype: 'int64' }), code: 'ERR_DTYPE' },
    { label: 'bad randint bounds', run: () => randint(5, 5, [2]), code: 'ERR_ARG' },
    { label: 'bad seed', run: () => manualSeed(1.5), code: 'ERR_ARG' },
  ],
});

export const uniformRow = rowFor('uniform');
export const normalRow = rowFor('normal');
