/**
 * `sum` bench: float32 sum of 1e3 .. --max elements (decades) and sums over dim 0 and dim 1 of an
 * [N, N] matrix (--matrix N), as GB/s of input read. References in the same run: a plain JS loop
 * over the same memory (float64 accumulator), and for the full sums the copy bandwidth (copy.ts).
 */
import * as kiln from '../index';
import type { Tensor } from '../index';
import { copyVariants, fastest } from './copy';
import { BenchOptions, Measurement, Variant, addRatios, decades, expectClose, gbps, measure } from './harness';

/** Keeps the JS loops' results observable, so the JIT cannot drop them. */
let sink = 0;

function jsSum(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  sink += s;
  return s;
}

/** Row sums (dim 1) of a row-major n x n matrix into out. */
function jsRowSums(x: Float32Array, n: number, out: Float64Array): void {
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let c = 0, o = r * n; c < n; c++) s += x[o + c];
    out[r] = s;
  }
}

/** Column sums (dim 0) of a row-major n x n matrix into out, one row at a time. */
function jsColSums(x: Float32Array, n: number, out: Float64Array): void {
  out.fill(0);
  for (let r = 0; r < n; r++) for (let c = 0, o = r * n; c < n; c++) out[c] += x[o + c];
}

function measurement(
  name: string,
  shape: number[],
  impl: string,
  bytes: number,
  stats: Measurement['stats'],
): Measurement {
  return {
    bench: 'sum',
    name,
    shape,
    dtype: 'float32',
    impl,
    stats,
    unit: 'GB/s',
    value: gbps(bytes, stats),
    ratios: {},
  };
}

function fullSums(opts: BenchOptions): Measurement[] {
  const results: Measurement[] = [];
  for (const n of decades(1e3, opts.max)) {
    if (opts.verbose) process.stderr.write(`sum: ${n} elements\n`);
    const a = kiln.randn([n]),
      dst = kiln.empty([n]);
    const x = a.data() as Float32Array;
    const s = a.sum();
    const got = s.item() as number;
    s.dispose();
    let abs = 0;
    for (let i = 0; i < n; i++) abs += Math.abs(x[i]);
    expectClose(`sum [${n}]`, [got], [jsSum(x)], () => 1e-7 * abs + 1e-6);
    const variants: Variant[] = [
      { impl: 'kiln', run: () => a.sum().dispose() },
      { impl: 'js loop', run: () => jsSum(x) },
      ...copyVariants(a, dst),
    ];
    const stats = measure(variants, opts);
    const ms = variants.map((v, i) =>
      measurement(i < 2 ? 'sum' : 'copy', [n], v.impl, i < 2 ? 4 * n + 4 : 8 * n, stats[i]),
    );
    addRatios([ms[0]], { 'js loop': ms[1] });
    addRatios([ms[0], ...ms.slice(2)], { copy: fastest(ms.slice(2)) });
    results.push(...ms);
    for (const t of [a, dst]) t.dispose();
  }
  return results;
}

function dimSums(opts: BenchOptions): Measurement[] {
  const n = opts.matrix;
  if (opts.verbose) process.stderr.write(`sum: [${n}, ${n}] over dim 0 and dim 1\n`);
  const m = kiln.randn([n, n]);
  const x = m.data() as Float32Array;
  const rows = new Float64Array(n),
    cols = new Float64Array(n);
  const cases: { dim: number; ref: () => void; want: Float64Array }[] = [
    { dim: 0, ref: () => jsColSums(x, n, cols), want: cols },
    { dim: 1, ref: () => jsRowSums(x, n, rows), want: rows },
  ];
  const variants: Variant[] = [];
  for (const c of cases) {
    const out: Tensor = m.sum(c.dim);
    const got = out.toArray() as number[];
    out.dispose();
    c.ref();
    expectClose(`sum(dim=${c.dim}) [${n}, ${n}]`, got, c.want, () => 1e-5 * n);
    variants.push({ impl: 'kiln', run: () => m.sum(c.dim).dispose() }, { impl: 'js loop', run: c.ref });
  }
  const stats = measure(variants, opts);
  const ms = variants.map((v, i) => measurement(`sum(dim=${i >> 1})`, [n, n], v.impl, 4 * n * n + 4 * n, stats[i]));
  addRatios([ms[0]], { 'js loop': ms[1] });
  addRatios([ms[2]], { 'js loop': ms[3] });
  m.dispose();
  return ms;
}

/** Runs the full-sum sweep, then the dim sums. */
export function benchSum(opts: BenchOptions): Measurement[] {
  const out = [...fullSums(opts), ...dimSums(opts)];
  if (!Number.isFinite(sink)) throw new Error('sum: a JS reference produced a non-finite sum');
  return out;
}
