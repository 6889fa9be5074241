// Depthwise conv2d cases around the stride-1 plane kernel's edges (widths 1..40 around 16 and 32
// lanes, heights 1..9, padding 0 and 1 (2 for 5x5), 3x3 and 5x5, with and without bias, batch 1
// and 3) and the fallbacks beside it (channel multiplier 2, stride 2, padding past the window):
// forward and all three gradients.
//   node -r tsx/cjs test/helpers/conv_depthwise_cases.ts check   the worst float32 error against
//     float64, relative to the largest value of each result, as one JSON line {worst, at}
//   node -r tsx/cjs test/helpers/conv_depthwise_cases.ts         a fingerprint (threads.ts)
import * as kiln from '../../ts/index';
import { ResultHash } from './result_hash';

type Opts = Parameters<typeof kiln.nn.functional.conv2d>[3];
/** name, input [N, C, H, W], weight [K, 1, R, R], options, bias. */
export type DepthwiseCase = [string, number[], number[], Opts, boolean];

export function depthwiseCases(): DepthwiseCase[] {
  const cases: DepthwiseCase[] = [];
  for (let W = 1; W <= 40; W++) {
    const H = 1 + (W % 9),
      R = W % 4 === 3 ? 5 : 3,
      pad = W % 2 === 0 ? (R - 1) / 2 : 0,
      N = W % 3 === 0 ? 3 : 1,
      bias = W % 5 !== 0;
    if (H + 2 * pad < R || W + 2 * pad < R) continue;
    cases.push([`${R}x${R} ${H}x${W} pad ${pad}`, [N, 2, H, W], [2, 1, R, R], { padding: pad, groups: 2 }, bias]);
  }
  for (const H of [1, 2, 3, 4, 5, 6, 7, 8, 9])
    cases.push([`3x3 ${H}x17 pad 1`, [1, 3, H, 17], [3, 1, 3, 3], { padding: 1, groups: 3 }, true]);
  cases.push(['3x3 28x28 pad 1', [3, 4, 28, 28], [4, 1, 3, 3], { padding: 1, groups: 4 }, true]);
  cases.push(['3x3 9x56 pad 1', [1, 2, 9, 56], [2, 1, 3, 3], { padding: 1, groups: 2 }, true]);
  cases.push(['3x3 5x77 pad 1', [1, 2, 5, 77], [2, 1, 3, 3], { padding: 1, groups: 2 }, false]);
  cases.push(['3x3 pad 2 0', [2, 2, 6, 9], [2, 1, 3, 3], { padding: [2, 0], groups: 2 }, true]);
  cases.push(['5x5 pad 1 3', [1, 2, 8, 21], [2, 1, 5, 5], { padding: [1, 3], groups: 2 }, true]);
  cases.push(['5x5 7x7 pad 2', [3, 3, 7, 7], [3, 1, 5, 5], { padding: 2, groups: 3 }, true]);
  cases.push(['3x3 multiplier 2', [3, 3, 7, 19], [6, 1, 3, 3], { padding: 1, groups: 3 }, true]);
  cases.push(['3x3 stride 2', [3, 3, 9, 20], [3, 1, 3, 3], { stride: 2, padding: 1, groups: 3 }, true]);
  cases.push(['3x3 padding 3', [1, 2, 5, 6], [2, 1, 3, 3], { padding: 3, groups: 2 }, true]);
  cases.push(['3x3 dilation 2', [1, 2, 9, 18], [2, 1, 3, 3], { padding: 2, dilation: 2, groups: 2 }, true]);
  return cases;
}

/** Forward and the input, weight and bias gradients of one case in `dtype` from float32 draws. */
export function depthwiseResults(
  c: DepthwiseCase,
  seed: number,
  dtype: 'float32' | 'float64',
): Record<string, kiln.Tensor> {
  const [, xs, ws, o, withBias] = c;
  kiln.manualSeed(seed);
  const x = kiln.randn(xs).to(dtype).requiresGrad_(),
    w = kiln.randn(ws).to(dtype).requiresGrad_(),
    b = withBias ? kiln.randn([ws[0]]).to(dtype).requiresGrad_() : null;
  const y = kiln.nn.functional.conv2d(x, w, b, o);
  const gy = kiln.randn([...y.shape]).to(dtype);
  y.mul(gy).sum().backward();
  const r: Record<string, kiln.Tensor> = { y: y.detach(), dx: x.grad!, dw: w.grad! };
  if (b) r.db = b.grad!;
  return r;
}

if (require.main === module) {
  const cases = depthwiseCases();
  if (process.argv[2] !== 'check') {
    const hash = new ResultHash();
    cases.forEach((c, i) => hash.addAll(c[0], depthwiseResults(c, 300 + i, 'float32')));
    hash.print();
  } else {
    let worst = 0,
      at = '';
    cases.forEach((c, i) => {
      const got = depthwiseResults(c, 300 + i, 'float32'),
        want = depthwiseResults(c, 300 + i, 'float64');
      for (const k of Object.keys(want)) {
        const scale = Math.max(1, want[k].abs().amax().item() as number);
        let err = (got[k].to('float64').sub(want[k]).abs().amax().item() as number) / scale;
        if (!(err <= 1e3)) err = 1e3; // NaN or Infinity: a plain number in JSON
        if (err > worst) ((worst = err), (at = `${c[0]} ${k}`));
      }
    });
    console.log(JSON.stringify({ isa: kiln.info().isa, worst, at }));
  }
}
