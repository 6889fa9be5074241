// The 1x1 convolution path (native/cpu/conv.cpp: pointwise_fwd_f32, the forward and, transposed,
// the input gradient; the weight gradient read in place): float32 forward and input, weight and
// bias gradients against the float64 path, and the same bits for 1, 2 and 3 threads; each also with
// every batch of small images taken (KILN_CONV_IMAGE_BATCH=1: the images side by side through
// the GEMM driver) and with none (=0).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CONV_POINTWISE_CASES } from '../helpers/conv_pointwise_fingerprint';
import { convPathResults } from '../helpers/conv_paths_fingerprint';
import { withEnv } from '../helpers/env';
import { assertSameBitsAcrossThreads } from '../helpers/threads';

/** Runs f with KILN_CONV_IMAGE_BATCH set to `mode` (undefined: unset), restoring it after. */
const withBatch = <T>(mode: string | undefined, f: () => T): T => withEnv('KILN_CONV_IMAGE_BATCH', mode, f);

test('1, 2 and 3 threads give identical bits on the 1x1 path', () =>
  assertSameBitsAcrossThreads('conv_pointwise_fingerprint.ts'));

test('1, 2 and 3 threads give identical bits with every image batch taken (KILN_CONV_IMAGE_BATCH=1)', () =>
  withBatch('1', () => assertSameBitsAcrossThreads('conv_pointwise_fingerprint.ts')));

test('float32 1x1 forward and gradients match the float64 path (partial tiles, K blocks, groups), per image and batched', () => {
  for (const mode of ['0', '1'])
    CONV_POINTWISE_CASES.forEach(([name, xs, ws, o], i) => {
      const got = withBatch(mode, () => convPathResults(xs, ws, o, 300 + i, 'float32'));
      const want = convPathResults(xs, ws, o, 300 + i, 'float64');
      for (const k of Object.keys(want)) {
        // Relative to the RMS of the result: sums of Cg (forward), Kg (grad input) or N*H*W (grad
        // weight) float32 products of unit-variance draws.
        const rms = Math.sqrt(want[k].mul(want[k]).mean().item() as number);
        // (a NaN anywhere makes err NaN, which fails the check)
        const err = (got[k].to('float64').sub(want[k]).abs().amax().item() as number) / rms;
        assert.ok(err < 1e-5, `${name} ${k}: float32 differs from float64 by ${err} of the RMS`);
      }
    });
});

test.run();
