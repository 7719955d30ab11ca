# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Micro-batching: concurrent single-query searches of one collection with the same
parameters (k, filter, ef, nprobe, refine_factor, with_payload, timeout) run as one
``search_batch`` call, so a GPU (and the CPU's blocked kernels) get batches, not
single queries.

It works in the worker threads that already run the routes off the event loop. The
first search of a group leads: it waits up to the window (less when the group fills
up), closes the group, runs the batch and hands each follower its own row. A search
arriving while no other search is in flight runs at once, so a lone client pays no
window. Groups are keyed by the filter's canonical JSON: searches with different
filters never share a batch; a tenant's view of a collection hands the batcher the
collection and its tenant filter, so one tenant's concurrent searches share batches
and two tenants' never do. A batch that fails (a bad query, a timeout) is run
again query by query, so each caller gets its own answer or its own error.

A batch can only be as large as the searches waiting at once, which the worker
threads bound (``Settings.threads``).
"""

from __future__ import annotations

import threading

import numpy as np
import orjson

from .._validation import as_positive_int

__all__ = ["MicroBatcher"]


class _Group:
    __slots__ = ("rows", "closed", "full", "done", "results", "stats", "errors")

    def __init__(self):
        self.rows: list = []
        self.closed = False
        self.full = threading.Event()
        self.done = threading.Event()
        self.results = None
        self.stats = None
        self.errors = None


class MicroBatcher:
    """Coalesces concurrent searches (see the module docstring).

    Parameters
    ----------
    window_s : float
        How long a leader waits for company (seconds).
    max_batch : int
        Most queries in one batch.
    on_batch : callable, optional
        Called with the size of every batch run (for metrics).
    """

    def __init__(self, window_s: float, max_batch: int, on_batch=None):
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0, got {window_s!r}")
        max_batch = as_positive_int(max_batch, "max_batch", maximum=None)
        self.window_s = float(window_s)
        self.max_batch = max_batch
        self.on_batch = on_batch
        self._mu = threading.Lock()
        self._open: dict = {}
        self._inflight = 0  # searches between arrival and answer

    def search(self, col, vector, *, k, filter, ef, with_payload, nprobe=None,
               refine_factor=None, timeout=None):
        """``col.search(vector, ..., return_stats=True)`` run in a batch with concurrent
        callers: ``(hits, stats, batch size)``; hits equal an unbatched call's."""
        target = getattr(col, "batch_target", None)
        if target is not None:  # a view of a collection (a tenant's): batch on the
            col, filter = target(k, filter)  # collection itself, its filter added
        kw = dict(k=k, filter=filter, ef=ef, with_payload=with_payload, nprobe=nprobe,
                  refine_factor=refine_factor, timeout=timeout)
        q = fkey = None
        try:
            q = np.asarray(vector, dtype=np.float32).reshape(1, -1)
            if filter is not None:
                fkey = orjson.dumps(filter, option=orjson.OPT_SORT_KEYS)
        except (TypeError, ValueError):
            q = None
        if q is None or q.shape[1] != col.dim or not np.isfinite(q).all():
            # not a plain vector (or a filter that is not JSON): alone, so the
            # collection's own checks answer it
            hits, stats = col.search(vector, return_stats=True, **kw)
            self._count(1)
            return hits, stats, 1
        key = (id(col), col.name, k, fkey, ef, nprobe, refine_factor, bool(with_payload),
               timeout)
        with self._mu:
            busy = self._inflight > 0
            self._inflight += 1
            g = self._open.get(key)
            leader = g is None
            if leader:
                g = _Group()
                self._open[key] = g
            row = len(g.rows)
            g.rows.append(q)
            if len(g.rows) >= self.max_batch:
                self._close(key, g)
                g.full.set()
        try:
            if leader:
                if busy:
                    g.full.wait(self.window_s)
                with self._mu:
                    self._close(key, g)
                self._run(col, g, kw)
            else:
                g.done.wait()
        finally:
            with self._mu:
                self._inflight -= 1
        if g.errors is not None:
            err = g.errors[row]
            if err is not None:
                raise err
        return g.results[row], g.stats[row] if isinstance(g.stats, list) else g.stats, \
            len(g.rows)

    def _close(self, key, g) -> None:
        if not g.closed:
            g.closed = True
            if self._open.get(key) is g:
                del self._open[key]

    def _run(self, col, g, kw) -> None:
        try:
            try:
                if len(g.rows) == 1:  # alone after all: the plain search
                    hits, stats = col.search(g.rows[0][0], return_stats=True, **kw)
                    g.results, g.stats = [hits], stats
                else:
                    res, stats = col.search_batch(np.concatenate(g.rows), return_stats=True,
                                                  **kw)
                    g.results, g.stats = list(res), stats
                self._count(len(g.rows))
            except Exception:  # noqa: BLE001 - each query again, alone
                if len(g.rows) == 1:
                    raise
                self._one_by_one(col, g, kw)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            g.errors = [exc] * len(g.rows)
        finally:
            g.done.set()

    def _one_by_one(self, col, g, kw) -> None:
        results, stats, errors = [], [], []
        for q in g.rows:
            try:
                h, s = col.search(q[0], return_stats=True, **kw)
                results.append(h)
                stats.append(s)
                errors.append(None)
            except Exception as exc:  # noqa: BLE001 - this caller's error
                results.append(None)
                stats.append(None)
                errors.append(exc)
            self._count(1)
        g.results, g.stats = results, stats
        if any(e is not None for e in errors):
            g.errors = errors

    def _count(self, n: int) -> None:
        if self.on_batch is not None:
            self.on_batch(n)
