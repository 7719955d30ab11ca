# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The ASGI app: Qdrant's REST API over a ``warpsearch.db.Database``, plus
warpsearch's own endpoints under ``/warpsearch/``.

Database calls run in a thread pool (``Settings.threads`` of them), never on the
event loop, so a slow search does not hold up health checks or other requests.
Every answer uses Qdrant's envelope ``{"result": ..., "status": "ok", "time": s}``;
errors are ``{"status": {"error": message}, "time": s}`` with a 4xx status for bad
input (404: unknown collection or point, 409: collection exists, 408: search
timeout) and 5xx only for faults of the server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time

import anyio
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .observe import install as install_observer
from .qdrant import ApiError
from .settings import Settings

__all__ = ["create_app", "Context", "QDRANT_API_VERSION", "JSON_BODY", "read_json",
           "json_response"]

log = logging.getLogger("warpsearch.server")

#: The Qdrant REST API version whose request and response shapes the server follows
#: (checked against qdrant-client of the same minor version).
QDRANT_API_VERSION = "1.20.0"

#: OpenAPI request body of routes that read their JSON body themselves (Qdrant's
#: schemas are the reference for its fields).
JSON_BODY = {"requestBody": {"required": False, "content": {
    "application/json": {"schema": {"type": "object"}}}}}

_JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def json_response(content, status: int = 200) -> Response:
    return Response(orjson.dumps(content, option=_JSON_OPTS), status_code=status,
                    media_type="application/json")


class _TimerMiddleware:
    """Pure ASGI middleware: notes when the request reached the app (the ``time`` of
    every answer)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            scope.setdefault("state", {})["t0"] = time.perf_counter()
        await self.app(scope, receive, send)


def _elapsed(request: Request) -> float:
    t0 = getattr(request.state, "t0", None)
    return 0.0 if t0 is None else time.perf_counter() - t0


def error_response(request: Request, status: int, message: str) -> Response:
    return json_response({"status": {"error": message}, "time": _elapsed(request)}, status)


class Context:
    """What the routes share: the database, settings, the worker-thread limiter and
    the per-collection locks of read-modify-write payload updates."""

    def __init__(self, db, settings: Settings):
        self.db = db
        self.settings = settings
        self.limiter = anyio.CapacityLimiter(settings.threads)
        self._locks: dict = {}
        self._locks_mu = threading.Lock()
        self.snapshot_dir = settings.snapshot_dir or os.path.join(db.path, "snapshots")
        self.guard = None  # keys, tenants and quotas: set by ``access.install``
        self.searcher = _plain_search  # replaced by the observer (observe.py)
        self.batch_searcher = _plain_search_batch  # likewise
        self.closers: list = []  # run at shutdown, before the database closes

    def lock(self, name: str) -> threading.Lock:
        with self._locks_mu:
            return self._locks.setdefault(name, threading.Lock())

    def collection(self, name: str):
        """The open collection ``name`` as the request's key may use it (its tenant's
        points only in a shared collection); 404 when there is none."""
        try:
            col = self.db.get_collection(name)
        except KeyError:
            raise ApiError(404, f"Not found: Collection `{name}` doesn't exist!") from None
        return col if self.guard is None else self.guard.view(col)

    def search(self, col, vector, **kw):
        """A route's search (worker threads): ``(hits, stats)``, through the micro-batcher,
        the metrics, the slow-query log and the recall monitor."""
        return self.searcher(col, vector, **kw)

    def search_batch(self, col, vectors, **kw):
        """A route's batch of searches sharing ``k`` and filter (worker threads):
        ``(results, stats)`` in one ``search_batch`` call, through the metrics, the
        slow-query log and the recall monitor."""
        return self.batch_searcher(col, vectors, **kw)

    async def run(self, fn, *args):
        """Runs ``fn(*args)`` in the worker threads."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def answer(self, request: Request, fn, *args) -> Response:
        """Runs ``fn`` in the worker threads and wraps its result in the envelope."""
        result = await self.run(fn, *args)
        return json_response({"result": result, "status": "ok", "time": _elapsed(request)})


def _plain_search(col, vector, **kw):
    return col.search(vector, return_stats=True, **kw)


def _plain_search_batch(col, vectors, **kw):
    return col.search_batch(vectors, return_stats=True, **kw)


async def read_json(request: Request):
    """The request body as JSON (an empty body is ``{}``); malformed JSON is a 400."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"Format error in JSON body: {exc}") from None


def create_app(db, settings: Settings | None = None) -> FastAPI:
    """The ASGI app serving ``db``.

    Parameters
    ----------
    db : warpsearch.db.Database or warpsearch.cluster.ClusterDatabase
        The database to serve (open): embedded, or a cluster on Ray (collections
        created through Qdrant's API then take its ``shard_number`` and
        ``replication_factor``).
    settings : Settings, optional
        Thread count, limits, and whether the app closes ``db`` on shutdown.
    """
    from ..db import Database

    if not isinstance(db, Database) and not getattr(db, "is_cluster", False):
        raise TypeError("db must be a warpsearch Database (or a ClusterDatabase), got "
                        f"{type(db).__name__}")
    settings = Settings() if settings is None else settings
    ctx = Context(db, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:  # after uvicorn has drained the requests in flight
            for fn in ctx.closers:
                await anyio.to_thread.run_sync(fn)
            if settings.close_db:
                await anyio.to_thread.run_sync(db.close)
                log.info("database %s closed", db.path)

    from .. import __version__

    app = FastAPI(title="warpsearch", version=__version__ or "dev", lifespan=lifespan,
                  description="Qdrant-compatible REST API (the subset real clients use) "
                              "over the warpsearch embedded database, plus warpsearch's "
                              "own endpoints under /warpsearch/.")
    app.state.ctx = ctx

    app.add_middleware(_TimerMiddleware)

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return error_response(request, exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc: RequestValidationError):
        parts = [f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg')}"
                 for e in exc.errors()]
        return error_response(request, 422, "Validation error: " + "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        return error_response(request, exc.status_code, str(exc.detail))

    @app.exception_handler(ValueError)
    async def _value(request, exc):
        return error_response(request, 400, f"Wrong input: {exc}")

    @app.exception_handler(TypeError)
    async def _type(request, exc):
        return error_response(request, 400, f"Wrong input: {exc}")

    @app.exception_handler(TimeoutError)
    async def _timeout(request, exc):
        return error_response(request, 408, f"Timeout: {exc}")

    @app.get("/", tags=["service"])
    async def root():
        return json_response({"title": "warpsearch - Qdrant-compatible REST API",
                              "version": QDRANT_API_VERSION,
                              "warpsearch_version": __version__ or "dev"})

    @app.get("/healthz", tags=["service"], response_class=PlainTextResponse)
    async def healthz():
        return "healthz check passed"

    @app.get("/livez", tags=["service"], response_class=PlainTextResponse)
    async def livez():
        return "healthz check passed"

    @app.get("/readyz", tags=["service"], response_class=PlainTextResponse)
    async def readyz():
        return "all shards are ready"

    from . import routes_collections, routes_native, routes_points, routes_snapshots

    for mod in (routes_collections, routes_points, routes_snapshots, routes_native):
        mod.register(app, ctx)
    from .access import install as install_access

    install_access(app, ctx)  # API keys, tenants, quotas
    # installed last, so outermost: refused requests (401, 403, 429) are logged and counted
    install_observer(app, ctx)  # metrics, logs, recall monitor, micro-batcher, dashboard
    return app
