# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Quotas: request rate (a token bucket per key), request body size, and the
per-key limits on points, collections, batch size and k, each refused with a
status and a message naming the limit:

- rate: 429 with ``Retry-After`` (whole seconds);
- body size (``--max-body-bytes``, server-wide): 413, from ``Content-Length`` or,
  without one, when the streamed body passes the limit;
- ``max_points`` / ``max_collections`` (per tenant, else per key): 403;
- ``max_batch`` (points per upsert, queries per batch) and ``max_k``: 400.

Usage counters (requests, queries, bytes in and out) live in memory and start
from zero when the server starts; points and collections are counted when asked.
"""

from __future__ import annotations

import math
import threading
import time

from .qdrant import ApiError

__all__ = ["TokenBucket", "RateLimiter", "BodyTooLarge", "limit_receive", "Usage",
           "quota_error", "check_batch", "check_k"]


class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst`` (one second's worth, and at
    least one)."""

    def __init__(self, rate: float, burst: float | None = None):
        self.rate = float(rate)
        self.burst = max(1.0, float(burst if burst is not None else rate))
        self.tokens = self.burst
        self.t = time.monotonic()
        self._mu = threading.Lock()

    def take(self) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        with self._mu:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
            self.t = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return 0.0
            return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One token bucket per key with a ``rate`` limit."""

    def __init__(self):
        self._buckets: dict = {}
        self._mu = threading.Lock()

    def wait(self, principal) -> float:
        """0.0 when ``principal`` may go on, else the seconds to wait."""
        rate = principal.limit("rate")
        if rate is None:
            return 0.0
        with self._mu:
            b = self._buckets.get(principal.key_id)
            if b is None or b.rate != rate:
                b = self._buckets[principal.key_id] = TokenBucket(rate)
        return b.take()

    @staticmethod
    def retry_after(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))


class BodyTooLarge(ApiError):
    def __init__(self, limit: int):
        super().__init__(413, f"Payload too large: the request body exceeds the server's "
                              f"max-body-bytes limit of {limit} bytes")


def limit_receive(receive, limit: int, count):
    """``receive`` that raises ``BodyTooLarge`` once the body passes ``limit`` bytes and
    calls ``count(n)`` with the size of each chunk."""
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            n = len(message.get("body", b""))
            seen += n
            count(n)
            if seen > limit:
                raise BodyTooLarge(limit)
        return message
    return wrapped


def quota_error(name: str, limit: int, principal, have: int, adding: int) -> ApiError:
    who = f"tenant {principal.tenant!r}" if principal.tenant is not None \
        else f"key {principal.key_id}"
    return ApiError(403, f"Quota exceeded: {name.replace('_', '-')} is {limit} for {who} "
                         f"(has {have}, this request adds {adding})")


def check_batch(principal, n: int, what: str) -> None:
    cap = principal.limit("max_batch") if principal is not None else None
    if cap is not None and n > cap:
        raise ApiError(400, f"{what}: {n} exceeds this key's max-batch of {cap}")


def check_k(principal, k) -> None:
    cap = principal.limit("max_k") if principal is not None else None
    if cap is not None and isinstance(k, int) and k > cap:
        raise ApiError(400, f"k (limit + offset) = {k} exceeds this key's max-k of {cap}")


class Usage:
    """Counters per scope (a tenant, or a key without one)."""

    FIELDS = ("requests", "queries", "bytes_in", "bytes_out")

    def __init__(self):
        self._mu = threading.Lock()
        self._by_scope: dict = {}

    def add(self, scope: str, **counts) -> None:
        with self._mu:
            row = self._by_scope.setdefault(scope, dict.fromkeys(self.FIELDS, 0))
            for k, v in counts.items():
                row[k] += v

    def snapshot(self) -> dict:
        with self._mu:
            return {s: dict(r) for s, r in self._by_scope.items()}
