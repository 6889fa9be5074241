/**
 * PyTorch as a bench reference: a Python script run in a child process with Debian's python3 (when it
 * has torch), timed by itself on the same thread count as kiln. runTorch prepends a prelude that sets
 * the threads and seed and defines `timed(fn, reps, warmup=2)` (a list of ms per call) and
 * `report(name, times, **extra)` (prints one JSON line); the script's `sys.argv[1:]` are `args`.
 * @example
 * const r = runTorch(`x = torch.randn(int(sys.argv[1]))\nreport('neg', timed(lambda: -x, 11))`, [1e6], { threads: 2 });
 * if (typeof r !== 'string') console.log(r.results.neg.stats.medianMs);
 */
import { spawnSync } from 'child_process';
import type { Stats } from './harness';

/** Debian's python3 (the one with torch here); KILN_BENCH_PYTHON names another (a GPU machine's). */
export const PY = process.env.KILN_BENCH_PYTHON || '/usr/bin/python3';

const PRELUDE = `
import json, os, sys, time, torch
torch.set_num_threads(int(os.environ['KILN_BENCH_THREADS']))
torch.manual_seed(0)
def timed(fn, reps, warmup=2):
    for _ in range(warmup): fn()
    ts = []
    for _ in range(reps):
        time.sleep(0.005)
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return ts
def report(name, ts, **extra):
    s = sorted(ts)
    print('KILN_BENCH ' + json.dumps(dict(name=name, median=s[len(s) // 2], min=s[0], max=s[-1], samples=len(s), **extra)), flush=True)
`;

/** One reported timing, with what the script added to it. */
export interface TorchResult {
  stats: Stats;
  extra: Record<string, unknown>;
}

export interface TorchRun {
  /** torch.__version__. */
  version: string;
  /** By the name given to report(). */
  results: Record<string, TorchResult>;
}

export interface TorchOptions {
  threads: number;
  /** Keep freed memory in glibc's malloc (PyTorch's CPU allocator otherwise returns big blocks to the OS every call). */
  keepMemory?: boolean;
  timeoutMs?: number;
}

/** Runs `script` after the prelude; the timings it reported, or why there are none. Never throws. */
export function runTorch(script: string, args: (string | number)[], o: TorchOptions): TorchRun | string {
  const env: NodeJS.ProcessEnv = { ...process.env, KILN_BENCH_THREADS: String(o.threads) };
  if (o.keepMemory)
    env.GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824';
  const r = spawnSync(
    PY,
    ['-c', `${PRELUDE}\nprint('KILN_VERSION ' + torch.__version__, flush=True)\n${script}`, ...args.map(String)],
    {
      encoding: 'utf8',
      env,
      timeout: o.timeoutMs ?? 600_000,
      maxBuffer: 16 << 20,
    },
  );
  if (r.error) return `PyTorch skipped: ${r.error.message}`;
  if (r.status !== 0) return `PyTorch skipped: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`}`;
  let version = 'unknown';
  const results: Record<string, TorchResult> = {};
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('KILN_VERSION ')) version = line.slice(13).trim();
    if (!line.startsWith('KILN_BENCH ')) continue;
    const { name, median, min, max, samples, ...extra } = JSON.parse(line.slice(11)) as Record<string, unknown> & {
      name: string;
      median: number;
      min: number;
      max: number;
      samples: number;
    };
    results[name] = { stats: { medianMs: median, minMs: min, maxMs: max, samples, iters: 1 }, extra };
  }
  return { version, results };
}
