// The Winograd path of float32 3x3 stride-1 convolution (native/cpu/winograd.cpp): forward, grad
// input (a forward on grad_out) and grad weight against the float64 direct sums on shapes with odd
// sizes (edge tiles), padding 0, 1, 2 and asymmetric, cropped and extended outputs, batch 1,
// groups, no bias, channel counts that are not multiples of 16, and more than 256 channels (the
// GEMM's split sum), with F(4x4) tiles (outputs at least 12 wide and high) and F(2x2) tiles; the
// same bits for 1, 2 and 3 threads; KILN_CONV_WINOGRAD=2 (F(2x2) only) and =0 (no Winograd).
// Winograd adds and subtracts inputs before the products, so its rounding differs from the direct
// sum's; the bounds are in units of the result's RMS. Worst seen over these shapes: 3.9e-5 with
// F(4x4) (bound 1e-4, 2.6x), 2.7e-6 with F(2x2) only (bound 1e-5; the implicit GEMM's: 3.8e-6).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WINOGRAD_CASES, winogradResults } from '../helpers/conv_winograd_fingerprint';
import { assertSameBitsAcrossThreads } from '../helpers/threads';
import * as kiln from '../../ts/index';
import { withEnv } from '../helpers/env';

/** Runs f with KILN_CONV_WINOGRAD set to `mode` (undefined: unset), restoring it after. */
const withMode = <T>(mode: string | undefined, f: () => T): T => withEnv('KILN_CONV_WINOGRAD', mode, f);

/** The worst max |float32 - float64| / RMS(float64) over the cases, each asserted under bound. */
function checkError(mode: string | undefined, bound: number): void {
  let worst = 0;
  const lines: string[] = [];
  WINOGRAD_CASES.forEach((c, i) => {
    const got = withMode(mode, () => winogradResults(c, 300 + i, 'float32'));
    const want = winogradResults(c, 300 + i, 'float64');
    for (const k of Object.keys(want)) {
      const w = want[k];
      const rms = Math.sqrt(w.mul(w).mean().item() as number);
      const err = (got[k].to('float64').sub(w).abs().amax().item() as number) / rms;
      assert.ok(err === err, `${c.name} ${k}: NaN`);
      worst = Math.max(worst, err);
      lines.push(`${c.name} ${k}: ${err.toExponential(2)}`);
      assert.ok(err < bound, `${c.name} ${k}: float32 differs from float64 by ${err} of the RMS`);
    }
  });
  if (process.env.KILN_TEST_VERBOSE) console.log(lines.join('\n') + `\nworst ${worst.toExponential(2)}`);
}

test('float32 Winograd results match the float64 direct sums within 1e-4 of their RMS', () =>
  checkError(undefined, 1e-4));

test('KILN_CONV_WINOGRAD=2 (F(2x2) only): within 1e-5 of the RMS', () => checkError('2', 1e-5));

test('the paths are taken: F(4x4), F(2x2) and the implicit GEMM differ in the last bits', () => {
  const differ = (a: Record<string, kiln.Tensor>, b: Record<string, kiln.Tensor>, keys: string[], what: string) => {
    for (const k of keys) assert.ok((a[k].sub(b[k]).abs().amax().item() as number) > 0, `${k}: ${what}`);
  };
  const f4 = WINOGRAD_CASES[0],
    f2 = WINOGRAD_CASES.find((c) => c.name === 'odd N1')!;
  const wino4 = withMode(undefined, () => winogradResults(f4, 7, 'float32'));
  const wino2 = withMode('2', () => winogradResults(f4, 7, 'float32'));
  differ(wino4, wino2, ['y', 'dx', 'dw'], 'F(4x4) gave the same bits as F(2x2)');
  differ(
    wino2,
    withMode('0', () => winogradResults(f4, 7, 'float32')),
    ['y', 'dx', 'dw'],
    'F(2x2) as the GEMM',
  );
  const same = (a: Record<string, kiln.Tensor>, b: Record<string, kiln.Tensor>, what: string) => {
    for (const k of ['y', 'dx', 'dw']) assert.is(a[k].sub(b[k]).abs().amax().item(), 0, `${k}: ${what}`);
  };
  // outputs under 12 wide take F(2x2) without being asked
  same(
    withMode(undefined, () => winogradResults(f2, 7, 'float32')),
    withMode('2', () => winogradResults(f2, 7, 'float32')),
    'not F(2x2) on a 25x11 output',
  );
  // under 256 output pixels in all, the implicit GEMM
  const few = { name: 'few', x: [1, 16, 13, 11], w: [64, 16, 3, 3], pad: [1, 1] as [number, number] };
  same(
    withMode(undefined, () => winogradResults(few, 7, 'float32')),
    withMode('0', () => winogradResults(few, 7, 'float32')),
    'not the implicit GEMM on 143 output pixels',
  );
});

test('1, 2 and 3 threads give identical bits on the Winograd path', () =>
  assertSameBitsAcrossThreads('conv_winograd_fingerprint.ts'));

test('1, 2 and 3 threads give identical bits with KILN_CONV_WINOGRAD=2', () =>
  withMode('2', () => assertSameBitsAcrossThreads('conv_winograd_fingerprint.ts')));

test.run();
