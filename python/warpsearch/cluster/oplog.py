# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The applied-operation log of one shard replica, keyed by the shard's sequence numbers.

Every write a replica applies is first appended here (length + CRC32 per record,
fsynced), then applied to its embedded collection; a peer that missed writes pulls
the records after its last sequence number. Records are kept in chunk files of
``chunk_ops`` records; chunks older than the newest ``retention`` records are
deleted, and a peer asking for what they held gets ``None`` (it needs a snapshot).

The records are pickles written and read by this process alone: never point it at
files from elsewhere.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import threading
import zlib

from ..db.storage import fsync_dir

__all__ = ["OpLog"]

_HEAD = struct.Struct("<II")  # length, crc32 of the body
_META = "OPLOG.json"


class OpLog:
    """Records ``(seq, op)`` with consecutive ``seq`` after ``base`` (the sequence number
    the replica's state started from: 0, or that of an installed snapshot)."""

    def __init__(self, path: str, retention: int = 10_000, chunk_ops: int = 256,
                 fsync: bool = True):
        self.path = path
        self.retention = int(retention)
        self.chunk_ops = int(chunk_ops)
        self.fsync = fsync
        self._mu = threading.Lock()
        os.makedirs(path, exist_ok=True)
        meta = os.path.join(path, _META)
        self.base = 0
        if os.path.exists(meta):
            with open(meta) as f:
                self.base = int(json.load(f)["base"])
        self._chunks = sorted(int(f[4:-4]) for f in os.listdir(path)
                              if f.startswith("ops-") and f.endswith(".log"))
        self._chunks = [c for c in self._chunks if c > self.base]
        self.last = self.base
        self._count = 0  # records in the newest chunk
        self._fh = None
        if self._chunks:
            recs, good = self._read_chunk(self._chunks[-1])
            with open(self._chunk_path(self._chunks[-1]), "r+b") as f:
                f.truncate(good)  # a torn record at the end of a crash
            if recs:
                self.last, self._count = recs[-1][0], len(recs)
            else:
                self.last = self._chunks[-1] - 1
        self._first = self._chunks[0] if self._chunks else self.last + 1

    def _chunk_path(self, first):
        return os.path.join(self.path, f"ops-{first:020d}.log")

    def _read_chunk(self, first):
        """Records of a chunk and the byte length of its intact prefix."""
        out, pos = [], 0
        with open(self._chunk_path(first), "rb") as f:
            data = f.read()
        while pos + _HEAD.size <= len(data):
            n, crc = _HEAD.unpack_from(data, pos)
            body = data[pos + _HEAD.size:pos + _HEAD.size + n]
            if len(body) < n or zlib.crc32(body) != crc:
                break
            out.append(pickle.loads(body))
            pos += _HEAD.size + n
        return out, pos

    @property
    def first(self) -> int:
        """The oldest sequence number still in the log (``last + 1`` when empty)."""
        return self._first

    def last_record(self):
        """The newest ``(seq, op)`` or None."""
        with self._mu:
            if not self._chunks:
                return None
            recs, _ = self._read_chunk(self._chunks[-1])
            return recs[-1] if recs else None

    def append(self, seq: int, op) -> None:
        """Appends record ``seq`` (which must be ``last + 1``), durable on return."""
        with self._mu:
            if seq != self.last + 1:
                raise ValueError(f"op log: record {seq} after {self.last}")
            if self._fh is None or self._count >= self.chunk_ops:
                self._rotate(seq)
            body = pickle.dumps((seq, op), protocol=pickle.HIGHEST_PROTOCOL)
            self._fh.write(_HEAD.pack(len(body), zlib.crc32(body)) + body)
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())
            self.last = seq
            self._count += 1

    def _rotate(self, seq):
        if self._fh is None and self._chunks and self._count < self.chunk_ops:
            self._fh = open(self._chunk_path(self._chunks[-1]), "ab")  # reopened after start
            return
        if self._fh is not None:
            self._fh.close()
        self._chunks.append(seq)
        self._fh = open(self._chunk_path(seq), "ab")
        self._count = 0
        if self.fsync:
            fsync_dir(self.path)
        # keep at least `retention` records: drop whole chunks older than that
        while len(self._chunks) > 1 and self.last - self._chunks[1] + 1 >= self.retention:
            os.remove(self._chunk_path(self._chunks.pop(0)))
        self._first = self._chunks[0]

    def after(self, seq: int, limit: int = 1000):
        """Records with sequence numbers in ``(seq, seq + limit]``, or None when some of
        them were deleted (or replaced by a snapshot) and only a snapshot can help."""
        with self._mu:
            if seq < self._first - 1 or seq < self.base:
                return None
            if seq >= self.last:
                return []
            out = []
            idx = max(0, next((i for i in range(len(self._chunks) - 1, -1, -1)
                               if self._chunks[i] <= seq + 1), 0))
            for first in self._chunks[idx:]:
                recs, _ = self._read_chunk(first)
                out += [r for r in recs if r[0] > seq]
                if len(out) >= limit:
                    break
            return out[:limit]

    def reset(self, base: int) -> None:
        """Forgets every record; the state now starts at ``base`` (an installed snapshot)."""
        with self._mu:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            for c in self._chunks:
                os.remove(self._chunk_path(c))
            tmp = os.path.join(self.path, _META + ".tmp")
            with open(tmp, "w") as f:
                json.dump({"base": int(base)}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, os.path.join(self.path, _META))
            fsync_dir(self.path)
            self._chunks, self.base, self.last, self._count = [], int(base), int(base), 0
            self._first = self.base + 1

    def close(self) -> None:
        with self._mu:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
