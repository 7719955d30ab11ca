# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Bad input gets a 4xx in Qdrant's error shape, never a 5xx, and the server
stays up; a search in progress does not hold up the health checks."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")

DIM = 4


@pytest.fixture(scope="module")
def h(served):
    with httpx.Client(base_url=served.url, timeout=30) as client:
        r = client.put("/collections/e", json={"vectors": {"size": DIM, "distance": "Euclid"}})
        assert r.status_code == 200
        client.put("/collections/e/index", json={"field_name": "c", "field_schema": "keyword"})
        r = client.put("/collections/e/points", json={"points": [
            {"id": i, "vector": [float(i), 0, 0, 1], "payload": {"c": "x"}} for i in range(20)]})
        assert r.status_code == 200
        r = client.put("/collections/cos", json={"vectors": {"size": DIM, "distance": "Cosine"}})
        assert r.status_code == 200
        yield client


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


SEARCH = "/collections/e/points/search"
BAD = [
    # (method, path, kwargs, status, words in the message)
    ("post", SEARCH, {"content": b'{"vector": [1, 0, '}, 400, "JSON"),
    ("post", SEARCH, {"content": b'{"vector": [NaN, 0, 0, 1]}'}, 400, "JSON"),
    ("post", SEARCH, {"content": b'[1, 2]'}, 400, "JSON object"),
    ("post", SEARCH, {"json": {"vector": [1, 0, 0]}}, 400, "dimension"),
    ("post", SEARCH, {"json": {"vector": [1, 0, 0, "a"]}}, 400, "numbers"),
    ("post", SEARCH, {"json": {"vector": [1e39, 0, 0, 1]}}, 400, "float32"),
    ("post", SEARCH, {"json": {"vector": [1, 0, 0, 1], "limit": 10**12}}, 400, "limit"),
    ("post", SEARCH, {"json": {"vector": [1, 0, 0, 1], "limit": "ten"}}, 400, "limit"),
    ("post", SEARCH, {"json": {"vector": [1, 0, 0, 1], "limit": 9000, "offset": 9000}},
     400, "offset"),
    # a full-text condition needs a text index (match and range conditions on keys
    # without an index are read from the payloads, as Qdrant filters any key)
    ("post", SEARCH, {"json": {"vector": [1, 0, 0, 1],
                               "filter": {"must": [{"key": "nope", "match": {"text": "a"}}]}}},
     400, "unknown field 'nope'"),
    ("post", SEARCH, {"json": {"vector": [1, 0, 0, 1],
                               "filter": {"must": [{"key": "c", "match": {"value": 3}}]}}},
     400, "string"),
    ("post", SEARCH, {"json": {"vector": [1, 0, 0, 1], "params": {"exact": True}}}, 400, "exact"),
    ("post", SEARCH, {"json": {"vector": {"name": "text", "vector": {"indices": [0],
                                                                     "values": [1.0]}}}},
     400, "sparse"),
    ("post", SEARCH, {"json": {}}, 400, "vector"),
    # a misspelt field is named, never ignored
    ("post", SEARCH, {"json": {"vector": [1, 0, 0, 1], "limt": 3}}, 400, "unknown field 'limt'"),
    ("post", "/collections/e/points/query", {"json": {"query": [1, 0, 0, 1], "filtr": {}}},
     400, "unknown field 'filtr'"),
    ("put", "/collections/e/points", {"json": {"points": [{"id": 1, "vector": [1, 2, 3, 4],
                                                           "paylod": {"c": "y"}}]}},
     400, "unknown field 'paylod'"),
    ("post", "/collections/e/points/count", {"json": {"exact": True, "filters": {}}},
     400, "unknown field 'filters'"),
    ("post", "/warpsearch/collections/e/search", {"json": {"vector": [1, 0, 0, 1], "kk": 3}},
     400, "unknown field 'kk'"),
    ("post", "/collections/e/points/search", {"json": {"vector": [1, 0, 0, 1],
                                                       "shard_key": "a"}}, 400, "shard_key"),
    ("post", "/collections/missing/points/search", {"json": {"vector": [1, 0, 0, 1]}},
     404, "doesn't exist"),
    ("get", "/collections/missing", {}, 404, "doesn't exist"),
    ("put", "/collections/e", {"json": {"vectors": {"size": DIM, "distance": "Euclid"}}},
     409, "already exists"),
    ("put", "/collections/f", {"json": {"vectors": {"size": DIM, "distance": "Manhattan"}}},
     400, "distance"),
    ("put", "/collections/f", {"json": {"vectors": {"a": {"size": 4, "distance": "Dot"},
                                                    "b": {"size": 4, "distance": "Dot"}}}},
     400, "one dense vector"),
    ("put", "/collections/f", {"json": {"vectors": {"size": 0, "distance": "Dot"}}}, 400, "size"),
    ("put", "/collections/bad%20name", {"json": {"vectors": {"size": 4, "distance": "Dot"}}},
     400, "invalid collection name"),
    ("put", "/collections/e/points", {"json": {"points": [{"id": 1, "vector": [1, 2]}]}},
     400, "dimension"),
    ("put", "/collections/e/points", {"json": {"points": [{"id": -1, "vector": [1, 2, 3, 4]}]}},
     400, "unsigned"),
    ("put", "/collections/e/points", {"json": {"points": [{"id": 1.5, "vector": [1, 2, 3, 4]}]}},
     400, "point id"),
    ("put", "/collections/e/points", {"json": {"points": [{"id": 1, "vector": [1, 2, 3, 4],
                                                           "payload": {"c": 5}}]}},
     400, "'c'"),
    ("put", "/collections/e/points", {"json": {"points": [{"id": 1, "vector": [1, 2, 3, 4],
                                                           "payload": [1]}]}}, 400, "payload"),
    ("put", "/collections/e/points", {"json": {"batch": {"ids": [1, 2], "vectors": [[1, 2, 3, 4]]}}},
     400, "batch"),
    ("put", "/collections/e/points", {"json": {}}, 400, "points"),
    ("put", "/collections/e/index", {"json": {"field_name": "c", "field_schema": "integer"}},
     400, "already"),
    ("put", "/collections/e/index", {"json": {"field_name": "z", "field_schema": "vector"}},
     400, "field_schema"),
    ("post", "/collections/e/points/delete", {"json": {}}, 400, "points"),
    ("post", "/collections/e/points/scroll", {"json": {"order_by": "c"}}, 400, "order_by"),
    ("post", "/collections/e/points/query", {"json": {"query": {"fusion": "rrf"}}},
     400, "not supported"),
    ("post", "/collections/e/points/query", {"json": {"query": 12345}}, 404, "12345"),
    ("post", "/collections/e/points/recommend", {"json": {"positive": []}}, 400, "positive"),
    ("post", "/collections/e/points/recommend",
     {"json": {"positive": [1], "strategy": "best_score"}}, 400, "strategy"),
    ("post", "/collections/cos/points/recommend", {"json": {"positive": [[0, 0, 0, 0]]}},
     400, "zero vector"),
    ("post", "/collections/cos/points/query", {"json": {"query": [0, 0, 0, 0]}},
     400, "zero"),
    ("post", "/collections/e/points/payload", {"json": {"payload": {"a": 1}, "points": [777]}},
     404, "777"),
    ("put", "/collections/e/snapshots/recover", {"json": {"location": "http://example.com/s"}},
     400, "file://"),
    ("put", "/collections/e/snapshots/recover", {"json": {"location": "file:///no/such"}},
     404, "does not exist"),
    ("get", "/collections/e/snapshots/passwd", {}, 404, "snapshot"),
    ("post", "/warpsearch/collections/e/search_npy?k=3", {"content": b"not npy"}, 400, ".npy"),
    ("post", "/warpsearch/collections/e/search_npy?k=3",
     {"content": _npy(np.zeros((2, DIM), np.int32))}, 400, "float32"),
    ("post", "/warpsearch/collections/e/search_npy?k=3",
     {"content": _npy(np.zeros((2, DIM + 1), np.float32))}, 400, "dimension"),
    ("post", "/warpsearch/collections/e/search_npy?k=100000000",
     {"content": _npy(np.zeros((2, DIM), np.float32))}, 400, "k"),
    ("post", "/warpsearch/collections/e/search_npy?k=3&filter=%7Bbad",
     {"content": _npy(np.zeros((2, DIM), np.float32))}, 400, "filter"),
    ("post", "/warpsearch/collections/e/search", {"json": {"vector": [1, 0, 0, 1], "k": 0}},
     400, "k"),
    ("post", "/warpsearch/collections/e/upsert",
     {"json": {"ids": [1, 1], "vectors": [[1, 2, 3, 4], [1, 2, 3, 4]]}}, 400, "duplicate"),
]


@pytest.mark.parametrize("method,path,kwargs,status,words", BAD,
                         ids=[f"{i}-{b[1].rsplit('/', 1)[-1][:20]}" for i, b in enumerate(BAD)])
def test_bad_input_is_4xx_with_a_message(h, method, path, kwargs, status, words):
    r = getattr(h, method)(path, **kwargs)
    assert r.status_code == status, r.text
    err = r.json()["status"]["error"]
    assert words.lower() in err.lower(), err
    assert h.get("/healthz").status_code == 200


def test_state_unchanged_by_bad_requests(h, served):
    col = served.db.get_collection("e")
    assert col.count() == 20 and col.get([1])[0].payload == {"c": "x"}
    assert not served.db.has_collection("f")
    r = h.post(SEARCH, json={"vector": [3, 0, 0, 1], "limit": 2})
    assert [p["id"] for p in r.json()["result"]] == [3, 2] or \
        [p["id"] for p in r.json()["result"]] == [3, 4]


def test_service_endpoints_and_openapi(h):
    root = h.get("/").json()
    assert root["version"].count(".") == 2
    try:  # qdrant-client checks this version when it connects, and warns when too far off
        from importlib.metadata import version

        from qdrant_client.common.version_check import is_compatible
    except ImportError:
        pass
    else:
        assert is_compatible(version("qdrant-client"), root["version"])
    assert h.get("/readyz").status_code == 200 and h.get("/livez").status_code == 200
    spec = h.get("/openapi.json").json()
    for p in ("/collections/{name}", "/collections/{name}/points/query",
              "/collections/{name}/points/search", "/warpsearch/collections/{name}/search_npy",
              "/collections/{name}/snapshots/recover"):
        assert p in spec["paths"], p


def test_slow_search_does_not_block_health(h, served):
    """While a search waits inside the database, health checks and other requests
    are answered (the search runs in a worker thread, not on the event loop)."""
    col = served.db.get_collection("e")
    entered, release = threading.Event(), threading.Event()
    real = col.search

    def slow(*args, **kwargs):
        entered.set()
        if not release.wait(30):
            raise RuntimeError("never released")
        return real(*args, **kwargs)

    col.search = slow
    out = {}
    try:
        t = threading.Thread(target=lambda: out.update(r=h.post(SEARCH, json={
            "vector": [1, 0, 0, 1], "limit": 1})))
        with httpx.Client(base_url=served.url, timeout=30) as other:
            t.start()
            assert entered.wait(30)
            for path in ("/healthz", "/readyz", "/"):
                assert other.get(path).status_code == 200
            assert other.post("/collections/e/points/count", json={}).json()["result"] == \
                {"count": 20}
            assert "r" not in out  # the search is still waiting
        release.set()
        t.join(30)
    finally:
        release.set()
        del col.search
    assert out["r"].status_code == 200, out["r"].text
    assert out["r"].json()["result"][0]["id"] == 1
