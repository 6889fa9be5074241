/**
 * `gemm64` bench: float64 C[M,N] = A[M,K] @ B[K,N] (row-major, kiln.randn inputs), shapes written
 * [M, K, N]: squares 64 .. --max-size (powers of two, at most 2048) and two rectangular ones, in
 * GFLOP/s = 2·M·N·K / time, timed interleaved with OpenBLAS's cblas_dgemm (openblas.ts: the BLAS that
 * numpy and SciPy users get) in the same process at the same thread count. Each case is checked first:
 * kiln against float64 sums on sampled elements, OpenBLAS against kiln everywhere.
 */
import * as kiln from '../index';
import type { Tensor } from '../index';
import {
  AsyncVariant,
  BenchOptions,
  Measurement,
  addRatios,
  expectClose,
  measureAsync,
  sampleIndices,
} from './harness';
import { loadOpenBlas, OpenBlas } from './openblas';

type Shape = [number, number, number];
const OPENBLAS = 'OpenBLAS';

/** The squares up to maxSize (from maxSize / 4 when that is below 64) and two rectangles scaled alike. */
export function gemm64Cases(maxSize: number): Shape[] {
  const top = 2 ** Math.floor(Math.log2(Math.max(1, Math.min(maxSize, 2048))));
  const out: Shape[] = [];
  for (let s = Math.max(1, Math.min(64, top / 4)); s <= top; s *= 2) out.push([s, s, s]);
  const f = top / 2048;
  out.push([Math.max(1, 4096 * f), Math.max(1, 256 * f), Math.max(1, 512 * f)]);
  out.push([Math.max(1, 64 * f), Math.max(1, 2048 * f), Math.max(1, 2048 * f)]);
  return out;
}

/** kiln against float64 sums (sampled), and the references against kiln, within K rounding steps. */
function check(shape: Shape, a: Tensor, b: Tensor, kilnOut: Float64Array, others: Record<string, Float64Array>): void {
  const [m, k, n] = shape;
  const xa = a.data() as Float64Array,
    xb = b.data() as Float64Array;
  const magAt = (i: number): number => {
    const r = Math.floor(i / n),
      c = i % n;
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.abs(xa[r * k + j] * xb[j * n + c]);
    return s;
  };
  const tol = (i: number): number => 2 * (k + 4) * 2 ** -52 * magAt(i) + 1e-300;
  const idx = sampleIndices(m * n, 256);
  const want = idx.map((i) => {
    const r = Math.floor(i / n),
      c = i % n;
    let s = 0;
    for (let j = 0; j < k; j++) s += xa[r * k + j] * xb[j * n + c];
    return s;
  });
  const label = `gemm64 [${shape.join(', ')}]`;
  expectClose(
    `${label} kiln vs float64 sums`,
    idx.map((i) => kilnOut[i]),
    want,
    (s) => tol(idx[s]),
  );
  for (const [impl, got] of Object.entries(others)) {
    const sub = idx.map((i) => got[i]);
    expectClose(
      `${label} ${impl} vs kiln`,
      sub,
      idx.map((i) => kilnOut[i]),
      (s) => 2 * tol(idx[s]),
    );
  }
}

async function benchCase(shape: Shape, blas: OpenBlas | null, opts: BenchOptions): Promise<Measurement[]> {
  const [m, k, n] = shape;
  const o = { dtype: 'float64' as const };
  const a = kiln.randn([m, k], o),
    b = kiln.randn([k, n], o),
    c = kiln.empty([m, n], o);
  try {
    const r = a.matmul(b);
    const kilnOut = Float64Array.from(r.data() as Float64Array);
    r.dispose();
    const variants: AsyncVariant[] = [{ impl: 'kiln', run: () => a.matmul(b).dispose() }];
    const others: Record<string, Float64Array> = {};
    if (blas) {
      const dgemm = blas.bindDgemm(a, b, c);
      (c.data() as Float64Array).fill(Number.NaN);
      dgemm();
      others[OPENBLAS] = Float64Array.from(c.data() as Float64Array);
      variants.push({ impl: OPENBLAS, run: dgemm });
    }
    check(shape, a, b, kilnOut, others);
    const stats = await measureAsync(variants, opts, 5);
    const rows: Measurement[] = variants.map((v, i) => ({
      bench: 'gemm64',
      name: 'matmul',
      shape: [...shape],
      dtype: 'float64',
      impl: v.impl,
      stats: stats[i],
      unit: 'GFLOP/s',
      value: (2 * m * n * k) / (stats[i].medianMs * 1e6),
      ratios: {},
      detail: v.impl === OPENBLAS ? blas?.detail : undefined,
    }));
    addRatios(rows, Object.fromEntries(rows.filter((x) => x.impl !== 'kiln').map((x) => [x.impl, x])));
    return rows;
  } finally {
    for (const t of [a, b, c]) t.dispose();
  }
}

/** Runs the gemm64 bench at this process's thread count; prints the reference's line to stderr. */
export async function benchGemm64(opts: BenchOptions): Promise<Measurement[]> {
  const threads = kiln.info().numThreads;
  const blas = loadOpenBlas(threads, opts.ownProcess);
  process.stderr.write(`gemm64, ${threads} thread${threads > 1 ? 's' : ''}: ${blas.note}\n`);
  const out: Measurement[] = [];
  for (const shape of gemm64Cases(opts.maxSize)) out.push(...(await benchCase(shape, blas.blas, opts)));
  return out;
}
