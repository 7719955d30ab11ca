# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Routing of one cluster collection: which shard holds a key, which replicas a write
goes to and how many must acknowledge it, which replica serves a read (and the next
one when it fails).

Shards own ranges of a 32-bit hash ring (shard ``i`` of ``n``: ``[i, i + 1) * 2^32 / n``),
so a shard can later be split in two. The key is the point id, or the value of the
``shard_key`` payload field (a tenant keeps its points on one shard).
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import json
import threading
import time

__all__ = ["WriteConsistencyError", "NoReplicaError", "key_hash", "Replica", "Shard",
           "ShardMap", "CONSISTENCY", "needed", "Gate", "Rerouted"]

RING = 1 << 32
CONSISTENCY = ("one", "quorum", "all")


class WriteConsistencyError(RuntimeError):
    """Too few replicas of a shard are active (or acknowledged in time) for the write
    consistency asked. Raised before the write is sent when too few are active; after
    it was sent, the write may be present on the replicas that did acknowledge."""


class NoReplicaError(RuntimeError):
    """No replica of a shard could serve a read (all dead, recovering or failing)."""


def needed(consistency: str, rf: int) -> int:
    """Replicas that must make a write durable: one, a majority, or all ``rf``."""
    if consistency not in CONSISTENCY:
        raise ValueError(f"write_consistency must be one of {', '.join(CONSISTENCY)}, "
                         f"got {consistency!r}")
    return {"one": 1, "quorum": rf // 2 + 1, "all": rf}[consistency]


def key_hash(value) -> int:
    """A 32-bit hash of a shard key, the same in every process (unlike ``hash``)."""
    if isinstance(value, bool):
        raw = b"b1" if value else b"b0"
    elif isinstance(value, int):
        raw = b"i" + str(value).encode()
    elif isinstance(value, str):
        raw = b"s" + value.encode("utf-8")
    else:
        raw = b"j" + json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=4).digest(), "little")


class Replica:
    """The router's view of one replica: its actor, node, state and last known sequence
    number. ``state``: ``"active"`` (gets writes and reads), ``"recovering"`` (being
    caught up; neither) or ``"dead"`` (its actor or node failed)."""

    _ids = itertools.count()

    def __init__(self, rid: str, node_id: str, actor):
        self.rid, self.node_id, self.actor = rid, node_id, actor
        self.state = "recovering"
        self.seq = 0
        self.dead_since = None
        self.busy = False  # a catch-up or move is running on it
        self.restarts = 0  # restarts on its node since it was last active

    def describe(self) -> dict:
        return {"replica": self.rid, "node_id": self.node_id, "state": self.state,
                "seq": self.seq}

    def __repr__(self) -> str:
        return f"Replica({self.rid}, node={self.node_id[:8]}, {self.state}, seq={self.seq})"


class Shard:
    """A hash range, its replicas and its sequence numbers: ``seq`` (the last one
    assigned to a write) and ``acked`` (the last one acknowledged to a caller)."""

    def __init__(self, index: int, lo: int, hi: int):
        self.index, self.lo, self.hi = index, lo, hi
        self.replicas: list = []
        self.seq = 0
        self.acked = 0
        self.lock = threading.RLock()  # held while a write is sequenced and sent
        self._rr = itertools.count()

    def active(self) -> list:
        return [r for r in self.replicas if r.state == "active"]

    def pick(self, min_seq: int = 0, exclude=()) -> "Replica":
        """An active replica (round robin), preferring those known to be at ``min_seq``."""
        cands = [r for r in self.replicas if r.state == "active" and r.rid not in exclude]
        if not cands:
            raise NoReplicaError(f"shard {self.index}: no active replica left to read from "
                                 f"({', '.join(r.state for r in self.replicas) or 'none'})")
        fresh = [r for r in cands if r.seq >= min_seq] or cands
        return fresh[next(self._rr) % len(fresh)]

    def describe(self) -> dict:
        return {"shard": self.index, "range": [self.lo, self.hi], "seq": self.seq,
                "replicas": [r.describe() for r in self.replicas]}


class ShardMap:
    """Shards by hash range."""

    def __init__(self, n: int):
        self.shards = [Shard(i, i * RING // n, (i + 1) * RING // n) for i in range(n)]
        self._los = [s.lo for s in self.shards]

    def of(self, h: int) -> Shard:
        return self.shards[bisect.bisect_right(self._los, h) - 1]

    def insert(self, shard: Shard) -> None:
        """Adds a shard made by splitting another (``lo`` inside an existing range); a
        new list, so loops over the old one are not disturbed."""
        shards = sorted(self.shards + [shard], key=lambda s: s.lo)
        self._los = [s.lo for s in shards]
        self.shards = shards

    def __iter__(self):
        return iter(self.shards)

    def __len__(self):
        return len(self.shards)


def wait_refs(ray, refs, need, timeout):
    """Waits until ``need`` of ``refs`` are done or ``timeout`` passes; returns
    ``(done, pending)``."""
    end = time.monotonic() + timeout
    done, pending = [], list(refs)
    while pending and len(done) < need:
        left = end - time.monotonic()
        if left <= 0:
            break
        d, pending = ray.wait(pending, num_returns=1, timeout=left)
        done += d
    return done, pending


class Rerouted(Exception):
    """The shard layout changed between routing a write and sequencing it."""


class Gate:
    """Many readers, or one exclusive holder (the switch of a shard split)."""

    def __init__(self):
        self._cv = threading.Condition()
        self._readers = 0
        self._closed = False

    @contextlib.contextmanager
    def reading(self):
        with self._cv:
            while self._closed:
                self._cv.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cv:
                self._readers -= 1
                self._cv.notify_all()

    @contextlib.contextmanager
    def exclusive(self):
        with self._cv:
            while self._closed:
                self._cv.wait()
            self._closed = True
            while self._readers:
                self._cv.wait()
        try:
            yield
        finally:
            with self._cv:
                self._closed = False
                self._cv.notify_all()
