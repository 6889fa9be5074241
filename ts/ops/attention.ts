/**
 * Scaled-dot-product attention on the fused kernel (native/cpu/attention.cpp): torch's
 * scaled_dot_product_attention semantics (boolean "may attend" or additive masks broadcast to
 * [..., H, Sq, Sk], top-left causal masking, dropout, scale) plus grouped kv heads (H a multiple
 * of Hk: head h reads kv head h / (H / Hk)). Neither pass materialises the Sq x Sk scores; the
 * backward pass recomputes them from q, k and the saved log-sum-exp.
 *
 * Two cases run on matmul/softmax compositions instead, because they need the probabilities as
 * a tensor: an additive mask that itself requires grad, and second-order gradients (createGraph;
 * not available with dropout, whose decisions live only in the kernel).
 */
import { needsGrad, record } from '../autograd/node';
import { gradMode } from '../autograd/grad_mode';
import { arange } from '../creation';
import { runKernel } from '../dispatch';
import { DType, isFloating, promoteTypes } from '../dtype';
import { KilnError } from '../errors';
import { broadcastShapes, contiguousStrides, numelOf, shapeStr, viewStrides } from '../shape';
import { Tensor } from '../tensor';
import { castTo, checkTensor, sumTo } from './kinds';
import { expandRaw } from './movement';
import { OP } from './op_ids.gen';
import { Generator, defaultGenerator, rand } from './random';

export interface SdpaOptions {
  /** Boolean (true = may attend, as torch's SDPA) or additive float mask, broadcast to [..., Sq, Sk]. */
  attnMask?: Tensor | null;
  /** Query i attends keys j <= i (top-left aligned when Sq != Sk, as torch). */
  isCausal?: boolean;
  /** Dropout on the attention probabilities (apply only in training, as torch's callers do). */
  dropoutP?: number;
  /** Defaults to 1 / sqrt(D). */
  scale?: number | null;
  /** Generator for the dropout decisions (the default generator otherwise). */
  generator?: Generator;
}

const OPN = 'scaledDotProductAttention';
const MASK_NONE = 0,
  MASK_BOOL = 1,
  MASK_ADD = 2;

/** The kernel's view of one call: 4-d operands [B, H, S, D] with a contiguous last dim. */
interface Plan {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  mask: Tensor | null;
  maskKind: number;
  lead: number[];
  B: number;
  H: number;
  Hk: number;
  Sq: number;
  Sk: number;
  D: number;
  Dv: number;
  outShape: number[];
  temps: Tensor[];
}

/** `t` seen as [B, ...last three dims]: a view where the strides allow it, else a copy. */
function merged(t: Tensor, B: number, temps: Tensor[], lastContiguous: boolean): Tensor {
  const target = [B, ...t._shape.slice(-3)];
  let x = t;
  const st = viewStrides(x._shape, x._strides, target);
  if (st) x = x._view(target, st, x._offset);
  else {
    x = t.contiguous();
    temps.push(x);
    x = x._view(target, contiguousStrides(target), x._offset);
  }
  temps.push(x);
  if (lastContiguous && x._shape[3] > 1 && x._strides[3] !== 1) {
    x = x.contiguous();
    temps.push(x);
  }
  return x;
}

/** Validates shapes and makes the kernel's operands; q, k, v already share a floating dtype. */
function plan(q: Tensor, k: Tensor, v: Tensor, attnMask: Tensor | null, op = OPN): Plan {
  const nd = Math.max(q.ndim, k.ndim, v.ndim, 3);
  const pad = (t: Tensor): Tensor =>
    t.ndim === nd
      ? t
      : t._view(
          [...new Array<number>(nd - t.ndim).fill(1), ...t._shape],
          [...new Array<number>(nd - t.ndim).fill(0), ...t._strides],
          t._offset,
        );
  const [q3, k3, v3] = [pad(q), pad(k), pad(v)];
  const temps = [q3, k3, v3].filter((t, i) => t !== [q, k, v][i]);
  const dims = (t: Tensor) => t._shape.slice(-3);
  const [H0, Sq, D] = dims(q3),
    [Hk, Sk, Dk] = dims(k3),
    [Hv, Skv, Dv] = dims(v3);
  const fits = `q ${shapeStr(q._shape)}, k ${shapeStr(k._shape)}, v ${shapeStr(v._shape)}`;
  if (Dk !== D) throw new KilnError('ERR_SHAPE', `${op}: q and k head dims differ (${fits})`);
  if (Skv !== Sk || Hv !== Hk)
    throw new KilnError('ERR_SHAPE', `${op}: k and v do not have the same heads and length (${fits})`);
  // One query head broadcasts over the kv heads; otherwise kv heads are shared by groups.
  const H = H0 === 1 ? Math.max(1, Hk) : H0;
  if (Hk === 0 ? H !== 0 : H % Hk !== 0)
    throw new KilnError('ERR_SHAPE', `${op}: ${H0} query heads are not a multiple of ${Hk} key/value heads (${fits})`);
  const lead = broadcastShapes(op, q3._shape.slice(0, -3), k3._shape.slice(0, -3), v3._shape.slice(0, -3));
  const B = numelOf(lead);
  const ex = (t: Tensor, h: number, s: number, d: number) => {
    const e = expandRaw(t, [...lead, h, s, d]);
    temps.push(e);
    return merged(e, B, temps, true);
  };
  const outShape = q.ndim === 2 && k.ndim === 2 && v.ndim === 2 ? [Sq, Dv] : [...lead, H, Sq, Dv];
  const p: Plan = {
    q: ex(q3, H, Sq, D),
    k: ex(k3, Hk, Sk, D),
    v: ex(v3, Hk, Sk, Dv),
    mask: null,
    maskKind: MASK_NONE,
    lead,
    B,
    H,
    Hk,
    Sq,
    Sk,
    D,
    Dv,
    outShape,
    temps,
  };
  if (attnMask) {
    const target = [...lead, H, Sq, Sk];
    const ok =
      attnMask.ndim <= target.length &&
      attnMask._shape.every((s, i) => s === 1 || s === target[target.length - attnMask.ndim + i]);
    if (!ok)
      throw new KilnError(
        'ERR_SHAPE',
        `${op}: attnMask ${shapeStr(attnMask._shape)} does not broadcast to the scores' shape ${shapeStr(target)}`,
      );
    if (attnMask.dtype === 'bool') p.maskKind = MASK_BOOL;
    else if (isFloating(attnMask.dtype)) p.maskKind = MASK_ADD;
    else throw new KilnError('ERR_DTYPE', `${op}: attnMask must be bool or floating, got ${attnMask.dtype}`);
    const m = p.maskKind === MASK_ADD ? castTo(attnMask, q.dtype) : attnMask;
    if (m !== attnMask) temps.push(m);
    const e = expandRaw(m, target);
    temps.push(e);
    p.mask = merged(e, B, temps, false);
  }
  return p;
}

const dispose = (ts: Tensor[]) => ts.forEach((t) => t.dispose());

/** Kernel attributes: scale, causal, mask kind, dropout p, then the generator's seed and offset. */
function attrsOf(p: Plan, scale: number, causal: boolean, dropoutP: number, gen: Generator): number[] {
  const rng = dropoutP > 0 ? gen.take(p.B * p.H * p.Sq * p.Sk) : [0, 0, 0, 0];
  return [scale, causal ? 1 : 0, p.maskKind, dropoutP, ...rng];
}

/**
 * The fused forward on 4-d operands: out [B, H, Sq, Dv] and the row log-sum-exp [B, H, Sq]
 * (in q's dtype, float32 or float64). No autograd.
 */
export function attentionForward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | null,
  attrs: readonly number[],
): { out: Tensor; lse: Tensor } {
  const [B, H, Sq] = q._shape;
  const out = Tensor._empty([B, H, Sq, v._shape[3]], q.dtype, 'attention');
  const lse = Tensor._empty([B, H, Sq], q.dtype, 'attention');
  runKernel(OP.ATTENTION, [out, lse], [q, k, v, mask ?? q], attrs);
  return { out, lse };
}

/**
 * The fused backward on 4-d operands (attrs as the forward's, same generator state): returns
 * [dq, dk, dv], contiguous and shaped like q, k, v. No autograd.
 */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  lse: Tensor,
  dout: Tensor,
  mask: Tensor | null,
  attrs: readonly number[],
): [Tensor, Tensor, Tensor] {
  const dq = Tensor._empty(q._shape.slice(), q.dtype, 'attention_backward');
  const dk = Tensor._empty(k._shape.slice(), q.dtype, 'attention_backward');
  const dv = Tensor._empty(v._shape.slice(), q.dtype, 'attention_backward');
  runKernel(OP.ATTENTION_BACKWARD, [dq, dk, dv], [q, k, v, out, lse, dout, mask ?? q], attrs);
  return [dq, dk, dv];
}

/** k or v with each kv head repeated for the query heads of its group (differentiable). */
function repeatHeads(t: Tensor, H: number): Tensor {
  const nd = t.ndim,
    Hk = t._shape[nd - 3];
  if (nd < 3 || Hk === H || H % Hk !== 0) return t;
  const s = t._shape.slice();
  const e = t.unsqueeze(nd - 2).expand([...s.slice(0, nd - 2), H / Hk, ...s.slice(nd - 2)]);
  return e.reshape([...s.slice(0, nd - 3), H, ...s.slice(nd - 2)]);
}

/** softmax(q kᵀ scale + mask) with ops (differentiable), on q's heads. */
function compositeProbs(q: Tensor, k: Tensor, mask: Tensor | null, causal: boolean, scale: number): Tensor {
  const kr = repeatHeads(k, q.ndim >= 3 ? q._shape[q.ndim - 3] : 1);
  let s = q.matmul(kr.transpose(-1, -2)).mul(scale);
  const Sq = q._shape[q.ndim - 2],
    Sk = k._shape[k.ndim - 2];
  const m = causal
    ? arange(0, Sq, 1, { device: q.device })
        .unsqueeze(1)
        .ge(arange(0, Sk, 1, { device: q.device }).unsqueeze(0))
    : mask;
  if (m) s = m.dtype === 'bool' ? s.maskedFill(m.logicalNot(), -Infinity) : s.add(m);
  return s.softmax(-1);
}

/** The whole attention with ops (used where the probabilities must be a tensor). */
function compositeAttention(q: Tensor, k: Tensor, v: Tensor, o: Required<SdpaOptions>, scale: number): Tensor {
  let p = compositeProbs(q, k, o.attnMask, o.isCausal, scale);
  if (o.dropoutP > 0) {
    const keep = rand(p.shape.slice(), { dtype: p.dtype, generator: o.generator }).ge(o.dropoutP);
    p = p.mul(keep).mul(1 / (1 - o.dropoutP));
  }
  return p.matmul(repeatHeads(v, q.ndim >= 3 ? q._shape[q.ndim - 3] : 1));
}

/** dq, dk, dv with ops, so they can be differentiated again (createGraph). */
function compositeGrads(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  g: Tensor,
  mask: Tensor | null,
  causal: boolean,
  scale: number,
) {
  const H = q.ndim >= 3 ? q._shape[q.ndim - 3] : 1;
  const p = compositeProbs(q, k, mask, causal, scale);
  const kr = repeatHeads(k, H),
    vr = repeatHeads(v, H);
  const dp = g.matmul(vr.transpose(-1, -2));
  const ds = p.mul(dp.sub(dp.mul(p).sum(-1, true)));
  const ungroup = (d: Tensor, t: Tensor): Tensor => {
    if (d.ndim < 3 || t.ndim < 3 || d._shape[d.ndim - 3] === t._shape[t.ndim - 3]) return sumTo(d, t._shape);
    const s = d._shape.slice(),
      Hk = t._shape[t.ndim - 3];
    const r = d.reshape([...s.slice(0, -3), Hk, s[s.length - 3] / Hk, ...s.slice(-2)]).sum(-3);
    return sumTo(r, t._shape);
  };
  return [
    sumTo(ds.matmul(kr).mul(scale), q._shape),
    ungroup(ds.transpose(-1, -2).matmul(q).mul(scale), k),
    ungroup(p.transpose(-1, -2).matmul(g), v),
  ];
}

/**
 * softmax(q kᵀ · scale + mask) v over the last two dims (torch scaled_dot_product_attention),
 * fused: q [..., H, Sq, D], k [..., Hk, Sk, D], v [..., Hk, Sk, Dv] with H a multiple of Hk
 * (grouped-query attention); leading dims broadcast. float16/bfloat16 compute in float32.
 * @example
 * const out = kiln.nn.functional.scaledDotProductAttention(q, k, v, { isCausal: true });
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: SdpaOptions = {}): Tensor {
  checkTensor(q, OPN, 'query');
  checkTensor(k, OPN, 'key');
  checkTensor(v, OPN, 'value');
  const mask = opts.attnMask ?? null;
  if (mask) checkTensor(mask, OPN, 'attnMask');
  if (q.ndim < 2 || k.ndim < 2 || v.ndim < 2)
    throw new KilnError(
      'ERR_SHAPE',
      `${OPN}: q, k, v need [..., S, D], got ${shapeStr(q._shape)}, ${shapeStr(k._shape)}, ${shapeStr(v._shape)}`,
    );
  if (opts.isCausal && mask) throw new KilnError('ERR_ARG', `${OPN}: give attnMask or isCausal, not both`);
  const dropoutP = opts.dropoutP ?? 0;
  if (!(dropoutP >= 0 && dropoutP <= 1))
    throw new KilnError('ERR_ARG', `${OPN}: dropoutP must be in [0, 1], got ${dropoutP}`);
  const dt = promoteTypes(promoteTypes(q.dtype, k.dtype), v.dtype);
  if (!isFloating(dt)) throw new KilnError('ERR_DTYPE', `${OPN}: needs floating q, k, v, got ${dt}`);
  const D = q._shape[q.ndim - 1];
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  if (!Number.isFinite(scale)) throw new KilnError('ERR_ARG', `${OPN}: scale must be finite, got ${scale}`);
  const cdt: DType = dt === 'float64' ? 'float64' : 'float32';
  const qc = castTo(q, cdt),
    kc = castTo(k, cdt),
    vc = castTo(v, cdt);
  const gen = opts.generator ?? defaultGenerator;
  const p = plan(qc, kc, vc, mask);
  const composite =
    dropoutP === 1 || (mask !== null && mask._requiresGrad && isFloating(mask.dtype) && needsGrad([mask]));
  let out: Tensor;
  if (composite) {
    dispose(p.temps);
    const o = { attnMask: mask, isCausal: !!opts.isCausal, dropoutP, scale, generator: gen };
    out = compositeAttention(qc, kc, vc, o, scale);
  } else {
    const causal = !!opts.isCausal;
    const attrs = attrsOf(p, scale, causal, dropoutP, gen);
    const r = attentionForward(p.q, p.k, p.v, p.mask, attrs);
    out = r.out._view(p.outShape, contiguousStrides(p.outShape), 0);
    r.out.dispose();
    const saved = p.mask ? [r.lse, p.mask] : [r.lse];
    out = record(
      'attention',
      out,
      [qc, kc, vc, ...saved],
      (g, c) => {
        const [qi, ki, vi, lse] = c.inputs;
        const m4 = c.inputs[4] ?? null;
        const b = plan(qi, ki, vi, null);
        if (gradMode.enabled) {
          if (dropoutP > 0)
            throw new KilnError('ERR_AUTOGRAD', `${OPN}: second-order gradients through dropout are not supported`);
          dispose(b.temps);
          const m = m4 ? m4.reshape([...b.outShape.slice(0, -1), b.Sk]) : null;
          return [...compositeGrads(qi, ki, vi, g, m, causal, scale), null, null];
        }
        const o4 = c.output!._view(
          [b.B, b.H, b.Sq, b.Dv],
          contiguousStrides([b.B, b.H, b.Sq, b.Dv]),
          c.output!._offset,
        );
        const g4 = merged(g.ndim === 2 ? g.unsqueeze(0) : g, b.B, b.temps, true);
        const [dq, dk, dv] = attentionBackward(b.q, b.k, b.v, o4, lse, g4, m4, attrs);
        o4.dispose();
        dispose(b.temps);
        const back = (d: Tensor, t: Tensor, h: number, s: number, e: number): Tensor =>
          sumTo(d.reshape([...b.lead, h, s, e]), t._shape);
        return [
          back(dq, qi, b.H, b.Sq, b.D),
          back(dk, ki, b.Hk, b.Sk, b.D),
          back(dv, vi, b.Hk, b.Sk, b.Dv),
          null,
          null,
        ];
      },
      {},
      true,
    );
    r.lse.dispose(); // the node keeps its own handles on what it saved
    dispose(p.temps);
  }
  for (const [c, t] of [
    [qc, q],
    [kc, k],
    [vc, v],
  ])
    if (c !== t) c.dispose();
  return dt === cdt ? out : out.to(dt);
}
