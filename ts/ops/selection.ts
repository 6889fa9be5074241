/**
 * Ops whose output size depends on the values (nonzero, maskedSelect, unique, bincount, histc,
 * repeatInterleave with a tensor of repeats) and the index ops built on them or beside them
 * (searchsorted, bucketize, take, takeAlongDim, indexAdd, indexCopy, indexFill). All are
 * composites of the primitive ops, so they run on every device; the ones with a data-dependent
 * size read one count back (a synchronisation on a GPU, as in PyTorch). Gradients flow where
 * PyTorch's do: to the values of maskedSelect, take, takeAlongDim, repeatInterleave, indexAdd
 * and indexCopy (source and input), indexFill (input).
 */
import { noGrad } from '../autograd/grad_mode';
import { arange, full, ones, zeros } from '../creation';
import { isFloating, type DType } from '../dtype';
import { KilnError } from '../errors';
import { scope } from '../memory';
import { broadcastShapes, normDim, shapeStr } from '../shape';
import { Tensor } from '../tensor';
import { cat, where } from './indexing';
import { checkTensor } from './kinds';
import { stack } from './composite';

const isInt = (d: DType) => d === 'int32' || d === 'int64' || d === 'uint8';

/** The count a one-element tensor holds, as a JS number. */
const count = (t: Tensor): number => Number(t.item());

/**
 * The int64 flat (row-major) positions of mask's true elements, in order: each true element's
 * rank among them (a running count) is where its position is written.
 */
function truePositions(mask: Tensor): Tensor {
  return noGrad(() =>
    scope(() => {
      const m = mask.reshape([-1]);
      const n = m.numel();
      if (n === 0) return zeros([0], { dtype: 'int64', device: mask.device });
      const rank = m.cumsum(0); // int64
      const c = count(rank.select(0, n - 1));
      // the false ones all write slot c, cut off after
      const slot = where(m, rank.sub(1), c);
      const out = zeros([c + 1], { dtype: 'int64', device: mask.device }).scatter(
        0,
        slot,
        arange(0, n, 1, { dtype: 'int64', device: mask.device }),
      );
      return out.narrow(0, 0, c).contiguous();
    }),
  );
}

const nonZeroMask = (x: Tensor): Tensor => (x.dtype === 'bool' ? x : x.ne(0));

/**
 * Flat positions to coordinates: [count, ndim] int64, each row an element's index (exact below
 * 2^53 elements: float64 quotients of integers below 2^53 floor exactly).
 */
function unravel(flat: Tensor, shape: readonly number[]): Tensor {
  return scope(() => {
    const cols: Tensor[] = new Array<Tensor>(shape.length);
    let rest = flat.to('float64');
    for (let d = shape.length - 1; d >= 0; d--) {
      const q = rest.div(shape[d]).floor();
      cols[d] = rest.sub(q.mul(shape[d])).to('int64');
      rest = q;
    }
    return shape.length ? stack(cols, 1) : zeros([flat.numel(), 0], { dtype: 'int64', device: flat.device });
  });
}

/**
 * The indices of the non-zero elements (torch.nonzero): [count, ndim] int64 in row-major order,
 * or with asTuple one 1-d tensor per dim.
 * @example
 * kiln.tensor([[0, 1], [2, 0]]).nonzero(); // [[0, 1], [1, 0]]
 */
export function nonzero(x: Tensor, opts?: { asTuple?: false }): Tensor;
export function nonzero(x: Tensor, opts: { asTuple: true }): Tensor[];
export function nonzero(x: Tensor, opts: { asTuple?: boolean } = {}): Tensor | Tensor[] {
  checkTensor(x, 'nonzero', 'input');
  const coords = noGrad(() => scope(() => unravel(truePositions(nonZeroMask(x)), x.shape)));
  if (!opts.asTuple) return coords;
  const cols = x.ndim === 0 ? [coords.reshape([-1])] : coords.unbind(1).map((c) => c.contiguous());
  coords.dispose();
  return cols;
}

/** torch.argwhere: nonzero(x) as a [count, ndim] tensor. */
export const argwhere = (x: Tensor): Tensor => nonzero(x);

/** The number of non-zero elements over dims (all by default), int64 (torch.count_nonzero). */
export function countNonzero(x: Tensor, dim?: number | number[] | null): Tensor {
  checkTensor(x, 'countNonzero', 'input');
  return noGrad(() => scope(() => nonZeroMask(x).sum(dim ?? null)));
}

/**
 * The elements of x where mask is true, as a 1-d tensor (torch.masked_select); x and the bool
 * mask broadcast. Differentiable in x.
 * @example
 * kiln.tensor([1, 2, 3]).maskedSelect(kiln.tensor([true, false, true])); // [1, 3]
 */
export function maskedSelect(x: Tensor, mask: Tensor): Tensor {
  checkTensor(x, 'maskedSelect', 'input');
  checkTensor(mask, 'maskedSelect', 'mask');
  if (mask.dtype !== 'bool') throw new KilnError('ERR_DTYPE', `maskedSelect: mask must be bool, got ${mask.dtype}`);
  const shape = broadcastShapes('maskedSelect', x.shape, mask.shape);
  return scope(() => {
    const idx = truePositions(mask.broadcastTo(shape));
    return x.broadcastTo(shape).reshape([-1]).gather(0, idx);
  });
}

export interface UniqueOptions {
  /** Ascending order (true). The result is sorted either way here, as PyTorch's CPU result is. */
  sorted?: boolean;
  /** Also the index into the unique values of each element (each slice, with dim). */
  returnInverse?: boolean;
  /** Also how often each unique value occurs. */
  returnCounts?: boolean;
  /** Unique slices along this dim instead of unique elements of the flattened tensor. */
  dim?: number | null;
}
export interface UniqueResult {
  values: Tensor;
  inverse: Tensor | null;
  counts: Tensor | null;
}

/**
 * Groups the n rows of r ([n, k], compared whole): the run each sorted row starts or continues,
 * given the order that sorts them. first: bool [n], true where a sorted row differs from the one
 * before (NaN differs from everything, as in PyTorch).
 */
function runs(r: Tensor, order: Tensor, consecutive: boolean) {
  const n = r.shape[0];
  const s = consecutive ? r : r.indexSelect(0, order);
  const first =
    n === 0
      ? zeros([0], { dtype: 'bool', device: r.device })
      : cat(
          [
            full([1], true, { device: r.device }),
            s
              .narrow(0, 1, n - 1)
              .ne(s.narrow(0, 0, n - 1))
              .any(1),
          ],
          0,
        );
  const group = first.cumsum(0).sub(1); // int64: the unique value each sorted row is
  return { s, first, group };
}

/** The order that sorts the rows of r ([n, k]) lexicographically: stable sorts from the last column. */
function rowOrder(r: Tensor): Tensor {
  let order = arange(0, r.shape[0], 1, { dtype: 'int64', device: r.device });
  for (let j = r.shape[1] - 1; j >= 0; j--) {
    const col = r.select(1, j).indexSelect(0, order);
    order = order.indexSelect(0, col.argsort(0, { stable: true }));
  }
  return order;
}

/** Dim d moved to the front (torch.movedim(d, 0)), and the permutation that moves it back. */
const toFront = (x: Tensor, d: number) => x.permute([d, ...x.shape.map((_, k) => k).filter((k) => k !== d)]);
const backFrom = (ndim: number, d: number) => [...Array(ndim).keys()].map((k) => (k < d ? k + 1 : k === d ? 0 : k));

function uniqueImpl(op: string, x: Tensor, o: UniqueOptions, consecutive: boolean): UniqueResult {
  checkTensor(x, op, 'input');
  const d = o.dim === undefined || o.dim === null ? null : normDim(o.dim, Math.max(1, x.ndim), op);
  return noGrad(() =>
    scope(() => {
      // rows: the elements ([n, 1]) or the slices along d ([size d, rest])
      const moved = d === null ? x.reshape([-1, 1]) : x.ndim === 0 ? x.reshape([1, 1]) : toFront(x, d);
      const r = d === null ? moved : moved.reshape([moved.shape[0], -1]);
      const n = r.shape[0];
      const order = consecutive
        ? arange(0, n, 1, { dtype: 'int64', device: x.device })
        : r.shape[1] === 1
          ? r.reshape([-1]).argsort(0, { stable: true })
          : rowOrder(r);
      const { s, first, group } = runs(r, order, consecutive);
      const starts = truePositions(first);
      const u = starts.numel();
      let values = s.indexSelect(0, starts);
      values =
        d === null ? values.reshape([-1]) : values.reshape([u, ...moved.shape.slice(1)]).permute(backFrom(x.ndim, d));
      let inverse: Tensor | null = null,
        counts: Tensor | null = null;
      if (o.returnInverse) {
        const inv = zeros([n], { dtype: 'int64', device: x.device }).scatter(0, order, group);
        inverse = d === null ? inv.reshape(x.shape.slice()) : inv;
      }
      if (o.returnCounts) {
        counts = u
          ? cat([starts.narrow(0, 1, u - 1), full([1], n, { dtype: 'int64', device: x.device })], 0).sub(starts)
          : zeros([0], { dtype: 'int64', device: x.device });
      }
      return { values: values.contiguous(), inverse, counts };
    }),
  );
}

/**
 * The distinct elements (torch.unique), sorted; with dim, the distinct slices along it. With
 * returnInverse or returnCounts: { values, inverse, counts } (null for what was not asked).
 * NaNs are distinct from each other.
 * @example
 * kiln.tensor([2, 1, 2, 3]).unique(); // [1, 2, 3]
 * kiln.unique(x, { returnCounts: true }).counts; // [1, 2, 1]
 */
export function unique(x: Tensor, opts?: UniqueOptions & { returnInverse?: false; returnCounts?: false }): Tensor;
export function unique(x: Tensor, opts: UniqueOptions): UniqueResult;
export function unique(x: Tensor, opts: UniqueOptions = {}): Tensor | UniqueResult {
  const r = uniqueImpl('unique', x, opts, false);
  return opts.returnInverse || opts.returnCounts ? r : r.values;
}

/** Collapses runs of equal consecutive elements (slices, with dim) to one (torch.unique_consecutive). */
export function uniqueConsecutive(
  x: Tensor,
  opts?: Omit<UniqueOptions, 'sorted'> & { returnInverse?: false; returnCounts?: false },
): Tensor;
export function uniqueConsecutive(x: Tensor, opts: Omit<UniqueOptions, 'sorted'>): UniqueResult;
export function uniqueConsecutive(x: Tensor, opts: Omit<UniqueOptions, 'sorted'> = {}): Tensor | UniqueResult {
  const r = uniqueImpl('uniqueConsecutive', x, opts, true);
  return opts.returnInverse || opts.returnCounts ? r : r.values;
}

/**
 * How often each value 0..max occurs in a 1-d tensor of non-negative integers (torch.bincount),
 * at least minlength bins; int64 counts, or sums of weights (in the weights' dtype).
 * @example
 * kiln.tensor([0, 1, 1, 3]).bincount(); // [1, 2, 0, 1]
 */
export function bincount(x: Tensor, opts: { weights?: Tensor | null; minlength?: number } = {}): Tensor {
  checkTensor(x, 'bincount', 'input');
  if (x.ndim !== 1) throw new KilnError('ERR_SHAPE', `bincount: input must be 1-d, got ${shapeStr(x.shape)}`);
  if (!isInt(x.dtype)) throw new KilnError('ERR_DTYPE', `bincount: input must hold integers, got ${x.dtype}`);
  const minlength = opts.minlength ?? 0;
  if (!Number.isInteger(minlength) || minlength < 0)
    throw new KilnError('ERR_ARG', `bincount: minlength must be a non-negative integer, got ${minlength}`);
  const w = opts.weights ?? null;
  if (w) {
    checkTensor(w, 'bincount', 'weights');
    if (w.shape.length !== 1 || w.shape[0] !== x.shape[0])
      throw new KilnError('ERR_SHAPE', `bincount: weights must be [${x.shape[0]}], got ${shapeStr(w.shape)}`);
  }
  return scope(() => {
    const idx = x.to('int64');
    let size = minlength;
    if (x.numel()) {
      if (count(noGrad(() => idx.amin())) < 0) throw new KilnError('ERR_ARG', 'bincount: input must be non-negative');
      size = Math.max(size, count(noGrad(() => idx.amax())) + 1);
    }
    const dtype: DType = w ? (isFloating(w.dtype) ? w.dtype : 'float64') : 'int64';
    const src = w ? w.to(dtype) : ones([x.numel()], { dtype, device: x.device });
    return zeros([size], { dtype, device: x.device }).scatterAdd(0, idx, src);
  });
}

/**
 * A histogram of bins equal-width bins over [min, max] (torch.histc; min = max = 0: the data's
 * range); values outside are not counted, max falls in the last bin. x's floating dtype.
 */
export function histc(x: Tensor, bins = 100, min = 0, max = 0): Tensor {
  checkTensor(x, 'histc', 'input');
  if (!isFloating(x.dtype)) throw new KilnError('ERR_DTYPE', `histc: input must be floating, got ${x.dtype}`);
  if (!Number.isInteger(bins) || bins <= 0)
    throw new KilnError('ERR_ARG', `histc: bins must be a positive integer, got ${bins}`);
  if (min > max) throw new KilnError('ERR_ARG', `histc: min (${min}) must not exceed max (${max})`);
  return noGrad(() =>
    scope(() => {
      let lo = min,
        hi = max;
      if (lo === hi && x.numel()) {
        lo = count(x.amin());
        hi = count(x.amax());
      }
      if (lo === hi) {
        lo -= 1;
        hi += 1;
      }
      const xd = x.to('float64');
      const inside = xd.ge(lo).logicalAnd(xd.le(hi));
      // PyTorch's bin: (x - min) bins / (max - min), in that order, truncated
      const b = xd
        .sub(lo)
        .mul(bins)
        .div(hi - lo)
        .floor()
        .clamp(0, bins - 1)
        .to('int64');
      const kept = maskedSelect(b, inside);
      return bincount(kept, { minlength: bins }).to(x.dtype);
    }),
  );
}

/**
 * For each value, where it would go in the sorted last dim of sortedSequence to keep it sorted
 * (torch.searchsorted): the first index i with seq[i] >= v (seq[i] > v with right or side
 * 'right'). sortedSequence is 1-d or has values' leading dims. int64 (int32 with outInt32).
 * A binary search: ceil(log2(n + 1)) rounds of a gather and a compare.
 * @example
 * kiln.searchsorted(kiln.tensor([1, 3, 5]), kiln.tensor([3, 4])); // [1, 2]
 */
export function searchsorted(
  sortedSequence: Tensor,
  values: Tensor | number,
  opts: { right?: boolean; side?: 'left' | 'right'; outInt32?: boolean } = {},
): Tensor {
  checkTensor(sortedSequence, 'searchsorted', 'sortedSequence');
  if (sortedSequence.ndim === 0)
    throw new KilnError('ERR_SHAPE', 'searchsorted: sortedSequence must have at least 1 dim');
  if (opts.side !== undefined && opts.side !== 'left' && opts.side !== 'right')
    throw new KilnError('ERR_ARG', `searchsorted: side must be 'left' or 'right', got '${String(opts.side)}'`);
  if (opts.side === 'left' && opts.right)
    throw new KilnError('ERR_ARG', "searchsorted: side 'left' contradicts right: true");
  const right = opts.right || opts.side === 'right';
  const seq = sortedSequence;
  const scalar = !(values instanceof Tensor);
  return noGrad(() =>
    scope(() => {
      const v = scalar
        ? full([], values, { dtype: seq.dtype, device: seq.device })
        : checkTensor(values, 'searchsorted', 'values');
      if (seq.ndim > 1 && seq.shape.slice(0, -1).join() !== v.shape.slice(0, -1).join())
        throw new KilnError(
          'ERR_SHAPE',
          `searchsorted: sortedSequence ${shapeStr(seq.shape)} and values ${shapeStr(v.shape)} must share their leading dims`,
        );
      const n = seq.shape[seq.ndim - 1];
      // rows of the sequence against rows of values: [R, n] and [R, m]
      const vs = seq.ndim === 1 ? v.reshape([1, -1]) : v.reshape([-1, v.ndim ? v.shape[v.ndim - 1] : 1]);
      const sq = seq.ndim === 1 ? seq.reshape([1, n]).expand([vs.shape[0], n]) : seq.reshape([-1, n]);
      let lo = zeros(vs.shape.slice(), { dtype: 'float64', device: seq.device });
      let hi = full(vs.shape.slice(), n, { dtype: 'float64', device: seq.device });
      if (n > 0)
        for (let span = n; span > 0; span = Math.floor(span / 2)) {
          // lo <= answer <= hi; mid < hi, so seq[mid] is in range
          const mid = lo.add(hi).mul(0.5).floor();
          const at = sq.gather(1, mid.clamp(0, n - 1).to('int64'));
          // not (at >= v) rather than at < v: a NaN value goes past everything, as NaN sorts last
          const go = (right ? at.gt(vs) : at.ge(vs)).logicalNot().logicalAnd(mid.lt(hi));
          lo = where(go, mid.add(1), lo);
          hi = where(go, hi, mid);
        }
      const out = lo.to(opts.outInt32 ? 'int32' : 'int64');
      return scalar ? out.reshape([]) : out.reshape(v.shape.slice());
    }),
  );
}

/** The bucket of each value among sorted boundaries (torch.bucketize): searchsorted(boundaries, x). */
export function bucketize(
  x: Tensor | number,
  boundaries: Tensor,
  opts: { right?: boolean; outInt32?: boolean } = {},
): Tensor {
  checkTensor(boundaries, 'bucketize', 'boundaries');
  if (boundaries.ndim !== 1)
    throw new KilnError('ERR_SHAPE', `bucketize: boundaries must be 1-d, got ${shapeStr(boundaries.shape)}`);
  return searchsorted(boundaries, x, opts);
}

/** Indices below 0 counted from the end; out-of-range ones rejected by the gather/scatter. */
const wrap = (index: Tensor, n: number): Tensor => where(index.lt(0), index.add(n), index);

/**
 * x as if flattened, at index (torch.take): index's shape, negative indices from the end.
 * Differentiable in x.
 */
export function take(x: Tensor, index: Tensor): Tensor {
  checkTensor(x, 'take', 'input');
  checkTensor(index, 'take', 'index');
  if (!isInt(index.dtype)) throw new KilnError('ERR_DTYPE', `take: index must hold integers, got ${index.dtype}`);
  return scope(() =>
    x
      .reshape([-1])
      .gather(0, wrap(index.to('int64').reshape([-1]), x.numel()))
      .reshape(index.shape.slice()),
  );
}

/**
 * gather with broadcasting (torch.take_along_dim): x and indices broadcast in every dim but dim;
 * without dim, take on the flattened x. Differentiable in x.
 */
export function takeAlongDim(x: Tensor, indices: Tensor, dim?: number | null): Tensor {
  checkTensor(x, 'takeAlongDim', 'input');
  checkTensor(indices, 'takeAlongDim', 'indices');
  if (dim === undefined || dim === null) return take(x.reshape([-1]), indices.reshape([-1]));
  if (x.ndim !== indices.ndim)
    throw new KilnError(
      'ERR_SHAPE',
      `takeAlongDim: input and indices need the same number of dims, got ${x.ndim} and ${indices.ndim}`,
    );
  const d = normDim(dim, x.ndim, 'takeAlongDim');
  return scope(() => {
    const xs = x.shape.slice(),
      is = indices.shape.slice();
    xs[d] = 1;
    is[d] = 1;
    const b = broadcastShapes('takeAlongDim', xs, is);
    const xb = x.expand(b.map((s, k) => (k === d ? x.shape[d] : s)));
    const ib = indices.to('int64').expand(b.map((s, k) => (k === d ? indices.shape[d] : s)));
    return xb.gather(d, wrap(ib, x.shape[d]));
  });
}

/**
 * Each element (slice along dim) repeated (torch.repeat_interleave): repeats a number or a 1-d
 * tensor of counts per element; without dim on the flattened x. Called with a tensor alone:
 * repeatInterleave(counts) gives each index i counts[i] times. Differentiable in x.
 * @example
 * kiln.tensor([1, 2]).repeatInterleave(2); // [1, 1, 2, 2]
 */
export function repeatInterleave(x: Tensor, repeats?: number | Tensor, dim?: number | null): Tensor {
  checkTensor(x, 'repeatInterleave', 'input');
  if (repeats === undefined) {
    if (x.ndim > 1 || !isInt(x.dtype))
      throw new KilnError('ERR_ARG', 'repeatInterleave: called with one tensor, it must be a 1-d tensor of counts');
    return repeatInterleave(arange(0, x.numel(), 1, { dtype: 'int64', device: x.device }), x, 0);
  }
  return scope(() => {
    const src = dim === undefined || dim === null ? x.reshape([-1]) : x;
    const d = dim === undefined || dim === null ? 0 : normDim(dim, Math.max(1, x.ndim), 'repeatInterleave');
    const size = src.ndim ? src.shape[d] : 1;
    if (typeof repeats === 'number') {
      if (!Number.isInteger(repeats) || repeats < 0)
        throw new KilnError('ERR_ARG', `repeatInterleave: repeats must be a non-negative integer, got ${repeats}`);
      const s = src.ndim ? src : src.reshape([1]);
      const shape = s.shape.slice();
      const e = s.unsqueeze(d + 1).expand([...shape.slice(0, d + 1), repeats, ...shape.slice(d + 1)]);
      return e.flatten(d, d + 1);
    }
    checkTensor(repeats, 'repeatInterleave', 'repeats');
    if (!isInt(repeats.dtype))
      throw new KilnError('ERR_DTYPE', `repeatInterleave: repeats must hold integers, got ${repeats.dtype}`);
    const r = repeats.to('int64').reshape([-1]);
    if (r.numel() !== 1 && r.numel() !== size)
      throw new KilnError('ERR_SHAPE', `repeatInterleave: ${r.numel()} repeats for a dim of size ${size}`);
    if (r.numel() === 1) return repeatInterleave(src, count(r), d);
    if (size && count(noGrad(() => r.amin())) < 0)
      throw new KilnError('ERR_ARG', 'repeatInterleave: repeats must be non-negative');
    const ends = r.cumsum(0);
    const total = size ? count(ends.select(0, size - 1)) : 0;
    // output j comes from the first i whose running count passes j
    const idx = searchsorted(ends, arange(0, total, 1, { dtype: 'int64', device: x.device }), { right: true });
    return src.indexSelect(d, idx);
  });
}

/** The index [k] along dim, expanded to `shape` (k along dim), for scatter and scatterAdd. */
function indexAlong(op: string, index: Tensor, dim: number, shape: readonly number[]): Tensor {
  checkTensor(index, op, 'index');
  if (index.ndim > 1) throw new KilnError('ERR_SHAPE', `${op}: index must be 1-d, got ${shapeStr(index.shape)}`);
  if (!isInt(index.dtype)) throw new KilnError('ERR_DTYPE', `${op}: index must hold integers, got ${index.dtype}`);
  const view = shape.map((_, k) => (k === dim ? -1 : 1));
  return index.to('int64').reshape(view).expand(shape.slice());
}

/** source's shape check for indexAdd/indexCopy: x's, with index.numel() along dim. */
function checkSource(op: string, x: Tensor, d: number, index: Tensor, source: Tensor): void {
  checkTensor(source, op, 'source');
  const want = x.shape.slice();
  if (x.ndim) want[d] = index.numel();
  if (source.shape.join() !== want.join())
    throw new KilnError('ERR_SHAPE', `${op}: source must be ${shapeStr(want)}, got ${shapeStr(source.shape)}`);
}

/**
 * x with alpha source[.., i, ..] added at x[.., index[i], ..] along dim (torch.index_add), repeated
 * indices summing. Differentiable in x and source.
 */
export function indexAdd(x: Tensor, dim: number, index: Tensor, source: Tensor, opts: { alpha?: number } = {}): Tensor {
  checkTensor(x, 'indexAdd', 'input');
  const d = normDim(dim, Math.max(1, x.ndim), 'indexAdd');
  checkSource('indexAdd', x, d, index, source);
  return scope(() => {
    const src = opts.alpha === undefined || opts.alpha === 1 ? source : source.mul(opts.alpha);
    return x.scatterAdd(d, indexAlong('indexAdd', index, d, source.shape), src.to(x.dtype));
  });
}

/** x with source's slices copied to x[.., index[i], ..] along dim (torch.index_copy). */
export function indexCopy(x: Tensor, dim: number, index: Tensor, source: Tensor): Tensor {
  checkTensor(x, 'indexCopy', 'input');
  const d = normDim(dim, Math.max(1, x.ndim), 'indexCopy');
  checkSource('indexCopy', x, d, index, source);
  return scope(() => x.scatter(d, indexAlong('indexCopy', index, d, source.shape), source.to(x.dtype)));
}

/** x with the slices x[.., index[i], ..] along dim set to value (torch.index_fill). */
export function indexFill(x: Tensor, dim: number, index: Tensor, value: number | boolean): Tensor {
  checkTensor(x, 'indexFill', 'input');
  const d = normDim(dim, Math.max(1, x.ndim), 'indexFill');
  return scope(() => {
    const shape = x.shape.slice();
    if (x.ndim) shape[d] = index.numel();
    return x.scatter(d, indexAlong('indexFill', index, d, shape), value);
  });
}
