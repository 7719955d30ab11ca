# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The background worker of a collection: indexes the mutable segment as it grows,
trains the IVF-PQ quantizer once, seals full segments (their index is already
built), merges segments by size tiers and purges deletes.

A failed seal (a full disk, say) is retried with backoff while reads and writes
go on; the frozen segment stays searchable in memory meanwhile. Writers are held
back (see ``Collection``) when too many segments wait to be sealed.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref

import numpy as np

from .. import _core
from ..index import IVFPQIndex
from .recovery import checkpoint
from .segment import add_rows, make_index, seg_dirname, take_raws, write_segment
from .timings import Timings

__all__ = ["Sealer", "plan_merges"]

log = logging.getLogger("warpsearch.db")

#: Rows added to the mutable segment's index per step (searches see each step).
INDEX_CHUNK = 4096
#: While writes arrived this recently (seconds), background steps leave a core to the
#: writers (their batch calls use one thread fewer than the pool), unless a flush waits.
WRITES_ACTIVE_S = 0.25
#: IVF-PQ is trained once this many points exist when ``flush`` asks (fewer: exact).
MIN_TRAIN = 1000
#: Automatic merges: a segment with this fraction deleted is rewritten ...
PURGE_RATIO = 0.2
#: ... and more sealed segments than this are merged, smallest first.
MAX_SEGMENTS = 8
#: A merged segment holds at most this many segment sizes of live rows.
MERGE_FACTOR = 8


def plan_merges(segments, segment_size: int, eager: bool) -> list:
    """Groups of sealed segments to rewrite together (size-tiered).

    ``eager`` (``compact()``): every segment with deletes, and every segment smaller
    than the merge limit, merged smallest first into groups up to the limit.
    Automatic: segments with at least ``PURGE_RATIO`` deleted, plus the smallest ones
    while there are more than ``MAX_SEGMENTS``. Full segments without deletes are
    never rewritten.
    """
    limit = MERGE_FACTOR * segment_size
    live = {s.seg_id: s.n - s.n_deleted for s in segments}
    if eager:
        chosen = [s for s in segments if s.n_deleted or live[s.seg_id] < limit]
        if len(chosen) == 1 and not chosen[0].n_deleted:
            chosen = []
    else:
        chosen = [s for s in segments if s.n and s.n_deleted / s.n >= PURGE_RATIO]
        rest = sorted((s for s in segments if s not in chosen), key=lambda s: live[s.seg_id])
        excess = len(segments) - MAX_SEGMENTS
        if excess > 0:
            chosen += rest[: excess + 1]
    groups, cur, size = [], [], 0
    for s in sorted(chosen, key=lambda s: live[s.seg_id]):
        if cur and size + live[s.seg_id] > limit:
            groups.append(cur)
            cur, size = [], 0
        cur.append(s)
        size += live[s.seg_id]
    if cur:
        groups.append(cur)
    return [sorted(g, key=lambda s: s.seg_id) for g in groups
            if len(g) > 1 or g[0].n_deleted]


#: Seconds the interpreter's exit waits for background workers to finish their step.
EXIT_WAIT_S = 10.0

_live: "weakref.WeakSet[Sealer]" = weakref.WeakSet()


@atexit.register
def _stop_at_exit() -> None:
    """Stops every background worker after its current step when the interpreter
    exits with collections still open (their writes are in the log: nothing is lost),
    so that none is inside an engine call while the interpreter finalizes."""
    sealers = list(_live)
    for s in sealers:
        with s.cv:
            s.stop = s.exiting = True
            s.cv.notify_all()
    end = time.monotonic() + EXIT_WAIT_S
    for s in sealers:
        s.thread.join(max(0.0, end - time.monotonic()))


class Sealer:
    """One background thread per collection (see the module docstring)."""

    def __init__(self, st, wal, name: str):
        self.st = st
        self.wal = wal
        self.cv = threading.Condition()
        self.stop = False
        self.exiting = False  # the interpreter exits: stop even with segments to seal
        self.flush_wanted = 0
        self.error = None  # the last failure while it is being retried
        self.failures = 0
        self.failed_total = 0
        self.retry_now = False  # a flush cuts the backoff short
        self.compact_mu = threading.Lock()
        self.train_mu = threading.Lock()
        self.merge_check = True  # writes happened since automatic merges were planned
        self.last_write = float("-inf")  # time.monotonic() of the last write
        self.stats = {"seals": 0, "seal_seconds": 0.0, "merges": 0, "merge_seconds": 0.0,
                      "indexed_rows": 0, "retries": 0, "backpressure_waits": 0,
                      "backpressure_seconds": 0.0}
        self.seal_timings, self.merge_timings = Timings(), Timings()  # seconds per step
        self.thread = threading.Thread(target=self._loop, daemon=True,
                                       name=f"warpsearch-sealer-{name}")
        self.thread.start()
        _live.add(self)

    # -- signals -----------------------------------------------------------------
    def wrote(self) -> None:
        """Called after each write: wakes the worker and notes the time."""
        self.last_write = time.monotonic()
        self.wake()

    def wake(self) -> None:
        with self.cv:
            self.merge_check = True
            self.cv.notify_all()

    def idle(self) -> bool:
        st = self.st
        mut = st.mutable
        return not st.frozen and (mut.indexed >= mut.n or not self._can_index(mut, True))

    def wait_idle(self, timeout=None) -> None:
        """Until every segment is indexed and sealed; raises when sealing keeps failing."""
        end = None if timeout is None else time.monotonic() + timeout
        with self.cv:
            self.flush_wanted += 1
            self.retry_now = True
            failed_before = self.failed_total
            self.cv.notify_all()
            try:
                while not self.idle():
                    if self.error is not None and self.failed_total - failed_before >= 2:
                        raise RuntimeError(
                            f"collection {self.st.name!r}: sealing a segment failed "
                            f"{self.failures} times ({self.error!r}); it is retried in the "
                            "background and the data stays searchable and logged") \
                            from self.error
                    if self.stop:
                        return
                    left = None if end is None else end - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError(f"collection {self.st.name!r}: flush timed out")
                    self.cv.wait(0.05 if left is None else min(0.05, left))
            finally:
                self.flush_wanted -= 1

    def wait_idle_frozen(self) -> None:
        """Until no segment waits to be sealed (a failing seal stops waiting: its rows
        are in the log and replayed on open)."""
        with self.cv:
            self.flush_wanted += 1
            try:
                self.retry_now = True
                failed_before = self.failed_total
                while self.st.frozen and self.failed_total - failed_before < 2:
                    self.cv.notify_all()
                    self.cv.wait(0.05)
            finally:
                self.flush_wanted -= 1

    def close(self) -> None:
        with self.cv:
            self.stop = True
            self.cv.notify_all()
        self.thread.join()

    # -- the loop ------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self.cv:
                while not self.stop and not self._has_work():
                    self.cv.wait(0.5)
                if self.stop and (self.exiting or not self.st.frozen):
                    return
            try:
                self._yield_to_writers()
                self._step()
                if self.error is not None:
                    log.info("collection %r: background work recovered after %d failures",
                             self.st.name, self.failures)
                self.error, self.failures = None, 0
            except Exception as exc:  # retried with backoff; reported by flush and info
                self.error = exc
                self.failures += 1
                self.failed_total += 1
                self.stats["retries"] += 1
                delay = min(30.0, 0.1 * 2 ** self.failures)
                log.exception("collection %r: background step failed (attempt %d); retrying "
                              "in %.1f s", self.st.name, self.failures, delay)
                until = time.monotonic() + delay
                with self.cv:
                    self.cv.notify_all()
                    while not self.stop and time.monotonic() < until and not self.retry_now:
                        self.cv.wait(until - time.monotonic())
                    self.retry_now = False
                    if self.stop:
                        return
            with self.cv:
                self.cv.notify_all()

    def _yield_to_writers(self) -> None:
        """Caps this thread's engine calls at one thread fewer than the pool while
        writes arrive (none waiting for a flush), so a burst of writes keeps a core."""
        busy = self.flush_wanted == 0 and time.monotonic() - self.last_write < WRITES_ACTIVE_S
        n = _core.get_num_threads()
        _core.set_thread_limit(max(1, n - 1) if busy and n > 1 else 0)

    def _has_work(self) -> bool:
        st = self.st
        return bool(st.frozen) or self._can_index(st.mutable, self.flush_wanted > 0) \
            or self._merges_due()

    def pending_merges(self) -> int:
        """Merges the automatic policy would run now (the compaction queue's length)."""
        with self.st.mu:
            segs = list(self.st.sealed.values())
        return len(plan_merges(segs, self.st.segment_size, eager=False))

    def _merges_due(self) -> bool:
        if not self.merge_check:
            return False
        if self.pending_merges():
            return True
        self.merge_check = False
        return False

    def _can_index(self, seg, forced: bool) -> bool:
        if seg.indexed >= seg.n:
            return False
        if self.st.index_cfg["kind"] == "ivf_pq" and self.st.trained is None:
            want = self.st.index_config.train_size
            return seg.n >= want or (forced or seg.frozen) and seg.n >= MIN_TRAIN
        return True

    def _step(self) -> None:
        st = self.st
        if st.frozen:
            seg = st.frozen[0]
            if seg.indexed < seg.n and self._can_index(seg, True):
                self._index_some(seg, seg.n)
            if seg.indexed >= seg.n or not self._can_index(seg, True):
                self._seal(seg)
                self._merge(eager=False)
            return
        mut = st.mutable
        if self._can_index(mut, self.flush_wanted > 0):
            self._index_some(mut, min(mut.n, mut.indexed + INDEX_CHUNK))
        elif self._merges_due():
            self._merge(eager=False)

    # -- indexing ---------------------------------------------------------------------
    def _index_some(self, seg, upto: int) -> None:
        st = self.st
        if seg.index is None:
            if st.index_cfg["kind"] == "ivf_pq" and st.trained is None:
                self.train(seg.vecs.rows(0, seg.n))
            seg.index = make_index(st.index_cfg, st.dim, st.metric, "cpu", self.trained_path())
        lo = seg.indexed
        if upto <= lo:
            return
        add_rows(seg.index, seg.vecs.rows(lo, upto), lo)
        seg.indexed = upto  # published after the rows are in the index
        seg.vecs.drop_indexed(seg.index, upto)
        self.stats["indexed_rows"] += upto - lo

    def trained_path(self):
        st = self.st
        return None if st.trained is None else os.path.join(st.path, "trained", st.trained)

    def train(self, sample) -> None:
        """Trains the collection's IVF-PQ quantizer on ``sample`` and records it."""
        st = self.st
        with self.train_mu:
            if st.trained is None:
                self._train(sample)

    def _train(self, sample) -> None:
        st = self.st
        sample = np.ascontiguousarray(sample, dtype=np.float32)
        t0 = time.perf_counter()
        params = st.index_config.resolved(st.dim, len(sample))
        idx = IVFPQIndex(st.dim, st.metric, device="cpu", **params)
        idx.train(sample)
        name = f"ivfpq-{int(time.time() * 1e6)}.bin"
        path = os.path.join(st.path, "trained", name)
        idx.save(path)
        with st.mu:
            st.trained = name
        checkpoint(st, self.wal)
        log.info("collection %r: IVF-PQ trained on %d points (%s) in %.2f s", st.name,
                 len(sample), params, time.perf_counter() - t0)

    # -- sealing ------------------------------------------------------------------------
    def _seal(self, frozen) -> None:
        st = self.st
        t0 = time.perf_counter()
        index = frozen.index if frozen.indexed >= frozen.n else None
        cfg = st.index_cfg
        if index is None and cfg["kind"] == "ivf_pq" and st.trained is None:
            cfg = {"kind": "flat", "storage": "fp32", "refine": None}  # too few to train
        sealed = write_segment(os.path.join(st.path, "segments"), frozen.seg_id,
                               frozen.vectors(), frozen.uids, frozen.raws, cfg, st.dim,
                               st.metric, st.schema, index=index, device="cpu",
                               trained=self.trained_path())
        if st.device != "cpu":  # the mutable segment's index searched on the CPU
            sealed.index.to(st.device)
        with st.mu:
            st.install_sealed(frozen, sealed)
        checkpoint(st, self.wal)
        dt = time.perf_counter() - t0
        self.stats["seals"] += 1
        self.stats["seal_seconds"] += dt
        self.seal_timings.observe(dt)
        log.info("collection %r: sealed %s (%d rows) in %.2f s", st.name,
                 seg_dirname(sealed.seg_id), sealed.n, dt)

    # -- merging --------------------------------------------------------------------------
    def _merge(self, eager: bool, progress=None) -> dict:
        st = self.st
        with self.compact_mu:
            with st.mu:
                segs = [st.sealed[k] for k in sorted(st.sealed)]
            groups = plan_merges(segs, st.segment_size, eager)
            report = {"merged": 0, "rows": 0, "purged": 0, "groups": len(groups)}
            for g in groups:
                r = self._merge_group(g)
                for key in ("merged", "rows", "purged"):
                    report[key] += r[key]
                if progress is not None:
                    progress.update(1)
            return report

    def _merge_group(self, victims) -> dict:
        st = self.st
        t0 = time.perf_counter()
        with st.mu:
            snap = [(s, s.tombs()[: s.n].copy()) for s in victims]
            new_id = st.next_seg
            st.next_seg += 1
        alive = [np.flatnonzero(~t) for _, t in snap]
        vecs = np.concatenate([s.vectors(a) for (s, _), a in zip(snap, alive)])
        uids = np.concatenate([s.uids[a] for (s, _), a in zip(snap, alive)])
        raws = [p for (s, _), a in zip(snap, alive) for p in take_raws(s.raws, a)]
        purged = sum(s.n for s in victims) - len(uids)
        new = None
        if len(uids):
            new = write_segment(os.path.join(st.path, "segments"), new_id, vecs, uids, raws,
                                st.index_cfg if st.trained or st.index_cfg["kind"] != "ivf_pq"
                                else {"kind": "flat", "storage": "fp32", "refine": None},
                                st.dim, st.metric, st.schema, device="cpu",
                                trained=self.trained_path())
            if st.device != "cpu":
                new.index.to(st.device)
        with st.mu:
            st.replace(victims, alive, new)
        checkpoint(st, self.wal)
        dt = time.perf_counter() - t0
        self.stats["merges"] += 1
        self.stats["merge_seconds"] += dt
        self.merge_timings.observe(dt)
        log.info("collection %r: merged %d segments (%d rows, %d purged) in %.2f s", st.name,
                 len(victims), len(uids), purged, dt)
        return {"merged": len(victims), "rows": int(len(uids)), "purged": int(purged)}

    def compact(self, progress=None) -> dict:
        """Merges and purges now (``eager`` tiers); the caller's thread does the work."""
        return self._merge(eager=True, progress=progress)
