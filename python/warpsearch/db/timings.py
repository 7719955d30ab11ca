# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Duration histograms kept by the database's own workers (WAL fsyncs, seals, merges),
read by whoever reports them (the server's ``/metrics``): fixed bucket bounds, counts
per bucket, the sum and the count. Recording is a few additions under the GIL."""

from __future__ import annotations

import bisect
import threading

__all__ = ["Timings", "BOUNDS"]

#: Upper bounds (seconds) of the buckets: from a fast fsync (0.1 ms) to a long merge.
BOUNDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
          1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, float("inf"))


class Timings:
    """One duration histogram (see the module docstring)."""

    __slots__ = ("_counts", "_sum", "_mu")

    def __init__(self):
        self._counts = [0] * len(BOUNDS)
        self._sum = 0.0
        self._mu = threading.Lock()

    def observe(self, seconds: float) -> None:
        i = bisect.bisect_left(BOUNDS, seconds)
        with self._mu:
            self._counts[min(i, len(BOUNDS) - 1)] += 1
            self._sum += seconds

    def snapshot(self) -> dict:
        """``{"buckets": [(upper bound, cumulative count), ...], "sum": s, "count": n}``."""
        with self._mu:
            counts, total = list(self._counts), self._sum
        out, run = [], 0
        for b, c in zip(BOUNDS, counts):
            run += c
            out.append((b, run))
        return {"buckets": out, "sum": total, "count": run}
