/**
 * Op-table rows of the pooling kernels (ops/pool.ts): plain-loop references (PyTorch's window,
 * index and divisor rules), conformance cases with ceil mode, padding, dilation and
 * non-contiguous inputs, gradient samples and error cases.
 */
import { fromNumbers } from '../creation';
import { DType, FLOAT_DTYPES } from '../dtype';
import type { Pair } from './conv';
import {
  adaptiveAvgPool2dBackward,
  adaptiveAvgPool2dCore,
  avgPool2dBackward,
  avgPool2dCore,
  AvgPoolGeometry,
  maxPool2dBackward,
  maxPool2dWithIndices,
  poolOutSize,
} from './pool';
import type { Case, OpRow, Rng } from './row';
import { errorCases, gradInput, LAYOUTS, makeInput, randInt } from './samples';

/** [N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, ceilMode] */
type PoolCfg = [number, number, number, number, number, number, number, number, number, number, number, number, number];

const POOL_CONFIGS: PoolCfg[] = [
  [2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1, 0],
  [1, 2, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1],
  [2, 2, 7, 6, 3, 2, 1, 2, 1, 1, 1, 1, 0],
  [1, 3, 10, 9, 2, 3, 1, 1, 0, 1, 2, 2, 0],
  [1, 1, 5, 5, 3, 3, 3, 3, 1, 1, 1, 1, 1],
  [0, 2, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, 0],
];

interface Win {
  N: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  k: Pair;
  s: Pair;
  p: Pair;
  d: Pair;
}

const winOf = (c: PoolCfg, dilated = true): Win => {
  const d: Pair = dilated ? [c[10], c[11]] : [1, 1];
  return {
    N: c[0],
    C: c[1],
    H: c[2],
    W: c[3],
    k: [c[4], c[5]],
    s: [c[6], c[7]],
    p: [c[8], c[9]],
    d,
    OH: poolOutSize(c[2], c[4], c[6], c[8], d[0], c[12] === 1),
    OW: poolOutSize(c[3], c[5], c[7], c[9], d[1], c[12] === 1),
  };
};

function refMax(x: number[], w: Win): { vals: number[]; idx: number[] } {
  const vals: number[] = [],
    idx: number[] = [];
  for (let pl = 0; pl < w.N * w.C; pl++)
    for (let oh = 0; oh < w.OH; oh++)
      for (let ow = 0; ow < w.OW; ow++) {
        let best = -Infinity,
          at = -1;
        for (let r = 0; r < w.k[0]; r++) {
          const ih = oh * w.s[0] - w.p[0] + r * w.d[0];
          if (ih < 0 || ih >= w.H) continue;
          for (let t = 0; t < w.k[1]; t++) {
            const iw = ow * w.s[1] - w.p[1] + t * w.d[1];
            if (iw < 0 || iw >= w.W) continue;
            const v = x[pl * w.H * w.W + ih * w.W + iw];
            if (at < 0 || v > best || Number.isNaN(v)) ((best = v), (at = ih * w.W + iw));
          }
        }
        vals.push(best);
        idx.push(at);
      }
  return { vals, idx };
}

/** Input span and divisor factor of each output position along one axis (avg or adaptive). */
function spans(n: number, on: number, k: number, s: number, p: number, include: boolean | null) {
  return Array.from({ length: on }, (_, o) => {
    if (include === null) {
      const lo = Math.floor((o * n) / on),
        hi = Math.ceil(((o + 1) * n) / on);
      return { lo, hi, div: hi - lo };
    }
    const start = o * s - p,
      end = Math.min(start + k, n + p);
    const lo = Math.max(start, 0),
      hi = Math.min(end, n);
    return { lo, hi, div: include ? end - start : hi - lo };
  });
}

/** Average pooling (forward, or backward when `back`) over flat planes. */
function refAvg(v: number[], w: Win, include: boolean | null, divisor: number, back: boolean): number[] {
  const hs = spans(w.H, w.OH, w.k[0], w.s[0], w.p[0], include),
    ws = spans(w.W, w.OW, w.k[1], w.s[1], w.p[1], include);
  const out = new Array<number>(w.N * w.C * (back ? w.H * w.W : w.OH * w.OW)).fill(0);
  for (let pl = 0; pl < w.N * w.C; pl++)
    for (let oh = 0; oh < w.OH; oh++)
      for (let ow = 0; ow < w.OW; ow++) {
        const div = divisor || hs[oh].div * ws[ow].div;
        const o = (pl * w.OH + oh) * w.OW + ow;
        let sum = 0;
        for (let i = hs[oh].lo; i < hs[oh].hi; i++)
          for (let j = ws[ow].lo; j < ws[ow].hi; j++) {
            if (back) out[pl * w.H * w.W + i * w.W + j] += v[o] / div;
            else sum += v[pl * w.H * w.W + i * w.W + j];
          }
        if (!back) out[o] = sum / div;
      }
  return out;
}

const layout = (rng: Rng) => LAYOUTS[randInt(rng, 0, LAYOUTS.length - 1)];
const label = (c: PoolCfg) =>
  `[${c.slice(0, 4)}] k${c[4]},${c[5]} s${c[6]},${c[7]} p${c[8]},${c[9]} d${c[10]},${c[11]}${c[12] ? ' ceil' : ''}`;
const f32 = (s: number[], dtype: DType = 'float32') =>
  fromNumbers(new Array(s.reduce((a, b) => a * b, 1)).fill(1), s, dtype);
const avgGeo = (w: Win, include: boolean, divisor: number): AvgPoolGeometry => ({
  kernel: w.k,
  stride: w.s,
  padding: w.p,
  countIncludePad: include,
  divisor,
});
const maxGeo = (w: Win) => ({ kernel: w.k, stride: w.s, padding: w.p, dilation: w.d });

export const maxPool2dRow: OpRow<typeof maxPool2dWithIndices> = {
  name: 'max_pool2d',
  kind: 'custom',
  native: { nin: 1, nout: 2, nattr: 8 },
  dtypes: FLOAT_DTYPES,
  fn: maxPool2dWithIndices,
  grad: (g) => [g],
  cases: (rng: Rng, dtype: DType) => {
    const out: Case[] = [];
    for (const c of POOL_CONFIGS) {
      const w = winOf(c);
      const x = makeInput(rng, [w.N, w.C, w.H, w.W], dtype, layout(rng));
      const [vals, idx] = maxPool2dWithIndices(x.t, maxGeo(w), [w.OH, w.OW]);
      const want = refMax(x.ref.data, w);
      out.push({ label: label(c), got: vals, want: { shape: [w.N, w.C, w.OH, w.OW], data: want.vals } });
      out.push({ label: `${label(c)} indices`, got: idx, want: { shape: [w.N, w.C, w.OH, w.OW], data: want.idx } });
      x.t.dispose();
    }
    return out;
  },
  gradSamples: (rng) => [
    {
      label: 'k2 s1 p1',
      fn: (x) =>
        maxPool2dWithIndices(x, { kernel: [2, 2], stride: [1, 1], padding: [1, 1], dilation: [1, 1] }, [5, 5])[0],
      inputs: [gradInput(rng, [1, 2, 4, 4])],
    },
  ],
  errors: () =>
    errorCases([
      ['rank', () => maxPool2dWithIndices(f32([2, 4, 4]), maxGeo(winOf(POOL_CONFIGS[0])), [2, 2]), 'ERR_SHAPE'],
      [
        'stride 0',
        () => maxPool2dWithIndices(f32([1, 1, 4, 4]), { ...maxGeo(winOf(POOL_CONFIGS[0])), stride: [0, 1] }, [2, 2]),
        'ERR_ARG',
      ],
      [
        'integer input',
        () => maxPool2dWithIndices(f32([1, 1, 4, 4], 'int32'), maxGeo(winOf(POOL_CONFIGS[0])), [2, 2]),
        'ERR_DTYPE',
      ],
    ]),
};

/** max_pool2d's gradient: gy added at each window's index, in output order (-1: nothing). */
function refMaxBackward(gy: number[], idx: number[], w: Win): number[] {
  const HW = w.H * w.W,
    P = w.OH * w.OW;
  const out = new Array<number>(w.N * w.C * HW).fill(0);
  for (let pl = 0; pl < w.N * w.C; pl++)
    for (let o = 0; o < P; o++) if (idx[pl * P + o] >= 0) out[pl * HW + idx[pl * P + o]] += gy[pl * P + o];
  return out;
}

/** The indices max pooling picks on a fixed input (distinct values: no ties), as an int64 tensor. */
function fixedIndices(w: Win) {
  const n = w.N * w.C * w.H * w.W;
  const x = Array.from({ length: n }, (_, i) => ((i * 7919) % 1009) / 10);
  const idx = refMax(x, w).idx;
  return { idx, t: fromNumbers(idx, [w.N, w.C, w.OH, w.OW], 'int64') };
}

export const maxPool2dBackwardRow: OpRow<typeof maxPool2dBackward> = {
  name: 'max_pool2d_backward',
  kind: 'custom',
  native: { nin: 2, nout: 1, nattr: 8 },
  dtypes: FLOAT_DTYPES,
  fn: maxPool2dBackward,
  grad: (g) => [g, null],
  cases: (rng: Rng, dtype: DType) => {
    const out: Case[] = [];
    for (const c of POOL_CONFIGS) {
      const w = winOf(c);
      const gy = makeInput(rng, [w.N, w.C, w.OH, w.OW], dtype, layout(rng));
      const ix = fixedIndices(w);
      out.push({
        label: label(c),
        got: maxPool2dBackward(gy.t, ix.t, maxGeo(w), [w.H, w.W]),
        want: { shape: [w.N, w.C, w.H, w.W], data: refMaxBackward(gy.ref.data, ix.idx, w) },
        tol: 16,
      });
      gy.t.dispose();
      ix.t.dispose();
    }
    return out;
  },
  gradSamples: (rng) => {
    // k3 s1 p1: windows overlap, so input elements sum several outputs
    const w = winOf([1, 2, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 0]);
    const ix = fixedIndices(w);
    return [
      {
        label: 'k3 s1 p1 (overlapping windows)',
        fn: (g) => maxPool2dBackward(g, ix.t, maxGeo(w), [w.H, w.W]),
        inputs: [gradInput(rng, [w.N, w.C, w.OH, w.OW])],
      },
    ];
  },
  errors: () => {
    const w = winOf(POOL_CONFIGS[0]);
    const geo = maxGeo(w);
    const ix = () => fromNumbers(new Array(2 * 3 * 16).fill(0), [2, 3, 4, 4], 'int64');
    return errorCases([
      ['rank', () => maxPool2dBackward(f32([3, 4, 4]), ix(), geo, [8, 8]), 'ERR_SHAPE'],
      ['indices shape', () => maxPool2dBackward(f32([2, 3, 4, 3]), ix(), geo, [8, 8]), 'ERR_SHAPE'],
      ['float indices', () => maxPool2dBackward(f32([2, 3, 4, 4]), f32([2, 3, 4, 4]), geo, [8, 8]), 'ERR_DTYPE'],
      ['stride 0', () => maxPool2dBackward(f32([2, 3, 4, 4]), ix(), { ...geo, stride: [0, 1] }, [8, 8]), 'ERR_ARG'],
      ['integer grad', () => maxPool2dBackward(f32([2, 3, 4, 4], 'int32'), ix(), geo, [8, 8]), 'ERR_DTYPE'],
    ]);
  },
};

/** avg_pool2d's variants per config: padding counted, not counted, a fixed divisor. */
const AVG_MODES: [boolean, number][] = [
  [true, 0],
  [false, 0],
  [true, 5],
];

const avgRow = (back: boolean): OpRow<typeof avgPool2dCore> => ({
  name: back ? 'avg_pool2d_backward' : 'avg_pool2d',
  kind: 'custom',
  native: { nin: 1, nout: 1, nattr: 8 },
  dtypes: FLOAT_DTYPES,
  fn: back ? avgPool2dBackward : avgPool2dCore,
  grad: (g) => [g],
  cases: (rng: Rng, dtype: DType) => {
    const out: Case[] = [];
    for (const c of POOL_CONFIGS)
      for (const [include, divisor] of AVG_MODES) {
        const w = winOf(c, false);
        const geo = avgGeo(w, include, divisor);
        const x = makeInput(rng, back ? [w.N, w.C, w.OH, w.OW] : [w.N, w.C, w.H, w.W], dtype, layout(rng));
        out.push({
          label: `${label(c)} countIncludePad ${include} divisor ${divisor}`,
          got: back ? avgPool2dBackward(x.t, geo, [w.H, w.W]) : avgPool2dCore(x.t, geo, [w.OH, w.OW]),
          want: {
            shape: back ? [w.N, w.C, w.H, w.W] : [w.N, w.C, w.OH, w.OW],
            data: refAvg(x.ref.data, w, include, divisor, back),
          },
          tol: 16,
        });
        x.t.dispose();
      }
    return out;
  },
  gradSamples: (rng) => {
    const w = winOf([1, 2, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1], false);
    const geo = avgGeo(w, false, 0);
    return [
      back
        ? {
            label: 'k3 s2 p1 ceil',
            fn: (g) => avgPool2dBackward(g, geo, [5, 5]),
            inputs: [gradInput(rng, [1, 2, w.OH, w.OW])],
          }
        : {
            label: 'k3 s2 p1 ceil',
            fn: (x) => avgPool2dCore(x, geo, [w.OH, w.OW]),
            inputs: [gradInput(rng, [1, 2, 5, 5])],
          },
    ];
  },
  errors: () => {
    const geo = avgGeo(winOf(POOL_CONFIGS[0], false), true, 0);
    const run = back ? avgPool2dBackward : avgPool2dCore;
    return errorCases([
      ['rank', () => run(f32([4, 4]), geo, [2, 2]), 'ERR_SHAPE'],
      ['kernel 0', () => run(f32([1, 1, 4, 4]), { ...geo, kernel: [0, 2] }, [2, 2]), 'ERR_ARG'],
      ['divisor', () => run(f32([1, 1, 4, 4]), { ...geo, divisor: -1 }, [2, 2]), 'ERR_ARG'],
    ]);
  },
});

export const avgPool2dRow = avgRow(false);
export const avgPool2dBackwardRow = avgRow(true);

const ADAPTIVE: [number[], Pair][] = [
  [
    [2, 3, 7, 9],
    [3, 4],
  ],
  [
    [1, 2, 5, 5],
    [1, 1],
  ],
  [
    [1, 2, 4, 6],
    [4, 6],
  ],
  [
    [2, 1, 3, 5],
    [5, 7],
  ],
  [
    [0, 2, 4, 4],
    [2, 2],
  ],
];

const adaptiveRow = (back: boolean): OpRow<typeof adaptiveAvgPool2dCore> => ({
  name: back ? 'adaptive_avg_pool2d_backward' : 'adaptive_avg_pool2d',
  kind: 'custom',
  native: { nin: 1, nout: 1, nattr: 0 },
  dtypes: FLOAT_DTYPES,
  fn: back ? adaptiveAvgPool2dBackward : adaptiveAvgPool2dCore,
  grad: (g) => [g],
  cases: (rng: Rng, dtype: DType) =>
    ADAPTIVE.map(([[N, C, H, W], [OH, OW]]) => {
      const w: Win = { N, C, H, W, OH, OW, k: [1, 1], s: [1, 1], p: [0, 0], d: [1, 1] };
      const x = makeInput(rng, back ? [N, C, OH, OW] : [N, C, H, W], dtype, layout(rng));
      const got = back ? adaptiveAvgPool2dBackward(x.t, [H, W]) : adaptiveAvgPool2dCore(x.t, [OH, OW]);
      x.t.dispose();
      return {
        label: `[${N},${C},${H},${W}] -> ${OH}x${OW}`,
        got,
        want: { shape: back ? [N, C, H, W] : [N, C, OH, OW], data: refAvg(x.ref.data, w, null, 0, back) },
        tol: 16,
      };
    }),
  gradSamples: (rng) => [
    back
      ? { label: '5x7 <- 2x3', fn: (g) => adaptiveAvgPool2dBackward(g, [5, 7]), inputs: [gradInput(rng, [1, 2, 2, 3])] }
      : { label: '5x7 -> 2x3', fn: (x) => adaptiveAvgPool2dCore(x, [2, 3]), inputs: [gradInput(rng, [1, 2, 5, 7])] },
  ],
  errors: () => {
    const run = back ? adaptiveAvgPool2dBackward : adaptiveAvgPool2dCore;
    return errorCases([
      ['rank', () => run(f32([3, 4, 4]), [2, 2]), 'ERR_SHAPE'],
      ['size 0', () => run(f32([1, 1, 4, 4]), [0, 2]), 'ERR_ARG'],
    ]);
  },
});

export const adaptiveAvgPool2dRow = adaptiveRow(false);
export const adaptiveAvgPool2dBackwardRow = adaptiveRow(true);
