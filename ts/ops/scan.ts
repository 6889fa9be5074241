/**
 * Inclusive scans along one dim, as torch's cumsum and cumprod, written with the table's
 * primitives (narrow, add or mul, cat): ceil(log2 n) rounds, round k combining every element
 * with the one 2^k before it (a Hillis-Steele scan), so each is differentiable through its ops,
 * on every device, with no gradient of its own; a cumprod's gradient is exact where the input has
 * zeros (no division). Sums come out in a tree order (each output a sum of ceil(log2 n) partials),
 * not left to right: within float rounding of PyTorch's, never bit-equal to it. Each round is one
 * pass over the tensor: a native kernel would make it one pass in all (not written yet).
 */
import type { DType } from '../dtype';
import { isFloating } from '../dtype';
import { normDim } from '../shape';
import type { Tensor } from '../tensor';
import { cat } from './indexing';
import { checkTensor } from './kinds';

/** Options of cumsum / cumprod: the dtype the scan runs and returns in (torch's `dtype=`). */
export interface ScanOptions {
  dtype?: DType;
}

function scan(
  op: string,
  x: Tensor,
  dim: number,
  opts: ScanOptions,
  combine: (a: Tensor, b: Tensor) => Tensor,
): Tensor {
  checkTensor(x, op, 'input');
  // Integers and bools scan in int64, as PyTorch's do, unless a dtype says otherwise.
  const dt: DType = opts.dtype ?? (isFloating(x.dtype) ? x.dtype : 'int64');
  const x0 = x.ndim === 0 ? x.reshape([1]) : x;
  const d = normDim(dim, x0.ndim, op);
  const n = x0._shape[d];
  let y = x0.dtype === dt ? x0 : x0.to(dt);
  for (let k = 1; k < n; k *= 2) {
    const head = y.narrow(d, 0, k),
      rest = y.narrow(d, k, n - k),
      before = y.narrow(d, 0, n - k);
    const tail = combine(rest, before);
    const next = cat([head, tail], d);
    for (const t of [head, rest, before, tail, y !== x0 ? y : null]) t?.dispose();
    y = next;
  }
  if (y === x0) y = x0.clone();
  if (x0 !== x) {
    const out = y.reshape([]);
    y.dispose();
    x0.dispose();
    return out;
  }
  return y;
}

/**
 * Running sums along dim (torch.cumsum): out[i] = x[0] + ... + x[i]. Integers and bools give
 * int64 unless `dtype` is given.
 * @example
 * kiln.tensor([1, 2, 3, 4]).cumsum(0); // [1, 3, 6, 10]
 */
export function cumsum(x: Tensor, dim: number, opts: ScanOptions = {}): Tensor {
  return scan('cumsum', x, dim, opts, (a, b) => a.add(b));
}

/**
 * Running products along dim (torch.cumprod): out[i] = x[0] * ... * x[i]. Integers and bools
 * give int64 unless `dtype` is given.
 * @example
 * kiln.tensor([1, 2, 3, 4]).cumprod(0); // [1, 2, 6, 24]
 */
export function cumprod(x: Tensor, dim: number, opts: ScanOptions = {}): Tensor {
  return scan('cumprod', x, dim, opts, (a, b) => a.mul(b));
}
