/**
 * Bench harness (BENCH.md): interleaved timing with warm-up and median/min/max, correctness checks
 * that run before timing, the record format written as JSON, the machine description and the
 * stdout table. The benches (elementwise.ts, sum.ts, dispatch.ts, gemm.ts) only say what to run.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { info, tensor, Tensor } from '../index';
import { PACKAGE_ROOT } from '../native';

/** Knobs shared by every bench (set from the command line). */
export interface BenchOptions {
  /** Largest element count of the size sweeps. */
  max: number;
  /** Timed samples per variant. */
  reps: number;
  /** Each sample repeats a call until it lasts about this long (ms). */
  minSampleMs: number;
  /** Side of the square matrix of the dim-sum bench. */
  matrix: number;
  /** Calls per sample of the dispatch bench. */
  batch: number;
  /** Largest square side of the gemm bench (its model shapes shrink with it below 4096). */
  maxSize: number;
  /** Parameters of the optim bench (split over ten tensors). */
  params: number;
  /**
   * This process is the `kiln bench` command itself (the bin or one of its --threads children), so a
   * bench may set a reference library's environment for it (OPENBLAS_CORETYPE). False when a program
   * or a test calls runBenches: their environment is left alone.
   */
  ownProcess: boolean;
  /** Progress on stderr and kiln.memory() at the end. */
  verbose: boolean;
  /** --quick: a smoke test (benches whose shapes are not set by the knobs above shrink them). */
  quick?: boolean;
}

/** One thing to time; `run` does one call. */
export interface Variant {
  impl: string;
  run: () => void;
}

/** A variant whose call may be asynchronous: a returned promise is awaited before the next call. */
export interface AsyncVariant {
  impl: string;
  run: () => void | Promise<unknown>;
}

/** Per-call times of one variant, in ms. */
export interface Stats {
  medianMs: number;
  minMs: number;
  maxMs: number;
  samples: number;
  /** Calls per timed sample. */
  iters: number;
}

/** What a bench reports for one variant; the CLI adds the run's context to make a BenchRecord. */
export interface Measurement {
  bench: string;
  /** The op or reference operation measured ("add", "copy", "sum(dim=0)", "empty+dispose"). */
  name: string;
  shape: number[];
  dtype: string;
  /** Who did the work: "kiln" or a reference ("TypedArray.set", "js loop", ...). */
  impl: string;
  stats: Stats;
  unit: 'GB/s' | 'GFLOP/s' | 'ns/op' | 'steps/s';
  /** Rate at the median time, in `unit`. */
  value: number;
  /** Speed relative to each reference in the same run (>1: faster than the reference). */
  ratios: Record<string, number>;
  /** What exactly ran, where the impl name does not say (a reference's version, kernels, threads). */
  detail?: string;
}

/** The machine and build a run measured. */
export interface Machine {
  cpu: string;
  isa: string;
  /** kiln's thread count in the measuring process (KILN_NUM_THREADS). */
  threads: number;
  logicalCpus: number;
  node: string;
  /** 1-minute load average when the run started (earlier bench runs count too): above ~1 on 2 vCPUs, others shared them. */
  loadAvg: number;
}

/** One JSON record: a measurement plus where and when it was taken. */
export interface BenchRecord extends Omit<Measurement, 'stats'>, Stats {
  threads: number;
  machine: Machine;
  commit: string | null;
  date: string;
}

/** CPU model from /proc/cpuinfo (os.cpus() elsewhere), kiln's ISA and thread count. */
export function machineInfo(): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux: keep os.cpus()
  }
  const k = info();
  return {
    cpu,
    isa: k.isa,
    threads: k.numThreads,
    logicalCpus: os.cpus().length,
    node: process.version,
    loadAvg: os.loadavg()[0],
  };
}

/** `git rev-parse --short HEAD` of the kiln checkout, "+dirty" when tracked files differ; null outside git. */
export function commitId(): string | null {
  const git = (args: string[]): string =>
    execFileSync('git', args, { cwd: PACKAGE_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const head = git(['rev-parse', '--short', 'HEAD']);
    return git(['status', '--porcelain', '--untracked-files=no']) ? `${head}+dirty` : head;
  } catch {
    return null;
  }
}

/** 10^k element counts from `from` up to `max`. */
export function decades(from: number, max: number): number[] {
  const out: number[] = [];
  for (let n = from; n <= max; n *= 10) out.push(n);
  return out;
}

/** `k` spread indices into [0, n): the first and last 8 plus a deterministic pseudo-random draw. */
export function sampleIndices(n: number, k = 1024): number[] {
  const idx = new Set<number>();
  for (let i = 0; i < Math.min(n, 8); i++) idx.add(i).add(n - 1 - i);
  let x = 0x9e3779b9;
  while (idx.size < Math.min(n, k)) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    idx.add(Math.floor((x / 2 ** 32) * n));
  }
  return [...idx].sort((a, b) => a - b);
}

/** Elements `idx` of a 1-d tensor, read through a small gather copy (no view of the whole block). */
export function valuesAt(t: Tensor, idx: number[]): number[] {
  const i = tensor(idx, { dtype: 'int64' });
  const s = t.gather(0, i);
  const v = s.toArray() as number[];
  s.dispose();
  i.dispose();
  return v;
}

/** Throws when `got` differs from `want` by more than `tol` (absolute) at any index. */
export function expectClose(
  label: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: (i: number) => number,
): void {
  if (got.length !== want.length) throw new Error(`${label}: got ${got.length} values, want ${want.length}`);
  for (let i = 0; i < got.length; i++)
    if (!(Math.abs(got[i] - want[i]) <= tol(i)))
      throw new Error(`${label}: wrong result at sample ${i}: got ${got[i]}, want ${want[i]} (tolerance ${tol(i)})`);
}

const msSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

function timeCalls(run: () => void, iters: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) run();
  return msSince(t0);
}

/** Calls per `targetMs` sample when `n` calls took `ms`; null while that is too short to tell. */
const callsPerSample = (n: number, ms: number, targetMs: number): number | null =>
  ms >= Math.min(1, targetMs) || n >= 1 << 20 ? Math.max(1, Math.round((n * targetMs) / Math.max(ms, 1e-6))) : null;

/** Calls per sample so that one sample lasts about `targetMs`. */
function calibrate(run: () => void, targetMs: number): number {
  for (let n = 1; ; n *= 2) {
    const calls = callsPerSample(n, timeCalls(run, n), targetMs);
    if (calls !== null) return calls;
  }
}

/**
 * The median ms of `reps` single timed calls after `warmup` untimed ones: a plain loop, for the
 * scripts beside the benches that compare builds or paths (conv_stages.ts, rows_loop.ts).
 */
export function loopMedianMs(run: () => void, reps: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) run();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) t.push(timeCalls(run, 1));
  return summarize(t, 1).medianMs;
}

/** Median, min and max of per-call times (ms); `iters` calls made each sample. */
export function summarize(perCallMs: number[], iters: number): Stats {
  const s = [...perCallMs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const medianMs = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { medianMs, minMs: s[0], maxMs: s[s.length - 1], samples: s.length, iters };
}

/**
 * Times variants side by side: warm-up (two calls each, calibration, then one untimed round, so
 * the JIT has settled), then `reps` rounds of A B C ... so that drift hits every variant alike.
 * `iters` fixes the calls per sample.
 */
export function measure(variants: Variant[], opts: BenchOptions, iters?: number): Stats[] {
  for (const v of variants) timeCalls(v.run, 2);
  const counts = variants.map((v) => iters ?? calibrate(v.run, opts.minSampleMs));
  variants.forEach((v, i) => timeCalls(v.run, counts[i]));
  const samples: number[][] = variants.map(() => []);
  for (let r = 0; r < opts.reps; r++)
    variants.forEach((v, i) => samples[i].push(timeCalls(v.run, counts[i]) / counts[i]));
  return samples.map((s, i) => summarize(s, counts[i]));
}

async function timeCallsAsync(run: AsyncVariant['run'], iters: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) {
    const p = run();
    if (p) await p;
  }
  return msSince(t0);
}

/**
 * measure() for variants that may be asynchronous: the same warm-up, calibration and A B C ...
 * rounds, and each sample awaits every call before making the next, so a sample's time runs from
 * its first call to its last call's completion. A synchronous variant pays nothing extra.
 */
export async function measureAsync(variants: AsyncVariant[], opts: BenchOptions, gapMs = 0): Promise<Stats[]> {
  for (const v of variants) await timeCallsAsync(v.run, 2);
  const counts: number[] = [];
  for (const v of variants)
    for (let n = 1, calls: number | null = null; calls === null; n *= 2) {
      calls = callsPerSample(n, await timeCallsAsync(v.run, n), opts.minSampleMs);
      if (calls !== null) counts.push(calls);
    }
  for (let i = 0; i < variants.length; i++) await timeCallsAsync(variants[i].run, counts[i]);
  const samples: number[][] = variants.map(() => []);
  for (let r = 0; r < opts.reps; r++)
    for (let i = 0; i < variants.length; i++) {
      // Idle between samples, so that thread pools still spinning after the previous variant
      // (kiln's, OpenBLAS's, onnxruntime's) have gone to sleep and do not share the CPUs.
      if (gapMs > 0) await new Promise((done) => setTimeout(done, gapMs));
      samples[i].push((await timeCallsAsync(variants[i].run, counts[i])) / counts[i]);
    }
  return samples.map((s, i) => summarize(s, counts[i]));
}

/** Effective GB/s of moving `bytes` per call at the median time. */
export const gbps = (bytes: number, s: Stats): number => bytes / (s.medianMs * 1e6);

/** Speed of a measurement, larger is faster, comparable between measurements of one unit. */
export const speed = (m: Measurement): number => (m.unit === 'ns/op' ? 1 / m.value : m.value);

/** Sets m.ratios[label] = speed(m) / speed(ref) for each reference. */
export function addRatios(ms: Measurement[], refs: Record<string, Measurement>): void {
  for (const m of ms)
    for (const [label, ref] of Object.entries(refs)) if (ref !== m) m.ratios[label] = speed(m) / speed(ref);
}

const fmt = (x: number): string =>
  x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 0.1 ? x.toFixed(2) : x.toPrecision(2);

/** The records as a text table (or a markdown table), in the order given. */
export function formatTable(rs: BenchRecord[], markdown = false): string {
  const head = [
    'bench',
    'op',
    'shape',
    'impl',
    'thr',
    'median ms',
    'min ms',
    'max ms',
    'rate',
    'unit',
    'ratios (>1: faster than ref)',
  ];
  const rows = rs.map((r) => [
    r.bench,
    r.name,
    `[${r.shape.join(', ')}]`,
    r.impl,
    String(r.threads),
    fmt(r.medianMs),
    fmt(r.minMs),
    fmt(r.maxMs),
    fmt(r.value),
    r.unit,
    Object.entries(r.ratios)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', '),
  ]);
  if (markdown) return [head, head.map(() => '---'), ...rows].map((c) => `| ${c.join(' | ')} |`).join('\n');
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((c) => c[i].length)));
  const line = (c: string[]): string =>
    c
      .map((x, i) => (i >= 5 && i <= 8 ? x.padStart(w[i]) : x.padEnd(w[i])))
      .join('  ')
      .trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}
