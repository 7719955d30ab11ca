# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Property-based bad input for the main endpoints: malformed bodies, wrong JSON
types, huge limits, NaN/Infinity written into the JSON text, unknown fields,
malformed filters and garbage .npy bytes. Every answer is below 500, every 4xx
carries a JSON error message, and the health check answers after each example."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DIM = 4
COL = "fz"
FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

KEYS = ["vector", "vectors", "limit", "offset", "filter", "points", "ids", "id", "payload",
        "batch", "searches", "query", "with_payload", "with_vector", "params", "keys",
        "score_threshold", "must", "should", "must_not", "key", "match", "range", "value",
        "k", "ef", "size", "distance", "using", "order_by", "exact", "hnsw_ef", "timeout"]
SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=True, allow_infinity=True, width=64)
           | st.text(max_size=6) | st.sampled_from(["c", "x", "Euclid", "Dot", "rrf"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner,
                                        max_size=4), max_leaves=20)
# numbers that are not valid float32 vector entries or limits
BAD_NUMBERS = st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e39, -1e300])
HUGE = st.integers(-2**63, 2**63) | st.sampled_from([2**63, 2**63 - 1, 2**64, -2**63, 0, -1])
FILTERS = st.one_of(
    VALUES,
    st.fixed_dictionaries({"must": st.lists(st.fixed_dictionaries(
        {"key": st.sampled_from(["c", "n", "nope", ""]) | VALUES,
         "match": st.fixed_dictionaries({"value": VALUES}) | VALUES}), max_size=3)}),
    st.fixed_dictionaries({"must": st.lists(st.fixed_dictionaries(
        {"key": st.sampled_from(["n", "c"]),
         "range": st.dictionaries(st.sampled_from(["gt", "gte", "lt", "lte", "eq"]),
                                  VALUES | BAD_NUMBERS, max_size=3)}), max_size=2)}),
    st.fixed_dictionaries({"should": VALUES, "must_not": VALUES}))

BASE = f"/collections/{COL}/points"
ENDPOINTS = [  # (method, path)
    ("put", BASE), ("post", BASE), ("post", BASE + "/search"), ("post", BASE + "/query"),
    ("post", BASE + "/scroll"), ("post", BASE + "/count"), ("post", BASE + "/delete"),
    ("post", BASE + "/payload"), ("post", BASE + "/search/batch"),
    ("post", f"/warpsearch/collections/{COL}/search"),
    ("post", f"/warpsearch/collections/{COL}/upsert"),
    ("post", f"/warpsearch/collections/{COL}/scroll"),
    ("post", f"/warpsearch/collections/{COL}/count")]


def _raw(obj) -> bytes:
    """JSON text as Python writes it: NaN, Infinity and -Infinity appear literally."""
    return json.dumps(obj, allow_nan=True).encode()


def _check(h, r, *, must_fail: bool = False):
    assert r.status_code < 500, (r.request.method, r.request.url, r.status_code, r.text)
    if must_fail:
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
    if r.status_code >= 400:
        err = r.json()["status"]["error"]
        assert isinstance(err, str) and err, r.text
    assert h.get("/healthz").status_code == 200


@pytest.fixture(scope="module")
def h(served):
    with httpx.Client(base_url=served.url, timeout=30) as client:
        r = client.put(f"/collections/{COL}", json={"vectors": {"size": DIM,
                                                                 "distance": "Euclid"}})
        assert r.status_code == 200, r.text
        for field, schema in (("c", "keyword"), ("n", "integer")):
            r = client.put(f"/collections/{COL}/index",
                           json={"field_name": field, "field_schema": schema})
            assert r.status_code == 200, r.text
        yield client


@pytest.fixture(autouse=True)
def _points(h):
    """The same 20 points before each test (a fuzzed delete may have removed some)."""
    r = h.put(BASE, json={"points": [{"id": i, "vector": [float(i), 0, 0, 1],
                                      "payload": {"c": "x", "n": i}} for i in range(20)]})
    assert r.status_code == 200, r.text


@FUZZ
@given(ep=st.sampled_from(ENDPOINTS), body=VALUES)
def test_any_json_body_is_never_a_5xx(h, ep, body):
    method, path = ep
    r = h.request(method.upper(), path, content=_raw(body),
                  headers={"content-type": "application/json"})
    _check(h, r, must_fail=not isinstance(body, dict))


@FUZZ
@given(ep=st.sampled_from(ENDPOINTS),
       raw=st.binary(max_size=64) | st.text(max_size=40).map(str.encode)
       | VALUES.map(lambda v: _raw(v)[:-1]))  # truncated JSON
def test_malformed_bytes_are_4xx(h, ep, raw):
    method, path = ep
    try:
        parsed = json.loads(raw) if raw.strip() else {}  # no body reads as {}
    except (ValueError, UnicodeDecodeError):
        parsed = None
    r = h.request(method.upper(), path, content=raw,
                  headers={"content-type": "application/json"})
    _check(h, r, must_fail=not isinstance(parsed, dict))


@FUZZ
@given(vec=st.lists(st.floats(width=32) | BAD_NUMBERS, min_size=DIM, max_size=DIM)
       .filter(lambda v: not all(np.isfinite(v))),
       path=st.sampled_from([BASE + "/search", BASE + "/query",
                             f"/warpsearch/collections/{COL}/search"]))
def test_nan_and_inf_vectors_are_rejected(h, vec, path):
    body = {"query": vec} if path.endswith("/query") else {"vector": vec}
    r = h.post(path, content=_raw(body), headers={"content-type": "application/json"})
    _check(h, r, must_fail=True)
    up = h.put(BASE, content=_raw({"points": [{"id": 99, "vector": vec}]}),
               headers={"content-type": "application/json"})
    _check(h, up, must_fail=True)


@FUZZ
@given(k=HUGE, offset=st.none() | HUGE,
       ep=st.sampled_from([(BASE + "/search", "limit"), (BASE + "/query", "limit"),
                           (BASE + "/scroll", "limit"),
                           (f"/warpsearch/collections/{COL}/search", "k"),
                           (f"/warpsearch/collections/{COL}/scroll", "limit")]))
def test_huge_limits_and_offsets(h, k, offset, ep):
    path, name = ep
    body = {name: k}
    if path.endswith("/search") or path.endswith("/query"):
        body["query" if path.endswith("/query") else "vector"] = [1.0, 0.0, 0.0, 1.0]
    if path.startswith("/warpsearch/") and path.endswith("/search"):
        offset = None  # the native search has no offset
    if offset is not None:
        body["offset"] = offset
    r = h.post(path, json=body)
    # past max_k (10,000), a negative offset, or one no point id reaches (ids are uint64)
    bad = not 0 <= k <= 10_000 or (offset is not None and not 0 <= offset < 2**64)
    _check(h, r, must_fail=bad)


@FUZZ
@given(flt=FILTERS,
       path=st.sampled_from([BASE + "/search", BASE + "/scroll", BASE + "/count",
                             BASE + "/query", f"/warpsearch/collections/{COL}/count",
                             f"/warpsearch/collections/{COL}/search"]))
def test_malformed_filters(h, flt, path):
    body = {"filter": flt}
    if path.endswith("/search"):
        body["vector"] = [1.0, 0.0, 0.0, 1.0]
    if path.endswith("/query"):
        body["query"] = [1.0, 0.0, 0.0, 1.0]
    r = h.post(path, content=_raw(body), headers={"content-type": "application/json"})
    _check(h, r)


def _request_fields():
    from warpsearch.server import qdrant
    return set().union(*(v for k, v in vars(qdrant).items() if k.endswith("_FIELDS")))


@FUZZ
@given(extra=st.dictionaries(st.text(min_size=1, max_size=8).filter(
    lambda s: s not in KEYS and s not in _request_fields()), VALUES, min_size=1, max_size=3),
       which=st.sampled_from(["create", "upsert", "search", "batch", "payload", "delete"]))
def test_unknown_fields(h, extra, which):
    """A field the request type does not have is a 400 naming it (a misspelt field
    would otherwise be ignored without a word), and changes nothing."""
    vec = [1.0, 0.0, 0.0, 1.0]
    path, body, method = {
        "create": ("/collections/fz_new", {"vectors": {"size": DIM, "distance": "Dot"}}, "put"),
        "upsert": (BASE, {"points": [{"id": 5, "vector": vec, "payload": {"c": "x"}}]}, "put"),
        "search": (BASE + "/search", {"vector": vec}, "post"),
        "batch": (BASE + "/search/batch", {"searches": [{"vector": vec, "limit": 2}]}, "post"),
        "payload": (BASE + "/payload", {"payload": {"c": "y"}, "points": [3]}, "post"),
        "delete": (BASE + "/delete", {"points": [19]}, "post"),
    }[which]
    r = h.request(method.upper(), path, content=_raw({**body, **extra}),
                  headers={"content-type": "application/json"})
    _check(h, r)
    assert r.status_code == 400 and "unknown field" in r.json()["status"]["error"], r.text
    assert h.get("/collections/fz_new").status_code == 404


@FUZZ
@given(body=VALUES, name=st.sampled_from(["fz_c", "fz c", "", "a" * 300, "../x", "fz_c%00"]))
def test_create_collection_bodies(h, body, name):
    r = h.put(f"/collections/{name}", content=_raw(body),
              headers={"content-type": "application/json"})
    _check(h, r)
    if r.status_code == 200:
        assert h.delete(f"/collections/{name}").status_code == 200


@FUZZ
@given(searches=st.lists(VALUES, max_size=4) | VALUES)
def test_search_batch_bodies(h, searches):
    r = h.post(BASE + "/search/batch", content=_raw({"searches": searches}),
               headers={"content-type": "application/json"})
    _check(h, r)


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


NPY = st.one_of(
    st.binary(max_size=200),
    st.tuples(st.sampled_from([np.float32, np.float64, np.int8, np.int64, np.complex64,
                               np.bool_, "U3"]),
              st.sampled_from([(0,), (DIM,), (0, DIM), (2, DIM), (2, DIM + 1), (1, 2, DIM),
                               (3,)]),
              st.sampled_from([0.0, np.nan, np.inf]))
    .map(lambda t: _npy(np.full(t[1], t[2] if np.dtype(t[0]).kind in "fc" else 1, t[0]))),
    st.binary(min_size=1, max_size=80).map(lambda b: _npy(np.zeros((2, DIM), np.float32))[:-len(b)]
                                           if len(b) < 40 else b"\x93NUMPY" + b))


@FUZZ
@given(raw=NPY, k=st.none() | HUGE.map(str) | st.text(max_size=4),
       flt=st.none() | FILTERS.map(lambda f: json.dumps(f)) | st.text(max_size=10),
       wp=st.none() | st.sampled_from(["true", "no", "maybe", ""]))
def test_search_npy_garbage(h, raw, k, flt, wp):
    params = {n: v for n, v in (("k", k), ("filter", flt), ("with_payload", wp))
              if v is not None}
    r = h.post(f"/warpsearch/collections/{COL}/search_npy", params=params, content=raw,
               headers={"content-type": "application/x-npy"})
    _check(h, r)
