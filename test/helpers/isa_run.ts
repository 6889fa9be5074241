// Runs a cases script (`<script> check`) in a child process under KILN_ISA=isa and returns the JSON
// object its last line prints, or null when this CPU lacks the ISA. The script's own exit status
// must be 0.
import { spawnSync } from 'child_process';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function runChecksOn(script: string, isa: string): Record<string, any> | null {
  if (!kiln.info().supportedIsas.includes(isa)) return null;
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', script, 'check'], {
    env: { ...process.env, KILN_ISA: isa },
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.is(out.isa, isa);
  return out;
}
