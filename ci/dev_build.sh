#!/usr/bin/env bash
# Incremental developer build without pip: compiles into /tmp/ws_build_<name> and lays
# out an importable package in /tmp/ws_stage_<name>. Use: source-free,
#   bash ci/dev_build.sh NAME && PYTHONPATH=/tmp/ws_stage_NAME python -m pytest tests
set -euo pipefail
name=${1:-dev}
root=$(cd "$(dirname "$0")/.." && pwd)
bld=/tmp/ws_build_$name
stage=/tmp/ws_stage_$name
# A build folder configured for another checkout (a clone elsewhere) is made afresh.
if [ -f "$bld/CMakeCache.txt" ] && ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$bld/CMakeCache.txt"; then
  rm -rf "$bld"
fi
mkdir -p "$bld"
if [ ! -f "$bld/build.ninja" ]; then
  cmake -S "$root" -B "$bld" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DWARPSEARCH_CPU_ONLY="${WARPSEARCH_CPU_ONLY:-ON}" \
    -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >/dev/null
fi
ninja -C "$bld" _core >/dev/null
rm -rf "$stage" && mkdir -p "$stage/warpsearch"
for f in "$root"/python/warpsearch/*; do ln -s "$f" "$stage/warpsearch/"; done
ln -sf "$bld"/_core*.so "$stage/warpsearch/"
echo "$stage"
