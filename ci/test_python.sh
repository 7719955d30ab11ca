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

rc=0
"$py" -m pytest -q tests "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
