# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The cluster database's API against the embedded database holding the same points."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

import warpsearch as ws


def _points(n, dim, seed=0, tenants=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim)).astype(np.float32)
    pays = [{"tenant": f"t{i % tenants}", "n": i} for i in range(n)]
    return X, pays


def _wait(pred, timeout=30.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_connect_errors(monkeypatch):
    with pytest.raises(ValueError, match="names no cluster"):
        ws.connect("ray://")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ImportError, match=r"warpsearch\[distributed\]"):
        ws.connect("ray://auto")


def test_crud_and_search_match_embedded(cluster_db, tmp_path):
    import ray

    X, pays = _points(600, 16)
    ids = [f"p{i}" if i % 2 else i for i in range(600)]
    schema = {"tenant": "keyword", "n": "int"}
    col = cluster_db.create_collection("docs", dim=16, metric="l2", index=ws.FlatConfig(),
                                       schema=schema, shards=3, replication_factor=2,
                                       write_consistency="all")
    ref = ws.connect(str(tmp_path / "ref")).create_collection(
        "docs", dim=16, metric="l2", index=ws.FlatConfig(), schema=schema)
    token = col.upsert(ids, X, pays)
    ref.upsert(ids, X, pays)
    assert sorted(token) == [0, 1, 2] and all(s >= 1 for s in token.values())
    assert col.count() == 600 and len(col) == 600
    flt = {"must": [{"key": "tenant", "match": {"value": "t1"}}]}
    assert col.count(flt) == ref.count(flt) == 150

    Q = np.random.default_rng(1).standard_normal((20, 16)).astype(np.float32)
    for f in (None, flt):
        got = col.search_batch(Q, k=7, filter=f)
        want = ref.search_batch(Q, k=7, filter=f)
        assert got.ids.tolist() == want.ids.tolist()
        np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5, atol=1e-5)
        assert [[h.payload for h in row] for row in got] == \
               [[h.payload for h in row] for row in want]
    one = col.search(Q[0], k=3, with_payload=False)
    assert [h.id for h in one] == [h.id for h in ref.search(Q[0], k=3)]
    assert all(h.payload is None for h in one)

    recs = col.get([ids[5], "missing", ids[8]])
    assert recs[1] is None
    assert recs[0].id == ids[5] and recs[0].payload == pays[5]
    np.testing.assert_array_equal(recs[0].vector, X[5])
    assert ids[8] in col and "missing" not in col

    assert col.delete([ids[0], ids[1], "missing"]) == 2
    assert col.delete(filter={"must": [{"key": "n", "range": {"gte": 590}}]}) == 10
    ref.delete([ids[0], ids[1]])
    ref.delete(filter={"must": [{"key": "n", "range": {"gte": 590}}]})
    assert col.count() == ref.count() == 588
    got = col.search_batch(Q, k=5)
    assert got.ids.tolist() == ref.search_batch(Q, k=5).ids.tolist()

    everything = col.scroll(limit=10_000)
    assert sorted(map(str, (r.id for r in everything))) == \
        sorted(map(str, (r.id for r in ref.scroll(limit=10_000))))
    page = col.scroll(limit=50, offset=290, with_vectors=False)
    assert [r.id for r in page] == [r.id for r in everything[290:340]]

    info = col.info()
    assert info["points"] == 588 and info["replication_factor"] == 2
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(info["shards"]) == 3
    for sh in info["shards"]:
        nodes = [r["node_id"] for r in sh["replicas"]]
        assert len(nodes) == 2 and len(set(nodes)) == 2 and set(nodes) <= alive
        assert all(r["state"] == "active" and r["seq"] == sh["seq"] for r in sh["replicas"])
    for sh in col.shards:  # each actor runs on the node it was placed on
        for r in sh.replicas:
            assert ray.get(r.actor.status.remote())["node_id"] == r.node_id
    for rows in col.checksums():
        assert len({r["sha256"] for r in rows}) == 1 and rows[0]["points"] > 0


def test_rejected_write_keeps_replicas_identical(cluster_db):
    col = cluster_db.create_collection("typed", dim=4, schema={"n": "int"}, shards=1,
                                       replication_factor=3, write_consistency="all")
    col.upsert([1], np.ones((1, 4)), [{"n": 1}])
    with pytest.raises(ValueError, match="n"):
        col.upsert([2], np.ones((1, 4)), [{"n": "not an int"}])
    tok = col.upsert([3], np.ones((1, 4)), [{"n": 3}])
    assert tok == {0: 3}  # the rejected write kept its sequence number everywhere
    rows = col.checksums()[0]
    assert len(rows) == 3 and {r["seq"] for r in rows} == {3}
    assert len({r["sha256"] for r in rows}) == 1 and rows[0]["points"] == 2


def test_argument_errors(cluster_db):
    with pytest.raises(ValueError, match="write_consistency"):
        cluster_db.create_collection("x", dim=4, write_consistency="most")
    with pytest.raises(ValueError, match="replication_factor 9 needs 9 nodes"):
        cluster_db.create_collection("x", dim=4, replication_factor=9)
    with pytest.raises(TypeError, match="shard_key"):
        cluster_db.create_collection("x", dim=4, shard_key=3)
    col = cluster_db.create_collection("x", dim=4, shard_key="tenant")
    with pytest.raises(ValueError, match="already exists"):
        cluster_db.create_collection("x", dim=4)
    with pytest.raises(ValueError, match="no shard key field 'tenant'"):
        col.upsert([1], np.ones((1, 4)), [{"other": 1}])
    with pytest.raises(ValueError, match="read_consistency"):
        col.count(read_consistency="some")
    with pytest.raises(ValueError, match="3 vectors for 2 ids"):
        col.upsert([1, 2], np.ones((3, 4)), [{"tenant": "a"}] * 2)
    with pytest.raises(KeyError):
        cluster_db.get_collection("nope")
    cluster_db.drop_collection("x")
    assert not cluster_db.has_collection("x") and cluster_db.list_collections() == []


def test_shard_key_keeps_a_tenant_on_one_shard(cluster_db):
    import ray

    X, pays = _points(400, 8, tenants=10)
    col = cluster_db.create_collection("tenants", dim=8, schema={"tenant": "keyword"},
                                       shards=4, replication_factor=1, shard_key="tenant")
    col.upsert(list(range(400)), X, pays)
    where: dict = {}
    for sh in col.shards:
        recs, _ = ray.get(sh.replicas[0].actor.scroll.remote(None, 10_000, 0, False, True))
        for r in recs:
            where.setdefault(r.payload["tenant"], set()).add(sh.index)
    assert len(where) == 10 and all(len(s) == 1 for s in where.values())
    assert len({next(iter(s)) for s in where.values()}) > 1  # tenants spread over shards
    # ids are looked up on every shard, since the shard key is not the id
    assert [r.id for r in col.get([5, 399])] == [5, 399]
    assert col.delete([5]) == 1 and col.count() == 399


def test_read_your_writes_token(cluster_db):
    col = cluster_db.create_collection("ryw", dim=4, shards=2, replication_factor=3,
                                       write_consistency="one")
    for i in range(20):
        tok = col.upsert([i], np.full((1, 4), i + 1.0))
        assert col.get([i], after=tok)[0] is not None
        assert col.count(read_consistency="quorum") == i + 1


def test_dead_replica_fails_over_and_catches_up(local_cluster, tmp_path):
    """A replica actor killed on a live node: reads go on, writes at "all" fail clearly,
    writes at "one" go on; a repair pass restarts it on its files and it catches up
    from its peer's op log (no snapshot) before serving again. (The background monitor
    is off here, so the replica stays down exactly as long as the test says.)"""
    import ray

    db = ws.connect("ray://" + local_cluster.address, data_dir=str(tmp_path / "d"),
                    monitor_interval=None)
    try:
        col = db.create_collection("fo", dim=8, metric="l2", shards=1,
                                   replication_factor=2, write_consistency="one")
        X, pays = _points(200, 8)
        tok = col.upsert(list(range(100)), X[:100], pays[:100])
        sh = col.shards.shards[0]
        victim = sh.replicas[0]
        ray.kill(victim.actor)
        for i in range(30):  # reads served by the survivor; the dead one is skipped
            assert col.get([i], after=tok)[0] is not None  # "one" acked: the token waits
            assert len(col.search(X[i], k=3, after=tok)) == 3
        # refused before it is sent (the victim is known dead) or after (it fails then)
        with pytest.raises(ws.cluster.WriteConsistencyError,
                           match="1 of 2 replicas are active|by 1 replica.*2 needed"):
            col.upsert([500], X[:1], write_consistency="all")
        assert victim.state == "dead"
        col.upsert(list(range(100, 200)), X[100:], pays[100:], batch_size=10)  # 10 writes
        db.repair()  # restarts it on its node (recovering) and catches it up
        _wait(lambda: db.repair() or all(r.state == "active" for r in sh.replicas),
              what="replica back")
        back = next(r for r in sh.replicas if r.rid == victim.rid)
        assert back.node_id == victim.node_id and back.actor is not victim.actor
        ev = [e for e in db.events if e["event"] == "replica_caught_up"
              and e.get("replica") == victim.rid]
        assert ev and ev[-1]["snapshot"] is False and ev[-1]["ops"] >= 10
        print(f"\nreplica restarted on its node caught up {ev[-1]['ops']} writes from its "
              f"peer's op log in {ev[-1]['seconds']:.2f} s")
        rows = col.checksums()[0]
        assert len(rows) == 2 and len({r["sha256"] for r in rows}) == 1
        assert rows[0]["points"] == 200 + (col.get([500])[0] is not None)
    finally:
        db.close()


def test_exact_explain_memory_compact_batches(cluster_db, tmp_path):
    X, pays = _points(300, 8)
    col = cluster_db.create_collection("more", dim=8, metric="ip", shards=2,
                                       replication_factor=2, write_consistency="all",
                                       schema={"tenant": "keyword"})
    tok = col.upsert(list(range(300)), X, pays, batch_size=40, progress=False)
    assert sum(tok.values()) >= 300 // 40  # one sequence number per write of 40 at most
    assert sorted(tok) == [0, 1] and max(tok.values()) >= 3
    ref = ws.connect(str(tmp_path / "ref")).create_collection("r", dim=8, metric="ip",
                                                             schema={"tenant": "keyword"})
    ref.upsert(list(range(300)), X, pays)
    Q = X[:5] + 0.1
    got = col.search_exact(Q, k=6, filter={"tenant": "t2"}, with_payload=True)
    want = ref.search_exact(Q, k=6, filter={"tenant": "t2"}, with_payload=True)
    assert [[h.id for h in row] for row in got] == [[h.id for h in row] for row in want]
    assert [[h.payload for h in row] for row in got] == [[h.payload for h in row] for row in want]
    ex = col.explain(Q[0], k=4)
    assert len(ex["shards"]) == 2 and ex["live_points"] == 300
    assert [h[0] for h in ex["hits"]] == [h.id for h in ref.search_exact(Q[:1], k=4)[0]]
    mem = col.memory_usage()
    assert mem["disk"] > 0 and mem["ram"] + mem["mapped"] >= 2 * 300 * 8 * 4  # two copies
    reports = col.compact()
    assert sorted(reports) == [0, 1] and all(len(v) == 2 for v in reports.values())
    assert col.count() == 300


def test_lone_replica_restarts_on_its_files(local_cluster, tmp_path):
    """Replication factor 1: while the only replica is down, reads fail with
    NoReplicaError and writes with WriteConsistencyError; the health checks restart it
    on its node from its own files, with every point. (The checks run by hand here, so
    that none restarts the replica before the failed calls are made.)"""
    import ray

    db = ws.connect("ray://" + local_cluster.address, data_dir=str(tmp_path / "data"),
                    node_loss_timeout=2.0, monitor_interval=None)
    try:
        _lone_replica(db, ray)
    finally:
        db.close()


def _lone_replica(db, ray):
    col = db.create_collection("lone", dim=4, shards=1, replication_factor=1)
    X, _ = _points(50, 4)
    col.upsert(list(range(50)), X)
    r = col.shards.shards[0].replicas[0]
    ray.kill(r.actor)

    def dead():  # ray.kill returns before the actor has gone
        try:
            ray.get(r.actor.status.remote(), timeout=5)
        except ray.exceptions.RayActorError:
            return True
        except ray.exceptions.GetTimeoutError:
            pass
        return False

    _wait(dead, what="the replica's death")
    with pytest.raises(ws.cluster.NoReplicaError, match="no active replica"):
        col.count()
    with pytest.raises(ws.cluster.WriteConsistencyError, match="0 of 1 replicas are active"):
        col.upsert([99], X[:1])

    def restarted():
        db.repair()
        return col.shards.shards[0].replicas[0].state == "active"

    _wait(restarted, what="restart")
    again = col.shards.shards[0].replicas[0]
    assert again.rid == r.rid and again.node_id == r.node_id and again.actor is not r.actor
    assert col.count() == 50
    np.testing.assert_array_equal(col.get([7])[0].vector, X[7])


def test_connect_by_address_from_another_process(local_cluster, tmp_path):
    """A separate driver reaches the running cluster by ``ray://HOST:PORT`` (the
    database calls ``ray.init`` itself) with the same API, and leaves it running."""
    import subprocess

    script = f"""
import numpy as np, warpsearch as ws
db = ws.connect("ray://{local_cluster.address}", data_dir={str(tmp_path)!r})
col = db.create_collection("remote", dim=4, metric="l2", shards=2, replication_factor=2)
col.upsert([1, 2, 3], np.eye(4)[:3])
print([h.id for h in col.search([0, 1, 0.1, 0], k=2, read_consistency="all")], col.count())
db.close()
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[2, 3] 3"
    import ray

    assert sum(n["Alive"] for n in ray.nodes()) >= 4  # the cluster is still up
    # that driver is gone, and its replicas with it; a database on the same data_dir
    # finds the collection in its catalog and starts the replicas again on their files
    db = ws.connect("ray://" + local_cluster.address, data_dir=str(tmp_path),
                    monitor_interval=None)
    try:
        assert db.list_collections() == ["remote"]
        col = db.get_collection("remote")
        assert len(col.shards) == 2 and col.replication_factor == 2
        assert col.count(read_consistency="all") == 3
        assert [h.id for h in col.search([0, 1, 0.1, 0], k=2, read_consistency="all")] == [2, 3]
        states = [r["state"] for sh in col.info()["shards"] for r in sh["replicas"]]
        assert states == ["active"] * 4
        token = col.upsert([4], [[0, 0, 0, 1]])  # sequence numbers continue
        assert col.count(after=token) == 4
        assert all(seq > 0 for seq in token.values())
        db.drop_collection("remote")
    finally:
        db.close()
    again = ws.connect("ray://" + local_cluster.address, data_dir=str(tmp_path),
                       monitor_interval=None)
    try:
        assert again.list_collections() == []  # a drop leaves the catalog
    finally:
        again.close()


def test_replica_failing_on_its_files_is_recreated(cluster_db):
    """A replica that cannot start on its files any more (here: its folder replaced by
    a file) is restarted a few times, then re-created from its peer."""
    import os
    import shutil

    import ray

    from warpsearch.cluster.repair import MAX_RESTARTS
    from warpsearch.cluster.replica import replica_dir

    col = cluster_db.create_collection("broken", dim=4, shards=1, replication_factor=2,
                                       write_consistency="all")
    X, _ = _points(40, 4)
    col.upsert(list(range(40)), X)
    sh = col.shards.shards[0]
    victim = sh.replicas[0]
    path = replica_dir(cluster_db.data_dir, victim.node_id, "broken", 0, victim.rid)
    ray.kill(victim.actor)
    shutil.rmtree(path)
    with open(path, "w") as f:
        f.write("not a folder")
    _wait(lambda: all(r.state == "active" for r in sh.replicas) and
          victim.rid not in {r.rid for r in sh.replicas}, timeout=60, what="re-creation")
    restarts = [e for e in cluster_db.events
                if e["event"] == "replica_restarted" and e.get("replica") == victim.rid]
    assert len(restarts) == MAX_RESTARTS
    rows = col.checksums()[0]
    assert len(rows) == 2 and len({r["sha256"] for r in rows}) == 1
    assert rows[0]["points"] == 40
    os.remove(path)
