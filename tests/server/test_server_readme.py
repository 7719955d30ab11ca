# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The README's serving examples (fenced ``python server``: they need a server, so
tests/test_readme.py leaves them to this test) run against a real server."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

pytest.importorskip("qdrant_client", reason="needs qdrant-client")

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_serving_examples_run(served, monkeypatch):
    if not README.exists():
        pytest.skip("README.md is not next to the tests (installed tests only)")
    blocks = re.findall(r"```python server\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2, "the README lost its serving examples"
    monkeypatch.setenv("WARPSEARCH_URL", served.url)
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)
    # qdrant-client checks the server's version from a thread of its own: let it finish
    # while the server still runs (on a busy machine it could start after the fixture
    # stopped the server, and its warning would then come from a refused connection)
    for t in threading.enumerate():
        if "_check_compatibility" in t.name:
            t.join(30)
    col = served.db.get_collection("articles")
    q = [0.1, 0.9, 0.3, 0.5]
    assert [p.id for p in namespace["points"]] == \
        [h.id for h in col.search(q, k=5, filter={"lang": "en"})]
    assert namespace["hits"] == col.search(q, k=5, filter={"lang": "en"})
    assert namespace["res"].ids.shape == (64, 10)
