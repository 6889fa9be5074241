/**
 * `attention` bench: scaledDotProductAttention (float32) forward and forward+backward at
 * B4 H8 S512 D64 and B2 H8 S2048 D64, causal and not (S up to --max-size; --quick: one tiny
 * shape). References in the same run: onnxruntime-node running MatMul -> Mul(scale) -> (Add mask
 * when causal) -> Softmax -> MatMul (forward only; K is fed already transposed), and PyTorch's
 * composite softmax(q k^T scale + mask) v (1.13 has no fused CPU attention; a fused
 * F.scaled_dot_product_attention is used where the installed torch has one) forward under
 * no_grad and forward+backward, once with glibc's malloc told to keep freed memory and once with
 * its defaults (page faults dominate those here).
 * FLOPs: forward 4 B H Sq Sk D, halved when causal; forward+backward 3.5 x forward (BENCH.md).
 * Before timing, kiln's output is checked against onnxruntime's, and its gradients against
 * kiln's own matmul/softmax composite on one head.
 */
import * as kiln from '../index';
import {
  AsyncVariant,
  BenchOptions,
  Measurement,
  Stats,
  addRatios,
  expectClose,
  measureAsync,
  sampleIndices,
} from './harness';
import { onnxGraphModel } from './onnx_model';
import { loadOnnxRuntime, ortSession } from './onnxruntime';
import { runTorch } from './torch_ref';

type Shape4 = [number, number, number, number];
const FULL: Shape4[] = [
  [4, 8, 512, 64],
  [2, 8, 2048, 64],
];
const QUICK: Shape4[] = [[1, 2, 64, 32]];

const PY_ATTN = `
B, H, S, D, causal, reps = (int(a) for a in sys.argv[1:7])
q, k, v = (torch.randn(B, H, S, D) for _ in range(3))
g = torch.randn(B, H, S, D)
scale = 1.0 / D ** 0.5
mask = torch.full((S, S), float('-inf')).triu(1) if causal else None
fused = getattr(torch.nn.functional, 'scaled_dot_product_attention', None)
def attn(q, k, v):
    if fused is not None:
        return fused(q, k, v, is_causal=bool(causal))
    s = q @ k.transpose(-1, -2) * scale
    if mask is not None: s = s + mask
    return s.softmax(-1) @ v
def fwd():
    with torch.no_grad(): attn(q, k, v)
qg, kg, vg = (t.clone().requires_grad_() for t in (q, k, v))
def fwd_bwd():
    for t in (qg, kg, vg): t.grad = None
    attn(qg, kg, vg).backward(g)
kind = 'fused F.scaled_dot_product_attention' if fused is not None else 'composite softmax(q k^T scale) v'
report('fwd', timed(fwd, reps), kind=kind)
report('fwd_bwd', timed(fwd_bwd, reps), kind=kind)
`;

/** One attention graph for onnxruntime: Q [B,H,S,D], KT [B,H,D,S], V, (M [S,S] additive) -> O. */
function ortModel([B, H, S, D]: Shape4, causal: boolean): Uint8Array {
  const nodes = [
    { op: 'MatMul', inputs: ['Q', 'KT'], outputs: ['S0'] },
    { op: 'Mul', inputs: ['S0', 'scale'], outputs: ['S1'] },
    ...(causal ? [{ op: 'Add', inputs: ['S1', 'M'], outputs: ['S2'] }] : []),
    { op: 'Softmax', inputs: [causal ? 'S2' : 'S1'], outputs: ['P'], attrs: { axis: -1 } },
    { op: 'MatMul', inputs: ['P', 'V'], outputs: ['O'] },
  ];
  return onnxGraphModel({
    name: 'attention',
    nodes,
    inputs: [
      { name: 'Q', dims: [B, H, S, D] },
      { name: 'KT', dims: [B, H, D, S] },
      { name: 'V', dims: [B, H, S, D] },
      ...(causal ? [{ name: 'M', dims: [S, S] }] : []),
    ],
    outputs: [{ name: 'O', dims: [B, H, S, D] }],
    initializers: [{ name: 'scale', dims: [], values: [1 / Math.sqrt(D)] }],
  });
}

/** [S, S] bool: true where key j is after query i. */
const future = (S: number): kiln.Tensor =>
  kiln
    .arange(0, S, 1)
    .unsqueeze(1)
    .lt(kiln.arange(0, S, 1).unsqueeze(0));

/** Fused gradients against kiln's matmul/softmax composite on the first head. */
function checkGradients(q: kiln.Tensor, k: kiln.Tensor, v: kiln.Tensor, g: kiln.Tensor, causal: boolean): void {
  const head = (t: kiln.Tensor) => t.narrow(0, 0, 1).narrow(1, 0, 1).contiguous().requiresGrad_();
  const [q1, k1, v1] = [q, k, v].map(head),
    g1 = g.narrow(0, 0, 1).narrow(1, 0, 1);
  const fused = kiln.autograd.grad(
    kiln.nn.functional.scaledDotProductAttention(q1, k1, v1, { isCausal: causal }),
    [q1, k1, v1],
    {
      gradOutputs: [g1],
    },
  );
  const S = q.shape[2],
    D = q.shape[3];
  let s = q1.matmul(k1.transpose(-1, -2)).mul(1 / Math.sqrt(D));
  if (causal) s = s.maskedFill(future(S), -Infinity);
  const ref = kiln.autograd.grad(s.softmax(-1).matmul(v1), [q1, k1, v1], { gradOutputs: [g1] });
  const idx = sampleIndices(S * D, 512);
  ['dq', 'dk', 'dv'].forEach((name, i) => {
    const a = fused[i]!.reshape([-1]).toArray() as number[],
      b = ref[i]!.reshape([-1]).toArray() as number[];
    expectClose(
      `attention ${name}`,
      idx.map((j) => a[j]),
      idx.map((j) => b[j]),
      (j) => 2e-4 * (1 + Math.abs(b[idx[j]])),
    );
  });
}

export async function benchAttention(opts: BenchOptions): Promise<Measurement[]> {
  const shapes = opts.maxSize < 512 ? QUICK : FULL.filter((s) => s[2] <= opts.maxSize);
  const threads = kiln.info().numThreads;
  const ort = loadOnnxRuntime();
  if (!ort.ort) console.error(`attention: onnxruntime skipped: ${ort.reason}`);
  const out: Measurement[] = [];
  for (const shape of shapes)
    for (const causal of [false, true])
      // A scope per case: the checks' temporaries go with it, so the bench leaves memory flat.
      out.push(...(await kiln.scope(() => benchCase(opts, shape, causal, threads, ort))));
  return out;
}

/** One shape, plain or causal: kiln's forward and forward+backward and the references. */
async function benchCase(
  opts: BenchOptions,
  shape: Shape4,
  causal: boolean,
  threads: number,
  ort: ReturnType<typeof loadOnnxRuntime>,
): Promise<Measurement[]> {
  const out: Measurement[] = [];
  const [B, H, S, D] = shape;
  const fwdFlops = (4 * B * H * S * S * D) / (causal ? 2 : 1);
  const name = `${causal ? 'causal ' : ''}B${B} H${H} S${S} D${D}`;
  const rec = (what: string, impl: string, stats: Stats, flops: number, detail?: string): Measurement => ({
    bench: 'attention',
    name: `${what} ${name}`,
    shape,
    dtype: 'float32',
    impl,
    stats,
    unit: 'GFLOP/s',
    value: flops / (stats.medianMs * 1e6),
    ratios: {},
    detail,
  });
  kiln.manualSeed(1);
  const q = kiln.randn(shape),
    k = kiln.randn(shape),
    v = kiln.randn(shape),
    g = kiln.randn(shape);
  const F = kiln.nn.functional;
  const fwd = () => kiln.noGrad(() => F.scaledDotProductAttention(q, k, v, { isCausal: causal })).dispose();
  const qg = q.detach().requiresGrad_(),
    kg = k.detach().requiresGrad_(),
    vg = v.detach().requiresGrad_();
  const fwdBwd = () => {
    const o = F.scaledDotProductAttention(qg, kg, vg, { isCausal: causal });
    kiln.autograd.grad(o, [qg, kg, vg], { gradOutputs: [g] }).forEach((t) => t?.dispose());
    o.dispose();
  };

  // Correctness before timing.
  checkGradients(q, k, v, g, causal);
  const variants: AsyncVariant[] = [{ impl: 'kiln', run: fwd }];
  const keep: kiln.Tensor[] = [];
  let session: Awaited<ReturnType<typeof ortSession>> | null = null;
  if (ort.ort) {
    const kt = k.transpose(2, 3).contiguous();
    keep.push(kt);
    const feeds: Parameters<typeof ortSession>[2] = {
      Q: { type: 'float32', data: q.data() as Float32Array, dims: shape },
      KT: { type: 'float32', data: kt.data() as Float32Array, dims: [B, H, D, S] },
      V: { type: 'float32', data: v.data() as Float32Array, dims: shape },
    };
    if (causal) {
      const m = kiln.zeros([S, S]).maskedFill(future(S), -Infinity);
      keep.push(m);
      feeds.M = { type: 'float32', data: m.data() as Float32Array, dims: [S, S] };
    }
    session = await ortSession(ort.ort, ortModel(shape, causal), feeds, threads);
    const want = (await session.run()).O.data as Float32Array;
    const got = kiln.noGrad(() => F.scaledDotProductAttention(q, k, v, { isCausal: causal }));
    const gd = got.data() as Float32Array;
    const idx = sampleIndices(gd.length, 2048);
    expectClose(
      `attention ${name} vs onnxruntime`,
      idx.map((i) => gd[i]),
      idx.map((i) => want[i]),
      (i) => 1e-4 * (1 + Math.abs(want[idx[i]])),
    );
    got.dispose();
    const s = session;
    variants.push({ impl: 'onnxruntime', run: () => s.run() });
  }
  const [kf, of] = await measureAsync(variants, opts, 5);
  const [kfb] = await measureAsync([{ impl: 'kiln', run: fwdBwd }], opts, 5);
  const kiFwd = rec('fwd', 'kiln', kf, fwdFlops),
    kiBoth = rec('fwd+bwd', 'kiln', kfb, 3.5 * fwdFlops);
  out.push(kiFwd, kiBoth);
  const refsF: Record<string, Measurement> = {},
    refsB: Record<string, Measurement> = {};
  if (of) {
    const m = rec(
      'fwd',
      'onnxruntime',
      of,
      fwdFlops,
      `onnxruntime-node ${ort.ort ? ort.version : ''}, MatMul/Mul/${causal ? 'Add/' : ''}Softmax/MatMul, intraOpNumThreads ${threads}`,
    );
    out.push(m);
    refsF.onnxruntime = m;
  }
  await session?.release();
  keep.forEach((x) => x.dispose());
  // PyTorch twice: with glibc's malloc told to keep freed memory (its best here), then with its defaults.
  for (const keepMemory of [true, false]) {
    const reps = Math.max(3, Math.min(opts.reps, 7));
    const t = runTorch(PY_ATTN, [B, H, S, D, causal ? 1 : 0, reps], { threads, keepMemory });
    if (typeof t === 'string') {
      if (keepMemory) console.error(`attention: ${t}`);
      break;
    }
    const impl = keepMemory ? 'PyTorch' : 'PyTorch (default malloc)';
    const detail = `PyTorch ${t.version}, ${String(t.results.fwd.extra.kind)}, ${threads} threads, ${keepMemory ? 'malloc kept' : 'default malloc'}`;
    const mf = rec('fwd', impl, t.results.fwd.stats, fwdFlops, detail),
      mb = rec('fwd+bwd', impl, t.results.fwd_bwd.stats, 3.5 * fwdFlops, detail);
    out.push(mf, mb);
    refsF[impl] = mf;
    refsB[impl] = mb;
  }
  addRatios([kiFwd], refsF);
  addRatios([kiBoth], refsB);
  for (const x of [q, k, v, g, qg, kg, vg]) x.dispose();
  return out;
}
