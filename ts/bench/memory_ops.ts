/**
 * `norm`, `softmax` and `xent` benches: the fused memory-bound kernels (layerNorm / rmsNorm,
 * softmax / logSoftmax, crossEntropy) on float32 tensors of 64 MB and more, forward and
 * forward+backward (through autograd, as training runs them), as effective GB/s with the minimum
 * bytes each must move:
 *   softmax, norm   fwd: read x, write y (8 B/elem); fwd+bwd: that plus read gy and y (or x), write gx (20 B/elem)
 *   crossEntropy    fwd: read the logits (4 B/elem); fwd+bwd: that plus read the logits, write their gradient (12 B/elem)
 *                   (kiln's forward with grad on writes the gradient beside the loss, so it moves 8 of those 12)
 * (per-row statistics, weights and targets are under 1% and not counted). References in the same
 * run: the copy bandwidth (copy.ts, read + write; each kiln row's "copy" ratio is against kiln's
 * copy_ of 64 MB timed in the same rounds as that row, A B A B ...: on this shared VM the copy
 * moved between 1.5 and 4.5 ms from one minute to the next, so a copy timed once at the start of
 * the run made the ratios of later rows swing by up to 2x; kiln's kernels and its copies each cycle
 * through sets of operands that together take twice the last-level cache, copy.ts says why),
 * onnxruntime-node (Softmax, LogSoftmax,
 * LayerNormalization, SoftmaxCrossEntropyLoss; forward only, it has no training API) and PyTorch
 * (torch.softmax, F.layer_norm, F.cross_entropy, and RMSNorm as a composite since 1.13 has none) in
 * a child process, forward and forward+backward, at the same thread count. kiln's forward output
 * is checked against float64 on sampled rows before timing.
 */
import * as kiln from '../index';
import { besideCopy, copyRecord, copyVariants, cycler, rotation, sets, type Beside } from './copy';
import {
  BenchOptions,
  Measurement,
  Stats,
  addRatios,
  expectClose,
  gbps,
  measure,
  measureAsync,
  sampleIndices,
} from './harness';
import { loadOnnxRuntime, ortSession, type OrtBound, type OrtFeed } from './onnxruntime';
import { onnxGraphModel, type OnnxNode } from './onnx_model';
import { runTorch } from './torch_ref';

const F = kiln.nn.functional;
const RMS_EPS = 2 ** -23;

type OpName = 'softmax' | 'logSoftmax' | 'layerNorm' | 'rmsNorm' | 'crossEntropy';

const PY_OPS = `
import torch.nn.functional as F
op, shape, reps = sys.argv[1], [int(v) for v in sys.argv[2].split(',')], int(sys.argv[3])
C = shape[1]
x = torch.randn(*shape)
w = torch.randn(C).requires_grad_()
b = torch.randn(C).requires_grad_()
t = torch.randint(0, C, (shape[0], *shape[2:]))
def f(x):
    if op == 'softmax': return torch.softmax(x, 1)
    if op == 'logSoftmax': return torch.log_softmax(x, 1)
    if op == 'layerNorm': return F.layer_norm(x, (C,), w, b, 1e-5)
    if op == 'rmsNorm': return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + ${RMS_EPS}) * w
    return F.cross_entropy(x, t)
with torch.no_grad():
    report('fwd', timed(lambda: f(x), reps))
xg = x.clone().requires_grad_()
gy = torch.randn_like(f(x)) if op != 'crossEntropy' else None
def fb():
    y = f(xg)
    y.backward(gy)
    xg.grad = None
    w.grad = None
    b.grad = None
report('fwdbwd', timed(fb, reps))
`;

/** Bytes per element moved: [forward, forward+backward]. */
const BYTES: Record<OpName, [number, number]> = {
  softmax: [8, 20],
  logSoftmax: [8, 20],
  layerNorm: [8, 20],
  rmsNorm: [8, 20],
  crossEntropy: [4, 12],
};

/** The op as an ONNX graph (X, plus what it needs), or null where opset 17 has no such op. */
function onnxNodes(op: OpName): OnnxNode[] | null {
  if (op === 'softmax' || op === 'logSoftmax')
    return [{ op: op === 'softmax' ? 'Softmax' : 'LogSoftmax', inputs: ['X'], outputs: ['Y'], attrs: { axis: 1 } }];
  if (op === 'layerNorm')
    return [
      { op: 'LayerNormalization', inputs: ['X', 'W', 'B'], outputs: ['Y'], attrs: { axis: -1, epsilon: { f: 1e-5 } } },
    ];
  if (op === 'crossEntropy')
    return [{ op: 'SoftmaxCrossEntropyLoss', inputs: ['X', 'T'], outputs: ['Y'], attrs: { reduction: 'mean' } }];
  return null;
}

interface Operands {
  x: kiln.Tensor;
  w: kiln.Tensor;
  b: kiln.Tensor;
  t: kiln.Tensor;
}

/** The class dim is 1: the last of [R, C], or the channels of [N, C, H, W] (a segmentation head's). */
function forward(op: OpName, o: Operands, x = o.x): kiln.Tensor {
  if (op === 'softmax') return x.softmax(1);
  if (op === 'logSoftmax') return x.logSoftmax(1);
  if (op === 'layerNorm') return F.layerNorm(x, [x.shape[1]], o.w, o.b, 1e-5);
  if (op === 'rmsNorm') return F.rmsNorm(x, [x.shape[1]], o.w, RMS_EPS);
  return F.crossEntropy(x, o.t);
}

/** The forward of sampled rows in float64 (the check made before timing). */
function refRow(op: OpName, row: number[], w: number[], b: number[], target: number): number[] {
  const n = row.length;
  if (op === 'layerNorm' || op === 'rmsNorm') {
    const mu = op === 'rmsNorm' ? 0 : row.reduce((s, v) => s + v, 0) / n;
    const eps = op === 'rmsNorm' ? RMS_EPS : 1e-5;
    const r = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / n + eps);
    return row.map((v, j) => (v - mu) * r * w[j] + (op === 'layerNorm' ? b[j] : 0));
  }
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  if (op === 'crossEntropy') return [lse - row[target]];
  return row.map((v) => (op === 'softmax' ? Math.exp(v - lse) : v - lse));
}

function check(op: OpName, o: Operands): void {
  const C = o.x.shape[1],
    R = o.x.numel() / C,
    inner = o.x.shape.slice(2).reduce((a, b) => a * b, 1);
  const xs = o.x.data() as Float32Array,
    wv = Array.from(o.w.data() as Float32Array),
    bv = Array.from(o.b.data() as Float32Array),
    tv = o.t.data() as BigInt64Array;
  const rows = sampleIndices(R, 8);
  // row r: position r % inner of image r / inner, its C values inner apart
  const at = (r: number, c: number) => (Math.floor(r / inner) * C + c) * inner + (r % inner);
  const rowOf = (v: Float32Array, r: number) => Array.from({ length: C }, (_, c) => v[at(r, c)]);
  if (op === 'crossEntropy') {
    // The mean loss over sampled rows, from their per-row losses.
    const per = kiln.noGrad(() => F.crossEntropy(o.x, o.t, { reduction: 'none' }));
    const got = per.data() as Float32Array;
    const want = rows.map((r) => refRow(op, rowOf(xs, r), wv, bv, Number(tv[r]))[0]);
    expectClose(
      op,
      rows.map((r) => got[r]),
      want,
      (i) => 1e-5 * (1 + Math.abs(want[i])),
    );
    per.dispose();
    return;
  }
  const y = kiln.noGrad(() => forward(op, o));
  const yd = y.data() as Float32Array;
  for (const r of rows) {
    const want = refRow(op, rowOf(xs, r), wv, bv, 0);
    expectClose(`${op} row ${r}`, rowOf(yd, r), want, (i) => 2e-5 * (1 + Math.abs(want[i])));
  }
  y.dispose();
}

/** One op and shape: kiln, onnxruntime and PyTorch rows; every tensor made here is freed. */
const benchOp = (bench: string, op: OpName, shape: number[], opts: BenchOptions, copy: Beside) =>
  kiln.scope(() => benchOpIn(bench, op, shape, opts, copy));

async function benchOpIn(
  bench: string,
  op: OpName,
  shape: number[],
  opts: BenchOptions,
  copy: Beside,
): Promise<Measurement[]> {
  const C = shape[1],
    R = shape.reduce((a, b) => a * b, 1) / C;
  const threads = kiln.info().numThreads;
  const tshape = [shape[0], ...shape.slice(2)];
  // operand sets the kiln rows cycle through, each call's in memory rather than the LLC (copy.ts)
  const os: Operands[] = sets(rotation(BYTES[op][0] * R * C), () => ({
    x: kiln.randn(shape).mul(3),
    w: kiln.randn([C]),
    b: kiln.randn([C]),
    t: kiln.randint(0, C, tshape),
  }));
  const o = os[0];
  check(op, o);
  const [fb, fbb] = BYTES[op];
  const rec = (name: string, impl: string, stats: Stats, bytes: number, detail?: string): Measurement => ({
    bench,
    name,
    shape,
    dtype: 'float32',
    impl,
    stats,
    unit: 'GB/s',
    value: gbps(bytes * R * C, stats),
    ratios: {},
    detail,
  });
  const fwdName = `${op} fwd`,
    bwdName = `${op} fwd+bwd`;
  const trained = os.map((s) => ({
    ...s,
    x: s.x.detach().requiresGrad_(),
    w: s.w.detach().requiresGrad_(),
    b: s.b.detach().requiresGrad_(),
    gy: op === 'crossEntropy' ? null : kiln.randn(shape),
  }));
  const nextFwd = cycler(os),
    nextFwdBwd = cycler(trained);
  const kilnFwd = () => kiln.noGrad(() => forward(op, nextFwd())).dispose();
  const kilnFwdBwd = () => {
    const s = nextFwdBwd();
    const y = forward(op, s);
    y.backward(s.gy);
    for (const p of [s.x, s.w, s.b]) {
      p.grad?.dispose();
      p.grad = null;
    }
    y.dispose();
  };
  const variants: { impl: string; run: () => void | Promise<unknown> }[] = [{ impl: 'kiln', run: kilnFwd }];
  let ort: OrtBound | null = null;
  const nodes = onnxNodes(op);
  const loaded = loadOnnxRuntime();
  let ortNote = loaded.ort ? '' : loaded.reason;
  if (loaded.ort && nodes) {
    const feeds: Record<string, OrtFeed> = { X: { type: 'float32', data: o.x.data() as Float32Array, dims: shape } };
    const inputs = [{ name: 'X', dims: shape }];
    const initializers = [];
    if (op === 'layerNorm')
      for (const [name, t] of [
        ['W', o.w],
        ['B', o.b],
      ] as const)
        initializers.push({ name, dims: [C], values: Array.from(t.data() as Float32Array) });
    if (op === 'crossEntropy') {
      feeds.T = { type: 'int64', data: o.t.data() as BigInt64Array, dims: tshape };
      inputs.push({ name: 'T', dims: tshape, type: 'int64' } as never);
    }
    const model = onnxGraphModel({
      name: op,
      nodes,
      inputs,
      outputs: [{ name: 'Y', dims: op === 'crossEntropy' ? [] : shape }],
      initializers,
    });
    ort = await ortSession(loaded.ort, model, feeds, threads);
    variants.push({ impl: 'onnxruntime', run: () => ort!.run() });
    ortNote = `onnxruntime-node ${loaded.version}, ${nodes[0].op}, ${threads} threads`;
  } else if (!nodes) ortNote = `onnxruntime: opset 17 has no ${op} op`;
  // kiln in its own rounds, synchronously like its fwd+bwd and like PyTorch in its process:
  // interleaved with onnxruntime's 30x slower runs (and the event-loop gap an async variant needs),
  // kiln's forward measured 30-50% slower than in a plain loop.
  // Each with kiln's copy_ in the same rounds (the row's copy ratio, see the header).
  const [fwdKiln, fwdCopy] = measure([{ impl: 'kiln', run: kilnFwd }, copy.variant], opts);
  const fwdStats = [fwdKiln, ...(variants.length > 1 ? await measureAsync(variants.slice(1), opts, 1) : [])];
  const [bwdStats, bwdCopy] = measure([{ impl: 'kiln', run: kilnFwdBwd }, copy.variant], opts);
  const [cf, cb] = [copy.record(fwdCopy), copy.record(bwdCopy)];
  const beside = (m: Measurement) => `kiln copy_ in the same rounds: ${m.value.toFixed(1)} GB/s`;
  const out: Measurement[] = [
    rec(fwdName, 'kiln', fwdStats[0], fb, beside(cf)),
    rec(bwdName, 'kiln', bwdStats, fbb, beside(cb)),
  ];
  const refsFwd: Record<string, Measurement> = { copy: cf },
    refsBwd: Record<string, Measurement> = { copy: cb };
  if (ort) {
    const m = rec(fwdName, 'onnxruntime', fwdStats[1], fb, ortNote);
    out.push(m);
    refsFwd.onnxruntime = m;
    await ort.release();
  } else console.error(`${bench}: ${ortNote}`);
  const torch = runTorch(PY_OPS, [op, shape.join(','), Math.max(5, opts.reps)], { threads, keepMemory: true });
  if (typeof torch === 'string') console.error(`${bench}: ${torch}`);
  else {
    const what = op === 'rmsNorm' ? 'composite rsqrt(mean(x^2) + eps)' : op;
    const f = rec(
      fwdName,
      'PyTorch',
      torch.results.fwd.stats,
      fb,
      `PyTorch ${torch.version} ${what}, ${threads} threads`,
    );
    const b = rec(bwdName, 'PyTorch', torch.results.fwdbwd.stats, fbb, f.detail);
    out.push(f, b);
    refsFwd.PyTorch = f;
    refsBwd.PyTorch = b;
  }
  addRatios(
    out.filter((m) => m.name === fwdName && m.impl === 'kiln'),
    refsFwd,
  );
  addRatios(
    out.filter((m) => m.name === bwdName && m.impl === 'kiln'),
    refsBwd,
  );
  for (const s of os) for (const t of [s.x, s.w, s.b, s.t]) t.dispose();
  for (const s of trained) for (const t of [s.x, s.w, s.b, s.gy]) t?.dispose();
  return out;
}

/** The copy bandwidth of a 64 MB float32 copy from src into dst: copy.ts's three, each in its own rounds. */
function copyBandwidth(bench: string, opts: BenchOptions, src: kiln.Tensor[], dst: kiln.Tensor[]): Measurement[] {
  // Each copy in its own rounds, as the kernels are measured (interleaved, each slowed the next).
  return copyVariants(src, dst).map((v) => copyRecord(bench, v.impl, src[0].numel(), measure([v], opts)[0]));
}

async function runOps(bench: string, ops: OpName[], shapes: number[][], opts: BenchOptions) {
  const quick = opts.max < 1e6;
  const n = quick ? 1 << 14 : 16 << 20;
  const k = rotation(8 * n),
    src = sets(k, () => kiln.randn([n])),
    dst = sets(k, () => kiln.empty([n]));
  try {
    const out = copyBandwidth(bench, opts, src, dst);
    const copy = besideCopy(bench, src, dst);
    // quick: a small row shape, and a small [N, C, H, W] where the full run has one
    const small = [[64, 256], ...(shapes.some((s) => s.length > 2) ? [[2, 8, 4, 12]] : [])];
    for (const shape of quick ? small : shapes)
      for (const op of ops) out.push(...(await benchOp(bench, op, shape, opts, copy)));
    return out;
  } finally {
    for (const t of [...src, ...dst]) t.dispose();
  }
}

/** `kiln bench norm`: layerNorm and rmsNorm on [16384, 1024] and [4096, 4096]. */
export const benchNorm = (opts: BenchOptions): Promise<Measurement[]> =>
  runOps(
    'norm',
    ['layerNorm', 'rmsNorm'],
    [
      [16384, 1024],
      [4096, 4096],
    ],
    opts,
  );

/**
 * `kiln bench softmax`: softmax and logSoftmax on [16384, 1024] and [4096, 4096], and over the
 * channels of [8, 64, 128, 256] (dim 1, not the last).
 */
export const benchSoftmax = (opts: BenchOptions): Promise<Measurement[]> =>
  runOps(
    'softmax',
    ['softmax', 'logSoftmax'],
    [
      [16384, 1024],
      [4096, 4096],
      [8, 64, 128, 256],
    ],
    opts,
  );

/**
 * `kiln bench xent`: crossEntropy (class indices, mean) on [65536, 256] and [8192, 4096] logits,
 * and on [8, 64, 128, 256] (a segmentation head's: 64 classes per pixel, the class dim 1).
 */
export const benchXent = (opts: BenchOptions): Promise<Measurement[]> =>
  runOps(
    'xent',
    ['crossEntropy'],
    [
      [65536, 256],
      [8192, 4096],
      [8, 64, 128, 256],
    ],
    opts,
  );
