#!/usr/bin/env bash
# Builds the standalone CUDA launcher tests (native/cuda/test/*_test.cu) against every launcher in
# native/cuda/kernels into build-cuda-tests/, for the GPU machine (scripts/gpu_check.sh runs them).
# Usage: scripts/build_cuda_tests.sh [test-name ...]   (default: all); ARCH=sm_90a by default.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${ARCH:-sm_90a}
out=build-cuda-tests
mkdir -p "$out/obj"
flags=(-std=c++17 -O3 -arch="$arch" -Inative/include -Inative/core -Inative/cuda/kernels --expt-relaxed-constexpr
  -cudart static -Xcompiler -Wall,-Wno-unused-parameter)
objs=()
for src in native/cuda/kernels/*.cu; do
  [ -e "$src" ] || continue
  obj="$out/obj/$(basename "${src%.cu}").o"
  if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find native/cuda/kernels native/core -newer "$obj" -name '*.*h' -print -quit)" ]; then
    echo "nvcc $src" >&2
    nvcc "${flags[@]}" -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  for t in native/cuda/test/*_test.cu; do [ -e "$t" ] && tests+=("$(basename "${t%.cu}")"); done
fi
for t in "${tests[@]}"; do
  echo "nvcc native/cuda/test/$t.cu" >&2
  nvcc "${flags[@]}" -Inative/cuda/test "native/cuda/test/$t.cu" "${objs[@]}" -o "$out/$t"
done
