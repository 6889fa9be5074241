#!/usr/bin/env bash
# Builds test/native/isa_kernels_test.cpp, gemm_kernels_test.cpp, gemm_f64_kernels_test.cpp,
# math_f64_kernels_test.cpp and conv_depthwise_kernels_test.cpp
# with the per-ISA kernel tables
# (each arch file with exactly the flags the build manifest gives it) and runs them: natively on
# x86-64 or AArch64, then AArch64 again under qemu-aarch64 when a cross compiler is installed, so NEON
# is checked from any host. The test args go to isa_kernels_test; the others take none.
# Usage: scripts/test_isa_native.sh [test args, e.g. --bench]. CXX overrides the native compiler.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tests=(isa_kernels_test gemm_kernels_test gemm_f64_kernels_test math_f64_kernels_test conv_depthwise_kernels_test)
arch_dir="$root/native/cpu/arch"
# Compile flags come from the build manifest (native/sources.json), never a second list: the
# addon's own (optimisation included: the kernels are tested as they ship), then the ISA flags.
read -ra flags_base <<<"$(node "$root/scripts/manifest.js" cflags)"
common=("${flags_base[@]}" -Wextra -Werror -I"$root/native/include" -I"$root/native/core")
read -ra flags_avx2 <<<"$(node "$root/scripts/manifest.js" arch-cflags x64 avx2)"
read -ra flags_avx512 <<<"$(node "$root/scripts/manifest.js" arch-cflags x64 avx512)"
read -ra flags_avx512bf16 <<<"$(node "$root/scripts/manifest.js" arch-cflags x64 avx512bf16)"

# build <compiler> <out dir> <extra link flags...>: objects per file so ISA flags stay per file.
build() {
  local cxx=$1 out=$2
  shift 2
  mkdir -p "$out"
  local target
  target=$("$cxx" -dumpmachine)
  "$cxx" "${common[@]}" -c "$arch_dir/generic.cpp" -o "$out/generic.o"
  "$cxx" "${common[@]}" -c "$root/native/core/cpu_features.cpp" -o "$out/cpu_features.o"
  local test
  for test in "${tests[@]}"; do
    "$cxx" "${common[@]}" -I"$arch_dir" -c "$root/test/native/$test.cpp" -o "$out/$test.o"
  done
  local objs=("$out/generic.o" "$out/cpu_features.o")
  case "$target" in
    x86_64*)
      "$cxx" "${common[@]}" "${flags_avx2[@]}" -c "$arch_dir/avx2.cpp" -o "$out/avx2.o"
      "$cxx" "${common[@]}" "${flags_avx512[@]}" -c "$arch_dir/avx512.cpp" -o "$out/avx512.o"
      "$cxx" "${common[@]}" "${flags_avx512bf16[@]}" -c "$arch_dir/avx512_bf16.cpp" -o "$out/avx512_bf16.o"
      objs+=("$out/avx2.o" "$out/avx512.o" "$out/avx512_bf16.o")
      ;;
    aarch64*)
      "$cxx" "${common[@]}" -c "$arch_dir/neon.cpp" -o "$out/neon.o"
      objs+=("$out/neon.o")
      ;;
  esac
  for test in "${tests[@]}"; do
    "$cxx" "$@" "${objs[@]}" "$out/$test.o" -o "$out/$test"
  done
}

echo "== native ($(uname -m))"
build "${CXX:-g++}" "$tmp/native"
"$tmp/native/isa_kernels_test" "$@"
"$tmp/native/gemm_kernels_test"
"$tmp/native/gemm_f64_kernels_test"
"$tmp/native/math_f64_kernels_test"
"$tmp/native/conv_depthwise_kernels_test"

echo "== aarch64 under qemu"
qemu=$(command -v qemu-aarch64 || command -v qemu-aarch64-static || true)
if [[ "$(uname -m)" == aarch64 ]]; then
  echo "skipped: native run above was aarch64"
elif ! command -v aarch64-linux-gnu-g++ >/dev/null; then
  echo "skipped: no aarch64 cross compiler (apt-get install g++-aarch64-linux-gnu qemu-user)"
elif [[ -z "$qemu" ]]; then
  echo "skipped: no qemu-aarch64 (apt-get install qemu-user)"
else
  build aarch64-linux-gnu-g++ "$tmp/aarch64" -static
  # Emulation is ~20x slower: sample the accuracy sweep more sparsely; no timing under emulation.
  args=()
  for a in "$@"; do [[ "$a" == --bench ]] || args+=("$a"); done
  "$qemu" "$tmp/aarch64/isa_kernels_test" --sweep-step 8191 ${args[@]+"${args[@]}"}
  "$qemu" "$tmp/aarch64/gemm_kernels_test"
  "$qemu" "$tmp/aarch64/gemm_f64_kernels_test"
  "$qemu" "$tmp/aarch64/math_f64_kernels_test"
  "$qemu" "$tmp/aarch64/conv_depthwise_kernels_test"
fi
