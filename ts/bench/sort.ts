/**
 * sort / topk / kthvalue bench: kiln beside PyTorch CPU (torch.sort, torch.topk, torch.kthvalue,
 * Debian's python3-torch in a child process of the same run, same thread count), on the same
 * shapes and dtypes, in --rounds of kiln (every case) then PyTorch (every case), so drift hits both;
 * median, min and max over all calls. kiln's sorted values are checked against a JS sort first.
 * Ratios above 1 mean kiln is faster.
 * Run: `npx tsx ts/bench/sort.ts [--reps N] [--rounds N] [--only <regex>]`.
 */
import * as kiln from '../index';
import { runTorch } from './torch_ref';
import { summarize } from './harness';

interface BenchCase {
  name: string;
  shape: number[];
  dtype: 'float32' | 'float64' | 'int32';
  /** torch expression of x (and K) that the case times. */
  torch: string;
  run: (x: kiln.Tensor) => kiln.ValuesIndices;
}

const CASES: BenchCase[] = [
  { name: 'sort rows', shape: [4096, 1024], dtype: 'float32', torch: 'torch.sort(x, -1)', run: (x) => x.sort(-1) },
  { name: 'sort rows short', shape: [65536, 64], dtype: 'float32', torch: 'torch.sort(x, -1)', run: (x) => x.sort(-1) },
  { name: 'sort one row', shape: [1 << 22], dtype: 'float32', torch: 'torch.sort(x)', run: (x) => x.sort() },
  { name: 'sort dim 0', shape: [1024, 4096], dtype: 'float32', torch: 'torch.sort(x, 0)', run: (x) => x.sort(0) },
  { name: 'sort rows', shape: [4096, 1024], dtype: 'float64', torch: 'torch.sort(x, -1)', run: (x) => x.sort(-1) },
  { name: 'sort rows', shape: [4096, 1024], dtype: 'int32', torch: 'torch.sort(x, -1)', run: (x) => x.sort(-1) },
  {
    name: 'topk 10 rows',
    shape: [256, 32768],
    dtype: 'float32',
    torch: 'torch.topk(x, 10, -1)',
    run: (x) => x.topk(10, -1),
  },
  {
    name: 'topk 100 one row',
    shape: [1 << 22],
    dtype: 'float32',
    torch: 'torch.topk(x, 100)',
    run: (x) => x.topk(100),
  },
  {
    name: 'kthvalue 512 rows',
    shape: [4096, 1024],
    dtype: 'float32',
    torch: 'torch.kthvalue(x, 512, -1)',
    run: (x) => x.kthvalue(512, -1),
  },
];

const PY_SORT = `
import json
cases = json.loads(sys.argv[1]); reps = int(sys.argv[2])
dt = dict(float32=torch.float32, float64=torch.float64, int32=torch.int32)
for i, c in enumerate(cases):
    if c['dtype'] == 'int32': x = torch.randint(-1000000, 1000000, c['shape'], dtype=torch.int32)
    else: x = torch.randn(c['shape'], dtype=dt[c['dtype']])
    ts = timed(lambda: eval(c['torch']), reps)
    report(str(i), ts, times=ts)
`;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** kiln's per-call times (ms) of one case, `reps` after two warm-up calls. */
function timeKiln(c: BenchCase, x: kiln.Tensor, reps: number): number[] {
  const t: number[] = [];
  for (let i = 0; i < reps + 2; i++) {
    const t0 = process.hrtime.bigint();
    const r = c.run(x);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    r.values.dispose();
    r.indices.dispose();
    if (i >= 2) t.push(ms);
  }
  return t;
}

function main(): void {
  const reps = Number(arg('--reps') ?? 5);
  const rounds = Number(arg('--rounds') ?? 3);
  const only = arg('--only');
  const cases = CASES.filter((c) => !only || new RegExp(only).test(`${c.name} ${c.dtype}`));
  const threads = kiln.info().numThreads;
  kiln.manualSeed(0);
  const inputs = cases.map((c) =>
    c.dtype === 'int32'
      ? kiln.randint(-1000000, 1000000, c.shape, { dtype: 'int32' })
      : kiln.randn(c.shape, { dtype: c.dtype }),
  );
  // Correctness first: kiln's sort of the first row against a JS sort of it.
  cases.forEach((c, i) => {
    if (!c.name.startsWith('sort')) return;
    const x = inputs[i].ndim === 2 ? inputs[i].slice(0, 0, 1) : inputs[i];
    const want = (x.flatten().toArray() as number[]).slice().sort((a, b) => a - b);
    const r = x.sort(-1);
    const got = r.values.flatten().toArray() as number[];
    if (got.some((v, j) => v !== want[j])) throw new Error(`${c.name}: kiln's values differ from a JS sort`);
  });
  // Rounds of kiln (every case) then PyTorch (every case, one child process), so drift hits both.
  const kilnT: number[][] = cases.map(() => []),
    torchT: number[][] = cases.map(() => []);
  let version = '';
  const spec = JSON.stringify(cases.map((c) => ({ shape: c.shape, dtype: c.dtype, torch: c.torch })));
  for (let r = 0; r < rounds; r++) {
    cases.forEach((c, i) => kilnT[i].push(...timeKiln(c, inputs[i], reps)));
    const torch = runTorch(PY_SORT, [spec, reps], { threads, keepMemory: true });
    if (typeof torch === 'string') {
      version = torch;
      continue;
    }
    version = torch.version;
    cases.forEach((_, i) => torchT[i].push(...(torch.results[String(i)].extra.times as number[])));
  }
  inputs.forEach((x) => x.dispose());
  console.log(`threads ${threads}, isa ${kiln.info().isa}, torch ${version}, ${rounds} rounds x ${reps} calls each`);
  const fmt = (s: ReturnType<typeof summarize>) =>
    `${s.medianMs.toFixed(2).padStart(8)} ms (${s.minMs.toFixed(2)}-${s.maxMs.toFixed(2)})`;
  cases.forEach((c, i) => {
    const k = summarize(kilnT[i], 1);
    let line = `${c.name.padEnd(20)}${JSON.stringify(c.shape).padEnd(14)}${c.dtype.padEnd(9)}kiln ${fmt(k)}`;
    if (torchT[i].length) {
      const t = summarize(torchT[i], 1);
      line += `   torch ${fmt(t)}   torch/kiln ${(t.medianMs / k.medianMs).toFixed(2)}x`;
    }
    console.log(line);
  });
}

main();
