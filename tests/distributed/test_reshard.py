# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Online placement changes: a node added and replicas rebalanced onto it, a shard
split in two, each under a load of writes and reads that sees no failure."""

from __future__ import annotations

import threading

import numpy as np

import warpsearch as ws
from warpsearch.cluster.router import key_hash

DIM = 8


def _vec(i):
    return np.random.default_rng(i).standard_normal(DIM).astype(np.float32)


class _Load:
    """A writer (new ids, batches of 5) and a reader (gets and searches) until stopped."""

    def __init__(self, col, start):
        self.col, self.next = col, start
        self.acked, self.read_errors, self.write_errors = set(), [], []
        self.reads = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._write), threading.Thread(target=self._read)]
        for t in self.threads:
            t.start()

    def _write(self):
        while not self.stop.is_set() and self.next < 100_000:
            ids = list(range(self.next, self.next + 5))
            self.next += 5
            try:
                self.col.upsert(ids, np.stack([_vec(i) for i in ids]))
                self.acked.update(ids)
            except Exception as exc:  # noqa: BLE001 - the test asserts there are none
                self.write_errors.append(repr(exc))

    def _read(self):
        rng = np.random.default_rng(1)
        while not self.stop.is_set():
            try:
                assert len(self.col.search(rng.standard_normal(DIM), k=3)) == 3
                self.col.get([int(rng.integers(0, 500))])
                self.reads += 1
            except Exception as exc:  # noqa: BLE001 - the test asserts there are none
                self.read_errors.append(repr(exc))

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        assert self.read_errors == [] and self.write_errors == [], \
            (self.read_errors[:3], self.write_errors[:3])
        assert self.reads > 5 and len(self.acked) > 10


def _seed(col, n=500):
    col.upsert(list(range(n)), np.stack([_vec(i) for i in range(n)]))
    return set(range(n))


def _check_contents(col, expected, tmp_path):
    ids = [r.id for r in col.scroll(limit=10**6, with_vectors=False, with_payload=False,
                                    read_consistency="all")]
    assert len(ids) == len(set(ids)), "a point is on two shards"
    assert set(ids) == expected
    for rows in col.checksums():
        assert len(rows) == col.replication_factor and len({r["sha256"] for r in rows}) == 1
    ref = ws.connect(str(tmp_path / "ref")).create_collection(
        "ref", dim=DIM, metric="l2", index=ws.FlatConfig())
    e = sorted(expected)
    ref.upsert(e, np.stack([_vec(i) for i in e]))
    Q = np.random.default_rng(5).standard_normal((20, DIM)).astype(np.float32)
    assert col.search_batch(Q, k=5).ids.tolist() == ref.search_batch(Q, k=5).ids.tolist()


def test_add_node_and_rebalance(local_cluster, cluster_db, tmp_path):
    import ray

    col = cluster_db.create_collection("rb", dim=DIM, metric="l2", index=ws.FlatConfig(),
                                       shards=4, replication_factor=2)
    expected = _seed(col)
    node = local_cluster.add_node()
    load = _Load(col, 1000)
    moves = col.rebalance()
    load.finish()
    assert moves and all(m["to"] == node.node_id for m in moves)
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    per_node = {n: 0 for n in alive}
    for sh in col.info()["shards"]:
        assert [r["state"] for r in sh["replicas"]] == ["active", "active"]
        for r in sh["replicas"]:
            per_node[r["node_id"]] += 1
    assert per_node[node.node_id] >= 1
    assert max(per_node.values()) - min(per_node.values()) <= 1
    _check_contents(col, expected | load.acked, tmp_path)


def test_split_shard_under_load(cluster_db, tmp_path):
    col = cluster_db.create_collection("split", dim=DIM, metric="l2", index=ws.FlatConfig(),
                                       shards=2, replication_factor=2)
    expected = _seed(col)
    load = _Load(col, 1000)
    new = col.split_shard(0)
    load.finish()
    assert new["range"][1] == 2**31 and new["range"][0] == 2**30
    info = col.info()
    assert [s["range"] for s in info["shards"]] == \
        [[0, 2**30], [2**30, 2**31], [2**31, 2**32]]
    import ray

    for sh in col.shards:  # every point lives on the shard owning its hash
        for r in sh.replicas:
            recs, _ = ray.get(r.actor.scroll.remote(None, 10**6, 0, False, False))
            assert recs and all(sh.lo <= key_hash(x.id) < sh.hi for x in recs)
    tok = col.upsert([10**6], _vec(10**6)[None])  # routed by the new layout
    assert list(tok) == [col.shards.of(key_hash(10**6)).index]
    _check_contents(col, expected | load.acked | {10**6}, tmp_path)
