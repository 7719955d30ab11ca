# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Observability of the server: Prometheus metrics, JSON request logs with request
ids, the slow-query log (the plan of the search that ran, not of a second one), the
online recall monitor, and the micro-batcher (each caller gets exactly what an
unbatched search returns)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

import warpsearch as ws

from .conftest import start_server

pytest.importorskip("fastapi", reason="needs the server extra")
httpx = pytest.importorskip("httpx", reason="needs the server extra")
parser = pytest.importorskip("prometheus_client.parser", reason="needs the server extra")

DIM = 16
N = 3000


def _data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, DIM)).astype(np.float32) * 3
    return (centres[rng.integers(0, 20, n)] + rng.standard_normal((n, DIM))).astype(np.float32)


@pytest.fixture(scope="module")
def obs(tmp_path_factory):
    """A server with every search sampled for recall, every search slow, and a
    1 ms batch window; collection ``docs`` (HNSW with a low ef, so recall < 1)."""
    from warpsearch.server import Settings, create_app

    db = ws.connect(tmp_path_factory.mktemp("obs") / "db", fsync="never")
    X = _data()
    col = db.create_collection("docs", dim=DIM, metric="l2", segment_size=2000,
                               schema={"tag": "int"},
                               index=ws.HNSWConfig(M=4, ef_construction=16, ef_search=8))
    col.upsert(list(range(N)), X, [{"tag": i % 3} for i in range(N)])
    col.flush()
    app = create_app(db, Settings(threads=32, close_db=True, slow_query_ms=0.0,
                                  recall_sample=1.0, recall_cpu_budget=1.0,  # every sample
                                  batch_window_ms=2.0, batch_max=64))

    server, thread, url = start_server(app)
    try:
        yield SimpleNamespace(url=url, db=db, col=col, X=X, app=app,
                              observer=app.state.observer)
    finally:
        server.should_exit = True
        thread.join(30)


def _metrics(url):
    text = httpx.get(url + "/metrics").text
    out = {}
    for fam in parser.text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def _value(samples, **labels):
    vals = [v for lab, v in samples if all(lab.get(k) == x for k, x in labels.items())]
    assert len(vals) == 1, (labels, samples)
    return vals[0]


def test_request_ids_and_json_access_log(obs, caplog):
    caplog.set_level(logging.INFO, logger="warpsearch.server.access")
    with httpx.Client(base_url=obs.url) as c:
        r = c.post("/collections/docs/points/search", json={"vector": obs.X[3].tolist(),
                                                             "limit": 2},
                   headers={"x-request-id": "req-42"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "req-42"
        r2 = c.get("/collections/nope")
        rid = r2.headers["x-request-id"]
        assert r2.status_code == 404 and len(rid) == 32
        bad = c.get("/healthz", headers={"x-request-id": "bad id\twith spaces"})
        assert bad.headers["x-request-id"] != "bad id\twith spaces"
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "warpsearch.server.access"]
    mine = [x for x in lines if x["request_id"] == "req-42"]
    assert len(mine) == 1
    line = mine[0]
    assert line["route"] == "/collections/{name}/points/search" and line["status"] == 200
    # keyless: no tenant (test_server_tenant_observe.py has requests with tenant keys)
    assert line["collection"] == "docs" and line["tenant"] is None
    assert line["method"] == "POST" and line["duration_ms"] > 0 and line["searches"] == 1
    miss = [x for x in lines if x["request_id"] == rid][0]
    assert miss["status"] == 404 and miss["collection"] is None


def test_log_writer_writes_queued_lines_in_order_and_all_of_them_at_stop():
    """configure_logging's writer thread: the access and slow-query lines reach the
    stream whole and in order (several per write under load), a record with arguments
    is formatted like any logging record, and stop() writes what is still queued."""
    import io

    from warpsearch.server import observe

    saved = {lg: (lg.handlers[:], lg.propagate, lg.level)
             for lg in (observe.access_log, observe.slow_log)}
    writer = observe.configure_logging("info")
    stream = io.StringIO()
    writer.handler.setStream(stream)
    try:
        for i in range(2000):
            observe.access_log.info(json.dumps({"i": i}))
        observe.slow_log.warning("slow %s of %d", "query", 7)
        observe.access_log.debug("not at info level")
    finally:
        writer.stop()
        for lg, (handlers, propagate, level) in saved.items():
            lg.handlers[:], lg.propagate = handlers, propagate
            lg.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert [json.loads(x)["i"] for x in lines[:-1]] == list(range(2000))
    assert lines[-1] == "slow query of 7"
    assert not writer._thread.is_alive()


def test_metrics(obs):
    with httpx.Client(base_url=obs.url) as c:
        for i in range(3):
            assert c.post("/collections/docs/points/search",
                          json={"vector": obs.X[i].tolist(), "limit": 5}).status_code == 200
        assert c.post("/warpsearch/collections/docs/search",
                      json={"vector": obs.X[0].tolist(), "k": 5,
                            "filter": {"key": "tag", "match": 1}}).status_code == 200
    m = _metrics(obs.url)
    assert _value(m["warpsearch_http_requests_total"], route="/collections/{name}/points/search",
                  method="POST", status="200", collection="docs", tenant="") >= 3
    assert _value(m["warpsearch_http_request_duration_seconds_count"],
                  route="/warpsearch/collections/{name}/search", status="200",
                  collection="docs", tenant="") >= 1
    plans = {(lab["index"], lab["plan"]) for lab, v in
             m["warpsearch_search_duration_seconds_count"] if lab["collection"] == "docs"}
    assert ("HNSWIndex", "graph") in plans, plans
    info = obs.col.info()
    # duration histograms: seals (the fixture's flush sealed one segment), merges, and
    # WAL fsyncs (none under fsync="never", the histogram is there all the same)
    assert _value(m["warpsearch_collection_seal_duration_seconds_count"],
                  collection="docs") == info["background"]["seals"] >= 1
    assert _value(m["warpsearch_collection_seal_duration_seconds_bucket"], collection="docs",
                  le="+Inf") == info["background"]["seals"]
    assert _value(m["warpsearch_collection_merge_duration_seconds_count"],
                  collection="docs") == info["background"]["merges"]
    assert _value(m["warpsearch_collection_wal_fsync_seconds_count"],
                  collection="docs") == obs.col.durations()["wal_fsync"]["count"]
    assert _value(m["warpsearch_collection_merges_pending"], collection="docs") == 0
    assert _value(m["warpsearch_collection_points"], collection="docs") == N
    assert _value(m["warpsearch_collection_sealed_segments"],
                  collection="docs") == info["sealed_segments"] == 1
    assert _value(m["warpsearch_collection_indexed_rows"], collection="docs") == N
    assert _value(m["warpsearch_collection_seals_total"], collection="docs") == 1
    assert _value(m["warpsearch_collection_seal_seconds_total"], collection="docs") > 0
    assert _value(m["warpsearch_collection_merges_total"], collection="docs") == 0
    assert _value(m["warpsearch_collection_backpressure_waits_total"], collection="docs") == 0
    assert _value(m["warpsearch_collection_wal_fsyncs_total"],
                  collection="docs") == obs.col.info()["wal_fsyncs"]
    mu = obs.col.memory_usage()
    assert _value(m["warpsearch_collection_bytes"], collection="docs", where="mapped") == \
        mu["mapped"] == sum(s.vector_file_bytes + s.index.mapped_bytes
                            for s in obs.col.state.view if s.kind == "sealed")
    assert _value(m["warpsearch_collection_bytes"], collection="docs", where="ram") == \
        mu["ram"] >= 3000 * DIM * 4  # the sealed index holds its vectors, as does the mutable
    assert _value(m["warpsearch_collection_bytes"], collection="docs", where="disk") > 0
    assert not [lab for lab, _ in m["warpsearch_collection_bytes"] if lab["where"] == "device"]
    assert _value(m["warpsearch_search_batch_size_count"]) >= 4
    assert _value(m["warpsearch_slow_queries_total"], collection="docs") >= 4


def test_metrics_registry_is_per_app(tmp_path):
    from warpsearch.server import Settings, create_app

    with ws.connect(tmp_path / "a") as db:
        a = create_app(db, Settings(close_db=False))
        b = create_app(db, Settings(close_db=False))
        assert a.state.observer.metrics.registry is not b.state.observer.metrics.registry
        a.state.observer.metrics.requests.labels("/", "GET", "200", "", "").inc()
        assert b"warpsearch_http_requests_total{" not in b.state.observer.metrics.render()


def test_slow_query_log_has_the_plan_of_the_search_that_ran(obs, caplog, monkeypatch):
    caplog.set_level(logging.WARNING, logger="warpsearch.server.slow")
    calls = []
    real = type(obs.col).search  # a lone search (no batch to join) runs as is

    def counted(self, *a, **kw):
        calls.append(1)
        return real(self, *a, **kw)

    monkeypatch.setattr(type(obs.col), "search", counted)
    monkeypatch.setattr(type(obs.col), "search_batch",
                        lambda *a, **kw: pytest.fail("a second search ran"))
    flt = {"key": "tag", "match": 2}
    r = httpx.post(obs.url + "/collections/docs/points/search",
                   json={"vector": obs.X[5].tolist(), "limit": 4, "filter": flt},
                   headers={"x-request-id": "slow-1"})
    assert r.status_code == 200 and len(calls) == 1
    recs = [json.loads(r.getMessage()) for r in caplog.records
            if r.name == "warpsearch.server.slow"]
    entry = [x for x in recs if x["request_id"] == "slow-1"]
    assert len(entry) == 1
    e = entry[0]
    assert e["event"] == "slow_query" and e["collection"] == "docs" and e["k"] == 4
    assert e["filter"] == flt and e["plan"]["nq"] == 1
    assert e["plan"]["allowed"] == N // 3 and e["plan"]["segments"][0]["index"] == "HNSWIndex"
    listed = httpx.get(obs.url + "/warpsearch/slow_queries").json()["result"]
    assert listed[0]["request_id"] == "slow-1"  # newest first


def test_no_slow_queries_under_the_threshold(tmp_path):
    from warpsearch.server import Settings, create_app

    with ws.connect(tmp_path / "db", fsync="never") as db:
        db.create_collection("c", dim=4, metric="l2").upsert([1], [[1, 0, 0, 0]])
        app = create_app(db, Settings(close_db=False, slow_query_ms=60_000))
        server, thread, url = start_server(app)
        try:
            assert httpx.post(url + "/collections/c/points/search",
                              json={"vector": [1, 0, 0, 0], "limit": 1}).status_code == 200
            assert httpx.get(url + "/warpsearch/slow_queries").json()["result"] == []
        finally:
            server.should_exit = True
            thread.join(30)


def test_online_recall_matches_exact_ground_truth(obs):
    mon = obs.observer.recall
    assert mon.wait_idle()
    before = mon.collection("docs")
    Q = _data(seed=7, n=40)
    expected = []
    with httpx.Client(base_url=obs.url) as c:
        for q in Q:
            hits = c.post("/collections/docs/points/search",
                          json={"vector": q.tolist(), "limit": 10}).json()["result"]
            truth = {h.id for h in obs.col.search_exact(q, k=10)[0]}
            expected.append(len(truth & {h["id"] for h in hits}) / 10)
    assert mon.wait_idle()
    after = mon.collection("docs")
    assert after["count"] == before["count"] + 40
    got_sum = after["recall"] * after["count"] - (before["recall"] or 0) * before["count"]
    assert got_sum == pytest.approx(sum(expected))
    assert 0.3 < np.mean(expected) < 1.0  # ef 8: approximate, so the monitor has work
    r = httpx.get(obs.url + "/warpsearch/collections/docs/recall").json()["result"]
    assert r["count"] == after["count"] and r["recall"] == pytest.approx(after["recall"])
    assert r["sample"] == 1.0
    m = _metrics(obs.url)
    assert _value(m["warpsearch_recall"], collection="docs") == pytest.approx(after["recall"])
    assert _value(m["warpsearch_recall_samples_total"], collection="docs") == after["count"]
    assert httpx.get(obs.url + "/warpsearch/collections/nope/recall").status_code == 404


def test_recall_monitor_drops_when_full_and_uses_the_filter(tmp_path):
    from warpsearch.server.recall import RecallMonitor

    gate = threading.Event()
    seen = []

    class Col:
        name = "c"

        def search_exact(self, vec, k, filter, with_payload):
            gate.wait(10)
            seen.append(filter)
            return [[SimpleNamespace(id=i) for i in range(k)]]

    mon = RecallMonitor(1.0, queue_size=1)
    hits = [SimpleNamespace(id=i) for i in (0, 1, 7, 8)]
    assert mon.offer(Col(), np.zeros(4), 4, {"key": "t", "match": 1}, hits)
    deadline = threading.Event()
    while mon._q.qsize():  # the thread took the first sample and waits on the gate
        deadline.wait(0.005)
    assert mon.offer(Col(), np.zeros(4), 4, None, hits)  # queued
    assert not mon.offer(Col(), np.zeros(4), 4, None, hits)  # full: dropped
    gate.set()
    assert mon.wait_idle()
    assert mon.snapshot()["dropped"] == 1 and mon.collection("c") == {"recall": 0.5, "count": 2}
    assert seen == [{"key": "t", "match": 1}, None]
    mon.close()
    assert RecallMonitor(0.0).offer(Col(), np.zeros(4), 4, None, hits) is False
    with pytest.raises(ValueError, match="fraction"):
        RecallMonitor(1.5)


async def _concurrent(url, bodies, clients):
    sem = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 limits=httpx.Limits(max_connections=clients)) as c:
        async def one(b):
            async with sem:
                r = await c.post("/collections/docs/points/search", json=b)
                assert r.status_code == 200, r.text
                return r.json()["result"]
        return await asyncio.gather(*(one(b) for b in bodies))


def test_micro_batched_results_equal_sequential(obs):
    Q = _data(seed=11, n=256)
    bodies = []
    for i, q in enumerate(Q):
        b = {"vector": q.tolist(), "limit": 10, "with_payload": True}
        if i % 4 == 1:
            b["filter"] = {"key": "tag", "match": i % 3}
        bodies.append(b)
    m0 = _metrics(obs.url)
    before = {lab["le"]: v for lab, v in m0["warpsearch_search_batch_size_bucket"]}
    got = asyncio.run(_concurrent(obs.url, bodies, 32))
    m1 = _metrics(obs.url)
    after = {lab["le"]: v for lab, v in m1["warpsearch_search_batch_size_bucket"]}
    single = after["1.0"] - before["1.0"]
    total = after["+Inf"] - before["+Inf"]
    assert total < len(bodies) and single < total  # batches of more than one ran
    with httpx.Client(base_url=obs.url) as c:
        for b, g in zip(bodies, got):
            seq = c.post("/collections/docs/points/search", json=b).json()["result"]
            assert g == seq


def test_batcher_isolates_a_failing_query(tmp_path):
    from warpsearch.server.batcher import MicroBatcher

    sizes = []
    with ws.connect(tmp_path / "db", fsync="never") as db:
        col = db.create_collection("c", dim=4, metric="cosine")
        X = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
        col.upsert(list(range(50)), X)
        b = MicroBatcher(0.2, 8, sizes.append)
        b._inflight = 1  # as if another search were running: leaders wait for company
        queries = [X[0], np.zeros(4, np.float32), X[2], X[3]]
        out = [None] * 4

        def run(i):
            try:
                out[i] = b.search(col, queries[i], k=3, filter=None, ef=None,
                                  with_payload=False)
            except ValueError as exc:
                out[i] = exc

        ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        assert isinstance(out[1], ValueError) and "zero" in str(out[1])
        for i in (0, 2, 3):
            hits, stats, n = out[i]
            assert hits == col.search(queries[i], k=3, with_payload=False)
        assert sizes and max(sizes) == 1  # the failed batch was re-run one by one
        with pytest.raises(ValueError, match="max_batch"):
            MicroBatcher(0.001, 0)


def test_serve_flags(monkeypatch):
    from warpsearch import cli

    ap = cli.build_parser
    args = ap().parse_args(["serve"])
    assert (args.slow_query_ms, args.recall_sample, args.batch_window_ms, args.max_batch) == \
        (100.0, 0.01, 1.0, 64)
    assert args.max_queries == 10_000 and args.max_results == 1_000_000
    assert ap().parse_args(["serve", "--max-queries", "20000"]).max_queries == 20_000
    monkeypatch.setenv("WARPSEARCH_MAX_RESULTS", "5000")
    assert ap().parse_args(["serve"]).max_results == 5000
    monkeypatch.setenv("WARPSEARCH_SLOW_QUERY_MS", "250")
    monkeypatch.setenv("WARPSEARCH_RECALL_SAMPLE", "0.5")
    args = ap().parse_args(["serve", "--batch-window-ms", "0", "--max-batch", "8"])
    assert (args.slow_query_ms, args.recall_sample, args.batch_window_ms, args.max_batch) == \
        (250.0, 0.5, 0.0, 8)
    for bad in (["--recall-sample", "2"], ["--slow-query-ms", "-1"], ["--max-batch", "0"],
                ["--max-queries", "0"], ["--max-results", "-3"]):
        with pytest.raises(SystemExit):
            ap().parse_args(["serve", *bad])


def test_recall_monitor_keeps_to_its_cpu_budget():
    """After each exact re-run the monitor rests (its duration) x (1 / budget - 1);
    samples offered meanwhile are dropped and counted, never queued."""
    from warpsearch.server.recall import RecallMonitor

    class Col:
        name = "c"

        def search_exact(self, vec, k, filter, with_payload):
            time.sleep(0.02)  # a 20 ms re-run
            return [[SimpleNamespace(id=i) for i in range(k)]]

    hits = [SimpleNamespace(id=i) for i in range(4)]
    mon = RecallMonitor(1.0, cpu_budget=0.02)
    assert mon.offer(Col(), np.zeros(4), 4, None, hits)
    assert mon.wait_idle()
    deadline = time.monotonic() + 5
    while not mon._resting() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert mon._resting()
    assert not mon.offer(Col(), np.zeros(4), 4, None, hits)  # resting: dropped
    snap = mon.snapshot()
    assert snap["dropped"] == 1 and snap["collections"]["c"] == (1.0, 1)
    # rests 49x the time the re-run took (20 ms and more on a busy machine)
    assert 0.9 <= snap["paused_seconds"] <= 10, snap
    while mon._resting():
        time.sleep(0.01)
    assert mon.offer(Col(), np.zeros(4), 4, None, hits)  # measured again after the rest
    assert mon.wait_idle()
    assert mon.collection("c")["count"] == 2
    mon.close()  # cuts the second rest short
    with pytest.raises(ValueError, match="cpu_budget"):
        RecallMonitor(0.5, cpu_budget=0)
