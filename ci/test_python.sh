#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
# Runs the pytest suite against the INSTALLED warpsearch (pip install ".[test]" first).
# Extra arguments go to pytest. "No tests collected" (pytest exit code 5) is a failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=${PYTHON:-python3}

# From the repo root, `import warpsearch` must resolve to the installed package: the
# source folder python/warpsearch has no compiled _core. tests/ is not a package, and
# the repo root holds no warpsearch/ folder, so nothing here shadows site-packages.
"$py" - "$root" <<'PY'
import os, sys
import warpsearch as ws
root = os.path.realpath(sys.argv[1])
where = os.path.realpath(os.path.dirname(ws.__file__))
if where == os.path.join(root, "python", "warpsearch"):
    sys.exit(f"warpsearch was imported from the source tree ({where}), not an installed build")
print(f"warpsearch {ws.__version__} from {where}")
print(ws.build_info())
PY

# The whole suite needs nothing beyond loopback (servers, browsers and Ray clusters
# all on 127.0.0.1), so it runs in a network namespace with only loopback up where one
# can be made: nothing can leave the machine, and the cluster tests (tests/distributed),
# which run only there, are not skipped. Elsewhere they skip and say why.
netns=""
if command -v ip >/dev/null 2>&1; then
  if unshare -n true 2>/dev/null; then netns="unshare -n"
  elif unshare -rn true 2>/dev/null; then netns="unshare -rn"; fi
fi
rc=0
if [ -n "$netns" ]; then
  echo "running the tests in a network namespace with only loopback up ($netns)"
  $netns -- sh -c 'ip link set lo up && exec "$0" -m pytest -q tests "$@"' "$py" "$@" || rc=$?
else
  echo "no network namespace here (unshare -n / -rn, ip): tests/distributed will skip"
  "$py" -m pytest -q tests "$@" || rc=$?
fi
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
