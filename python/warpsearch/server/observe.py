# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Observability of the server: Prometheus metrics at ``/metrics``, one JSON log
line per request (logger ``warpsearch.server.access``) with its request id (the
``x-request-id`` header, or a new one, echoed back), a slow-query log with the
search's plan (logger ``warpsearch.server.slow``), the online recall monitor, the
micro-batcher, and the JSON endpoints of the dashboard:

- ``GET /warpsearch/stats``: collections, QPS, latency percentiles, recall, slow queries;
- ``GET /warpsearch/slow_queries``: the latest slow searches, newest first;
- ``GET /warpsearch/collections/{name}/recall``: the running recall of one collection;
- ``GET /dashboard``: the dashboard (static HTML and JavaScript).

Every route's search goes through ``Observer.search`` (``Context.search``), which
runs it (batched or not) with ``return_stats=True``: the plan the slow-query log
records is that of the search that ran, not of a second one.
"""

from __future__ import annotations

import collections
import contextvars
import datetime
import logging
import logging.handlers
import os
import queue
import re
import threading
import time
import uuid

import orjson
from fastapi import Request
from fastapi.responses import FileResponse, Response
from starlette.routing import Match

from .batcher import MicroBatcher
from .metrics import CONTENT_TYPE_LATEST, Metrics
from .qdrant import ApiError
from .recall import RecallMonitor

__all__ = ["Observer", "install", "configure_logging", "current_request"]

access_log = logging.getLogger("warpsearch.server.access")
slow_log = logging.getLogger("warpsearch.server.slow")

_DASHBOARD = os.path.join(os.path.dirname(__file__), "dashboard")
_DASHBOARD_FILES = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
_ID_OK = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_WINDOW_S = 60.0
#: Routes left out of the QPS and latency window (the dashboard polling itself).
_QUIET = ("/metrics", "/warpsearch/stats", "/warpsearch/slow_queries", "/dashboard",
          "/dashboard/{file}", "/warpsearch/collections/{name}/recall")


class _RequestRecord:
    """What the searches of one request report back to its log line."""

    __slots__ = ("request_id", "searches", "search_ms")

    def __init__(self, request_id: str):
        self.request_id = request_id
        self.searches = 0
        self.search_ms = 0.0


_current: contextvars.ContextVar = contextvars.ContextVar("warpsearch_request", default=None)


def current_request():
    """The record of the request this code runs for (worker threads included), or None."""
    return _current.get()


def _json(obj) -> str:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
                        default=str).decode()


def _labels(stats):
    idx = sorted({s.get("index", "?") for s in stats.get("segments", ())}) or ["none"]
    plan = stats.get("plan", "empty")
    if isinstance(plan, (list, tuple)):
        plan = "+".join(str(p) for p in plan)
    return "+".join(idx), str(plan)


def _percentiles(durations) -> dict:
    if not durations:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    d = sorted(durations)

    def p(q):
        return d[min(len(d) - 1, int(q * len(d)))] * 1e3

    return {"p50_ms": p(0.50), "p95_ms": p(0.95), "p99_ms": p(0.99)}


class Observer:
    """Metrics, logs, recall monitor and micro-batcher of one app."""

    def __init__(self, db, settings):
        self.db = db
        self.settings = settings
        self.recall = RecallMonitor(settings.recall_sample,
                                    cpu_budget=settings.recall_cpu_budget)
        self.metrics = Metrics(db, self.recall)
        window = settings.batch_window_ms
        if window is not None and window < 0:
            raise ValueError(f"batch_window_ms must be >= 0, got {window!r}")
        self.batcher = MicroBatcher(window / 1e3, settings.batch_max,
                                    self.metrics.batch_size.observe) if window else None
        slow = settings.slow_query_ms
        if slow is not None and not slow >= 0:
            raise ValueError(f"slow_query_ms must be >= 0 or None, got {slow!r}")
        self.slow_s = None if slow is None else slow / 1e3
        self.slow_queries: collections.deque = collections.deque(maxlen=100)
        self.window: collections.deque = collections.deque(maxlen=100_000)
        self.started = time.time()

    # -- searches (worker threads) -------------------------------------------------
    def search(self, col, vector, *, k, filter=None, ef=None, with_payload=True, nprobe=None,
               refine_factor=None, timeout=None):
        """One search of a route: ``(hits, stats)``, batched with concurrent ones when
        the micro-batcher is on; recorded in the metrics, the slow-query log and
        (sampled) the recall monitor."""
        kw = dict(k=k, filter=filter, ef=ef, with_payload=with_payload, nprobe=nprobe,
                  refine_factor=refine_factor, timeout=timeout)
        t0 = time.perf_counter()
        if self.batcher is not None:
            hits, stats, n = self.batcher.search(col, vector, **kw)
        else:
            hits, stats = col.search(vector, return_stats=True, **kw)
            n = 1
            self.metrics.batch_size.observe(1)
        dt = time.perf_counter() - t0
        index, plan = _labels(stats)
        self.metrics.search_latency.labels(col.name, index, plan).observe(dt)
        rec = _current.get()
        if rec is not None:
            rec.searches += 1
            rec.search_ms += dt * 1e3
        if self.slow_s is not None and dt >= self.slow_s:
            self._slow(col, rec, dt, n, kw, stats)
        self.recall.offer(col, vector, k, filter, hits)
        return hits, stats

    def search_batch(self, col, vectors, *, k, filter=None, ef=None, with_payload=True,
                     nprobe=None, refine_factor=None, timeout=None):
        """A batch of searches with one ``k`` and filter (a batch endpoint's group):
        ``(results, stats)`` from one ``search_batch`` call, recorded as one search of
        ``len(vectors)`` queries; the recall monitor samples its rows."""
        kw = dict(k=k, filter=filter, ef=ef, with_payload=with_payload, nprobe=nprobe,
                  refine_factor=refine_factor, timeout=timeout)
        t0 = time.perf_counter()
        res, stats = col.search_batch(vectors, return_stats=True, **kw)
        dt = time.perf_counter() - t0
        n = len(vectors)
        self.metrics.batch_size.observe(n)
        index, plan = _labels(stats)
        self.metrics.search_latency.labels(col.name, index, plan).observe(dt)
        rec = _current.get()
        if rec is not None:
            rec.searches += n
            rec.search_ms += dt * 1e3
        if self.slow_s is not None and dt >= self.slow_s:
            self._slow(col, rec, dt, n, kw, stats)
        self.recall.offer_batch(col, vectors, k, filter, res)
        return res, stats

    def _slow(self, col, rec, dt, n, kw, stats) -> None:
        entry = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                 "request_id": None if rec is None else rec.request_id,
                 "collection": col.name, "duration_ms": dt * 1e3, "batch": n,
                 "k": kw["k"], "filter": kw["filter"], "ef": kw["ef"],
                 "nprobe": kw["nprobe"], "refine_factor": kw["refine_factor"],
                 "plan": stats}
        self.slow_queries.appendleft(entry)
        self.metrics.slow.labels(col.name).inc()
        slow_log.warning(_json({"event": "slow_query", **entry}))

    # -- requests (event loop) -------------------------------------------------------
    def request_done(self, request: Request, rid: str, route: str, status: int,
                     dt: float, rec: _RequestRecord) -> None:
        name = request.path_params.get("name", "") if route != "unmatched" else ""
        collection = name if name and status != 404 else ""
        tenant = getattr(request.state, "tenant", None)
        tenant = "" if tenant is None else str(getattr(tenant, "name", tenant))
        labels = (route, request.method, str(status), collection, tenant)
        self.metrics.requests.labels(*labels).inc()
        self.metrics.latency.labels(*labels).observe(dt)
        if route not in _QUIET and route != "unmatched":
            self.window.append((time.monotonic(), dt, rec.searches > 0))
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(_json({
                "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "request_id": rid, "method": request.method, "route": route,
                "path": request.url.path, "status": status, "duration_ms": dt * 1e3,
                "collection": collection or None, "tenant": tenant or None,
                "searches": rec.searches, "search_ms": rec.search_ms}))

    def traffic(self) -> dict:
        """QPS and latency percentiles over the last minute (all API requests, and
        those that searched)."""
        now = time.monotonic()
        span = min(_WINDOW_S, max(time.time() - self.started, 1e-3))
        recent = [(dt, s) for t, dt, s in list(self.window) if now - t <= _WINDOW_S]
        searches = [dt for dt, s in recent if s]
        return {"window_s": span,
                "requests": {"qps": len(recent) / span, "count": len(recent),
                             **_percentiles([dt for dt, _ in recent])},
                "searches": {"qps": len(searches) / span, "count": len(searches),
                             **_percentiles(searches)}}

    def stats(self) -> dict:
        cols = []
        for col in self.db.open_collections():
            try:
                info = col.info()
            except ValueError:  # closed meanwhile
                continue
            cols.append({"name": col.name, "points": info["points"], "dim": info["dim"],
                         "metric": info["metric"], "index": info["index"].get("kind"),
                         "segments": info["sealed_segments"] + info["sealing"] + 1,
                         "indexed_rows": info["indexed_rows"], "rows": info["rows"],
                         "recall": self.recall.collection(col.name)})
        snap = self.recall.snapshot()
        return {"uptime_s": time.time() - self.started, **self.traffic(),
                "collections": cols, "slow_queries": list(self.slow_queries)[:20],
                "recall_monitor": {"sample": self.recall.sample, "sampled": snap["sampled"],
                                   "dropped": snap["dropped"],
                                   "exact_seconds": snap["exact_seconds"]},
                "batching": {"window_ms": self.settings.batch_window_ms,
                             "max_batch": self.settings.batch_max,
                             "enabled": self.batcher is not None}}

    def close(self) -> None:
        self.recall.close()


def _route_template(request: Request) -> str:
    route = request.scope.get("route")
    if route is not None and hasattr(route, "path"):
        return route.path
    for r in request.app.router.routes:
        match, _ = r.matches(request.scope)
        if match == Match.FULL:
            return getattr(r, "path", "unmatched")
    return "unmatched"


class _ObserveMiddleware:
    """Pure ASGI middleware (outermost): gives each request its id (a well-formed
    ``x-request-id`` header, else a new one, echoed in the response), makes it the
    current request of the code it runs (worker threads included), and counts, times
    and logs it when its response has gone."""

    def __init__(self, app, obs: Observer):
        self.app, self.obs = app, obs

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        for key, value in scope.get("headers", ()):
            if key == b"x-request-id":
                rid = value.decode("latin-1")
                break
        if rid is None or not _ID_OK.match(rid):
            rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        header = (b"x-request-id", rid.encode("latin-1"))
        rec = _RequestRecord(rid)
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = _current.set(rec)
        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
            request = Request(scope)
            self.obs.request_done(request, rid, _route_template(request), status,
                                  time.perf_counter() - t0, rec)


def install(app, ctx) -> Observer:
    """Adds the observer to ``app``: ``ctx.searcher``, the request middleware, the
    metrics, stats and dashboard routes, and closing with the app."""
    obs = Observer(ctx.db, ctx.settings)
    ctx.searcher = obs.search
    ctx.batch_searcher = obs.search_batch
    ctx.closers.append(obs.close)
    app.state.observer = obs

    app.add_middleware(_ObserveMiddleware, obs=obs)

    @app.get("/metrics", tags=["service"], response_class=Response)
    async def metrics():
        data = await ctx.run(obs.metrics.render)
        return Response(data, media_type=CONTENT_TYPE_LATEST)

    @app.get("/warpsearch/stats", tags=["warpsearch"])
    async def stats(request: Request):
        return await ctx.answer(request, obs.stats)

    @app.get("/warpsearch/slow_queries", tags=["warpsearch"])
    async def slow_queries(request: Request):
        return await ctx.answer(request, lambda: list(obs.slow_queries))

    @app.get("/warpsearch/collections/{name}/recall", tags=["warpsearch"])
    async def recall(request: Request, name: str):
        def work():
            ctx.collection(name)  # 404 for an unknown collection
            return {"collection": name, **obs.recall.collection(name),
                    "sample": obs.recall.sample}
        return await ctx.answer(request, work)

    @app.get("/dashboard", tags=["service"], response_class=FileResponse)
    async def dashboard():
        return FileResponse(os.path.join(_DASHBOARD, "index.html"), media_type="text/html")

    @app.get("/dashboard/{file}", tags=["service"], response_class=FileResponse)
    async def dashboard_file(file: str):
        if file not in _DASHBOARD_FILES:
            raise ApiError(404, f"Not found: {file}")
        return FileResponse(os.path.join(_DASHBOARD, file), media_type=_DASHBOARD_FILES[file])

    return obs


def configure_logging(level: str = "info"):
    """Sends the access and slow-query logs to stderr as bare JSON lines (one object
    per line, no prefix), at ``level``. Records are handed to a writer thread, so a
    slow stderr never stalls the event loop; returns that writer, whose ``stop()``
    writes what is queued (call it at shutdown)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    q: queue.SimpleQueue = queue.SimpleQueue()
    for lg in (access_log, slow_log):
        lg.handlers[:] = [_LineQueueHandler(q)]
        lg.propagate = False
        lg.setLevel(level.upper())
    writer = _LogWriter(q, handler)
    writer.start()
    return writer


class _LineQueueHandler(logging.handlers.QueueHandler):
    """Queues a record as it is when its message is a finished line (a str without
    arguments, as these logs write them): the writer thread formats it, instead of
    the event loop copying and formatting every record first."""

    def prepare(self, record):
        if record.args or not isinstance(record.msg, str) or record.exc_info:
            return super().prepare(record)
        return record


_STOP = object()


class _LogWriter:
    """The writer thread of ``configure_logging``: each wake-up writes every record
    queued so far with one write and one flush (not one of each per request)."""

    def __init__(self, q, handler):
        self.q, self.handler = q, handler
        self._thread = threading.Thread(target=self._run, name="warpsearch-log-writer",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            batch, stop = [self.q.get()], False
            while True:
                try:
                    batch.append(self.q.get_nowait())
                except queue.Empty:
                    break
            if any(r is _STOP for r in batch):
                batch, stop = [r for r in batch if r is not _STOP], True
            self._write(batch)
            if stop:
                return

    def _write(self, batch) -> None:
        h = self.handler
        lines = []
        for r in batch:
            try:
                lines.append(h.format(r) + h.terminator)
            except Exception:  # a record that cannot be formatted: logging's own report
                h.handleError(r)
        if not lines:
            return
        try:
            with h.lock:
                h.stream.write("".join(lines))
                h.flush()
        except Exception:
            h.handleError(batch[-1])

    def stop(self) -> None:
        """Writes what is queued and ends the thread."""
        if self._thread.is_alive():
            self.q.put(_STOP)
            self._thread.join(10)
