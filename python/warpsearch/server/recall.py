# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Online recall: a sampled fraction of live searches is re-run exactly
(``Collection.search_exact``, same k and filter) in one background thread at low
priority, and recall@k (the share of the exact top k the live search returned) is
kept per collection as a running mean.

The queue is bounded and a sample that finds it full is dropped (counted), so the
monitor never holds searches up nor grows without bound. Its CPU is capped too: after
each re-run the thread rests long enough (by the re-run's wall time) to stay within
``cpu_budget`` of one core, and samples arriving meanwhile are dropped (an exact re-run
can cost as much as a whole batch of indexed searches; on a small machine an uncapped
monitor took a core from the searches it measured). Points written between a search and its re-run can
lower the measured recall a little.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time

import numpy as np

__all__ = ["RecallMonitor"]

log = logging.getLogger("warpsearch.server")


class RecallMonitor:
    """Samples searches and measures their recall (see the module docstring).

    Parameters
    ----------
    sample : float
        Fraction of searches re-run, in [0, 1].
    queue_size : int
        Samples waiting at most; more are dropped.
    seed : int, optional
        Seed of the sampling (tests).
    cpu_budget : float
        Largest share of one core the re-runs take, in (0, 1].
    """

    def __init__(self, sample: float, queue_size: int = 64, seed=None,
                 cpu_budget: float = 0.05):
        if isinstance(sample, bool) or not isinstance(sample, (int, float)) or \
                not 0 <= sample <= 1:
            raise ValueError(f"recall sample must be a fraction in [0, 1], got {sample!r}")
        if isinstance(cpu_budget, bool) or not isinstance(cpu_budget, (int, float)) or \
                not 0 < cpu_budget <= 1:
            raise ValueError(f"recall cpu_budget must be a fraction in (0, 1], got "
                             f"{cpu_budget!r}")
        self.sample = float(sample)
        self.cpu_budget = float(cpu_budget)
        self._rng = random.Random(seed)
        self._q: queue.Queue = queue.Queue(maxsize=queue_size)
        self._wake = threading.Event()  # cuts a pause short at close
        self._mu = threading.Lock()
        self._stats: dict = {}  # collection -> [sum of recalls, count]
        self.sampled = 0
        self.dropped = 0
        self.failed = 0
        self.exact_seconds = 0.0  # wall time of the exact re-runs
        self.exact_cpu_seconds = 0.0  # CPU time of the monitor thread
        self.paused_seconds = 0.0  # pauses that kept the thread within its budget
        self._thread = None
        self._closed = False
        self._rest_until = float("-inf")

    # -- the search side ---------------------------------------------------------------
    def offer(self, col, vector, k: int, filter, hits) -> bool:
        """Maybe queues a search for an exact re-run; returns whether it was queued."""
        if self.sample <= 0 or self._closed:
            return False
        with self._mu:
            if self._rng.random() >= self.sample:
                return False
        return self._queue(col, vector, k, filter, hits)

    def _resting(self) -> bool:
        """Whether the thread is pausing for its budget (a sample now is dropped)."""
        return time.monotonic() < self._rest_until

    def _queue(self, col, vector, k: int, filter, hits) -> bool:
        """Queues one sampled search (starting the monitor thread the first time)."""
        with self._mu:
            self.sampled += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="warpsearch-recall")
                self._thread.start()
        if self._resting():
            with self._mu:
                self.dropped += 1
            return False
        item = (col, np.array(vector, dtype=np.float32).reshape(-1), k, filter,
                [h.id for h in hits])
        try:
            self._q.put_nowait(item)
        except queue.Full:
            with self._mu:
                self.dropped += 1
            return False
        return True

    def offer_batch(self, col, vectors, k: int, filter, results) -> int:
        """``offer`` for each row of a batch search (``results[i]`` the hits of row
        ``i``); returns how many were queued."""
        if self.sample <= 0 or self._closed or len(vectors) == 0:
            return 0
        with self._mu:
            picks = [i for i in range(len(vectors)) if self._rng.random() < self.sample]
        return sum(self._queue(col, vectors[i], k, filter, results[i]) for i in picks)

    # -- results -----------------------------------------------------------------------
    def collection(self, name: str) -> dict:
        """``{"recall": running mean or None, "count": samples measured}``."""
        with self._mu:
            s, n = self._stats.get(name, (0.0, 0))
        return {"recall": (s / n) if n else None, "count": n}

    def snapshot(self) -> dict:
        """Per collection ``(mean, count)`` and the monitor's counters."""
        with self._mu:
            per = {k: (s / n, n) for k, (s, n) in self._stats.items() if n}
            return {"collections": per, "sampled": self.sampled, "dropped": self.dropped,
                    "failed": self.failed, "exact_seconds": self.exact_seconds,
                    "exact_cpu_seconds": self.exact_cpu_seconds,
                    "paused_seconds": self.paused_seconds}

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until every queued sample is measured (tests); False on timeout."""
        end = time.monotonic() + timeout
        while self._q.unfinished_tasks:
            if time.monotonic() > end:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        """Stops the thread (samples still queued are dropped)."""
        self._closed = True
        self._wake.set()
        t = self._thread
        if t is None:
            return
        while True:
            try:
                self._q.get_nowait()
                self._q.task_done()
            except queue.Empty:
                break
        self._q.put(None)
        t.join(30)

    # -- the background thread ---------------------------------------------------------
    def _loop(self) -> None:
        try:  # lowest CPU priority for this thread (Linux: per-thread nice)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):
            pass
        while True:
            item = self._q.get()
            try:
                if item is None:
                    return
                used = self._measure(*item)
            finally:
                self._q.task_done()
            # stay within the budget: rest used x (1 / budget - 1) seconds
            rest = used * (1.0 / self.cpu_budget - 1.0)
            if rest > 0:
                self._rest_until = time.monotonic() + rest
                with self._mu:
                    self.paused_seconds += rest
                self._wake.wait(rest)
                if self._closed:
                    return

    def _measure(self, col, vec, k, filter, got) -> float:
        """Re-runs one sample exactly and adds its recall; returns the re-run's wall
        time (what the budget counts: the exact scan's matrix product may run on the
        BLAS library's own threads, and a re-run slowed by a busy machine then rests
        longer)."""
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            exact = col.search_exact(vec, k=k, filter=filter, with_payload=False)[0]
        except Exception as exc:  # noqa: BLE001 - a dropped or closed collection
            exact = None
            log.debug("recall sample of %r failed: %r", getattr(col, "name", "?"), exc)
        dt, dc = time.perf_counter() - t0, time.thread_time() - c0
        with self._mu:
            self.exact_seconds += dt
            self.exact_cpu_seconds += dc
            if exact is None:
                self.failed += 1
                return dt
        truth = {h.id for h in exact}
        if not truth:  # nothing passes the filter: recall is undefined
            return dt
        r = len(truth.intersection(got)) / len(truth)
        with self._mu:
            s = self._stats.setdefault(col.name, [0.0, 0])
            s[0] += r
            s[1] += 1
        return dt
