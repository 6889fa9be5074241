#!/usr/bin/env node
// `npm test`: the generated-file and formatting checks, every uvu suite under test/ (TypeScript through tsx),
// then the op conformance suite again under each other ISA this CPU can run (KILN_ISA), and a
// closing "N passed, N failed" line. Exit status is non-zero when anything failed.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js');
let passed = 0,
  failed = 0;

function run(label, args, env = {}) {
  console.log(`\n=== ${label}`);
  const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  const plain = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0),
    ok = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  if (/Total:/.test(plain)) {
    passed += ok;
    failed += total - ok;
  } else if (r.status === 0) passed += 1;
  if (r.status !== 0 && !(total - ok)) failed += 1; // crashed, or a failure outside uvu's count
  return r.status === 0;
}

const suites = (dir, pattern = '\\.test\\.ts$') => [uvu, dir, pattern, '-r', 'tsx/cjs'];
run('generated op ids are current', ['-r', 'tsx/cjs', 'scripts/gen_ops.ts', '--check']);
run('formatting (Prettier, clang-format)', ['scripts/format.mjs', '--check']);
for (const dir of ['test/unit', 'test/ops', 'test/nn', 'test/train', 'test/cuda', 'test/e2e']) {
  const abs = path.join(root, dir);
  if (fs.existsSync(abs) && fs.readdirSync(abs).some((f) => f.endsWith('.test.ts'))) run(dir, suites(dir));
}

// Every ISA path: the default ran above; run the conformance suite under the others.
const probe = spawnSync(
  process.execPath,
  ['-r', 'tsx/cjs', '-e', "const k=require('./ts/index');console.log(JSON.stringify(k.info()))"],
  { cwd: root, encoding: 'utf8' },
);
const info = JSON.parse(probe.stdout.trim() || '{"supportedIsas":["generic"],"isa":"generic"}');
for (const isa of info.supportedIsas.filter((i) => i !== info.isa)) {
  run(`op conformance with KILN_ISA=${isa}`, suites('test/ops', '(conformance|gemm|gemm_f64)\\.test\\.ts$'), {
    KILN_ISA: isa,
  });
  run(`optimizers with KILN_ISA=${isa}`, suites('test/nn', 'optim\\.test\\.ts$'), { KILN_ISA: isa });
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
