# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""warpsearch serve in front of a cluster: qdrant-client creates a sharded, replicated
collection through the REST API and its answers equal an embedded database's."""

from __future__ import annotations

import numpy as np
import pytest

import warpsearch as ws

from server.conftest import serve_process, start_server  # noqa: E402  (test helpers)


def test_server_fronts_a_cluster(cluster_db, tmp_path):
    qdrant_client = pytest.importorskip("qdrant_client", reason="needs qdrant-client")
    pytest.importorskip("fastapi", reason="needs the server extra")
    from qdrant_client import models

    from warpsearch.server import Settings, create_app

    server, thread, url = start_server(create_app(cluster_db, Settings(threads=4)))
    try:
        qc = qdrant_client.QdrantClient(url=url, prefer_grpc=False, timeout=60,
                                        check_compatibility=False)
        qc.create_collection("served", vectors_config=models.VectorParams(
            size=8, distance=models.Distance.EUCLID), shard_number=2, replication_factor=2,
            write_consistency_factor=2)
        col = cluster_db.get_collection("served")
        assert len(col.shards) == 2 and col.replication_factor == 2
        assert col.write_consistency == "all"
        qc.create_payload_index("served", "color", models.PayloadSchemaType.KEYWORD)
        rng = np.random.default_rng(4)
        X = rng.standard_normal((400, 8)).astype(np.float32)
        pays = [{"color": ("red", "blue")[i % 2], "i": i} for i in range(400)]
        qc.upsert("served", points=models.Batch(ids=list(range(400)), vectors=X.tolist(),
                                                payloads=pays), wait=True)
        qc.delete("served", points_selector=models.PointIdsList(points=[0, 1]), wait=True)
        ref_db = ws.connect(tmp_path / "ref")
        ref = ref_db.create_collection("r", dim=8, metric="l2", index=ws.FlatConfig(),
                                       schema={"color": "keyword"})
        ref.upsert(list(range(2, 400)), X[2:], pays[2:])
        red = models.Filter(must=[models.FieldCondition(key="color",
                                                        match=models.MatchValue(value="red"))])
        for q in rng.standard_normal((5, 8)).astype(np.float32):
            got = qc.query_points("served", query=q.tolist(), query_filter=red, limit=10,
                                  search_params=models.SearchParams(hnsw_ef=400)).points
            want = ref.search_exact(q, k=10, filter={"color": "red"})[0]
            assert [p.id for p in got] == [h.id for h in want]
        assert qc.count("served", exact=True).count == 398
        info = qc.get_collection("served")
        assert info.points_count == 398 and info.config.params.shard_number == 2
        assert info.config.params.replication_factor == 2
        page = qc.scroll("served", limit=5, with_payload=True)[0]
        assert [p.id for p in page] == [2, 3, 4, 5, 6]
        with pytest.raises(Exception, match="not supported"):
            qc.create_snapshot("served")
        import httpx

        r = httpx.get(url + "/metrics")
        assert r.status_code == 200 and 'warpsearch_collection_points{collection="served"} 398' \
            in r.text
        r = httpx.post(url + "/warpsearch/collections/served/offload", json={})
        assert r.status_code == 400 and "embedded collections only" in r.text
        qc.close()
        ref_db.close()
    finally:
        server.should_exit = True
        thread.join(30)


def test_serve_command_fronts_a_cluster(local_cluster, tmp_path):
    """``warpsearch serve --cluster ray://HOST:PORT`` (a separate process, on
    127.0.0.1) serves a cluster: the native client creates, fills and searches a
    sharded collection through it; SIGTERM stops it and leaves the cluster up."""
    import signal

    pytest.importorskip("uvicorn", reason="needs the server extra")
    proc, url, _ = serve_process(["--cluster", "ray://" + local_cluster.address,
                                  "--path", str(tmp_path)])
    try:
        X = np.random.default_rng(1).standard_normal((60, 4)).astype(np.float32)
        with ws.connect(url, timeout=60) as rdb:
            rc = rdb.create_collection("via_cli", dim=4, metric="l2")
            rc.upsert(list(range(60)), X)
            assert rc.count() == 60
            assert [h.id for h in rc.search(X[7], k=1)] == [7]
        proc.send_signal(signal.SIGTERM)
        # a Ray driver's own SIGTERM handler exits with the signal's number
        assert proc.wait(60) in (0, signal.SIGTERM, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    import ray

    assert sum(n["Alive"] for n in ray.nodes()) >= 4  # the cluster is still up
