/**
 * kiln.linalg bench: kiln beside PyTorch CPU (torch.linalg on OpenBLAS's LAPACK, Debian's
 * python3-torch in a child process of the same run, same thread count), on the same shapes, in
 * --rounds of kiln (every case) then PyTorch (every case), so drift hits both; median, min and max
 * over all calls. Each case's kiln result is checked by a residual first. Ratios above 1 mean
 * kiln is faster.
 * Run: `npx tsx ts/bench/linalg.ts [--reps N] [--rounds N] [--only <regex>] [--dtype float64]`
 * (float32 by default; --dtype float64 runs every case in float64 on both sides).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as kiln from '../index';
import { summarize } from './harness';
import { runTorch } from './torch_ref';

type Kind = 'spd' | 'randn' | 'sym' | 'tri';

interface BenchCase {
  name: string;
  shape: number[];
  dtype: 'float32' | 'float64';
  kind: Kind;
  /** torch expression of x (and b, the right-hand sides [..., n, rhs]) that the case times. */
  torch: string;
  rhs?: number;
  run: (x: kiln.Tensor, b: kiln.Tensor | null) => unknown;
  /** The largest entry of a residual that should be near 0 (a check that the result is right). */
  check: (x: kiln.Tensor, b: kiln.Tensor | null) => kiln.Tensor;
}

const L = kiln.linalg;
const mT = (t: kiln.Tensor) => t.transpose(-1, -2);
const maxAbs = (t: kiln.Tensor) => t.abs().amax();
const eyeLike = (x: kiln.Tensor) => {
  const n = x.shape[x.ndim - 1];
  return kiln.eye(n, n, { dtype: x.dtype });
};

const chol = (name: string, shape: number[]): BenchCase => ({
  name,
  shape,
  dtype: 'float32',
  kind: 'spd',
  torch: 'torch.linalg.cholesky(x)',
  run: (x) => L.cholesky(x),
  check: (x) => {
    const l = L.cholesky(x);
    return maxAbs(l.matmul(mT(l)).sub(x)).div(maxAbs(x));
  },
});
const solve = (name: string, shape: number[], rhs: number): BenchCase => ({
  name,
  shape,
  dtype: 'float32',
  kind: 'randn',
  rhs,
  torch: 'torch.linalg.solve(x, b)',
  run: (x, b) => L.solve(x, b as kiln.Tensor),
  check: (x, b) => {
    const s = L.solve(x, b as kiln.Tensor);
    return maxAbs(x.matmul(s).sub(b as kiln.Tensor)).div(maxAbs(s));
  },
});
const inv = (name: string, shape: number[]): BenchCase => ({
  name,
  shape,
  dtype: 'float32',
  kind: 'randn',
  torch: 'torch.linalg.inv(x)',
  run: (x) => L.inv(x),
  check: (x) => {
    const i = L.inv(x);
    return maxAbs(x.matmul(i).sub(eyeLike(x))).div(maxAbs(i));
  },
});
const eigh = (name: string, shape: number[]): BenchCase => ({
  name,
  shape,
  dtype: 'float32',
  kind: 'sym',
  torch: 'torch.linalg.eigh(x)',
  run: (x) => L.eigh(x),
  check: (x) => {
    const { eigenvalues: w, eigenvectors: v } = L.eigh(x);
    return maxAbs(v.mul(w.unsqueeze(-2)).matmul(mT(v)).sub(x)).div(maxAbs(x));
  },
});
const eigvalsh = (name: string, shape: number[]): BenchCase => ({
  name,
  shape,
  dtype: 'float32',
  kind: 'sym',
  torch: 'torch.linalg.eigvalsh(x)',
  run: (x) => L.eigvalsh(x),
  // against float64's eigenvalues, relative to the largest
  check: (x) => {
    const w = L.eigvalsh(x.double());
    return maxAbs(L.eigvalsh(x).double().sub(w)).div(maxAbs(w));
  },
});
const svd = (name: string, shape: number[]): BenchCase => ({
  name,
  shape,
  dtype: 'float32',
  kind: 'randn',
  torch: 'torch.linalg.svd(x, full_matrices=False)',
  run: (x) => L.svd(x, { fullMatrices: false }),
  check: (x) => {
    const { U, S, Vh } = L.svd(x, { fullMatrices: false });
    return maxAbs(U.mul(S.unsqueeze(-2)).matmul(Vh).sub(x)).div(maxAbs(x));
  },
});
const qr = (name: string, shape: number[]): BenchCase => ({
  name,
  shape,
  dtype: 'float32',
  kind: 'randn',
  torch: 'torch.linalg.qr(x)',
  run: (x) => L.qr(x),
  check: (x) => {
    const { Q, R } = L.qr(x);
    return maxAbs(Q.matmul(R).sub(x)).div(maxAbs(x));
  },
});
const det = (name: string, shape: number[]): BenchCase => ({
  name,
  shape,
  dtype: 'float32',
  kind: 'randn',
  torch: 'torch.linalg.det(x)',
  run: (x) => L.det(x),
  // log |det| against float64's (det itself overflows float32 at this size, as torch's does)
  check: (x) =>
    L.slogdet(x)
      .logabsdet.sub(L.slogdet(x.double()).logabsdet)
      .abs()
      .div(x.shape[x.ndim - 1])
      .amax(),
});
const trsm = (name: string, shape: number[], rhs: number): BenchCase => ({
  name,
  shape,
  dtype: 'float32',
  kind: 'tri',
  rhs,
  torch: 'torch.linalg.solve_triangular(x, b, upper=False)',
  run: (x, b) => L.solveTriangular(x, b as kiln.Tensor, { upper: false }),
  check: (x, b) => maxAbs(x.matmul(L.solveTriangular(x, b as kiln.Tensor, { upper: false })).sub(b as kiln.Tensor)),
});

export const CASES: BenchCase[] = [
  chol('cholesky', [1024, 1024]),
  chol('cholesky', [2048, 2048]),
  chol('cholesky batch', [4096, 8, 8]),
  solve('solve', [1024, 1024], 1),
  solve('solve', [1024, 1024], 1024),
  solve('solve batch', [4096, 8, 8], 1),
  trsm('solveTriangular', [1024, 1024], 1024),
  inv('inv', [512, 512]),
  inv('inv batch', [4096, 16, 16]),
  det('det', [1024, 1024]),
  det('det batch', [16384, 4, 4]),
  qr('qr', [512, 512]),
  qr('qr tall', [4096, 64]),
  eigh('eigh', [256, 256]),
  eigh('eigh', [512, 512]),
  eigh('eigh', [1024, 1024]),
  eigvalsh('eigvalsh', [512, 512]),
  eigh('eigh batch', [1024, 8, 8]),
  svd('svd', [256, 256]),
  svd('svd', [512, 512]),
  svd('svd wide', [64, 2048]),
  svd('svd tall', [2048, 64]),
  svd('svd batch', [1024, 8, 8]),
];

const PY_LINALG = `
import json
cases = json.loads(sys.argv[1]); reps = int(sys.argv[2])
for i, c in enumerate(cases):
    x = torch.load(c['x']); b = torch.load(c['b']) if c['b'] else None
    ts = timed(lambda: eval(c['torch']), reps)
    report(str(i), ts, times=ts)
`;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function makeInput(c: BenchCase): { x: kiln.Tensor; b: kiln.Tensor | null } {
  const n = c.shape[c.shape.length - 1];
  return kiln.scope(() => {
    const r = kiln.randn(c.shape, { dtype: c.dtype });
    let x = r;
    const I = kiln.eye(n, n, { dtype: c.dtype });
    if (c.kind === 'spd') x = r.matmul(mT(r)).div(n).add(I);
    if (c.kind === 'sym') x = r.add(mT(r));
    if (c.kind === 'tri') x = r.tril().div(Math.sqrt(n)).add(I.mul(2));
    const b = c.rhs ? kiln.randn([...c.shape.slice(0, -1), c.rhs], { dtype: c.dtype }) : null;
    return { x: x.contiguous(), b };
  });
}

/** kiln's per-call times (ms) of one case, `reps` after two warm-up calls. */
function timeKiln(c: BenchCase, x: kiln.Tensor, b: kiln.Tensor | null, reps: number): number[] {
  const t: number[] = [];
  for (let i = 0; i < reps + 2; i++) {
    const t0 = process.hrtime.bigint();
    kiln.scope(() => void c.run(x, b));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= 2) t.push(ms);
  }
  return t;
}

/** The inputs as .pt files for torch (written by a child Python from their raw bytes). */
function saveForTorch(dir: string, inputs: { x: kiln.Tensor; b: kiln.Tensor | null }[]): { x: string; b: string }[] {
  fs.mkdirSync(dir, { recursive: true });
  return inputs.map(({ x, b }, i) => {
    const write = (t: kiln.Tensor | null, tag: string) => {
      if (!t) return '';
      const f = path.join(dir, `${i}-${tag}.bin`);
      const data = t.contiguous().data() as Float32Array | Float64Array;
      fs.writeFileSync(f, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      return `${f}:${t.shape.join(',')}:${t.dtype}`;
    };
    return { x: write(x, 'x'), b: write(b, 'b') };
  });
}

const PY_CONVERT = `
import json
for spec in json.loads(sys.argv[1]):
    for key in ('x', 'b'):
        if not spec[key]: continue
        f, shape, dt = spec[key].split(':')
        t = torch.frombuffer(bytearray(open(f, 'rb').read()), dtype=getattr(torch, dt)).reshape([int(s) for s in shape.split(',')])
        torch.save(t.clone(), f + '.pt')
report('done', [0.0])
`;

function main(): void {
  const reps = Number(arg('--reps') ?? 5);
  const rounds = Number(arg('--rounds') ?? 3);
  const only = arg('--only');
  const dtype = arg('--dtype') ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`--dtype: float32 or float64, got ${dtype}`);
  const cases = CASES.filter((c) => !only || new RegExp(only).test(`${c.name} ${JSON.stringify(c.shape)}`)).map(
    (c) => ({ ...c, dtype }) as BenchCase,
  );
  const threads = kiln.info().numThreads;
  kiln.manualSeed(0);
  const inputs = cases.map(makeInput);
  cases.forEach((c, i) => {
    const r = kiln.scope(() => c.check(inputs[i].x, inputs[i].b).item() as number);
    if (!(r < 1e-3)) throw new Error(`${c.name} ${JSON.stringify(c.shape)}: residual ${r} is too large`);
  });
  const dir = path.join(os.tmpdir(), `kiln-linalg-bench-${process.pid}`);
  const files = saveForTorch(dir, inputs);
  const conv = runTorch(PY_CONVERT, [JSON.stringify(files)], { threads });
  const kilnT: number[][] = cases.map(() => []),
    torchT: number[][] = cases.map(() => []);
  let version = typeof conv === 'string' ? conv : conv.version;
  const spec = JSON.stringify(
    cases.map((c, i) => ({
      torch: c.torch,
      x: `${files[i].x.split(':')[0]}.pt`,
      b: files[i].b ? `${files[i].b.split(':')[0]}.pt` : '',
    })),
  );
  for (let r = 0; r < rounds; r++) {
    cases.forEach((c, i) => kilnT[i].push(...timeKiln(c, inputs[i].x, inputs[i].b, reps)));
    if (typeof conv === 'string') continue;
    const torch = runTorch(PY_LINALG, [spec, reps], { threads, keepMemory: true });
    if (typeof torch === 'string') {
      version = torch;
      continue;
    }
    version = torch.version;
    cases.forEach((_, i) => torchT[i].push(...(torch.results[String(i)].extra.times as number[])));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(
    `${dtype}, threads ${threads}, isa ${kiln.info().isa}, torch ${version}, ${rounds} rounds x ${reps} calls each`,
  );
  const fmt = (s: ReturnType<typeof summarize>) =>
    `${s.medianMs.toFixed(2).padStart(9)} ms (${s.minMs.toFixed(2)}-${s.maxMs.toFixed(2)})`;
  console.log('| case | shape | kiln ms | torch ms | torch/kiln |\n| --- | --- | --- | --- | --- |');
  cases.forEach((c, i) => {
    const k = summarize(kilnT[i], 1);
    const shape = JSON.stringify(c.shape) + (c.rhs ? ` rhs ${c.rhs}` : '');
    if (!torchT[i].length) return console.log(`| ${c.name} | ${shape} | ${fmt(k)} | - | - |`);
    const t = summarize(torchT[i], 1);
    console.log(`| ${c.name} | ${shape} | ${fmt(k)} | ${fmt(t)} | ${(t.medianMs / k.medianMs).toFixed(2)}x |`);
  });
}

main();
