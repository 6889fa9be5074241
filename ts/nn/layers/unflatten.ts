/** nn.Unflatten: one dim reshaped into several (the inverse of nn.Flatten). */
import { KilnError } from '../../errors';
import { normDim, shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { Module } from '../module';

/**
 * Splits dim `dim` of the input into `unflattenedSize` (torch.nn.Unflatten); one size may be -1,
 * worked out from the others.
 * @example
 * new kiln.nn.Unflatten(1, [2, 5]).forward(kiln.ones([3, 10])); // [3, 2, 5]
 */
export class Unflatten extends Module {
  readonly unflattenedSize: number[];
  constructor(
    readonly dim: number,
    unflattenedSize: readonly number[],
  ) {
    super();
    const s = [...unflattenedSize];
    if (
      !Number.isInteger(dim) ||
      s.length === 0 ||
      !s.every((v) => Number.isInteger(v) && (v >= 0 || v === -1)) ||
      s.filter((v) => v === -1).length > 1
    )
      throw new KilnError(
        'ERR_ARG',
        `Unflatten: an integer dim and sizes >= 0 (one may be -1) expected, got ${dim} and ${JSON.stringify(unflattenedSize)}`,
      );
    this.unflattenedSize = s;
  }
  forward(x: Tensor): Tensor {
    if (x.ndim === 0) throw new KilnError('ERR_SHAPE', 'Unflatten: a 0-d input has no dim to unflatten');
    const d = normDim(this.dim, x.ndim, 'Unflatten');
    const n = x.shape[d],
      s = this.unflattenedSize.slice();
    const known = s.reduce((a, v) => (v === -1 ? a : a * v), 1);
    const free = s.indexOf(-1);
    if (free >= 0 && known > 0 && n % known === 0) s[free] = n / known;
    if (s.includes(-1) || s.reduce((a, v) => a * v, 1) !== n)
      throw new KilnError(
        'ERR_SHAPE',
        `Unflatten: sizes [${this.unflattenedSize.join(', ')}] do not multiply to dim ${d} of ${shapeStr(x.shape)}`,
      );
    return x.reshape([...x.shape.slice(0, d), ...s, ...x.shape.slice(d + 1)]);
  }
  override extraRepr(): string {
    return `dim=${this.dim}, unflattenedSize=[${this.unflattenedSize.join(', ')}]`;
  }
}
