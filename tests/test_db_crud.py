# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Database basics: CRUD, ids, count/scroll, validation, persistence, locking, corruption."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import warpsearch as ws

DIM = 8
SCHEMA = {"section": "keyword", "size_kb": "int", "score": "float", "tags": "keyword[]",
          "published": "datetime", "loc": "geo", "body": "text"}


def _vecs(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


@pytest.fixture
def db(tmp_path):
    d = ws.connect(tmp_path / "db")
    yield d
    d.close()


def _col(db, **kw):
    kw.setdefault("index", ws.HNSWConfig(M=8, ef_construction=64))
    kw.setdefault("segment_size", 40)
    return db.create_collection("docs", dim=DIM, metric="l2", schema=SCHEMA, **kw)


def test_collections_lifecycle(db):
    assert db.list_collections() == []
    col = _col(db)
    assert db.list_collections() == ["docs"]
    assert db.get_collection("docs") is col
    with pytest.raises(ValueError, match="already exists"):
        _col(db)
    with pytest.raises(KeyError):
        db.get_collection("nope")
    db.drop_collection("docs")
    assert db.list_collections() == []
    with pytest.raises(ValueError, match="closed"):
        col.count()
    with pytest.raises(ValueError, match="invalid collection name"):
        db.create_collection("../x", dim=4)
    with pytest.raises(ValueError, match="unknown type"):
        db.create_collection("y", dim=4, schema={"a": "blob"})
    with pytest.raises(ValueError, match="metric"):
        db.create_collection("y", dim=4, metric="hamming")


def test_upsert_get_count_scroll(db):
    col = _col(db)
    x = _vecs(100)
    ids = [f"doc-{i}" if i % 2 else i for i in range(100)]
    pays = [{"section": "ab"[i % 2], "size_kb": i, "extra": {"nested": [i]}} for i in range(100)]
    col.upsert(ids, x, pays)
    assert col.count() == 100 and len(col) == 100
    recs = col.get(["doc-3", 4, "missing", 999, 0])
    assert [r.id if r else None for r in recs] == ["doc-3", 4, None, None, 0]
    np.testing.assert_array_equal(recs[0].vector, x[3])
    assert recs[0].payload == pays[3]  # fields outside the schema are stored too
    assert col.get(4)[0].payload["size_kb"] == 4
    assert col.count({"section": "a"}) == 50
    assert col.count({"key": "size_kb", "range": {"gte": 10, "lt": 20}}) == 10
    # scroll pages through everything exactly once
    seen = []
    for off in range(0, 100, 30):
        page = col.scroll(limit=30, offset=off)
        seen += [r.id for r in page]
    assert sorted(map(str, seen)) == sorted(map(str, ids))
    page = col.scroll(filter={"section": "b"}, limit=1000)
    assert len(page) == 50 and all(r.payload["section"] == "b" for r in page)
    # int 2 and str "2" are different ids
    col.upsert(["2"], x[:1], [{"section": "s"}])
    assert col.get([2, "2"])[0].payload["section"] == "a"
    assert col.get([2, "2"])[1].payload["section"] == "s"


def test_overwrite_and_delete(db):
    col = _col(db)
    x = _vecs(120)
    col.upsert(list(range(120)), x, [{"section": "old"}] * 120)
    col.flush()
    col.upsert([5, 50, 119], -x[[5, 50, 119]], [{"section": "new"}] * 3)
    assert col.count() == 120
    assert col.count({"section": "new"}) == 3 and col.count({"section": "old"}) == 117
    np.testing.assert_array_equal(col.get(50)[0].vector, -x[50])
    hits = col.search(x[50], k=120, with_payload=True)
    assert len({h.id for h in hits}) == len(hits) == 120
    h50 = next(h for h in hits if h.id == 50)
    assert h50.payload == {"section": "new"}
    assert h50.score == pytest.approx(float(np.sum((2 * x[50]) ** 2)), rel=1e-4)
    assert col.delete([5, 6, 12345]) == 2
    assert col.get([5, 6]) == [None, None]
    assert col.delete(filter={"section": "new"}) == 2
    assert col.count() == 116
    ids = {h.id for h in col.search(x[0], k=200)}
    assert ids == set(range(120)) - {5, 6, 50, 119}
    with pytest.raises(ValueError, match="either ids or filter"):
        col.delete()


def test_validation_errors(db):
    col = _col(db)
    x = _vecs(3)
    with pytest.raises(ValueError, match="'size_kb'"):
        col.upsert([1], x[:1], [{"size_kb": "big"}])
    with pytest.raises(ValueError, match="'tags'"):
        col.upsert([1], x[:1], [{"tags": [1, 2]}])
    with pytest.raises(ValueError, match="'section'.*array"):
        col.upsert([1], x[:1], [{"section": ["a"]}])
    with pytest.raises(ValueError, match="'loc'"):
        col.upsert([1], x[:1], [{"loc": {"lat": 91, "lon": 0}}])
    with pytest.raises(ValueError, match="'published'"):
        col.upsert([1], x[:1], [{"published": "yesterday"}])
    with pytest.raises(ValueError, match="JSON"):
        col.upsert([1], x[:1], [{"blob": object()}])
    with pytest.raises(ValueError, match="collection .*dimension 9, expected dim=8"):
        col.upsert([1], np.zeros((1, DIM + 1)))
    with pytest.raises(ValueError, match="NaN"):
        col.upsert([1], np.full((1, DIM), np.nan))
    with pytest.raises(ValueError, match="duplicate"):
        col.upsert([1, 1], x[:2])
    with pytest.raises(TypeError):
        col.upsert([1.5], x[:1])
    with pytest.raises(TypeError):
        col.upsert([True], x[:1])
    assert col.count() == 0  # nothing was written by failed calls
    col.upsert([1], x[:1], [{"section": "a"}])
    with pytest.raises(ValueError, match="unknown field 'nope'"):
        col.search(x[0], filter={"nope": 1})
    with pytest.raises(ValueError, match="'size_kb'"):
        col.search(x[0], filter={"key": "size_kb", "match": "ten"})
    with pytest.raises(ValueError, match="'section'"):
        col.count({"key": "section", "range": {"gt": 1}})
    with pytest.raises(ValueError, match="'body'"):
        col.count({"key": "body", "match": "x"})
    with pytest.raises(ValueError, match="'loc'"):
        col.count({"key": "loc", "geo_radius": {"center": {"lat": 0}, "radius": 5}})
    with pytest.raises(ValueError, match="k must be"):
        col.search(x[0], k=0)
    with pytest.raises(ValueError, match="collection .*dimension 9, expected dim=8"):
        col.search(np.zeros(DIM + 1))


def test_persistence_identical_after_reopen(tmp_path):
    path = tmp_path / "db"
    x = _vecs(300, seed=1)
    q = _vecs(10, seed=2)
    with ws.connect(path) as db:
        col = _col(db)
        col.upsert(list(range(300)), x, [{"section": str(i % 3), "size_kb": i} for i in range(300)])
        col.delete(list(range(0, 300, 7)))
        col.upsert([3], x[4], {"section": "moved"})
        col.flush()  # sealing done: the same indexes answer before and after reopening
        before = col.search_batch(q, k=10, filter={"key": "size_kb", "range": {"gt": 20}})
        count = col.count()
        info = col.info()
    assert info["sealed_segments"] >= 1 and info["mutable_rows"] > 0
    with ws.connect(path) as db:
        col = db.get_collection("docs")
        assert col.count() == count
        after = col.search_batch(q, k=10, filter={"key": "size_kb", "range": {"gt": 20}})
        assert [[(h.id, h.score) for h in r] for r in after] == \
            [[(h.id, h.score) for h in r] for r in before]
        assert col.get(3)[0].payload == {"section": "moved"}
        assert col.get(7) == [None]


def test_second_writer_refused(tmp_path):
    path = tmp_path / "db"
    db = ws.connect(path)
    with pytest.raises(ws.DatabaseLockedError, match="already open"):
        ws.connect(path)
    script = textwrap.dedent(f"""
        import warpsearch as ws
        try:
            ws.connect({str(path)!r})
        except ws.DatabaseLockedError as e:
            print("REFUSED", e)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=dict(os.environ), timeout=60)
    assert "REFUSED" in out.stdout and "already open" in out.stdout, out.stderr
    db.close()
    ws.connect(path).close()  # free again once closed


@pytest.mark.parametrize("index, name", [
    (ws.FlatConfig(), "payloads.jsonl"),
    (ws.FlatConfig(), "ids.npy"),
    (ws.FlatConfig(storage="sq8"), "vectors.npy"),  # a lossy index: vectors kept beside it
])
def test_corrupt_segment_is_an_error(tmp_path, index, name):
    path = tmp_path / "db"
    with ws.connect(path) as db:
        col = _col(db, index=index, segment_size=10)
        col.upsert(list(range(25)), _vecs(25))
    seg = path / "collections" / "docs" / "segments" / "seg-00000000" / name
    data = bytearray(seg.read_bytes())
    data[-3] ^= 0xFF
    seg.write_bytes(bytes(data))
    with ws.connect(path) as db:
        with pytest.raises(ws.CorruptionError, match=f"seg-00000000.*{name}"):
            db.get_collection("docs")


def test_corrupt_manifest_is_an_error(tmp_path):
    path = tmp_path / "db"
    with ws.connect(path) as db:
        _col(db).upsert([1], _vecs(1))
    manifest = path / "collections" / "docs" / "MANIFEST.json"
    manifest.write_text(manifest.read_text().replace('"segment_size": 40', '"segment_size": 41'))
    with ws.connect(path) as db:
        with pytest.raises(ws.CorruptionError, match="checksum"):
            db.get_collection("docs")


def test_torn_wal_tail_is_dropped(tmp_path):
    path = tmp_path / "db"
    x = _vecs(20)
    with ws.connect(path) as db:
        col = _col(db, segment_size=1000)
        for i in range(20):
            col.upsert([i], x[i:i + 1], [{"size_kb": i}])
    wal_dir = path / "collections" / "docs" / "wal"
    (wal_file,) = sorted(wal_dir.iterdir())
    good = wal_file.read_bytes()
    # A torn record: a header announcing more bytes than were written.
    wal_file.write_bytes(good + b"\x40\x00\x00\x00\x15\x00\x00\x00\x00\x00\x00\x00\x01\x02")
    with ws.connect(path) as db:
        col = db.get_collection("docs")
        assert col.count() == 20
        assert wal_file.stat().st_size == len(good)
        col.upsert([100], x[:1])
    # A bad checksum in the last record is dropped the same way.
    data = bytearray(wal_file.read_bytes())
    data[-1] ^= 0xFF
    wal_file.write_bytes(bytes(data))
    with ws.connect(path) as db:
        col = db.get_collection("docs")
        assert col.count() == 20 and col.get(100) == [None]
        np.testing.assert_array_equal(col.get(19)[0].vector, x[19])


def test_fsync_policies(tmp_path):
    for policy in ("always", "interval", "never"):
        p = tmp_path / policy
        with ws.connect(p, fsync=policy, fsync_interval_ms=5) as db:
            col = db.create_collection("c", dim=DIM, segment_size=16)
            col.upsert(list(range(50)), _vecs(50))
        with ws.connect(p) as db:
            assert db.get_collection("c").count() == 50
    with pytest.raises(ValueError, match="fsync"):
        ws.connect(tmp_path / "x", fsync="sometimes")


def test_compact_purges_and_keeps_results(db):
    col = _col(db, segment_size=50)
    x = _vecs(400, seed=3)
    col.upsert(list(range(400)), x, [{"size_kb": i} for i in range(400)])
    col.delete(list(range(0, 400, 2)))
    col.flush()
    q = _vecs(5, seed=4)
    before = [[h.id for h in r] for r in col.search_batch(q, k=10, ef=200)]
    rep = col.compact()
    # segments half deleted are purged in the background already (size-tiered merges);
    # compact() merges the rest: one segment, no deleted row left
    info = col.info()
    assert info["sealed_segments"] == 1 and info["deleted_rows"] == 0
    assert rep["purged"] + info["background"]["merges"] >= 1
    assert col.count() == 200
    after = [[h.id for h in r] for r in col.search_batch(q, k=10, ef=200)]
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(before, after)])
    assert overlap >= 0.95
    assert all(i % 2 == 1 for r in after for i in r)
    assert col.count({"key": "size_kb", "range": {"lt": 100}}) == 50


def test_upsert_progress_bar(db, capsys):
    col = db.create_collection("p", dim=DIM)
    col.upsert(list(range(30)), _vecs(30), batch_size=10, progress=True)
    assert "30/30" in capsys.readouterr().err
    assert col.count() == 30


def test_progress_bars_of_long_calls(tmp_path, capsys):
    """progress=True shows a bar (on stderr, as tqdm writes) for compaction, snapshots,
    restores (the segment copies included) and file ingest; progress=False shows
    none; anything but a bool or None is a TypeError before any work."""
    with ws.connect(tmp_path / "db", fsync="never") as d:
        col = d.create_collection("p", dim=DIM, segment_size=10)
        col.upsert(list(range(45)), _vecs(45), progress=False)
        col.flush()
        col.delete([1, 2, 3])
        capsys.readouterr()
        col.compact(progress=True)
        assert "compact p" in capsys.readouterr().err
        segs = col.info()["sealed_segments"]
        col.snapshot(str(tmp_path / "snap2"), progress=True)
        err = capsys.readouterr().err
        assert "snapshot p" in err and f"{segs}/{segs}" in err
        r = ws.restore(str(tmp_path / "snap2"), d, "q", progress=True)
        err = capsys.readouterr().err
        assert "restore q" in err and f"{segs}/{segs}" in err and r.count() == 42
        np.save(tmp_path / "v.npy", _vecs(25))
        n = ws.ingest(d.create_collection("i", dim=DIM), str(tmp_path / "v.npy"),
                      batch_size=10, progress=True)
        assert n == 25 and "25/25" in capsys.readouterr().err
        for call in (lambda: col.compact(progress=False),
                     lambda: col.snapshot(str(tmp_path / "snap3"), progress=False)):
            call()
            assert capsys.readouterr().err == ""
        for call in (lambda: col.compact(progress="yes"),
                     lambda: col.snapshot(str(tmp_path / "snap4"), progress=1.0),
                     lambda: ws.restore(str(tmp_path / "snap2"), d, "r", progress="no")):
            with pytest.raises(TypeError, match="progress"):
                call()
        assert not d.has_collection("r") and not os.path.exists(tmp_path / "snap4")


def test_payload_codecs_keep_every_value(tmp_path):
    """Payloads round-trip exactly whichever JSON codec writes and reads them: ints
    past 64 bits, long digit strings, unicode, nested lists, numpy and datetime values
    (stored as JSON numbers and ISO strings), and NaN refused."""
    import datetime

    from warpsearch.db.payload import decode_payload, encode_payload

    cases = [{"big": 123456789012345678901234567890, "neg": -9223372036854775809},
             {"u64": 18446744073709551615, "s": "1234567890123456789012", "f": 0.1},
             {"t": "naïve ☃ \u2028", "nested": {"a": [1, [2.5, None, True]], "b": {}}},
             {"np": np.int64(7), "arr": np.arange(3), "f32": np.float32(0.5)},
             {"when": datetime.datetime(2024, 1, 2, 3, 4, 5, 600)}]
    expected = [cases[0], cases[1], cases[2], {"np": 7, "arr": [0, 1, 2], "f32": 0.5},
                {"when": "2024-01-02T03:04:05.000600"}]
    for payload, want in zip(cases, expected):
        assert decode_payload(encode_payload(payload)) == want
    for bad in ({"x": float("nan")}, {"x": [float("inf")]}, {"x": {"y": object()}}):
        with pytest.raises(ValueError, match="cannot be stored as JSON"):
            encode_payload(bad)
    db = ws.connect(tmp_path / "db")
    col = db.create_collection("p", dim=2)
    col.upsert([1, 2], [[0, 1], [1, 0]], cases[:2])
    db.close()
    db = ws.connect(tmp_path / "db")  # replayed from the log
    assert [r.payload for r in db.get_collection("p").get([1, 2])] == cases[:2]
    db.close()


def test_close_seals_and_drops_the_log(tmp_path):
    """Closing a collection whose rows are all indexed seals them and drops the log
    files the checkpoint covers: the points are on disk once, in the segment."""
    path = tmp_path / "db"
    x = _vecs(300)
    with ws.connect(path) as db:
        col = _col(db, segment_size=1000)
        col.upsert(list(range(300)), x, [{"tag": "a", "n": i} for i in range(300)])
        col.flush()
    wal = path / "collections" / "docs" / "wal"
    assert sum(p.stat().st_size for p in wal.iterdir()) == 0
    with ws.connect(path) as db:
        col = db.get_collection("docs")
        assert col.info()["sealed_segments"] == 1 and len(col) == 300
        assert np.array_equal(np.stack([r.vector for r in col.get(list(range(300)))]), x)
        col.upsert([300], _vecs(1, seed=5))
    with ws.connect(path) as db:
        assert len(db.get_collection("docs")) == 301
