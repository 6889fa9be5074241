/**
 * Op-table rows of the fused attention (ops/attention.ts): plain float64 references of the
 * forward (out and log-sum-exp) and backward passes, conformance cases on odd shapes, grouped kv
 * heads, every mask kind and broadcast, finite-difference gradient samples and error cases.
 */
import { fromNumbers, zeros } from '../creation';
import { DType, FLOAT_DTYPES } from '../dtype';
import { manualSeed } from './random';
import type { Tensor } from '../tensor';
import { attentionBackward, attentionForward, scaledDotProductAttention, SdpaOptions } from './attention';
import type { Case, ErrorCase, OpRow, RefValue, Rng } from './row';
import { broadcastAt, makeInput, randInt } from './samples';

/** One reference problem: [B, H, Sq, D] q, [B, Hk, Sk, D] k, [B, Hk, Sk, Dv] v, row-major. */
export interface RefProblem {
  B: number;
  H: number;
  Hk: number;
  Sq: number;
  Sk: number;
  D: number;
  Dv: number;
  q: number[];
  k: number[];
  v: number[];
  /** Broadcastable to [B, H, Sq, Sk]: bool (1 = attend) or additive. */
  mask: RefValue | null;
  maskBool: boolean;
  causal: boolean;
  scale: number;
}

/** Scores s[b, h, i, :] = q k^T scale + mask in float64 (-inf where masked). */
function refScores(p: RefProblem, b: number, h: number, i: number): number[] {
  const hk = Math.floor(h / (p.H / p.Hk));
  const s = new Array<number>(p.Sk);
  for (let j = 0; j < p.Sk; j++) {
    let x = 0;
    for (let d = 0; d < p.D; d++)
      x += p.q[((b * p.H + h) * p.Sq + i) * p.D + d] * p.k[((b * p.Hk + hk) * p.Sk + j) * p.D + d];
    x *= p.scale;
    if (p.causal && j > i) x = -Infinity;
    if (p.mask) {
      const m = broadcastAt(p.mask, [b, h, i, j]);
      x = p.maskBool ? (m ? x : -Infinity) : x + m;
    }
    s[j] = x;
  }
  return s;
}

/** Row softmax of the scores; a fully masked row is NaN (0/0), as softmax gives. */
function refProbs(p: RefProblem, b: number, h: number, i: number): number[] {
  const s = refScores(p, b, h, i);
  const mx = Math.max(...s);
  const e = s.map((x) => Math.exp(x - mx));
  const sum = e.reduce((a, c) => a + c, 0);
  return e.map((x) => x / sum);
}

const vAt = (p: RefProblem, b: number, h: number, j: number, e: number) =>
  p.v[((b * p.Hk + Math.floor(h / (p.H / p.Hk))) * p.Sk + j) * p.Dv + e];

/** out [B, H, Sq, Dv] (zeros when Sk = 0) and lse [B, H, Sq] in float64. */
export function refAttention(p: RefProblem): { out: number[]; lse: number[] } {
  const out: number[] = [],
    lse: number[] = [];
  for (let b = 0; b < p.B; b++)
    for (let h = 0; h < p.H; h++)
      for (let i = 0; i < p.Sq; i++) {
        const P = refProbs(p, b, h, i);
        for (let e = 0; e < p.Dv; e++) {
          let o = 0;
          for (let j = 0; j < p.Sk; j++) o += P[j] * vAt(p, b, h, j, e);
          out.push(o);
        }
        const s = refScores(p, b, h, i);
        const mx = Math.max(-Infinity, ...s);
        lse.push(mx === -Infinity ? -Infinity : mx + Math.log(s.reduce((a, x) => a + Math.exp(x - mx), 0)));
      }
  return { out, lse };
}

/** dq, dk, dv in float64 for the upstream gradient dout [B, H, Sq, Dv]. */
export function refAttentionBackward(p: RefProblem, dout: number[]): { dq: number[]; dk: number[]; dv: number[] } {
  const dq = new Array<number>(p.B * p.H * p.Sq * p.D).fill(0);
  const dk = new Array<number>(p.B * p.Hk * p.Sk * p.D).fill(0);
  const dv = new Array<number>(p.B * p.Hk * p.Sk * p.Dv).fill(0);
  for (let b = 0; b < p.B; b++)
    for (let h = 0; h < p.H; h++) {
      const hk = Math.floor(h / (p.H / p.Hk));
      for (let i = 0; i < p.Sq; i++) {
        const P = refProbs(p, b, h, i);
        const go = (e: number) => dout[((b * p.H + h) * p.Sq + i) * p.Dv + e];
        const dP = P.map((_, j) => {
          let x = 0;
          for (let e = 0; e < p.Dv; e++) x += go(e) * vAt(p, b, h, j, e);
          return x;
        });
        const dot = P.reduce((a, pj, j) => a + pj * dP[j], 0);
        // A fully masked row (NaN probabilities) reaches dv only, as masked_fill's gradient gives.
        const dead = P.length > 0 && Number.isNaN(P[0]);
        for (let j = 0; j < p.Sk; j++) {
          const ds = dead ? 0 : P[j] * (dP[j] - dot) * p.scale;
          for (let e = 0; e < p.Dv; e++) dv[((b * p.Hk + hk) * p.Sk + j) * p.Dv + e] += P[j] * go(e);
          for (let d = 0; d < p.D; d++) {
            dq[((b * p.H + h) * p.Sq + i) * p.D + d] += ds * p.k[((b * p.Hk + hk) * p.Sk + j) * p.D + d];
            dk[((b * p.Hk + hk) * p.Sk + j) * p.D + d] += ds * p.q[((b * p.H + h) * p.Sq + i) * p.D + d];
          }
        }
      }
    }
  return { dq, dk, dv };
}

type MaskSpec = 'none' | 'causal' | 'bool' | 'add' | 'bool-bcast' | 'add-bcast';

interface Sample {
  label: string;
  problem: RefProblem;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  opts: SdpaOptions;
  dispose: () => void;
}

/** A random problem of the given sizes with its kiln tensors (q in a random layout). */
function sample(
  rng: Rng,
  dtype: DType,
  dims: [number, number, number, number, number, number, number],
  maskSpec: MaskSpec,
): Sample {
  const [B, H, Hk, Sq, Sk, D, Dv] = dims;
  const q = makeInput(rng, [B, H, Sq, D], dtype, rng() < 0.5 ? 'contiguous' : 'transposed', [-1.5, 1.5]);
  const k = makeInput(rng, [B, Hk, Sk, D], dtype, rng() < 0.5 ? 'contiguous' : 'offset', [-1.5, 1.5]);
  const v = makeInput(rng, [B, Hk, Sk, Dv], dtype, rng() < 0.5 ? 'contiguous' : 'strided', [-2, 2]);
  const bcast = maskSpec.endsWith('bcast');
  const maskShape = bcast
    ? [B, 1, Sq, Sk].map((s, i) => (i === 0 && rng() < 0.5 ? 1 : s)).slice(rng() < 0.5 ? 1 : 0)
    : [B, H, Sq, Sk];
  let mask: ReturnType<typeof makeInput> | null = null;
  const isBool = maskSpec.startsWith('bool');
  if (isBool) {
    mask = makeInput(rng, maskShape, 'bool');
    // keep the diagonal attendable so few rows are fully masked
    mask.t.dispose();
    const data = mask.ref.data.map((x, idx) => (idx % (Sk + 1) === 0 ? 1 : rng() < 0.75 ? 1 : 0));
    mask = { t: fromNumbers(data, maskShape, 'bool'), ref: { shape: maskShape, data } };
  } else if (maskSpec.startsWith('add')) mask = makeInput(rng, maskShape, dtype, 'contiguous', [-2, 1]);
  const problem: RefProblem = {
    B,
    H,
    Hk,
    Sq,
    Sk,
    D,
    Dv,
    q: q.ref.data,
    k: k.ref.data,
    v: v.ref.data,
    mask: mask ? mask.ref : null,
    maskBool: isBool,
    causal: maskSpec === 'causal',
    scale: rng() < 0.3 ? 0.37 : 1 / Math.sqrt(D),
  };
  return {
    label: `[${B},${H}/${Hk},${Sq}x${Sk},${D}->${Dv}] ${maskSpec}${bcast ? ` ${JSON.stringify(maskShape)}` : ''}`,
    problem,
    q: q.t,
    k: k.t,
    v: v.t,
    opts: { attnMask: mask?.t ?? null, isCausal: problem.causal, scale: problem.scale },
    dispose: () => [q.t, k.t, v.t, mask?.t].forEach((t) => t?.dispose()),
  };
}

type Dims = [number, number, number, number, number, number, number];
const FIXED: [Dims, MaskSpec][] = [
  [[1, 1, 1, 1, 1, 1, 1], 'none'],
  [[2, 2, 2, 5, 5, 4, 4], 'causal'],
  [[1, 4, 2, 7, 13, 5, 3], 'none'],
  [[2, 3, 1, 9, 6, 8, 8], 'causal'],
  [[1, 2, 2, 17, 33, 9, 11], 'bool'],
  [[2, 2, 1, 6, 10, 7, 5], 'add'],
  [[2, 4, 2, 11, 19, 16, 16], 'bool-bcast'],
  [[2, 2, 2, 13, 7, 3, 6], 'add-bcast'],
  [[1, 1, 1, 70, 130, 33, 17], 'causal'],
  [[1, 2, 1, 1000, 3, 1, 1], 'none'],
  [[1, 1, 1, 3, 1000, 2, 3], 'bool-bcast'],
  [[0, 2, 1, 3, 4, 2, 2], 'none'],
  [[1, 2, 2, 0, 4, 2, 2], 'causal'],
  [[1, 1, 1, 3, 0, 2, 2], 'none'],
];

function problems(rng: Rng): [Dims, MaskSpec][] {
  const out = FIXED.slice();
  const specs: MaskSpec[] = ['none', 'causal', 'bool', 'add', 'bool-bcast', 'add-bcast'];
  for (let n = 0; n < 4; n++) {
    const Hk = randInt(rng, 1, 3);
    out.push([
      [
        randInt(rng, 1, 2),
        Hk * randInt(rng, 1, 3),
        Hk,
        randInt(rng, 1, 90),
        randInt(rng, 1, 90),
        randInt(rng, 1, 70),
        randInt(rng, 1, 40),
      ],
      specs[randInt(rng, 0, specs.length - 1)],
    ]);
  }
  return out;
}

/** Tolerance in units of the dtype's epsilon: rounding grows with the dot lengths. */
const tolFor = (d: Dims) => 8 * (d[5] + d[6] + Math.min(d[4], 200) + 8);

export const attentionRow: OpRow<typeof scaledDotProductAttention> = {
  name: 'attention',
  kind: 'custom',
  native: { nin: 4, nout: 2, nattr: 8 },
  dtypes: FLOAT_DTYPES,
  fn: scaledDotProductAttention,
  grad: (g) => [g, g, g],
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const [dims, spec] of problems(rng)) {
      if (dtype !== 'float32' && dtype !== 'float64' && dims[3] * dims[4] > 2000) continue;
      const s = sample(rng, dtype, dims, spec);
      const want = refAttention(s.problem);
      const [B, H, , Sq, , , Dv] = dims;
      out.push({
        label: s.label,
        got: scaledDotProductAttention(s.q, s.k, s.v, s.opts),
        want: { shape: [B, H, Sq, Dv], data: want.out },
        tol: tolFor(dims),
      });
      if (dtype === 'float32' || dtype === 'float64') {
        const cq = s.q.contiguous(),
          ck = s.k.contiguous(),
          cv = s.v.contiguous();
        const m = s.opts.attnMask
          ? s.opts.attnMask.to(s.opts.attnMask.dtype === 'bool' ? 'bool' : dtype).expand([B, H, Sq, dims[4]])
          : null;
        const r = attentionForward(cq, ck, cv, m, [
          s.problem.scale,
          s.problem.causal ? 1 : 0,
          m ? (m.dtype === 'bool' ? 1 : 2) : 0,
          0,
          0,
          0,
          0,
          0,
        ]);
        out.push({
          label: `${s.label} lse`,
          got: r.lse,
          want: { shape: [B, H, Sq], data: want.lse },
          tol: tolFor(dims),
        });
        r.out.dispose();
        [cq, ck, cv, m].forEach((t) => t?.dispose());
      }
      s.dispose();
    }
    // leading dims and 2-d operands
    const q2 = makeInput(rng, [5, 3], dtype),
      k2 = makeInput(rng, [4, 3], dtype),
      v2 = makeInput(rng, [4, 2], dtype);
    const p2: RefProblem = {
      B: 1,
      H: 1,
      Hk: 1,
      Sq: 5,
      Sk: 4,
      D: 3,
      Dv: 2,
      q: q2.ref.data,
      k: k2.ref.data,
      v: v2.ref.data,
      mask: null,
      maskBool: false,
      causal: false,
      scale: 1 / Math.sqrt(3),
    };
    out.push({
      label: '2-d operands',
      got: scaledDotProductAttention(q2.t, k2.t, v2.t),
      want: { shape: [5, 2], data: refAttention(p2).out },
      tol: 64,
    });
    const q5 = makeInput(rng, [2, 3, 2, 4, 5], dtype),
      k5 = makeInput(rng, [3, 1, 6, 5], dtype),
      v5 = makeInput(rng, [3, 1, 6, 3], dtype);
    const k5b = Array.from({ length: 2 }, () => k5.ref.data).flat(),
      v5b = Array.from({ length: 2 }, () => v5.ref.data).flat();
    const p5: RefProblem = {
      B: 6,
      H: 2,
      Hk: 1,
      Sq: 4,
      Sk: 6,
      D: 5,
      Dv: 3,
      q: q5.ref.data,
      k: k5b,
      v: v5b,
      mask: null,
      maskBool: false,
      causal: true,
      scale: 0.5,
    };
    out.push({
      label: 'leading dims broadcast, one kv head',
      got: scaledDotProductAttention(q5.t, k5.t, v5.t, { isCausal: true, scale: 0.5 }),
      want: { shape: [2, 3, 2, 4, 3], data: refAttention(p5).out },
      tol: 96,
    });
    [q2, k2, v2, q5, k5, v5].forEach((x) => x.t.dispose());
    return out;
  },
  gradSamples: (rng) => {
    const f = (s: number[], lo = -1.2, hi = 1.2) =>
      makeInput(rng, s, 'float64', 'contiguous', [lo, hi]).t.requiresGrad_();
    const bmask = fromNumbers([1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1], [3, 5], 'bool');
    const amask = makeInput(rng, [1, 2, 1, 5], 'float64').t;
    return [
      {
        label: 'plain',
        fn: (q, k, v) => scaledDotProductAttention(q, k, v),
        inputs: [f([1, 2, 3, 4]), f([1, 2, 5, 4]), f([1, 2, 5, 3])],
      },
      {
        label: 'causal Sq > Sk, GQA',
        fn: (q, k, v) => scaledDotProductAttention(q, k, v, { isCausal: true }),
        inputs: [f([2, 4, 6, 3]), f([2, 2, 4, 3]), f([2, 2, 4, 2])],
      },
      {
        label: 'bool mask broadcast',
        fn: (q, k, v) => scaledDotProductAttention(q, k, v, { attnMask: bmask, scale: 0.7 }),
        inputs: [f([2, 3, 4]), f([2, 5, 4]), f([2, 5, 2])],
      },
      {
        label: 'additive mask',
        fn: (q, k, v) => scaledDotProductAttention(q, k, v, { attnMask: amask }),
        inputs: [f([2, 2, 3, 2]), f([2, 2, 5, 2]), f([2, 2, 5, 3])],
      },
      {
        label: 'additive mask with its gradient',
        fn: (q, k, v, m) => scaledDotProductAttention(q, k, v, { attnMask: m }),
        inputs: [f([1, 2, 3, 2]), f([1, 2, 5, 2]), f([1, 2, 5, 3]), f([2, 1, 5])],
      },
      {
        label: 'dropout (same seed each call)',
        fn: (q, k, v) => {
          manualSeed(11);
          return scaledDotProductAttention(q, k, v, { dropoutP: 0.3 });
        },
        inputs: [f([1, 2, 4, 3]), f([1, 1, 6, 3]), f([1, 1, 6, 2])],
      },
      {
        label: 'long keys, D = 1',
        fn: (q, k, v) => scaledDotProductAttention(q, k, v),
        inputs: [f([1, 2, 1]), f([1, 40, 1]), f([1, 40, 2])],
      },
    ];
  },
  errors: (): ErrorCase[] => {
    const t = (s: number[], dtype: DType = 'float32') => zeros(s, { dtype });
    return [
      {
        label: 'head dims differ',
        run: () => scaledDotProductAttention(t([2, 3, 4]), t([2, 5, 3]), t([2, 5, 4])),
        code: 'ERR_SHAPE',
      },
      {
        label: 'k and v lengths differ',
        run: () => scaledDotProductAttention(t([2, 3, 4]), t([2, 5, 4]), t([2, 6, 4])),
        code: 'ERR_SHAPE',
      },
      {
        label: 'H not a multiple of Hk',
        run: () => scaledDotProductAttention(t([1, 3, 2, 4]), t([1, 2, 2, 4]), t([1, 2, 2, 4])),
        code: 'ERR_SHAPE',
      },
      {
        label: 'mask does not broadcast',
        run: () => scaledDotProductAttention(t([2, 3, 4]), t([2, 5, 4]), t([2, 5, 4]), { attnMask: t([3, 4], 'bool') }),
        code: 'ERR_SHAPE',
      },
      {
        label: 'mask and isCausal',
        run: () =>
          scaledDotProductAttention(t([3, 4]), t([5, 4]), t([5, 4]), { attnMask: t([3, 5], 'bool'), isCausal: true }),
        code: 'ERR_ARG',
      },
      { label: 'rank 1', run: () => scaledDotProductAttention(t([4]), t([5, 4]), t([5, 4])), code: 'ERR_SHAPE' },
      {
        label: 'integer q',
        run: () => scaledDotProductAttention(t([3, 4], 'int32'), t([5, 4], 'int32'), t([5, 4], 'int32')),
        code: 'ERR_DTYPE',
      },
      {
        label: 'integer mask',
        run: () => scaledDotProductAttention(t([3, 4]), t([5, 4]), t([5, 4]), { attnMask: t([3, 5], 'int64') }),
        code: 'ERR_DTYPE',
      },
      {
        label: 'dropoutP > 1',
        run: () => scaledDotProductAttention(t([3, 4]), t([5, 4]), t([5, 4]), { dropoutP: 1.5 }),
        code: 'ERR_ARG',
      },
    ];
  },
};

export const attentionBackwardRow: OpRow<typeof attentionBackward> = {
  name: 'attention_backward',
  kind: 'custom',
  native: { nin: 7, nout: 3, nattr: 8 },
  dtypes: ['float32', 'float64'],
  fn: attentionBackward,
  grad: {
    nondiff:
      "the fused backward kernel; attention's second-order gradients are written with matmul/softmax ops (ops/attention.ts), so nothing differentiates this kernel",
  },
  cases: (rng, dtype) => {
    const out: Case[] = [];
    for (const [dims, spec] of problems(rng)) {
      const s = sample(rng, dtype, dims, spec);
      const [B, H, Hk, Sq, Sk, D, Dv] = dims;
      const cq = s.q.contiguous(),
        ck = s.k.contiguous(),
        cv = s.v.contiguous();
      const m = s.opts.attnMask
        ? s.opts.attnMask.to(s.opts.attnMask.dtype === 'bool' ? 'bool' : dtype).expand([B, H, Sq, Sk])
        : null;
      const attrs = [s.problem.scale, s.problem.causal ? 1 : 0, m ? (m.dtype === 'bool' ? 1 : 2) : 0, 0, 0, 0, 0, 0];
      const f = attentionForward(cq, ck, cv, m, attrs);
      const go = makeInput(rng, [B, H, Sq, Dv], dtype, rng() < 0.5 ? 'contiguous' : 'offset', [-1, 1]);
      const [dq, dk, dv] = attentionBackward(cq, ck, cv, f.out, f.lse, go.t, m, attrs);
      const want = refAttentionBackward(s.problem, go.ref.data);
      const tol = 2 * tolFor(dims) + 16 * Sq;
      out.push({ label: `${s.label} dq`, got: dq, want: { shape: [B, H, Sq, D], data: want.dq }, tol });
      out.push({ label: `${s.label} dk`, got: dk, want: { shape: [B, Hk, Sk, D], data: want.dk }, tol });
      out.push({ label: `${s.label} dv`, got: dv, want: { shape: [B, Hk, Sk, Dv], data: want.dv }, tol });
      [cq, ck, cv, m, f.out, f.lse, go.t].forEach((t) => t?.dispose());
      s.dispose();
    }
    return out;
  },
  gradSamples: () => [],
  // The native kernel's own checks, for callers that skip scaledDotProductAttention's.
  errors: (): ErrorCase[] => {
    const t = (s: number[], dtype: DType = 'float32') => zeros(s, { dtype });
    const attrs = [0.5, 0, 0, 0, 0, 0, 0, 0];
    const call = (o: { q?: Tensor; k?: Tensor; dout?: Tensor; lse?: Tensor; attrs?: number[] }) => () =>
      attentionBackward(
        o.q ?? t([1, 2, 3, 4]),
        o.k ?? t([1, 2, 5, 4]),
        t([1, 2, 5, 4]),
        t([1, 2, 3, 4]),
        o.lse ?? t([1, 2, 3]),
        o.dout ?? t([1, 2, 3, 4]),
        null,
        o.attrs ?? attrs,
      );
    return [
      { label: 'dout shape', run: call({ dout: t([1, 2, 3, 5]) }), code: 'ERR_SHAPE' },
      { label: 'lse shape', run: call({ lse: t([1, 2, 4]) }), code: 'ERR_SHAPE' },
      { label: 'kv heads do not divide', run: call({ q: t([1, 3, 3, 4]) }), code: 'ERR_SHAPE' },
      { label: 'dtypes differ', run: call({ k: t([1, 2, 5, 4], 'float64') }), code: 'ERR_DTYPE' },
      { label: 'q last dim strided', run: call({ q: t([1, 2, 4, 3]).transpose(2, 3) }), code: 'ERR_ARG' },
      { label: 'dropout p = 1', run: call({ attrs: [0.5, 0, 0, 1, 0, 0, 0, 0] }), code: 'ERR_ARG' },
      { label: 'mask kind without a mask', run: call({ attrs: [0.5, 0, 1, 0, 0, 0, 0, 0] }), code: 'ERR_SHAPE' },
    ];
  },
};
