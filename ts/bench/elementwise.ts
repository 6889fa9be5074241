/**
 * `elementwise` bench: float32 add, mul and exp over 1e3 .. --max elements (decades), as effective
 * GB/s = (bytes read + bytes written) / time, beside the copy bandwidth measured in the same
 * process (copy.ts). Outputs are allocated per call, as a user's code does; the caching allocator
 * hands back the same block, so after warm-up no call touches fresh memory.
 */
import * as kiln from '../index';
import type { Tensor } from '../index';
import { copyVariants, fastest } from './copy';
import {
  BenchOptions,
  Measurement,
  addRatios,
  decades,
  expectClose,
  gbps,
  measure,
  sampleIndices,
  valuesAt,
} from './harness';

interface ElementwiseOp {
  name: string;
  arity: 1 | 2;
  run: (a: Tensor, b: Tensor) => Tensor;
  /** float64 reference of one element. */
  ref: (x: number, y: number) => number;
  /** Tolerance in float32 ulps of the result. */
  ulps: number;
}

const OPS: ElementwiseOp[] = [
  { name: 'add', arity: 2, run: (a, b) => a.add(b), ref: (x, y) => x + y, ulps: 0.5 },
  { name: 'mul', arity: 2, run: (a, b) => a.mul(b), ref: (x, y) => x * y, ulps: 0.5 },
  { name: 'exp', arity: 1, run: (a) => a.exp(), ref: (x) => Math.exp(x), ulps: 4 },
];

/** Checks an op on sampled elements against its float64 reference. */
function checkOp(op: ElementwiseOp, a: Tensor, b: Tensor, xa: Float32Array, xb: Float32Array): void {
  const idx = sampleIndices(a.numel());
  const out = op.run(a, b);
  const got = valuesAt(out, idx);
  out.dispose();
  const want = idx.map((i) => op.ref(xa[i], xb[i]));
  expectClose(
    `elementwise ${op.name} [${a.numel()}]`,
    got,
    want,
    (i) => op.ulps * 2 ** -23 * Math.max(Math.abs(want[i]), 2 ** -126),
  );
}

/** Runs the sweep; one measurement per (size, op or copy reference). */
export function benchElementwise(opts: BenchOptions): Measurement[] {
  const results: Measurement[] = [];
  for (const n of decades(1e3, opts.max)) {
    if (opts.verbose) process.stderr.write(`elementwise: ${n} elements\n`);
    const a = kiln.randn([n]),
      b = kiln.randn([n]),
      dst = kiln.empty([n]);
    const copies = copyVariants(a, dst);
    const xa = a.data() as Float32Array,
      xb = b.data() as Float32Array;
    for (const op of OPS) checkOp(op, a, b, xa, xb);
    const variants = [...OPS.map((op) => ({ impl: 'kiln', run: () => op.run(a, b).dispose() })), ...copies];
    const stats = measure(variants, opts);
    const ms: Measurement[] = variants.map((v, i) => {
      const op = OPS[i];
      const bytes = (op ? op.arity + 1 : 2) * 4 * n;
      return {
        bench: 'elementwise',
        name: op ? op.name : 'copy',
        shape: [n],
        dtype: 'float32',
        impl: v.impl,
        stats: stats[i],
        unit: 'GB/s',
        value: gbps(bytes, stats[i]),
        ratios: {},
      };
    });
    addRatios(ms, { copy: fastest(ms.slice(OPS.length)) });
    results.push(...ms);
    for (const t of [a, b, dst]) t.dispose();
  }
  return results;
}
