/**
 * The decoder half of the Transformer and the whole model: TransformerDecoderLayer (self-attention,
 * cross-attention over the encoder's memory and a feed-forward network, post- or pre-norm),
 * TransformerDecoder (a stack of copies with an optional final norm) and Transformer (encoder +
 * decoder with final LayerNorms), as torch.nn has them (1.13+ semantics). Composites of
 * MultiheadAttention, Linear and LayerNorm; property paths give PyTorch's state-dict keys.
 */
import { full } from '../../creation';
import type { DeviceLike } from '../../device';
import { KilnError } from '../../errors';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import type { DType } from '../../dtype';
import { ModuleList } from '../containers';
import { xavierUniform_ } from '../init';
import { Module } from '../module';
import { MultiheadAttention, TransformerEncoder, TransformerEncoderLayer } from './attention';
import type { EncoderLayerOptions } from './attention';
import { Dropout } from './embedding';
import { Linear } from './linear';
import { LayerNorm } from './norm';

/** Options of TransformerDecoderLayer: the encoder layer's (torch's keyword arguments, camelCase). */
export type DecoderLayerOptions = EncoderLayerOptions;

/**
 * Masks of a decoder forward, as torch's keyword arguments. Attention masks are [T, T] (tgtMask)
 * or [T, S] (memoryMask), or [B * nhead, T, ·]: bool (true = not allowed) or additive float. Key
 * padding masks are bool [B, T] / [B, S], true where the position is padding. tgtIsCausal and
 * memoryIsCausal apply a causal mask (kiln's MultiheadAttention reads isCausal as a mask, so it
 * may be given without tgtMask).
 */
export interface DecoderForwardOptions {
  tgtMask?: Tensor | null;
  memoryMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
  memoryKeyPaddingMask?: Tensor | null;
  tgtIsCausal?: boolean;
  memoryIsCausal?: boolean;
}

const dims = (t: Tensor) => shapeStr(t.shape);

/**
 * Checks tgt, memory and the masks against each other (torch raises on these too) and returns
 * the key padding masks in the [B, ·] form MultiheadAttention takes (unbatched [T] -> [1, T]).
 */
function checkDecoderInputs(
  who: string,
  tgt: Tensor,
  memory: Tensor,
  o: DecoderForwardOptions,
  dModel: number,
  nhead: number,
  batchFirst: boolean,
): { tgtPad: Tensor | null; memPad: Tensor | null } {
  const bad = (msg: string) => new KilnError('ERR_SHAPE', `${who}: ${msg}`);
  if (tgt.ndim !== 2 && tgt.ndim !== 3) throw bad(`tgt must be 2-D or 3-D, got ${dims(tgt)}`);
  if (memory.ndim !== tgt.ndim)
    throw bad(`tgt ${dims(tgt)} and memory ${dims(memory)} must both be batched (3-D) or both unbatched (2-D)`);
  for (const [n, t] of [
    ['tgt', tgt],
    ['memory', memory],
  ] as const)
    if (t.shape[t.ndim - 1] !== dModel) throw bad(`${n} ${dims(t)} must have ${dModel} features (dModel)`);
  const batched = tgt.ndim === 3;
  const seqDim = batched && batchFirst ? 1 : 0;
  const B = batched ? tgt.shape[batchFirst ? 0 : 1] : 1;
  if (batched && memory.shape[batchFirst ? 0 : 1] !== B)
    throw bad(`tgt ${dims(tgt)} and memory ${dims(memory)} have different batch sizes (batchFirst ${batchFirst})`);
  const T = tgt.shape[seqDim],
    S = memory.shape[seqDim];
  const attn = (n: string, m: Tensor | null | undefined, Sk: number) => {
    if (!m) return;
    const ok2 = m.ndim === 2 && m.shape[0] === T && m.shape[1] === Sk;
    const ok3 = m.ndim === 3 && m.shape[0] === B * nhead && m.shape[1] === T && m.shape[2] === Sk;
    if (!ok2 && !ok3) throw bad(`${n} must be [${T}, ${Sk}] or [${B * nhead}, ${T}, ${Sk}], got ${dims(m)}`);
  };
  attn('tgtMask', o.tgtMask, T);
  attn('memoryMask', o.memoryMask, S);
  const pad = (n: string, m: Tensor | null | undefined, L: number): Tensor | null => {
    if (!m) return null;
    if (!batched && m.ndim === 1 && m.shape[0] === L) return m.unsqueeze(0);
    if (m.ndim !== 2 || m.shape[0] !== B || m.shape[1] !== L)
      throw bad(`${n} must be [${batched ? `${B}, ` : ''}${L}], got ${dims(m)}`);
    return m;
  };
  return {
    tgtPad: pad('tgtKeyPaddingMask', o.tgtKeyPaddingMask, T),
    memPad: pad('memoryKeyPaddingMask', o.memoryKeyPaddingMask, S),
  };
}

/**
 * One Transformer decoder block (torch.nn.TransformerDecoderLayer): self-attention over tgt,
 * cross-attention over memory and a feed-forward network, each with a residual and LayerNorm,
 * after (default) or before (normFirst).
 * @example
 * const layer = new nn.TransformerDecoderLayer(512, 8, { batchFirst: true });
 * const mask = nn.Transformer.generateSquareSubsequentMask(20);
 * const y = layer.forward(kiln.randn([4, 20, 512]), kiln.randn([4, 32, 512]), { tgtMask: mask });
 */
export class TransformerDecoderLayer extends Module {
  selfAttn: MultiheadAttention;
  multiheadAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  norm3: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  dropout3: Dropout;
  readonly normFirst: boolean;
  readonly batchFirst: boolean;
  constructor(
    readonly dModel: number,
    readonly nhead: number,
    opts: DecoderLayerOptions = {},
  ) {
    super();
    const ff = opts.dimFeedforward ?? 2048,
      p = opts.dropout ?? 0.1,
      eps = opts.layerNormEps ?? 1e-5,
      bias = opts.bias ?? true;
    this.batchFirst = opts.batchFirst ?? false;
    const mha = { dropout: p, bias, batchFirst: this.batchFirst };
    this.selfAttn = new MultiheadAttention(dModel, nhead, mha);
    this.multiheadAttn = new MultiheadAttention(dModel, nhead, mha);
    this.linear1 = new Linear(dModel, ff, { bias, activation: opts.activation ?? 'relu' });
    this.dropout = new Dropout(p);
    this.linear2 = new Linear(ff, dModel, { bias });
    this.norm1 = new LayerNorm(dModel, eps, { bias });
    this.norm2 = new LayerNorm(dModel, eps, { bias });
    this.norm3 = new LayerNorm(dModel, eps, { bias });
    this.dropout1 = new Dropout(p);
    this.dropout2 = new Dropout(p);
    this.dropout3 = new Dropout(p);
    this.normFirst = opts.normFirst ?? false;
  }
  private sa(x: Tensor, mask: Tensor | null | undefined, pad: Tensor | null, isCausal: boolean | undefined): Tensor {
    const [y] = this.selfAttn.forward(x, x, x, { attnMask: mask, keyPaddingMask: pad, isCausal, needWeights: false });
    return this.dropout1.forward(y);
  }
  private mha(
    x: Tensor,
    mem: Tensor,
    mask: Tensor | null | undefined,
    pad: Tensor | null,
    isCausal: boolean | undefined,
  ): Tensor {
    const [y] = this.multiheadAttn.forward(x, mem, mem, {
      attnMask: mask,
      keyPaddingMask: pad,
      isCausal,
      needWeights: false,
    });
    return this.dropout2.forward(y);
  }
  private ff(x: Tensor): Tensor {
    return this.dropout3.forward(this.linear2.forward(this.dropout.forward(this.linear1.forward(x))));
  }
  /** tgt [T, B, E] (or [B, T, E] with batchFirst, or unbatched [T, E]) attending to memory [S, B, E]. */
  forward(tgt: Tensor, memory: Tensor, o: DecoderForwardOptions = {}): Tensor {
    const { tgtPad, memPad } = checkDecoderInputs(
      'TransformerDecoderLayer',
      tgt,
      memory,
      o,
      this.dModel,
      this.nhead,
      this.batchFirst,
    );
    let x = tgt;
    if (this.normFirst) {
      x = x.add(this.sa(this.norm1.forward(x), o.tgtMask, tgtPad, o.tgtIsCausal));
      x = x.add(this.mha(this.norm2.forward(x), memory, o.memoryMask, memPad, o.memoryIsCausal));
      return x.add(this.ff(this.norm3.forward(x)));
    }
    x = this.norm1.forward(x.add(this.sa(x, o.tgtMask, tgtPad, o.tgtIsCausal)));
    x = this.norm2.forward(x.add(this.mha(x, memory, o.memoryMask, memPad, o.memoryIsCausal)));
    return this.norm3.forward(x.add(this.ff(x)));
  }
  override extraRepr(): string {
    return `dModel=${this.dModel}, nhead=${this.nhead}, normFirst=${this.normFirst}`;
  }
}

/**
 * A stack of numLayers independent copies of `layer`, then an optional norm
 * (torch.nn.TransformerDecoder).
 * @example
 * const dec = new nn.TransformerDecoder(new nn.TransformerDecoderLayer(64, 4), 6, { norm: new nn.LayerNorm(64) });
 * const y = dec.forward(tgt, memory, { tgtMask: nn.Transformer.generateSquareSubsequentMask(tgt.shape[0]) });
 */
export class TransformerDecoder extends Module {
  layers: ModuleList;
  norm: Module | null;
  constructor(
    layer: TransformerDecoderLayer,
    readonly numLayers: number,
    opts: { norm?: Module | null } = {},
  ) {
    super();
    if (!Number.isInteger(numLayers) || numLayers < 0)
      throw new KilnError('ERR_ARG', `TransformerDecoder: numLayers must be a non-negative integer, got ${numLayers}`);
    this.layers = new ModuleList(Array.from({ length: numLayers }, () => layer.clone()));
    this.norm = opts.norm ?? null;
  }
  forward(tgt: Tensor, memory: Tensor, o: DecoderForwardOptions = {}): Tensor {
    let x = tgt;
    for (const l of this.layers) x = (l as TransformerDecoderLayer).forward(x, memory, o);
    return this.norm ? (this.norm.forward(x) as Tensor) : x;
  }
}

/** Options of nn.Transformer: torch's keyword arguments, camelCase, with torch's defaults. */
export interface TransformerOptions extends EncoderLayerOptions {
  /** 512 */
  dModel?: number;
  /** 8 */
  nhead?: number;
  /** 6 */
  numEncoderLayers?: number;
  /** 6 */
  numDecoderLayers?: number;
  /** Used instead of the built encoder; called as forward(src, { mask, srcKeyPaddingMask, isCausal }). */
  customEncoder?: Module | null;
  /** Used instead of the built decoder; called as forward(tgt, memory, DecoderForwardOptions). */
  customDecoder?: Module | null;
}

/** Masks of Transformer.forward: the encoder's (src*) and the decoder's, as torch's keywords. */
export interface TransformerForwardOptions extends DecoderForwardOptions {
  srcMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  srcIsCausal?: boolean;
}

/**
 * The encoder-decoder Transformer of "Attention Is All You Need" (torch.nn.Transformer): a
 * TransformerEncoder and a TransformerDecoder, each ending in a LayerNorm; every weight matrix
 * re-initialised Xavier-uniform as torch does. No embeddings or output projection.
 * @example
 * const model = new nn.Transformer({ dModel: 64, nhead: 4, numEncoderLayers: 2, numDecoderLayers: 2, batchFirst: true });
 * const tgtMask = nn.Transformer.generateSquareSubsequentMask(10);
 * const y = model.forward(kiln.randn([8, 12, 64]), kiln.randn([8, 10, 64]), { tgtMask }); // [8, 10, 64]
 */
export class Transformer extends Module {
  encoder: Module;
  decoder: Module;
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;
  constructor(opts: TransformerOptions = {}) {
    super();
    const dModel = opts.dModel ?? 512,
      nhead = opts.nhead ?? 8,
      eps = opts.layerNormEps ?? 1e-5,
      bias = opts.bias ?? true;
    const layerOpts: EncoderLayerOptions = {
      dimFeedforward: opts.dimFeedforward,
      dropout: opts.dropout,
      activation: opts.activation,
      layerNormEps: opts.layerNormEps,
      batchFirst: opts.batchFirst,
      normFirst: opts.normFirst,
      bias: opts.bias,
    };
    this.encoder =
      opts.customEncoder ??
      new TransformerEncoder(new TransformerEncoderLayer(dModel, nhead, layerOpts), opts.numEncoderLayers ?? 6, {
        norm: new LayerNorm(dModel, eps, { bias }),
      });
    this.decoder =
      opts.customDecoder ??
      new TransformerDecoder(new TransformerDecoderLayer(dModel, nhead, layerOpts), opts.numDecoderLayers ?? 6, {
        norm: new LayerNorm(dModel, eps, { bias }),
      });
    for (const p of this.parameters()) if (p.ndim > 1) xavierUniform_(p);
    this.dModel = dModel;
    this.nhead = nhead;
    this.batchFirst = opts.batchFirst ?? false;
  }
  /** src [S, B, E] and tgt [T, B, E] (batchFirst: [B, ·, E]; or unbatched) to the decoder's output, shaped like tgt. */
  forward(src: Tensor, tgt: Tensor, o: TransformerForwardOptions = {}): Tensor {
    const bad = (msg: string) => new KilnError('ERR_SHAPE', `Transformer: ${msg}`);
    if (src.ndim !== tgt.ndim || (src.ndim !== 2 && src.ndim !== 3))
      throw bad(`src ${dims(src)} and tgt ${dims(tgt)} must both be 3-D (batched) or both 2-D (unbatched)`);
    const bd = this.batchFirst ? 0 : 1;
    if (src.ndim === 3 && src.shape[bd] !== tgt.shape[bd])
      throw bad(
        `the batch sizes of src ${dims(src)} and tgt ${dims(tgt)} must be equal (batchFirst ${this.batchFirst})`,
      );
    if (src.shape[src.ndim - 1] !== this.dModel || tgt.shape[tgt.ndim - 1] !== this.dModel)
      throw bad(`src ${dims(src)} and tgt ${dims(tgt)} must have ${this.dModel} features (dModel)`);
    const memory = this.encoder.forward(src, {
      mask: o.srcMask,
      srcKeyPaddingMask: o.srcKeyPaddingMask,
      isCausal: o.srcIsCausal,
    }) as Tensor;
    return this.decoder.forward(tgt, memory, {
      tgtMask: o.tgtMask,
      memoryMask: o.memoryMask,
      tgtKeyPaddingMask: o.tgtKeyPaddingMask,
      memoryKeyPaddingMask: o.memoryKeyPaddingMask,
      tgtIsCausal: o.tgtIsCausal,
      memoryIsCausal: o.memoryIsCausal,
    }) as Tensor;
  }
  /**
   * The [sz, sz] additive causal mask: 0 on and below the diagonal, -Infinity above
   * (torch.nn.Transformer.generate_square_subsequent_mask).
   * @example
   * nn.Transformer.generateSquareSubsequentMask(3); // [[0, -inf, -inf], [0, 0, -inf], [0, 0, 0]]
   */
  static generateSquareSubsequentMask(sz: number, opts: { device?: DeviceLike; dtype?: DType } = {}): Tensor {
    if (!Number.isInteger(sz) || sz < 0)
      throw new KilnError('ERR_ARG', `generateSquareSubsequentMask: sz must be a non-negative integer, got ${sz}`);
    const dtype = opts.dtype ?? 'float32';
    if (!dtype.startsWith('float') && dtype !== 'bfloat16')
      throw new KilnError(
        'ERR_DTYPE',
        `generateSquareSubsequentMask: dtype must be floating (it holds -inf), got ${dtype}`,
      );
    return full([sz, sz], -Infinity, { device: opts.device, dtype }).triu(1);
  }
  override extraRepr(): string {
    return `dModel=${this.dModel}, nhead=${this.nhead}, batchFirst=${this.batchFirst}`;
  }
}
