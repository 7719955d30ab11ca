# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Quotas: request rate (429 + Retry-After), body size (413), points and
collections per tenant, batch size and k per key, and the usage report."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

import warpsearch as ws

from .conftest import start_server

httpx = pytest.importorskip("httpx", reason="needs the server extra")
pytest.importorskip("fastapi", reason="needs the server extra")

MAX_BODY = 4096
VEC = {"vectors": {"size": 2, "distance": "Dot"}}


@pytest.fixture(scope="module")
def quota(tmp_path_factory):
    from warpsearch.server import Settings, create_app
    from warpsearch.server.auth import KeyStore

    db = ws.connect(tmp_path_factory.mktemp("quotas") / "db", fsync="never")
    store = KeyStore(os.path.join(db.path, "api_keys.json"))
    keys = {"admin": store.create("admin")[1],
            "slow": store.create("read", rate="2/s")[1],
            "small": store.create("write", tenant="small", max_points=5,
                                  max_collections=1)[1],
            "narrow": store.create("write", tenant="narrow", max_batch=3, max_k=5)[1]}
    server, thread, url = start_server(create_app(db, Settings(threads=2,
                                                               max_body_bytes=MAX_BODY)))
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            yield c, keys, db
    finally:
        server.should_exit = True
        thread.join(30)


def _h(key):
    return {"api-key": key}


def _points(ids):
    return {"points": [{"id": i, "vector": [1.0, float(i)]} for i in ids]}


def test_rate_limit(quota):
    c, keys, _ = quota
    codes = [c.get("/collections", headers=_h(keys["slow"])) for _ in range(6)]
    limited = [r for r in codes if r.status_code == 429]
    assert codes[0].status_code == 200 and limited, [r.status_code for r in codes]
    r = limited[0]
    assert int(r.headers["retry-after"]) >= 1 and "rate limit" in r.json()["status"]["error"]
    # other keys are not limited by it
    assert c.get("/collections", headers=_h(keys["admin"])).status_code == 200


def test_body_size(quota):
    c, keys, _ = quota
    admin = _h(keys["admin"])
    assert c.put("/collections/big", headers=admin, json=VEC).status_code == 200
    r = c.put("/collections/big/points", headers=admin, json=_points(range(300)))
    assert r.status_code == 413 and "max-body-bytes" in r.json()["status"]["error"]

    def chunks():  # no Content-Length: the streamed length is counted
        yield b'{"points": ['
        for i in range(300):
            yield b'{"id": %d, "vector": [1.0, 2.0]},' % i
        yield b'{"id": 999, "vector": [1.0, 2.0]}]}'

    r = c.put("/collections/big/points", headers={**admin, "content-type": "application/json"},
              content=chunks())
    assert r.status_code == 413 and "max-body-bytes" in r.text
    assert c.post("/collections/big/points/count", headers=admin).json()["result"]["count"] == 0
    small = c.put("/collections/big/points", headers=admin, json=_points(range(3)))
    assert small.status_code == 200


def test_points_and_collections(quota):
    c, keys, db = quota
    small = _h(keys["small"])
    assert c.put("/collections/s1", headers=small, json=VEC).status_code == 200
    r = c.put("/collections/s2", headers=small, json=VEC)
    assert r.status_code == 403 and "max-collections is 1" in r.json()["status"]["error"]
    assert not db.has_collection("s2")
    assert c.put("/collections/s1/points", headers=small, json=_points(range(4))).status_code \
        == 200
    r = c.put("/collections/s1/points", headers=small, json=_points([4, 5]))
    assert r.status_code == 403 and "max-points is 5" in r.json()["status"]["error"]
    assert db.get_collection("s1").count() == 4
    # replacing existing points adds none; one more fits
    assert c.put("/collections/s1/points", headers=small,
                 json=_points([0, 1, 2, 3, 4])).status_code == 200
    assert db.get_collection("s1").count() == 5
    with ws.connect(str(c.base_url), api_key=keys["small"]) as rdb:
        with pytest.raises(PermissionError, match="max-points"):
            rdb.get_collection("s1").upsert([9], [[0.0, 1.0]])
    # deleting frees room
    assert c.delete("/collections/s1", headers=small).status_code == 200
    assert c.put("/collections/s3", headers=small, json=VEC).status_code == 200


def test_batch_and_k(quota):
    c, keys, _ = quota
    narrow = _h(keys["narrow"])
    assert c.put("/collections/n", headers=narrow, json=VEC).status_code == 200
    r = c.put("/collections/n/points", headers=narrow, json=_points(range(4)))
    assert r.status_code == 400 and "max-batch of 3" in r.json()["status"]["error"]
    assert c.put("/collections/n/points", headers=narrow, json=_points(range(3))).status_code \
        == 200
    searches = {"searches": [{"vector": [1.0, 0.0]}] * 4}
    r = c.post("/collections/n/points/search/batch", headers=narrow, json=searches)
    assert r.status_code == 400 and "max-batch" in r.text
    buf = io.BytesIO()
    np.save(buf, np.ones((4, 2), np.float32))
    r = c.post("/warpsearch/collections/n/search_npy?k=3", headers=narrow,
               content=buf.getvalue())
    assert r.status_code == 400 and "max-batch" in r.text
    ok = c.post("/collections/n/points/search", headers=narrow,
                json={"vector": [1.0, 0.0], "limit": 5})
    assert ok.status_code == 200 and len(ok.json()["result"]) == 3
    for body in ({"vector": [1.0, 0.0], "limit": 6}, {"vector": [1.0, 0.0], "limit": 3,
                                                      "offset": 3}):
        r = c.post("/collections/n/points/search", headers=narrow, json=body)
        assert r.status_code == 400 and "max-k of 5" in r.json()["status"]["error"]
    r = c.post("/warpsearch/collections/n/search", headers=narrow,
               json={"vector": [1.0, 0.0], "k": 6})
    assert r.status_code == 400 and "max-k" in r.text


def test_usage_report(quota):
    c, keys, db = quota
    narrow = _h(keys["narrow"])
    c.post("/collections/n/points/search", headers=narrow, json={"vector": [1.0, 0.0]})
    rows = c.get("/warpsearch/usage", headers=_h(keys["admin"])).json()["result"]["tenants"]
    by = {r["scope"]: r for r in rows}
    n = by["tenant:narrow"]
    assert n["tenant"] == "narrow" and n["points"] == 3 and n["collections"] == 1
    assert n["queries"] >= 2 and n["requests"] >= n["queries"] and n["bytes_in"] > 0
    assert n["bytes_out"] > 0
    # stored bytes: the files of the tenant's own collection
    assert n["stored_bytes"] == db.get_collection("n").memory_usage()["disk"] > 0
    assert by["tenant:small"]["points"] == 0 and by["tenant:small"]["collections"] == 1
    assert c.get("/warpsearch/usage", headers=narrow).status_code == 403
