/**
 * Op-table rows of the convolution kernels (ops/conv.ts): plain-loop float64 references,
 * conformance cases on odd shapes (stride, dilation, groups, depthwise, 1x1, padding that crops or
 * extends, non-contiguous inputs, empty batches), gradient samples and error cases.
 */
import { fromNumbers } from '../creation';
import { DType, FLOAT_DTYPES } from '../dtype';
import {
  conv2dBackward,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dCore,
  ConvGeometry,
  convOutSize,
} from './conv';
import type { Case, OpRow, Rng } from './row';
import { errorCases, gradInput, LAYOUTS, makeInput, randInt } from './samples';

/** [N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, groups] */
type Cfg = [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

export const CONV_CONFIGS: Cfg[] = [
  [2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1],
  [1, 4, 9, 8, 6, 3, 3, 2, 2, 0, 1, 1, 1, 2],
  [2, 4, 8, 8, 4, 3, 3, 1, 1, 2, 2, 2, 2, 4], // depthwise, dilation 2
  [1, 3, 6, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3], // depthwise, channel multiplier 2
  [2, 3, 9, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1, 3], // depthwise, stride 2
  [2, 5, 4, 5, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1], // 1x1: a plain GEMM
  [1, 4, 7, 7, 3, 1, 1, 2, 2, 0, 0, 1, 1, 1], // 1x1 stride 2
  [1, 2, 5, 9, 3, 2, 4, 1, 3, 1, 2, 1, 1, 1],
  [1, 1, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1], // one input channel
  [2, 16, 12, 13, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1],
  [1, 8, 5, 45, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1], // rows longer than a GEMM panel
  [1, 6, 11, 10, 4, 5, 3, 2, 1, 2, 1, 1, 2, 2], // stride 2 rows only, dilation 2 columns, groups
  [0, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1], // empty batch
];

const geoOf = (c: Cfg): ConvGeometry => ({
  stride: [c[7], c[8]],
  padding: [c[9], c[10]],
  dilation: [c[11], c[12]],
  groups: c[13],
});

interface Dims {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  R: number;
  S: number;
  OH: number;
  OW: number;
}

/** Visits every (n, k, oh, ow, ch, r, s) tap that reads inside the input, with the flat x, w and y indices. */
function forTaps(d: Dims, g: ConvGeometry, f: (xi: number, wi: number, yi: number) => void): void {
  const Cg = d.C / g.groups,
    Kg = d.K / g.groups;
  for (let n = 0; n < d.N; n++)
    for (let k = 0; k < d.K; k++)
      for (let oh = 0; oh < d.OH; oh++)
        for (let ow = 0; ow < d.OW; ow++)
          for (let c = 0; c < Cg; c++)
            for (let r = 0; r < d.R; r++) {
              const ih = oh * g.stride[0] - g.padding[0] + r * g.dilation[0];
              if (ih < 0 || ih >= d.H) continue;
              for (let s = 0; s < d.S; s++) {
                const iw = ow * g.stride[1] - g.padding[1] + s * g.dilation[1];
                if (iw < 0 || iw >= d.W) continue;
                const ch = Math.floor(k / Kg) * Cg + c;
                f(
                  ((n * d.C + ch) * d.H + ih) * d.W + iw,
                  ((k * Cg + c) * d.R + r) * d.S + s,
                  ((n * d.K + k) * d.OH + oh) * d.OW + ow,
                );
              }
            }
}

const dimsOf = (c: Cfg, OH?: number, OW?: number): Dims => {
  const [N, C, H, W, K, R, S] = c;
  const g = geoOf(c);
  return {
    N,
    C,
    H,
    W,
    K,
    R,
    S,
    OH: OH ?? convOutSize(H, R, g.stride[0], g.dilation[0], g.padding[0], g.padding[0]),
    OW: OW ?? convOutSize(W, S, g.stride[1], g.dilation[1], g.padding[1], g.padding[1]),
  };
};

export function refConv(x: number[], w: number[], b: number[] | null, d: Dims, g: ConvGeometry): number[] {
  const y = new Array<number>(d.N * d.K * d.OH * d.OW).fill(0);
  forTaps(d, g, (xi, wi, yi) => (y[yi] += x[xi] * w[wi]));
  if (b) for (let i = 0; i < y.length; i++) y[i] += b[Math.floor(i / (d.OH * d.OW)) % d.K];
  return y;
}

function refBackwardInput(gy: number[], w: number[], d: Dims, g: ConvGeometry): number[] {
  const dx = new Array<number>(d.N * d.C * d.H * d.W).fill(0);
  forTaps(d, g, (xi, wi, yi) => (dx[xi] += gy[yi] * w[wi]));
  return dx;
}

function refBackwardWeight(x: number[], gy: number[], d: Dims, g: ConvGeometry): number[] {
  const dw = new Array<number>((d.K * d.C * d.R * d.S) / g.groups).fill(0);
  forTaps(d, g, (xi, wi, yi) => (dw[wi] += x[xi] * gy[yi]));
  return dw;
}

function refBackwardBias(gy: number[], d: Dims): number[] {
  const db = new Array<number>(d.K).fill(0);
  gy.forEach((v, i) => (db[Math.floor(i / (d.OH * d.OW)) % d.K] += v));
  return db;
}

const layout = (rng: Rng) => LAYOUTS[randInt(rng, 0, LAYOUTS.length - 1)];
const tolFor = (terms: number) => 8 * (terms + 1);

/** The configurations each case list walks: every fixed one, plus output sizes that crop or extend. */
function sized(): { cfg: Cfg; OH?: number; OW?: number; label: string }[] {
  const out: { cfg: Cfg; OH?: number; OW?: number; label: string }[] = CONV_CONFIGS.map((cfg) => ({
    cfg,
    label: `[${cfg.slice(0, 4)}] K${cfg[4]} ${cfg[5]}x${cfg[6]} s${cfg[7]},${cfg[8]} p${cfg[9]},${cfg[10]} d${cfg[11]},${cfg[12]} g${cfg[13]}`,
  }));
  // 'same' with an even kernel: padding 0 on top, 1 below.
  out.push({ cfg: [2, 3, 5, 6, 2, 2, 2, 1, 1, 0, 0, 1, 1, 1], OH: 5, OW: 6, label: "2x2 'same'" });
  // Output smaller than the symmetric padding gives (a bottom/right crop).
  out.push({ cfg: [1, 3, 8, 8, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1], OH: 3, OW: 4, label: 'cropped bottom/right' });
  return out;
}

export const conv2dRow: OpRow<typeof conv2dCore> = {
  name: 'conv2d',
  kind: 'custom',
  native: { nin: 3, nout: 1, nattr: 8 },
  dtypes: FLOAT_DTYPES,
  fn: conv2dCore,
  grad: (g) => [g, g, g],
  cases: (rng: Rng, dtype: DType) => {
    const out: Case[] = [];
    for (const { cfg, OH, OW, label } of sized()) {
      const d = dimsOf(cfg, OH, OW),
        g = geoOf(cfg);
      const x = makeInput(rng, [d.N, d.C, d.H, d.W], dtype, layout(rng), [-2, 2]);
      const w = makeInput(rng, [d.K, d.C / g.groups, d.R, d.S], dtype, 'contiguous', [-2, 2]);
      const b = rng() < 0.5 ? makeInput(rng, [d.K], dtype, 'contiguous', [-2, 2]) : null;
      out.push({
        label: `${label}${b ? ' + bias' : ''}`,
        got: conv2dCore(x.t, w.t, b?.t ?? null, g, [d.OH, d.OW]),
        want: { shape: [d.N, d.K, d.OH, d.OW], data: refConv(x.ref.data, w.ref.data, b?.ref.data ?? null, d, g) },
        tol: tolFor((d.C / g.groups) * d.R * d.S),
      });
      for (const t of [x.t, w.t, b?.t]) t?.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: 'stride 2, padding 1, groups 2, bias',
      fn: (x, w, b) => conv2dCore(x, w, b, { stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 2 }),
      inputs: [gradInput(rng, [1, 4, 5, 5]), gradInput(rng, [2, 2, 3, 3]), gradInput(rng, [2])],
    },
    {
      label: 'depthwise, dilation 2',
      fn: (x, w) => conv2dCore(x, w, null, { stride: [1, 1], padding: [2, 1], dilation: [2, 1], groups: 3 }),
      inputs: [gradInput(rng, [2, 3, 5, 4]), gradInput(rng, [3, 1, 3, 2])],
    },
  ],
  errors: () => {
    const f = (s: number[], dtype: DType = 'float32') =>
      fromNumbers(new Array(s.reduce((a, b) => a * b, 1)).fill(1), s, dtype);
    const g1: ConvGeometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
    return errorCases([
      ['input rank', () => conv2dCore(f([3, 5, 5]), f([4, 3, 3, 3]), null, g1), 'ERR_SHAPE'],
      ['channel mismatch', () => conv2dCore(f([1, 3, 5, 5]), f([4, 2, 3, 3]), null, g1), 'ERR_SHAPE'],
      [
        'groups do not divide K',
        () => conv2dCore(f([1, 4, 5, 5]), f([3, 2, 3, 3]), null, { ...g1, groups: 2 }),
        'ERR_SHAPE',
      ],
      [
        'kernel larger than the padded input',
        () => conv2dCore(f([1, 3, 2, 2]), f([4, 3, 3, 3]), null, g1),
        'ERR_SHAPE',
      ],
      ['bias shape', () => conv2dCore(f([1, 3, 5, 5]), f([4, 3, 3, 3]), f([3]), g1), 'ERR_SHAPE'],
      ['stride 0', () => conv2dCore(f([1, 3, 5, 5]), f([4, 3, 3, 3]), null, { ...g1, stride: [0, 1] }), 'ERR_ARG'],
      [
        'negative padding',
        () => conv2dCore(f([1, 3, 5, 5]), f([4, 3, 3, 3]), null, { ...g1, padding: [-1, 0] }),
        'ERR_ARG',
      ],
      ['integer dtype', () => conv2dCore(f([1, 3, 5, 5], 'int32'), f([4, 3, 3, 3], 'int32'), null, g1), 'ERR_DTYPE'],
    ]);
  },
};

export const conv2dBackwardInputRow: OpRow<typeof conv2dBackwardInput> = {
  name: 'conv2d_backward_input',
  kind: 'custom',
  native: { nin: 2, nout: 1, nattr: 7 },
  dtypes: FLOAT_DTYPES,
  fn: conv2dBackwardInput,
  grad: (g) => [g, g],
  cases: (rng: Rng, dtype: DType) => {
    const out: Case[] = [];
    for (const { cfg, OH, OW, label } of sized()) {
      const g = geoOf(cfg);
      // A transposed convolution's output padding: one more row and column than the windows reach.
      const extra = cfg[7] > 1 && cfg[8] > 1 ? 1 : 0;
      const d0 = dimsOf(cfg, OH, OW);
      const d = { ...d0, H: d0.H + extra, W: d0.W + extra };
      const gy = makeInput(rng, [d.N, d.K, d.OH, d.OW], dtype, layout(rng), [-2, 2]);
      const w = makeInput(rng, [d.K, d.C / g.groups, d.R, d.S], dtype, layout(rng), [-2, 2]);
      out.push({
        label: `${label}${extra ? ' output padding 1' : ''}`,
        got: conv2dBackwardInput(gy.t, w.t, g, [d.H, d.W]),
        want: { shape: [d.N, d.C, d.H, d.W], data: refBackwardInput(gy.ref.data, w.ref.data, d, g) },
        tol: tolFor((d.K / g.groups) * d.R * d.S),
      });
      for (const t of [gy.t, w.t]) t.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: 'stride 2, groups 2',
      fn: (gy, w) =>
        conv2dBackwardInput(gy, w, { stride: [2, 2], padding: [1, 0], dilation: [1, 1], groups: 2 }, [6, 5]),
      inputs: [gradInput(rng, [1, 4, 3, 2]), gradInput(rng, [4, 1, 3, 3])],
    },
    {
      label: 'stride 1, dilation 2',
      fn: (gy, w) =>
        conv2dBackwardInput(gy, w, { stride: [1, 1], padding: [1, 1], dilation: [2, 1], groups: 1 }, [5, 4]),
      inputs: [gradInput(rng, [2, 2, 3, 4]), gradInput(rng, [2, 3, 2, 3])],
    },
  ],
  errors: () => {
    const f = (s: number[]) => fromNumbers(new Array(s.reduce((a, b) => a * b, 1)).fill(1), s, 'float32');
    const g1: ConvGeometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
    return errorCases([
      ['rank', () => conv2dBackwardInput(f([2, 3, 3]), f([2, 3, 3, 3]), g1, [5, 5]), 'ERR_SHAPE'],
      ['channels', () => conv2dBackwardInput(f([1, 2, 3, 3]), f([3, 3, 3, 3]), g1, [5, 5]), 'ERR_SHAPE'],
      ['input size', () => conv2dBackwardInput(f([1, 2, 3, 3]), f([2, 3, 3, 3]), g1, [0, 5]), 'ERR_ARG'],
    ]);
  },
};

export const conv2dBackwardWeightRow: OpRow<typeof conv2dBackwardWeight> = {
  name: 'conv2d_backward_weight',
  kind: 'custom',
  native: { nin: 2, nout: 1, nattr: 7 },
  dtypes: FLOAT_DTYPES,
  fn: conv2dBackwardWeight,
  grad: (g) => [g, g],
  cases: (rng: Rng, dtype: DType) => {
    const out: Case[] = [];
    for (const { cfg, OH, OW, label } of sized()) {
      const d = dimsOf(cfg, OH, OW),
        g = geoOf(cfg);
      const x = makeInput(rng, [d.N, d.C, d.H, d.W], dtype, layout(rng), [-2, 2]);
      const gy = makeInput(rng, [d.N, d.K, d.OH, d.OW], dtype, layout(rng), [-2, 2]);
      out.push({
        label,
        got: conv2dBackwardWeight(x.t, gy.t, g, [d.R, d.S]),
        want: { shape: [d.K, d.C / g.groups, d.R, d.S], data: refBackwardWeight(x.ref.data, gy.ref.data, d, g) },
        tol: tolFor(d.N * d.OH * d.OW),
      });
      for (const t of [x.t, gy.t]) t.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: 'stride 2, padding 1, groups 2',
      fn: (x, gy) =>
        conv2dBackwardWeight(x, gy, { stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 2 }, [3, 3]),
      inputs: [gradInput(rng, [2, 4, 5, 5]), gradInput(rng, [2, 2, 3, 3])],
    },
    {
      label: 'depthwise',
      fn: (x, gy) =>
        conv2dBackwardWeight(x, gy, { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 2 }, [3, 3]),
      inputs: [gradInput(rng, [1, 2, 4, 4]), gradInput(rng, [1, 2, 4, 4])],
    },
  ],
  errors: () => {
    const f = (s: number[]) => fromNumbers(new Array(s.reduce((a, b) => a * b, 1)).fill(1), s, 'float32');
    const g1: ConvGeometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
    return errorCases([
      ['rank', () => conv2dBackwardWeight(f([2, 3, 5]), f([2, 4, 3, 3]), g1, [3, 3]), 'ERR_SHAPE'],
      ['batch', () => conv2dBackwardWeight(f([2, 3, 5, 5]), f([1, 4, 3, 3]), g1, [3, 3]), 'ERR_SHAPE'],
      [
        'groups',
        () => conv2dBackwardWeight(f([1, 3, 5, 5]), f([1, 4, 3, 3]), { ...g1, groups: 2 }, [3, 3]),
        'ERR_SHAPE',
      ],
      ['kernel size', () => conv2dBackwardWeight(f([1, 3, 5, 5]), f([1, 4, 3, 3]), g1, [3, 1.5 as number]), 'ERR_ARG'],
    ]);
  },
};

/** Stride-1 depthwise geometries the fused backward runs on (others take the separate kernels). */
const FUSED_CONFIGS: Cfg[] = [
  [2, 5, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5],
  [1, 3, 7, 37, 3, 5, 5, 1, 1, 2, 2, 1, 1, 3], // 5x5, rows past two vectors
  [3, 2, 6, 20, 2, 3, 3, 1, 1, 0, 2, 1, 1, 2], // no padding on top, 2 on the left
  [1, 4, 1, 1, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4], // one pixel
];

/** 1x1 stride-1 unpadded geometries: with grad weight and bias, grad bias comes from grad weight's kernel. */
const FUSED_POINTWISE_CONFIGS: Cfg[] = [
  [2, 12, 5, 7, 9, 1, 1, 1, 1, 0, 0, 1, 1, 1],
  [1, 70, 3, 4, 70, 1, 1, 1, 1, 0, 0, 1, 1, 1], // two output-channel panels (AVX-512: 64 wide)
  [3, 8, 4, 5, 6, 1, 1, 1, 1, 0, 0, 1, 1, 2], // groups
  [2, 6, 2, 3, 2, 1, 1, 1, 1, 0, 0, 1, 1, 1],
  [1, 5, 1, 1, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1], // one pixel
  [4, 3, 3, 3, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1],
];

export const conv2dBackwardRow: OpRow<typeof conv2dBackward> = {
  name: 'conv2d_backward',
  kind: 'custom',
  native: { nin: 3, nout: 3, nattr: 7 },
  dtypes: ['float32', 'float64'],
  fn: conv2dBackward,
  grad: {
    nondiff:
      'runs only when no graph of the gradient is recorded; under createGraph conv2d writes its gradient with conv2d_backward_input and conv2d_backward_weight instead',
  },
  cases: (rng: Rng, dtype: DType) => {
    const out: Case[] = [];
    const all = [
      ...sized(),
      ...FUSED_CONFIGS.map((cfg) => ({ cfg, OH: undefined, OW: undefined, label: `fused [${cfg.slice(0, 7)}]` })),
      ...FUSED_POINTWISE_CONFIGS.map((cfg) => ({
        cfg,
        OH: undefined,
        OW: undefined,
        label: `fused 1x1 [${cfg.slice(0, 5)}] g${cfg[13]}`,
      })),
    ];
    all.forEach(({ cfg, OH, OW, label }, ci) => {
      const d = dimsOf(cfg, OH, OW),
        g = geoOf(cfg);
      const gy = makeInput(rng, [d.N, d.K, d.OH, d.OW], dtype, layout(rng), [-2, 2]);
      const x = makeInput(rng, [d.N, d.C, d.H, d.W], dtype, layout(rng), [-2, 2]);
      const w = makeInput(rng, [d.K, d.C / g.groups, d.R, d.S], dtype, 'contiguous', [-2, 2]);
      // Every set of two or three gradients in turn; the others are checked null below.
      const want = [ci % 4 !== 1, ci % 4 !== 2, ci % 4 !== 3];
      const [dx, dw, db] = conv2dBackward(gy.t, x.t, w.t, g, want);
      const refs = [
        {
          shape: [d.N, d.C, d.H, d.W],
          data: refBackwardInput(gy.ref.data, w.ref.data, d, g),
          terms: (d.K / g.groups) * d.R * d.S,
        },
        {
          shape: [d.K, d.C / g.groups, d.R, d.S],
          data: refBackwardWeight(x.ref.data, gy.ref.data, d, g),
          terms: d.N * d.OH * d.OW,
        },
        { shape: [d.K], data: refBackwardBias(gy.ref.data, d), terms: d.N * d.OH * d.OW },
      ];
      [dx, dw, db].forEach((t, i) => {
        if (!want[i]) {
          if (t !== null) throw new Error(`conv2d_backward ${label}: gradient ${i} not asked for but returned`);
          return;
        }
        out.push({ label: `${label} ${['dx', 'dw', 'db'][i]}`, got: t!, want: refs[i], tol: tolFor(refs[i].terms) });
      });
      for (const t of [gy.t, x.t, w.t]) t.dispose();
    });
    return out;
  },
  gradSamples: () => [],
  errors: () => {
    const f = (s: number[], dtype: DType = 'float32') =>
      fromNumbers(new Array(s.reduce((a, b) => a * b, 1)).fill(1), s, dtype);
    const g4: ConvGeometry = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 4 };
    return errorCases([
      ['rank', () => conv2dBackward(f([2, 4, 5]), f([2, 4, 5, 5]), f([4, 1, 3, 3]), g4), 'ERR_SHAPE'],
      ['grad channels', () => conv2dBackward(f([2, 3, 5, 5]), f([2, 4, 5, 5]), f([4, 1, 3, 3]), g4), 'ERR_SHAPE'],
      [
        'groups',
        () => conv2dBackward(f([2, 4, 5, 5]), f([2, 4, 5, 5]), f([4, 1, 3, 3]), { ...g4, groups: 3 }),
        'ERR_SHAPE',
      ],
      [
        'integer dtype',
        () => conv2dBackward(f([2, 4, 5, 5], 'int32'), f([2, 4, 5, 5], 'int32'), f([4, 1, 3, 3], 'int32'), g4),
        'ERR_DTYPE',
      ],
    ]);
  },
};
