// The op conformance suite, parameterised by device: every row x dtype against its TS reference
// on the row's edge and random shapes and layouts. On a CUDA device the inputs are created there
// (kiln.setDefaultDevice), so the same cases compare the CUDA kernels with the references the CPU
// backend passes; rows whose kernel the device lacks are listed as missing in the coverage table.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { OP } from '../../ts/ops/op_ids.gen';
import { ROWS } from '../../ts/ops/table';
import { rngFrom } from '../../ts/ops/samples';
import { mismatch } from './compare';

export interface CoverageLine {
  op: string;
  kind: string;
  dtypes: number;
  result: string;
  grad: string;
}

/** The native op id of a row, or null for rows without their own kernel (views, composites). */
export function rowOp(name: string): number | null {
  const id = (OP as Record<string, number>)[name.toUpperCase()];
  return id === undefined ? null : id;
}

/** Registers one uvu test per row on `device`; returns the coverage lines they fill. */
export function conformance(device: kiln.Device): CoverageLine[] {
  const coverage: CoverageLine[] = [];
  const cuda = device !== 'cpu';
  for (const row of ROWS) {
    const label = cuda ? device : kiln.info().isa;
    test(`${row.name} matches its reference (${label})`, () => {
      const grad = 'nondiff' in row.grad ? 'nondiff' : 'yes';
      const line = { op: row.name, kind: row.kind, dtypes: row.dtypes.length, result: '', grad };
      coverage.push(line);
      const id = rowOp(row.name);
      if (cuda && row.native && id !== null && !kiln.cuda.hasKernel(id)) {
        line.result = 'missing';
        return;
      }
      const rng = rngFrom(0x5eed ^ (row.name.length * 7919));
      let n = 0;
      if (cuda) kiln.setDefaultDevice(device);
      try {
        for (const dtype of row.dtypes) {
          const cases = row.cases(rng, dtype);
          assert.ok(cases.length > 0, `${row.name} has no cases for ${dtype}`);
          for (const c of cases) {
            if (cuda && c.got.device !== device && c.got.numel() > 0)
              assert.unreachable(`${row.name} ${dtype} ${c.label}: result on ${c.got.device}, expected ${device}`);
            const err = mismatch(c.got, c.want, c.tol ?? 4);
            c.got.dispose();
            if (err) assert.unreachable(`${row.name} ${dtype} ${c.label}: ${err}`);
            n++;
          }
        }
      } catch (e) {
        // A launcher this build lacks (its family not linked yet): listed as missing, not a failure.
        if (cuda && (e as kiln.KilnError).code === 'ERR_NOT_COMPILED') {
          line.result = 'missing';
          return;
        }
        line.result = `FAIL: ${(e as Error).message.slice(0, 120)}`;
        throw e;
      } finally {
        if (cuda) kiln.setDefaultDevice('cpu');
      }
      line.result = `${n} cases`;
    });
  }
  return coverage;
}

/** The coverage table: one line per row with the given device columns (each a map op -> result). */
export function coverageTable(columns: { title: string; lines: CoverageLine[] }[]): string {
  const head = 'op'.padEnd(30) + 'kind'.padEnd(10) + 'dtypes'.padEnd(8);
  const out = [head + columns.map((c) => c.title.padEnd(22)).join('') + 'gradient'];
  const base = columns[0].lines;
  for (const l of base) {
    const cells = columns.map((c) => (c.lines.find((x) => x.op === l.op)?.result ?? '-').slice(0, 20).padEnd(22));
    out.push(l.op.padEnd(30) + l.kind.padEnd(10) + String(l.dtypes).padEnd(8) + cells.join('') + l.grad);
  }
  return out.join('\n');
}
