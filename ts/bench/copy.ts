/**
 * The memory-bandwidth reference of the memory-bound benches: a float32 copy of n elements,
 * done three ways on the same memory: kiln's copy_ (memcpy per run, on kiln's threads),
 * TypedArray.prototype.set and Buffer.prototype.copy (memmove on the JS thread). The best of
 * the three is "the copy bandwidth" the benches compare against.
 */
import type { Tensor } from '../index';
import { Measurement, Stats, expectClose, gbps, sampleIndices, Variant } from './harness';

/** Implementation names of the copy references, as they appear in records. */
const COPY_IMPLS = ['kiln copy_', 'TypedArray.set', 'Buffer.copy'] as const;

/**
 * Copy variants from `src` into `dst` (contiguous float32 tensors of one size), checked first.
 * The JS references use zero-copy views of the same blocks, so page state and alignment match.
 */
export function copyVariants(src: Tensor, dst: Tensor): Variant[] {
  const s = src.data() as Float32Array,
    d = dst.data() as Float32Array;
  const sb = Buffer.from(s.buffer, s.byteOffset, s.byteLength),
    db = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  const runs: Record<(typeof COPY_IMPLS)[number], () => void> = {
    'kiln copy_': () => dst.copy_(src),
    'TypedArray.set': () => d.set(s),
    'Buffer.copy': () => sb.copy(db),
  };
  const probe = sampleIndices(s.length);
  for (const impl of COPY_IMPLS) {
    d.fill(Number.NaN);
    runs[impl]();
    expectClose(
      impl,
      probe.map((i) => d[i]),
      probe.map((i) => s[i]),
      () => 0,
    );
  }
  return COPY_IMPLS.map((impl) => ({ impl, run: runs[impl] }));
}

/**
 * kiln's copy_ from src into dst, to time in the same rounds as a kernel (measure()'s A B A B ...),
 * and the record of such a timing: the copy bandwidth at the time the kernel ran.
 */
export interface Beside {
  variant: Variant;
  record(stats: Stats): Measurement;
}
export function besideCopy(bench: string, src: Tensor, dst: Tensor): Beside {
  return {
    variant: { impl: 'kiln copy_', run: () => dst.copy_(src) },
    record: (stats) => copyRecord(bench, 'kiln copy_', src.numel(), stats),
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
