#!/usr/bin/env bash
# GPU runner: build the CUDA wheel in place, run the GPU tests, then the GPU benchmark.
#   bash ci/gpu_check.sh [dataset.npz]
# Needs nvcc and a CUDA device. CuPy (pip install cupy-cuda12x) is optional: with it
# the device-array tests run and the benchmark compares against CuPy on the same card.
set -euo pipefail
cd "$(dirname "$0")/.."
export WARPSEARCH_CPU_ONLY=OFF
python -m pip install --no-build-isolation -q scikit-build-core pybind11 numpy pytest >/dev/null 2>&1 || true
python -m pip install --no-build-isolation -q .
python - <<'PY'
import warpsearch as ws
info = ws.build_info()
print(info)
if not info["cuda_compiled"]:
    raise SystemExit("gpu_check: the build has no CUDA (is nvcc on PATH?)")
if info["cuda_devices"] == 0:
    raise SystemExit("gpu_check: no CUDA device visible")
PY
# the package sources live in python/warpsearch, so the installed build is the one imported
python -m pytest -q tests/gpu
python benchmarks/gpu_bench.py "$@"
