/**
 * `dispatch` bench: per-call overhead of a 16-element float32 add (`a.add(b)` then dispose), in
 * ns per op, timed in batches of --batch calls (median of --reps batches). Beside it, in the same
 * run: the pieces of that cost (the kernel call alone into a preallocated output, and creating
 * plus disposing a tensor), a bare N-API round trip, and the same add as a plain JS loop.
 * The target is at most 1 µs per call on the CPU.
 */
import * as kiln from '../index';
import { runKernel } from '../dispatch';
import { native } from '../native';
import { OP } from '../ops/op_ids.gen';
import { BenchOptions, Measurement, Variant, addRatios, expectClose, measure } from './harness';

const N = 16;
/** The budget for one small op on the CPU, in ns. */
export const TARGET_NS = 1000;

function jsAdd(x: Float32Array, y: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = x[i] + y[i];
}

/** Runs the dispatch bench; one measurement per variant. */
export function benchDispatch(opts: BenchOptions): Measurement[] {
  if (opts.verbose) process.stderr.write(`dispatch: ${N}-element add, batches of ${opts.batch}\n`);
  const a = kiln.randn([N]),
    b = kiln.randn([N]),
    pre = kiln.empty([N]);
  const xa = Float32Array.from(a.data() as Float32Array),
    xb = Float32Array.from(b.data() as Float32Array);
  const jsOut = new Float32Array(N);
  const c = a.add(b);
  const got = c.toArray() as number[];
  c.dispose();
  jsAdd(xa, xb, jsOut);
  expectClose(`add [${N}]`, got, jsOut, () => 0);
  runKernel(OP.ADD, [pre], [a, b]);
  expectClose(`add kernel [${N}]`, pre.toArray() as number[], jsOut, () => 0);

  const nb = native();
  const variants: (Variant & { name: string })[] = [
    { name: 'add', impl: 'kiln', run: () => a.add(b).dispose() },
    { name: 'add', impl: 'js loop', run: () => jsAdd(xa, xb, jsOut) },
    { name: 'add into preallocated', impl: 'kiln kernel call', run: () => runKernel(OP.ADD, [pre], [a, b]) },
    { name: 'empty+dispose', impl: 'kiln', run: () => kiln.empty([N]).dispose() },
    { name: 'N-API call', impl: 'native lastError()', run: () => nb.lastError() },
  ];
  const stats = measure(variants, opts, opts.batch);
  const ms: Measurement[] = variants.map((v, i) => ({
    bench: 'dispatch',
    name: v.name,
    shape: [N],
    dtype: 'float32',
    impl: v.impl,
    stats: stats[i],
    unit: 'ns/op',
    value: stats[i].medianMs * 1e6,
    ratios: {},
  }));
  addRatios([ms[0]], { 'js loop': ms[1] });
  ms[0].ratios['1 µs target'] = TARGET_NS / ms[0].value;
  for (const t of [a, b, pre]) t.dispose();
  return ms;
}
