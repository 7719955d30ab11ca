# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Tenants: a tenant's own collections are invisible to others (every endpoint of
the app tried with a foreign tenant's keys), and a shared ``is_tenant``
collection lets each tenant read, write and delete only its own points."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

import warpsearch as ws

from .conftest import start_server

httpx = pytest.importorskip("httpx", reason="needs the server extra")
pytest.importorskip("fastapi", reason="needs the server extra")

SECRET = "acme-secret-payload"


@pytest.fixture(scope="module")
def tenants(tmp_path_factory):
    from warpsearch.server import Settings, create_app
    from warpsearch.server.auth import KeyStore

    db = ws.connect(tmp_path_factory.mktemp("tenants") / "db", fsync="never")
    store = KeyStore(os.path.join(db.path, "api_keys.json"))
    keys = {"admin": store.create("admin")[1],
            "acme": store.create("write", tenant="acme")[1],
            "acme_admin": store.create("admin", tenant="acme")[1],
            "beta": store.create("write", tenant="beta")[1],
            "beta_admin": store.create("admin", tenant="beta")[1]}
    app = create_app(db, Settings(threads=2))
    server, thread, url = start_server(app)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            yield c, keys, app, db
    finally:
        server.should_exit = True
        thread.join(30)


def _h(key):
    return {"api-key": key}


def _ok(r):
    assert r.status_code == 200, r.text
    return r.json()["result"]


def test_every_endpoint_hides_another_tenants_collection(tenants):
    c, keys, app, db = tenants
    acme = _h(keys["acme"])
    _ok(c.put("/collections/acme_docs", headers=acme,
              json={"vectors": {"size": 4, "distance": "Dot"}}))
    _ok(c.put("/collections/acme_docs/index", headers=acme,
              json={"field_name": "kind", "field_schema": "keyword"}))
    _ok(c.put("/collections/acme_docs/points", headers=acme, json={"points": [
        {"id": i, "vector": [1.0, i, 0, 0], "payload": {"kind": "doc", "secret": SECRET}}
        for i in range(1, 6)]}))
    snap = _ok(c.post("/collections/acme_docs/snapshots",
                      headers=_h(keys["acme_admin"])))["name"]
    assert db.get_collection("acme_docs").count() == 5

    body = {"points": [1, 2], "ids": [1, 2], "vector": [1.0, 0, 0, 0], "limit": 3,
            "filter": {"must": [{"key": "kind", "match": {"value": "doc"}}]},
            "searches": [{"vector": [1.0, 0, 0, 0]}], "query": [1.0, 0, 0, 0],
            "positive": [1], "payload": {"secret": "x"}, "keys": ["secret"],
            "field_name": "kind", "field_schema": "keyword", "name": "kind", "type": "keyword",
            "vectors": {"size": 4, "distance": "Dot"}, "k": 3}
    npy = io.BytesIO()
    np.save(npy, np.ones((1, 4), np.float32))
    tried = 0
    for route in app.routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD":
                continue
            path = (route.path.replace("{name}", "acme_docs").replace("{point_id}", "1")
                    .replace("{snap}", snap))
            for who in ("beta", "beta_admin"):
                kw = {"content": npy.getvalue()} if path.endswith("search_npy") else \
                    {"json": body}
                r = c.request(method, path, headers=_h(keys[who]), **kw)
                text = r.text
                assert SECRET not in text and "acme_docs" not in text.replace(
                    "Collection `acme_docs` doesn't exist", "").replace(
                    "`acme_docs` is not available", ""), (method, path, who, text[:300])
                if route.path == "/collections/{name}/exists":  # Qdrant answers a bool
                    assert r.json()["result"] == {"exists": False}
                elif "{name}" in route.path:
                    assert r.status_code in (403, 404), (method, path, who, r.status_code)
                tried += 1
    assert tried >= 2 * 40
    exists = _ok(c.get("/collections/acme_docs/exists", headers=_h(keys["beta"])))
    assert exists == {"exists": False}
    # nothing of acme's changed, and acme (and the admin) still see everything
    col = db.get_collection("acme_docs")
    assert col.count() == 5 and all(r.payload["secret"] == SECRET for r in col.get([1, 2]))
    assert os.path.exists(os.path.join(db.path, "snapshots", "acme_docs", snap))
    for who in ("acme", "admin"):
        names = [x["name"] for x in _ok(c.get("/collections",
                                              headers=_h(keys[who])))["collections"]]
        assert "acme_docs" in names
    assert _ok(c.post("/collections/acme_docs/points/count", headers=acme))["count"] == 5
    # the name is taken for beta (403), and beta's own collections stay beta's
    r = c.put("/collections/acme_docs", headers=_h(keys["beta"]),
              json={"vectors": {"size": 4, "distance": "Dot"}})
    assert r.status_code == 403


def _shared(c, keys):
    admin = _h(keys["admin"])
    _ok(c.put("/collections/shared", headers=admin,
              json={"vectors": {"size": 2, "distance": "Euclid"}}))
    _ok(c.put("/collections/shared/index", headers=admin, json={
        "field_name": "tenant", "field_schema": {"type": "keyword", "is_tenant": True}}))
    _ok(c.put("/collections/shared/index", headers=admin,
              json={"field_name": "color", "field_schema": "keyword"}))
    for who, base in (("acme", 0), ("beta", 100)):
        _ok(c.put("/collections/shared/points", headers=_h(keys[who]), json={"points": [
            {"id": base + i, "vector": [float(i), 0.0],
             "payload": {"color": "red" if i % 2 else "blue", "n": base + i}}
            for i in range(10)]}))


def test_shared_collection_reads(tenants):
    c, keys, _, db = tenants
    _shared(c, keys)
    col = db.get_collection("shared")
    assert col.count() == 20
    assert {r.payload["tenant"] for r in col.get(list(range(10)))} == {"acme"}
    assert {r.payload["tenant"] for r in col.get(list(range(100, 110)))} == {"beta"}
    acme, path = _h(keys["acme"]), "/collections/shared/points"
    hits = _ok(c.post(path + "/search", headers=acme, json={"vector": [0.0, 0.0],
                                                             "limit": 20}))
    assert sorted(h["id"] for h in hits) == list(range(10))
    red = {"must": [{"key": "color", "match": {"value": "red"}}]}
    hits = _ok(c.post(path + "/query", headers=acme, json={"query": [0.0, 0.0], "limit": 20,
                                                            "filter": red}))["points"]
    assert sorted(h["id"] for h in hits) == [1, 3, 5, 7, 9]
    batch = _ok(c.post(path + "/search/batch", headers=acme, json={"searches": [
        {"vector": [100.0, 0.0], "limit": 3}]}))
    assert all(h["id"] < 10 for h in batch[0])
    page = _ok(c.post(path + "/scroll", headers=acme, json={"limit": 100}))
    assert [p["id"] for p in page["points"]] == list(range(10))
    assert _ok(c.post(path + "/count", headers=acme, json={}))["count"] == 10
    assert _ok(c.post(path + "/count", headers=acme, json={"filter": red}))["count"] == 5
    got = _ok(c.post(path, headers=acme, json={"ids": [1, 101, 102]}))
    assert [p["id"] for p in got] == [1]
    assert c.get(path + "/101", headers=acme).status_code == 404
    assert _ok(c.get(path + "/1", headers=acme))["payload"]["tenant"] == "acme"
    for req in ({"positive": [101]}, {"positive": [1], "negative": [102]}):
        assert c.post(path + "/recommend", headers=acme, json=req).status_code == 404
    assert c.post(path + "/query", headers=acme, json={"query": 101}).status_code == 404
    rec = _ok(c.post(path + "/recommend", headers=acme, json={"positive": [1], "limit": 20}))
    assert rec and all(h["id"] < 10 for h in rec)
    info = _ok(c.get("/collections/shared", headers=acme))
    assert info["points_count"] == 10
    # the native API and its client
    with ws.connect(str(c.base_url), api_key=keys["beta"]) as rdb:
        rcol = rdb.get_collection("shared")
        assert sorted(h.id for h in rcol.search([0.0, 0.0], k=50)) == list(range(100, 110))
        assert rcol.count() == 10 and rcol.get([1, 101])[0] is None
        assert sorted(r.id for r in rcol.scroll(limit=100)) == list(range(100, 110))
        res = rcol.search_batch(np.zeros((2, 2), np.float32), k=30)
        assert all(u is None or u >= 100 for u in res.ids.ravel())
        assert {h[0] for h in rcol.explain([0.0, 0.0], k=30)["hits"]} <= set(range(100, 110))
        assert rcol.info()["points"] == 10
    # the admin sees everyone's points
    assert _ok(c.post(path + "/count", headers=_h(keys["admin"]), json={}))["count"] == 20


def test_shared_collection_writes(tenants):
    c, keys, _, db = tenants
    col = db.get_collection("shared")
    acme, path = _h(keys["acme"]), "/collections/shared/points"
    r = c.put(path, headers=acme, json={"points": [
        {"id": 50, "vector": [1.0, 1.0], "payload": {"tenant": "beta"}}]})
    assert r.status_code == 403 and "another tenant" in r.text
    r = c.put(path, headers=acme, json={"points": [{"id": 101, "vector": [1.0, 1.0]}]})
    assert r.status_code == 403 and col.get([101])[0].payload["tenant"] == "beta"
    _ok(c.put(path, headers=acme, json={"points": [
        {"id": 50, "vector": [1.0, 1.0], "payload": {"tenant": "acme", "color": "red"}}]}))
    assert col.get([50])[0].payload["tenant"] == "acme"
    # payload updates keep the tenant and touch only the caller's points
    assert c.post(path + "/payload", headers=acme,
                  json={"payload": {"tenant": "beta"}, "points": [1]}).status_code == 403
    assert c.post(path + "/payload", headers=acme,
                  json={"payload": {"x": 1}, "points": [101]}).status_code == 404
    _ok(c.post(path + "/payload/clear", headers=acme, json={"points": [1]}))
    assert col.get([1])[0].payload == {"tenant": "acme"}
    _ok(c.post(path + "/payload", headers=acme, json={
        "payload": {"seen": True}, "filter": {"must": [{"key": "color",
                                                         "match": {"value": "red"}}]}}))
    assert all(("seen" in r.payload) == (r.payload["tenant"] == "acme")
               for r in col.scroll(filter={"key": "color", "match": "red"}, limit=100))
    # deletes by id and by filter reach only the caller's points
    _ok(c.post(path + "/delete", headers=acme, json={"points": [2, 102]}))
    assert col.get([2])[0] is None and col.get([102])[0] is not None
    with ws.connect(str(c.base_url), api_key=keys["acme"]) as rdb:
        assert rdb.get_collection("shared").delete([103]) == 0
    assert col.get([103])[0] is not None
    _ok(c.post(path + "/delete", headers=acme, json={"filter": {"must": [
        {"key": "color", "match": {"value": "red"}}]}}))
    assert sorted(r.id for r in col.scroll(limit=100) if r.payload["tenant"] == "acme") == \
        [0, 1, 4, 6, 8]  # 1 lost its color to the clear
    assert sum(r.payload["tenant"] == "beta" for r in col.scroll(limit=100)) == 10
    # a tenant neither drops nor re-indexes nor snapshots the shared collection
    assert c.delete("/collections/shared", headers=acme).status_code == 403
    assert c.put("/collections/shared/index", headers=acme, json={
        "field_name": "n", "field_schema": "integer"}).status_code == 403
    assert c.post("/collections/shared/snapshots",
                  headers=_h(keys["acme_admin"])).status_code == 403
    assert db.has_collection("shared") and "n" not in col.schema
    # is_tenant needs a keyword field
    r = c.put("/collections/shared/index", headers=_h(keys["admin"]), json={
        "field_name": "n", "field_schema": {"type": "integer", "is_tenant": True}})
    assert r.status_code == 400 and "keyword" in r.text


def test_tenant_owned_collections_and_listing(tenants):
    c, keys, _, db = tenants
    beta = _h(keys["beta"])
    _ok(c.put("/collections/beta_own", headers=beta,
              json={"vectors": {"size": 2, "distance": "Dot"}}))
    names = [x["name"] for x in _ok(c.get("/collections", headers=beta))["collections"]]
    assert "beta_own" in names and "shared" in names and "acme_docs" not in names
    acme_names = [x["name"] for x in _ok(c.get("/collections",
                                               headers=_h(keys["acme"])))["collections"]]
    assert "beta_own" not in acme_names
    # an unowned collection without a tenant field is invisible to tenant keys
    _ok(c.put("/collections/admin_only", headers=_h(keys["admin"]),
              json={"vectors": {"size": 2, "distance": "Dot"}}))
    assert c.get("/collections/admin_only", headers=beta).status_code == 404
    # ownership survives a restart of the app (kept in the database directory)
    from warpsearch.server.tenancy import Registry

    reg = Registry(os.path.join(db.path, "tenancy.json"))
    assert reg.get("beta_own")["owner"] == "beta"
    assert reg.get("shared")["tenant_field"] == "tenant"
    _ok(c.delete("/collections/beta_own", headers=beta))
    assert Registry(os.path.join(db.path, "tenancy.json")).get("beta_own") == {}
