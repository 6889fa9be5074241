// Depthwise conv2d: the stride-1 plane kernel (3x3 and 5x5, padding inside the window) and the
// fallbacks beside it against float64 on every ISA this CPU runs (forward and all three
// gradients; cases: test/helpers/conv_depthwise_cases.ts), and the same bits for 1, 2 and 3 threads.
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertSameBitsAcrossThreads } from '../helpers/threads';
import { runChecksOn } from '../helpers/isa_run';

const script = path.join(__dirname, '../helpers/conv_depthwise_cases.ts');

for (const isa of ['avx512', 'avx2', 'neon', 'generic'])
  test(`float32 depthwise matches float64 (${isa})`, () => {
    const out = runChecksOn(script, isa);
    if (!out) return;
    assert.ok(out.worst < 1e-5, `${isa}: ${out.at} differs from float64 by ${out.worst} of its largest value`);
  });

test('1, 2 and 3 threads give identical bits', () => assertSameBitsAcrossThreads('conv_depthwise_cases.ts'));

test.run();
