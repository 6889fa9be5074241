/**
 * kiln.cuda: the CUDA devices (the CUDA build: `KILN_CUDA=1 npm install kiln` or `npm run
 * build:cuda`). Without it isAvailable() is false, deviceCount() 0, and device queries throw
 * ERR_NOT_COMPILED with the command that fixes it.
 * @example
 * if (kiln.cuda.isAvailable()) x = x.cuda();
 */
import { checkDevice, cudaCompiled, cudaDeviceCount, deviceIndex } from './device';
import { KilnError, STATUS_CODES } from './errors';
import { native } from './native';

/** What getDeviceProperties() reports. */
export interface CudaDeviceProperties {
  name: string;
  /** Bytes of device memory. */
  totalMemory: number;
  /** Streaming multiprocessors. */
  multiProcessorCount: number;
  major: number;
  minor: number;
}

function index(device: number | string | undefined, op: string): number {
  return deviceIndex(checkDevice(typeof device === 'number' ? `cuda:${device}` : (device ?? 'cuda'), op));
}

function status(st: number, op: string): void {
  if (st !== 0) throw new KilnError(STATUS_CODES[st] ?? 'ERR_CUDA', `${op}: ${native().lastError()}`);
}

/** True when this binary has CUDA and a CUDA device is visible. */
export function isAvailable(): boolean {
  return cudaDeviceCount() > 0;
}

/** True when this binary was built with the CUDA backend (whether or not a GPU is present). */
export const isCompiled = (): boolean => cudaCompiled();

/** CUDA devices visible (0 without the CUDA build, a driver or a GPU). */
export function deviceCount(): number {
  return cudaDeviceCount();
}

/** Name, memory, SM count and compute capability of cuda:N. */
export function getDeviceProperties(device: number | string = 0): CudaDeviceProperties {
  const i = index(device, 'getDeviceProperties');
  const p = native().cudaProps!(i);
  if (!p) throw new KilnError('ERR_CUDA', `getDeviceProperties: ${native().lastError()}`);
  return { name: p.name, totalMemory: p.totalMemory, multiProcessorCount: p.smCount, major: p.major, minor: p.minor };
}

/** The device's name ("NVIDIA H200" ...). */
export const getDeviceName = (device: number | string = 0): string => getDeviceProperties(device).name;

/** Waits for every op enqueued on the device (all devices used when none is given). */
export function synchronize(device?: number | string): void {
  if (!cudaCompiled()) return;
  status(native().cudaSynchronize!(device === undefined ? -1 : index(device, 'synchronize')), 'synchronize');
}

/** Returns cached, unused device memory to the driver (every device when none is given). */
export function emptyCache(device?: number | string): void {
  if (!cudaCompiled()) return;
  status(native().cudaEmptyCache!(device === undefined ? -1 : index(device, 'emptyCache')), 'emptyCache');
}

/** True when op id `op` has a CUDA kernel in this build (the coverage table's CUDA column). */
export function hasKernel(op: number): boolean {
  const nb = native();
  return nb.info().cuda && !!nb.cudaOpSupported && nb.cudaOpSupported(op);
}
