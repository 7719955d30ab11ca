# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Server settings (no third-party imports, so the CLI can build them first)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Settings"]


@dataclass
class Settings:
    """How the server runs.

    Parameters
    ----------
    threads : int
        Worker threads running database calls off the event loop (searches release
        the GIL, so they run in parallel).
    max_k : int
        Largest ``limit`` (+ ``offset``) of a search, and of a scroll page.
    max_batch : int
        Most queries in one batch request (a JSON batch endpoint or ``search_npy``;
        ``--max-queries`` of ``warpsearch serve``).
    max_results : int
        Most results one batch request may ask for: its queries times their
        ``limit`` (+ ``offset``); past it a 400 (``--max-results``). The answer's
        arrays take about 12 bytes a result (binary) or 70 (JSON).
    close_db : bool
        Close the database when the app shuts down (the CLI's app owns it).
    snapshot_dir : str or None
        Where snapshot archives are kept (default ``<database>/snapshots``).
    api_keys : str or None
        The API keys file (default ``<database>/api_keys.json``); with no key in it,
        keyless requests are served to loopback clients only.
    max_body_bytes : int
        Largest request body (413 past it).
    slow_query_ms : float or None
        Searches taking at least this long are logged (logger
        ``warpsearch.server.slow``, one JSON line with the plan) and listed at
        ``/warpsearch/slow_queries``; None turns the log off.
    recall_sample : float
        Fraction of live searches re-run exactly in the background to measure
        recall (0 turns the monitor off).
    recall_cpu_budget : float
        Largest share of one core the recall monitor's re-runs take, in (0, 1];
        samples arriving while it rests are dropped (counted).
    batch_window_ms : float
        How long a search waits for concurrent searches of the same collection and
        parameters to run with it as one batch (0 turns micro-batching off). A search
        arriving while none is in flight runs at once.
    batch_max : int
        Most searches coalesced into one batch.
    """

    threads: int = 8
    max_k: int = 10_000
    max_batch: int = 10_000
    max_results: int = 1_000_000
    close_db: bool = True
    snapshot_dir: str | None = None
    api_keys: str | None = None
    max_body_bytes: int = 32 << 20
    slow_query_ms: float | None = 100.0
    recall_sample: float = 0.01
    recall_cpu_budget: float = 0.05
    batch_window_ms: float = 1.0
    batch_max: int = 64
