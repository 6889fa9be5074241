// End to end: the example runs, and a package whose binary is missing says what it tried and
// how to fix it (instead of crashing).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = path.join(__dirname, '..', '..');

test('examples/basics.ts runs', () => {
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', 'examples/basics.ts'], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /loss \d+\.\d{4} grad shape 784x10/);
  assert.match(r.stdout, /tensor\(\[/);
});

test('a missing binary gives an actionable ERR_NOT_COMPILED', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-nobin-'));
  try {
    fs.cpSync(path.join(root, 'ts'), path.join(dir, 'ts'), { recursive: true });
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'kiln', version: '0.0.0' }));
    const script =
      "try { require('./ts/index').ones([1]); console.log('loaded?!'); } catch (e) { console.log(e.code + ' ' + e.message); }";
    const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: dir, encoding: 'utf8' });
    assert.match(r.stdout, /^ERR_NOT_COMPILED kiln: could not load the native addon/);
    assert.match(r.stdout, /npm rebuild kiln/);
    assert.match(r.stdout, /prebuilds/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
