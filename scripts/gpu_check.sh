#!/usr/bin/env bash
# Runs on the GPU machine (Ubuntu 24.04, H200, nvcc, compute-sanitizer, Python + PyTorch; no Node,
# no npm, no network), in one go, from a checkout carrying what scripts/pack_node.sh prepared:
#   .gpu/node.xz .gpu/js .gpu/node_modules   build-cuda/Release/kiln.node   build-cuda-tests/*_test
# 1. unpacks node; 2. runs every build-cuda-tests/*_test (JSON lines); 3. runs the test/cuda suite
# (compiled JS) on the carried CUDA addon; 4. compute-sanitizer memcheck on one small test binary;
# 5. the PyTorch reference timings (bench/gpu/torch_refs.py) when that script exists; 6. `kiln bench
# cuda` (public API, PyTorch beside it).
# Logs go to .gpu/out (packed into $OUT/gpu_logs.tgz when OUT is set); a short summary table is printed last. Each step has a timeout
# (STEP_TIMEOUT, default 300 s) so one hang cannot eat the device time.
set -uo pipefail
cd "$(dirname "$0")/.."
out=.gpu/out  # packed into $OUT/gpu_logs.tgz at the end (the device tool returns at most 8 files)
mkdir -p "$out"
step_timeout=${STEP_TIMEOUT:-300}
rows=()
row() { rows+=("$(printf '%-34s %-8s %s' "$1" "$2" "$3")"); }
t0=$(date +%s)

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv >"$out/gpu.txt" 2>&1
echo "== GPU: $(tail -n +2 "$out/gpu.txt" | head -1)"

# 1. node
node=${NODE:-}
if [ -z "$node" ]; then
  if [ -f .gpu/node.xz ]; then
    xz -dc .gpu/node.xz >/tmp/kiln-node && chmod +x /tmp/kiln-node && node=/tmp/kiln-node
  elif command -v node >/dev/null; then
    node=$(command -v node)
  fi
fi
if [ -n "$node" ] && "$node" --version >"$out/node.txt" 2>&1; then
  row "node" ok "$(cat "$out/node.txt")"
else
  row "node" FAIL "no node (.gpu/node.xz missing? run scripts/pack_node.sh)"
  node=""
fi

# 2. launcher test binaries (each prints JSON lines; a summary line carries its failure count)
shopt -s nullglob
bins=(build-cuda-tests/*_test)
for b in "${bins[@]}"; do
  name=$(basename "$b")
  s=$(date +%s)
  timeout "$step_timeout" "$b" >"$out/$name.jsonl" 2>"$out/$name.stderr"
  rc=$?
  checks=$(grep -c '"kind":"check"' "$out/$name.jsonl")
  bad=$(grep -c '"ok":false' "$out/$name.jsonl")
  fatal=$(grep -c '"kind":"fatal"' "$out/$name.jsonl")
  status=ok
  [ $rc -ne 0 ] || [ "$bad" -gt 0 ] || [ "$fatal" -gt 0 ] && status=FAIL
  [ $rc -eq 124 ] && status=TIMEOUT
  row "$name" "$status" "$checks checks, $bad failed, $fatal fatal, rc $rc, $(( $(date +%s) - s ))s"
done
[ ${#bins[@]} -eq 0 ] && row "launcher tests" SKIP "no build-cuda-tests/*_test (scripts/build_cuda_tests.sh)"

# 3. the test/cuda suite on the CUDA addon (compiled JS, no tsx)
addon=${KILN_ADDON:-build-cuda/Release/kiln.node}
if [ -n "$node" ] && [ -f "$addon" ] && [ -d .gpu/js/test/cuda ]; then
  s=$(date +%s)
  KILN_ADDON="$(pwd)/$addon" NODE_PATH="$(pwd)/.gpu/node_modules" timeout "$step_timeout" \
    "$node" .gpu/node_modules/uvu/bin.js .gpu/js/test/cuda '\.test\.js$' >"$out/test_cuda.log" 2>&1
  rc=$?
  plain=$(sed 's/\x1b\[[0-9;]*m//g' "$out/test_cuda.log")
  total=$(echo "$plain" | sed -n 's/.*Total:[[:space:]]*\([0-9]*\).*/\1/p' | tail -1)
  passed=$(echo "$plain" | sed -n 's/.*Passed:[[:space:]]*\([0-9]*\).*/\1/p' | tail -1)
  status=ok
  [ $rc -ne 0 ] && status=FAIL
  [ $rc -eq 124 ] && status=TIMEOUT
  row "test/cuda (uvu)" "$status" "${passed:-?}/${total:-?} passed, rc $rc, $(( $(date +%s) - s ))s"
  grep -h '"kind":"dispatch"' "$out/test_cuda.log" | head -1 | sed 's/^ *//' >"$out/dispatch.json"
  [ -s "$out/dispatch.json" ] && row "dispatch (tiny add_)" info "$(cat "$out/dispatch.json")"
else
  row "test/cuda (uvu)" SKIP "needs node, $addon and .gpu/js (scripts/pack_node.sh)"
fi

# 4. compute-sanitizer memcheck on one small launcher test (MEMCHECK_BIN picks another)
mc=${MEMCHECK_BIN:-}
if [ -z "$mc" ] && [ ${#bins[@]} -gt 0 ]; then mc=$(ls -S "${bins[@]}" | tail -1); fi
if [ -n "$mc" ] && command -v compute-sanitizer >/dev/null; then
  s=$(date +%s)
  KILN_TEST_QUICK=1 timeout "$step_timeout" compute-sanitizer --tool memcheck --error-exitcode 99 "$mc" --no-bench \
    >"$out/memcheck.log" 2>&1
  rc=$?
  errs=$(grep -o 'ERROR SUMMARY: [0-9]* error' "$out/memcheck.log" | tail -1)
  status=ok
  [ $rc -eq 99 ] && status=FAIL
  [ $rc -eq 124 ] && status=TIMEOUT
  row "memcheck $(basename "$mc")" "$status" "${errs:-no summary}, rc $rc, $(( $(date +%s) - s ))s"
else
  row "memcheck" SKIP "no test binary or no compute-sanitizer"
fi

# 5. hook: the lead's PyTorch timings on the same shapes
if [ -f bench/gpu/torch_refs.py ]; then
  s=$(date +%s)
  timeout "$step_timeout" python3 bench/gpu/torch_refs.py --out "$out/torch_refs.jsonl" >"$out/torch_refs.log" 2>&1
  rc=$?
  row "torch_refs.py" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" "rc $rc, $(( $(date +%s) - s ))s"
else
  row "torch_refs.py" SKIP "bench/gpu/torch_refs.py not present"
fi

# 6. kiln bench cuda: the kernels through the public API, PyTorch beside them (its python3)
if [ -n "$node" ] && [ -f "$addon" ] && [ -f .gpu/js/ts/bench/cli.js ]; then
  s=$(date +%s)
  KILN_ADDON="$(pwd)/$addon" NODE_PATH="$(pwd)/.gpu/node_modules" KILN_BENCH_PYTHON=${KILN_BENCH_PYTHON:-python3} \
    timeout "$step_timeout" "$node" .gpu/js/ts/bench/cli.js cuda --markdown --reps 11 --no-chart \
    --json "$out/cuda_bench.json" >"$out/cuda_bench.md" 2>"$out/cuda_bench.stderr"
  rc=$?
  row "kiln bench cuda" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" "rc $rc, $(( $(date +%s) - s ))s"
else
  row "kiln bench cuda" SKIP "needs node, $addon and .gpu/js/ts/bench (scripts/pack_node.sh)"
fi

echo
echo "== summary ($(( $(date +%s) - t0 ))s; logs in $out)"
printf '%-34s %-8s %s\n' "step" "status" "detail"
printf '%s\n' "${rows[@]}" | tee "$out/summary.txt"
if [ -n "${OUT:-}" ]; then
  tar -czf "$OUT/gpu_logs.tgz" -C .gpu out && cp "$out/summary.txt" "$OUT/summary.txt"
fi
printf '%s\n' "${rows[@]}" | grep -qE '^\S+.* (FAIL|TIMEOUT) ' && exit 1
exit 0
