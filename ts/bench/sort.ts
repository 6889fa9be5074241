/**
 * sort / topk / kthvalue bench: kiln beside PyTorch CPU (torch.sort, torch.topk, torch.kthvalue,
 * Debian's python3-torch in a child process of the same run, same thread count), on the same
 * shapes and dtypes. Each side times its own calls (median, min, max of --reps); the answers are
 * compared first (kiln's sorted values against a JS sort of the same data). Ratios above 1 mean
 * kiln is faster.
 * Run: `npx tsx ts/bench/sort.ts [--reps N] [--only <regex>]`.
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
    report(str(i), timed(lambda: eval(c['torch']), reps))
`;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const reps = Number(arg('--reps') ?? 7);
  const only = arg('--only');
  const cases = CASES.filter((c) => !only || new RegExp(only).test(`${c.name} ${c.dtype}`));
  const threads = kiln.info().numThreads;
  kiln.manualSeed(0);
  const rows: string[] = [];
  const kilnMs: number[] = [];
  for (const c of cases) {
    const x =
      c.dtype === 'int32'
        ? kiln.randint(-1000000, 1000000, c.shape, { dtype: 'int32' })
        : kiln.randn(c.shape, { dtype: c.dtype });
    // Correctness first: the first row's values against a JS sort of the same row.
    const r0 = c.run(x);
    if (c.name.startsWith('sort') && c.shape.length === 2 && c.name.includes('rows')) {
      const row = (x.slice(0, 0, 1).flatten().toArray() as number[]).slice().sort((a, b) => a - b);
      const got = r0.values.slice(0, 0, 1).flatten().toArray() as number[];
      if (got.some((v, i) => v !== row[i])) throw new Error(`${c.name}: kiln's values differ from a JS sort`);
    }
    r0.values.dispose();
    r0.indices.dispose();
    const t: number[] = [];
    for (let i = 0; i < reps + 2; i++) {
      const t0 = process.hrtime.bigint();
      const r = c.run(x);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      r.values.dispose();
      r.indices.dispose();
      if (i >= 2) t.push(ms);
    }
    x.dispose();
    const s = summarize(t, 1);
    kilnMs.push(s.medianMs);
    rows.push(
      `${c.name.padEnd(20)}${JSON.stringify(c.shape).padEnd(14)}${c.dtype.padEnd(9)}` +
        `kiln ${s.medianMs.toFixed(2).padStart(8)} ms (${s.minMs.toFixed(2)}-${s.maxMs.toFixed(2)})`,
    );
  }
  const torch = runTorch(
    PY_SORT,
    [JSON.stringify(cases.map((c) => ({ shape: c.shape, dtype: c.dtype, torch: c.torch }))), reps],
    {
      threads,
      keepMemory: true,
    },
  );
  console.log(`threads ${threads}, isa ${kiln.info().isa}, torch ${typeof torch === 'string' ? torch : torch.version}`);
  rows.forEach((line, i) => {
    if (typeof torch === 'string') return console.log(line);
    const st = torch.results[String(i)].stats;
    console.log(
      `${line}   torch ${st.medianMs.toFixed(2).padStart(8)} ms (${st.minMs.toFixed(2)}-${st.maxMs.toFixed(2)})   ` +
        `torch/kiln ${(st.medianMs / kilnMs[i]).toFixed(2)}x`,
    );
  });
}

main();
