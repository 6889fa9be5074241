#!/usr/bin/env node
// Formatting: Prettier for TypeScript/JavaScript, clang-format (the binary shipped in the npm
// package) for C++. `--check` fails on any unformatted file (npm test runs it); without it,
// files are rewritten in place (`npm run format`). Generated files are left alone.
import { execFileSync, spawnSync } from 'child_process';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const files = (globs) =>
  execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', ...globs], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => f && !f.includes('.gen.'));

let failed = false;
const ts = files(['*.ts', '*.mjs', '*.js']);
const prettier = spawnSync(
  process.execPath,
  [
    path.join(root, 'node_modules/prettier/bin/prettier.cjs'),
    check ? '--check' : '--write',
    '--log-level',
    'warn',
    ...ts,
  ],
  { cwd: root, stdio: 'inherit' },
);
if (prettier.status !== 0) failed = true;

const cpp = files([
  'native/*.cpp',
  'native/*.h',
  'native/*.inc',
  'native/*.cu',
  'test/native/*.cpp',
  'test/native/*.inc',
  'bench/native/*.cpp',
]);
const clang = path.join(root, 'node_modules/clang-format/index.js');
const cf = spawnSync(
  process.execPath,
  [clang, ...(check ? ['--dry-run', '-Werror'] : ['-i']), '--style=file', ...cpp],
  { cwd: root, encoding: 'utf8' },
);
if (cf.status !== 0) {
  failed = true;
  process.stderr.write(
    cf.stderr
      .split('\n')
      .filter((l) => /warning|error/.test(l))
      .slice(0, 20)
      .join('\n') + '\n',
  );
}
console.log(
  failed ? `format check failed: run \`npm run format\`` : `formatted: ${ts.length} TS/JS and ${cpp.length} C++ files`,
);
process.exit(failed ? 1 : 0);
