# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Reopening a collection: sealed segments map their index file and load their saved
payload field indexes (no payload is parsed again); collections written before saved
field indexes still open, with the same filter results; a damaged mapped index is a
CorruptionError from the first search, never a crash. Reopen time and memory are
measured in benchmarks/reopen_bench.py."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import warpsearch as ws
from warpsearch.db.storage import file_crc32, read_manifest, write_manifest

DIM = 8
SCHEMA = {"color": "keyword", "n": "int", "price": "float", "ok": "bool", "tags": "keyword[]",
          "when": "datetime", "where": "geo", "text": "text"}
COLORS = ("red", "green", "blue", "teal")


def _payload(i):
    p = {"color": COLORS[i % 4], "n": i % 50, "price": (i % 97) / 3.0, "ok": i % 3 == 0,
         "tags": [f"t{i % 5}", f"t{i % 7}"], "when": f"2020-01-{1 + i % 28:02d}T00:00:00Z",
         "where": {"lat": 40 + (i % 10) / 10, "lon": -70 - (i % 10) / 10},
         "text": f"word{i % 11} common"}
    if i % 13 == 0:
        del p["color"]  # missing values too
    if i % 17 == 0:
        p["n"] = None
    return p


FILTERS = [
    {"color": "red"},
    {"must_not": [{"key": "color", "match": {"any": ["red", "blue"]}}]},
    {"key": "n", "range": {"gte": 10, "lt": 20}},
    {"key": "price", "range": {"gt": 5.5}},
    {"ok": True},
    {"key": "tags", "match": {"any": ["t3"]}},
    {"key": "when", "range": {"gte": "2020-01-10T00:00:00Z"}},
    {"key": "where", "geo_radius": {"center": {"lat": 40.0, "lon": -70.0}, "radius": 30000}},
    {"key": "text", "text": "word3"},
    {"is_null": {"key": "n"}},
    {"is_empty": {"key": "color"}},
]


def _scroll_ids(col, flt):
    return sorted(r.id for r in col.scroll(filter=flt, limit=10**6, with_vectors=False))


def _make(path, n=700, segment_size=200):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    with ws.connect(path, fsync="never") as db:
        col = db.create_collection("c", dim=DIM, metric="l2", index=ws.FlatConfig(),
                                   segment_size=segment_size, schema=SCHEMA)
        col.upsert(list(range(n)), x, [_payload(i) for i in range(n)])
        col.delete(list(range(0, n, 9)))
        col.flush()
        want = {json.dumps(f): _scroll_ids(col, f) for f in FILTERS}
        hits = [h.id for h in col.search(x[5], k=10)]
        info = col.info()
    assert info["sealed_segments"] >= 3
    return x, want, hits


def _segments(path):
    return os.path.join(path, "collections", "c", "segments")


def test_reopen_loads_saved_field_indexes(tmp_path, monkeypatch):
    path = str(tmp_path / "db")
    x, want, hits = _make(path)
    assert all(os.path.exists(os.path.join(_segments(path), s, "fields.npz"))
               for s in os.listdir(_segments(path)))
    # no payload of a sealed segment is parsed to open the collection
    from warpsearch.db import segment
    calls = []
    real = segment.build_fields
    monkeypatch.setattr(segment, "build_fields", lambda *a: calls.append(1) or real(*a))
    with ws.connect(path) as db:
        col = db.get_collection("c")
        assert calls == []
        for f in FILTERS:
            assert _scroll_ids(col, f) == want[json.dumps(f)], f
        assert [h.id for h in col.search(x[5], k=10)] == hits
        # the sealed indexes are mapped from their files
        with open("/proc/self/maps") as m:
            maps = m.read()
        assert os.path.join(os.path.realpath(_segments(path)), "seg-") in maps
        assert "index.bin" in maps


def test_collections_from_before_saved_field_indexes_open(tmp_path, monkeypatch):
    path = str(tmp_path / "db")
    x, want, hits = _make(path)
    # the layout of a collection written before fields.npz and ids.npy: ids in ids.json
    coll = os.path.join(path, "collections", "c")
    body = read_manifest(coll)
    for e in body["segments"]:
        d = os.path.join(_segments(path), f"seg-{e['id']:08d}")
        e["files"].pop("fields.npz")
        os.remove(os.path.join(d, "fields.npz"))
        e["files"].pop("ids.npy")
        ids = np.load(os.path.join(d, "ids.npy")).tolist()
        os.remove(os.path.join(d, "ids.npy"))
        with open(os.path.join(d, "ids.json"), "w") as f:
            json.dump(ids, f)
        e["files"]["ids.json"] = {"size": os.path.getsize(os.path.join(d, "ids.json")),
                                  "crc32": file_crc32(os.path.join(d, "ids.json"))}
    write_manifest(coll, body)
    with ws.connect(path) as db:
        col = db.get_collection("c")
        for f in FILTERS:
            assert _scroll_ids(col, f) == want[json.dumps(f)], f
        assert [h.id for h in col.search(x[5], k=10)] == hits
    # migrated on that open: the field indexes were saved and the manifest names them
    body = read_manifest(coll)
    assert all("fields.npz" in e["files"] for e in body["segments"])
    from warpsearch.db import segment
    calls = []
    real = segment.build_fields
    monkeypatch.setattr(segment, "build_fields", lambda *a: calls.append(1) or real(*a))
    with ws.connect(path) as db:
        col = db.get_collection("c")
        assert calls == []  # loaded, not rebuilt
        for f in FILTERS:
            assert _scroll_ids(col, f) == want[json.dumps(f)], f
        # a field added later is indexed over the old segments too
        col.create_field_index("extra", "int")
        assert _scroll_ids(col, {"key": "extra", "range": {"gte": 0}}) == []


def test_string_ids_reopen(tmp_path):
    path = str(tmp_path / "db")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, DIM)).astype(np.float32)
    ids = [f"doc-{i}" if i % 3 else i for i in range(300)]  # str and int ids mixed
    with ws.connect(path, fsync="never") as db:
        col = db.create_collection("c", dim=DIM, metric="l2", index=ws.FlatConfig(),
                                   segment_size=100, schema={"color": "keyword"})
        col.upsert(ids, x, [{"color": COLORS[i % 4]} for i in range(300)])
        col.delete(["doc-4", 3])
        col.flush()
        hits = [h.id for h in col.search(x[7], k=5)]
    with ws.connect(path) as db:
        col = db.get_collection("c")
        assert len(col) == 298 and "doc-5" in col and 6 in col and "doc-4" not in col
        assert 3 not in col and "6" not in col
        assert [h.id for h in col.search(x[7], k=5)] == hits
        assert col.get(["doc-7"])[0].payload == {"color": COLORS[7 % 4]}
        col.upsert(["doc-5"], x[:1] + 50, [{"color": "new"}])  # moves to the mutable segment
        assert col.count({"color": "new"}) == 1 and len(col) == 298


@pytest.mark.parametrize("string_ids", [False, True])
def test_reopened_results_equal_the_written_ones(tmp_path, string_ids):
    """A reopened collection reads its payloads from the mapped payload file, a batch's
    hits in one call, and its int ids from an int64 array: every result (ids, scores,
    payloads, padding past a filter's matches), the server's arrays and the payloads'
    JSON equal those of the collection that wrote them."""
    path = str(tmp_path / "db")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((500, DIM)).astype(np.float32)
    ids = [f"d{i}" if string_ids and i % 2 else i for i in range(500)]
    pays = [{"color": COLORS[i % 4], "n": i, "t": "é" * (i % 3)} if i % 5 else None
            for i in range(500)]
    q = x[:20] + 0.01
    flt = {"key": "n", "range": {"lt": 4}}
    with ws.connect(path, fsync="never") as db:
        col = db.create_collection("c", dim=DIM, metric="l2", index=ws.FlatConfig(),
                                   segment_size=200, schema={"color": "keyword", "n": "int"})
        col.upsert(ids, x, pays)
        col.flush()
        col.compact(progress=False)
        before = [col.search_batch(q, k=7), col.search_batch(q, k=7, filter=flt),
                  [col.search(v, k=30) for v in q[:3]]]
        arrays = [(r.int_ids(), r.payloads_json()) for r in before[:2]]
    with ws.connect(path) as db:
        col = db.get_collection("c")
        after = [col.search_batch(q, k=7), col.search_batch(q, k=7, filter=flt),
                 [col.search(v, k=30) for v in q[:3]]]
        assert after == before
        assert [h.payload for h in after[2][0]] == [h.payload for h in before[2][0]]
        assert after[1].counts.tolist() == [3] * 20  # n < 4 with a payload: rows 1, 2, 3
        for r, (ints, blob) in zip(after[:2], arrays):
            assert r.payloads_json() == blob
            assert (r.int_ids() is None) == string_ids and (
                string_ids or np.array_equal(r.int_ids(), ints))


def test_field_added_after_sealing_is_rebuilt_on_open(tmp_path):
    path = str(tmp_path / "db")
    _make(path)
    with ws.connect(path) as db:
        col = db.get_collection("c")
        col.create_field_index("n2", "int")  # not in the segments' fields.npz
        n_want = _scroll_ids(col, {"key": "n", "range": {"gte": 3, "lte": 3}})
    with ws.connect(path) as db:
        col = db.get_collection("c")
        assert set(col.schema) == set(SCHEMA) | {"n2"}
        assert _scroll_ids(col, {"key": "n", "range": {"gte": 3, "lte": 3}}) == n_want
        assert _scroll_ids(col, {"key": "n2", "range": {"gte": 0}}) == []


def test_damaged_field_file_is_a_corruption_error(tmp_path):
    path = str(tmp_path / "db")
    _make(path)
    victim = os.path.join(_segments(path), "seg-00000000", "fields.npz")
    with open(victim, "r+b") as f:
        f.seek(os.path.getsize(victim) // 2)
        b = f.read(1)
        f.seek(os.path.getsize(victim) // 2)
        f.write(bytes([b[0] ^ 0xFF]))
    with ws.connect(path) as db:
        with pytest.raises(ws.CorruptionError, match="seg-00000000.*fields.npz"):
            db.get_collection("c")


def test_damaged_index_is_detected_on_first_search(tmp_path):
    path = str(tmp_path / "db")
    x, _, _ = _make(path)
    victim = os.path.join(_segments(path), "seg-00000000", "index.bin")
    size = os.path.getsize(victim)
    with open(victim, "r+b") as f:  # a byte inside the last (largest) sections
        f.seek(size - 100)
        b = f.read(1)
        f.seek(size - 100)
        f.write(bytes([b[0] ^ 0xFF]))
    with ws.connect(path) as db:
        col = db.get_collection("c")  # opening reads the index header only
        with pytest.raises(ws.CorruptionError, match="index.bin.*checksum"):
            col.search(x[0], k=5)


def test_idmap_matches_a_dict():
    from warpsearch.db.idmap import IdMap
    rng = np.random.default_rng(11)
    ints = rng.choice(10**12, 3000, replace=False).astype(np.int64) - 5 * 10**11
    strs = [f"doc-{i}" for i in range(1500)] + ["é", "a" * 40, "00000000-0000-4000-8000-00000000abcd"]
    uids = np.empty(len(ints) + len(strs), dtype=object)
    uids[:] = ints.tolist() + strs
    perm = rng.permutation(len(uids))
    uids = uids[perm]
    iids = np.arange(len(uids), dtype=np.int64) + (7 << 32)
    half = len(uids) // 2
    m = IdMap()
    # the second part repeats some ids of the first: the later one wins, the first is lost
    again = uids[:50]
    lost = m.build([(uids[:half], iids[:half]), (uids[half:], iids[half:]),
                    (again, np.arange(50, dtype=np.int64) + (9 << 32))])
    assert sorted(lost.tolist()) == sorted(iids[:50].tolist())
    model = dict(zip(uids.tolist(), iids.tolist()))
    model.update(zip(again.tolist(), (np.arange(50) + (9 << 32)).tolist()))
    assert len(m) == len(model)
    for u, v in list(model.items())[::7]:
        assert m.get(u) == v and u in m
    for missing in (10**13, -(2**63), 2**63 - 1, "nope", "doc-", "doc-1500"):
        assert m.get(missing) is None and missing not in m and m.pop(missing) is None
    ops = rng.integers(0, 3, 4000)
    keys = uids.tolist() + list(range(5000)) + [f"new-{i}" for i in range(100)]
    for op, j in zip(ops, rng.integers(0, len(keys), 4000)):
        k = keys[j]
        if op == 0:
            m[k] = int(j)
            model[k] = int(j)
        elif op == 1:
            assert m.pop(k, "d") == model.pop(k, "d")
        else:
            assert m.get(k) == model.get(k)
        assert len(m) == len(model)
    assert all(m.get(k) == model.get(k) for k in keys)
    assert bool(IdMap()) is False and m.nbytes() < 40 * len(uids)
