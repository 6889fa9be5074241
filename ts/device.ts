/** Devices: 'cpu' always; 'cuda' / 'cuda:N' need the CUDA build (ERR_NOT_COMPILED here). */
import { KilnError } from './errors';

export type Device = 'cpu' | `cuda:${number}`;
export type DeviceLike = Device | 'cuda' | string;

export function checkDevice(d: unknown, where: string): Device {
  if (d === undefined || d === 'cpu') return 'cpu';
  if (typeof d === 'string' && /^cuda(:\d+)?$/.test(d))
    throw new KilnError(
      'ERR_NOT_COMPILED',
      `${where}: device '${d}' needs kiln's CUDA build, which this binary does not have. ` +
        `Build it with \`KILN_CUDA=1 npm install kiln\` (or \`npm run build:cuda\` in a clone) on a machine with the CUDA toolkit.`,
    );
  throw new KilnError(
    'ERR_DEVICE',
    `${where}: unknown device ${JSON.stringify(d)} (expected 'cpu', 'cuda' or 'cuda:N')`,
  );
}
