/**
 * `cuda` bench: kiln's CUDA kernels through the public API on one GPU, beside PyTorch on the same
 * GPU and shapes (a child process; KILN_BENCH_PYTHON names an interpreter with CUDA torch).
 * Memory-bound ops report effective GB/s with the minimum bytes moved (read + write) and their
 * fraction of kiln's own device copy; AdamW reports 28 B per float32 parameter (param, grad, m,
 * v read; param, m, v written); `add_ (1 element)` the wall time per op of 1,000 tiny in-place adds
 * (host dispatch). Each sample synchronises the device, so large sizes keep that cost small. Without
 * a GPU (or a CUDA build) the bench says so and records nothing.
 */
import * as kiln from '../index';
import type { Tensor } from '../tensor';
import { BenchOptions, Measurement, Variant, addRatios, gbps, measure } from './harness';
import { runTorch, type TorchRun } from './torch_ref';

const F = kiln.nn.functional;
const dev = 'cuda';

interface Case {
  name: string;
  shape: number[];
  bytes: number;
  /** Enqueues one call (the bench synchronises after it). */
  run: () => void;
}

const PY_CUDA = `
import torch.nn.functional as F
gib = int(sys.argv[1]); R, C, XR, XC, P = [int(a) for a in sys.argv[2:7]]
dev = 'cuda'
def sync(fn):
    def f():
        fn()
        torch.cuda.synchronize()
    return f
x = torch.randn(gib // 4, device=dev); y = torch.empty_like(x); z = torch.randn_like(x)
report('copy', timed(sync(lambda: y.copy_(x)), 21))
report('add', timed(sync(lambda: torch.add(x, z, out=y)), 21))
report('gelu', timed(sync(lambda: F.gelu(x)), 21))
report('sum', timed(sync(lambda: x.sum()), 21))
report('to bfloat16', timed(sync(lambda: x.to(torch.bfloat16)), 21))
del y, z
rows = x[: R * C].view(R, C); w = torch.randn(C, device=dev); b = torch.randn(C, device=dev)
report('softmax', timed(sync(lambda: torch.softmax(rows, -1)), 21))
report('layerNorm', timed(sync(lambda: F.layer_norm(rows, (C,), w, b)), 21))
xg = rows.detach().requires_grad_(); wg = w.clone().requires_grad_(); bg = b.clone().requires_grad_(); gy = torch.randn_like(rows)
report('softmax fwd+bwd', timed(sync(lambda: torch.autograd.grad(torch.softmax(xg, -1), xg, gy)), 21))
report('layerNorm fwd+bwd', timed(sync(lambda: torch.autograd.grad(F.layer_norm(xg, (C,), wg, bg), (xg, wg, bg), gy)), 21))
del xg, gy
logits = x[: XR * XC].view(XR, XC); t = torch.randint(0, XC, (XR,), device=dev)
report('crossEntropy', timed(sync(lambda: F.cross_entropy(logits, t)), 21))
lg = logits.detach().requires_grad_()
report('crossEntropy fwd+bwd', timed(sync(lambda: torch.autograd.grad(F.cross_entropy(lg, t), lg)), 21))
del x, rows, logits, lg
torch.cuda.empty_cache()
ps = [torch.randn(P // 10, device=dev, requires_grad=True) for _ in range(10)]
for p in ps: p.grad = torch.randn_like(p)
opt = torch.optim.AdamW(ps, lr=1e-3, fused=True)
report('AdamW', timed(sync(opt.step), 11))
del ps, opt
s = torch.zeros(1, device=dev)
def tiny():
    for _ in range(1000): s.add_(1)
    torch.cuda.synchronize()
report('add_ (1 element)', [t / 1000 for t in timed(tiny, 11)])
`;

function cases(gib: number, R: number, C: number, XR: number, XC: number): { cases: Case[]; keep: Tensor[] } {
  const n = gib / 4;
  const x = kiln.randn([n], { device: dev }),
    y = kiln.empty([n], { device: dev }),
    z = kiln.randn([n], { device: dev });
  const rows = x.narrow(0, 0, R * C).reshape([R, C]);
  const w = kiln.randn([C], { device: dev }),
    b = kiln.randn([C], { device: dev }),
    gy = kiln.randn([R, C], { device: dev });
  const logits = x.narrow(0, 0, XR * XC).reshape([XR, XC]);
  const target = kiln.randint(0, XC, [XR], { device: dev });
  const scoped = (fn: () => void) => () => kiln.scope(fn);
  const grad = (f: (t: Tensor) => Tensor, src: Tensor, g?: Tensor) =>
    scoped(() => {
      const xi = src.detach().requiresGrad_();
      const out = f(xi);
      out.backward(g);
    });
  return {
    keep: [x, y, z, rows, w, b, gy, logits, target],
    cases: [
      { name: 'copy', shape: [n], bytes: 2 * gib, run: () => void y.copy_(x) },
      { name: 'add', shape: [n], bytes: 3 * gib, run: scoped(() => void x.add(z)) },
      { name: 'gelu', shape: [n], bytes: 2 * gib, run: scoped(() => void F.gelu(x)) },
      { name: 'sum', shape: [n], bytes: gib, run: scoped(() => void x.sum()) },
      { name: 'to bfloat16', shape: [n], bytes: gib * 1.5, run: scoped(() => void x.to('bfloat16')) },
      { name: 'softmax', shape: [R, C], bytes: 8 * R * C, run: scoped(() => void F.softmax(rows, -1)) },
      { name: 'layerNorm', shape: [R, C], bytes: 8 * R * C, run: scoped(() => void F.layerNorm(rows, [C], w, b)) },
      { name: 'softmax fwd+bwd', shape: [R, C], bytes: 20 * R * C, run: grad((t) => F.softmax(t, -1), rows, gy) },
      {
        name: 'layerNorm fwd+bwd',
        shape: [R, C],
        bytes: 20 * R * C,
        run: grad((t) => F.layerNorm(t, [C], w, b), rows, gy),
      },
      {
        name: 'crossEntropy',
        shape: [XR, XC],
        bytes: 4 * XR * XC,
        run: scoped(() => void F.crossEntropy(logits, target)),
      },
      {
        name: 'crossEntropy fwd+bwd',
        shape: [XR, XC],
        bytes: 12 * XR * XC,
        run: grad((t) => F.crossEntropy(t, target), logits),
      },
    ],
  };
}

export function benchCuda(opts: BenchOptions): Measurement[] {
  if (!kiln.cuda.isAvailable()) {
    console.error('cuda: skipped (no CUDA device, or this build has no CUDA backend; kiln.info().cuda)');
    return [];
  }
  const quick = opts.max < 1e7;
  const gib = quick ? 1 << 24 : 1 << 30;
  const [R, C, XR, XC] = quick ? [4096, 1024, 1024, 4096] : [262144, 1024, 65536, 4096];
  const P = quick ? 1e6 : 1e8;
  const out: Measurement[] = [];
  const sync =
    (run: () => void): Variant['run'] =>
    () => {
      run();
      kiln.cuda.synchronize();
    };
  const gpu = kiln.cuda.getDeviceName(0);
  const { cases: cs, keep } = cases(gib, R, C, XR, XC);
  let copy: Measurement | null = null;
  for (const c of cs) {
    const [s] = measure([{ impl: 'kiln', run: sync(c.run) }], opts, 1);
    const m: Measurement = {
      bench: 'cuda',
      name: c.name,
      shape: c.shape,
      dtype: 'float32',
      impl: 'kiln',
      stats: s,
      unit: 'GB/s',
      value: gbps(c.bytes, s),
      ratios: {},
      detail: gpu,
    };
    if (c.name === 'copy') copy = m;
    else if (copy) m.ratios['copy'] = m.value / copy.value;
    out.push(m);
  }
  for (const t of keep) t.dispose();

  // AdamW over P float32 parameters in 10 tensors, and 1,000 tiny in-place adds.
  kiln.scope(() => {
    const ps = Array.from({ length: 10 }, () => kiln.randn([P / 10], { device: dev }).requiresGrad_());
    for (const p of ps) p.grad = kiln.randn([P / 10], { device: dev });
    const opt = new kiln.optim.AdamW(ps, { lr: 1e-3 });
    const [s] = measure([{ impl: 'kiln', run: sync(() => opt.step()) }], opts, 1);
    out.push({
      bench: 'cuda',
      name: 'AdamW',
      shape: [P],
      dtype: 'float32',
      impl: 'kiln',
      stats: s,
      unit: 'GB/s',
      value: gbps(28 * P, s),
      ratios: copy ? { copy: gbps(28 * P, s) / copy.value } : {},
      detail: gpu,
    });
    const tiny = kiln.zeros([1], { device: dev });
    const [t] = measure(
      [
        {
          impl: 'kiln',
          run: sync(() => {
            for (let i = 0; i < 1000; i++) tiny.add_(1);
          }),
        },
      ],
      opts,
      1,
    );
    const perOp = { ...t, medianMs: t.medianMs / 1000, minMs: t.minMs / 1000, maxMs: t.maxMs / 1000 };
    out.push({
      bench: 'cuda',
      name: 'add_ (1 element)',
      shape: [1],
      dtype: 'float32',
      impl: 'kiln',
      stats: perOp,
      unit: 'ns/op',
      value: perOp.medianMs * 1e6,
      ratios: {},
      detail: gpu,
    });
  });

  const torch = runTorch(PY_CUDA, [gib, R, C, XR, XC, P], { threads: 1 });
  if (typeof torch === 'string') console.error(`cuda: ${torch}`);
  else addTorch(out, torch);
  return out;
}

function addTorch(out: Measurement[], torch: TorchRun): void {
  const refs: Measurement[] = [];
  for (const m of out) {
    const r = torch.results[m.name];
    if (!r) continue;
    const bytes = m.unit === 'GB/s' ? m.value * m.stats.medianMs * 1e6 : 0;
    const ref: Measurement = {
      ...m,
      impl: `PyTorch ${torch.version}`,
      stats: r.stats,
      value: m.unit === 'GB/s' ? gbps(bytes, r.stats) : r.stats.medianMs * 1e6,
      ratios: {},
    };
    addRatios([m], { [`PyTorch ${torch.version}`]: ref });
    refs.push(ref);
  }
  out.push(...refs);
}
