#!/usr/bin/env bash
# Prepares what the GPU machine (no Node, no npm, no network) needs to run the CUDA tests, in the
# ignored folder .gpu/ (carry it with build-cuda/Release/kiln.node and build-cuda-tests/):
#   .gpu/node.xz         this machine's node binary, stripped and xz-compressed (~22 MB)
#   .gpu/js/             ts/ and the test/cuda + test/helpers suites compiled to CommonJS (tsc)
#   .gpu/node_modules/   the few packages those need at run time (uvu and its dependencies)
# Then prints the sizes; the whole carried set must stay under 64 MiB.
# Build the addon for the device run first: KILN_CUDA_ARCHS=90a npm run build:cuda
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu
node_bin=$(command -v node)
if [ ! -f .gpu/node.xz ] || [ "$node_bin" -nt .gpu/node.xz ]; then
  cp "$node_bin" .gpu/node
  strip .gpu/node 2>/dev/null || true
  xz -T0 -6 -f .gpu/node
fi
rm -rf .gpu/js
npx tsc -p tsconfig.gpu.json
# Runtime packages of the compiled suites: uvu (the runner) and its dependencies.
rm -rf .gpu/node_modules && mkdir -p .gpu/node_modules
for p in uvu dequal diff kleur sade mri; do
  [ -d "node_modules/$p" ] && cp -rL "node_modules/$p" .gpu/node_modules/
done
echo "carried set:"
parts=()
for p in .gpu/node.xz .gpu/js .gpu/node_modules build-cuda/Release/kiln.node build-cuda-tests; do [ -e "$p" ] && parts+=("$p"); done
du -sh "${parts[@]}"
total=$(du -scb "${parts[@]}" | tail -1 | cut -f1)
echo "total: $((total / 1048576)) MiB (limit 64 MiB)"
[ "$total" -lt $((64 * 1048576)) ] || { echo "too large to carry"; exit 1; }
