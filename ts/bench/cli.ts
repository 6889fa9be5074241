#!/usr/bin/env node
/**
 * `kiln bench <name>` / `npm run bench -- <name>`: runs a bench (elementwise, sum, dispatch, gemm,
 * all), prints a table and writes one JSON record per measurement to bench/out/<name>-<date>.json
 * (or --json PATH), plus an SVG chart beside it for the benches that draw one (gemm). kiln's thread
 * count is fixed when the addon loads, so `--threads 1,2` re-runs the bench in one child process
 * per count (KILN_NUM_THREADS, and OPENBLAS_NUM_THREADS for the gemm reference) and merges their
 * records.
 * Run with --help for the options; bench/README.md says how the numbers are taken.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { memory } from '../index';
import { benchAttention } from './attention';
import { benchDispatch } from './dispatch';
import { benchElementwise } from './elementwise';
import { benchConv } from './conv';
import { benchGemm, gemmChart } from './gemm';
import { benchGemm64 } from './gemm_f64';
import { benchNorm, benchSoftmax, benchXent } from './memory_ops';
import { benchOps } from './op_catalog';
import { benchOptim } from './optim';
import { benchBatchNorm, benchDropout, benchGelu } from './nn_ops';
import { BenchOptions, BenchRecord, Measurement, commitId, formatTable, machineInfo } from './harness';
import { benchSum } from './sum';
import { benchTrain } from './train';
import { benchCuda } from './cuda';

/** A bench: runs its sweep and returns one measurement per row (async where a reference is). */
export type Bench = (o: BenchOptions) => Measurement[] | Promise<Measurement[]>;

/** The benches by name; `all` runs each of them with modest sizes. */
export const BENCHES: Record<string, Bench> = {
  elementwise: benchElementwise,
  sum: benchSum,
  dispatch: benchDispatch,
  gemm: benchGemm,
  gemm64: benchGemm64,
  optim: benchOptim,
  gelu: benchGelu,
  dropout: benchDropout,
  batchnorm: benchBatchNorm,
  conv: benchConv,
  norm: benchNorm,
  softmax: benchSoftmax,
  xent: benchXent,
  train: benchTrain,
  cuda: benchCuda,
  attention: benchAttention,
  ops: benchOps,
};

/** The benches that also draw their records as an SVG chart. */
export const CHARTS: Record<string, (records: BenchRecord[]) => string | null> = {
  gemm: gemmChart,
};

/** A parsed command line. */
export interface CliArgs {
  bench: string;
  opts: BenchOptions;
  /** KILN_NUM_THREADS values to run in child processes; null: this process only. */
  threads: number[] | null;
  json: string | null;
  markdown: boolean;
  quiet: boolean;
  /** Write the SVG chart beside the JSON (benches in CHARTS). */
  chart: boolean;
}

const USAGE = `usage: kiln bench <${[...Object.keys(BENCHES), 'all'].join('|')}> [options]   (or: npm run bench -- <name> [options])
  --max N         largest element count of the size sweeps (default 1e8; 1e7 for all); the gelu,
                  dropout and batchnorm benches use min(N, 2^24) elements
  --max-size N    largest square side of the gemm and gemm64 benches, longest sequence of the attention bench
                  (default 4096; 1024 for all)
  --params N      parameters of the optim bench's AdamW step (default 1e7; 1e6 for all)
  --reps N        timed samples per variant (default 11)
  --sample-ms MS  target length of one sample (default 20)
  --matrix N      side of the [N, N] matrix of the dim sums (default 4096)
  --batch N       calls per sample of the dispatch bench (default 10000)
                  train: one training step of a Transformer classifier and of a CNN, per phase, beside PyTorch
                  (--reps steps after 3 warm-up steps; --quick: tiny models, 2 steps)
  --threads 1,2   run once per KILN_NUM_THREADS value, in child processes, and merge
  --json PATH     where the JSON goes (default bench/out/<name>-<date>.json); the SVG chart goes beside it
  --no-chart      no SVG chart
  --markdown      print the table as markdown
  --quick         tiny sizes and few samples (a smoke test, seconds)
  --quiet         no table on stdout
  --verbose       progress and kiln.memory() on stderr`;

const positive = (flag: string, v: string | undefined): number => {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${flag} needs a positive number, got ${v ?? 'nothing'}`);
  return n;
};

/** Parses argv after the script name; a leading `bench` (the bin's command word) is skipped. */
export function parseArgs(argv: string[]): CliArgs {
  const rest = argv[0] === 'bench' ? argv.slice(1) : argv.slice();
  const bench = rest.shift();
  if (!bench || !(bench in BENCHES || bench === 'all')) throw new Error(`unknown bench ${bench ?? '(none)'}\n${USAGE}`);
  const opts: BenchOptions = {
    max: bench === 'all' ? 1e7 : 1e8,
    reps: 11,
    minSampleMs: 20,
    matrix: 4096,
    batch: 10000,
    maxSize: bench === 'all' ? 1024 : 4096,
    params: bench === 'all' ? 1e6 : 1e7,
    ownProcess: false,
    verbose: false,
  };
  const args: CliArgs = { bench, opts, threads: null, json: null, markdown: false, quiet: false, chart: true };
  let quick = false;
  const set: Partial<BenchOptions> = {};
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = (): string | undefined => rest[++i];
    if (flag === '--max') set.max = positive(flag, value());
    else if (flag === '--reps') set.reps = Math.round(positive(flag, value()));
    else if (flag === '--sample-ms') set.minSampleMs = positive(flag, value());
    else if (flag === '--matrix') set.matrix = Math.round(positive(flag, value()));
    else if (flag === '--batch') set.batch = Math.round(positive(flag, value()));
    else if (flag === '--max-size') set.maxSize = Math.round(positive(flag, value()));
    else if (flag === '--params') set.params = Math.round(positive(flag, value()));
    else if (flag === '--threads') args.threads = (value() ?? '').split(',').map((t) => Math.round(positive(flag, t)));
    else if (flag === '--json') args.json = value() ?? null;
    else if (flag === '--markdown') args.markdown = true;
    else if (flag === '--quiet') args.quiet = true;
    else if (flag === '--no-chart') args.chart = false;
    else if (flag === '--verbose') opts.verbose = true;
    else if (flag === '--quick') quick = true;
    else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  if (quick)
    Object.assign(opts, { max: 1e4, reps: 3, minSampleMs: 1, matrix: 64, batch: 200, maxSize: 64, params: 1e4, quick });
  Object.assign(opts, set);
  return args;
}

/** Runs the bench in this process (at its KILN_NUM_THREADS) and returns its records. */
export async function runBenches(args: CliArgs): Promise<BenchRecord[]> {
  const machine = machineInfo(),
    commit = commitId(),
    date = new Date().toISOString();
  const names = args.bench === 'all' ? Object.keys(BENCHES) : [args.bench];
  const ms: Measurement[] = [];
  for (const name of names) ms.push(...(await BENCHES[name](args.opts)));
  return ms.map(({ stats, ...m }) => ({ ...m, ...stats, threads: machine.threads, machine, commit, date }));
}

/** Re-runs this command once per thread count in a child process and merges the records. */
function runThreads(argv: string[], threads: number[]): BenchRecord[] {
  const own: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--threads' || argv[i] === '--json') i++;
    else if (argv[i] !== '--markdown') own.push(argv[i]);
  }
  // This file runs as compiled JS (the bin) or as TypeScript through tsx, whatever started us.
  const nodeArgs = __filename.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs')] : process.execArgv;
  const runs = threads.map((t) => {
    const file = path.join(os.tmpdir(), `kiln-bench-${process.pid}-${t}.json`);
    const child = spawnSync(
      process.execPath,
      [...nodeArgs, __filename, ...own, '--quiet', '--no-chart', '--json', file],
      {
        // OpenBLAS (the gemm reference) takes its thread count from the environment when it loads.
        env: { ...process.env, KILN_NUM_THREADS: String(t), OPENBLAS_NUM_THREADS: String(t) },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    if (child.status !== 0)
      throw new Error(`the run with KILN_NUM_THREADS=${t} failed (${child.error?.message ?? `exit ${child.status}`})`);
    const records = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchRecord[];
    fs.unlinkSync(file);
    return records;
  });
  // Same measurement at each thread count on adjacent rows.
  const key = (r: BenchRecord): string => `${r.bench}|${r.name}|${r.shape}|${r.impl}`;
  return runs[0].flatMap((r) =>
    runs.map((rs) => rs.find((x) => key(x) === key(r))).filter((x): x is BenchRecord => !!x),
  );
}

/**
 * The CLI: parse, run (here or per thread count), print, write JSON and charts. Resolves to the exit
 * code. `ownProcess`: this process is the `kiln bench` command (see BenchOptions.ownProcess).
 */
export async function main(argv: string[], ownProcess = false): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  args.opts.ownProcess = ownProcess;
  try {
    const records = args.threads ? runThreads(argv, args.threads) : await runBenches(args);
    const file =
      args.json ??
      path.join('bench', 'out', `${args.bench}-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.json`);
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(records, null, 1)}\n`);
    const charts = args.chart ? writeCharts(args.bench, records, file) : [];
    if (!args.quiet) {
      const m = records[0]?.machine,
        commit = records[0]?.commit ?? 'unknown';
      console.log(
        `kiln bench ${args.bench}: ${m?.cpu}, ${m?.isa}, ${m?.logicalCpus} logical CPUs, node ${m?.node}, commit ${commit}, load ${m?.loadAvg.toFixed(2)}`,
      );
      console.log(formatTable(records, args.markdown));
      console.log(`wrote ${records.length} records to ${file}${charts.map((c) => `, chart to ${c}`).join('')}`);
    }
    if (args.opts.verbose && !args.threads) console.error(`kiln.memory(): ${JSON.stringify(memory())}`);
    return 0;
  } catch (e) {
    console.error(`kiln bench ${args.bench}: ${(e as Error).message}`);
    return 1;
  }
}

/**
 * Writes each chart the run's benches draw beside the JSON: same basename with .svg (with the bench
 * name added when a run draws several). Returns the files written.
 */
function writeCharts(bench: string, records: BenchRecord[], jsonFile: string): string[] {
  const names = (bench === 'all' ? Object.keys(BENCHES) : [bench]).filter((n) => n in CHARTS);
  const base = jsonFile.replace(/\.json$/i, '');
  const written: string[] = [];
  for (const name of names) {
    const svg = CHARTS[name](records.filter((r) => r.bench === name));
    if (!svg) continue;
    const file = `${base}${names.length > 1 ? `-${name}` : ''}.svg`;
    fs.writeFileSync(file, svg);
    written.push(file);
  }
  return written;
}

if (require.main === module)
  void main(process.argv.slice(2), true).then((code) => {
    process.exitCode = code;
  });
