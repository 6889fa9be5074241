/**
 * `gelu`, `dropout` and `batchnorm` benches: the fused nn kernels on one float32 tensor of
 * min(--max, 2^24) elements (64 MB by default), forward and forward + backward, as effective GB/s
 * with the minimum bytes each op must move: forward reads x and writes y (8 B/element); the backward
 * reads gy (and x, for gelu and batch norm) and writes gx (8 or 12 B/element). Batch-norm training
 * needs a statistics read of x before it can write y, so its forward moves 12 B/element while
 * credited with 8 (its best possible fraction of the copy bandwidth is 2/3). References in the same
 * run: the copy bandwidth (copy.ts; the kiln rows' copy ratio is against kiln's copy_ timed in the
 * same rounds as the kernels; both cycle through sets of operands that together take twice the
 * last-level cache, copy.ts says why), onnxruntime-node (GELU as its Erf subgraph, since Gelu is not
 * in opset 17; BatchNormalization in eval; no dropout: an inference session's Dropout is the
 * identity) and PyTorch 1.13 CPU (F.gelu, F.dropout, F.batch_norm; backward by torch.autograd.grad).
 * Every implementation is checked against float64 on sampled elements before timing.
 */
import * as kiln from '../index';
import { geluBackward } from '../ops/activation';
import { dropoutWithKey } from '../ops/dropout';
import { batchNormApply, batchNormBackward, batchNormStats } from '../ops/batch_norm';
import { erfRef } from '../ops/samples';
import { besideCopy, copyVariants, cycler, rotation, sets } from './copy';
import { loadOnnxRuntime, ortSession } from './onnxruntime';
import { onnxGraphModel } from './onnx_model';
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
import { runTorch } from './torch_ref';

type Op = 'gelu' | 'dropout' | 'batchnorm';

const PY = {
  gelu: `
n, reps = int(sys.argv[1]), int(sys.argv[2])
x = torch.randn(n).requires_grad_(); g = torch.randn(n)
F = torch.nn.functional
def fb():
    y = F.gelu(x); torch.autograd.grad(y, x, g)
report('fwd', timed(lambda: F.gelu(x), reps))
report('fwdbwd', timed(fb, reps))
`,
  dropout: `
n, reps = int(sys.argv[1]), int(sys.argv[2])
x = torch.randn(n).requires_grad_(); g = torch.randn(n)
F = torch.nn.functional
def fb():
    y = F.dropout(x, 0.5, True); torch.autograd.grad(y, x, g)
report('fwd', timed(lambda: F.dropout(x, 0.5, True), reps))
report('fwdbwd', timed(fb, reps))
`,
  batchnorm: `
n, reps = int(sys.argv[1]), int(sys.argv[2])
shape = [int(s) for s in sys.argv[3].split(',')]
C = shape[1]
x = torch.randn(shape).requires_grad_(); g = torch.randn(shape)
w = torch.randn(C).requires_grad_(); b = torch.randn(C).requires_grad_()
rm = torch.zeros(C); rv = torch.ones(C)
F = torch.nn.functional
def fb():
    y = F.batch_norm(x, rm, rv, w, b, training=True); torch.autograd.grad(y, [x, w, b], g)
report('fwd', timed(lambda: F.batch_norm(x, rm, rv, w, b, training=True), reps))
report('fwdbwd', timed(fb, reps))
with torch.no_grad():
    report('eval', timed(lambda: F.batch_norm(x, rm, rv, w, b, training=False), reps))
`,
};

function bnShape(n: number): number[] {
  const C = 64,
    hw = Math.max(1, Math.floor(Math.sqrt(n / (16 * C))));
  return [Math.max(2, Math.floor(n / (C * hw * hw))), C, hw, hw];
}

async function benchNnBody(op: Op, opts: BenchOptions): Promise<Measurement[]> {
  const threads = kiln.info().numThreads;
  const shape = op === 'batchnorm' ? bnShape(Math.min(opts.max, 1 << 24)) : [Math.min(opts.max, 1 << 24)];
  const n = shape.reduce((a, b) => a * b, 1);
  const out: Measurement[] = [];
  const rec = (name: string, impl: string, stats: Stats, bytes: number, detail?: string): Measurement => {
    const m: Measurement = {
      bench: op,
      name,
      shape,
      dtype: 'float32',
      impl,
      stats,
      unit: 'GB/s',
      value: gbps(bytes * n, stats),
      ratios: {},
      detail,
    };
    out.push(m);
    return m;
  };
  kiln.manualSeed(0);
  // the kiln rows' x and g: sets cycled through, each call's in memory rather than the LLC (copy.ts)
  const xgs = sets(rotation(8 * n), () => ({ x: kiln.randn(shape).mul(2).add(0.5), g: kiln.randn(shape) }));
  const { x, g } = xgs[0];
  const nextSet = cycler(xgs);
  const C = shape[1] ?? 1;
  const w = kiln.randn([C]),
    b = kiln.randn([C]),
    rm = kiln.randn([C]).mul(0.1),
    rv = kiln.rand([C]).add(0.5);
  const xs = x.data() as Float32Array;
  const probe = sampleIndices(n, 256);
  const key = [0, 7, 0, 0];
  // Forward and forward + backward with the kernels themselves (no autograd bookkeeping, as the
  // PyTorch side calls autograd.grad once per call).
  const kernels: Record<string, (x: kiln.Tensor, g: kiln.Tensor) => kiln.Tensor[]> =
    op === 'gelu'
      ? {
          fwd: (x) => [kiln.nn.functional.gelu(x)],
          fwdbwd: (x, g) => [kiln.nn.functional.gelu(x), geluBackward(g, x)],
        }
      : op === 'dropout'
        ? {
            fwd: (x) => [dropoutWithKey(x, key, 0.5)],
            fwdbwd: (x, g) => [dropoutWithKey(x, key, 0.5), dropoutWithKey(g, key, 0.5)],
          }
        : {
            fwd: (x) => {
              const s = batchNormStats(x);
              const [m, v] = [s.select(0, 0), s.select(0, 1)];
              return [s, batchNormApply(x, w, b, m, v)];
            },
            fwdbwd: (x, g) => {
              const s = batchNormStats(x);
              const [m, v] = [s.select(0, 0), s.select(0, 1)];
              return [s, batchNormApply(x, w, b, m, v), ...batchNormBackward(g, x, w, m, v)];
            },
            eval: (x) => [batchNormApply(x, w, b, rm, rv)],
          };
  const runs: Record<string, () => kiln.Tensor[]> = Object.fromEntries(
    Object.entries(kernels).map(([k, f]) => [
      k,
      () => {
        const s = nextSet();
        return f(s.x, s.g);
      },
    ]),
  );
  // Correctness first.
  const y = kernels.fwd(x, g);
  const yv = y[y.length - 1].data() as Float32Array;
  if (op === 'gelu')
    expectClose(
      'gelu',
      probe.map((i) => yv[i]),
      probe.map((i) => 0.5 * xs[i] * (1 + erfRef(xs[i] / Math.SQRT2))),
      (i) => 1e-6 * (1 + Math.abs(yv[probe[i]])),
    );
  else if (op === 'dropout')
    expectClose(
      'dropout',
      probe.map((i) => (yv[i] === 0 ? 0 : yv[i] / xs[i])),
      probe.map((i) => (yv[i] === 0 ? 0 : 2)),
      () => 1e-6,
    );
  else {
    const st = y[0].to('float64').toArray() as number[][];
    const S = n / (shape[0] * C);
    const c0 = 3;
    let s = 0,
      q = 0;
    for (let k = 0; k < shape[0]; k++) for (let j = 0; j < S; j++) s += xs[(k * C + c0) * S + j];
    const mu = s / (n / C);
    for (let k = 0; k < shape[0]; k++) for (let j = 0; j < S; j++) q += (xs[(k * C + c0) * S + j] - mu) ** 2;
    expectClose('batch norm stats', [st[0][c0], st[1][c0]], [mu, q / (n / C)], () => 1e-5);
  }
  y.forEach((t) => t.dispose());
  const names = Object.keys(runs);
  const k = rotation(8 * n),
    src = sets(k, () => kiln.randn([n])),
    dst = sets(k, () => kiln.empty([n]));
  // kiln's copy_ in the same rounds as the kernels: the copy ratio's reference (memory_ops.ts
  // says why); the three copies after, in their own rounds, for the copy rows.
  const beside = besideCopy(op, src, dst);
  const stats = measure(
    [...names.map((k) => ({ impl: k, run: () => runs[k]().forEach((t) => t.dispose()) })), beside.variant],
    opts,
  );
  const sameRounds = beside.record(stats[names.length]);
  const BYTES: Record<string, number> = { fwd: 8, fwdbwd: op === 'dropout' ? 16 : 20, eval: 8 };
  const LABEL: Record<string, string> = { fwd: 'forward', fwdbwd: 'forward+backward', eval: 'eval forward' };
  const kilnRows = names.map((k, i) =>
    rec(LABEL[k], 'kiln', stats[i], BYTES[k], `kiln copy_ in the same rounds: ${sameRounds.value.toFixed(1)} GB/s`),
  );

  measure(copyVariants(src, dst), opts).forEach((s, i) =>
    rec('copy', ['kiln copy_', 'TypedArray.set', 'Buffer.copy'][i], s, 8),
  );
  for (const t of [...src, ...dst]) t.dispose();
  const refs: Record<string, Measurement> = { copy: sameRounds };

  // onnxruntime-node
  const ortLoad = loadOnnxRuntime();
  const ortWhat = op === 'gelu' ? 'forward' : op === 'batchnorm' ? 'eval forward' : null;
  if (!ortLoad.ort) console.error(`${op}: onnxruntime skipped: ${ortLoad.reason}`);
  else if (!ortWhat) console.error(`${op}: onnxruntime skipped: an inference session's Dropout is the identity`);
  else {
    const X = { name: 'X', dims: shape };
    const model =
      op === 'gelu'
        ? onnxGraphModel({
            name: 'gelu_erf',
            nodes: [
              { op: 'Mul', inputs: ['X', 'r2'], outputs: ['z'] },
              { op: 'Erf', inputs: ['z'], outputs: ['e'] },
              { op: 'Add', inputs: ['e', 'one'], outputs: ['p'] },
              { op: 'Mul', inputs: ['X', 'p'], outputs: ['q'] },
              { op: 'Mul', inputs: ['q', 'half'], outputs: ['Y'] },
            ],
            initializers: [
              { name: 'r2', dims: [], values: [Math.SQRT1_2] },
              { name: 'one', dims: [], values: [1] },
              { name: 'half', dims: [], values: [0.5] },
            ],
            inputs: [X],
            outputs: [{ name: 'Y', dims: shape }],
          })
        : onnxGraphModel({
            name: 'batchnorm_eval',
            nodes: [
              {
                op: 'BatchNormalization',
                inputs: ['X', 'w', 'b', 'm', 'v'],
                outputs: ['Y'],
                attrs: { epsilon: { f: 1e-5 } },
              },
            ],
            initializers: [
              { name: 'w', dims: [C], values: Array.from(w.data() as Float32Array) },
              { name: 'b', dims: [C], values: Array.from(b.data() as Float32Array) },
              { name: 'm', dims: [C], values: Array.from(rm.data() as Float32Array) },
              { name: 'v', dims: [C], values: Array.from(rv.data() as Float32Array) },
            ],
            inputs: [X],
            outputs: [{ name: 'Y', dims: shape }],
          });
    const s = await ortSession(ortLoad.ort, model, { X: { type: 'float32', data: xs, dims: shape } }, threads);
    const ref = kernels[ortWhat === 'forward' ? 'fwd' : 'eval'](x, g);
    const want = ref[ref.length - 1].data() as Float32Array;
    const got = (await s.run()).Y.data as Float32Array;
    expectClose(
      `onnxruntime ${op}`,
      probe.map((i) => got[i]),
      probe.map((i) => want[i]),
      (i) => 1e-5 * (1 + Math.abs(want[probe[i]])),
    );
    ref.forEach((t) => t.dispose());
    const [os] = await measureAsync([{ impl: 'ort', run: () => s.run() }], opts);
    refs.onnxruntime = rec(
      LABEL[ortWhat === 'forward' ? 'fwd' : 'eval'],
      'onnxruntime',
      os,
      8,
      `onnxruntime-node ${ortLoad.version}, ${op === 'gelu' ? 'Erf subgraph (5 nodes)' : 'BatchNormalization'}`,
    );
    await s.release();
  }

  // PyTorch
  const r = runTorch(PY[op], [n, Math.max(5, opts.reps), shape.join(',')], { threads, keepMemory: true });
  if (typeof r === 'string') console.error(`${op}: PyTorch skipped: ${r}`);
  else
    for (const [k, res] of Object.entries(r.results)) {
      const m = rec(LABEL[k], 'PyTorch', res.stats, BYTES[k], `PyTorch ${r.version}, ${threads} threads, malloc kept`);
      refs[`PyTorch ${LABEL[k]}`] = m;
    }
  for (const m of kilnRows) {
    const same = Object.fromEntries(
      Object.entries(refs).filter(([label, ref]) => label === 'copy' || ref.name === m.name),
    );
    addRatios([m], same);
  }
  for (const t of [...xgs.flatMap((s) => [s.x, s.g]), w, b, rm, rv]) t.dispose();
  return out;
}

// In a scope: the views and temporaries of each call are freed with it, so memory stays flat.
const benchNn = (op: Op, o: BenchOptions): Promise<Measurement[]> => kiln.scope(() => benchNnBody(op, o));

export const benchGelu = (o: BenchOptions) => benchNn('gelu', o);
export const benchDropout = (o: BenchOptions) => benchNn('dropout', o);
export const benchBatchNorm = (o: BenchOptions) => benchNn('batchnorm', o);
