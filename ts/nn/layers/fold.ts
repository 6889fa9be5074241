/** nn.Unfold and nn.Fold: modules around nn.functional's unfold (im2col) and fold (col2im). */
import { fold, unfold2d, type FoldOptions } from '../../ops/windows';
import type { Tensor } from '../../tensor';
import { Module } from '../module';

/**
 * Extracts sliding blocks from a batched image (torch.nn.Unfold): [N, C, H, W] to [N, C * kh * kw, L].
 * @example
 * new nn.Unfold(3, { padding: 1 }).forward(kiln.randn([2, 4, 8, 8])).shape; // [2, 36, 64]
 */
export class Unfold extends Module {
  constructor(
    readonly kernelSize: number | [number, number],
    readonly opts: FoldOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return unfold2d(x, this.kernelSize, this.opts);
  }
}

/**
 * Sums sliding blocks into an image (torch.nn.Fold): [N, C * kh * kw, L] to [N, C, H, W].
 * @example
 * new nn.Fold([8, 8], 3, { padding: 1 }).forward(cols).shape; // [2, 4, 8, 8]
 */
export class Fold extends Module {
  constructor(
    readonly outputSize: number | [number, number],
    readonly kernelSize: number | [number, number],
    readonly opts: FoldOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return fold(x, this.outputSize, this.kernelSize, this.opts);
  }
}
