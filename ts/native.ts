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
export interface Binding {
  argBlock: Float64Array;
  descDoubles: number;
  attrBase: number;
  run(op: number, nout: number, nin: number, nattr: number): number;
  alloc(nbytes: number): number;
  free(addr: number, nbytes: number): void;
  view(addr: number, nbytes: number): ArrayBuffer | null;
  copyIn(addr: number, src: ArrayBufferView): boolean;
  copyOut(addr: number, dst: ArrayBufferView): boolean;
  lastError(): string;
  memoryStats(): NativeMemoryStats;
  emptyCache(): void;
  info(): NativeInfo;
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
