/**
 * torch.polygamma(n, x) for n = 0 (digamma) and n = 1 (the native trigamma row); higher orders
 * throw ERR_ARG. lgamma and digamma themselves are op-table rows (ts/ops/table.ts).
 */
import { KilnError } from '../errors';
import type { Tensor } from '../tensor';
import { table } from './table';

/**
 * The n-th derivative of digamma: polygamma(0, x) = digamma(x), polygamma(1, x) = trigamma(x).
 * @example
 * kiln.polygamma(1, kiln.tensor([1])); // [1.6449] (π² / 6)
 */
export function polygamma(n: number, x: Tensor): Tensor {
  if (n === 0) return table.digamma.fn(x);
  if (n === 1) return table.trigamma.fn(x);
  throw new KilnError('ERR_ARG', `polygamma: order n = ${String(n)} is not implemented (0 and 1 are)`);
}

/** log |Γ(x)| (torch.lgamma): +Infinity at 0, -1, -2, ... */
export const lgamma = (x: Tensor): Tensor => table.lgamma.fn(x);
/** ψ(x) = d/dx log Γ(x) (torch.digamma): -Infinity at 0, NaN at the negative integers. */
export const digamma = (x: Tensor): Tensor => table.digamma.fn(x);
