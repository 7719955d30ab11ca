#!/usr/bin/env bash
# Developer check, not part of CI (about 4 minutes of build on 2 cores): builds the
# module with AddressSanitizer into /tmp/ws_build_asan and runs pytest against it.
#   bash ci/asan_check.sh [pytest args...]     (default: the whole tests/ folder)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bld=/tmp/ws_build_asan
stage=/tmp/ws_stage_asan
if [ ! -f "$bld/build.ninja" ]; then
  cmake -S "$root" -B "$bld" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARPSEARCH_CPU_ONLY=ON \
    -DCMAKE_CXX_FLAGS="-fsanitize=address -fno-omit-frame-pointer" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address" \
    -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >/dev/null
fi
ninja -C "$bld" _core
rm -rf "$stage" && mkdir -p "$stage/warpsearch"
for f in "$root"/python/warpsearch/*; do ln -s "$f" "$stage/warpsearch/"; done
ln -sf "$bld"/_core*.so "$stage/warpsearch/"
# libstdc++ is preloaded with the runtime so that C++ exceptions pass the interceptors.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
cd "$root"
PYTHONPATH="$stage" python3 -m pytest -q -p no:cacheprovider "${@:-tests}"
