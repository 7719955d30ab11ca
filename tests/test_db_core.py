# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The database core: indexing at every size, stats returned by the call, deadlines,
group commit without stalling readers, IVF-PQ collections, back-pressure and retried
seals, size-tiered compaction, devices, and errors that name the collection."""

from __future__ import annotations

import os
import pickle
import threading
import time

import numpy as np
import pytest

import warpsearch as ws
from warpsearch.db import sealer as sealer_mod

from conftest import exact_knn, recall_at_k

DIM = 24


def _clustered(n, seed=0, dim=DIM, k=20):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dim)).astype(np.float32) * 4
    return (centres[rng.integers(0, k, n)] + rng.standard_normal((n, dim))).astype(np.float32)


@pytest.fixture
def db(tmp_path):
    d = ws.connect(tmp_path / "db", fsync="never")
    yield d
    d.close()


def test_collection_is_indexed_at_every_size(db):
    """Below the segment size the collection used to be one exact scan forever."""
    x = _clustered(3000)
    col = db.create_collection("c", dim=DIM, metric="l2",
                               index=ws.HNSWConfig(M=16, ef_construction=100))
    col.upsert(list(range(3000)), x)
    col.flush()
    info = col.info()
    assert info["sealed_segments"] == 0 and info["indexed_rows"] == info["rows"] == 3000
    hits, stats = col.search(x[7], k=10, return_stats=True)
    assert stats["plan"] == "graph" and stats["exact_rows"] == 0
    assert hits[0].id == 7
    ex = col.explain(x[7], k=10)
    assert ex["plan"] == "graph" and ex["segments"][0]["index"] == "HNSWIndex"
    q = _clustered(50, seed=1)
    _, gt = exact_knn(x, q, 10, "l2")
    got = np.array([[h.id for h in r] for r in col.search_batch(q, k=10, ef=64)])
    assert recall_at_k(got, gt) >= 0.95


def test_writes_are_visible_before_they_are_indexed(db, monkeypatch):
    """Rows the indexer has not reached are scanned exactly (read-your-writes)."""
    monkeypatch.setattr(sealer_mod.Sealer, "_can_index", lambda self, seg, forced: False)
    col = db.create_collection("c", dim=DIM, metric="cosine")
    x = _clustered(500, seed=2)
    col.upsert(list(range(500)), x)
    hits, stats = col.search(x[42], k=5, return_stats=True)
    assert hits[0].id == 42 and stats["plan"] == "exact" and stats["exact_rows"] == 500
    assert col.info()["indexed_rows"] == 0


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_unindexed_rows_are_scanned_a_chunk_at_a_time(db, monkeypatch, metric):
    """The exact scan of rows the indexer has not reached walks the stored chunks (no
    copy of the rows) and merges their top-k: the same answer as brute force over all
    rows, with and without a filter, for single queries and batches."""
    from warpsearch.db.segment import RowStore
    monkeypatch.setattr(RowStore, "_CHUNK_BYTES", 0)  # 256-row chunks
    monkeypatch.setattr(sealer_mod.Sealer, "_can_index", lambda self, seg, forced: False)
    col = db.create_collection("c", dim=DIM, metric=metric, schema={"g": "int"})
    n = 1500  # six chunks, the last one partly filled
    x = _clustered(n, seed=5)
    col.upsert(list(range(n)), x, [{"g": i % 4} for i in range(n)])
    q = _clustered(7, seed=6)
    sub = np.flatnonzero(np.arange(n) % 4 == 1)
    for rows, flt in ((np.arange(n), None), (sub, {"key": "g", "match": {"value": 1}})):
        want = exact_knn(x, q, 10, metric, allowed=rows)[1].tolist()
        res, stats = col.search_batch(q, k=10, filter=flt, return_stats=True)
        assert [[h.id for h in r] for r in res] == want
        assert stats["exact_rows"] == len(rows) and stats["plan"] == "exact"
        assert [h.id for h in col.search(q[3], k=10, filter=flt)] == want[3]


def test_the_deadline_reaches_the_scan_of_unindexed_rows(db, monkeypatch):
    """Rows the indexer has not reached are scanned a chunk at a time, and the
    search's deadline is checked before each chunk: a scan slower than the timeout
    stops with TimeoutError instead of running to its end."""
    from warpsearch.db import query as query_mod
    from warpsearch.db.segment import RowStore
    monkeypatch.setattr(RowStore, "_CHUNK_BYTES", 0)  # 256-row chunks
    monkeypatch.setattr(sealer_mod.Sealer, "_can_index", lambda self, seg, forced: False)
    col = db.create_collection("slow", dim=DIM, metric="l2")
    x = _clustered(256 * 8, seed=8)
    col.upsert(list(range(len(x))), x)
    scanned = []
    exact_rows = query_mod._exact_rows

    def slow_rows(V, *args, **kw):  # each chunk's scan takes 50 ms
        scanned.append(len(V))
        time.sleep(0.05)
        return exact_rows(V, *args, **kw)

    monkeypatch.setattr(query_mod, "_exact_rows", slow_rows)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        col.search(x[0], k=5, timeout=0.12)
    assert time.monotonic() - t0 < 0.4 and 1 <= len(scanned) < 8
    scanned.clear()
    hits = col.search(x[0], k=5, timeout=60)  # all 8 chunks within a generous deadline
    assert hits[0].id == 0 and len(scanned) == 8


def test_background_indexing_leaves_a_core_to_writers(db, monkeypatch):
    """While writes arrive (and no flush waits), the indexer's engine calls use one
    thread fewer than the pool; otherwise all of them."""
    from warpsearch import _core
    col = db.create_collection("c", dim=DIM)
    sealer = col._sealer
    saved = ws.get_num_threads()
    try:
        ws.set_num_threads(3)
        sealer.wrote()
        sealer._yield_to_writers()
        assert _core.thread_limit() == 2
        sealer.flush_wanted += 1  # a flush waits: full speed
        sealer._yield_to_writers()
        assert _core.thread_limit() == 0
        sealer.flush_wanted -= 1
        monkeypatch.setattr(sealer_mod, "WRITES_ACTIVE_S", 0.0)  # writes stopped
        sealer._yield_to_writers()
        assert _core.thread_limit() == 0
    finally:
        _core.set_thread_limit(0)
        ws.set_num_threads(saved)
    # the indexer still indexes everything, with the limit or without
    x = _clustered(3000, seed=8)
    col.upsert(list(range(3000)), x)
    col.flush()
    assert col.info()["indexed_rows"] == 3000
    assert [h.id for h in col.search(x[77], k=1)] == [77]


def test_stats_are_returned_per_call_under_concurrency(db):
    x = _clustered(2000, seed=3)
    col = db.create_collection("c", dim=DIM, metric="l2", schema={"g": "int"},
                               index=ws.HNSWConfig(M=8, ef_construction=40), segment_size=700)
    col.upsert(list(range(2000)), x, [{"g": i % 10} for i in range(2000)])
    col.flush()
    errors = []

    def worker(g, k):
        try:
            for _ in range(30):
                hits, st = col.search_batch(x[:3], k=k, filter={"key": "g", "range": {"lt": g}},
                                            return_stats=True)
                assert st["nq"] == 3 and st["allowed"] == 200 * g
                assert all(len(r) == k for r in hits)
                assert all(h.payload["g"] < g for r in hits for h in r)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    ts = [threading.Thread(target=worker, args=(g, k)) for g, k in ((1, 3), (5, 7), (9, 11))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[0]


def test_timeout(db):
    x = _clustered(2000, seed=4)
    col = db.create_collection("c", dim=DIM, metric="l2", segment_size=300,
                               index=ws.FlatConfig())
    col.upsert(list(range(2000)), x)
    col.flush()
    with pytest.raises(TimeoutError):
        col.search_batch(x[:500], k=10, timeout=1e-9)
    a = col.search_batch(x[:20], k=10, timeout=60)
    b = col.search_batch(x[:20], k=10)
    assert a == b
    for bad in (0, -1, "1", True):
        with pytest.raises((ValueError, TypeError), match="'c'"):
            col.search(x[0], timeout=bad)


def test_group_commit_shares_fsyncs_and_never_blocks_readers(tmp_path, monkeypatch):
    db = ws.connect(tmp_path / "db", fsync="always")
    col = db.create_collection("c", dim=DIM, metric="l2")
    x = _clustered(400, seed=5)
    col.upsert(list(range(100)), x[:100])
    col.flush()
    gate, entered = threading.Event(), threading.Event()
    real = os.fdatasync

    def slow_fsync(fd):
        entered.set()
        gate.wait(10)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", slow_fsync)
    before = col.info()["wal_fsyncs"]
    writers = [threading.Thread(target=col.upsert, args=([100 + i], x[100 + i : 101 + i]))
               for i in range(8)]
    for t in writers:
        t.start()
    assert entered.wait(10)
    # an fsync is in progress: searches, counts and gets still answer
    reader = threading.Thread(target=lambda: (col.search(x[3], k=3), col.count(), col.get([3])))
    reader.start()
    reader.join(5)
    stalled = reader.is_alive()
    gate.set()
    for t in writers:
        t.join()
    monkeypatch.setattr(os, "fdatasync", real)
    assert not stalled, "a search waited for the log's fsync"
    assert col.count() == 108
    assert col.info()["wal_fsyncs"] - before < 8  # writers waiting together shared fsyncs
    db.close()
    with ws.connect(tmp_path / "db") as db2:
        assert db2.get_collection("c").count() == 108  # acknowledged means durable


def test_ivf_pq_collection(tmp_path):
    x = _clustered(6000, seed=6, dim=32)
    db = ws.connect(tmp_path / "db", fsync="never")
    cfg = ws.IVFPQConfig(nbits=4, refine="fp32", train_size=4000, nprobe=16)
    col = db.create_collection("v", dim=32, metric="l2", index=cfg, schema={"g": "int"},
                               segment_size=2500)
    col.upsert(list(range(6000)), x, [{"g": i % 20} for i in range(6000)])
    col.flush()
    info = col.info()
    assert info["trained"] and info["indexed_rows"] == 6000 and info["sealed_segments"] == 2
    q = _clustered(40, seed=7, dim=32)
    _, gt = exact_knn(x, q, 10, "l2")
    got = np.array([[h.id for h in r] for r in col.search_batch(q, k=10, refine_factor=8)])
    assert recall_at_k(got, gt) >= 0.9
    plan = col.explain(q[0], k=10)
    assert {s["index"] for s in plan["segments"]} == {"IVFPQIndex"}
    # each segment (two sealed, the indexed mutable one) re-ranked k * refine_factor
    # candidates: fp32 rows of 32 floats
    assert len(plan["segments"]) == 3
    assert plan["refine_bytes"] == sum(s["refine_bytes"] for s in plan["segments"]) == \
        3 * 10 * cfg.refine_factor * 32 * 4
    # filtered search keeps recall at a low selectivity
    allowed = np.flatnonzero(np.arange(6000) % 20 == 3)
    _, gtf = exact_knn(x, q, 10, "l2", allowed=allowed)
    hits = col.search_batch(q, k=10, filter={"g": 3}, nprobe=32, refine_factor=8)
    assert all(h.payload["g"] == 3 for r in hits for h in r)
    assert recall_at_k(np.array([[h.id for h in r] for r in hits]), gtf) >= 0.9
    db.close()
    with ws.connect(tmp_path / "db") as db2:
        c2 = db2.get_collection("v")
        again = np.array([[h.id for h in r] for r in c2.search_batch(q, k=10, refine_factor=8)])
        assert recall_at_k(again, gt) >= 0.9
        assert c2.info()["trained"]
        with pytest.raises(ValueError, match="already trained"):
            c2.train(x[:1000])


def test_ivf_pq_explicit_train_and_errors(db):
    x = _clustered(3000, seed=8, dim=32)
    col = db.create_collection("v", dim=32, metric="cosine", index=ws.IVFPQConfig(nbits=8))
    col.train(x[:2000])
    assert col.info()["trained"]
    col.upsert(list(range(3000)), x)
    col.flush()
    assert col.info()["indexed_rows"] == 3000
    h = db.create_collection("h", dim=32)
    with pytest.raises(ValueError, match="'h'.*IVF-PQ"):
        h.train(x)
    with pytest.raises(ValueError):
        ws.IVFPQConfig(nbits=5)


def test_backpressure_and_retried_seals(db, monkeypatch):
    """A failing seal is retried while reads and writes go on; too many waiting seals
    hold writers back with a clear error instead of growing without bound."""
    calls = {"n": 0}
    real = sealer_mod.write_segment
    fail = threading.Event()
    fail.set()

    def flaky(*a, **kw):
        calls["n"] += 1
        if fail.is_set():
            raise OSError(28, "No space left on device")
        return real(*a, **kw)

    monkeypatch.setattr(sealer_mod, "write_segment", flaky)
    col = db.create_collection("c", dim=DIM, metric="l2", segment_size=50,
                               index=ws.FlatConfig())
    col.max_pending_seals = 2
    col.backpressure_timeout = 0.5
    x = _clustered(400, seed=9)
    col.upsert(list(range(100)), x[:100])  # two full segments wait to be sealed
    with pytest.raises(RuntimeError, match="'c'.*waiting to be sealed.*No space"):
        col.upsert(list(range(100, 150)), x[100:150])
    bg = col.info()["background"]  # the held-back writer is counted, with its wait
    assert bg["backpressure_waits"] == 1 and bg["backpressure_seconds"] >= 0.5
    # reads keep working while sealing fails
    assert col.count() == 100 and col.search(x[60], k=1)[0].id == 60
    assert col.get([99])[0].id == 99
    with pytest.raises(RuntimeError, match="sealing a segment failed"):
        col.flush(timeout=20)
    assert calls["n"] >= 2 and col.info()["background"]["failures"] >= 2
    fail.clear()
    col.flush(timeout=60)
    assert col.info()["sealed_segments"] == 2 and col.info()["background"]["error"] is None
    col.upsert(list(range(100, 150)), x[100:150])
    assert col.count() == 150


def test_compaction_is_size_tiered(db):
    x = _clustered(1200, seed=10)
    col = db.create_collection("c", dim=DIM, metric="l2", segment_size=300,
                               index=ws.HNSWConfig(M=8, ef_construction=32))
    col.upsert(list(range(1200)), x)
    col.flush()
    assert col.info()["sealed_segments"] == 4
    assert sealer_mod.plan_merges(list(col.state.sealed.values()), 300, eager=False) == []
    col.delete([5])
    rep = col.compact()
    # only the segment holding the delete is rewritten... merged with nothing larger
    # than the merge limit allows (8 segment sizes): all four become one
    assert rep["purged"] == 1 and col.info()["deleted_rows"] == 0
    assert col.count() == 1199 and 5 not in col
    # full, clean segments are left alone by the automatic policy
    big = [type("S", (), {"seg_id": i, "n": 300, "n_deleted": 0})() for i in range(8)]
    assert sealer_mod.plan_merges(big, 300, eager=False) == []
    big.append(type("S", (), {"seg_id": 9, "n": 300, "n_deleted": 100})())
    groups = sealer_mod.plan_merges(big, 300, eager=False)
    assert [s.seg_id for g in groups for s in g][:1] == [9] or \
        any(s.seg_id == 9 for g in groups for s in g)


def _until(cond, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, "the background worker did not get there"
        time.sleep(0.02)


def test_automatic_compaction_runs_without_compact(db):
    """The background worker merges by itself: past MAX_SEGMENTS sealed segments the
    smallest are merged, and a segment with PURGE_RATIO of its rows deleted is
    rewritten without them; no compact() call, results unchanged."""
    seg = 100
    col = db.create_collection("auto", dim=DIM, metric="l2", segment_size=seg,
                               index=ws.HNSWConfig(M=8, ef_construction=32))
    x = _clustered(seg * (sealer_mod.MAX_SEGMENTS + 3), seed=12)
    for a in range(0, len(x), seg):  # one segment per upsert, sealed as it fills
        col.upsert(list(range(a, a + seg)), x[a:a + seg])
    col.flush()
    _until(lambda: col.info()["background"]["merges"] > 0
           and col.info()["sealed_segments"] <= sealer_mod.MAX_SEGMENTS
           and col.durations()["merges_pending"] == 0)
    assert col.count() == len(x)
    assert [r[0].id for r in col.search_exact(x[[3, 650]], k=1)] == [3, 650]
    # a fifth of one segment deleted: purged by the background worker
    merges = col.info()["background"]["merges"]
    col.delete(list(range(0, 40)))
    _until(lambda: col.info()["background"]["merges"] > merges
           and col.info()["deleted_rows"] == 0)
    assert col.count() == len(x) - 40 and 7 not in col and 40 in col


def test_devices(db):
    col = db.create_collection("cpu", dim=DIM, device="cpu", segment_size=100)
    x = _clustered(250, seed=11)
    col.upsert(list(range(250)), x)
    col.flush()
    assert col.info()["device"] == "cpu"
    assert all(s.index.device == "cpu" for s in col.state.view if s.index is not None)
    if ws.build_info()["cuda_devices"] == 0:
        with pytest.raises((ValueError, RuntimeError), match="(?i)cuda|gpu"):
            db.create_collection("gpu", dim=DIM, device="cuda")
    with pytest.raises(TypeError):
        db.create_collection("bad", dim=DIM, device=0)


def test_errors_name_the_collection(db):
    col = db.create_collection("named", dim=DIM, metric="cosine")
    with pytest.raises(ValueError, match="'named'"):
        col.upsert([1], np.ones((1, DIM + 1), np.float32))
    with pytest.raises(ValueError, match="'named'.*zero"):
        col.upsert([1], np.zeros((1, DIM), np.float32))
    col.upsert([1], np.ones((1, DIM), np.float32))
    with pytest.raises(ValueError, match="'named'.*zero query"):
        col.search(np.zeros(DIM, np.float32))
    with pytest.raises(ValueError, match="'named'.*zero query"):  # the batch's check
        col.search_batch(np.stack([np.ones(DIM), np.zeros(DIM)]).astype(np.float32))
    with pytest.raises(ValueError, match="'named'.*zero query"):  # squares underflow to 0
        col.search(np.full(DIM, 1e-30, np.float32))
    with pytest.raises(TypeError, match="k must be an integer"):
        col.search(np.ones(DIM, np.float32), k=True)
    assert len(col.search(np.ones(DIM, np.float32), k=np.int64(1))) == 1
    with pytest.raises(ValueError, match="'named'"):
        col.search(np.ones(DIM + 2, np.float32))
    with pytest.raises((ValueError, TypeError), match="'named'"):
        col.search(np.ones(DIM, np.float32), k=0)
    with pytest.raises(ValueError, match="'named'"):
        col.search(np.ones(DIM, np.float32), filter={"key": "nope", "match": 1})
    assert col.count() == 1  # nothing lost by the refused calls


def test_negative_ids_are_refused_by_collections(db):
    """-1 pads result rows with fewer than k hits (``BatchResults.int_ids``, the
    server's binary answer): a point stored as -1 could not be told from padding."""
    col = db.create_collection("neg", dim=DIM, metric="l2")
    X = np.random.default_rng(3).standard_normal((4, DIM)).astype(np.float32)
    col.upsert([0, 1], X[:2])
    for ids in ([-1, 2], -5, np.array([3, -2]), [2, -(2**63)], [np.int64(-1), 4]):
        n = 1 if np.isscalar(ids) else len(ids)
        with pytest.raises(ValueError, match="'neg'.*>= 0"):
            col.upsert(ids, X[:n])
    assert col.count() == 2 and sorted(r.id for r in col.scroll()) == [0, 1]
    res = col.search_batch(X[:2], k=4)
    assert res.int_ids().tolist()[0][2:] == [-1, -1]  # padding only
    # a lookup of a negative id finds nothing (it is not a write)
    assert col.get([-1]) == [None] and col.delete([-1]) == 0
    col.upsert([0, 2**63 - 1, "s"], X[:3])  # the full range of ids stays usable
    assert col.count() == 4


def test_binary_storage_with_l2_is_refused_by_create_collection(db):
    with pytest.raises(ValueError, match="'bin'.*binary.*cosine"):
        db.create_collection("bin", dim=DIM, metric="l2",
                             index=ws.FlatConfig(storage="binary"))
    assert "bin" not in db.list_collections()
    col = db.create_collection("bin", dim=DIM, metric="cosine",
                               index=ws.FlatConfig(storage="binary"), segment_size=64)
    X = np.random.default_rng(4).standard_normal((200, DIM)).astype(np.float32)
    col.upsert(list(range(200)), X)
    col.flush()
    assert col.info()["sealed_segments"] >= 1
    assert col.search(X[7], k=1)[0].id == 7


def test_durations_of_fsyncs_seals_and_merges(tmp_path):
    """col.durations(): histograms of WAL fsync, seal and merge seconds (the server's
    /metrics exports them) and the automatic compaction's pending merges."""
    with ws.connect(tmp_path / "db", fsync="always") as d:
        col = d.create_collection("t", dim=DIM, metric="l2", segment_size=100)
        x = _clustered(450, seed=9)
        for a in range(0, 450, 150):  # one acknowledged write = at least one fsync
            col.upsert(list(range(a, a + 150)), x[a:a + 150])
        col.flush()
        t = col.durations()
        info = col.info()
        assert t["wal_fsync"]["count"] >= 3 and t["wal_fsync"]["sum"] > 0
        assert t["seal"]["count"] == info["background"]["seals"] >= 4
        assert t["seal"]["sum"] == pytest.approx(info["background"]["seal_seconds"])
        for h in (t["wal_fsync"], t["seal"], t["merge"]):
            bounds = [b for b, _ in h["buckets"]]
            counts = [n for _, n in h["buckets"]]
            assert bounds == sorted(bounds) and bounds[-1] == float("inf")
            assert counts == sorted(counts) and counts[-1] == h["count"]
        # a fifth of one segment deleted: automatic compaction has a merge to run
        before = t["merges_pending"]
        col.delete(list(range(0, 100, 4)))
        assert col.durations()["merges_pending"] >= min(before, 1)
    with pytest.raises(ValueError):
        col.durations()  # closed


def test_hit_is_a_tuple_with_a_lazy_payload():
    h = ws.Hit("a", 1.5, b'{"x":1}')
    assert h.payload == {"x": 1} and h[2] == {"x": 1} and h.id == "a" and h.score == 1.5
    i, s, p = h
    assert (i, s, p) == ("a", 1.5, {"x": 1})
    assert h == ("a", 1.5, {"x": 1}) and h == ws.Hit("a", 1.5, {"x": 1})
    assert pickle.loads(pickle.dumps(h)) == h
    assert ws.Hit(1, 0.0, b"").payload is None and ws.Hit(1, 0.0).payload is None
    assert "payload={'x': 1}" in repr(h) and h._asdict()["payload"] == {"x": 1}


def test_keyword_except_filter_on_the_mutable_segment(db):
    col = db.create_collection("k", dim=DIM, schema={"p": "keyword", "t": "keyword[]"})
    x = _clustered(300, seed=12)
    pays = [{"p": ["required", "optional", "extra"][i % 3], "t": ["a", "b"][: i % 3]}
            if i % 7 else {} for i in range(300)]
    col.upsert(list(range(300)), x, pays)
    for flt, want in (
        ({"key": "p", "match": {"except": ["optional"]}},
         [i for i in range(300) if i % 7 and i % 3 != 1]),
        ({"key": "t", "match": {"except": ["a"]}},
         [i for i in range(300) if i % 7 and i % 3 == 2]),
        ({"must_not": [{"key": "p", "match": "optional"}]},
         [i for i in range(300) if not (i % 7 and i % 3 == 1)]),
    ):
        got = sorted(r.id for r in col.scroll(filter=flt, limit=1000, with_vectors=False))
        assert got == want, flt


def test_batch_results_are_a_sequence_with_arrays(db):
    x = _clustered(600, seed=13)
    col = db.create_collection("b", dim=DIM, metric="l2", schema={"g": "int"},
                               segment_size=250, index=ws.FlatConfig())
    col.upsert([f"p{i}" for i in range(600)], x, [{"g": i} for i in range(600)])
    col.flush()
    q = x[:40]
    res = col.search_batch(q, k=10)
    assert len(res) == 40 and res[3][0].id == "p3" and res[3][0].payload == {"g": 3}
    assert res[-1][0].id == "p39" and [r[0].id for r in res[:2]] == ["p0", "p1"]
    with pytest.raises(IndexError):
        res[40]
    ids, scores = res.ids, res.scores
    assert ids.shape == scores.shape == (40, 10)
    assert [h.id for h in res[5]] == ids[5].tolist()
    np.testing.assert_allclose([h.score for h in res[5]], scores[5])
    # equal to the one-query searches, hit for hit
    assert list(res) == [col.search(v, k=10) for v in q]
    few = col.search_batch(q, k=10, filter={"key": "g", "range": {"lt": 5}})
    assert all(len(r) == 5 for r in few)
    assert np.isnan(few.scores[:, 5:]).all() and (few.ids[:, 5:] == None).all()  # noqa: E711
    assert few.counts.tolist() == [5] * 40 and res.counts.tolist() == [10] * 40


def test_float_rows_converts_json_vectors_and_refuses_what_is_not_numbers():
    """The server's conversion of parsed JSON vectors: equal to NumPy's for ints and
    floats; None (the caller then names the bad row) for a bool, a string, a nested or
    short row, a non-list, NaN or infinity, a value past float32, an int past a double."""
    from warpsearch import _core

    rows = [[1, 2.5, -3], [0.1, 2**40, -1e-30]]
    got = _core.float_rows(rows, 3)
    assert got.dtype == np.float32 and got.shape == (2, 3)
    np.testing.assert_array_equal(got, np.array(rows, dtype=np.float64).astype(np.float32))
    assert _core.float_rows([], 3).shape == (0, 3)
    for bad in ([1.0, True, 2.0], [1.0, "2", 3.0], [1.0, [2.0], 3.0], [1.0, 2.0],
                (1.0, 2.0, 3.0), [1.0, float("nan"), 2.0], [float("inf"), 0.0, 0.0],
                [3.5e38, 0.0, 0.0], [10**400, 0.0, 0.0], [1.0, None, 2.0]):
        assert _core.float_rows([[0.0, 0.0, 0.0], bad], 3) is None, bad
    assert _core.float_rows([[-3.4e38, 3.4e38, 0.0]], 3) is not None
    with pytest.raises(TypeError):
        _core.float_rows("not a list", 3)
    with pytest.raises(ValueError):
        _core.float_rows([[1.0]], 0)


def test_batch_ids_and_payloads_gathered_in_one_call_equal_the_python_paths():
    """``int_ids`` and ``payloads_json`` (the server's binary answer) gather in C++;
    their output equals the per-hit Python paths, with -1 / cut rows as padding, None
    for string ids, and the Python encoder taking over for a payload held decoded."""
    import orjson

    from warpsearch import _core
    from warpsearch.db.query import BatchResults

    uids = np.empty(4, dtype=object)
    uids[:] = [5, 2**62, 0, 9]
    raws = [b'{"a":1}', None, b"", b'{"b":[1,2]}']
    D = np.array([[0.1, 0.2, 0.3], [0.4, 0.0, 0.0]], np.float32)
    R = np.array([[3, 0, 1], [2, -1, -1]], np.int64)
    res = BatchResults(uids, raws, D, R)
    assert res.int_ids().tolist() == [[9, 5, 2**62], [0, -1, -1]]
    assert orjson.loads(res.payloads_json()) == [[{"b": [1, 2]}, {"a": 1}, None], [None]]
    assert res.payloads_json() == b'[[{"b":[1,2]},{"a":1},null],[null]]'
    held = BatchResults(uids, [{"x": 1}, None, b"", b"{}"], D, R)  # one payload decoded
    assert orjson.loads(held.payloads_json()) == [[{}, {"x": 1}, None], [None]]
    text = uids.copy()
    text[2] = "doc"
    assert BatchResults(text, raws, D, R).int_ids() is None
    assert BatchResults(text, raws, D, np.array([[3, 0, 1]], np.int64)).int_ids().tolist() \
        == [[9, 5, 2**62]]  # the string id is not among the hits
    assert _core.gather_int_ids(uids, np.full((2, 2), -1, np.int64)).tolist() == [[-1, -1]] * 2
    with pytest.raises(ValueError, match="out of range"):
        _core.gather_int_ids(uids, np.array([[4]], np.int64))
    with pytest.raises(ValueError, match="out of range"):
        _core.payload_rows_json(raws, np.array([[7]], np.int64))
    with pytest.raises(TypeError):
        _core.gather_int_ids(np.arange(4), R)


def test_scored_points_json_writes_each_query_hits_as_json():
    """The server's batch answers with int ids: per query, the JSON list of scored
    points of its hits [lo, hi); every score reads back as the same double (the
    shortest text), a non-finite one as null (as orjson writes it)."""
    import json

    from warpsearch import _core

    ids = np.array([[7, -2, 2**62], [0, 5, 6]], np.int64)
    S = np.array([[0.1, 1 / 3, 1e-300], [np.inf, np.nan, 123456789.0]])
    out = _core.scored_points_json(ids, S, np.array([0, 1], np.int64), np.array([3, 2], np.int64))
    a, b = (json.loads(x) for x in out)
    assert [p["id"] for p in a] == [7, -2, 2**62] and [p["score"] for p in a] == S[0].tolist()
    assert b == [{"id": 5, "version": 0, "score": None, "payload": None, "vector": None}]
    assert _core.scored_points_json(ids, S, np.array([2, 3], np.int64),
                                    np.array([2, 3], np.int64)) == [b"[]", b"[]"]
    with pytest.raises(ValueError, match="out of range"):
        _core.scored_points_json(ids, S, np.array([0, 0], np.int64), np.array([4, 0], np.int64))
    with pytest.raises(ValueError, match="out of range"):
        _core.scored_points_json(ids, S, np.array([2, 0], np.int64), np.array([1, 0], np.int64))


def test_make_hits_builds_result_tuples_and_checks_its_inputs():
    from warpsearch import _core

    uids = np.empty(3, dtype=object)
    uids[:] = ["a", 7, "c"]
    raws = [b'{"x":0}', b"", b'{"x":2}']
    D = np.array([[0.5, 1.5, np.inf]], np.float32)
    R = np.array([[2, 0, -1]], np.int64)
    (row,) = _core.make_hits(ws.Hit, uids, raws, D, R)
    assert row == [("c", 0.5, {"x": 2}), ("a", 1.5, {"x": 0})]
    assert all(type(h) is ws.Hit for h in row)
    # atoms only: out of the cyclic collector; a dict payload (a container) stays in it
    import gc

    assert not any(gc.is_tracked(h) for h in row)
    (row2,) = _core.make_hits(ws.Hit, uids, [{"x": 0}] * 3, D, R)
    assert all(gc.is_tracked(h) for h in row2) and row2[0].payload == {"x": 0}
    assert _core.make_hits(ws.Hit, uids, None, D, R)[0][0].payload is None
    with pytest.raises(ValueError, match="out of range"):
        _core.make_hits(ws.Hit, uids, raws, D, np.array([[3, -1, -1]], np.int64))
    with pytest.raises(TypeError):
        _core.make_hits(dict, uids, raws, D, R)
    # int64 ids (a loaded segment's) are made into Python ints as the hits are built
    (row3,) = _core.make_hits(ws.Hit, np.array([4, 2**40, 6], np.int64), raws, D, R)
    assert row3 == [(6, 0.5, {"x": 2}), (4, 1.5, {"x": 0})] and type(row3[0].id) is int
    with pytest.raises(TypeError):
        _core.make_hits(ws.Hit, np.arange(3, dtype=np.float64), raws, D, R)
    with pytest.raises(TypeError):
        _core.make_hits(ws.Hit, np.arange(3, dtype=np.int32), raws, D, R)
