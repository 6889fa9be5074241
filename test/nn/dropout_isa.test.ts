// Dropout's float32 mask on every ISA this CPU runs (KILN_ISA in a child process): the op's bits
// against the plain-JS Philox reference (helpers/dropout_cases.ts), through the AVX-512 kernel's
// blocks, tails, task starts and streamed stores.
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runChecksOn } from '../helpers/isa_run';

const script = path.join(__dirname, '../helpers/dropout_cases.ts');

for (const isa of ['avx512', 'avx2', 'neon', 'generic'])
  test(`float32 dropout equals the Philox reference bit for bit (${isa})`, () => {
    const out = runChecksOn(script, isa);
    if (!out) return;
    assert.ok(out.checked > 1e6, `${isa}: only ${out.checked} elements checked`);
    assert.is(out.bad, 0, `${isa}: ${out.bad} elements differ, first ${out.at}`);
  });

test.run();
