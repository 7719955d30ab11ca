#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
# Runs the kernel-sensitive index tests once per SIMD level below the best one this CPU
# supports (the main suite ran the best one), each level forced with WARPSEARCH_SIMD.
# Runs against the INSTALLED warpsearch (or the one PYTHONPATH names). Extra arguments go
# to pytest. The memory-estimate tests are left out: they count bytes, not kernel
# results, and are the slowest of these files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=${PYTHON:-python3}

levels=$(env -u WARPSEARCH_SIMD "$py" -c '
from warpsearch import _core
order = ["generic", "avx2", "avx512", "avx512_vnni"]
best = order.index(_core.simd_best())
print(" ".join(lv for lv in order[:best] if lv in _core.simd_compiled()))
')
if [ -z "$levels" ]; then
  echo "SIMD levels: the best one is the only one; nothing more to run"
  exit 0
fi
tests=(tests/test_flat.py tests/test_flat_storage.py tests/test_hnsw.py tests/test_hnsw_storage.py
       tests/test_ivf_pq.py tests/test_ivf_probe.py tests/test_kmeans.py tests/test_index_edges.py
       tests/test_ivf_filter_plan.py)
summary=""
for level in $levels; do
  start=$(date +%s)
  got=$(WARPSEARCH_SIMD=$level "$py" -c 'import warpsearch as ws; print(ws.build_info()["simd_level"])')
  if [ "$got" != "$level" ]; then
    echo "error: WARPSEARCH_SIMD=$level ran with SIMD level $got" >&2
    exit 1
  fi
  echo "=== SIMD level $level ==="
  rc=0
  WARPSEARCH_SIMD=$level "$py" -m pytest -q -p no:cacheprovider "${tests[@]}" \
    -k "not memory_estimate" "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "error: pytest collected no tests at SIMD level $level" >&2
    exit 1
  fi
  [ "$rc" -eq 0 ] || exit "$rc"
  summary+="SIMD level $level: $(( $(date +%s) - start )) s"$'\n'
done
printf '%s' "$summary"
