/** Loads the addon (node-gyp-build): the only file that touches the binding. Loaded lazily, on first use. */
import * as path from 'path';
import { KilnError } from './errors';

export interface NativeInfo {
  isa: string;
  numThreads: number;
  supportedIsas: string[];
  startupWarning: string;
  opCount: number;
  cuda: boolean;
  version: number;
}
export interface NativeMemoryStats {
  liveBytes: number;
  liveBlocks: number;
  cachedBytes: number;
  cachedBlocks: number;
  peakBytes: number;
  allocCalls: number;
  cacheHits: number;
}
/** What `refBlas.load()` reports about the OpenBLAS it loaded. */
export interface RefBlasInfo {
  /** openblas_get_corename(): the kernel set in use ("SkylakeX", "Haswell", "Zen", ...). */
  core: string;
  /** openblas_get_num_threads(). */
  threads: number;
  /** The file dlopen() found. */
  library: string;
  /** openblas_get_config(), or "" when the library lacks it. */
  config: string;
}
/** OpenBLAS, dlopen()ed on demand: a bench reference only (native/napi/bench_ref.cpp). */
export interface RefBlas {
  /** Loads OpenBLAS (once per process); null when no library was found (see loadError()). */
  load(): RefBlasInfo | null;
  loadError(): string;
  /** openblas_set_num_threads(n); returns openblas_get_num_threads() afterwards (0: not loaded). */
  setThreads(n: number): number;
  /**
   * C[M,N] = A[M,K] @ B[K,N] (float32, row-major, dense) with cblas_sgemm, on the kiln blocks at
   * addresses a, b, c (storage starts); false when not loaded or an operand's block is too small.
   */
  sgemm(m: number, n: number, k: number, a: number, b: number, c: number): boolean;
}
/** One timed run of the FMA peak loop. */
export interface FmaPeakResult {
  gflops: number;
  seconds: number;
  flops: number;
  /** The loop that ran: "avx512", "avx2" or "generic". */
  isa: string;
}
export interface Binding {
  argBlock: Float64Array;
  descDoubles: number;
  attrBase: number;
  run(op: number, nout: number, nin: number, nattr: number): number;
  alloc(nbytes: number): number;
  /** Fused optimizer step (kiln_optim_step): 7 doubles per item, status back (0 = ok). */
  optimStep(kind: number, dtype: number, items: Float64Array, hyper: Float64Array): number;
  free(addr: number, nbytes: number): void;
  view(addr: number, nbytes: number): ArrayBuffer | null;
  copyIn(addr: number, src: ArrayBufferView): boolean;
  copyOut(addr: number, dst: ArrayBufferView): boolean;
  lastError(): string;
  memoryStats(): NativeMemoryStats;
  emptyCache(): void;
  info(): NativeInfo;
  /** Bench references (absent from binaries built before they existed). */
  refBlas?: RefBlas;
  /** Runs `iters` iterations of independent FMA chains on each of `threads` std::threads. */
  fmaPeak?(threads: number, iters: number): FmaPeakResult;
}

let binding: Binding | undefined;

/** The package root (dist/ or ts/ sits one level below it). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..');

/** The loaded binding; throws an actionable KilnError when no binary can be loaded. */
export function native(): Binding {
  if (binding) return binding;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const load = require('node-gyp-build') as (dir: string) => Binding;
    binding = load(PACKAGE_ROOT);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new KilnError(
      'ERR_NOT_COMPILED',
      `kiln: could not load the native addon (${process.platform}-${process.arch}, Node ${process.version}, N-API). ` +
        `Looked in ${path.join(PACKAGE_ROOT, 'prebuilds')} and ${path.join(PACKAGE_ROOT, 'build', 'Release')}: ${why}. ` +
        `Fix: build it from source with \`npm rebuild kiln\` (needs python3, make and a C++17 compiler), ` +
        `or in a clone run \`npm install\`.`,
    );
  }
  return binding;
}
