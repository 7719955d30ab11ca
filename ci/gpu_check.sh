#!/usr/bin/env bash
# GPU runner: build the CUDA wheel in place, run the GPU tests, then the GPU benchmark.
#   bash ci/gpu_check.sh [--logs DIR] [--quick] [--no-build] [--no-bench] [--memcheck]
#                        [dataset.npz ...]
# Order: build, tests/gpu, one benchmark per dataset ("synthetic", the default: 1M
# clustered vectors), then the CPU suite against the CUDA build (skipped with --quick),
# then (--memcheck) the small GPU tests under compute-sanitizer's memcheck.
# Needs nvcc and a CUDA device. CuPy and PyTorch are optional: with CuPy the
# device-array tests run, and the benchmark compares exact search with PyTorch's
# matmul + topk on the same card (CuPy's matmul + argpartition without PyTorch). Every step runs even when an earlier one
# failed (one call on a lent machine should report everything); the exit status is that
# of the first failing step. Logs and the benchmark tables go to DIR (default: none).
#   WARPSEARCH_CUDA_ARCHS=90   build for one architecture only (faster build)
#   PYTHON=python3             interpreter to build and test with
set -uo pipefail
cd "$(dirname "$0")/.."
logs=""
quick=0
build=1
bench=1
memcheck=0
data=()
while [ $# -gt 0 ]; do
  case "$1" in
    --logs) logs=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-build) build=0; shift ;;  # test the warpsearch already installed
    --no-bench) bench=0; shift ;;
    --memcheck) memcheck=1; shift ;;
    *) data+=("$1"); shift ;;
  esac
done
PY=${PYTHON:-$(command -v python3 || command -v python)}
[ -n "$logs" ] && mkdir -p "$logs"
log() { if [ -n "$logs" ]; then tee -a "$logs/$1"; else cat; fi; }
status=0
step() {  # step NAME LOGFILE COMMAND...: run, log, remember the first failure
  local name=$1 file=$2; shift 2
  local t0=$SECONDS
  echo "=== $name"
  "$@" 2>&1 | log "$file"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc in $((SECONDS - t0)) s"
  if [ "$rc" -ne 0 ] && [ "$status" -eq 0 ]; then status=$rc; fi
  return 0
}

export WARPSEARCH_CPU_ONLY=OFF
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv 2>&1 | log env.txt
[ "$build" -eq 1 ] && step build build.log "$PY" -m pip install --no-build-isolation --no-deps -v .
step build_info build.log "$PY" - <<'PY'
import warpsearch as ws
info = ws.build_info()
print(info)
if not info["cuda_compiled"]:
    raise SystemExit("gpu_check: the build has no CUDA (is nvcc on PATH?)")
if info["cuda_devices"] == 0:
    raise SystemExit("gpu_check: no CUDA device visible")
PY
[ "$status" -ne 0 ] && exit "$status"  # nothing to test without a CUDA build and a device
# the package sources live in python/warpsearch, so the installed build is the one imported
timeout_opt=()
"$PY" -c "import pytest_timeout" 2>/dev/null && timeout_opt=(--timeout 300)
# with pytest-xdist, a test that crashes the interpreter takes down one worker, not the run
# (pytest-benchmark, where installed, warns under xdist; the suite turns warnings into errors)
xdist=()
"$PY" -c "import xdist" 2>/dev/null && xdist=(-n "$(( $(nproc) < 8 ? $(nproc) : 8 ))")
"$PY" -c "import pytest_benchmark" 2>/dev/null && xdist+=(-p no:benchmark)
step tests_gpu tests_gpu.log "$PY" -m pytest -q -rfE -p no:cacheprovider "${xdist[@]}" \
  "${timeout_opt[@]}" tests/gpu
if [ ${#data[@]} -eq 0 ] && [ "$bench" -eq 1 ]; then data=(""); fi
i=0
for d in "${data[@]+"${data[@]}"}"; do
  i=$((i + 1))
  if [ -n "$d" ] && [ "$d" != synthetic ]; then
    step "bench $d" "bench$i.md" "$PY" benchmarks/gpu_bench.py "$d"
  else
    step "bench synthetic" "bench$i.md" "$PY" benchmarks/gpu_bench.py
  fi
done
if [ "$quick" -eq 0 ]; then
  # the CPU suite too: with a device present, device="auto" takes other paths
  step tests_all tests_all.log "$PY" -m pytest -q -rfE -p no:cacheprovider "${xdist[@]}" \
    "${timeout_opt[@]}" tests --ignore=tests/gpu
fi
if [ "$memcheck" -eq 1 ]; then
  if command -v compute-sanitizer >/dev/null; then
    step memcheck memcheck.log compute-sanitizer --tool memcheck --error-exitcode 9 \
      "$PY" -m pytest -q -p no:cacheprovider -p no:benchmark tests/gpu -k small
  else
    echo "=== memcheck: compute-sanitizer not found"
  fi
fi
exit "$status"
