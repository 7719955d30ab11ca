# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Snapshots (full, incremental, fsspec URLs), restore, verification, and bulk ingest."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

import warpsearch as ws

DIM = 12
SCHEMA = {"g": "int", "name": "keyword", "when": "datetime"}


def _fill(col, lo, hi, seed=0):
    x = np.random.default_rng(seed + lo).standard_normal((hi - lo, DIM)).astype(np.float32)
    col.upsert(list(range(lo, hi)), x,
               [{"g": i % 7, "name": f"n{i}", "when": f"2024-01-{1 + i % 28:02d}"}
                for i in range(lo, hi)])
    return x


def _points(col):
    recs = col.scroll(limit=10**6)
    return {r.id: (r.vector.tobytes(), json.dumps(r.payload, sort_keys=True)) for r in recs}


def _results(col, q):
    return [[(h.id, round(h.score, 5)) for h in hits]
            for hits in col.search_batch(q, k=10, filter={"key": "g", "range": {"lt": 5}})]


@pytest.fixture
def db(tmp_path):
    d = ws.connect(tmp_path / "db", fsync="never")
    yield d
    d.close()


def _col(db, name="src"):
    return db.create_collection(name, dim=DIM, metric="ip", schema=SCHEMA,
                                index=ws.HNSWConfig(M=8, ef_construction=48), segment_size=100)


def test_snapshot_restore_round_trip(db, tmp_path):
    col = _col(db)
    _fill(col, 0, 350)
    col.delete(list(range(0, 350, 9)))
    col.flush()
    snap = col.snapshot(tmp_path / "snap")
    assert ws.verify_snapshot(snap) is True
    files = set(os.listdir(snap))
    assert {"SNAPSHOT.json", "CHECKSUMS.json", "segments", "tombstones", "tail"} <= files
    q = np.random.default_rng(9).standard_normal((8, DIM)).astype(np.float32)
    restored = ws.restore(snap, db, "copy")
    assert restored.count() == col.count() == 350 - 39
    assert _points(restored) == _points(col)
    assert _results(restored, q) == _results(col, q)
    assert restored.count({"key": "when", "range": {"lt": "2024-01-03"}}) == \
        col.count({"key": "when", "range": {"lt": "2024-01-03"}})
    # the restored collection is a normal, persistent collection
    restored.upsert([10_000], np.ones(DIM), {"g": 1})
    assert restored.count() == col.count() + 1
    with pytest.raises(ValueError, match="already exists"):
        col.snapshot(snap)


def test_tampered_snapshot_fails_verify(db, tmp_path):
    col = _col(db)
    _fill(col, 0, 150)
    col.flush()
    snap = col.snapshot(tmp_path / "snap")
    victim = os.path.join(snap, "segments", "seg-00000000", "payloads.jsonl")
    with open(victim, "r+b") as f:
        f.seek(5)
        byte = f.read(1)
        f.seek(5)
        f.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(ValueError, match="payloads.jsonl was altered"):
        ws.verify_snapshot(snap)
    with pytest.raises(ValueError, match="altered"):
        ws.restore(snap, db, "bad")
    assert "bad" not in db.list_collections()
    with open(os.path.join(snap, "extra.bin"), "wb") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match="unexpected file extra.bin|altered"):
        ws.verify_snapshot(snap)
    with pytest.raises(ValueError, match="not a snapshot|CHECKSUMS"):
        ws.verify_snapshot(tmp_path)


def test_incremental_snapshot(db, tmp_path):
    col = _col(db)
    _fill(col, 0, 300)
    col.flush()
    full = col.snapshot(tmp_path / "full")
    _fill(col, 300, 520, seed=1)
    col.delete([1, 2, 3, 301])
    col.upsert([5], np.full(DIM, 0.5), {"g": 99})
    col.flush()
    inc = col.snapshot(tmp_path / "inc", base=full)
    with open(os.path.join(inc, "SNAPSHOT.json")) as f:
        meta = json.load(f)
    where = {e["id"]: e["location"] for e in meta["segments"]}
    assert list(where.values()).count("base") == 3 and "here" in where.values()
    assert not os.path.exists(os.path.join(inc, "segments", "seg-00000000"))
    assert ws.verify_snapshot(inc)
    r = ws.restore(inc, db, "inc_copy")
    assert _points(r) == _points(col)
    assert r.get(5)[0].payload == {"g": 99} and r.get([1, 301]) == [None, None]
    # the base is needed: tampering with it breaks the incremental snapshot
    os.remove(os.path.join(full, "segments", "seg-00000001", "index.bin"))
    with pytest.raises(ValueError, match="missing"):
        ws.verify_snapshot(inc)


def test_snapshot_during_writes_is_consistent(db, tmp_path):
    col = _col(db)
    _fill(col, 0, 200)
    stop, errors = threading.Event(), []

    def writer():
        try:
            i = 1000
            while not stop.is_set():
                col.upsert([i], np.full(DIM, float(i % 5)), {"g": i % 7, "name": "w"})
                i += 1
        except Exception as exc:  # surfaced below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    try:
        snap = col.snapshot(tmp_path / "live")
    finally:
        stop.set()
        t.join()
    assert not errors
    r = ws.restore(snap, db, "live_copy")
    ids = sorted(p.id for p in r.scroll(limit=10**6, with_vectors=False))
    written = [i for i in ids if i >= 1000]
    assert ids[:200] == list(range(200))
    assert written == list(range(1000, 1000 + len(written)))  # a prefix of the writes
    assert col.count() >= r.count()


def test_fsspec_memory_url(db, tmp_path):
    pytest.importorskip("fsspec")
    col = _col(db)
    _fill(col, 0, 230)
    snap = col.snapshot("memory://warpsearch-test/snap1")
    assert ws.verify_snapshot(snap)
    r = ws.restore("memory://warpsearch-test/snap1", db, "mem_copy")
    assert _points(r) == _points(col)
    inc = col.snapshot("memory://warpsearch-test/snap2", base=snap)
    assert ws.verify_snapshot(inc)
    local = col.snapshot(f"file://{tmp_path}/via_file_url")
    assert ws.verify_snapshot(local) and os.path.exists(tmp_path / "via_file_url" / "SNAPSHOT.json")


def test_urls_without_fsspec_are_a_clear_error(db, tmp_path, monkeypatch):
    import sys

    col = _col(db)
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ImportError, match="needs fsspec"):
        col.snapshot("memory://nowhere/snap")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match="needs pyarrow"):
        ws.ingest(col, tmp_path / "x.parquet")


def test_ingest_npy_and_parquet(db, tmp_path):
    x = np.random.default_rng(2).standard_normal((500, DIM)).astype(np.float32)
    np.save(tmp_path / "v.npy", x)
    col = db.create_collection("npy", dim=DIM, metric="l2", segment_size=200)
    assert ws.ingest(col, tmp_path / "v.npy", batch_size=128) == 500
    assert col.count() == 500
    np.testing.assert_array_equal(col.get(123)[0].vector, x[123])
    with pytest.raises(ValueError, match=".npy or .parquet"):
        ws.ingest(col, tmp_path / "v.csv")
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"vec": pa.array(list(x), type=pa.list_(pa.float32(), DIM)),
                      "pid": [f"p{i}" for i in range(500)],
                      "g": [i % 7 for i in range(500)],
                      "name": [f"n{i}" for i in range(500)]})
    pq.write_table(table, tmp_path / "v.parquet", row_group_size=100)
    col2 = db.create_collection("pq", dim=DIM, metric="l2", schema={"g": "int", "name": "keyword"},
                                segment_size=150)
    n = ws.ingest(col2, tmp_path / "v.parquet", id_column="pid", vector_column="vec",
                  batch_size=64)
    assert n == 500 and col2.count() == 500
    assert col2.count({"g": 3}) == len(range(3, 500, 7))
    rec = col2.get("p42")[0]
    assert rec.payload == {"g": 0, "name": "n42"}
    np.testing.assert_array_equal(rec.vector, x[42])
    with pytest.raises(ValueError, match="vector column"):
        ws.ingest(col2, tmp_path / "v.parquet", vector_column="nope")
