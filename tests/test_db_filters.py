# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The filter language: each operator on known data, and a property test that
compares the database with a plain-Python evaluation of random filters."""

from __future__ import annotations

import datetime as dt
import math
import re
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import warpsearch as ws

SCHEMA = {"kw": "keyword", "tags": "keyword[]", "n": "int", "f": "float", "flag": "bool",
          "when": "datetime", "loc": "geo", "body": "text", "nums": "int[]"}
DIM = 4


def _db_with(payloads, tmp, segment_size=7):
    db = ws.connect(tmp, fsync="never")
    col = db.create_collection("c", dim=DIM, metric="l2", schema=SCHEMA, index=ws.FlatConfig(),
                               segment_size=segment_size)
    x = np.random.default_rng(0).standard_normal((len(payloads), DIM))
    col.upsert(list(range(len(payloads))), x, payloads)
    return db, col


def _ids(col, flt):
    return sorted(r.id for r in col.scroll(filter=flt, limit=10**6, with_vectors=False))


# -- a plain-Python reference evaluator ---------------------------------------------------

def _to_us(v):
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if v.tzinfo is None:
        v = v.replace(tzinfo=dt.timezone.utc)
    return round(v.timestamp() * 1e6)


def _vals(p, key):
    v = (p or {}).get(key)
    if v is None:
        return []
    vals = v if isinstance(v, list) else [v]
    if SCHEMA[key] == "datetime":
        vals = [_to_us(a) for a in vals]
    return vals


def _hav(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = (math.sin((la2 - la1) / 2) ** 2
         + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2)
    return 2 * 6_371_008.8 * math.asin(math.sqrt(min(1.0, h)))


def ref(p, c):
    """Plain-Python evaluation of filter ``c`` on payload ``p``."""
    if "must" in c or "should" in c or "must_not" in c:
        part = {k: (v if isinstance(v, list) else [v]) for k, v in c.items()}
        return (all(ref(p, s) for s in part.get("must", []))
                and (not part.get("should") or any(ref(p, s) for s in part["should"]))
                and not any(ref(p, s) for s in part.get("must_not", [])))
    if "is_null" in c or "is_empty" in c:
        ref_key = c.get("is_null", c.get("is_empty"))
        v = (p or {}).get(ref_key["key"] if isinstance(ref_key, dict) else ref_key)
        return v is None if "is_null" in c else v in (None, [])
    if "key" not in c:  # shorthand {"field": value, ...}
        return all(ref(p, {"key": k, "match": v}) for k, v in c.items())
    key = c["key"]
    vals = _vals(p, key)
    conv = _to_us if SCHEMA[key] == "datetime" else (lambda a: a)
    if "match" in c:
        m = c["match"]
        if isinstance(m, dict) and "any" in m:
            return any(v in [conv(a) for a in m["any"]] for v in vals)
        if isinstance(m, dict) and "except" in m:
            return any(v not in [conv(a) for a in m["except"]] for v in vals)
        return conv(m) in vals
    if "range" in c:
        r = {k: conv(v) for k, v in c["range"].items()}
        return any((("gt" not in r or v > r["gt"]) and ("gte" not in r or v >= r["gte"])
                    and ("lt" not in r or v < r["lt"]) and ("lte" not in r or v <= r["lte"]))
                   for v in vals)
    if "geo_radius" in c:
        g = c["geo_radius"]
        return any(_hav(g["center"], v) <= g["radius"] for v in vals)
    if "geo_bounding_box" in c:
        b = c["geo_bounding_box"]
        top, left = b["top_left"]["lat"], b["top_left"]["lon"]
        bottom, right = b["bottom_right"]["lat"], b["bottom_right"]["lon"]
        in_lon = (lambda lo: left <= lo <= right) if left <= right else \
            (lambda lo: lo >= left or lo <= right)
        return any(bottom <= v["lat"] <= top and in_lon(v["lon"]) for v in vals)
    if "text" in c:
        words = set(re.findall(r"\w+", " ".join(vals).lower()))
        return all(t in words for t in re.findall(r"\w+", c["text"].lower()))
    raise AssertionError(c)


# -- operators on hand-made data ------------------------------------------------------------

PAYLOADS = [
    {"kw": "python", "tags": ["a", "b"], "n": 5, "f": 0.5, "flag": True,
     "when": "2024-01-01T00:00:00Z", "loc": {"lat": 52.52, "lon": 13.405},
     "body": "Fast vector search in Python", "nums": [1, 2]},
    {"kw": "libs", "tags": [], "n": 100, "f": -1.0, "flag": False,
     "when": "2023-06-15T12:00:00+02:00", "loc": {"lat": 48.8566, "lon": 2.3522},
     "body": "A C library for fast math"},
    {"kw": "python", "tags": ["c"], "n": None, "when": dt.datetime(2025, 3, 1),
     "loc": {"lat": -33.87, "lon": 151.21}, "body": "vector databases", "nums": [7]},
    {"other": "not in schema"},
    None,
    {"kw": "rust", "tags": ["b"], "n": 42, "f": 42.0, "loc": {"lat": 10.0, "lon": 179.5},
     "body": "search engine"},
]


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    db, col = _db_with(PAYLOADS, tmp_path_factory.mktemp("f") / "db", segment_size=4)
    yield col
    db.close()


@pytest.mark.parametrize("flt,expected", [
    ({"kw": "python"}, [0, 2]),
    ({"key": "kw", "match": {"any": ["libs", "rust"]}}, [1, 5]),
    ({"key": "kw", "match": {"except": ["python"]}}, [1, 5]),
    ({"key": "tags", "match": "b"}, [0, 5]),
    ({"key": "tags", "match": {"except": ["a", "b"]}}, [2]),
    ({"must_not": [{"key": "tags", "match": {"any": ["a", "b"]}}]}, [1, 2, 3, 4]),
    ({"key": "n", "range": {"gte": 5, "lt": 100}}, [0, 5]),
    ({"key": "nums", "range": {"gt": 5}}, [2]),
    ({"key": "f", "range": {"lte": 0.5}}, [0, 1]),
    ({"flag": False}, [1]),
    ({"key": "when", "range": {"gte": "2024-01-01T00:00:00Z"}}, [0, 2]),
    ({"key": "when", "range": {"lt": dt.datetime(2023, 6, 15, 10, 0, 1)}}, [1]),
    ({"key": "when", "match": "2023-06-15T10:00:00Z"}, [1]),
    ({"is_null": "n"}, [2, 3, 4]),
    ({"is_empty": "tags"}, [1, 3, 4]),
    ({"is_null": {"key": "nums"}}, [1, 3, 4, 5]),
    ({"key": "loc", "geo_radius": {"center": {"lat": 52.5, "lon": 13.4}, "radius": 10_000}}, [0]),
    ({"key": "loc", "geo_radius": {"center": {"lat": 50.0, "lon": 8.0}, "radius": 700_000}},
     [0, 1]),
    ({"key": "loc", "geo_bounding_box": {"top_left": {"lat": 60, "lon": 0},
                                         "bottom_right": {"lat": 40, "lon": 20}}}, [0, 1]),
    ({"key": "loc", "geo_bounding_box": {"top_left": {"lat": 20, "lon": 170},
                                         "bottom_right": {"lat": -40, "lon": -170}}}, [5]),
    ({"key": "body", "text": "fast"}, [0, 1]),
    ({"key": "body", "text": "VECTOR search"}, [0]),
    ({"should": [{"kw": "rust"}, {"key": "n", "range": {"gt": 50}}]}, [1, 5]),
    ({"must": [{"kw": "python"}], "should": [{"flag": True}, {"is_null": "n"}]}, [0, 2]),
    ({"must": {"must_not": [{"kw": "python"}]}, "must_not": [{"is_empty": "kw"}]}, [1, 5]),
    ({}, [0, 1, 2, 3, 4, 5]),
])
def test_operator(handmade, flt, expected):
    assert _ids(handmade, flt) == expected
    assert handmade.count(flt) == len(expected)
    assert [i for i, p in enumerate(PAYLOADS) if ref(p, flt)] == expected


def test_filter_errors_name_the_field(handmade):
    for flt, word in [({"missing_field": 1}, "missing_field"),
                      ({"other": "x"}, "other"),
                      ({"key": "n", "match": "5"}, "'n'"),
                      ({"key": "flag", "match": 1}, "'flag'"),
                      ({"key": "when", "range": {"gt": "not a date"}}, "'when'"),
                      ({"key": "kw", "text": "x"}, "'kw'"),
                      ({"key": "tags", "geo_radius": {"center": {"lat": 0, "lon": 0},
                                                      "radius": 1}}, "'tags'"),
                      ({"key": "n", "range": {"gt": 1, "gte": 2}}, "'n'"),
                      ({"key": "n"}, "'n'")]:
        with pytest.raises(ValueError, match=word):
            handmade.count(flt)
    with pytest.raises(ValueError, match="dict"):
        handmade.count(["kw", "python"])


# -- property test: random payloads and random filters vs the reference -----------------------

KW = ["a", "b", "c", "d"]
WORDS = ["red", "green", "blue", "fox"]
DATES = ["2020-01-01T00:00:00Z", "2021-06-01T12:00:00Z", "2022-12-31T23:59:59Z"]


def opt(s):
    return st.one_of(st.none(), s)


payload_st = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "kw": opt(st.sampled_from(KW)),
    "tags": opt(st.lists(st.sampled_from(KW), max_size=3)),
    "n": opt(st.integers(-5, 5)),
    "f": opt(st.floats(-2, 2, allow_nan=False)),
    "flag": opt(st.booleans()),
    "when": opt(st.sampled_from(DATES)),
    "loc": opt(st.builds(lambda a, b: {"lat": a, "lon": b}, st.floats(-5, 5), st.floats(-5, 5))),
    "body": opt(st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join)),
    "nums": opt(st.lists(st.integers(-5, 5), max_size=3)),
}))

leaf_st = st.one_of(
    st.builds(lambda v: {"kw": v}, st.sampled_from(KW)),
    st.builds(lambda k, v: {"key": k, "match": {"any": v}}, st.sampled_from(["kw", "tags"]),
              st.lists(st.sampled_from(KW), max_size=3)),
    st.builds(lambda k, v: {"key": k, "match": {"except": v}}, st.sampled_from(["kw", "tags"]),
              st.lists(st.sampled_from(KW), max_size=3)),
    st.builds(lambda v: {"key": "tags", "match": v}, st.sampled_from(KW)),
    st.builds(lambda k, v: {"key": k, "match": v}, st.sampled_from(["n", "nums"]),
              st.integers(-5, 5)),
    st.builds(lambda v: {"flag": v}, st.booleans()),
    st.builds(lambda k, op1, a, op2, b: {"key": k, "range": {op1: a, op2: b}},
              st.sampled_from(["n", "nums", "f"]), st.sampled_from(["gt", "gte"]),
              st.integers(-6, 6), st.sampled_from(["lt", "lte"]), st.integers(-6, 6)),
    st.builds(lambda op, d: {"key": "when", "range": {op: d}},
              st.sampled_from(["gt", "gte", "lt", "lte"]), st.sampled_from(DATES)),
    st.builds(lambda a, b, r: {"key": "loc", "geo_radius": {"center": {"lat": a, "lon": b},
                                                            "radius": r}},
              st.floats(-5, 5), st.floats(-5, 5), st.floats(0, 600_000)),
    st.builds(lambda w: {"key": "body", "text": " ".join(w)},
              st.lists(st.sampled_from(WORDS), min_size=1, max_size=2)),
    st.builds(lambda k: {"is_null": k}, st.sampled_from(list(SCHEMA))),
    st.builds(lambda k: {"is_empty": k}, st.sampled_from(list(SCHEMA))),
)
filter_st = st.recursive(leaf_st, lambda inner: st.builds(
    lambda m, s, n: {"must": m, "should": s, "must_not": n},
    st.lists(inner, max_size=2), st.lists(inner, max_size=2), st.lists(inner, max_size=2)),
    max_leaves=6)


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(payloads=st.lists(payload_st, min_size=1, max_size=25),
       filters=st.lists(filter_st, min_size=1, max_size=4),
       deletes=st.lists(st.integers(0, 24), max_size=5))
def test_filters_match_reference(payloads, filters, deletes):
    with tempfile.TemporaryDirectory() as tmp:
        db, col = _db_with(payloads, tmp + "/db")
        try:
            live = set(range(len(payloads))) - set(deletes)
            col.delete(sorted(set(deletes)))
            for flt in filters:
                expected = [i for i in sorted(live) if ref(payloads[i], flt)]
                assert _ids(col, flt) == expected, flt
                assert col.count(flt) == len(expected)
                hits = col.search(np.zeros(DIM), k=30, filter=flt)
                assert sorted(h.id for h in hits) == expected
                # the same conditions read from the payloads ({"scan": ...}) where they can be
                assert _ids(col, _as_scan(flt)) == expected, _as_scan(flt)
        finally:
            db.close()


# -- {"scan": condition}: read from each row's payload instead of a field index ----------

_SCANNABLE = {"kw", "tags", "n", "f", "flag", "nums"}


def _as_scan(c):
    """``c`` with every match / range / is_null / is_empty leaf on a field the scan
    reads (not dates, geo or text) turned into ``{"scan": leaf}``."""
    if any(k in c for k in ("must", "should", "must_not")):
        return {k: [_as_scan(x) for x in (v if isinstance(v, list) else [v])]
                for k, v in c.items()}
    if "is_null" in c or "is_empty" in c:
        return {"scan": c}
    if "key" not in c:  # shorthand
        return {"must": [_as_scan({"key": k, "match": v}) for k, v in c.items()]}
    if c["key"] in _SCANNABLE and ("match" in c or "range" in c):
        return {"scan": c}
    return c


@pytest.mark.parametrize("flt", [
    {"key": "kw", "match": "python"}, {"key": "kw", "match": {"any": ["libs", "rust"]}},
    {"key": "kw", "match": {"except": ["python"]}}, {"key": "tags", "match": "b"},
    {"key": "tags", "match": {"except": ["a", "b"]}}, {"key": "n", "range": {"gte": 5, "lt": 100}},
    {"key": "nums", "range": {"gt": 5}}, {"key": "f", "range": {"lte": 0.5}},
    {"key": "flag", "match": False}, {"key": "n", "match": 42}, {"is_null": "n"},
    {"is_empty": "tags"}, {"is_null": {"key": "nums"}}, {"is_empty": {"key": "kw"}},
])
def test_scan_equals_the_indexed_condition(handmade, flt):
    """A condition read from the payloads selects the rows its field index selects
    (sealed and mutable segments: segment_size 4 over 6 rows)."""
    want = _ids(handmade, flt)
    assert _ids(handmade, {"scan": flt}) == want
    assert handmade.count({"scan": flt}) == len(want)
    hits = handmade.search(np.zeros(DIM), k=10, filter={"scan": flt})
    assert sorted(h.id for h in hits) == want


def test_scan_reads_keys_without_an_index_and_nested_keys(tmp_path):
    pays = [{"meta": {"src": "a", "n": 1, "tags": ["x", "y"]}, "top": True},
            {"meta": {"src": "b", "n": 2.5}, "top": 1},
            {"meta": {"src": ["a", "c"]}},
            {"meta": "not an object"}, None, {"meta.src": "a"}]
    db, col = _db_with(pays, str(tmp_path / "db"), segment_size=4)
    try:
        cases = [({"key": "meta.src", "match": "a"}, [0, 2]),
                 ({"key": "meta.src", "match": {"any": ["b", "c"]}}, [1, 2]),
                 ({"key": "meta.src", "match": {"except": ["a"]}}, [1, 2]),
                 ({"key": "meta.n", "range": {"gt": 1}}, [1]),
                 ({"key": "meta.tags", "match": "y"}, [0]),
                 ({"key": "top", "match": True}, [0]),  # a bool is not the number 1
                 ({"key": "top", "match": 1}, [1]),
                 ({"is_null": "meta.n"}, [2, 3, 4, 5]),
                 ({"is_empty": "meta"}, [4, 5])]
        for cond, want in cases:
            assert _ids(col, {"scan": cond}) == want, cond
        # with indexed conditions and boolean clauses
        assert _ids(col, {"must": [{"scan": {"key": "meta.src", "match": "a"}}],
                          "must_not": [{"scan": {"key": "meta.n", "range": {"lt": 2}}}]}) == [2]
        col.delete([0])
        assert _ids(col, {"scan": {"key": "meta.src", "match": "a"}}) == [2]
        for bad, word in [({"scan": {"key": "meta.src", "text": "a"}}, "scan takes"),
                          ({"scan": {"key": "x", "match": {"value": [1]}}}, "string, number"),
                          ({"scan": {"key": "x", "range": {"gt": "1"}}}, "numeric"),
                          ({"scan": {"key": "x", "match": {"any": "a"}}}, "list"),
                          ({"scan": "x"}, "one condition"),
                          ({"key": "meta.src", "match": "a"}, "scan")]:
            with pytest.raises(ValueError, match=word):
                col.count(bad)
    finally:
        db.close()


def test_a_payload_scan_does_not_hold_up_writers(tmp_path, monkeypatch):
    """The payloads of the mutable segment are decoded for a scan without the lock
    writers take: an upsert sent while a (slowed) scan runs is acknowledged before the
    search ends, and the search sees the rows as they were when it began."""
    import threading
    import time

    from warpsearch.db import filters as filters_mod

    db = ws.connect(str(tmp_path / "db"), fsync="never")
    try:
        col = db.create_collection("c", dim=DIM, metric="l2", segment_size=10_000)
        x = np.random.default_rng(1).standard_normal((200, DIM)).astype(np.float32)
        col.upsert(list(range(200)), x, [{"m": {"k": i % 2}} for i in range(200)])
        slow = filters_mod.decode_payload
        started = threading.Event()

        def decode(raw):  # 200 rows: about 0.4 s
            started.set()
            time.sleep(0.002)
            return slow(raw)

        monkeypatch.setattr(filters_mod, "decode_payload", decode)
        order, out = [], {}

        def search():
            out["n"] = col.count({"scan": {"key": "m.k", "match": 1}})
            order.append("search")

        t = threading.Thread(target=search)
        t.start()
        assert started.wait(10)
        col.upsert([500, 501], x[:2], [{"m": {"k": 1}}, {"m": {"k": 1}}])
        order.append("upsert")
        t.join(60)
        assert order == ["upsert", "search"] and out["n"] == 100
        monkeypatch.setattr(filters_mod, "decode_payload", slow)
        assert col.count({"scan": {"key": "m.k", "match": 1}}) == 102
    finally:
        db.close()


def test_has_id(tmp_path):
    """{"has_id": [...]}: the points with these ids (int and string ids, sealed and
    mutable segments, combined and negated), never a deleted one."""
    db = ws.connect(str(tmp_path / "db"), fsync="never")
    try:
        col = db.create_collection("c", dim=DIM, metric="l2", segment_size=4,
                                   schema={"g": "int"})
        ids = [10, 11, 12, 13, 14, "a", "b", "c", 2**62]
        x = np.random.default_rng(2).standard_normal((len(ids), DIM))
        col.upsert(ids, x, [{"g": i % 2} for i in range(len(ids))])

        def got(flt):
            return sorted(map(str, (r.id for r in col.scroll(filter=flt, limit=100))))

        assert got({"has_id": [11, "b", 2**62, 999, "zz"]}) == sorted(["11", "b", str(2**62)])
        assert got({"must": [{"has_id": [10, 11, 12, "a", "b"]}, {"g": 0}]}) == \
            ["10", "12", "b"]
        assert len(got({"must_not": [{"has_id": [10, "a"]}]})) == len(ids) - 2
        assert got({"has_id": []}) == []
        col.delete([11])
        assert got({"has_id": [11, 12]}) == ["12"]
        assert sorted(str(h.id) for h in col.search(x[0], k=10, filter={"has_id": [12, "c"]})) \
            == ["12", "c"]
        for bad in ({"has_id": 5}, {"has_id": [1.5]}, {"has_id": [True]}):
            with pytest.raises(ValueError, match="has_id"):
                col.count(bad)
    finally:
        db.close()
