# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The write path of one collection: records are appended to the write-ahead log in
one order, made durable together (group commit: the fsync runs without any lock that
readers or appenders take), then applied to the state in log order; writers are held
back while too many full segments wait to be sealed."""

from __future__ import annotations

import contextlib
import threading
import time

__all__ = ["Writer"]


class Writer:
    """Orders, logs and applies the writes of one collection.

    ``limits`` is read on every write for ``max_pending_seals`` and
    ``backpressure_timeout`` (the collection, whose attributes a user may change).
    """

    def __init__(self, name: str, state, wal, sealer, applied: int, limits):
        self.name, self.state, self.wal, self.sealer = name, state, wal, sealer
        self.limits = limits
        self.mu = threading.Lock()  # appends, and changes that must see every earlier write
        self._apply_cv = threading.Condition()
        self._applied = applied  # every record up to here is applied to the state
        self.closed = False

    def _check_open(self):
        if self.closed:
            raise ValueError(f"collection {self.name!r} is closed")

    def write(self, payload, rec, prepare=None, check=None) -> int:
        """Logs ``rec`` (``payload``: its log bytes) and applies it in log order once
        durable; returns its sequence number. ``check(rec)`` runs under the write lock
        (the schema cannot change meanwhile) and may return an updated record;
        ``prepare()`` runs there too, after every earlier write is applied, and returns
        ``(payload, rec)`` or ``(None, None)`` for nothing to write."""
        with self.mu:
            self._check_open()
            self._hold_back()
            if check is not None:
                rec = check(rec)
            if prepare is not None:  # reads the state as of every earlier write
                self.wait_applied(self.wal.last_seq)
                payload, rec = prepare()
                if rec is None:
                    return self.wal.last_seq
            seq = self.wal.append(payload)
        err = None
        try:
            self.wal.wait_durable(seq)
        except BaseException as exc:  # not acknowledged; later writes must not wait on it
            err = exc
        froze = False
        with self._apply_cv:
            while self._applied < seq - 1:
                self._apply_cv.wait()
            try:
                if err is None:
                    with self.state.mu:
                        froze = self.state.apply(rec, seq)
            finally:
                self._applied = seq
                self._apply_cv.notify_all()
        if err is not None:
            raise err
        if froze:
            self.wal.rotate()
        self.sealer.wrote()
        return seq

    def wait_applied(self, seq: int) -> None:
        """Returns once every record up to ``seq`` is applied to the state."""
        with self._apply_cv:
            while self._applied < seq:
                self._apply_cv.wait()

    @contextlib.contextmanager
    def exclusive(self):
        """No write runs inside, and every logged one has been applied (for changes
        that must see all of them, such as a new field index)."""
        with self.mu:
            self._check_open()
            self.wait_applied(self.wal.last_seq)
            yield

    def close(self) -> None:
        """Refuses further writes and waits until the logged ones are applied."""
        with self.mu:
            self.closed = True
        self.wait_applied(self.wal.last_seq)

    def _hold_back(self):
        """Back-pressure: waits while too many full segments wait to be sealed."""
        st, sealer = self.state, self.sealer
        if len(st.frozen) < self.limits.max_pending_seals:
            return
        t0 = time.monotonic()
        end = t0 + self.limits.backpressure_timeout
        with sealer.cv:
            sealer.stats["backpressure_waits"] += 1
            try:
                self._wait_sealer(end)
            finally:
                sealer.stats["backpressure_seconds"] += time.monotonic() - t0

    def _wait_sealer(self, end):
        """Waits (holding ``sealer.cv``) until few enough segments wait to be sealed."""
        st, sealer = self.state, self.sealer
        limit, timeout = self.limits.max_pending_seals, self.limits.backpressure_timeout
        while len(st.frozen) >= limit:
            left = end - time.monotonic()
            if left <= 0:
                raise RuntimeError(
                    f"collection {self.name!r}: {len(st.frozen)} full segments are waiting "
                    f"to be sealed (limit {limit}); writes were held back "
                    f"{timeout:g} s and are refused until the background "
                    "sealer catches up" + (f" (it is failing: {sealer.error!r})"
                                           if sealer.error is not None else ""))
            sealer.cv.notify_all()
            sealer.cv.wait(min(left, 0.1))
