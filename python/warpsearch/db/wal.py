# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Write-ahead log.

The log is a series of files ``wal-<first seq>.log``; each record is::

    uint32 length | uint64 sequence number | uint32 crc | payload (length bytes)

(little-endian). The checksum is ``zlib.crc32`` (CRC-32, not CRC-32C) of the
8-byte sequence number followed by the payload, so a record copied to the wrong
place is detected too. A new file starts whenever the mutable segment is sealed,
so whole files can be deleted once a manifest covers them.

A torn record at the tail of the newest file (a crash during a write) is cut off
when the log is opened; damage anywhere else is a ``CorruptionError``.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import time
import zlib

import numpy as np

from .payload import _orjson  # the optional fast JSON codec (None without it)
from .storage import CorruptionError, fsync_dir
from .timings import Timings

__all__ = ["WriteAheadLog", "read_log", "encode_upsert", "encode_delete", "decode_record",
           "FSYNC_POLICIES"]

_HEADER = struct.Struct("<IQI")
_SEQ = struct.Struct("<Q")
_UPSERT_HEAD = struct.Struct("<cIII")
FSYNC_POLICIES = ("always", "interval", "never")
_MAX_RECORD = (1 << 32) - 1
log = logging.getLogger("warpsearch.db")


def _name(first_seq: int) -> str:
    return f"wal-{first_seq:020d}.log"


def _list(directory: str):
    out = []
    for f in os.listdir(directory):
        if f.startswith("wal-") and f.endswith(".log"):
            out.append((int(f[4:-4]), os.path.join(directory, f)))
    return sorted(out)


def _crc(seq: int, *parts) -> int:
    """CRC-32 of a record: its sequence number, then its payload's parts in order."""
    crc = zlib.crc32(_SEQ.pack(seq))
    for part in parts:
        crc = zlib.crc32(part, crc)
    return crc


# -- record payloads ------------------------------------------------------------

def encode_upsert(ids: list, vectors: np.ndarray, payloads: list) -> tuple:
    """``U`` + counts + raw float32 vectors + JSON ids + JSON payload array, as the
    parts of one record (written together, never joined into one buffer: a batch's
    vectors are written from the caller's array)."""
    ids_json = _orjson.dumps(ids) if _orjson is not None else \
        json.dumps(ids, separators=(",", ":")).encode()
    pay_json = b"[" + b",".join(p or b"null" for p in payloads) + b"]"
    n, dim = vectors.shape
    vecs = memoryview(np.ascontiguousarray(vectors, dtype="<f4")).cast("B")
    return (_UPSERT_HEAD.pack(b"U", n, dim, len(ids_json)), vecs, ids_json, pay_json)


def encode_delete(ids: list) -> bytes:
    return b"D" + json.dumps(ids, separators=(",", ":")).encode()


def decode_record(payload: bytes):
    """``("upsert", ids, vectors, payload_bytes_list)`` or ``("delete", ids)``."""
    kind = payload[:1]
    if kind == b"D":
        return ("delete", json.loads(payload[1:]))
    if kind != b"U":
        raise CorruptionError(f"unknown log record type {kind!r}")
    _, n, dim, nid = _UPSERT_HEAD.unpack_from(payload)
    off = _UPSERT_HEAD.size
    vec = np.frombuffer(payload, dtype="<f4", count=n * dim, offset=off).reshape(n, dim)
    off += n * dim * 4
    ids = json.loads(payload[off:off + nid])
    pays = json.loads(payload[off + nid:])
    raws = [b"" if p is None else json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode()
            for p in pays]
    return ("upsert", ids, vec.astype(np.float32), raws)


# -- reading ------------------------------------------------------------------------

def read_log(directory: str, after_seq: int):
    """Yields ``(seq, payload)`` for records with seq > after_seq, in order.

    Returns (via StopIteration) after cutting a torn tail off the newest file.
    """
    files = _list(directory)
    expect = None
    for i, (first, path) in enumerate(files):
        last_file = i == len(files) - 1
        if expect is not None and first != expect:
            raise CorruptionError(f"write-ahead log {path!r} starts at sequence {first}, "
                                  f"expected {expect} (a log file is missing)")
        seq_expect = first
        with open(path, "rb") as f:
            data = f.read()
        off = 0
        while off < len(data):
            bad = None
            if off + _HEADER.size > len(data):
                bad = "truncated header"
            else:
                length, seq, crc = _HEADER.unpack_from(data, off)
                end = off + _HEADER.size + length
                if end > len(data):
                    bad = "truncated record"
                elif seq != seq_expect:
                    bad = f"sequence {seq}, expected {seq_expect}"
                elif _crc(seq, memoryview(data)[off + _HEADER.size:end]) != crc:
                    bad = "checksum mismatch"
            if bad is not None:
                if not last_file:
                    raise CorruptionError(f"write-ahead log {path!r} is damaged at byte {off} "
                                          f"({bad}) and newer log files follow")
                log.warning("dropping torn write-ahead log tail of %s at byte %d (%s)",
                            path, off, bad)
                with open(path, "r+b") as f:
                    f.truncate(off)
                    f.flush()
                    os.fsync(f.fileno())
                break
            if seq > after_seq:
                yield seq, data[off + _HEADER.size:end]
            seq_expect = seq + 1
            off = end
        expect = seq_expect


def last_seq_on_disk(directory: str, floor: int) -> int:
    """Sequence number of the newest record (after read_log has cut any torn tail)."""
    last = floor
    for seq, _ in read_log(directory, floor):
        last = seq
    return last


# -- writing --------------------------------------------------------------------------

class WriteAheadLog:
    """Appends records durably according to ``fsync``.

    ``"always"``: a record is acknowledged once fsynced; writers that wait at the
    same time share one fsync (group commit), and no fsync runs under a lock that
    appends or readers take. ``"interval"``: a background thread fsyncs every
    ``interval_ms``; ``"never"``: records reach the OS (they survive a process
    crash, not a power loss).
    """

    def __init__(self, directory: str, next_seq: int, fsync: str = "always",
                 interval_ms: int = 100):
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, got {fsync!r}")
        self.dir = directory
        self.policy = fsync
        self.next_seq = next_seq
        self._mu = threading.Lock()
        self._cv = threading.Condition(self._mu)
        self._durable = next_seq - 1  # every record up to here is on stable storage
        self._syncing = False
        self._failed = None
        self._dirty = False
        self.fsyncs = 0
        self.fsync_timings = Timings()  # seconds per fsync (the log's durability cost)
        files = _list(directory)
        if files:
            path = files[-1][1]
        else:
            path = os.path.join(directory, _name(next_seq))
        self._open(path)
        self._stop = threading.Event()
        self._syncer = None
        if fsync == "interval":
            self._interval = max(1, int(interval_ms)) / 1000.0
            self._syncer = threading.Thread(target=self._sync_loop, name="warpsearch-wal-sync",
                                            daemon=True)
            self._syncer.start()

    def _open(self, path):
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._path = path
        fsync_dir(self.dir)

    def append(self, payload) -> int:
        """Writes one record (not yet durable: see ``wait_durable``); returns its
        sequence number. ``payload`` is bytes or a sequence of byte buffers (the
        record's parts, written one after another with one system call)."""
        parts = [payload] if isinstance(payload, (bytes, bytearray, memoryview)) \
            else list(payload)
        size = sum(memoryview(p).nbytes for p in parts)
        if size > _MAX_RECORD:
            raise ValueError("write too large for one log record; use smaller batches")
        with self._mu:
            if self._failed is not None:
                raise OSError(f"the write-ahead log failed earlier ({self._failed!r}); "
                              "reopen the database") from self._failed
            seq = self.next_seq
            bufs = [_HEADER.pack(size, seq, _crc(seq, *parts))] + parts
            written = os.writev(self._fd, bufs)
            total = _HEADER.size + size
            if written < total:  # a short write: the rest, from where it stopped
                view = memoryview(b"".join(bufs))[written:]
                while view:
                    view = view[os.write(self._fd, view):]
            self.next_seq = seq + 1
            self._dirty = True
            return seq

    def wait_durable(self, seq: int) -> None:
        """Returns once record ``seq`` is durable per the policy. Under ``"always"`` the
        first waiter fsyncs for every record written so far while the others wait for
        it (one fsync serves them all); the fsync runs without the append lock."""
        if self.policy != "always":
            return
        with self._cv:
            while self._durable < seq:
                if self._failed is not None:
                    raise OSError(f"write-ahead log fsync failed: {self._failed!r}")
                if self._syncing:
                    self._cv.wait()
                    continue
                self._syncing = True
                target, fd = self.next_seq - 1, self._fd
                self._cv.release()
                err = None
                t0 = time.perf_counter()
                try:
                    os.fdatasync(fd)
                except OSError as exc:
                    err = exc
                finally:
                    self.fsync_timings.observe(time.perf_counter() - t0)
                    self._cv.acquire()
                    self._syncing = False
                    self.fsyncs += 1
                    if err is not None:
                        self._failed = err
                    else:
                        self._durable = max(self._durable, target)
                    self._cv.notify_all()

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1

    def _sync_locked(self) -> None:
        while self._syncing:
            self._cv.wait()
        if self._fd is not None:
            t0 = time.perf_counter()
            os.fdatasync(self._fd)
            self.fsync_timings.observe(time.perf_counter() - t0)
            self.fsyncs += 1
        self._durable = self.next_seq - 1
        self._dirty = False

    def sync(self) -> None:
        """Makes every appended record durable now, whatever the policy."""
        with self._cv:
            self._sync_locked()

    def rotate(self) -> None:
        """Starts a new file at the next sequence number (the old one is synced)."""
        with self._cv:
            if os.fstat(self._fd).st_size == 0:
                return
            if self.policy != "never":
                self._sync_locked()
            os.close(self._fd)
            self._dirty = False
            self._open(os.path.join(self.dir, _name(self.next_seq)))

    def drop_covered(self, covered_seq: int) -> None:
        """Deletes files whose every record has seq <= covered_seq."""
        with self._mu:
            files = _list(self.dir)
            for (first, path), (nxt, _) in zip(files, files[1:]):
                if nxt - 1 <= covered_seq and path != self._path:
                    os.remove(path)

    def _sync_loop(self):
        while not self._stop.wait(self._interval):
            with self._cv:
                if self._dirty and self._fd is not None:
                    self._sync_locked()

    def close(self) -> None:
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join()
        with self._cv:
            if self._fd is not None:
                if self.policy != "never" or self._dirty:
                    self._sync_locked()
                os.close(self._fd)
                self._fd = None
