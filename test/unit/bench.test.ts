// Smoke test of the bench harness (ts/bench/): argument forms, every bench at tiny sizes with
// well-formed records and flat memory, and the --threads path through a child process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as kiln from '../../ts/index';
import { main, parseArgs, runBenches } from '../../ts/bench/cli';
import type { BenchRecord } from '../../ts/bench/harness';

test('the bin form (`bench <name>`) and the npm form (`<name>`) parse alike', () => {
  const a = parseArgs(['bench', 'sum', '--max', '1e5', '--threads', '1,2']);
  const b = parseArgs(['sum', '--max', '1e5', '--threads', '1,2']);
  assert.equal(a, b);
  assert.is(a.opts.max, 1e5);
  assert.equal(a.threads, [1, 2]);
  assert.is(parseArgs(['all']).opts.max, 1e7);
  assert.is(parseArgs(['dispatch', '--quick', '--reps', '5']).opts.reps, 5, 'explicit options win over --quick');
  assert.throws(() => parseArgs(['nope']), /unknown bench/);
  assert.throws(() => parseArgs(['sum', '--max', '0']), /positive/);
  assert.throws(() => parseArgs(['sum', '--fast']), /unknown option/);
});

test('every bench runs at tiny sizes, checks itself and leaves memory flat', async () => {
  const before = kiln.memory();
  const records = await runBenches(parseArgs(['all', '--quick']));
  const after = kiln.memory();
  assert.is(after.numTensors, before.numTensors, 'a bench left tensors alive');
  assert.is(after.numBytes, before.numBytes);
  const benches = new Set(records.map((r) => r.bench));
  assert.equal([...benches], ['elementwise', 'sum', 'dispatch']);
  for (const r of records) {
    const at = `${r.bench} ${r.name} ${r.impl} [${r.shape}]`;
    assert.ok(r.minMs > 0 && r.minMs <= r.medianMs && r.medianMs <= r.maxMs, `${at}: min/median/max out of order`);
    assert.ok(Number.isFinite(r.value) && r.value > 0, `${at}: rate ${r.value}`);
    for (const v of Object.values(r.ratios)) assert.ok(Number.isFinite(v) && v > 0, `${at}: ratio ${v}`);
    assert.is(r.threads, kiln.info().numThreads);
    assert.is(r.machine.isa, kiln.info().isa);
    assert.ok(r.date && r.machine.cpu);
  }
  const add = records.find((r) => r.bench === 'elementwise' && r.name === 'add' && r.impl === 'kiln');
  assert.ok(add && 'copy' in add.ratios, 'add is compared with the copy bandwidth');
  const copies = records.filter((r) => r.bench === 'elementwise' && r.name === 'copy' && r.shape[0] === 1000);
  assert.equal(
    copies.map((r) => r.impl),
    ['kiln copy_', 'TypedArray.set', 'Buffer.copy'],
  );
  const best = Math.max(...copies.map((r) => r.value));
  assert.ok(Math.abs(add!.ratios.copy - add!.value / best) < 1e-9, 'the copy ratio is against the fastest copy');
  assert.equal(add?.shape, [1000]);
  const disp = records.find((r) => r.bench === 'dispatch' && r.impl === 'kiln' && r.name === 'add');
  assert.ok(disp && disp.unit === 'ns/op' && '1 µs target' in disp.ratios);
});

test('--threads runs each count in a child process and merges the JSON', async () => {
  const file = path.join(os.tmpdir(), `kiln-bench-test-${process.pid}.json`);
  const log = console.log;
  console.log = () => {};
  let code: number;
  try {
    code = await main(['bench', 'dispatch', '--quick', '--threads', '1', '--json', file]);
  } finally {
    console.log = log;
  }
  assert.is(code, 0);
  const records = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchRecord[];
  fs.unlinkSync(file);
  assert.ok(records.length > 0);
  for (const r of records) assert.is(r.threads, 1, 'the child ran with KILN_NUM_THREADS=1');
});

test.run();
