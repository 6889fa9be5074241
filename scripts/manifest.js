#!/usr/bin/env node
// Prints parts of native/sources.json for binding.gyp's <!@(...) expansions:
//   node scripts/manifest.js sources | include_dirs | defines | cflags | libraries | arch-sources <arch> <isa> | arch-cflags <arch> <isa>
'use strict';
const path = require('path');
const m = require(path.join(__dirname, '..', 'native', 'sources.json'));
const [what, arch, isa] = process.argv.slice(2);
const out = {
  sources: () => [...m.core, ...m.cpu, ...m.napi, ...m.cuda_stub],
  include_dirs: () => m.include_dirs,
  defines: () => m.defines,
  cflags: () => m.cflags,
  libraries: () => m.libraries,
  'arch-sources': () => ((m.arch[arch] || {})[isa] || { sources: [] }).sources,
  'arch-cflags': () => ((m.arch[arch] || {})[isa] || { cflags: [] }).cflags,
}[what];
if (!out) {
  console.error(`manifest.js: unknown query ${what}`);
  process.exit(2);
}
process.stdout.write(out().join(' '));
