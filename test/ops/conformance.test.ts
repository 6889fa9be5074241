// Conformance generated from the op table: every row x dtype against its TS reference on
// edge and random shapes and layouts; prints the coverage table (a CPU gap fails the test).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { ROWS } from '../../ts/ops/table';
import { rngFrom } from '../../ts/ops/samples';
import { mismatch } from '../helpers/compare';

const coverage: { op: string; kind: string; dtypes: number; cases: number; grad: string }[] = [];

for (const row of ROWS) {
  test(`${row.name} matches its reference (${kiln.info().isa})`, () => {
    const rng = rngFrom(0x5eed ^ (row.name.length * 7919));
    let n = 0;
    for (const dtype of row.dtypes) {
      const cases = row.cases(rng, dtype);
      assert.ok(cases.length > 0, `${row.name} has no cases for ${dtype}`);
      for (const c of cases) {
        const err = mismatch(c.got, c.want, c.tol ?? 4);
        c.got.dispose();
        if (err) assert.unreachable(`${row.name} ${dtype} ${c.label}: ${err}`);
        n++;
      }
    }
    coverage.push({
      op: row.name,
      kind: row.kind,
      dtypes: row.dtypes.length,
      cases: n,
      grad: 'nondiff' in row.grad ? 'nondiff' : 'yes',
    });
  });
}

test('coverage table: every op has CPU conformance', () => {
  const isa = kiln.info().isa;
  const lines = [`op`.padEnd(16) + 'kind'.padEnd(10) + 'dtypes'.padEnd(8) + `cpu (${isa})`.padEnd(16) + 'gradient'];
  for (const c of coverage)
    lines.push(
      c.op.padEnd(16) + c.kind.padEnd(10) + String(c.dtypes).padEnd(8) + `${c.cases} cases`.padEnd(16) + c.grad,
    );
  lines.push(`cuda: not compiled in this build (every op: no CUDA kernel yet)`);
  console.log(`\n${lines.join('\n')}\n`);
  assert.is(coverage.length, ROWS.length, 'an op is missing from the coverage table');
});

test.run();
