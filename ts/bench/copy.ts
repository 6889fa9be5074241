/**
 * The memory-bandwidth reference of the memory-bound benches: a float32 copy of n elements,
 * done three ways on the same memory: kiln's copy_ (memcpy per run, on kiln's threads),
 * TypedArray.prototype.set and Buffer.prototype.copy (memmove on the JS thread). The best of
 * the three is "the copy bandwidth" the benches compare against.
 *
 * Memory, not the last-level cache: each copy (and each kernel the benches time beside it) cycles
 * through enough sets of operands that a call never finds its inputs in the LLC (`rotation`). On
 * a Xeon here with a 260 MB L3, a 64 MB copy repeated on the same two buffers ran at 41.5 GB/s on
 * two threads, the same copy over four pairs at 28.8 and one copy of 256 MB at 27.0: the
 * repeated copy ran from L3, and kernels whose operands took more (a forward and backward: x, y,
 * gy and gx) were held against it. On an LLC of 32 MB (the Zen 5 these benches began on) one set
 * already takes twice the LLC, and nothing changes.
 */
import * as fs from 'node:fs';
import type { Tensor } from '../index';
import { Measurement, Stats, expectClose, gbps, sampleIndices, Variant } from './harness';

/** The size of the last-level cache in bytes, from sysfs (cpu0's highest level); 0 where unknown. */
export function llcBytes(): number {
  const dir = '/sys/devices/system/cpu/cpu0/cache';
  let best = { level: 0, bytes: 0 };
  try {
    for (const e of fs.readdirSync(dir).filter((d) => d.startsWith('index'))) {
      const level = Number(fs.readFileSync(`${dir}/${e}/level`, 'utf8'));
      const m = /^(\d+)([KMG]?)/.exec(fs.readFileSync(`${dir}/${e}/size`, 'utf8').trim());
      if (!m) continue;
      const bytes = Number(m[1]) * { '': 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 }[m[2] as '' | 'K' | 'M' | 'G'];
      if (level > best.level) best = { level, bytes };
    }
  } catch {
    return 0;
  }
  return best.bytes;
}

/**
 * How many sets of operands of `bytes` (what one call reads and writes) a bench cycles through
 * so that together they take twice the LLC: each call then finds its operands in memory. 1 where
 * the LLC is unknown, or one set already takes that much; at most kMaxSets (memory: 16 sets of a
 * forward+backward's 64 MB operands take 2 GB; a 1 GB L3 would ask for 35).
 */
const kMaxSets = 16;
export function rotation(bytes: number): number {
  return Math.min(kMaxSets, Math.max(1, Math.ceil((2 * llcBytes()) / bytes)));
}

/** n tensors from make(i): one per set of a rotation. */
export function sets<T>(n: number, make: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => make(i));
}

/** A function returning the items in turn, one per call. */
export function cycler<T>(items: T[]): () => T {
  let k = 0;
  return () => items[k++ % items.length];
}

/** Implementation names of the copy references, as they appear in records. */
const COPY_IMPLS = ['kiln copy_', 'TypedArray.set', 'Buffer.copy'] as const;

/**
 * Copy variants from `src` into `dst` (contiguous float32 tensors of one size), checked first.
 * The JS references use zero-copy views of the same blocks, so page state and alignment match.
 */
export function copyVariants(src: Tensor | Tensor[], dst: Tensor | Tensor[]): Variant[] {
  const pairs = pairsOf(src, dst).map(([st, dt]) => {
    const s = st.data() as Float32Array,
      d = dt.data() as Float32Array;
    return {
      st,
      dt,
      s,
      d,
      sb: Buffer.from(s.buffer, s.byteOffset, s.byteLength),
      db: Buffer.from(d.buffer, d.byteOffset, d.byteLength),
    };
  });
  const runs: Record<(typeof COPY_IMPLS)[number], () => void> = {
    'kiln copy_': cycled(pairs, (p) => p.dt.copy_(p.st)),
    'TypedArray.set': cycled(pairs, (p) => p.d.set(p.s)),
    'Buffer.copy': cycled(pairs, (p) => p.sb.copy(p.db)),
  };
  const { s, d } = pairs[0];
  const probe = sampleIndices(s.length);
  for (const impl of COPY_IMPLS) {
    d.fill(Number.NaN);
    for (let i = 0; i < pairs.length; i++) runs[impl](); // round to the first pair again
    expectClose(
      impl,
      probe.map((i) => d[i]),
      probe.map((i) => s[i]),
      () => 0,
    );
  }
  return COPY_IMPLS.map((impl) => ({ impl, run: runs[impl] }));
}

const pairsOf = (src: Tensor | Tensor[], dst: Tensor | Tensor[]): [Tensor, Tensor][] => {
  const s = Array.isArray(src) ? src : [src],
    d = Array.isArray(dst) ? dst : [dst];
  return s.map((t, i) => [t, d[i]]);
};

/** f on the items in turn, one per call. */
function cycled<T>(items: T[], f: (item: T) => unknown): () => void {
  const next = cycler(items);
  return () => {
    f(next());
  };
}

/**
 * kiln's copy_ from src into dst, to time in the same rounds as a kernel (measure()'s A B A B ...),
 * and the record of such a timing: the copy bandwidth at the time the kernel ran.
 */
export interface Beside {
  variant: Variant;
  record(stats: Stats): Measurement;
}
export function besideCopy(bench: string, src: Tensor | Tensor[], dst: Tensor | Tensor[]): Beside {
  const pairs = pairsOf(src, dst);
  return {
    variant: { impl: 'kiln copy_', run: cycled(pairs, ([s, d]) => d.copy_(s)) },
    record: (stats) => copyRecord(bench, 'kiln copy_', pairs[0][0].numel(), stats),
  };
}

/** The GB/s record of a float32 copy of n elements (read + write, 8 B per element). */
export function copyRecord(bench: string, impl: string, n: number, stats: Stats): Measurement {
  return {
    bench,
    name: 'copy',
    shape: [n],
    dtype: 'float32',
    impl,
    stats,
    unit: 'GB/s',
    value: gbps(8 * n, stats),
    ratios: {},
  };
}

/** The fastest of the copy measurements: the copy bandwidth the other rows are compared with. */
export function fastest(copies: Measurement[]): Measurement {
  return copies.reduce((best, m) => (m.value > best.value ? m : best));
}
