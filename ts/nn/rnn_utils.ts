/**
 * torch.nn.utils.rnn: padSequence, and PackedSequence with packPaddedSequence, padPackedSequence
 * and packSequence, for batches of sequences of different lengths. A PackedSequence holds
 * PyTorch's layout (data: the valid steps, time-major, each step's sequences longest first;
 * batchSizes: how many sequences each step has), and the RNN layers take and return it; they run
 * the padded batch with the finished sequences' states held, so each sequence's output and final
 * state are what it alone would give.
 */
import { full, fromNumbers } from '../creation';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { shapeStr } from '../shape';
import type { Device } from '../device';
import { Tensor } from '../tensor';
import { cat } from '../ops/indexing';

/** Sequences of different lengths packed (torch.nn.utils.rnn.PackedSequence). */
export class PackedSequence {
  constructor(
    /** [sum of lengths, *features]: step 0 of every sequence, then step 1 of those that have one, ... */
    readonly data: Tensor,
    /** int64 [longest]: the sequences that have step t, on the CPU. */
    readonly batchSizes: Tensor,
    /** int64 [N]: the batch's order by decreasing length (null: it was already in that order). */
    readonly sortedIndices: Tensor | null,
    /** int64 [N]: the inverse of sortedIndices. */
    readonly unsortedIndices: Tensor | null,
  ) {}

  /** Each sequence's length, in the batch's own order. */
  lengths(): number[] {
    const bs = this.batchSizes.toArray() as number[];
    const n = bs.length ? bs[0] : 0;
    const sorted = Array.from({ length: n }, (_, b) => bs.filter((s) => s > b).length);
    if (!this.sortedIndices) return sorted;
    const order = this.sortedIndices.toArray() as number[];
    const out = new Array<number>(n);
    order.forEach((orig, k) => (out[orig] = sorted[k]));
    return out;
  }
}

/** A 1-d int64 tensor of the numbers (on the CPU unless a device is given). */
const ints = (v: readonly number[], device: Device = 'cpu'): Tensor =>
  fromNumbers(v, [v.length], 'int64', 'rnn', device);

/** The row of the time-major [L N, ...] padded batch each packed element comes from. */
function packedRows(lengths: readonly number[], order: readonly number[]): number[] {
  const N = lengths.length,
    L = Math.max(0, ...lengths);
  const rows: number[] = [];
  for (let t = 0; t < L; t++) for (const b of order) if (lengths[b] > t) rows.push(t * N + b);
  return rows;
}

function lengthList(op: string, lengths: Tensor | readonly number[]): number[] {
  const v = lengths instanceof Tensor ? (lengths.to('int64').cpu().toArray() as number[]) : [...lengths];
  if (!Array.isArray(v) || v.some((x) => !Number.isInteger(x) || x <= 0))
    throw new KilnError('ERR_ARG', `${op}: lengths must be positive integers, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Packs a padded batch ([L, N, *] or [N, L, *] with batchFirst) of sequences with the given
 * lengths (torch.nn.utils.rnn.pack_padded_sequence). With enforceSorted (the default) the
 * lengths must be in decreasing order; otherwise the batch is sorted here and the order kept.
 */
export function packPaddedSequence(
  input: Tensor,
  lengths: Tensor | readonly number[],
  opts: { batchFirst?: boolean; enforceSorted?: boolean } = {},
): PackedSequence {
  const lens = lengthList('packPaddedSequence', lengths);
  const x = opts.batchFirst ? input.transpose(0, 1) : input;
  if (x.ndim < 2 || x.shape[1] !== lens.length)
    throw new KilnError(
      'ERR_SHAPE',
      `packPaddedSequence: ${lens.length} lengths for an input of ${shapeStr(input.shape)}`,
    );
  if (Math.max(...lens) > x.shape[0])
    throw new KilnError('ERR_ARG', `packPaddedSequence: a length exceeds the ${x.shape[0]} steps of the input`);
  const enforce = opts.enforceSorted ?? true;
  if (enforce && lens.some((v, i) => i > 0 && v > lens[i - 1]))
    throw new KilnError(
      'ERR_ARG',
      'packPaddedSequence: lengths must be in decreasing order (or pass enforceSorted: false)',
    );
  const order = lens.map((_, i) => i).sort((a, b) => lens[b] - lens[a] || a - b); // stable
  // a scope keeps the tensors it returns in arrays and plain objects, not in a class's fields
  const { data, bs, sorted, unsorted } = scope(() => {
    const rows = ints(packedRows(lens, order), x.device);
    const data = x.reshape([-1, ...x.shape.slice(2)]).indexSelect(0, rows);
    const L = Math.max(...lens);
    const bs = ints(Array.from({ length: L }, (_, t) => lens.filter((v) => v > t).length));
    let sorted: Tensor | null = null,
      unsorted: Tensor | null = null;
    if (!enforce) {
      sorted = ints(order);
      const inv = new Array<number>(order.length);
      order.forEach((o, k) => (inv[o] = k));
      unsorted = ints(inv);
    }
    return { data, bs, sorted, unsorted };
  });
  return new PackedSequence(data, bs, sorted, unsorted);
}

/**
 * A PackedSequence back to a padded batch ([L, N, *], [N, L, *] with batchFirst; L the longest
 * length or totalLength) and its lengths (int64), in the batch's own order
 * (torch.nn.utils.rnn.pad_packed_sequence).
 */
export function padPackedSequence(
  seq: PackedSequence,
  opts: { batchFirst?: boolean; paddingValue?: number; totalLength?: number | null } = {},
): [Tensor, Tensor] {
  if (!(seq instanceof PackedSequence)) throw new KilnError('ERR_ARG', 'padPackedSequence: expected a PackedSequence');
  const lens = seq.lengths();
  const longest = Math.max(0, ...lens);
  const L = opts.totalLength ?? longest;
  if (L < longest)
    throw new KilnError('ERR_ARG', `padPackedSequence: totalLength ${L} is below the longest length ${longest}`);
  const order = seq.sortedIndices ? (seq.sortedIndices.toArray() as number[]) : lens.map((_, i) => i);
  const padded = scope(() => {
    const N = lens.length,
      feat = seq.data.shape.slice(1);
    const rows = ints(packedRows(lens, order), seq.data.device);
    const base = full([L * N, ...feat], opts.paddingValue ?? 0, { dtype: seq.data.dtype, device: seq.data.device });
    const y = base.indexCopy(0, rows, seq.data).reshape([L, N, ...feat]);
    return opts.batchFirst ? y.transpose(0, 1) : y;
  });
  return [padded, ints(lens)];
}

/**
 * Pads a list of [Li, *] tensors to the longest (torch.nn.utils.rnn.pad_sequence): [L, N, *],
 * or [N, L, *] with batchFirst; paddingSide 'left' puts the padding first.
 */
export function padSequence(
  sequences: readonly Tensor[],
  opts: { batchFirst?: boolean; paddingValue?: number; paddingSide?: 'left' | 'right' } = {},
): Tensor {
  if (!Array.isArray(sequences) || sequences.length === 0)
    throw new KilnError('ERR_ARG', 'padSequence: expected a non-empty array of tensors');
  const side = opts.paddingSide ?? 'right';
  if (side !== 'left' && side !== 'right')
    throw new KilnError('ERR_ARG', `padSequence: paddingSide must be 'left' or 'right', got '${String(side)}'`);
  const feat = sequences[0].shape.slice(1);
  sequences.forEach((s, i) => {
    if (!(s instanceof Tensor) || s.ndim < 1 || s.shape.slice(1).join() !== feat.join())
      throw new KilnError('ERR_SHAPE', `padSequence: sequences[${i}] must be [length, ${feat.join(', ')}]`);
  });
  const L = Math.max(...sequences.map((s) => s.shape[0]));
  return scope(() => {
    const v = opts.paddingValue ?? 0;
    const rows = sequences.map((s) => {
      const pad = L - s.shape[0];
      if (pad === 0) return s;
      const fill = full([pad, ...feat], v, { dtype: s.dtype, device: s.device });
      return cat(side === 'right' ? [s, fill] : [fill, s], 0);
    });
    return cat(
      rows.map((r) => r.unsqueeze(opts.batchFirst ? 0 : 1)),
      opts.batchFirst ? 0 : 1,
    );
  });
}

/** packPaddedSequence of a list of [Li, *] tensors (torch.nn.utils.rnn.pack_sequence). */
export function packSequence(sequences: readonly Tensor[], opts: { enforceSorted?: boolean } = {}): PackedSequence {
  const padded = padSequence(sequences);
  const out = packPaddedSequence(
    padded,
    sequences.map((s) => s.shape[0]),
    opts,
  );
  padded.dispose();
  return out;
}

/** y, a padded time-major [L, N, *] batch, packed in the layout (lengths, order) of `like`. */
export function packLike(y: Tensor, like: PackedSequence): PackedSequence {
  const lens = like.lengths();
  const order = like.sortedIndices ? (like.sortedIndices.toArray() as number[]) : lens.map((_, i) => i);
  const data = scope(() =>
    y.reshape([-1, ...y.shape.slice(2)]).indexSelect(0, ints(packedRows(lens, order), y.device)),
  );
  return new PackedSequence(data, like.batchSizes, like.sortedIndices, like.unsortedIndices);
}

/** The mask of the sequences still running at each step: [L] bool tensors of [N, 1]. */
export function activeSteps(lengths: readonly number[], L: number, device: Device): Tensor[] {
  const lens = fromNumbers(lengths, [lengths.length, 1], 'int64', 'activeSteps', device);
  return Array.from({ length: L }, (_, t) => lens.gt(t));
}
