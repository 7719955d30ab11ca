# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""One shard replica: a Ray actor hosting an embedded collection on its node's disk.

The router sends every write of the shard with its sequence number; the replica
applies them strictly in order (a write arriving early waits for the ones before it;
one that never comes means the replica missed writes: it answers ``"gap"`` and is
caught up). Each write is appended to the replica's op log (durable), then applied
to the collection, so after a crash the log's last record is applied again (every
operation is idempotent when repeated at once). A write the collection rejects
(a payload of the wrong type, ...) is rejected on every replica alike and still
takes its sequence number, so replicas stay identical.

Catching up: ``catch_up(peer)`` pulls the records after the replica's last sequence
number from a peer's op log, or, when the peer no longer has them, a snapshot of
the peer's collection (taken under the peer's apply lock, so it is exactly the
state at one sequence number).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import threading
import time

import numpy as np

from ..db.database import Database
from .oplog import OpLog
from .router import key_hash

__all__ = ["ShardReplica", "replica_dir"]

_NAME = "data"


def replica_dir(root: str, node_id: str, collection: str, shard: int, rid: str) -> str:
    """Where a replica keeps its files: one folder per node under ``root`` (each node's
    local disk; on one machine, a folder per node)."""
    return os.path.join(root, f"node-{node_id[:16]}", collection, f"shard-{shard}", rid)


class ShardReplica:
    """The actor class (wrapped by ``ray.remote`` at placement)."""

    def __init__(self, root: str, collection: str, shard: int, rid: str, config: dict,
                 fsync: str = "always", retention: int = 10_000):
        import ray

        from ..db.config import index_config_from_dict

        self.node_id = ray.get_runtime_context().get_node_id()
        self.dir = replica_dir(root, self.node_id, collection, shard, rid)
        os.makedirs(self.dir, exist_ok=True)
        self._mu = threading.Lock()  # one apply / install at a time
        self._cv = threading.Condition(self._mu)
        self.db = Database(os.path.join(self.dir, "db"), fsync=fsync)
        if self.db.has_collection(_NAME):
            self.col = self.db.get_collection(_NAME)
        else:
            self.col = self.db.create_collection(
                _NAME, dim=config["dim"], metric=config["metric"],
                index=index_config_from_dict(config["index"]), schema=config["schema"],
                segment_size=config["segment_size"], device=config["device"])
        self.log = OpLog(os.path.join(self.dir, "oplog"), retention,
                         chunk_ops=max(1, min(256, retention // 4)), fsync=fsync != "never")
        last = self.log.last_record()
        if last is not None:  # the collection may have missed it in a crash: idempotent
            try:
                self._apply_op(last[1])
            except (ValueError, TypeError):
                pass
        self.seq = self.log.last

    # -- writes ------------------------------------------------------------------------
    def _apply_op(self, op):
        kind = op[0]
        if kind == "upsert":
            _, ids, vecs, pays = op
            self.col.upsert(ids, vecs, pays, progress=False)
            return len(ids)
        if kind == "delete":
            return self.col.delete(op[1])
        if kind == "delete_filter":
            return self.col.delete(filter=op[1])
        if kind == "delete_range":  # after a split: the points that moved away
            _, lo, hi, field = op
            recs = self.col.scroll(limit=1 << 62, with_vectors=False,
                                   with_payload=field is not None)
            gone = [r.id for r in recs
                    if lo <= key_hash(r.id if field is None else r.payload[field]) < hi]
            return self.col.delete(gone) if gone else 0
        if kind == "field_index":
            self.col.create_field_index(op[1], op[2])
            return None
        raise ValueError(f"unknown operation {kind!r}")

    def _apply(self, seq, op):
        """Under ``_mu``: logs and applies record ``seq`` (the next one)."""
        self.log.append(seq, op)
        try:
            out = ("ok", seq, self._apply_op(op))
        except (ValueError, TypeError) as exc:
            out = ("rejected", seq, exc)
        self.seq = seq
        self._cv.notify_all()
        return out

    def apply(self, seq: int, op, wait_s: float = 10.0):
        """Applies write ``seq``: ``("ok", seq, result)``, ``("rejected", seq, error)``
        (the collection refused it), ``("dup", last)`` (already applied) or
        ``("gap", last)`` (earlier writes never came: this replica needs catching up)."""
        end = time.monotonic() + wait_s
        with self._cv:
            while self.seq < seq - 1:
                left = end - time.monotonic()
                if left <= 0:
                    return ("gap", self.seq)
                self._cv.wait(left)
            if seq <= self.seq:
                return ("dup", self.seq)
            return self._apply(seq, op)

    # -- reads -------------------------------------------------------------------------
    def _wait_seq(self, min_seq, wait_s):
        if not min_seq or self.seq >= min_seq:
            return
        end = time.monotonic() + wait_s
        with self._cv:
            while self.seq < min_seq:
                left = end - time.monotonic()
                if left <= 0:
                    raise LookupError(f"replica at sequence {self.seq}, {min_seq} asked")
                self._cv.wait(left)

    def search(self, Q, k, filter, ef, with_payload, nprobe, refine_factor, timeout,
               min_seq=0, wait_s=5.0):
        """Ids (object array), scores and payloads (or None) of ``search_batch``, and the
        sequence number read at."""
        self._wait_seq(min_seq, wait_s)
        seq = self.seq
        res = self.col.search_batch(Q, k, filter, ef, with_payload, nprobe=nprobe,
                                    refine_factor=refine_factor, timeout=timeout)
        pays = [[h.payload for h in row] for row in res] if with_payload else None
        return res.ids, res.scores, pays, seq

    def search_exact(self, Q, k, filter, with_payload, min_seq=0, wait_s=5.0):
        """``search_exact`` as padded arrays (as ``search`` returns them)."""
        self._wait_seq(min_seq, wait_s)
        seq = self.seq
        rows = self.col.search_exact(Q, k, filter, with_payload)
        ids = np.full((len(rows), k), None, dtype=object)
        D = np.full((len(rows), k), np.nan, dtype=np.float32)
        for i, row in enumerate(rows):
            for j, h in enumerate(row):
                ids[i, j], D[i, j] = h.id, h.score
        pays = [[h.payload for h in row] for row in rows] if with_payload else None
        return ids, D, pays, seq

    def explain(self, Q, k, filter, ef, nprobe, refine_factor):
        return self.col.explain(Q[0], k, filter, ef, nprobe=nprobe,
                                refine_factor=refine_factor), self.seq

    def memory_usage(self):
        return self.col.memory_usage()

    def compact(self):
        return self.col.compact(progress=False)

    def get(self, ids, min_seq=0, wait_s=5.0):
        self._wait_seq(min_seq, wait_s)
        return self.col.get(ids), self.seq

    def count(self, filter=None, min_seq=0, wait_s=5.0):
        self._wait_seq(min_seq, wait_s)
        return self.col.count(filter), self.seq

    def scroll(self, filter, limit, offset, with_vectors, with_payload, min_seq=0, wait_s=5.0):
        self._wait_seq(min_seq, wait_s)
        return self.col.scroll(filter, limit, offset, with_vectors, with_payload), self.seq

    def status(self) -> dict:
        return {"seq": self.seq, "node_id": self.node_id, "points": self.col.count(),
                "oplog_first": self.log.first}

    def local_info(self) -> dict:
        """The embedded collection's ``info()`` (segments, indexing, background work)."""
        return self.col.info()

    def checksum(self) -> dict:
        """A SHA-256 over every point (id, vector bytes, canonical payload JSON) in id
        order, with the count and sequence number it was taken at."""
        with self._mu:
            recs = self.col.scroll(limit=1 << 62)
            seq = self.seq
        recs.sort(key=lambda r: (isinstance(r.id, str), r.id))
        h = hashlib.sha256()
        for r in recs:
            h.update(repr(r.id).encode())
            h.update(np.ascontiguousarray(r.vector, dtype=np.float32).tobytes())
            h.update(json.dumps(r.payload, sort_keys=True).encode())
        return {"sha256": h.hexdigest(), "points": len(recs), "seq": seq}

    def flush(self, timeout=None):
        self.col.flush(timeout)
        return self.seq

    # -- catch-up ------------------------------------------------------------------------
    def ops_after(self, seq: int, until=None, limit: int = 1000, wait_s: float = 10.0):
        """Records after ``seq`` (``None``: deleted, take a snapshot); with ``until``,
        first waits until this replica has applied it."""
        if until is not None:
            self._wait_seq(until, wait_s)
        return self.log.after(seq, limit)

    def snapshot_bytes(self):
        """``(seq, tar bytes)``: a snapshot of the collection exactly at ``seq``."""
        tmp = tempfile.mkdtemp(prefix="snap-", dir=self.dir)
        try:
            with self._mu:  # no write applies meanwhile
                seq = self.seq
                self.col.snapshot(os.path.join(tmp, "s"))
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                tar.add(os.path.join(tmp, "s"), arcname="s")
            return seq, buf.getvalue()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _install(self, seq, data):
        """Replaces the collection by a peer's snapshot at ``seq`` (under ``_mu``)."""
        from ..db.snapshot import restore

        tmp = tempfile.mkdtemp(prefix="inst-", dir=self.dir)
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, filter="data")
                else:  # an archive this package wrote, from a peer replica
                    tar.extractall(tmp)
            self.db.drop_collection(_NAME)
            self.col = restore(os.path.join(tmp, "s"), self.db, _NAME)
            self.log.reset(seq)
            self.seq = seq
            self._cv.notify_all()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def catch_up(self, peer, until=None, wait_s: float = 10.0) -> dict:
        """Pulls what this replica misses from ``peer`` (an actor handle): op-log records
        after its last sequence number, or a snapshot when the peer no longer has them.
        With ``until``, stops there (and waits for the peer to reach it); otherwise at
        the peer's last record."""
        import ray

        out = {"ops": 0, "snapshot": False, "from": self.seq}
        while until is None or self.seq < until:
            recs = ray.get(peer.ops_after.remote(self.seq, until, 1000, wait_s))
            if recs is None:
                seq, data = ray.get(peer.snapshot_bytes.remote())
                with self._mu:
                    if seq > self.seq:
                        self._install(seq, data)
                out["snapshot"] = True
                continue
            if not recs:
                break
            with self._mu:
                for s, op in recs:
                    if until is not None and s > until:
                        break
                    if s == self.seq + 1:
                        self._apply(s, op)
                        out["ops"] += 1
        out["seq"] = self.seq
        return out

    # -- lifecycle --------------------------------------------------------------------------
    def close(self):
        with self._mu:
            self.log.close()
            self.db.close()

    def destroy(self):
        """Closes and deletes this replica's files."""
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)
