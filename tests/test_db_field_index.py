# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Collection.create_field_index: a payload field made filterable after points were
written, over sealed, frozen and mutable segments, kept across reopening."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import warpsearch as ws

DIM = 4
COLORS = ("red", "green", "blue")


def _points(n, start=0):
    rng = np.random.default_rng(start)
    ids = list(range(start, start + n))
    pay = [{"color": COLORS[i % 3], "n": i, "note": "x"} for i in ids]
    return ids, rng.standard_normal((n, DIM)).astype(np.float32), pay


def _scroll_ids(col, flt):
    return sorted(r.id for r in col.scroll(filter=flt, limit=10**6, with_vectors=False))


def test_field_index_over_existing_points(tmp_path):
    db = ws.connect(tmp_path / "db", fsync="never")
    col = db.create_collection("c", dim=DIM, metric="l2", index=ws.FlatConfig(),
                               segment_size=64)
    ids, x, pay = _points(300)
    col.upsert(ids, x, pay)
    col.delete(list(range(0, 300, 7)))
    col.flush()  # sealed segments plus a mutable one
    assert col.info()["sealed_segments"] >= 4
    with pytest.raises(ValueError, match="unknown field 'color'"):
        col.count({"color": "red"})

    col.create_field_index("color", "keyword")
    col.create_field_index("n", "int[]")
    want = [i for i in ids if i % 7 and i % 3 == 0]
    assert _scroll_ids(col, {"color": "red"}) == want
    assert col.count({"color": "red"}) == len(want)
    assert _scroll_ids(col, {"key": "n", "range": {"gte": 100, "lt": 110}}) == \
        [i for i in range(100, 110) if i % 7]
    hits = col.search(x[3], k=10, filter={"color": "red"})
    assert hits and all(h.payload["color"] == "red" for h in hits)
    assert hits[0].id == 3
    assert col.schema["color"].spelled == "keyword" and col.info()["schema"]["n"] == "int[]"

    # writes after the change are type-checked and indexed, also once sealed
    with pytest.raises(ValueError, match="'color'"):
        col.upsert([1000], x[:1], [{"color": 5}])
    ids2, x2, pay2 = _points(200, start=300)
    col.upsert(ids2, x2, pay2)
    col.flush()
    want2 = want + [i for i in ids2 if i % 3 == 0]
    assert _scroll_ids(col, {"color": "red"}) == want2
    db.close()

    db = ws.connect(tmp_path / "db", fsync="never")  # the schema is in the manifest
    col = db.get_collection("c")
    assert _scroll_ids(col, {"color": "red"}) == want2
    assert col.count({"key": "n", "range": {"gte": 100, "lt": 110}}) == 9
    db.close()


def test_field_index_checks_types_and_changes_nothing_on_error(tmp_path):
    db = ws.connect(tmp_path / "db", fsync="never")
    col = db.create_collection("c", dim=DIM, metric="l2", index=ws.FlatConfig(),
                               segment_size=16)
    x = np.random.default_rng(1).standard_normal((40, DIM))
    pay = [{"v": i} for i in range(40)]
    pay[5] = {"v": "five"}
    col.upsert(list(range(40)), x, pay)
    with pytest.raises(ValueError, match="point 5"):
        col.create_field_index("v", "int")
    assert "v" not in col.schema
    with pytest.raises(ValueError, match="unknown field 'v'"):
        col.count({"key": "v", "range": {"gte": 0}})
    col.delete([5])  # a deleted point's value does not matter
    col.create_field_index("v", "int")
    assert col.count({"key": "v", "range": {"gte": 30}}) == 10
    col.create_field_index("v", "int")  # the same declaration again: nothing happens
    with pytest.raises(ValueError, match="already 'int'"):
        col.create_field_index("v", "keyword")
    with pytest.raises(ValueError, match="unknown type"):
        col.create_field_index("w", "string")
    with pytest.raises(ValueError, match="non-empty strings"):
        col.create_field_index(3, "int")
    db.close()


def test_field_index_while_writing(tmp_path):
    """Upserts racing the schema change: every point ends up indexed, none is lost."""
    db = ws.connect(tmp_path / "db", fsync="never")
    col = db.create_collection("c", dim=DIM, metric="l2", index=ws.FlatConfig(),
                               segment_size=50)
    stop = threading.Event()
    errors = []

    def writer():
        i = 0
        try:
            while not stop.is_set() and i < 2000:
                ids, x, pay = _points(10, start=i)
                col.upsert(ids, x, pay)
                i += 10
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    while col.count() < 200:
        pass
    col.create_field_index("color", "keyword")
    stop.set()
    t.join()
    assert not errors
    col.flush()
    n = col.count()
    assert col.count({"color": "red"}) == len([i for i in range(n) if i % 3 == 0])
    assert col.count({"must_not": [{"color": "red"}]}) == n - col.count({"color": "red"})
    db.close()
