# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A remote collection's embedding runs in the client: texts in, the same answers as
vectors in, and as the embedded collection with the same embedding."""

from __future__ import annotations

import numpy as np
import pytest

import warpsearch as ws

pytest.importorskip("httpx")


def embed(texts):
    """Deterministic and tiny: letter counts of a, b, c plus a constant."""
    return np.array([[t.count("a"), t.count("b"), t.count("c"), 0.5] for t in texts])


TEXTS = ["aaa b", "bbb", "cc a", "abc"]


def test_remote_texts_match_embedded(served):
    with ws.connect(served.url) as remote:
        col = remote.create_collection("remote_texts", dim=4, metric="l2", embedding=embed)
        col.upsert([1, 2, 3, 4], texts=TEXTS, payloads=[{"t": t} for t in TEXTS])
        local = served.db.get_collection("remote_texts", embedding=embed)
        for q in ("aa", "bb c", "c"):
            assert col.search(text=q, k=4) == local.search(text=q, k=4)
            assert col.search(text=q, k=4) == col.search(embed([q])[0], k=4)
        res = col.search_batch(texts=["aaa b", "bbb"], k=1)
        assert res.ids[:, 0].tolist() == [1, 2]
        with pytest.raises(ValueError, match="either vector or text"):
            col.search()
        plain = remote.get_collection("remote_texts")
        with pytest.raises(ValueError, match="has no embedding"):
            plain.search(text="a")


def test_remote_collection_html(served):
    with ws.connect(served.url) as remote:
        col = remote.create_collection("remote_html", dim=2, metric="ip")
        col.upsert([1, 2], [[1, 0], [0, 1]])
        text = col._repr_html_()
        assert "<table>" in text and "<td>points</td><td>2</td>" in text
        assert f"<td>url</td><td>{served.url}</td>" in text
