// conv2d_backward on 1x1 unpadded shapes, stride 1 and strided (grad bias summed by the weight
// gradient's kernel, pointwise_bwd_weight_f32), for every subset of two or three gradients:
//   node -r tsx/cjs test/helpers/conv_pointwise_fused_cases.ts check   one JSON line {isa, cases,
//     bad (grad input / weight not bit for bit those of conv2d_backward_input / _weight, or a
//     gradient returned that was not asked for), worstDb (grad bias against a float64 sum, relative
//     to its largest value), at}
//   node -r tsx/cjs test/helpers/conv_pointwise_fused_cases.ts         a fingerprint (threads.ts)
import * as kiln from '../../ts/index';
import type { ConvGeometry } from '../../ts/ops/conv';
import { FusedCheck, fusedAndSeparate } from './conv_fused_check';

/** name, input [N, C, H, W], output channels K, groups, and the stride (default [1, 1]). */
type PwCase = [string, number[], number, number, number[]?];

export const PW_FUSED_CASES: PwCase[] = [
  ['C256 K64 N8 9x10 (the bench shape, smaller): eight image blocks', [8, 256, 9, 10], 64, 1],
  ['C300 K30 N2 9x13: a partial sliver and panel', [2, 300, 9, 13], 30, 1],
  ['C7 K9 N4 5x7: one short sliver', [4, 7, 5, 7], 9, 1],
  ['C64 K64 N1 28x28: one block, slivers in runs, two pixel blocks', [1, 64, 28, 28], 64, 1],
  ['C48 K33 groups 3', [2, 48, 6, 11], 33, 3],
  ['C8 K4 groups 4: one output channel per group', [2, 8, 5, 6], 4, 4],
  ['C40 K520 N2 1x37: many panels', [2, 40, 1, 37], 520, 1],
  ['C16 K100 N2 28x28: panels in two groups, two pixel blocks', [2, 16, 28, 28], 100, 1],
  ['C2 K3 N11 1x1: one pixel, more images than blocks', [11, 2, 1, 1], 3, 1],
  ['C32 K70 N3 40x40: four pixel blocks', [3, 32, 40, 40], 70, 1],
  ['C40 K24 N3 9x10 stride 2: the pixels a stride apart', [3, 40, 9, 10], 24, 1, [2, 2]],
  ['C48 K33 groups 3 N2 7x11 stride (2, 3)', [2, 48, 7, 11], 33, 3, [2, 3]],
];

const geoOf = (groups: number, stride: number[]): ConvGeometry => ({
  stride: stride as [number, number],
  padding: [0, 0],
  dilation: [1, 1],
  groups,
});

/** The fused op's gradients of one case for `want`, the separate ops' dx and dw, and a float64 db. */
export function pwFusedResults(c: PwCase, seed: number, want: boolean[]) {
  const [, xs, K, groups, stride = [1, 1]] = c;
  const [N, C, H, W] = xs;
  kiln.manualSeed(seed);
  const x = kiln.randn(xs),
    w = kiln.randn([K, C / groups, 1, 1]),
    // a mean, so db is not a sum of cancelling draws
    gy = kiln.randn([N, K, Math.floor((H - 1) / stride[0]) + 1, Math.floor((W - 1) / stride[1]) + 1]).add(0.5);
  const geo = geoOf(groups, stride);
  return fusedAndSeparate(gy, x, w, geo, want);
}

const WANTS = [
  [true, true, true],
  [false, true, true],
  [true, true, false],
  [true, false, true],
];

if (require.main === module) {
  const check = new FusedCheck();
  PW_FUSED_CASES.forEach((c, i) =>
    WANTS.forEach((want, j) =>
      kiln.scope(() => {
        const name = `${c[0]} [${want}]`;
        check.add(name, want, pwFusedResults(c, 700 + i, want), `${name} db ${j}`);
      }),
    ),
  );
  check.print();
}
