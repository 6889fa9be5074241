#!/usr/bin/env node
// npm's install step. Default: node-gyp-build (a prebuild from prebuilds/, else compile the CPU
// addon from source with node-gyp). With KILN_CUDA=1: build the CUDA addon with cmake-js into
// build-cuda/ (needs the CUDA toolkit's nvcc and cmake-js), which ts/native.ts loads first.
// KILN_CUDA_ARCHS (e.g. 90a) narrows the GPU architectures for a quicker build.
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');
const root = path.join(__dirname, '..');

function run(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  process.exit(r.status === null ? 1 : r.status);
}

if (process.env.KILN_CUDA === '1') {
  let cmakeJs;
  try {
    cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  } catch {
    console.error('kiln: KILN_CUDA=1 needs cmake-js (npm install cmake-js), cmake and the CUDA toolkit (nvcc).');
    process.exit(1);
  }
  run([cmakeJs, 'compile', '-O', 'build-cuda', '--CDKILN_CUDA=ON']);
} else {
  // Exactly what `"install": "node-gyp-build"` ran before: its bin, in this process.
  require(require.resolve('node-gyp-build/bin.js', { paths: [root] }));
}
