// Runs a fingerprint script of this folder in a child process (a fresh kiln, its own environment)
// and checks that 1, 2 and 3 threads give the same bits. Each script prints, last, one JSON line
// with at least `threads` (the count kiln used) and `hash` (or `parts`: a hash per piece).
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as assert from 'uvu/assert';

export interface Fingerprint {
  threads: number;
  hash: string;
  parts?: Record<string, string>;
  [key: string]: unknown;
}

/** The last stdout line of test/helpers/<script> run with `env` added to this process's. */
export function runFingerprint(script: string, env: Record<string, string>): Fingerprint {
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, script)], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** Asserts that KILN_NUM_THREADS = 1, 2 and 3 give the same hash (and parts) from `script`. */
export function assertSameBitsAcrossThreads(script: string): void {
  const [one, two, three] = ['1', '2', '3'].map((t) => runFingerprint(script, { KILN_NUM_THREADS: t }));
  assert.is(one.threads, 1);
  assert.is(two.threads, 2);
  assert.is(three.threads, 3);
  assert.equal(two.parts, one.parts);
  assert.equal(three.parts, one.parts);
  assert.is(two.hash, one.hash);
  assert.is(three.hash, one.hash);
}
