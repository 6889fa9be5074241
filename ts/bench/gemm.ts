/**
 * `gemm` bench: float32 C[M,N] = A[M,K] @ B[K,N] (row-major, inputs from kiln.randn), shapes
 * written [M, K, N]: squares 64 .. --max-size (powers of two, default 4096) and the model shapes
 * 4096x1024x1024, 32x512x2048 and 1x4096x4096 (GEMV), in GFLOP/s = 2·M·N·K / time. References in
 * the same process at the same thread count, timed interleaved with kiln `a.matmul(b)`: OpenBLAS
 * cblas_sgemm (openblas.ts) and onnxruntime-node MatMul (onnxruntime.ts), each skipped with a
 * printed reason when absent. Every row also gets its fraction of the measured FMA peak at its
 * thread count (fma_peak.ts); the GEMV rows are repeated as GB/s = 4·(MK + KN + MN) / time against
 * the copy bandwidth of a B-sized copy (copy.ts). gemmChart() draws the squares as SVG.
 */
import * as kiln from '../index';
import type { Tensor } from '../index';
import { copyVariants, fastest } from './copy';
import { fmaPeakNote, measureFmaPeak } from './fma_peak';
import {
  AsyncVariant,
  BenchOptions,
  BenchRecord,
  Measurement,
  addRatios,
  expectClose,
  gbps,
  measureAsync,
  sampleIndices,
} from './harness';
import { loadOnnxRuntime, ortMatMul, OrtMatMul } from './onnxruntime';
import { loadOpenBlas, OpenBlas } from './openblas';
import { PALETTE, RefLine, Series, lineChart } from '../svg_chart';

/** [M, K, N]. */
export type GemmShape = [number, number, number];

/** One row group of the bench; `gemv` rows are also reported in GB/s against the copy bandwidth. */
export interface GemmCase {
  shape: GemmShape;
  gemv: boolean;
}

/** The largest square, and the size the model shapes are written for. */
export const FULL_SIZE = 4096;
/** Transformer-sized products at FULL_SIZE: a 4096-token projection, a 32-token MLP, one token's GEMV. */
export const MODEL_SHAPES: readonly GemmCase[] = [
  { shape: [4096, 1024, 1024], gemv: false },
  { shape: [32, 512, 2048], gemv: false },
  { shape: [1, 4096, 4096], gemv: true },
];

/** Reference names as they appear in impl columns and ratios. */
const OPENBLAS = 'OpenBLAS',
  ORT = 'onnxruntime';

/**
 * The cases for a --max-size, in run order: squares are the powers of two from 64 (from maxSize / 4
 * when that is smaller, so a small run still draws three points) up to maxSize; then the model
 * shapes, which below FULL_SIZE shrink by the same factor (each dim at least 1).
 */
export function gemmCases(maxSize: number): GemmCase[] {
  const top = 2 ** Math.floor(Math.log2(Math.max(1, maxSize)));
  const cases: GemmCase[] = [];
  for (let s = Math.max(1, Math.min(64, top / 4)); s <= top; s *= 2) cases.push({ shape: [s, s, s], gemv: false });
  const f = Math.max(1, FULL_SIZE / top);
  for (const { shape, gemv } of MODEL_SHAPES)
    cases.push({ shape: shape.map((x) => Math.max(1, Math.round(x / f))) as GemmShape, gemv });
  return cases;
}

const flops = ([m, k, n]: GemmShape): number => 2 * m * n * k;
const gemvBytes = ([m, k, n]: GemmShape): number => 4 * (m * k + k * n + m * n);

/** Euclidean norms of the rows (byRow) or the columns of a row-major rows x cols matrix. */
function norms(x: Float32Array, rows: number, cols: number, byRow: boolean): Float64Array {
  const out = new Float64Array(byRow ? rows : cols);
  for (let r = 0; r < rows; r++) for (let c = 0, o = r * cols; c < cols; c++) out[byRow ? r : c] += x[o + c] * x[o + c];
  return out.map(Math.sqrt);
}

/**
 * Checks C = A @ B for the gemm outputs: kiln against float64 sums on sampled elements, and every
 * element of `others` (OpenBLAS's, onnxruntime's) against kiln's. Tolerance per element
 * 8·sqrt(K)·2^-24·|a_i|·|b_j|: by Cauchy-Schwarz |a_i|·|b_j| bounds sum_k |a_ik·b_kj|, and a float32
 * sum of K terms in any order stays well within sqrt(K) rounding steps of it on random data,
 * while a missing or misplaced term is about |a_ik·b_kj| off.
 */
function checkGemm(
  shape: GemmShape,
  a: Tensor,
  b: Tensor,
  kilnOut: Float32Array,
  others: Record<string, Float32Array>,
) {
  const [m, k, n] = shape;
  const xa = a.data() as Float32Array,
    xb = b.data() as Float32Array;
  const ra = norms(xa, m, k, true),
    cb = norms(xb, k, n, false);
  const scale = 8 * Math.sqrt(k) * 2 ** -24;
  const tolAt = (i: number): number => scale * ra[Math.floor(i / n)] * cb[i % n] + 1e-30;
  const idx = sampleIndices(m * n, 512);
  const want = idx.map((i) => {
    const r = Math.floor(i / n),
      c = i % n;
    let s = 0;
    for (let j = 0; j < k; j++) s += xa[r * k + j] * xb[j * n + c];
    return s;
  });
  const label = `gemm [${shape.join(', ')}]`;
  expectClose(
    `${label} kiln vs float64`,
    idx.map((i) => kilnOut[i]),
    want,
    (s) => tolAt(idx[s]),
  );
  for (const [impl, got] of Object.entries(others)) expectClose(`${label} ${impl} vs kiln`, got, kilnOut, tolAt);
}

interface Refs {
  blas: OpenBlas | null;
  ort: ReturnType<typeof loadOnnxRuntime>;
  threads: number;
  ortDetail: string;
}

/** One shape: check, then time kiln and the references interleaved (plus the copies for GEMV). */
async function benchCase({ shape, gemv }: GemmCase, refs: Refs, peak: Measurement | null, opts: BenchOptions) {
  const [m, k, n] = shape;
  if (opts.verbose) process.stderr.write(`gemm: [${shape.join(', ')}]\n`);
  const a = kiln.randn([m, k]),
    b = kiln.randn([k, n]),
    c = kiln.empty([m, n]);
  const owned: Tensor[] = [a, b, c];
  let session: OrtMatMul | null = null;
  try {
    const r = a.matmul(b);
    const kilnOut = r.data() as Float32Array;
    r.dispose();
    const others: Record<string, Float32Array> = {};
    const variants: AsyncVariant[] = [{ impl: 'kiln', run: () => a.matmul(b).dispose() }];
    if (refs.blas) {
      const sgemm = refs.blas.bindSgemm(a, b, c);
      (c.data() as Float32Array).fill(Number.NaN);
      sgemm();
      others[OPENBLAS] = c.data() as Float32Array;
      variants.push({ impl: OPENBLAS, run: sgemm });
    }
    if (refs.ort.ort) {
      const s = await ortMatMul(
        refs.ort.ort,
        m,
        k,
        n,
        a.data() as Float32Array,
        b.data() as Float32Array,
        refs.threads,
      );
      session = s;
      others[ORT] = await s.run();
      variants.push({ impl: ORT, run: () => s.run() });
    }
    checkGemm(shape, a, b, kilnOut, others);
    const nGemm = variants.length;
    if (gemv) {
      const src = kiln.randn([k * n]),
        dst = kiln.empty([k * n]);
      owned.push(src, dst);
      variants.push(...copyVariants(src, dst));
    }
    const stats = await measureAsync(variants, opts, 5);
    const row = (i: number, name: string, unit: 'GFLOP/s' | 'GB/s', value: number): Measurement => ({
      bench: 'gemm',
      name,
      shape: i < nGemm ? [...shape] : [k * n],
      dtype: 'float32',
      impl: variants[i].impl,
      stats: stats[i],
      unit,
      value,
      ratios: {},
      detail: variants[i].impl === OPENBLAS ? refs.blas?.detail : variants[i].impl === ORT ? refs.ortDetail : undefined,
    });
    const rates = variants
      .slice(0, nGemm)
      .map((_, i) => row(i, 'matmul', 'GFLOP/s', flops(shape) / (stats[i].medianMs * 1e6)));
    const byImpl = (ms: Measurement[]): Record<string, Measurement> =>
      Object.fromEntries(ms.filter((x) => x.impl !== 'kiln').map((x) => [x.impl, x]));
    addRatios(rates, byImpl(rates));
    if (peak) for (const x of rates) x.ratios['fma peak'] = x.value / peak.value;
    if (!gemv) return rates;
    const bw = rates.map((_, i) => row(i, 'matmul bandwidth', 'GB/s', gbps(gemvBytes(shape), stats[i])));
    const copies = variants
      .slice(nGemm)
      .map((_, j) => row(nGemm + j, 'copy', 'GB/s', gbps(8 * k * n, stats[nGemm + j])));
    addRatios(bw, byImpl(bw));
    addRatios([...bw, ...copies], { copy: fastest(copies) });
    return [...rates, ...bw, ...copies];
  } finally {
    await session?.release();
    for (const t of owned) t.dispose();
  }
}

/** Runs the gemm bench at this process's thread count; prints one line per reference to stderr. */
export async function benchGemm(opts: BenchOptions): Promise<Measurement[]> {
  const threads = kiln.info().numThreads;
  const say = (line: string): void =>
    void process.stderr.write(`gemm, ${threads} thread${threads > 1 ? 's' : ''}: ${line}\n`);
  const peak = measureFmaPeak(threads, opts);
  say(peak ? fmaPeakNote(peak) : 'no FMA peak loop in this kiln binary (rebuild the addon): no "fma peak" ratios');
  const blas = loadOpenBlas(threads, opts.ownProcess);
  say(blas.note);
  const ort = loadOnnxRuntime();
  say(
    ort.ort
      ? `onnxruntime-node ${ort.version} (${ort.from}), intraOpNumThreads ${threads}`
      : `onnxruntime skipped: ${ort.reason}`,
  );
  const refs: Refs = {
    blas: blas.blas,
    ort,
    threads,
    ortDetail: ort.ort
      ? `onnxruntime-node ${ort.version}, CPU provider, intraOpNumThreads ${threads}, interOpNumThreads 1, sequential; each session.run() awaited`
      : '',
  };
  const out: Measurement[] = peak ? [peak] : [];
  for (const c of gemmCases(opts.maxSize)) out.push(...(await benchCase(c, refs, peak, opts)));
  return out;
}

/** GFLOP/s of the square rows against size (log2), one polyline per implementation and thread count. */
export function gemmChart(records: BenchRecord[]): string | null {
  const squares = records.filter(
    (r) => r.bench === 'gemm' && r.name === 'matmul' && r.shape[0] === r.shape[1] && r.shape[1] === r.shape[2],
  );
  if (!squares.length) return null;
  const impls = [...new Set(squares.map((r) => r.impl))];
  const threadCounts = [...new Set(records.map((r) => r.threads))].sort((x, y) => x - y);
  const thr = (t: number): string => `${t} thread${t > 1 ? 's' : ''}`;
  const series: Series[] = [];
  for (const impl of impls)
    for (const t of threadCounts) {
      const rs = squares.filter((r) => r.impl === impl && r.threads === t);
      if (!rs.length) continue;
      const core = /core (\w+)/.exec(rs[0].detail ?? '')?.[1];
      series.push({
        label: `${impl}${core ? ` (${core})` : ''}, ${thr(t)}`,
        color: PALETTE[impls.indexOf(impl) % PALETTE.length],
        dashed: threadCounts.indexOf(t) > 0,
        points: rs.map((r) => [r.shape[0], r.value]),
        data: { impl, threads: String(t) },
      });
    }
  const refLines: RefLine[] = records
    .filter((r) => r.bench === 'gemm' && r.name === 'fma peak')
    .map((r) => ({ label: `FMA peak, ${thr(r.threads)}: ${r.value.toFixed(0)}`, y: r.value, color: '#888' }));
  const m = squares[0].machine;
  return lineChart({
    title: `kiln bench gemm: float32 N×N @ N×N, ${m.cpu}, ${squares[0].date.slice(0, 10)}`,
    subtitle: `commit ${squares[0].commit ?? 'unknown'}, kiln ISA ${m.isa}, ${m.logicalCpus} logical CPUs, node ${m.node}; dashed lines: more threads`,
    xLabel: 'N (M = K = N), log2 scale',
    yLabel: 'GFLOP/s (2·N³ / median time)',
    xLog2: true,
    series,
    refLines,
  });
}
