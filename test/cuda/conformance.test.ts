// The op conformance suite on CUDA (test/helpers/conformance.ts with a device): every op table row
// whose kernel exists on cuda:0, on the same cases and references as the CPU backend, and the
// coverage table with the CUDA column (ops without a CUDA kernel are listed as missing).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { ROWS } from '../../ts/ops/table';
import { conformance, coverageTable } from '../helpers/conformance';

if (!kiln.cuda.isAvailable()) {
  console.log('cuda conformance: skipped (no CUDA device visible; the CUDA column needs a GPU)');
} else {
  const gpu = conformance('cuda:0');
  test('coverage table with the CUDA column', () => {
    const title = `cuda:0 (${kiln.cuda.getDeviceName(0)})`.slice(0, 21);
    console.log(`\n${coverageTable([{ title, lines: gpu }])}\n`);
    const missing = gpu.filter((l) => l.result === 'missing').map((l) => l.op);
    console.log(
      `cuda: ${gpu.length - missing.length} of ${ROWS.length} rows run on the GPU; missing: ${missing.join(', ') || 'none'}`,
    );
    assert.is(gpu.length, ROWS.length, 'a row is missing from the table');
  });
}

test.run();
