# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Observability and batching with real tenant keys: the tenant of a request is in
its access-log line and its metrics' labels; the recall monitor re-runs a tenant's
sampled search over that tenant's points only; concurrent searches of one tenant
share micro-batches and two tenants' never do; the dashboard's page loads without a
key while its stats need an admin key, which no access-log line records."""

from __future__ import annotations

import json
import logging
import os
import threading

import numpy as np
import pytest

import warpsearch as ws

from .conftest import start_server

httpx = pytest.importorskip("httpx", reason="needs the server extra")
pytest.importorskip("fastapi", reason="needs the server extra")
parser = pytest.importorskip("prometheus_client.parser", reason="needs the server extra")

DIM = 8
PER_TENANT = 300


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """A server with keys, every search sampled for recall, a 20 ms batch window, and
    a shared (is_tenant) collection ``shared`` in which acme and beta each hold
    PER_TENANT points drawn from the same distribution (ids 0.. and 10000..)."""
    from warpsearch.server import Settings, create_app
    from warpsearch.server.auth import KeyStore

    db = ws.connect(tmp_path_factory.mktemp("tenant_obs") / "db", fsync="never")
    store = KeyStore(os.path.join(db.path, "api_keys.json"))
    keys = {"admin": store.create("admin")[1],
            "acme": store.create("write", tenant="acme")[1],
            "beta": store.create("write", tenant="beta")[1]}
    app = create_app(db, Settings(threads=32, close_db=True, recall_sample=1.0,
                                  recall_cpu_budget=1.0, batch_window_ms=20.0,
                                  batch_max=64))
    server, thread, url = start_server(app)
    rng = np.random.default_rng(5)
    X = {t: rng.standard_normal((PER_TENANT, DIM)).astype(np.float32)
         for t in ("acme", "beta")}
    base = {"acme": 0, "beta": 10_000}
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            admin = {"api-key": keys["admin"]}
            _ok(c.put("/collections/shared", headers=admin,
                      json={"vectors": {"size": DIM, "distance": "Euclid"}}))
            _ok(c.put("/collections/shared/index", headers=admin, json={
                "field_name": "org", "field_schema": {"type": "keyword", "is_tenant": True}}))
            _ok(c.put("/collections/shared/index", headers=admin,
                      json={"field_name": "i", "field_schema": "integer"}))
            for t in ("acme", "beta"):
                _ok(c.put("/collections/shared/points?wait=true", headers={"api-key": keys[t]},
                          json={"points": [{"id": base[t] + i, "vector": v.tolist(),
                                            "payload": {"i": i}}
                                           for i, v in enumerate(X[t])]}))
            db.get_collection("shared").flush()  # indexed: answers stay put between calls
            yield c, keys, app, db, X, base
    finally:
        server.should_exit = True
        thread.join(30)


def _ok(r):
    assert r.status_code == 200, r.text
    return r.json()["result"]


def _metrics(c, key):
    out = {}
    text = c.get("/metrics", headers={"api-key": key}).text
    for fam in parser.text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_the_tenant_is_in_the_access_log_and_the_metrics(keyed, caplog):
    c, keys, _, _, X, _ = keyed
    caplog.set_level(logging.INFO, logger="warpsearch.server.access")
    r = c.post("/collections/shared/points/search", headers={"api-key": keys["acme"],
                                                            "x-request-id": "tenant-req-1"},
               json={"vector": X["acme"][0].tolist(), "limit": 3})
    assert r.status_code == 200
    # a request the key may not make is labelled with its tenant too
    assert c.delete("/collections/shared", headers={"api-key": keys["beta"]}).status_code == 403
    lines = [json.loads(x.getMessage()) for x in caplog.records
             if x.name == "warpsearch.server.access"]
    mine = [x for x in lines if x["request_id"] == "tenant-req-1"]
    assert len(mine) == 1 and mine[0]["tenant"] == "acme" and mine[0]["status"] == 200
    refused = [x for x in lines if x["status"] == 403 and x["method"] == "DELETE"]
    assert refused and refused[-1]["tenant"] == "beta"
    admin_lines = [x for x in lines if x["request_id"] != "tenant-req-1"
                   and x["status"] == 200]
    assert all(x["tenant"] is None for x in admin_lines)
    m = _metrics(c, keys["admin"])
    got = {(lab["route"], lab["status"], lab["tenant"]): v
           for lab, v in m["warpsearch_http_requests_total"]}
    assert got[("/collections/{name}/points/search", "200", "acme")] >= 1
    assert got[("/collections/{name}", "403", "beta")] >= 1
    # no key ever appears in a label or a log line
    for key in keys.values():
        assert key not in c.get("/metrics", headers={"api-key": keys["admin"]}).text
        assert not any(key in x.getMessage() for x in caplog.records)


def test_recall_monitor_measures_a_tenant_search_over_its_own_points(keyed):
    c, keys, app, db, X, base = keyed
    mon = app.state.observer.recall
    assert mon.wait_idle()
    before = mon.collection("shared")
    col = db.get_collection("shared")
    expected = []
    for q in X["beta"][:20] + 0.01:  # beta's points, near acme's too (same distribution)
        hits = _ok(c.post("/collections/shared/points/search",
                          headers={"api-key": keys["acme"]},
                          json={"vector": q.tolist(), "limit": 10}))
        assert all(h["id"] < base["beta"] for h in hits)
        own = col.search_exact(q, k=10, filter={"key": "org", "match": "acme"})[0]
        expected.append(len({h.id for h in own} & {h["id"] for h in hits}) / 10)
    assert mon.wait_idle()
    after = mon.collection("shared")
    assert after["count"] == before["count"] + 20
    got_sum = after["recall"] * after["count"] - (before["recall"] or 0) * before["count"]
    # re-run over every tenant's points, the same searches would score about half
    assert got_sum == pytest.approx(sum(expected))
    assert np.mean(expected) > 0.9


def _concurrent(c, key, bodies):
    out = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def run(i):
        with httpx.Client(base_url=c.base_url, timeout=60) as mine:
            start.wait()
            out[i] = _ok(mine.post("/collections/shared/points/search",
                                   headers={"api-key": key[i]}, json=bodies[i]))

    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return out


def test_one_tenants_searches_share_batches_and_two_tenants_never_do(keyed):
    c, keys, _, _, X, base = keyed
    Q = np.concatenate([X["acme"][:12], X["beta"][:12]]) + 0.01
    who = ["acme"] * 12 + ["beta"] * 12
    bodies = [{"vector": q.tolist(), "limit": 5} for q in Q]
    m0 = _metrics(c, keys["admin"])
    before = {lab["le"]: v for lab, v in m0["warpsearch_search_batch_size_bucket"]}
    got = _concurrent(c, [keys[w] for w in who], bodies)
    m1 = _metrics(c, keys["admin"])
    after = {lab["le"]: v for lab, v in m1["warpsearch_search_batch_size_bucket"]}
    runs = after["+Inf"] - before["+Inf"]
    assert runs < len(bodies)  # some searches ran in batches with others
    for w, hits in zip(who, got):
        mine = (lambda i: i < base["beta"]) if w == "acme" else (lambda i: i >= base["beta"])
        assert len(hits) == 5 and all(mine(h["id"]) for h in hits)
    # each answer equals the same search sent alone
    for w, b, hits in zip(who, bodies, got):
        alone = _ok(c.post("/collections/shared/points/search", headers={"api-key": keys[w]},
                           json=b))
        assert [h["id"] for h in hits] == [h["id"] for h in alone]


def test_usage_shares_a_shared_collections_bytes_by_points(keyed):
    c, keys, _, db, _, _ = keyed
    rows = _ok(c.get("/warpsearch/usage", headers={"api-key": keys["admin"]}))["tenants"]
    by = {r["tenant"]: r for r in rows if r["tenant"]}
    disk = db.get_collection("shared").memory_usage()["disk"]
    total = db.get_collection("shared").count()
    for t in ("acme", "beta"):
        mine = db.get_collection("shared").count({"key": "org", "match": t})
        assert by[t]["points"] == mine
        assert by[t]["stored_bytes"] == int(disk * mine / total) > 0


def test_dashboard_page_needs_no_key_and_its_stats_need_an_admin_key(keyed, caplog):
    c, keys, _, _, _, _ = keyed
    caplog.set_level(logging.INFO)
    for path in ("/dashboard", "/dashboard/dashboard.js", "/dashboard/dashboard.css"):
        assert c.get(path).status_code == 200, path
    assert c.get("/warpsearch/stats").status_code == 401
    assert c.get("/warpsearch/stats", headers={"api-key": keys["acme"]}).status_code == 403
    stats = _ok(c.get("/warpsearch/stats", headers={"api-key": keys["admin"]}))
    assert "shared" in {x["name"] for x in stats["collections"]}
    # the page takes its key from the URL fragment (never sent) or its form, not the
    # query string that access logs record
    js = c.get("/dashboard/dashboard.js").text
    assert "location.hash" in js and "location.search).get" not in js
    assert 'id="key-form"' in c.get("/dashboard").text


def test_every_remaining_endpoint_keeps_a_tenant_to_its_own_points(keyed):
    """The shared collection's batch queries, batch recommendations, payload
    overwrite and key deletion, and the native client's delete by filter, explain,
    get, scroll and count: with acme's key they read and change acme's points only."""
    c, keys, _, db, X, base = keyed
    acme, path = {"api-key": keys["acme"]}, "/collections/shared/points"
    col = db.get_collection("shared")
    mine = lambda i: i < base["beta"]  # noqa: E731
    q = (X["beta"][0] + 0.01).tolist()  # nearest to a beta point
    out = _ok(c.post(path + "/query/batch", headers=acme, json={"searches": [
        {"query": q, "limit": 20}, {"query": q, "limit": 5,
                                    "filter": {"must": [{"key": "i", "match": {"value": 7}}]}}]}))
    assert [p["id"] for p in out[1]["points"]] == [7]
    assert len(out[0]["points"]) == 20 and all(mine(p["id"]) for p in out[0]["points"])
    out = _ok(c.post(path + "/recommend/batch", headers=acme, json={"searches": [
        {"positive": [1], "limit": 20}, {"positive": [2], "negative": [3], "limit": 5}]}))
    assert all(mine(h["id"]) for row in out for h in row) and len(out[0]) == 20
    r = c.post(path + "/recommend/batch", headers=acme, json={"searches": [
        {"positive": [base["beta"] + 1], "limit": 5}]})
    assert r.status_code == 404  # another tenant's point is not there for acme
    # payload overwrite and key deletion: another tenant's ids are not found, the
    # caller's points keep their tenant field
    theirs = base["beta"] + 2
    before = col.get([theirs])[0].payload
    assert c.put(path + "/payload", headers=acme,
                 json={"payload": {"x": 1}, "points": [theirs]}).status_code == 404
    assert c.post(path + "/payload/delete", headers=acme,
                  json={"keys": ["i"], "points": [theirs]}).status_code == 404
    assert col.get([theirs])[0].payload == before
    _ok(c.put(path + "/payload", headers=acme, json={"payload": {"x": 1}, "points": [3]}))
    assert col.get([3])[0].payload == {"x": 1, "org": "acme"}
    _ok(c.post(path + "/payload/delete", headers=acme, json={
        "keys": ["i"], "filter": {"must": [{"key": "i", "match": {"value": 4}}]}}))
    assert "i" not in col.get([4])[0].payload
    assert col.get([base["beta"] + 4])[0].payload["i"] == 4
    # the native client: delete by filter, explain, get, scroll, count
    with ws.connect(str(c.base_url), api_key=keys["acme"]) as rdb:
        rc = rdb.get_collection("shared")
        assert rc.delete(filter={"key": "i", "match": 5}) == 1
        assert col.get([5])[0] is None and col.get([base["beta"] + 5])[0] is not None
        ex = rc.explain(X["beta"][0], k=5)
        assert "beta" not in json.dumps(ex, default=str)
        got = rc.get([6, base["beta"] + 6])
        assert got[0].id == 6 and got[0].payload["org"] == "acme" and got[1] is None
        assert all(mine(r.id) for r in rc.scroll(limit=1000))
        assert rc.count() == PER_TENANT - 1 == len(rc.scroll(limit=1000))
    assert sum(not mine(r.id) for r in col.scroll(limit=1000)) == PER_TENANT
