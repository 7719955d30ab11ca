#!/usr/bin/env bash
# Runs the GPU tests on a machine without a GPU: the CUDA sources are compiled as C++
# against the CPU emulator in cpp/tests/cuda_emu (one fiber per CUDA thread, shuffled
# scheduling between barriers), which checks the kernels' logic, indexing and
# synchronization. Slow (minutes); timings mean nothing there.
#   bash ci/test_cuda_emulator.sh [pytest args, default: tests/gpu]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bld=/tmp/ws_build_cuda_emulator
# A build folder configured for another checkout (a clone elsewhere) is made afresh.
if [ -f "$bld/CMakeCache.txt" ] && ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$bld/CMakeCache.txt"; then
  rm -rf "$bld"
fi
mkdir -p "$bld"
if [ ! -f "$bld/build.ninja" ]; then
  cmake -S "$root" -B "$bld" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWARPSEARCH_CPU_ONLY=ON \
    -DWARPSEARCH_CUDA_EMULATOR=ON -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >/dev/null
fi
WARPSEARCH_CPU_ONLY=ON bash "$root/ci/dev_build.sh" cuda_emulator >/dev/null
cd "$root"
if [ $# -eq 0 ]; then set -- tests/gpu; fi
PYTHONPATH=/tmp/ws_stage_cuda_emulator python3 -m pytest -q "$@"
