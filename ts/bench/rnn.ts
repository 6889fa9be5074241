/**
 * RNN / LSTM / GRU bench: kiln's nn modules beside PyTorch CPU's (torch.nn.LSTM and friends,
 * Debian's python3-torch in a child process of the same run, same thread count, glibc told to
 * keep freed memory), forward under no-grad and forward + backward of y.sum() into every
 * parameter and the input, in --rounds of kiln (every case) then PyTorch (every case), so drift
 * hits both; median, min and max over all calls. Both sides load the same weights, and kiln's
 * output is checked against PyTorch's before timing. GFLOP/s counts the GEMMs:
 * 2 L N (in + out) G H per layer and direction forward, 3x that forward + backward.
 * Ratios above 1 mean kiln is faster.
 * Run: `npx tsx ts/bench/rnn.ts [--reps N] [--rounds N] [--only <regex>]`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as kiln from '../index';
import { runTorch } from './torch_ref';
import { summarize } from './harness';

interface RnnCase {
  kind: 'LSTM' | 'GRU' | 'RNN';
  L: number;
  N: number;
  I: number;
  H: number;
  layers: number;
  bidirectional: boolean;
}

const CASES: RnnCase[] = [
  { kind: 'LSTM', L: 100, N: 32, I: 256, H: 256, layers: 1, bidirectional: false },
  { kind: 'GRU', L: 100, N: 32, I: 256, H: 256, layers: 1, bidirectional: false },
  { kind: 'RNN', L: 100, N: 32, I: 256, H: 256, layers: 1, bidirectional: false },
  { kind: 'LSTM', L: 50, N: 16, I: 128, H: 256, layers: 2, bidirectional: true },
  { kind: 'LSTM', L: 200, N: 64, I: 512, H: 512, layers: 1, bidirectional: false },
];

const GATES = { LSTM: 4, GRU: 3, RNN: 1 };
const label = (c: RnnCase) =>
  `${c.kind} L${c.L} N${c.N} ${c.I}->${c.H}${c.layers > 1 ? ` x${c.layers}` : ''}${c.bidirectional ? ' bi' : ''}`;
function flops(c: RnnCase): number {
  const D = c.bidirectional ? 2 : 1;
  let f = 0;
  for (let l = 0; l < c.layers; l++) f += D * 2 * c.L * c.N * ((l ? D * c.H : c.I) + c.H) * GATES[c.kind] * c.H;
  return f;
}

const PY_RNN = `
import json, struct
cases = json.loads(sys.argv[1]); reps = int(sys.argv[2]); files = json.loads(sys.argv[3])
for i, c in enumerate(cases):
    b = open(files[i], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); t = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        s, e = v['data_offsets']; t[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=torch.float32).reshape(v['shape'])
    m = getattr(torch.nn, c['kind'])(c['I'], c['H'], c['layers'], bidirectional=c['bidirectional'])
    m.load_state_dict({k[2:]: v for k, v in t.items() if k.startswith('m.')}, strict=True)
    x = t['x'].clone()
    with torch.no_grad(): y0 = m(x)[0]
    err = float((y0 - t['y']).abs().max())
    def fwd():
        with torch.no_grad(): m(x)
    xg = x.clone().requires_grad_()
    def fb():
        y, _ = m(xg); y.sum().backward(); m.zero_grad(set_to_none=True); xg.grad = None
    tf = timed(fwd, reps); tb = timed(fb, reps)
    report(str(i), tf, fwd=tf, fb=tb, err=err)
`;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function timeIt(reps: number, fn: () => void): number[] {
  const t: number[] = [];
  for (let i = 0; i < reps + 2; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    if (i >= 2) t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return t;
}

function main(): void {
  const reps = Number(arg('--reps') ?? 5);
  const rounds = Number(arg('--rounds') ?? 3);
  const only = arg('--only');
  const cases = CASES.filter((c) => !only || new RegExp(only).test(label(c)));
  const threads = kiln.info().numThreads;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-rnn-'));
  kiln.manualSeed(0);
  const setups = cases.map((c, i) => {
    const m = new kiln.nn[c.kind](c.I, c.H, { numLayers: c.layers, bidirectional: c.bidirectional });
    const x = kiln.randn([c.L, c.N, c.I]);
    const y = kiln.noGrad(() => (m as kiln.nn.GRU).forward(x)[0]);
    const file = path.join(dir, `case${i}.safetensors`);
    const tensors = new Map<string, kiln.Tensor>([
      ['x', x],
      ['y', y],
    ]);
    for (const [k, t] of m.stateDict()) tensors.set(`m.${k}`, t);
    kiln.saveSync(tensors, file);
    return { m, x, file };
  });
  const fwd = (m: kiln.nn.Module, x: kiln.Tensor) => () =>
    kiln.noGrad(() => kiln.scope(() => void (m as kiln.nn.GRU).forward(x)));
  const fb = (m: kiln.nn.Module, x: kiln.Tensor) => () =>
    kiln.scope(() => {
      const [y] = (m as kiln.nn.GRU).forward(x);
      y.sum().backward();
      for (const p of m.parameters()) {
        p.grad?.dispose();
        p.grad = null;
      }
    });
  const kF: number[][] = cases.map(() => []),
    kB: number[][] = cases.map(() => []),
    tF: number[][] = cases.map(() => []),
    tB: number[][] = cases.map(() => []);
  let version = '';
  const spec = JSON.stringify(cases);
  const files = JSON.stringify(setups.map((s) => s.file));
  try {
    for (let r = 0; r < rounds; r++) {
      setups.forEach(({ m, x }, i) => {
        kF[i].push(...timeIt(reps, fwd(m, x)));
        kB[i].push(...timeIt(reps, fb(m, x)));
      });
      const torch = runTorch(PY_RNN, [spec, reps, files], { threads, keepMemory: true });
      if (typeof torch === 'string') {
        version = torch;
        continue;
      }
      version = torch.version;
      cases.forEach((c, i) => {
        const res = torch.results[String(i)].extra;
        if ((res.err as number) > 1e-4)
          throw new Error(`${label(c)}: kiln's output differs from PyTorch's by ${res.err}`);
        tF[i].push(...(res.fwd as number[]));
        tB[i].push(...(res.fb as number[]));
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`threads ${threads}, isa ${kiln.info().isa}, torch ${version}, ${rounds} rounds x ${reps} calls each`);
  console.log(
    '| case | kiln fwd ms | GFLOP/s | PyTorch fwd ms | ratio | kiln fwd+bwd ms | GFLOP/s | PyTorch fwd+bwd ms | ratio |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const ms = (s: ReturnType<typeof summarize>) =>
    `${s.medianMs.toFixed(1)} (${s.minMs.toFixed(1)}-${s.maxMs.toFixed(1)})`;
  cases.forEach((c, i) => {
    const f = flops(c);
    const kf = summarize(kF[i], 1),
      kb = summarize(kB[i], 1);
    const cells = [label(c), ms(kf), (f / kf.medianMs / 1e6).toFixed(0)];
    if (tF[i].length) {
      const tf = summarize(tF[i], 1);
      cells.push(ms(tf), `${(tf.medianMs / kf.medianMs).toFixed(2)}x`);
    } else cells.push('-', '-');
    cells.push(ms(kb), ((3 * f) / kb.medianMs / 1e6).toFixed(0));
    if (tB[i].length) {
      const tb = summarize(tB[i], 1);
      cells.push(ms(tb), `${(tb.medianMs / kb.medianMs).toFixed(2)}x`);
    } else cells.push('-', '-');
    console.log(`| ${cells.join(' | ')} |`);
  });
}

main();
