# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Keeping replicas healthy: failure detection, catch-up, re-creation, moves.

``tick`` runs every ``monitor_interval`` seconds in the database's background thread:

1. outcomes of writes their callers no longer wait for: a failed replica is marked
   dead, one that missed writes is marked recovering;
2. a replica on a node that is gone, or whose actor does not answer, is marked dead;
3. a dead replica whose node is alive is started again on its files (recovering);
   one whose node has been gone ``node_loss_timeout`` seconds is re-created on a
   live node that holds no replica of its shard;
4. a recovering replica is caught up (``recover``) and becomes active.

Catching up happens in two steps: first without any lock (the bulk, from a peer's
op log or a snapshot), then, holding the shard's write lock so no new write is
sequenced, up to the shard's last sequence number; only then does the replica take
writes and reads again. Writes to the shard pause for the second step only.
"""

from __future__ import annotations

import time

__all__ = ["tick", "recover", "MAX_RESTARTS"]

#: A replica that died this many times in a row on its node, without becoming active
#: in between, is re-created from a peer instead of restarted on its files again.
MAX_RESTARTS = 3


def _reap(db):
    ray = db._ray
    with db._mu:
        watched, db._watched = db._watched, []
    keep = []
    for col, refs in watched:
        done, pending = ray.wait(list(refs), num_returns=len(refs), timeout=0)
        for ref in done:
            r = refs[ref]
            try:
                res = ray.get(ref)
            except ray.exceptions.RayError:
                db._mark_dead(col, r)
                continue
            if res[0] == "gap":
                db._mark_behind(col, r)
            else:
                r.seq = max(r.seq, res[1])
        if pending:
            keep.append((col, {ref: refs[ref] for ref in pending}))
    with db._mu:
        db._watched += keep


def _probe(db, col, alive):
    """Marks dead the replicas whose node is gone or whose actor fails to answer."""
    ray = db._ray
    probes = {}
    for sh in col.shards:
        for r in sh.replicas:
            if r.state == "dead" or r.busy:
                continue
            if r.node_id not in alive:
                db._mark_dead(col, r)
            else:
                probes[r.actor.status.remote()] = r
    if not probes:
        return
    done, _ = ray.wait(list(probes), num_returns=len(probes), timeout=2.0)
    for ref in done:
        r = probes[ref]
        try:
            r.seq = max(r.seq, ray.get(ref)["seq"])
        except ray.exceptions.RayError:
            db._mark_dead(col, r)


def _replace(db, col, sh, r, alive):
    """Restarts a dead replica on its node, or re-creates it elsewhere after the node
    has been gone ``node_loss_timeout`` seconds."""
    if r.node_id in alive and r.restarts < MAX_RESTARTS:
        new = db._spawn(col, sh, r.node_id, r.rid)
        new.restarts = r.restarts + 1
        db._event("replica_restarted", col, sh, new)
    elif r.node_id in alive:  # it keeps failing on its files: a fresh copy instead
        nodes = db._choose(col, sh, 1)
        if not nodes:
            return
        new = db._spawn(col, sh, nodes[0])
        db._event("replica_recreated", col, sh, new, replaces=r.rid,
                  reason=f"{r.restarts} failed restarts")
    elif time.monotonic() - r.dead_since >= db.node_loss_timeout:
        nodes = db._choose(col, sh, 1, exclude=[r.node_id])
        if not nodes:
            return
        new = db._spawn(col, sh, nodes[0])
        db._event("replica_recreated", col, sh, new, replaces=r.rid, lost_node=r.node_id)
    else:
        return
    with sh.lock:
        sh.replicas[sh.replicas.index(r)] = new
    new.busy = False  # recovering: the next step catches it up


def recover(db, col, sh, r, timeout: float = 120.0) -> bool:
    """Catches ``r`` up from the freshest active peer and makes it active; True when
    it is. Without any active peer, ``r`` becomes active on what it has if no other
    live replica of the shard is fresher (the writes it lacks are lost)."""
    ray = db._ray
    t0 = time.monotonic()
    st = ray.get(r.actor.status.remote(), timeout=timeout)
    r.seq = st["seq"]
    peers = [p for p in sh.active() if p is not r]
    if not peers:
        others = [p for p in sh.replicas if p is not r and p.state == "recovering"]
        if any(p.seq > r.seq for p in others):
            return False
        with sh.lock:
            if sh.seq != r.seq:
                db._event("shard_rewound", col, sh, r, lost=sh.seq - r.seq)
            sh.seq = r.seq
            sh.acked = min(sh.acked, r.seq)
            r.state, r.restarts = "active", 0
        db._event("replica_promoted", col, sh, r, seq=r.seq)
        return True
    peer = max(peers, key=lambda p: p.seq)
    first = ray.get(r.actor.catch_up.remote(peer.actor, None), timeout=timeout)
    with sh.lock:
        last = sh.seq
        second = ray.get(r.actor.catch_up.remote(peer.actor, last), timeout=timeout)
        r.seq = second["seq"]
        if r.seq < last:
            return False
        r.state, r.restarts = "active", 0
    db._event("replica_caught_up", col, sh, r, seconds=time.monotonic() - t0,
              snapshot=first["snapshot"] or second["snapshot"],
              ops=first["ops"] + second["ops"], start_seq=st["seq"], seq=r.seq,
              peer=peer.rid)
    return True


def _try_recover(db, col, sh, r):
    ray = db._ray
    r.busy = True
    try:
        recover(db, col, sh, r)
    except ray.exceptions.RayActorError:
        db._mark_dead(col, r)
    except Exception as exc:  # noqa: BLE001 - retried at the next tick
        db._event("recover_failed", col, sh, r, error=repr(exc))
    finally:
        r.busy = False


def tick(db):
    _reap(db)
    alive = set(db.nodes())
    for col in list(db._cols.values()):
        if col._closed:
            continue
        _probe(db, col, alive)
        for sh in list(col.shards):
            for r in list(sh.replicas):
                if r.busy:
                    continue
                if r.state == "dead":
                    _replace(db, col, sh, r, alive)
            for r in list(sh.replicas):
                if r.state == "recovering" and not r.busy:
                    _try_recover(db, col, sh, r)
