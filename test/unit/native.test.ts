// The addon itself: loads and unloads cleanly (a process that exits at once must not hang on
// the thread pool), survives many back-to-back parallel jobs, and reports what it chose.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { checkOpTable, native } from '../../ts/native';
import { OP_COUNT } from '../../ts/ops/op_ids.gen';

const root = path.join(__dirname, '..', '..');

test('a process that loads the addon and exits at once terminates (20 times)', () => {
  for (let i = 0; i < 20; i++) {
    const r = spawnSync(process.execPath, ['-e', "require('node-gyp-build')(process.cwd())"], {
      cwd: root,
      timeout: 10000,
    });
    assert.is(r.status, 0, `run ${i}: ${r.error ?? r.stderr}`);
  }
});

test('many back-to-back parallel jobs give the same answers', () => {
  const x = kiln.arange(0, 200000).to('float32').detach();
  const want = x.sum().item();
  for (let i = 0; i < 3000; i++) {
    const s = x.sum();
    const v = s.item();
    s.dispose();
    if (v !== want) assert.unreachable(`iteration ${i}: ${v} != ${want}`);
  }
  x.dispose();
});

test('an addon built with another op table is refused (ERR_NOT_COMPILED, naming it and the fix)', () => {
  assert.is(native().info().opCount, OP_COUNT, 'the loaded addon matches');
  assert.not.throws(() => checkOpTable({ opCount: OP_COUNT }, 'here'));
  let err: unknown = null;
  try {
    checkOpTable({ opCount: OP_COUNT - 1 }, 'KILN_ADDON=/old/kiln.node');
  } catch (e) {
    err = e;
  }
  assert.instance(err, kiln.KilnError);
  const ke = err as kiln.KilnError;
  assert.is(ke.code, 'ERR_NOT_COMPILED');
  assert.match(ke.message, `KILN_ADDON=/old/kiln.node`);
  assert.match(ke.message, `${OP_COUNT - 1} ops`);
  assert.match(ke.message, 'npm rebuild kiln');
});

test('info() reports the ISA in use, supported ISAs and threads', () => {
  const i = kiln.info();
  assert.ok(i.supportedIsas.includes('generic'));
  assert.ok(i.supportedIsas.includes(i.isa));
  assert.ok(i.numThreads >= 1);
  if (process.env.KILN_ISA) assert.is(i.isa, process.env.KILN_ISA);
});

test('KILN_ISA with an unknown name falls back and says so', () => {
  const r = spawnSync(
    process.execPath,
    ['-r', 'tsx/cjs', '-e', "console.log(JSON.stringify(require('./ts/index').info()))"],
    {
      cwd: root,
      env: { ...process.env, KILN_ISA: 'sse9' },
      encoding: 'utf8',
    },
  );
  const info = JSON.parse(r.stdout.trim());
  assert.match(info.warning, /KILN_ISA=sse9 is unknown/);
});

test('worker threads get an 8 MiB stack, whatever the default for a new thread', () => {
  // glibc gives a new thread RLIMIT_STACK (here 256 KiB, as musl's default is 128 KiB): the pool
  // asks for its own size, so its workers still get 8 MiB
  const r = spawnSync(
    '/bin/sh',
    [
      '-c',
      `ulimit -s 256 && exec "${process.execPath}" -r tsx/cjs -e "const n = require('./ts/native'); ` +
        `require('./ts/index').randn([512, 512]).sum(); console.log(JSON.stringify(n.native().info()))"`,
    ],
    { cwd: root, env: { ...process.env, KILN_NUM_THREADS: '2' }, encoding: 'utf8', timeout: 60000 },
  );
  assert.is(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout.trim());
  assert.is(info.numThreads, 2);
  assert.ok(info.workerStackBytes >= 8 << 20, `workers' stack: ${info.workerStackBytes} bytes`);
});

test.run();
