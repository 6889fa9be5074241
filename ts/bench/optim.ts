/**
 * `optim` bench: one AdamW step over 10M float32 parameters (ten tensors of 1M; `--params N`
 * overrides the total), as effective GB/s at 28 bytes per parameter (read p, g, m, v; write p, m,
 * v). References in the same run: the copy bandwidth of a 64 MB copy (copy.ts), and PyTorch's
 * AdamW on the same sizes and threads when Debian's python3 has torch (a child process, timed by
 * itself; once with glibc's default malloc settings and once told to keep freed memory, since
 * page faults dominate its default numbers here). Before timing, kiln's update is checked against
 * the AdamW rule in float64 on sampled elements.
 */
import * as kiln from '../index';
import { copyVariants, fastest } from './copy';
import { BenchOptions, Measurement, Stats, addRatios, expectClose, gbps, measure, sampleIndices } from './harness';
import { runTorch } from './torch_ref';

const BYTES_PER_PARAM = 28;
const TENSORS = 10;

const PY_ADAMW = `
n, tensors, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ps = [torch.randn(n // tensors, requires_grad=True) for _ in range(tensors)]
for p in ps: p.grad = torch.randn_like(p) * 0.01
opt = torch.optim.AdamW(ps, lr=1e-3)
report('adamw', timed(opt.step, reps, warmup=3))
`;

/** PyTorch's AdamW step in a child process, or the reason it did not run. */
function torchAdamW(
  n: number,
  threads: number,
  reps: number,
  keepMemory: boolean,
): { stats: Stats; note: string } | string {
  const r = runTorch(PY_ADAMW, [n, TENSORS, reps], { threads, keepMemory });
  if (typeof r === 'string') return r;
  return { stats: r.results.adamw.stats, note: `PyTorch ${r.version}` };
}

export function benchOptim(opts: BenchOptions): Measurement[] {
  const total = Math.max(TENSORS, Math.round(opts.params));
  const per = Math.floor(total / TENSORS),
    n = per * TENSORS;
  const threads = kiln.info().numThreads;
  const out: Measurement[] = [];
  const rec = (impl: string, stats: Stats, extra: Partial<Measurement> = {}): Measurement => ({
    bench: 'optim',
    name: 'AdamW step',
    shape: [TENSORS, per],
    dtype: 'float32',
    impl,
    stats,
    unit: 'GB/s',
    value: gbps(n * BYTES_PER_PARAM, stats),
    ratios: {},
    ...extra,
  });

  // Correctness first: one step against the rule in float64, on sampled elements.
  const ps = Array.from({ length: TENSORS }, () => kiln.randn([per]).requiresGrad_());
  for (const p of ps) {
    const g = kiln.randn([per]);
    p.grad = g.mul(0.01);
    g.dispose();
  }
  const lr = 1e-3,
    wd = 1e-2,
    eps = 1e-8;
  const idx = sampleIndices(per, 256);
  const p0 = ps[3].data() as Float32Array,
    g0 = ps[3].grad!.data() as Float32Array;
  const before = idx.map((i) => [p0[i], g0[i]]);
  const opt = new kiln.optim.AdamW(ps, { lr, weightDecay: wd, eps });
  opt.step();
  const want = before.map(([p, g]) => {
    const m = 0.1 * g,
      v = 0.001 * g * g;
    return p * (1 - lr * wd) - (lr / 0.1) * (m / (Math.sqrt(v) / Math.sqrt(0.001) + eps));
  });
  expectClose(
    'AdamW step',
    idx.map((i) => p0[i]),
    want,
    (i) => 1e-6 * (1 + Math.abs(want[i])),
  );

  const [kilnStats] = measure([{ impl: 'kiln', run: () => opt.step() }], opts);
  out.push(rec('kiln', kilnStats));

  const src = kiln.randn([16 << 20]),
    dst = kiln.empty([16 << 20]);
  const copies = measure(copyVariants(src, dst), opts).map((stats, i): Measurement => ({
    bench: 'optim',
    name: 'copy',
    shape: [16 << 20],
    dtype: 'float32',
    impl: ['kiln copy_', 'TypedArray.set', 'Buffer.copy'][i],
    stats,
    unit: 'GB/s',
    value: gbps(2 * 4 * (16 << 20), stats),
    ratios: {},
  }));
  const copy = fastest(copies);
  out.push(...copies);
  src.dispose();
  dst.dispose();

  const refs: Record<string, Measurement> = { copy };
  for (const keep of [true, false]) {
    const r = torchAdamW(n, threads, Math.max(5, opts.reps), keep);
    if (typeof r === 'string') {
      if (keep) console.error(`optim: ${r}`);
      break;
    }
    const name = keep ? 'PyTorch (malloc kept)' : 'PyTorch (default malloc)';
    const m = rec(name, r.stats, {
      detail: `${r.note}, torch.optim.AdamW, ${threads} threads`,
    } as Partial<Measurement>);
    out.push(m);
    refs[name] = m;
  }
  addRatios(
    out.filter((m) => m.name === 'AdamW step'),
    refs,
  );
  opt.dispose();
  for (const p of ps) {
    p.grad?.dispose();
    p.dispose();
  }
  return out;
}
