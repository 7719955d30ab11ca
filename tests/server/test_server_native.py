# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The native client, ``warpsearch.connect("http://...")``: the embedded API and
return types over HTTP, with the embedded database's answers (scores included:
squared L2 is not converted), ``search_batch`` through the binary endpoint."""

from __future__ import annotations

import numpy as np
import pytest

import warpsearch as ws
from warpsearch.db.query import BatchResults

pytest.importorskip("httpx")

DIM = 8
N = 400
SCHEMA = {"color": "keyword", "n": "int"}
RED = {"must": [{"key": "color", "match": {"value": "red"}}]}


@pytest.fixture(scope="module")
def remote(served):
    with ws.connect(served.url, timeout=30) as rdb:
        yield rdb


def _data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((N, DIM)).astype(np.float32)
    pays = [{"color": ("red", "green", "blue")[i % 3], "n": i} for i in range(N)]
    return X, pays


def test_remote_collection_matches_embedded(served, remote, tmp_path):
    X, pays = _data()
    rc = remote.create_collection("nat", dim=DIM, metric="l2", schema=SCHEMA,
                                  index=ws.HNSWConfig(M=8), segment_size=128)
    assert "nat" in remote.list_collections() and remote.has_collection("nat")
    assert rc.upsert(list(range(N)), X, pays, batch_size=150) > 0
    col = served.db.get_collection("nat")
    assert col.segment_size == 128 and col.index_config.M == 8
    assert rc.count() == len(rc) == N and rc.count(RED) == col.count(RED)
    rc.flush()

    q = X[17] + 0.01
    for flt in (None, RED):
        got, ref = rc.search(q, k=10, filter=flt), col.search(q, k=10, filter=flt)
        assert got == ref  # ids, squared-L2 scores and payloads
        assert all(isinstance(h, ws.Hit) for h in got)
    hits, stats = rc.search(q, k=5, return_stats=True)
    assert hits == col.search(q, k=5) and stats["nq"] == 1
    assert [h.payload for h in rc.search(q, k=3, with_payload=False)] == [None] * 3

    Q = X[:6] + 0.01
    for flt, wp in ((None, True), (RED, False)):
        got = rc.search_batch(Q, k=7, filter=flt, with_payload=wp)
        ref = col.search_batch(Q, k=7, filter=flt, with_payload=wp)
        assert isinstance(got, BatchResults) and got == ref
        assert (got.ids == ref.ids).all()
        np.testing.assert_array_equal(got.scores, ref.scores)

    recs = rc.get([5, 10**9, 7])
    assert recs[1] is None and [r.id for r in (recs[0], recs[2])] == [5, 7]
    np.testing.assert_array_equal(recs[0].vector, X[5])
    assert recs[2].payload == pays[7] and 5 in rc and 10**9 not in rc
    page = rc.scroll(filter=RED, limit=1500, with_vectors=False)
    assert [r.id for r in page] == [r.id for r in col.scroll(filter=RED, limit=1500,
                                                             with_vectors=False)]
    got, ref = rc.scroll(limit=5, offset=3), col.scroll(limit=5, offset=3)
    assert [(r.id, r.payload) for r in got] == [(r.id, r.payload) for r in ref]
    np.testing.assert_array_equal(np.stack([r.vector for r in got]),
                                  np.stack([r.vector for r in ref]))

    ex = rc.explain(q, k=3, filter=RED)
    assert ex["hits"] == [(h.id, h.score) for h in col.search(q, k=3, filter=RED,
                                                               with_payload=False)]
    assert ex["estimated_cardinality"] == col.count(RED)
    assert rc.info()["points"] == N

    assert rc.delete([0, 1, 10**9]) == 2
    assert rc.delete(filter={"key": "n", "range": {"gte": 390}}) == 10
    assert rc.count() == col.count() == N - 12

    snap = rc.snapshot(tmp_path / "snap")
    with ws.connect(tmp_path / "local") as local:
        restored = ws.restore(snap, local, "copy")
        assert restored.count() == N - 12
        assert [h.id for h in restored.search(q, k=10)] == [h.id for h in col.search(q, k=10)]

    remote.drop_collection("nat")
    assert not remote.has_collection("nat")


def test_string_and_mixed_ids_through_the_binary_endpoint(served, remote):
    rc = remote.create_collection("ids", dim=4, metric="ip", index=ws.FlatConfig())
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 4)).astype(np.float32)
    ids = [f"doc-{i}" if i % 2 else i for i in range(30)]
    rc.upsert(ids, X, [{"i": i} for i in range(30)])
    col = served.db.get_collection("ids")
    got, ref = rc.search_batch(X[:4], k=40), col.search_batch(X[:4], k=40)
    assert got == ref and list(got.ids[0]) == list(ref.ids[0])
    assert got.ids[0][-1] is None and np.isnan(got.scores[0][-1])  # k > points: padding
    assert {type(u) for u in got.ids[0][:30]} == {int, str}
    assert rc.get(["doc-1"])[0].payload == {"i": 1}


def test_ten_thousand_queries_in_one_binary_batch_and_the_query_limit(served, remote,
                                                                     tmp_path):
    """The binary endpoint takes 10,000 queries a call by default (the server's
    ``--max-queries``), answered as the embedded ``search_batch``; past a server's
    limits (queries, and results: queries x limit) both batch endpoints refuse with a
    400 naming the limit, and nothing is searched."""
    import httpx

    from .conftest import start_server
    from warpsearch.server import Settings, create_app

    rc = remote.create_collection("tenk", dim=4, metric="l2", index=ws.FlatConfig())
    rng = np.random.default_rng(5)
    rc.upsert(list(range(500)), rng.standard_normal((500, 4)).astype(np.float32))
    Q = rng.standard_normal((10_000, 4)).astype(np.float32)
    got = rc.search_batch(Q, k=3, with_payload=False)
    ref = served.db.get_collection("tenk").search_batch(Q, k=3, with_payload=False)
    assert len(got) == 10_000 and got == ref

    db = ws.connect(tmp_path / "small", fsync="never")
    db.create_collection("c", dim=4, metric="l2").upsert([1, 2], np.ones((2, 4)))
    server, thread, url = start_server(create_app(db, Settings(threads=2, max_batch=5,
                                                               max_results=8)))
    try:
        with ws.connect(url, timeout=30) as small:
            c = small.get_collection("c")
            assert len(c.search_batch(np.ones((5, 4)), k=1)) == 5
            with pytest.raises(ValueError, match="nq <= 5"):
                c.search_batch(np.ones((6, 4)), k=1)
            assert len(c.search_batch(np.ones((4, 4)), k=2)) == 4  # 8 results: the cap
            with pytest.raises(ValueError, match="asks for 9 results.*max-results is 8"):
                c.search_batch(np.ones((3, 4)), k=3)
        body = {"searches": [{"vector": [1.0] * 4, "limit": 1}] * 6}
        r = httpx.post(url + "/collections/c/points/search/batch", json=body, timeout=30)
        assert r.status_code == 400 and "at most 5 searches" in r.json()["status"]["error"]
        body = {"searches": [{"vector": [1.0] * 4, "limit": 4, "offset": 1}] * 2}
        r = httpx.post(url + "/collections/c/points/search/batch", json=body, timeout=30)
        assert r.status_code == 400 and "asks for 10 results" in r.json()["status"]["error"]
        assert db.get_collection("c").count() == 2  # nothing lost by the refusals
    finally:
        server.should_exit = True
        thread.join(30)


def test_remote_errors_carry_the_server_message(served, remote):
    with pytest.raises(KeyError, match="doesn't exist"):
        remote.get_collection("absent")
    with pytest.raises(KeyError):
        remote.drop_collection("absent")
    rc = remote.create_collection("err", dim=4, metric="cosine", schema={"c": "keyword"})
    with pytest.raises(ValueError, match="already exists"):
        remote.create_collection("err", dim=4)
    with pytest.raises(ValueError, match="unknown field 'z'"):
        rc.search(np.ones(4), k=3, filter={"z": "a"})
    with pytest.raises(ValueError, match="zero vector"):
        rc.upsert([1], np.zeros((1, 4)))
    with pytest.raises(ValueError, match="field 'c'"):
        rc.upsert([1], np.ones((1, 4)), [{"c": 3}])
    with pytest.raises(ValueError, match="metric"):
        remote.create_collection("err2", dim=4, metric="hamming")
    with pytest.raises(ValueError, match="either ids or filter"):
        rc.delete()
    assert rc.count() == 0


def test_keep_alive_connections_are_reused_and_closed_ones_dropped(tmp_path, monkeypatch):
    """The native client keeps its connections open between calls (one, for calls made
    one after another); one the server closed while idle is dropped before use, so
    even a call that is not retried (create_collection) succeeds after the server's
    keep-alive timeout. With a proxy in the environment it goes through httpx."""
    uvicorn = pytest.importorskip("uvicorn")
    import threading
    import time

    from warpsearch.remote import _Connections, _HttpxConnections
    from warpsearch.server import Settings, create_app

    db = ws.connect(tmp_path / "ka", fsync="never")
    config = uvicorn.Config(create_app(db, Settings(threads=2)), host="127.0.0.1", port=0,
                            log_level="warning", timeout_keep_alive=0.2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        with ws.connect(url, timeout=10, retries=0) as rdb:
            assert isinstance(rdb._http, _Connections)
            rdb.create_collection("a", dim=2)
            first = rdb._http._idle[0]
            assert rdb.list_collections() == ["a"] and rdb._http._idle == [first]
            time.sleep(0.6)  # past the server's keep-alive timeout: it closed the socket
            rdb.create_collection("b", dim=2)
            assert rdb.list_collections() == ["a", "b"] and rdb._http._idle[0] is not first
        for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        with ws.connect(url, timeout=5, retries=0) as rdb:
            assert isinstance(rdb._http, _HttpxConnections)
            with pytest.raises(ConnectionError):
                rdb.list_collections()
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with ws.connect(url, timeout=5, retries=0) as rdb:
            assert isinstance(rdb._http, _Connections) and rdb.list_collections() == ["a", "b"]
    finally:
        server.should_exit = True
        thread.join(30)


def test_connect_dispatch_and_options(tmp_path):
    with pytest.raises(TypeError, match="timeout"):
        ws.connect(tmp_path / "db", timeout=3)
    db = ws.connect("http://127.0.0.1:9", timeout=2, retries=0)  # nothing listens on port 9
    with pytest.raises(ConnectionError):
        db.list_collections()
    db.close()


def test_offload_over_http_and_activation_by_the_next_request(served, tmp_path):
    """An admin offloads a collection to object storage through the native client;
    the next search (Qdrant's endpoint) activates it with the same answers."""
    import httpx

    col = served.db.create_collection("tiered", dim=4, metric="l2")
    X = np.random.default_rng(2).standard_normal((300, 4)).astype(np.float32)
    col.upsert(list(range(300)), X, [{"i": i} for i in range(300)])
    ref = [h.id for h in col.search(X[3], k=5)]
    with ws.connect(served.url) as rdb:
        assert rdb.tier("tiered") == "ram"
        out = rdb.offload("tiered", to=str(tmp_path / "cold"))
        assert out["tier"] == "object" and out["points"] == 300
        assert rdb.tier("tiered") == "object"
        with pytest.raises(ValueError, match="already offloaded"):
            rdb.offload("tiered", to=str(tmp_path / "cold2"))
        with pytest.raises(KeyError):
            rdb.offload("nope")
        with pytest.raises(KeyError):
            rdb.tier("nope")
        with httpx.Client(base_url=served.url) as h:
            r = h.post("/collections/tiered/points/search",
                       json={"vector": X[3].tolist(), "limit": 5})
            assert r.status_code == 200 and [p["id"] for p in r.json()["result"]] == ref
            r = h.post("/warpsearch/collections/tiered/offload", json={"to": 5})
            assert r.status_code == 400
        assert rdb.tier("tiered") == "ram"
        assert rdb.offload("tiered")["tier"] == "disk"
        assert rdb.activate("tiered").count() == 300
