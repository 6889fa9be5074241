// Conformance generated from the op table: every row x dtype against its TS reference on
// edge and random shapes and layouts (test/helpers/conformance.ts, shared with test/cuda);
// prints the coverage table (a CPU gap fails the test).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { ROWS } from '../../ts/ops/table';
import { conformance, coverageTable } from '../helpers/conformance';

const coverage = conformance('cpu');

test('coverage table: every op has CPU conformance', () => {
  const n = kiln.cuda.deviceCount();
  const note = n
    ? `cuda: ${n} device(s); the CUDA column is printed by test/cuda/conformance.test.ts`
    : `cuda: ${kiln.cuda.isCompiled() ? 'compiled, but no GPU here' : 'not compiled in this build'} (test/cuda prints the CUDA column on a GPU)`;
  console.log(`\n${coverageTable([{ title: `cpu (${kiln.info().isa})`, lines: coverage }])}\n${note}\n`);
  assert.is(coverage.length, ROWS.length, 'an op is missing from the coverage table');
});

test.run();
