#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
# Builds a wheel into dist/ (or $1). WARPSEARCH_CPU_ONLY=ON skips CUDA even where nvcc
# exists; WARPSEARCH_CUDA_ARCHS picks the GPU architectures (see pyproject.toml).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/dist"}
py=${PYTHON:-python3}
mkdir -p "$out"
"$py" -m pip wheel --no-deps -w "$out" "$root"
ls -l "$out"/warpsearch-*.whl
