# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""An upsert batch's payload fields are parsed a column at a time (a vectorized path
for plain values, the per-row rules otherwise): the field indexes it builds answer
filters exactly as the per-row rules would, and a wrong value is refused the same way,
naming the field, with nothing written."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import warpsearch as ws
from warpsearch.db.config import parse_schema
from warpsearch.db.payload import field_values, parse_column

SCHEMA = {"tag": "keyword", "n": "int", "x": "float", "ok": "bool", "tags": "keyword[]",
          "when": "datetime", "body": "text"}


def _payloads():
    return [
        {"tag": "a", "n": 1, "x": 0.5, "ok": True, "tags": ["p", "q", "p"], "when": "2024-01-01",
         "body": "Hello world"},
        None,
        {"tag": "b", "n": np.int64(7), "x": 3, "ok": np.bool_(False), "tags": [],
         "when": dt.datetime(2024, 5, 1), "body": "world"},
        {"n": None, "x": None, "tags": None},
        {"tag": "a", "n": -(2**63), "x": -1e300, "ok": False, "tags": ["q"]},
        {},
        {"tag": "c", "n": 2**63 - 1, "x": 2.0, "ok": True, "tags": ("r", "p")},
    ]


def test_columns_match_the_per_row_rules():
    pays = _payloads()
    for spec in parse_schema(SCHEMA).values():
        col = parse_column(spec, pays)
        rows = [field_values(spec, p) for p in pays]
        assert col.states.tolist() == [st for st, _ in rows], spec.name
        want_vals = [v for _, vs in rows for v in vs]
        assert list(col.vals) == want_vals, spec.name
        assert col.rows.tolist() == [i for i, (_, vs) in enumerate(rows) for _ in vs]
        # a slice renumbers its rows
        part = col.slice(2, 5)
        assert part.states.tolist() == col.states[2:5].tolist()
        assert list(part.vals) == [v for _, vs in rows[2:5] for v in vs]
        assert part.rows.tolist() == [i for i, (_, vs) in enumerate(rows[2:5]) for _ in vs]
    # plain columns (every payload has the field, of its own type) take the fast path
    plain = [{"tag": t, "n": i, "x": float(i), "ok": i % 2 == 0} for i, t in enumerate("abcab")]
    for name in ("tag", "n", "x", "ok"):
        spec = parse_schema(SCHEMA)[name]
        col = parse_column(spec, plain)
        assert list(col.vals) == [field_values(spec, p)[1][0] for p in plain]
        assert col.rows.tolist() == list(range(5))


def _ids(col, flt):
    return sorted(r.id for r in col.scroll(filter=flt, limit=10**6, with_vectors=False))


@pytest.mark.parametrize("segment_size", [None, 3])
def test_filters_over_batch_parsed_rows(tmp_path, segment_size):
    """Rows written in one batch (the mutable segment, and sealed segments when the
    batch spans them) filter like the payloads say."""
    pays = _payloads()
    n = len(pays)
    db = ws.connect(tmp_path / "db", fsync="never")
    kw = {} if segment_size is None else {"segment_size": segment_size}
    col = db.create_collection("c", dim=2, schema=SCHEMA, **kw)
    col.upsert(list(range(n)), np.ones((n, 2), np.float32), pays)
    col.flush()
    m = lambda key, v: {"must": [{"key": key, "match": {"value": v}}]}  # noqa: E731
    assert _ids(col, m("tag", "a")) == [0, 4]
    assert _ids(col, m("tags", "p")) == [0, 6]
    assert _ids(col, m("tags", "q")) == [0, 4]
    assert _ids(col, m("ok", False)) == [2, 4]
    assert _ids(col, {"must": [{"key": "n", "range": {"gte": 1}}]}) == [0, 2, 6]
    assert _ids(col, {"must": [{"key": "n", "range": {"lt": 0}}]}) == [4]
    assert _ids(col, {"must": [{"key": "x", "range": {"gt": 1.0}}]}) == [2, 6]
    assert _ids(col, {"must": [{"key": "when", "range": {"gte": "2024-02-01T00:00:00Z"}}]}) == [2]
    assert _ids(col, {"must": [{"key": "body", "text": "world"}]}) == [0, 2]
    assert _ids(col, {"must": [{"is_null": {"key": "n"}}]}) == [1, 3, 5]  # null or missing
    assert _ids(col, {"must": [{"is_empty": {"key": "tags"}}]}) == [1, 2, 3, 5]
    assert _ids(col, {"must_not": [{"key": "tag", "match": {"value": "a"}}]}) == [1, 2, 3, 5, 6]
    db.close()


@pytest.mark.parametrize("field, bad, message", [
    ("n", 2**63, "does not fit in int64"),
    ("n", True, "expected a number, got a bool"),
    ("n", 1.5, "expected an integer"),
    ("x", float("nan"), "NaN|not JSON compliant"),
    ("tag", 3, "expected a string"),
    ("ok", 1, "expected True or False"),
    ("tag", ["a"], "expected one value"),
])
def test_a_wrong_value_in_a_batch_is_refused(tmp_path, field, bad, message):
    db = ws.connect(tmp_path / "db", fsync="never")
    col = db.create_collection("c", dim=2, schema=SCHEMA)
    good = {"tag": "a", "n": 1, "x": 1.0, "ok": True}
    pays = [dict(good) for _ in range(5)]
    pays[3][field] = bad
    with pytest.raises(ValueError, match=message) as err:
        col.upsert(list(range(5)), np.ones((5, 2), np.float32), pays)
    assert "'c'" in str(err.value)
    if field != "x":  # NaN is refused by the JSON encoding, before the field's rule
        assert repr(field) in str(err.value)
    assert col.count() == 0
    col.upsert(list(range(5)), np.ones((5, 2), np.float32), [good] * 5)
    assert col.count() == 5
    db.close()
