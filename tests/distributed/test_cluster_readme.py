# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The README's cluster example (fenced ``python cluster``: it needs a Ray cluster, so
the plain README test leaves it out) runs as written against the session's cluster."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_cluster_example(local_cluster, tmp_path, monkeypatch):
    if not README.exists():
        pytest.skip("README.md is not next to the tests (installed tests only)")
    blocks = re.findall(r"```python cluster\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 1, "the README lost its cluster example"
    monkeypatch.setenv("WARPSEARCH_RAY", "ray://" + local_cluster.address)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # replica files go here
    ns: dict = {}
    exec(compile(blocks[0], str(README), "exec"), ns)
    assert len(ns["hits"]) == 5 and all(h.payload["tenant"] == "t1" for h in ns["hits"])
    assert ns["states"] == [["active", "active"]] * 3
    assert sorted(ns["token"]) and all(v >= 1 for v in ns["token"].values())
