#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
# Builds the documentation site (MkDocs) into ./site; any warning fails the build
# (--strict: broken links, missing pages, docstrings the API reference cannot parse).
# Needs the docs extra (also in the test extra): pip install '.[docs]'.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
NO_MKDOCS_2_WARNING=1 "$PYTHON" -m mkdocs build --strict --site-dir "${1:-site}"
