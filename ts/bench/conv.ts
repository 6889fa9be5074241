/**
 * `conv` bench: float32 NCHW conv2d on ResNet/MobileNet-like shapes (3x3 pad 1 N8 C64 56² K64,
 * 3x3 pad 1 N8 C128 28² K128, 1x1 N8 C256 28² K64, depthwise 3x3 N8 C256 28²), forward and
 * forward+backward (input, weight and bias gradients through autograd), in GFLOP/s =
 * 2·N·K·(C/g)·R·S·OH·OW per forward (fwd+bwd counts 3x); --quick (and `all`) run batch 2 at a quarter
 * of the side. References in the same run at the same
 * thread count: onnxruntime-node Conv (weights as initializers, timed interleaved with kiln) and
 * PyTorch CPU in a child process (NCHW forward, NCHW forward+backward, and channels-last forward,
 * oneDNN's fast path; glibc told to keep freed memory). Before timing, kiln's output and
 * gradients are checked against float64 sums on sampled elements, and onnxruntime's output
 * against kiln's.
 */
import * as kiln from '../index';
import type { Tensor } from '../index';
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
import { loadOnnxRuntime, ortSession, OrtBound } from './onnxruntime';
import { runTorch, TorchRun } from './torch_ref';

/** One shape: batch, channels, square side, output channels, square kernel, padding, groups. */
interface ConvCase {
  name: string;
  N: number;
  C: number;
  H: number;
  K: number;
  R: number;
  pad: number;
  groups: number;
}

export const CONV_CASES: ConvCase[] = [
  { name: '3x3 C64 56²', N: 8, C: 64, H: 56, K: 64, R: 3, pad: 1, groups: 1 },
  { name: '3x3 C128 28²', N: 8, C: 128, H: 28, K: 128, R: 3, pad: 1, groups: 1 },
  { name: '1x1 C256→64 28²', N: 8, C: 256, H: 28, K: 64, R: 1, pad: 0, groups: 1 },
  { name: 'depthwise 3x3 C256 28²', N: 8, C: 256, H: 28, K: 256, R: 3, pad: 1, groups: 256 },
];

/** The full shapes, or (--quick, all: --max-size below 4096) batch 2 at a quarter of the side. */
export const convCases = (opts: BenchOptions): ConvCase[] =>
  opts.maxSize >= 4096 ? CONV_CASES : CONV_CASES.map((c) => ({ ...c, N: 2, H: c.H / 4 }));

const outSide = (c: ConvCase): number => c.H + 2 * c.pad - c.R + 1;
const fwdFlops = (c: ConvCase): number => 2 * c.N * c.K * (c.C / c.groups) * c.R * c.R * outSide(c) ** 2;

const PY_CONV = `
import torch.nn.functional as F
cases, reps = json.loads(sys.argv[1]), int(sys.argv[2])
for c in cases:
    N, C, H, K, R, p, g = c['N'], c['C'], c['H'], c['K'], c['R'], c['pad'], c['groups']
    x = torch.randn(N, C, H, H); w = torch.randn(K, C // g, R, R) * 0.1; b = torch.randn(K)
    report(c['name'] + ' fwd', timed(lambda: F.conv2d(x, w, b, padding=p, groups=g), reps))
    xg, wg, bg = x.clone().requires_grad_(), w.clone().requires_grad_(), b.clone().requires_grad_()
    gy = torch.randn(N, K, H + 2 * p - R + 1, H + 2 * p - R + 1)
    def step():
        F.conv2d(xg, wg, bg, padding=p, groups=g).backward(gy)
        xg.grad = None; wg.grad = None; bg.grad = None
    report(c['name'] + ' fwd+bwd', timed(step, reps))
    xc, wc = x.to(memory_format=torch.channels_last), w.to(memory_format=torch.channels_last)
    report(c['name'] + ' fwd channels-last', timed(lambda: F.conv2d(xc, wc, b, padding=p, groups=g), reps))
`;

/** Flat float32 values of a contiguous tensor. */
const f32 = (t: Tensor): Float32Array => t.data() as Float32Array;

/**
 * Checks kiln's y, dx, dw against float64 sums on sampled elements (stride 1). Tolerance
 * 8·sqrt(n)·2^-24·(sum of |terms|) per element for a sum of n float32 products.
 */
function checkKiln(c: ConvCase, x: Tensor, w: Tensor, b: Tensor, y: Tensor, gy: Tensor, dx: Tensor, dw: Tensor) {
  const { N, C, H, K, R, pad } = c;
  const O = outSide(c),
    Cg = C / c.groups,
    Kg = K / c.groups;
  const xv = f32(x),
    wv = f32(w),
    bv = f32(b),
    gv = f32(gy);
  const tol = (n: number, abs: number) => 8 * Math.sqrt(n) * 2 ** -24 * abs + 1e-30;
  const check = (label: string, got: Float32Array, size: number, ref: (i: number) => [number, number, number]) => {
    const idx = sampleIndices(size, 48);
    const refs = idx.map(ref);
    expectClose(
      `conv ${c.name} ${label} kiln vs float64`,
      idx.map((i) => got[i]),
      refs.map((r) => r[0]),
      (s) => tol(refs[s][2], refs[s][1]),
    );
  };
  check('y', f32(y), N * K * O * O, (i) => {
    const ow = i % O,
      oh = Math.floor(i / O) % O,
      k = Math.floor(i / (O * O)) % K,
      n = Math.floor(i / (K * O * O));
    let s = bv[k],
      a = Math.abs(bv[k]);
    for (let ch = 0; ch < Cg; ch++)
      for (let r = 0; r < R; r++)
        for (let t = 0; t < R; t++) {
          const ih = oh - pad + r,
            iw = ow - pad + t;
          if (ih < 0 || ih >= H || iw < 0 || iw >= H) continue;
          const v =
            xv[((n * C + Math.floor(k / Kg) * Cg + ch) * H + ih) * H + iw] * wv[((k * Cg + ch) * R + r) * R + t];
          s += v;
          a += Math.abs(v);
        }
    return [s, a, Cg * R * R];
  });
  check('dx', f32(dx), N * C * H * H, (i) => {
    const iw = i % H,
      ih = Math.floor(i / H) % H,
      ch = Math.floor(i / (H * H)) % C,
      n = Math.floor(i / (C * H * H));
    const gr = Math.floor(ch / Cg);
    let s = 0,
      a = 0;
    for (let kk = 0; kk < Kg; kk++)
      for (let r = 0; r < R; r++)
        for (let t = 0; t < R; t++) {
          const oh = ih + pad - r,
            ow = iw + pad - t,
            k = gr * Kg + kk;
          if (oh < 0 || oh >= O || ow < 0 || ow >= O) continue;
          const v = gv[((n * K + k) * O + oh) * O + ow] * wv[((k * Cg + (ch % Cg)) * R + r) * R + t];
          s += v;
          a += Math.abs(v);
        }
    return [s, a, Kg * R * R];
  });
  check('dw', f32(dw), K * Cg * R * R, (i) => {
    const t = i % R,
      r = Math.floor(i / R) % R,
      cc = Math.floor(i / (R * R)) % Cg,
      k = Math.floor(i / (Cg * R * R));
    const ch = Math.floor(k / Kg) * Cg + cc;
    let s = 0,
      a = 0;
    for (let n = 0; n < N; n++)
      for (let oh = 0; oh < O; oh++)
        for (let ow = 0; ow < O; ow++) {
          const ih = oh - pad + r,
            iw = ow - pad + t;
          if (ih < 0 || ih >= H || iw < 0 || iw >= H) continue;
          const v = gv[((n * K + k) * O + oh) * O + ow] * xv[((n * C + ch) * H + ih) * H + iw];
          s += v;
          a += Math.abs(v);
        }
    return [s, a, N * O * O];
  });
}

/** onnxruntime's Conv on kiln's x (in place), weights and bias as initializers. */
async function ortConv(c: ConvCase, x: Tensor, w: Tensor, b: Tensor, threads: number): Promise<OrtBound | string> {
  const ort = loadOnnxRuntime();
  if (!ort.ort) return `onnxruntime skipped: ${ort.reason}`;
  const O = outSide(c);
  const model = onnxGraphModel({
    name: `conv_${c.name}`,
    nodes: [
      {
        op: 'Conv',
        inputs: ['X', 'W', 'B'],
        outputs: ['Y'],
        attrs: {
          kernel_shape: [c.R, c.R],
          pads: [c.pad, c.pad, c.pad, c.pad],
          strides: [1, 1],
          dilations: [1, 1],
          group: c.groups,
        },
      },
    ],
    inputs: [{ name: 'X', dims: [...x.shape] }],
    outputs: [{ name: 'Y', dims: [c.N, c.K, O, O] }],
    initializers: [
      { name: 'W', dims: [...w.shape], values: Array.from(f32(w)) },
      { name: 'B', dims: [c.K], values: Array.from(f32(b)) },
    ],
  });
  return ortSession(ort.ort, model, { X: { type: 'float32', data: f32(x), dims: [...x.shape] } }, threads);
}

async function benchCase(c: ConvCase, torch: TorchRun | string, threads: number, opts: BenchOptions) {
  if (opts.verbose) process.stderr.write(`conv: ${c.name}\n`);
  const F = kiln.nn.functional;
  const O = outSide(c);
  const x = kiln.randn([c.N, c.C, c.H, c.H]),
    w = kiln.randn([c.K, c.C / c.groups, c.R, c.R]).mul(0.1),
    b = kiln.randn([c.K]),
    gy = kiln.randn([c.N, c.K, O, O]);
  const xg = x.detach().requiresGrad_(),
    wg = w.detach().requiresGrad_(),
    bg = b.detach().requiresGrad_();
  const o = { padding: c.pad, groups: c.groups };
  const step = (): void => {
    const y = F.conv2d(xg, wg, bg, o);
    y.backward(gy);
    y.dispose();
    for (const t of [xg, wg, bg]) {
      t.grad?.dispose();
      t.grad = null;
    }
  };
  const y = F.conv2d(x, w, b, o);
  const yg = F.conv2d(xg, wg, bg, o);
  yg.backward(gy);
  checkKiln(c, x, w, b, y, gy, xg.grad!, wg.grad!);
  step();
  let session: OrtBound | null = null;
  const variants: AsyncVariant[] = [
    { impl: 'kiln', run: () => F.conv2d(x, w, b, o).dispose() },
    { impl: 'kiln fwd+bwd', run: step },
  ];
  const s = await ortConv(c, x, w, b, threads);
  if (typeof s === 'string') process.stderr.write(`conv: ${s}\n`);
  else {
    session = s;
    const ref = (await s.run()).Y.data as Float32Array;
    const idx = sampleIndices(ref.length, 4096);
    const yv = f32(y);
    expectClose(
      `conv ${c.name} onnxruntime vs kiln`,
      idx.map((i) => ref[i]),
      idx.map((i) => yv[i]),
      (i) => 1e-4 * (1 + Math.abs(yv[idx[i]])),
    );
    variants.push({ impl: 'onnxruntime', run: () => s.run() });
  }
  const stats = await measureAsync(variants, opts, 5);
  await session?.release();
  const rec = (name: string, impl: string, st: Stats, flops: number, detail?: string): Measurement => ({
    bench: 'conv',
    name: `${c.name} ${name}`,
    shape: [c.N, c.C, c.H, c.H, c.K, c.R, c.R, c.groups],
    dtype: 'float32',
    impl,
    stats: st,
    unit: 'GFLOP/s',
    value: flops / (st.medianMs * 1e6),
    ratios: {},
    detail,
  });
  const fwd = [rec('fwd', 'kiln', stats[0], fwdFlops(c))];
  const both = [rec('fwd+bwd', 'kiln', stats[1], 3 * fwdFlops(c))];
  const fwdRefs: Record<string, Measurement> = {},
    bothRefs: Record<string, Measurement> = {};
  if (session) {
    const m = rec('fwd', 'onnxruntime', stats[2], fwdFlops(c), `onnxruntime-node Conv, intraOpNumThreads ${threads}`);
    fwd.push(m);
    fwdRefs.onnxruntime = m;
  }
  if (typeof torch !== 'string') {
    const t = (k: string) => torch.results[`${c.name} ${k}`]?.stats;
    const detail = `PyTorch ${torch.version}, ${threads} threads, glibc malloc kept`;
    const nchw = t('fwd'),
      cl = t('fwd channels-last'),
      tb = t('fwd+bwd');
    if (nchw) fwd.push((fwdRefs['PyTorch NCHW'] = rec('fwd', 'PyTorch NCHW', nchw, fwdFlops(c), detail)));
    if (cl) fwd.push((fwdRefs['PyTorch channels-last'] = rec('fwd', 'PyTorch channels-last', cl, fwdFlops(c), detail)));
    if (tb) both.push((bothRefs['PyTorch NCHW'] = rec('fwd+bwd', 'PyTorch NCHW', tb, 3 * fwdFlops(c), detail)));
  }
  addRatios(fwd, fwdRefs);
  addRatios(both, bothRefs);
  for (const t of [x, w, b, gy, y, yg, xg.grad, wg.grad, bg.grad]) t?.dispose();
  return [...fwd, ...both];
}

/** Runs the conv bench at this process's thread count. */
export async function benchConv(opts: BenchOptions): Promise<Measurement[]> {
  const threads = kiln.info().numThreads;
  const torch = runTorch(PY_CONV, [JSON.stringify(convCases(opts)), Math.max(5, opts.reps)], {
    threads,
    keepMemory: true,
  });
  if (typeof torch === 'string') process.stderr.write(`conv: ${torch}\n`);
  const out: Measurement[] = [];
  for (const c of convCases(opts)) out.push(...(await kiln.scope(() => benchCase(c, torch, threads, opts))));
  return out;
}
