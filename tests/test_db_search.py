# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Search quality of collections: recall against exact numpy ground truth, with
and without filters, over sealed (HNSW) segments plus the mutable segment."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import warpsearch as ws

N, DIM, NQ, K = 5000, 24, 30, 10


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    centers = rng.standard_normal((40, DIM)) * 3
    x = (centers[rng.integers(0, 40, N)] + rng.standard_normal((N, DIM))).astype(np.float32)
    q = (centers[rng.integers(0, 40, NQ)] + rng.standard_normal((NQ, DIM))).astype(np.float32)
    r = rng.permutation(N) % 1000  # uniform 0..999: exact selectivities
    section = np.where(rng.random(N) < 0.3, "python", "libs")
    return x, q, r, section


@pytest.fixture(scope="module")
def col(data, tmp_path_factory):
    x, _, r, section = data
    db = ws.connect(tmp_path_factory.mktemp("search") / "db", fsync="never")
    c = db.create_collection("c", dim=DIM, metric="cosine",
                             index=ws.HNSWConfig(M=16, ef_construction=100),
                             schema={"r": "int", "section": "keyword"}, segment_size=1500)
    c.upsert(np.arange(N), x, [{"r": int(a), "section": str(s)} for a, s in zip(r, section)])
    c.flush()
    info = c.info()
    assert info["sealed_segments"] == 3 and info["mutable_rows"] == 500
    yield c
    db.close()


def _exact(x, q, allowed, k):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    idx = np.flatnonzero(allowed)
    s = qn @ xn[idx].T
    top = np.argsort(-s, axis=1)[:, :k]
    return [set(idx[t].tolist()) for t in top]


@pytest.mark.parametrize("limit", [1, 10, 100, 500, None])  # 0.1%, 1%, 10%, 50%, 100%
def test_recall_by_selectivity(col, data, limit):
    x, q, r, _ = data
    flt = None if limit is None else {"key": "r", "range": {"lt": limit}}
    allowed = np.ones(N, bool) if limit is None else (r < limit)
    truth = _exact(x, q, allowed, K)
    res = col.search_batch(q, k=K, filter=flt, ef=64)
    recall = np.mean([len({h.id for h in hits} & t) / len(t) for hits, t in zip(res, truth)])
    assert recall >= 0.95, (limit, recall)
    for hits in res:
        assert len(hits) == min(K, int(allowed.sum()))
        assert all(allowed[h.id] for h in hits)
        assert all(h.payload["r"] < (limit or 1000) for h in hits)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)


def test_keyword_and_compound_filters(col, data):
    x, q, r, section = data
    flt = {"must": [{"key": "section", "match": "python"}],
           "must_not": [{"key": "r", "range": {"gte": 100, "lt": 900}}]}
    allowed = (section == "python") & ~((r >= 100) & (r < 900))
    truth = _exact(x, q, allowed, K)
    res = col.search_batch(q, k=K, filter=flt)
    recall = np.mean([len({h.id for h in hits} & t) / K for hits, t in zip(res, truth)])
    assert recall >= 0.95
    assert all(allowed[h.id] for hits in res for h in hits)
    assert col.count(flt) == int(allowed.sum())


def test_single_search_and_explain(col, data):
    _, q, r, _ = data
    hits = col.search(q[0], k=5, filter={"key": "r", "range": {"lt": 10}})
    assert len(hits) == 5 and all(r[h.id] < 10 for h in hits)
    ex = col.explain(q[0], k=5, filter={"key": "r", "range": {"lt": 10}})
    assert ex["estimated_cardinality"] == 50
    assert ex["selectivity"] == pytest.approx(0.01)
    assert ex["live_points"] == N
    assert len(ex["segments"]) == 4
    assert {s["plan"] for s in ex["segments"]} == {"brute_force"}
    assert ex["distance_evals"] >= 50 and ex["time_ms"] > 0
    assert [h[0] for h in ex["hits"]] == [h.id for h in hits]
    ex = col.explain(q[0], k=5)
    assert ex["selectivity"] == 1.0 and ex["nodes_visited"] > 0
    assert any(s["plan"] == "graph" for s in ex["segments"])


def test_empty_and_tiny_results(col, data):
    _, q, _, _ = data
    assert col.search(q[0], k=5, filter={"key": "r", "range": {"gt": 5000}}) == []
    # k >= size: the exact mutable segment returns all of its rows; HNSW graphs may
    # leave a few nodes unreachable, so only nearly all come back.
    hits = col.search(q[0], k=N)
    assert len({h.id for h in hits}) == len(hits) >= 0.99 * N
    hits = col.search(q[0], k=3, with_payload=False)
    assert all(h.payload is None for h in hits)


def test_concurrent_searches_during_ingest_and_compaction(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3000, 16)).astype(np.float32)
    db = ws.connect(tmp_path / "db", fsync="never")
    c = db.create_collection("c", dim=16, metric="l2", schema={"g": "int"},
                             index=ws.HNSWConfig(M=8, ef_construction=40), segment_size=300)
    c.upsert(list(range(300)), x[:300], [{"g": i % 5} for i in range(300)])
    errors, done = [], threading.Event()
    deleted = set(range(0, 3000, 10))

    def reader(nq, g):
        # each reader's calls report their own stats: its query count, and allowed
        # counts of its own filter (g < 3 or g == 4) whatever the other reader does
        try:
            while not done.is_set():
                flt = {"key": "g", "range": {"lt": 3}} if g == 3 else {"g": 4}
                res, st = c.search_batch(x[:nq], k=10, filter=flt, return_stats=True)
                for hits in res:
                    assert all((h.payload["g"] < 3) if g == 3 else (h.payload["g"] == 4)
                               for h in hits)
                assert st["nq"] == nq and all(s["nq"] == nq for s in st["segments"])
                assert st["allowed"] == sum(s["allowed"] for s in st["segments"])
                assert all(s["allowed"] <= s["rows"] for s in st["segments"])
                share = st["allowed"] / max(st["rows"], 1)
                # ~60% of the rows pass g < 3 and ~20% g == 4 (deletes and re-writes
                # move them a little): stats swapped between the readers would not
                assert (share >= 0.45) if g == 3 else (share <= 0.25), st
                hits, one = c.search(x[7], k=3, filter=flt, return_stats=True)
                assert one["nq"] == 1
                c.count({"g": 1})
                c.get([1, 2, 3])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=a) for a in ((4, 3), (9, 4))]
    for t in threads:
        t.start()
    try:
        for s in range(300, 3000, 100):
            c.upsert(list(range(s, s + 100)), x[s:s + 100],
                     [{"g": i % 5} for i in range(s, s + 100)])
        c.delete(sorted(deleted))
        c.compact()
        c.upsert(list(range(100)), x[:100] + 1, [{"g": 0}] * 100)
    finally:
        done.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert c.count() == 3000 - len(deleted) + 10  # ids 0,10,..,90 came back
    hits = c.search(x[5] + 1, k=1)
    assert hits[0].id == 5 and hits[0].payload == {"g": 0}
    assert all(h.id not in deleted or h.id < 100 for h in c.search(x[20], k=50))
    db.close()


def test_batch_results_int_ids_and_payload_json(tmp_path):
    """The array views of batch results the binary endpoint sends: int64 ids (or None
    when an id is a string), payload JSON spliced from storage equal to
    the decoded payloads, padding where a row has fewer than k."""
    import json

    db = ws.connect(tmp_path / "db")
    col = db.create_collection("ints", dim=2, metric="l2")
    col.upsert([1, 2, 3], [[0, 0], [1, 0], [5, 5]], [{"a": 1}, None, {"b": [1, "x"]}])
    res = col.search_batch([[0, 0], [5, 5]], k=4)
    ids = res.int_ids()
    assert ids.dtype == np.int64 and ids.tolist() == [[1, 2, 3, -1], [3, 2, 1, -1]]
    assert json.loads(res.payloads_json()) == [[h.payload for h in row] for row in res]
    with pytest.raises(ValueError, match="without payloads"):
        col.search_batch([[0, 0]], k=2, with_payload=False).payloads_json()
    mixed = db.create_collection("mixed", dim=2, metric="l2")
    mixed.upsert(["a", 7], [[0, 0], [1, 1]])
    assert mixed.search_batch([[0, 0]], k=2).int_ids() is None
    assert mixed.search_batch([[0, 0]], k=2).ids.tolist() == [["a", 7]]
    db.close()


@pytest.mark.parametrize("config", [ws.HNSWConfig(M=8), ws.FlatConfig(),
                                    ws.IVFPQConfig(nlist=16, nbits=8, refine="fp32",
                                                   train_size=1000)])
def test_collection_search_equals_its_segment_index_search(tmp_path, config):
    """The collection calls a CPU segment's engine directly; its answers (ids, scores,
    stats) are those of the index's own public search with the same parameters."""
    from warpsearch.db import query

    rng = np.random.default_rng(6)
    X = rng.standard_normal((1500, 8)).astype(np.float32)
    db = ws.connect(tmp_path / "db")
    col = db.create_collection("c", dim=8, metric="l2", index=config, segment_size=1500,
                               schema={"odd": "bool"})
    col.upsert(list(range(1500)), X, [{"odd": bool(i % 2)} for i in range(1500)])
    col.flush()
    col.delete([1, 3])
    seg = [s for s in col.state.view if s.kind == "sealed"][0]
    Q = rng.standard_normal((5, 8)).astype(np.float32)
    for flt in (None, {"key": "odd", "match": True}):
        params = query.SearchParams(40, 8, 4, None)
        node = col._filter(flt)
        (_, n, _, mask, _), = [p for p in query.plan(col.state, node) if p[0] is seg]
        D, R, st = query._engine_search(seg.index, Q, 7, params, mask, None)
        kw = {"ef": 40} if isinstance(config, ws.HNSWConfig) else \
            {"nprobe": 8, "refine_factor": 4} if isinstance(config, ws.IVFPQConfig) else \
            {"refine_factor": 4}
        D2, R2, st2 = seg.index.search(Q, k=7, filter=mask, return_stats=True, **kw)
        np.testing.assert_array_equal(R, R2)
        np.testing.assert_array_equal(D, D2)
        assert set(st) == set(st2) and st["device"] == "cpu" and st["nq"] == 5
        hits = col.search_batch(Q, k=7, filter=flt, ef=40, nprobe=8, refine_factor=4,
                                with_payload=False)
        assert hits.ids.tolist() == [[int(seg.uids[r]) for r in row] for row in R]
    db.close()
