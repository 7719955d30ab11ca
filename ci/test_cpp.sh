#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the C++ unit tests (cpp/tests, GoogleTest) in a CPU-only build with
# BUILD_TESTING=ON (the wheel never builds them). Needs GoogleTest: on Debian/Ubuntu
# `apt-get install -y libgtest-dev`. The build folder is kept between runs (incremental).
#   bash ci/test_cpp.sh [ctest args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bld=${WARPSEARCH_CPP_TEST_BUILD:-/tmp/ws_build_cpp_tests}
# A build folder configured for another checkout (a clone elsewhere) is made afresh.
if [ -f "$bld/CMakeCache.txt" ] && ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$bld/CMakeCache.txt"; then
  rm -rf "$bld"
fi
mkdir -p "$bld"
if [ ! -f "$bld/CMakeCache.txt" ]; then
  gen=()
  if command -v ninja >/dev/null; then gen=(-G Ninja); fi
  cmake -S "$root" -B "$bld" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
    -DWARPSEARCH_CPU_ONLY=ON -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >/dev/null
fi
cmake --build "$bld" --target warpsearch_tests -j "$(nproc)"
cd "$bld"
ctest --output-on-failure -j "$(nproc)" "$@"
