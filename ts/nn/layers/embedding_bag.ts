/**
 * EmbeddingBag (torch.nn.EmbeddingBag, F.embedding_bag): sums, means or maxima of bags of
 * embedding rows without building the [bags, length, D] lookup of embedding + reduce. The bag
 * layout (offsets, padding entries) is read on the host; the rows are one embedding gather, summed
 * into their bags with indexAdd, or for 'max' laid out as [bags, longest, D] (missing slots -inf)
 * and reduced with max(dim), so the gradient reaches the weight (and perSampleWeights) through
 * those ops.
 */
import { fromNumbers, zeros } from '../../creation';
import { KilnError } from '../../errors';
import { scope } from '../../memory';
import { embedding } from '../../ops/embedding';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { normal_ } from '../init';
import { Module, Parameter } from '../module';

/** How a bag's rows are combined. */
export type EmbeddingBagMode = 'sum' | 'mean' | 'max';

/** Options of F.embeddingBag (torch's keyword arguments; maxNorm, scaleGradByFreq and sparse are not supported). */
export interface EmbeddingBagOptions {
  /** 'mean' by default, as torch. */
  mode?: EmbeddingBagMode;
  /** One weight per input entry, multiplying its row ('sum' only). */
  perSampleWeights?: Tensor | null;
  /** offsets has one more entry, the end of the last bag (torch's include_last_offset). */
  includeLastOffset?: boolean;
  /** Entries equal to this index are left out of their bag (and of a mean's count). */
  paddingIdx?: number | null;
}

const INT_DTYPES = ['int64', 'int32', 'uint8'];

/** The start and end of each bag in the flat input of T entries, with torch's checks. */
function bagBounds(offs: number[], T: number, includeLast: boolean): [number, number][] {
  if (offs.length > 0 && offs[0] !== 0)
    throw new KilnError(
      'ERR_ARG',
      `embeddingBag: offsets[0] must be 0 (the first bag starts the input), got ${offs[0]}`,
    );
  for (let i = 1; i < offs.length; i++)
    if (offs[i] < offs[i - 1])
      throw new KilnError('ERR_ARG', `embeddingBag: offsets must not decrease, got [${offs.join(', ')}]`);
  if (offs.length > 0 && offs[offs.length - 1] > T)
    throw new KilnError(
      'ERR_ARG',
      `embeddingBag: offsets[-1] = ${offs[offs.length - 1]} is past the input's ${T} entries`,
    );
  const B = includeLast ? Math.max(offs.length - 1, 0) : offs.length;
  return Array.from({ length: B }, (_, b) => [offs[b], b + 1 < offs.length ? offs[b + 1] : T]);
}

/**
 * Reduces bags of rows of `weight` [num, D] to [bags, D] (torch embedding_bag): a 2-d input
 * [B, L] is B bags of L entries (offsets must be null); a 1-d input needs offsets, each bag's
 * start. Empty bags give zeros; entries equal to paddingIdx are skipped. As torch, includeLastOffset
 * with a 2-d input takes its last row as the end marker, so B - 1 bags come out.
 * @example
 * const w = kiln.randn([10, 3]);
 * F.embeddingBag(kiln.tensor([1, 2, 4, 5, 4], { dtype: 'int64' }), w, kiln.tensor([0, 2], { dtype: 'int64' }), { mode: 'sum' });
 */
export function embeddingBag(
  input: Tensor,
  weight: Tensor,
  offsets: Tensor | null = null,
  o: EmbeddingBagOptions = {},
): Tensor {
  const mode = o.mode ?? 'mean';
  if (mode !== 'sum' && mode !== 'mean' && mode !== 'max')
    throw new KilnError('ERR_ARG', `embeddingBag: mode must be 'sum', 'mean' or 'max', got '${String(mode)}'`);
  if (!INT_DTYPES.includes(input.dtype))
    throw new KilnError('ERR_DTYPE', `embeddingBag: indices must be integers, got ${input.dtype}`);
  if (weight.ndim !== 2)
    throw new KilnError('ERR_SHAPE', `embeddingBag: weight must be 2-d, got ${shapeStr(weight.shape)}`);
  const [num, D] = weight.shape;
  let pad = o.paddingIdx ?? null;
  if (pad !== null) {
    if (!Number.isInteger(pad) || pad < -num || pad >= num)
      throw new KilnError('ERR_ARG', `embeddingBag: paddingIdx ${pad} is out of range for ${num} rows`);
    if (pad < 0) pad += num;
  }
  const psw = o.perSampleWeights ?? null;
  if (psw) {
    if (mode !== 'sum')
      throw new KilnError('ERR_ARG', `embeddingBag: perSampleWeights only go with mode 'sum', not '${mode}'`);
    if (psw.ndim !== input.ndim || psw.shape.some((s, i) => s !== input.shape[i]))
      throw new KilnError(
        'ERR_SHAPE',
        `embeddingBag: perSampleWeights ${shapeStr(psw.shape)} must have the input's shape ${shapeStr(input.shape)}`,
      );
  }
  let offs: number[];
  if (input.ndim === 2) {
    if (offsets) throw new KilnError('ERR_ARG', 'embeddingBag: a 2-d input is its own bags; offsets must be null');
    const [B, L] = input.shape;
    offs = Array.from({ length: B }, (_, b) => b * L);
  } else if (input.ndim === 1) {
    if (!offsets || offsets.ndim !== 1)
      throw new KilnError('ERR_ARG', 'embeddingBag: a 1-d input needs 1-d offsets (the start of each bag)');
    if (!INT_DTYPES.includes(offsets.dtype))
      throw new KilnError('ERR_DTYPE', `embeddingBag: offsets must be integers, got ${offsets.dtype}`);
    offs = scope(() => offsets.cpu().toArray() as number[]);
  } else throw new KilnError('ERR_SHAPE', `embeddingBag: input must be 1-d or 2-d, got ${shapeStr(input.shape)}`);

  const ids = scope(() => input.cpu().reshape([-1]).toArray() as number[]);
  const bounds = bagBounds(offs, ids.length, o.includeLastOffset ?? false);
  const B = bounds.length;
  const keptPos: number[] = [],
    keptBag: number[] = [],
    counts = new Array<number>(B).fill(0);
  bounds.forEach(([s, e], b) => {
    for (let t = s; t < e; t++)
      if (ids[t] !== pad) {
        keptPos.push(t);
        keptBag.push(b);
        counts[b]++;
      }
  });
  const dev = weight.device;
  const int64 = (v: number[]) => fromNumbers(v, [v.length], 'int64', 'embeddingBag', dev);
  return scope(() => {
    let rows = embedding(int64(keptPos.map((t) => ids[t])), weight); // [K, D]
    if (mode === 'max') {
      const longest = Math.max(0, ...counts);
      const slots: number[] = [],
        valid: number[] = [];
      let k = 0;
      for (const c of counts) {
        for (let j = 0; j < longest; j++) {
          slots.push(j < c ? k + j : 0);
          valid.push(j < c ? 1 : 0);
        }
        k += c;
      }
      if (longest === 0) return zeros([B, D], { dtype: weight.dtype, device: dev });
      const missing = fromNumbers(valid, [B, longest, 1], 'bool', 'embeddingBag', dev).logicalNot();
      const dense = rows.indexSelect(0, int64(slots)).reshape([B, longest, D]).maskedFill(missing, -Infinity);
      const nonEmpty = fromNumbers(
        counts.map((c) => c > 0),
        [B, 1],
        'bool',
        'embeddingBag',
        dev,
      );
      return dense.max(1).values.where(nonEmpty, 0);
    }
    if (psw) rows = rows.mul(psw.flatten().indexSelect(0, int64(keptPos)).unsqueeze(1));
    const sums = zeros([B, D], { dtype: weight.dtype, device: dev }).indexAdd(0, int64(keptBag), rows);
    if (mode === 'sum') return sums;
    const n = fromNumbers(
      counts.map((c) => Math.max(c, 1)),
      [B, 1],
      weight.dtype,
      'embeddingBag',
      dev,
    );
    return sums.div(n);
  });
}

/** Options of nn.EmbeddingBag. */
export interface EmbeddingBagModuleOptions {
  mode?: EmbeddingBagMode;
  paddingIdx?: number | null;
  includeLastOffset?: boolean;
}

/**
 * A table of numEmbeddings rows of embeddingDim, looked up in bags and reduced per bag
 * (torch.nn.EmbeddingBag); weight ~ N(0, 1) with the paddingIdx row zero, state-dict key `weight`.
 * @example
 * const bag = new kiln.nn.EmbeddingBag(10, 3, { mode: 'sum' });
 * bag.forward(kiln.tensor([[1, 2], [4, 5]], { dtype: 'int64' })); // [2, 3]
 */
export class EmbeddingBag extends Module {
  weight: Tensor;
  readonly mode: EmbeddingBagMode;
  readonly paddingIdx: number | null;
  readonly includeLastOffset: boolean;
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: EmbeddingBagModuleOptions = {},
  ) {
    super();
    if (!Number.isInteger(numEmbeddings) || numEmbeddings < 1 || !Number.isInteger(embeddingDim) || embeddingDim < 1)
      throw new KilnError(
        'ERR_ARG',
        `EmbeddingBag: sizes must be positive integers, got ${numEmbeddings}, ${embeddingDim}`,
      );
    this.mode = opts.mode ?? 'mean';
    if (!['sum', 'mean', 'max'].includes(this.mode))
      throw new KilnError('ERR_ARG', `EmbeddingBag: mode must be 'sum', 'mean' or 'max', got '${String(this.mode)}'`);
    let pad = opts.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings)
        throw new KilnError('ERR_ARG', `EmbeddingBag: paddingIdx ${pad} out of range`);
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.includeLastOffset = opts.includeLastOffset ?? false;
    const w = normal_(zeros([numEmbeddings, embeddingDim]));
    if (pad !== null) w.narrow(0, pad, 1).zero_();
    this.weight = new Parameter(w);
  }
  forward(input: Tensor, offsets: Tensor | null = null, perSampleWeights: Tensor | null = null): Tensor {
    return embeddingBag(input, this.weight, offsets, {
      mode: this.mode,
      perSampleWeights,
      includeLastOffset: this.includeLastOffset,
      paddingIdx: this.paddingIdx,
    });
  }
  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}, mode='${this.mode}'${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}`;
  }
}
