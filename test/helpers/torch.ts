// Debian's Python with PyTorch, for tests that compare kiln with PyTorch in the same run. The
// `python3` first on PATH here is a different Python, so Debian's is called by its full name.
import { spawnSync } from 'child_process';

export const PY = '/usr/bin/python3';
export const hasTorch = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

/** The test title suffix, and the line printed when a comparison is skipped. */
export const torchSuffix = hasTorch ? '' : ' (skipped: Debian python3-torch is not installed)';
export function skipWithoutTorch(what: string): boolean {
  if (!hasTorch) console.log(`  ${what} skipped: ${PY} cannot import torch (apt-get install python3-torch)`);
  return !hasTorch;
}
