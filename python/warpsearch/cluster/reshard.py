# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Changing where data lives while it is used: moving a replica to another node,
rebalancing replicas over the nodes (after adding one), splitting a shard in two.

Moves add the new replica first (caught up from a peer like a returning one) and
remove the old one after, so the shard keeps its replication factor throughout.
A split copies the upper half of the shard's hash range to a new shard while writes
go on, then, with the shard's writes held and reads of the collection paused for a
moment, copies the writes made meanwhile (from a replica's op log), deletes the
moved points from the old shard and switches the routing.
"""

from __future__ import annotations

import time

from .repair import recover
from .router import Shard, key_hash

__all__ = ["move_replica", "rebalance", "split_shard"]


def move_replica(db, col, shard: int, from_node: str, to_node=None, timeout: float = 120.0):
    """Moves the replica of shard ``shard`` on ``from_node`` to ``to_node`` (default:
    the least loaded live node without one): the new replica is caught up and active
    before the old one is removed, so reads and writes continue throughout."""
    sh = _shard(col, shard)
    old = next((r for r in sh.replicas if r.node_id == from_node), None)
    if old is None:
        raise ValueError(f"shard {shard} has no replica on node {from_node}")
    if to_node is None:
        nodes = db._choose(col, sh, 1)
        if not nodes:
            raise ValueError(f"no live node left without a replica of shard {shard}")
        to_node = nodes[0]
    elif to_node not in db.nodes():
        raise ValueError(f"node {to_node} is not alive")
    elif any(r.node_id == to_node and r.state != "dead" for r in sh.replicas):
        raise ValueError(f"node {to_node} already holds a replica of shard {shard}")
    new = db._spawn(col, sh, to_node)
    with sh.lock:
        sh.replicas.append(new)
    end = time.monotonic() + timeout
    try:
        while not recover(db, col, sh, new, timeout):
            if time.monotonic() > end:
                raise TimeoutError(f"the new replica of shard {shard} did not catch up")
            time.sleep(0.1)
    except BaseException:
        with sh.lock:
            sh.replicas.remove(new)
        db._ray.kill(new.actor)
        raise
    finally:
        new.busy = False
    with sh.lock:
        sh.replicas.remove(old)
    db._event("replica_moved", col, sh, new, from_node=from_node)
    _retire(db, old)
    return new.describe()


def _retire(db, r):
    ray = db._ray
    try:
        ray.get(r.actor.destroy.remote(), timeout=60)
    except ray.exceptions.RayError:
        pass
    ray.kill(r.actor)


def _shard(col, index):
    for sh in col.shards:
        if sh.index == index:
            return sh
    raise ValueError(f"collection {col.name!r} has no shard {index}")


def rebalance(db, col) -> list:
    """Moves replicas of ``col`` from the most to the least loaded live nodes until
    the replica counts of any two nodes differ by at most one; returns the moves."""
    moves = []
    while True:
        alive = db.nodes()
        count = {n: 0 for n in alive}
        for sh in col.shards:
            for r in sh.replicas:
                if r.state != "dead" and r.node_id in count:
                    count[r.node_id] += 1
        hi = max(count, key=count.get)
        lo = min(count, key=count.get)
        if count[hi] - count[lo] <= 1:
            return moves
        sh = next((s for s in col.shards
                   if any(r.node_id == hi for r in s.replicas)
                   and not any(r.node_id == lo for r in s.replicas)), None)
        if sh is None:
            return moves
        move_replica(db, col, sh.index, hi, lo)
        moves.append({"shard": sh.index, "from": hi, "to": lo})


def _in_range(col, ids, pays, lo, hi):
    """Rows whose shard key hashes into ``[lo, hi)``."""
    if col.shard_key is None:
        keys = ids
    else:
        keys = [p[col.shard_key] for p in pays]
    return [i for i, k in enumerate(keys) if lo <= key_hash(k) < hi]


def _project(col, op, lo, hi):
    """The part of write ``op`` of the old shard that concerns ``[lo, hi)`` (or None)."""
    kind = op[0]
    if kind == "upsert":
        _, ids, V, pays = op
        rows = _in_range(col, ids, pays, lo, hi)
        if not rows:
            return None
        return ("upsert", [ids[i] for i in rows], V[rows], [pays[i] for i in rows])
    if kind == "delete":
        ids = op[1] if col.shard_key is not None else \
            [u for u in op[1] if lo <= key_hash(u) < hi]
        return ("delete", ids) if ids else None
    return op  # delete_filter, field_index: as they are


def split_shard(db, col, index: int, timeout: float = 300.0) -> dict:
    """Splits shard ``index``: the upper half of its hash range becomes a new shard
    with its own replicas (on the least loaded nodes). Returns the new shard's
    description."""
    ray = db._ray
    old = _shard(col, index)
    if old.hi - old.lo < 2:
        raise ValueError(f"shard {index} covers a single hash value; it cannot be split")
    mid = (old.lo + old.hi) // 2
    new = Shard(max(s.index for s in col.shards) + 1, mid, old.hi)
    spawned = []
    try:
        for node in db._choose(col, new, col.replication_factor):
            r = db._spawn(col, new, node)
            new.replicas.append(r)
            spawned.append(r)
        if len(spawned) < col.replication_factor:
            raise ValueError(f"the cluster has too few live nodes for "
                             f"{col.replication_factor} replicas of a new shard")
        ray.get([r.actor.status.remote() for r in spawned], timeout=timeout)
        for r in spawned:
            r.state = "active"
        # 1. bulk copy, writes going on
        h1 = old.seq
        (recs, _), = col._scatter([old], lambda sh, a, m: a.scroll.remote(
            None, 1 << 62, 0, True, True, m, col.opts["read_wait_s"]), "all").values()
        src = old.pick(h1)
        ids = [r.id for r in recs]
        pays = [r.payload for r in recs]
        rows = _in_range(col, ids, pays, mid, old.hi)
        for s in range(0, len(rows), 4096):
            part = rows[s:s + 4096]
            V = _stack([recs[i].vector for i in part], col.dim)
            col._write([(new, ("upsert", [ids[i] for i in part], V,
                               [pays[i] for i in part]))], "all")
        # 2. the writes made meanwhile, then the switch, with the old shard's writes held
        with col._gate.exclusive(), old.lock:
            h2 = old.seq
            delta = ray.get(src.actor.ops_after.remote(h1, h2, 1 << 30, timeout),
                            timeout=timeout)
            if delta is None:  # the op log no longer reaches back: copy the range again
                raise RuntimeError("the source replica's op log does not reach back to the "
                                   "start of the split; retry with a larger oplog_retention")
            for _, op in delta:
                part = _project(col, op, mid, old.hi)
                if part is not None:
                    try:
                        col._write([(new, part)], "all")
                    except (ValueError, TypeError):
                        pass  # rejected on the old shard too
            col._write([(old, ("delete_range", mid, old.hi, col.shard_key))], "all")
            old.hi = mid
            col.shards.insert(new)
            col._layout += 1
    except BaseException:
        if new not in col.shards:
            for r in spawned:
                ray.kill(r.actor)
        raise
    finally:
        for r in spawned:
            r.busy = False
    db._event("shard_split", col, old, None, new_shard=new.index, at=mid)
    return new.describe()


def _stack(vectors, dim):
    import numpy as np

    return np.stack(vectors).astype(np.float32) if vectors else np.empty((0, dim), np.float32)
