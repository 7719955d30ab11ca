# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Wall-clock timing of repeated calls (the demo and the benchmarks)."""

from __future__ import annotations

import time

__all__ = ["best_time", "median_time"]


def best_time(fn, repeat: int):
    """``(shortest wall time of repeat calls of fn(), result of the last call)``.

    >>> secs, out = best_time(lambda: 6 * 7, repeat=3)
    >>> out, secs >= 0.0
    (42, True)
    """
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def median_time(fn, reps: int, warmup: int = 1) -> float:
    """Median wall time of ``reps`` calls of ``fn()`` after ``warmup`` untimed calls
    (latency benchmarks: one slow call does not move it).

    >>> median_time(lambda: None, reps=5) >= 0.0
    True
    """
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    mid = len(ts) // 2
    return ts[mid] if len(ts) % 2 else (ts[mid - 1] + ts[mid]) / 2
