/**
 * Attention: scaledDotProductAttention (torch's functional, with masks, causal masking, dropout
 * and scale), MultiheadAttention with PyTorch's parameters (in_proj_weight, in_proj_bias,
 * out_proj), and TransformerEncoderLayer / TransformerEncoder (post- and pre-norm). Attention runs
 * on the fused kernel (ops/attention.ts) unless the caller asks for the attention weights.
 */
import { arange, zeros } from '../../creation';
import { KilnError } from '../../errors';
import { linear } from '../../ops/linear';
import { shapeStr } from '../../shape';
import type { Device } from '../../device';
import type { Tensor } from '../../tensor';
import { ModuleList } from '../containers';
import { constant_, xavierUniform_ } from '../init';
import { Module, Parameter } from '../module';
import { Linear } from './linear';
import { LayerNorm } from './norm';
import { Dropout, dropout } from './embedding';
import { scaledDotProductAttention } from '../../ops/attention';

export { scaledDotProductAttention } from '../../ops/attention';
export type { SdpaOptions } from '../../ops/attention';

/** The [Sq, Sk] causal mask: true where key j <= query i. */
function causalMask(sq: number, sk: number, device: Device): Tensor {
  return arange(0, sq, 1, { device })
    .unsqueeze(1)
    .ge(arange(0, sk, 1, { device }).unsqueeze(0));
}

export interface MhaForwardOptions {
  /** [B, Sk] bool, true where the key is padding (ignored), as torch's key_padding_mask. */
  keyPaddingMask?: Tensor | null;
  /** [Sq, Sk] or [B * heads, Sq, Sk]: bool (true = not allowed, torch's MHA convention) or additive float. */
  attnMask?: Tensor | null;
  needWeights?: boolean;
  averageAttnWeights?: boolean;
  isCausal?: boolean;
}

/**
 * MHA's masks (bool: true = not allowed; or additive) and causal flag as one SDPA mask: a causal
 * flag alone stays a flag; boolean masks combine into "may attend"; any float mask makes the
 * combination additive. Broadcast dims stay broadcast.
 */
function sdpaMask(
  am: Tensor | null,
  kp: Tensor | null,
  causal: boolean,
  Sq: number,
  Sk: number,
): { attnMask: Tensor | null; isCausal: boolean } {
  if (!am && !kp) return { attnMask: null, isCausal: causal };
  const parts = [am, kp, causal ? causalMask(Sq, Sk, (am ?? kp)!.device).logicalNot() : null].filter(
    (m): m is Tensor => m !== null,
  );
  if (parts.every((m) => m.dtype === 'bool')) {
    const blocked = parts.reduce((a, m) => a.logicalOr(m));
    return { attnMask: blocked.logicalNot(), isCausal: false };
  }
  const additive = parts.map((m) =>
    m.dtype === 'bool' ? zeros(m.shape.slice(), { device: m.device }).maskedFill(m, -Infinity) : m,
  );
  return { attnMask: additive.reduce((a, m) => a.add(m)), isCausal: false };
}

/** Multi-head attention with PyTorch's parameters and conventions (torch.nn.MultiheadAttention). */
export class MultiheadAttention extends Module {
  readonly headDim: number;
  inProjWeight: Tensor;
  inProjBias: Tensor | null;
  outProj: Linear;
  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    readonly opts: { dropout?: number; bias?: boolean; batchFirst?: boolean } = {},
  ) {
    super();
    if (embedDim % numHeads !== 0)
      throw new KilnError(
        'ERR_ARG',
        `MultiheadAttention: embedDim ${embedDim} is not divisible by numHeads ${numHeads}`,
      );
    this.headDim = embedDim / numHeads;
    const bias = opts.bias ?? true;
    this.inProjWeight = new Parameter(xavierUniform_(zeros([3 * embedDim, embedDim])));
    this.inProjBias = bias ? new Parameter(zeros([3 * embedDim])) : null;
    this.outProj = new Linear(embedDim, embedDim, { bias });
    if (this.outProj.bias) constant_(this.outProj.bias, 0);
  }

  /** Returns [output, weights (or null)]; shapes follow batchFirst like PyTorch's. */
  forward(query: Tensor, key: Tensor, value: Tensor, o: MhaForwardOptions = {}): [Tensor, Tensor | null] {
    const bf = this.opts.batchFirst ?? false;
    const toBSE = (t: Tensor) => (t.ndim === 2 ? t.unsqueeze(0) : bf ? t : t.transpose(0, 1));
    const unbatched = query.ndim === 2;
    const q0 = toBSE(query),
      k0 = toBSE(key),
      v0 = toBSE(value);
    const [B, Sq, E] = q0.shape;
    const Sk = k0.shape[1];
    if (E !== this.embedDim)
      throw new KilnError('ERR_SHAPE', `MultiheadAttention: expected ${this.embedDim} features, got ${E}`);
    const H = this.numHeads,
      Dh = this.headDim;
    const w = this.inProjWeight,
      b = this.inProjBias;
    const proj = (x: Tensor, i: number) => linear(x, w.narrow(0, i * E, E), b ? b.narrow(0, i * E, E) : null);
    const split = (x: Tensor, S: number) => x.reshape([B, S, H, Dh]).transpose(1, 2);
    const q = split(proj(q0, 0), Sq),
      k = split(proj(k0, 1), Sk),
      v = split(proj(v0, 2), Sk);
    if (o.keyPaddingMask && o.keyPaddingMask.shape.join() !== `${B},${Sk}`)
      throw new KilnError(
        'ERR_SHAPE',
        `MultiheadAttention: keyPaddingMask must be [${B}, ${Sk}], got ${shapeStr(o.keyPaddingMask.shape)}`,
      );
    const am = o.attnMask ? (o.attnMask.ndim === 3 ? o.attnMask.reshape([B, H, Sq, Sk]) : o.attnMask) : null;
    const kp = o.keyPaddingMask ? o.keyPaddingMask.reshape([B, 1, 1, Sk]) : null;
    const pd = this.training ? (this.opts.dropout ?? 0) : 0;
    const needWeights = o.needWeights ?? true;
    let heads: Tensor;
    let p: Tensor | null = null;
    if (needWeights) {
      // The weights are asked for: scores and probabilities as tensors.
      let s = q.matmul(k.transpose(-1, -2)).mul(1 / Math.sqrt(Dh)); // [B, H, Sq, Sk]
      if (o.isCausal) s = s.maskedFill(causalMask(Sq, Sk, s.device).logicalNot(), -Infinity);
      for (const m of [am, kp]) if (m) s = m.dtype === 'bool' ? s.maskedFill(m, -Infinity) : s.add(m);
      p = s.softmax(-1);
      heads = (pd > 0 ? dropout(p, pd, true) : p).matmul(v);
    } else {
      heads = scaledDotProductAttention(q, k, v, { ...sdpaMask(am, kp, o.isCausal ?? false, Sq, Sk), dropoutP: pd });
    }
    let out = this.outProj.forward(heads.transpose(1, 2).reshape([B, Sq, E]));
    if (unbatched) out = out.squeeze(0);
    else if (!bf) out = out.transpose(0, 1);
    let weights: Tensor | null = null;
    if (p) {
      weights = (o.averageAttnWeights ?? true) ? p.mean(1) : p;
      if (unbatched) weights = weights.squeeze(0);
    }
    return [out, weights];
  }
  override extraRepr(): string {
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}`;
  }
}

export interface EncoderLayerOptions {
  dimFeedforward?: number;
  dropout?: number;
  activation?: 'relu' | 'gelu';
  layerNormEps?: number;
  batchFirst?: boolean;
  normFirst?: boolean;
  bias?: boolean;
}

/**
 * One Transformer encoder block (torch.nn.TransformerEncoderLayer): self-attention and a
 * feed-forward network, each with a residual and LayerNorm, after (default) or before (normFirst).
 */
export class TransformerEncoderLayer extends Module {
  selfAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  readonly normFirst: boolean;
  constructor(
    readonly dModel: number,
    readonly nhead: number,
    opts: EncoderLayerOptions = {},
  ) {
    super();
    const ff = opts.dimFeedforward ?? 2048,
      p = opts.dropout ?? 0.1,
      eps = opts.layerNormEps ?? 1e-5,
      bias = opts.bias ?? true;
    this.selfAttn = new MultiheadAttention(dModel, nhead, { dropout: p, bias, batchFirst: opts.batchFirst ?? false });
    this.linear1 = new Linear(dModel, ff, { bias, activation: opts.activation ?? 'relu' });
    this.dropout = new Dropout(p);
    this.linear2 = new Linear(ff, dModel, { bias });
    this.norm1 = new LayerNorm(dModel, eps, { bias });
    this.norm2 = new LayerNorm(dModel, eps, { bias });
    this.dropout1 = new Dropout(p);
    this.dropout2 = new Dropout(p);
    this.normFirst = opts.normFirst ?? false;
  }
  private sa(x: Tensor, o: { srcMask?: Tensor | null; srcKeyPaddingMask?: Tensor | null; isCausal?: boolean }): Tensor {
    const [y] = this.selfAttn.forward(x, x, x, {
      attnMask: o.srcMask,
      keyPaddingMask: o.srcKeyPaddingMask,
      isCausal: o.isCausal,
      needWeights: false,
    });
    return this.dropout1.forward(y);
  }
  private ff(x: Tensor): Tensor {
    return this.dropout2.forward(this.linear2.forward(this.dropout.forward(this.linear1.forward(x))));
  }
  forward(
    src: Tensor,
    o: { srcMask?: Tensor | null; srcKeyPaddingMask?: Tensor | null; isCausal?: boolean } = {},
  ): Tensor {
    let x = src;
    if (this.normFirst) {
      x = x.add(this.sa(this.norm1.forward(x), o));
      return x.add(this.ff(this.norm2.forward(x)));
    }
    x = this.norm1.forward(x.add(this.sa(x, o)));
    return this.norm2.forward(x.add(this.ff(x)));
  }
}

/** A stack of numLayers independent copies of `layer`, then an optional norm (torch.nn.TransformerEncoder). */
export class TransformerEncoder extends Module {
  layers: ModuleList;
  norm: Module | null;
  constructor(
    layer: TransformerEncoderLayer,
    readonly numLayers: number,
    opts: { norm?: Module | null } = {},
  ) {
    super();
    this.layers = new ModuleList(Array.from({ length: numLayers }, () => layer.clone()));
    this.norm = opts.norm ?? null;
  }
  forward(
    src: Tensor,
    o: { mask?: Tensor | null; srcKeyPaddingMask?: Tensor | null; isCausal?: boolean } = {},
  ): Tensor {
    let x = src;
    for (const l of this.layers)
      x = (l as TransformerEncoderLayer).forward(x, {
        srcMask: o.mask,
        srcKeyPaddingMask: o.srcKeyPaddingMask,
        isCausal: o.isCausal,
      });
    return this.norm ? (this.norm.forward(x) as Tensor) : x;
  }
}
