/**
 * Loads the addon: the only file that touches the binding. Loaded lazily, on first use. The CUDA
 * build (build-cuda/Release/kiln.node, from `npm run build:cuda` or `KILN_CUDA=1 npm install`) is
 * preferred when it exists; KILN_ADDON=<path> loads a given binary; otherwise node-gyp-build finds
 * a prebuild or the CPU build.
 */
import * as fs from 'fs';
import * as path from 'path';
import { KilnError } from './errors';
import { OP_COUNT } from './ops/op_ids.gen';

export interface NativeInfo {
  isa: string;
  numThreads: number;
  /** The smallest stack of the pool's worker threads (bytes; 0: none, or unknown). */
  workerStackBytes: number;
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
  /** Per-thread kernel scratch of the whole process (memoryStats() only; absent from CUDA's). */
  scratchBytes?: number;
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
  /** The same in float64 with cblas_dgemm. */
  dgemm(m: number, n: number, k: number, a: number, b: number, c: number): boolean;
}
/** One timed run of the FMA peak loop. */
export interface FmaPeakResult {
  gflops: number;
  seconds: number;
  flops: number;
  /** The loop that ran: "avx512", "avx2" or "generic". */
  isa: string;
}
/** What cudaProps() reports about a device. */
export interface NativeCudaProps {
  name: string;
  totalMemory: number;
  smCount: number;
  major: number;
  minor: number;
}
export interface Binding {
  argBlock: Float64Array;
  descDoubles: number;
  attrBase: number;
  /** argBlock[gcSlot] becomes 1 when an allocation sees that a garbage collection went by. */
  gcSlot: number;
  /** Holds `storage` weakly and `cell` strongly, for sweep(). */
  track(storage: object, cell: object): boolean;
  /** The cells of tracked storages collected since the last sweep; lowers argBlock[gcSlot]. */
  sweep(): object[];
  /** Tells V8 that memory only a collection can free changed by delta bytes; V8's total after. */
  adjustExternal(delta: number): number;
  /** device: -1 the CPU (default), N cuda:N. */
  run(op: number, nout: number, nin: number, nattr: number, device?: number): number;
  alloc(nbytes: number): number;
  /** Fused optimizer step (kiln_optim_step): 7 doubles per item, status back (0 = ok). */
  optimStep(kind: number, dtype: number, items: Float64Array, hyper: Float64Array, device?: number): number;
  free(addr: number, nbytes: number): void;
  view(addr: number, nbytes: number): ArrayBuffer | null;
  copyIn(addr: number, src: ArrayBufferView): boolean;
  copyOut(addr: number, dst: ArrayBufferView): boolean;
  lastError(): string;
  memoryStats(): NativeMemoryStats;
  emptyCache(): void;
  info(): NativeInfo;
  /** CUDA (answers ERR_NOT_COMPILED / 0 devices without the CUDA build; absent from older binaries). */
  cudaDeviceCount?(): number;
  cudaProps?(device: number): NativeCudaProps | null;
  /** Device memory from the caching allocator; 0 on failure (lastError()). */
  cudaAlloc?(device: number, nbytes: number): number;
  cudaFree?(device: number, addr: number): number;
  /** Host to device (staged through pinned memory, enqueued): status. */
  cudaCopyIn?(device: number, addr: number, src: ArrayBufferView): number;
  /** Device to host (waits for the stream): status. */
  cudaCopyOut?(device: number, addr: number, dst: ArrayBufferView): number;
  cudaCopyD2D?(device: number, dst: number, src: number, nbytes: number): number;
  /** Device to host on a worker thread: resolves with [status, message]. */
  cudaReadAsync?(device: number, addr: number, dst: ArrayBufferView): Promise<[number, string]>;
  cudaSynchronize?(device: number): number;
  cudaMemoryStats?(device: number): NativeMemoryStats | null;
  cudaEmptyCache?(device: number): number;
  cudaOpSupported?(op: number): boolean;
  /** Bench references (absent from binaries built before they existed). */
  refBlas?: RefBlas;
  /** Runs `iters` iterations of independent FMA chains on each of `threads` std::threads. */
  fmaPeak?(threads: number, iters: number): FmaPeakResult;
}

let binding: Binding | undefined;

/** The package root (dist/ or ts/ sits one level below it). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..');

/**
 * Throws ERR_NOT_COMPILED unless the addon was built with this kiln's op table: op ids are
 * positions in it, so an addon from another version (a stale build/, an old KILN_ADDON) would run
 * other kernels than the ones asked for. The op count changes whenever an op is added.
 */
export function checkOpTable(info: Pick<NativeInfo, 'opCount'>, where: string): void {
  if (info.opCount !== OP_COUNT)
    throw new KilnError(
      'ERR_NOT_COMPILED',
      `kiln: the native addon (${where}) was built from another kiln version: its op table has ${info.opCount} ops, ` +
        `this kiln's has ${OP_COUNT}, so op ids would reach the wrong kernels. Fix: rebuild it ` +
        `(\`npm rebuild kiln\`; in a clone \`npm install\`, or \`npm run build:cuda\` for the CUDA build).`,
    );
}

/** The loaded binding; throws an actionable KilnError when no binary can be loaded. */
export function native(): Binding {
  if (binding) return binding;
  let loaded: Binding;
  let where: string;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const explicit = process.env.KILN_ADDON;
    const cudaBuild = path.join(PACKAGE_ROOT, 'build-cuda', 'Release', 'kiln.node');
    if (explicit) {
      where = `KILN_ADDON=${explicit}`;
      loaded = require(path.resolve(explicit)) as Binding;
    } else if (fs.existsSync(cudaBuild)) {
      where = cudaBuild;
      loaded = require(cudaBuild) as Binding;
    } else {
      where = `found by node-gyp-build in ${PACKAGE_ROOT}`;
      const load = require('node-gyp-build') as (dir: string) => Binding;
      loaded = load(PACKAGE_ROOT);
    }
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
  checkOpTable(loaded.info(), where);
  binding = loaded;
  return binding;
}
