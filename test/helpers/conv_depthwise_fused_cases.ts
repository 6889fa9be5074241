// The fused stride-1 depthwise backward (conv2d_backward) against the separate ops on the stride-1
// cases of conv_depthwise_cases.ts and MobileNet-sized planes (7 to 56 wide, blocks of many planes
// and of one), for every subset of two or three gradients:
//   node -r tsx/cjs test/helpers/conv_depthwise_fused_cases.ts check   one JSON line {isa, cases,
//     bad (grad input / weight not bit for bit those of conv2d_backward_input / _weight), worstDb
//     (grad bias against a float64 sum, relative to its largest value), at}
//   node -r tsx/cjs test/helpers/conv_depthwise_fused_cases.ts         a fingerprint (threads.ts)
import * as kiln from '../../ts/index';
import type { ConvGeometry } from '../../ts/ops/conv';
import { depthwiseCases } from './conv_depthwise_cases';
import { FusedCheck, fusedAndSeparate } from './conv_fused_check';

/** name, input [N, C, H, W], kernel size, padding (top, left). */
type FusedCase = [string, number[], number, [number, number]];

export function fusedCases(): FusedCase[] {
  const cases: FusedCase[] = [];
  for (const [name, xs, ws, o] of depthwiseCases()) {
    if (o?.stride !== undefined || o?.dilation !== undefined || ws[0] !== xs[1]) continue;
    const p = o?.padding ?? 0;
    const pad: [number, number] = typeof p === 'number' ? [p, p] : (p as [number, number]);
    if (pad[0] >= ws[2] || pad[1] >= ws[2]) continue;
    cases.push([name, xs, ws[2], pad]);
  }
  cases.push(['3x3 N3 C40 7x7', [3, 40, 7, 7], 3, [1, 1]]);
  cases.push(['3x3 N2 C9 28x28', [2, 9, 28, 28], 3, [1, 1]]);
  cases.push(['3x3 N2 C3 70x66', [2, 3, 70, 66], 3, [1, 1]]);
  cases.push(['5x5 N2 C90 6x6', [2, 90, 6, 6], 5, [2, 2]]);
  return cases;
}

const geoOf = (C: number, pad: [number, number]): ConvGeometry => ({
  stride: [1, 1],
  padding: pad,
  dilation: [1, 1],
  groups: C,
});

/** The fused op's gradients of one case for `want`, and the separate ops' dx and dw. */
export function fusedResults(c: FusedCase, seed: number, want: boolean[]) {
  const [, xs, R, pad] = c;
  const [N, C, H, W] = xs;
  kiln.manualSeed(seed);
  const x = kiln.randn(xs),
    w = kiln.randn([C, 1, R, R]),
    gy = kiln.randn([N, C, H + 2 * pad[0] - R + 1, W + 2 * pad[1] - R + 1]);
  const geo = geoOf(C, pad);
  return fusedAndSeparate(gy, x, w, geo, want);
}

const WANTS = [
  [true, true, true],
  [true, true, false],
  [true, false, true],
  [false, true, true],
];

if (require.main === module) {
  const cases = fusedCases();
  const check = new FusedCheck();
  cases.forEach((c, i) =>
    kiln.scope(() => {
      const want = WANTS[i % WANTS.length];
      check.add(c[0], want, fusedResults(c, 500 + i, want));
    }),
  );
  check.print();
}
