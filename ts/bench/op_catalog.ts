/**
 * `kiln bench ops`: everyday tensor ops that no kernel bench covers (casts, transposed copies,
 * row gathers, reductions over an outer dim, argmax, pow, where, scans) on float32 tensors of
 * min(--max, 2^24) elements, each as a fraction of kiln's copy_ timed in the same rounds (the
 * bytes the op must move / time, against the copy's 8 per element). A row far below 1 on an op
 * that only moves memory is a missing fast path: this catalogue found [4096, 4096].t().contiguous()
 * at 0.05, a float16 cast at 0.03 and pow(x, 2) at 0.03 of copy_ (2026-12-05). Each op's output is
 * checked on sampled elements before timing.
 */
import * as kiln from '../index';
import type { Tensor } from '../index';
import { besideCopy } from './copy';
import { BenchOptions, Measurement, expectClose, gbps, measure, sampleIndices, valuesAt } from './harness';

interface CatalogOp {
  name: string;
  /** Bytes read and written per element of the input. */
  bytes: number;
  run: () => Tensor;
  /** The output's flat element i from the input's values, or null for ops checked otherwise. */
  ref: ((i: number) => number) | null;
}

export function benchOps(opts: BenchOptions): Measurement[] {
  const side = opts.max < 1e6 ? 64 : Math.floor(Math.sqrt(Math.min(opts.max, 1 << 24)) / 16) * 16;
  const n = side * side;
  return kiln.scope(() => {
    kiln.manualSeed(0);
    const x = kiln.randn([side, side]),
      y = kiln.randn([side, side]);
    const xs = x.data() as Float32Array,
      ys = y.data() as Float32Array;
    const cond = x.gt(0);
    const half = x.to('float16'),
      hs = Array.from(half.to('float32').data() as Float32Array);
    const rows = kiln.randint(0, side, [side]),
      rs = Array.from(rows.data() as BigInt64Array, Number);
    const colSum = (j: number) => {
      let s = 0;
      for (let r = 0; r < side; r++) s += xs[r * side + j];
      return s;
    };
    const ops: CatalogOp[] = [
      {
        name: 'transpose contiguous',
        bytes: 8,
        run: () => x.t().contiguous(),
        ref: (i) => xs[(i % side) * side + Math.floor(i / side)],
      },
      {
        name: 'indexSelect rows',
        bytes: 8,
        run: () => x.indexSelect(0, rows),
        ref: (i) => xs[rs[Math.floor(i / side)] * side + (i % side)],
      },
      { name: 'to float16', bytes: 6, run: () => x.to('float16'), ref: (i) => hs[i] },
      { name: 'float16 to float32', bytes: 6, run: () => half.to('float32'), ref: (i) => hs[i] },
      { name: 'to bfloat16', bytes: 6, run: () => x.to('bfloat16'), ref: null },
      { name: 'pow(x, 2)', bytes: 8, run: () => x.pow(2), ref: (i) => Math.fround(xs[i] * xs[i]) },
      { name: 'where', bytes: 13, run: () => kiln.where(cond, x, y), ref: (i) => (xs[i] > 0 ? xs[i] : ys[i]) },
      { name: 'sum(0)', bytes: 4, run: () => x.sum(0), ref: colSum },
      { name: 'amax(0)', bytes: 4, run: () => x.amax(0), ref: null },
      { name: 'argmax(1)', bytes: 4, run: () => x.argmax(1), ref: null },
      { name: 'var(1)', bytes: 4, run: () => x.var(1), ref: null },
      { name: 'cumsum(1)', bytes: 8, run: () => x.cumsum(1), ref: null },
      { name: 'clamp', bytes: 8, run: () => x.clamp(-1, 1), ref: (i) => Math.min(1, Math.max(-1, xs[i])) },
      { name: 'sigmoid', bytes: 8, run: () => x.sigmoid(), ref: (i) => 1 / (1 + Math.exp(-xs[i])) },
    ];
    for (const op of ops) {
      if (!op.ref) continue;
      const out = op.run();
      const idx = sampleIndices(out.numel(), 64);
      const got = valuesAt(out.reshape([-1]).to('float32'), idx);
      const want = idx.map(op.ref);
      expectClose(
        `ops ${op.name}`,
        got,
        want,
        (i) => 1e-5 * (1 + Math.abs(want[i])) * (op.name === 'sum(0)' ? side : 1),
      );
      out.dispose();
    }
    const src = kiln.randn([n]),
      dst = kiln.empty([n]);
    const copy = besideCopy('ops', src, dst);
    return ops.map((op) => {
      const [s, c] = measure([{ impl: 'kiln', run: () => op.run().dispose() }, copy.variant], opts);
      const cm = copy.record(c),
        value = gbps(op.bytes * n, s);
      return {
        bench: 'ops',
        name: op.name,
        shape: [side, side],
        dtype: 'float32',
        impl: 'kiln',
        stats: s,
        unit: 'GB/s',
        value,
        ratios: { copy: value / cm.value },
        detail: `kiln copy_ in the same rounds: ${cm.value.toFixed(1)} GB/s`,
      } satisfies Measurement;
    });
  });
}
