# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The README's Python examples run as written (they are the API by example)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run(tmp_path, monkeypatch):
    if not README.exists():
        pytest.skip("README.md is not next to the tests (installed tests only)")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2, "the README lost its API examples"
    monkeypatch.chdir(tmp_path)  # examples write idx.ws, ./data, ./snap
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)
    # the examples leave real state behind: an index file, a database, a snapshot
    assert (tmp_path / "idx.ws").exists() and (tmp_path / "snap").exists()
    assert len(namespace["idx2"]) == len(namespace["idx"])
