/** Devices: 'cpu' always; 'cuda' / 'cuda:N' with kiln's CUDA build (ERR_NOT_COMPILED without it). */
import { KilnError } from './errors';
import { native } from './native';

export type Device = 'cpu' | `cuda:${number}`;
export type DeviceLike = Device | 'cuda' | string;

const NOT_COMPILED =
  "needs kiln's CUDA build, which this binary does not have. " +
  'Build it with `KILN_CUDA=1 npm install kiln` (or `npm run build:cuda` in a clone) on a machine with the CUDA toolkit.';

let compiledCache: boolean | undefined;
/** True when the loaded binary has the CUDA backend. */
export function cudaCompiled(): boolean {
  if (compiledCache === undefined) compiledCache = native().info().cuda;
  return compiledCache;
}

let deviceCountCache = -1;
/** CUDA devices visible (0 without the CUDA build, a driver or a GPU). */
export function cudaDeviceCount(): number {
  if (deviceCountCache < 0) {
    const nb = native();
    deviceCountCache = nb.info().cuda && nb.cudaDeviceCount ? nb.cudaDeviceCount() : 0;
  }
  return deviceCountCache;
}

/** The native device index of a checked device: -1 for the CPU, N for cuda:N. */
export const deviceIndex = (d: Device): number => (d === 'cpu' ? -1 : Number(d.slice(5)));
/** The device of a native index. */
export const deviceName = (i: number): Device => (i < 0 ? 'cpu' : `cuda:${i}`);

let defaultDevice: Device = 'cpu';

/**
 * The device creation functions use when given none (as torch.set_default_device); 'cpu' at load.
 * @example
 * kiln.setDefaultDevice('cuda'); // kiln.zeros([2]) is now on cuda:0
 */
export function setDefaultDevice(d: DeviceLike): void {
  defaultDevice = checkDevice(d, 'setDefaultDevice');
}
/** The device creation functions use when given none. */
export const getDefaultDevice = (): Device => defaultDevice;

/** 'cpu' | 'cuda' | 'cuda:N' to a Device ('cuda' is cuda:0; none: the default device); throws ERR_NOT_COMPILED / ERR_DEVICE. */
export function checkDevice(d: unknown, where: string): Device {
  if (d === undefined) return defaultDevice;
  if (d === 'cpu') return 'cpu';
  const m = typeof d === 'string' ? /^cuda(?::(\d+))?$/.exec(d) : null;
  if (!m)
    throw new KilnError(
      'ERR_DEVICE',
      `${where}: unknown device ${JSON.stringify(d)} (expected 'cpu', 'cuda' or 'cuda:N')`,
    );
  if (!cudaCompiled()) throw new KilnError('ERR_NOT_COMPILED', `${where}: device '${d}' ${NOT_COMPILED}`);
  const i = m[1] === undefined ? 0 : Number(m[1]);
  const n = cudaDeviceCount();
  if (i >= n)
    throw new KilnError(
      'ERR_DEVICE',
      `${where}: device '${d}' is not available: ${n} CUDA device${n === 1 ? '' : 's'} visible` +
        (n === 0 ? ' (no NVIDIA driver or GPU on this machine)' : ''),
    );
  return `cuda:${i}`;
}
