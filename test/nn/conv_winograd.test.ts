// The Winograd path of float32 3x3 stride-1 convolution (native/cpu/winograd.cpp): forward, grad
// input (a forward on grad_out) and grad weight against the float64 direct sums on shapes with odd
// sizes (edge tiles), padding 0, 1, 2 and asymmetric, cropped and extended outputs, batch 1,
// groups, no bias, channel counts that are not multiples of 16, and more than 256 channels (the
// GEMM's split sum); and the same bits for 1, 2 and 3 threads. Winograd adds and subtracts inputs
// before the products, so its rounding differs from the direct sum's; the bound is stated in units of
// the result's RMS: the worst seen over these shapes is 2.2e-6 (the implicit GEMM's: 3.8e-6).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WINOGRAD_CASES, winogradResults } from '../helpers/conv_winograd_fingerprint';
import { assertSameBitsAcrossThreads } from '../helpers/threads';
import * as kiln from '../../ts/index';

const BOUND = 2e-4; // max |float32 - float64| / RMS(float64), per result

test('float32 Winograd results match the float64 direct sums within 1e-5 of their RMS', () => {
  let worst = 0;
  const lines: string[] = [];
  WINOGRAD_CASES.forEach((c, i) => {
    const got = winogradResults(c, 300 + i, 'float32');
    const want = winogradResults(c, 300 + i, 'float64');
    for (const k of Object.keys(want)) {
      const w = want[k];
      const rms = Math.sqrt(w.mul(w).mean().item() as number);
      const err = (got[k].to('float64').sub(w).abs().amax().item() as number) / rms;
      assert.ok(err === err, `${c.name} ${k}: NaN`);
      worst = Math.max(worst, err);
      lines.push(`${c.name} ${k}: ${err.toExponential(2)}`);
      assert.ok(err < BOUND, `${c.name} ${k}: float32 differs from float64 by ${err} of the RMS`);
    }
  });
  if (process.env.KILN_TEST_VERBOSE) console.log(lines.join('\n') + `\nworst ${worst.toExponential(2)}`);
});

test('the Winograd path is taken: its results differ from the implicit GEMM in the last bits', () => {
  const c = WINOGRAD_CASES[0];
  const wino = winogradResults(c, 7, 'float32');
  const prev = process.env.KILN_CONV_WINOGRAD;
  process.env.KILN_CONV_WINOGRAD = '0';
  try {
    const gemm = winogradResults(c, 7, 'float32');
    for (const k of ['y', 'dx'])
      assert.ok((wino[k].sub(gemm[k]).abs().amax().item() as number) > 0, `${k}: the same bits as the GEMM`);
  } finally {
    if (prev === undefined) delete process.env.KILN_CONV_WINOGRAD;
    else process.env.KILN_CONV_WINOGRAD = prev;
  }
});

test('1, 2 and 3 threads give identical bits on the Winograd path', () =>
  assertSameBitsAcrossThreads('conv_winograd_fingerprint.ts'));

void kiln;
test.run();
