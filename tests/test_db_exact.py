# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""``Collection.search_exact`` (brute force over the live points passing a filter,
the ground truth of the online recall monitor) against a float64 NumPy brute force,
and ``Collection.memory_usage``."""

from __future__ import annotations

import numpy as np
import pytest

import warpsearch as ws
from warpsearch.db import query as query_mod

DIM = 16


def _brute(X, q, k, metric):
    X, q = X.astype(np.float64), q.astype(np.float64)
    if metric == "l2":
        s = ((X - q) ** 2).sum(1)
        order = np.argsort(s, kind="stable")
    else:
        if metric == "cosine":
            X = X / np.linalg.norm(X, axis=1, keepdims=True)
            q = q / np.linalg.norm(q)
        s = X @ q
        order = np.argsort(-s, kind="stable")
    return order[:k], s[order[:k]]


@pytest.fixture
def db(tmp_path):
    d = ws.connect(tmp_path / "db", fsync="never")
    yield d
    d.close()


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_search_exact_equals_numpy_brute_force(db, metric, monkeypatch):
    """Over sealed, frozen and mutable segments, with deletes, replaced points and a
    filter; scanned in small blocks so the block merge is exercised too."""
    monkeypatch.setattr(query_mod, "_EXACT_BLOCK", 97)
    rng = np.random.default_rng(3)
    n = 1300
    X = rng.standard_normal((n, DIM)).astype(np.float32)
    tags = rng.integers(0, 4, n)
    col = db.create_collection("c", dim=DIM, metric=metric, segment_size=500,
                               schema={"tag": "int"},
                               index=ws.HNSWConfig(M=8, ef_construction=32))
    col.upsert(list(range(n)), X, [{"tag": int(t)} for t in tags])
    col.flush()
    X[10] = rng.standard_normal(DIM)  # replaced: the old vector must not be found
    col.upsert([10], X[10:11], [{"tag": int(tags[10])}])
    col.delete(list(range(0, 200, 7)))
    live = np.ones(n, bool)
    live[list(range(0, 200, 7))] = False
    assert col.info()["sealed_segments"] >= 2
    Q = rng.standard_normal((5, DIM)).astype(np.float32)
    f = {"key": "tag", "match": {"any": [1, 2]}}
    got = col.search_exact(Q, k=15, filter=f, with_payload=True)
    assert len(got) == 5
    allowed = np.flatnonzero(live & np.isin(tags, [1, 2]))
    for q, hits in zip(Q, got):
        order, s = _brute(X[allowed], q, 15, metric)
        assert [h.id for h in hits] == allowed[order].tolist()
        np.testing.assert_allclose([h.score for h in hits], s, rtol=1e-4, atol=1e-4)
        assert all(h.payload["tag"] in (1, 2) for h in hits)
    # no filter; one vector is one row
    hits = col.search_exact(Q[0], k=5)
    order, _ = _brute(X[live], Q[0], 5, metric)
    assert [[h.id for h in hits[0]]] == [np.flatnonzero(live)[order].tolist()]
    assert hits[0][0].payload is None


def test_search_exact_edges(db):
    col = db.create_collection("e", dim=4, metric="l2")
    assert col.search_exact(np.ones(4), k=3) == [[]]
    col.upsert([1, 2], np.eye(4)[:2])
    assert [h.id for h in col.search_exact(np.eye(4)[1], k=10)[0]] == [2, 1]
    with pytest.raises(ValueError, match="'e'.*k"):
        col.search_exact(np.ones(4), k=0)
    with pytest.raises(ValueError, match="'e'"):
        col.search_exact(np.ones(3))
    with pytest.raises(ValueError, match="'e'"):
        col.search_exact(np.ones(4), filter={"key": "nope", "range": {"gt": 1}})


@pytest.mark.parametrize("storage", ["fp32", "sq8"])
def test_memory_usage(db, storage):
    rng = np.random.default_rng(0)
    col = db.create_collection("m", dim=DIM, metric="l2", segment_size=400,
                               index=ws.FlatConfig(storage=storage))
    before = col.memory_usage()
    X = rng.standard_normal((1000, DIM)).astype(np.float32)
    col.upsert(list(range(1000)), X)
    col.flush()
    mu = col.memory_usage()
    sealed = [s for s in col.state.view if s.kind == "sealed"]
    assert len(sealed) == 2
    # an fp32 index holds the vectors as given (no vectors.npy beside it); a lossy
    # storage keeps them in a mapped vectors.npy
    assert mu["mapped"] == sum(s.vector_file_bytes for s in sealed) == \
        (0 if storage == "fp32" else 800 * DIM * 4)
    assert np.array_equal(np.concatenate([s.vectors() for s in sealed]), X[:800])
    assert mu["ram"] >= sum(s.index.memory_usage() for s in col.state.view
                            if s.index is not None) > 0
    assert mu["device"] == 0
    assert mu["disk"] > before["disk"] + 800 * DIM * 4  # the sealed vector files at least


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("nq", [3, 20])  # the engine's kernels, then a BLAS product
def test_exact_rows_both_paths_equal_numpy(metric, nq):
    rng = np.random.default_rng(11)
    V = rng.standard_normal((500, DIM)).astype(np.float32)
    Q = rng.standard_normal((nq, DIM)).astype(np.float32)
    rows = np.arange(1000, 1500, dtype=np.int64)
    given = np.linalg.norm(V, axis=1).astype(np.float32) if metric == "cosine" else None
    for norms in {id(x): x for x in (None, given)}.values():
        D, R = query_mod._exact_rows(V, Q, metric, 7, rows, norms)
        for i, q in enumerate(Q):
            order, s = _brute(V, q, 7, metric)
            assert R[i].tolist() == rows[order].tolist()
            np.testing.assert_allclose(D[i], s, rtol=1e-4, atol=1e-4)
