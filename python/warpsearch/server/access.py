# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The access middleware: every request is matched to its route, authenticated
(``api-key`` header or ``Authorization: Bearer``), checked against the route's
permission and the collection's owner, rate limited, size limited and counted,
before the route runs.

Statuses: 401 without a valid key; 403 for a key outside its rights (role too
low, a collection outside its list, dropping or re-indexing a shared collection
with a tenant key, creating a collection whose name another tenant holds); 404
for another tenant's collection (the same answer as a collection that does not
exist, so names do not leak); 429 with ``Retry-After`` past the key's rate; 413
past ``max_body_bytes``.

With no key configured, keyless requests are served to loopback clients only
(and ``warpsearch serve`` refuses to listen elsewhere without keys).

A route missing from ``PERMISSIONS`` needs an admin key without a tenant.
"""

from __future__ import annotations

import ipaddress
import os

import orjson
from fastapi import Request
from starlette.routing import Match

from .auth import ANONYMOUS, KEYS_FILE, ROLES, KeyStore, Principal
from .quotas import BodyTooLarge, RateLimiter, Usage, limit_receive
from .tenancy import REGISTRY_FILE, Guard, Registry, current_principal

__all__ = ["install", "AccessMiddleware", "PERMISSIONS", "PUBLIC"]

PUBLIC = "public"
_P = "/collections/{name}/points"
_S = "/collections/{name}/snapshots"
_W = "/warpsearch/collections/{name}"

#: (method, route path) -> permission. ``read`` / ``write``: that role; ``manage``:
#: write, and not a shared collection seen by a tenant; ``create``: write, name not
#: held by another tenant; ``snapshot``: admin, not shared; ``exists``: read (another
#: tenant's collection "does not exist"); ``list``: read (listing is filtered);
#: ``usage``: admin (a tenant's admin sees its tenant); ``admin``: admin, no tenant.
PERMISSIONS = {
    **{("GET", p): PUBLIC for p in ("/", "/healthz", "/livez", "/readyz", "/openapi.json",
                                    "/docs", "/docs/oauth2-redirect", "/redoc")},
    # the dashboard's static files hold no data: a browser loads them without a key
    # header, and the page then sends its key with each /warpsearch/stats request
    ("GET", "/dashboard"): PUBLIC,
    ("GET", "/dashboard/{file}"): PUBLIC,
    ("GET", "/collections"): "list",
    ("GET", "/collections/{name}"): "read",
    ("GET", "/collections/{name}/exists"): "exists",
    ("PUT", "/collections/{name}"): "create",
    ("DELETE", "/collections/{name}"): "manage",
    ("PUT", "/collections/{name}/index"): "manage",
    ("PUT", _P): "write",
    ("POST", _P): "read",
    ("GET", _P + "/{point_id}"): "read",
    **{("POST", _P + s): "write" for s in ("/delete", "/payload", "/payload/delete",
                                           "/payload/clear")},
    ("PUT", _P + "/payload"): "write",
    **{("POST", _P + s): "read" for s in ("/scroll", "/count", "/search", "/search/batch",
                                          "/query", "/query/batch", "/recommend",
                                          "/recommend/batch")},
    ("POST", _S): "snapshot",
    ("GET", _S): "snapshot",
    ("GET", _S + "/{snap}"): "snapshot",
    ("DELETE", _S + "/{snap}"): "snapshot",
    ("PUT", _S + "/recover"): "admin",
    **{("POST", _W + s): "write" for s in ("/upsert", "/delete", "/flush", "/compact")},
    **{("POST", _W + s): "read" for s in ("/get", "/search", "/explain", "/scroll", "/count",
                                          "/search_npy")},
    ("GET", _W + "/info"): "read",
    ("POST", _W + "/create_field_index"): "manage",
    ("GET", "/warpsearch/usage"): "usage",
    ("POST", _W + "/offload"): "admin",
    ("GET", _W + "/tier"): "admin",
}

_ROLE_OF = {"read": "read", "list": "read", "exists": "read", "write": "write",
            "manage": "write", "create": "write", "snapshot": "admin", "usage": "admin",
            "admin": "admin"}
_QUERY_WORDS = ("/search", "/query", "/recommend", "/explain")


def _json(status, message, headers=()):
    body = orjson.dumps({"status": {"error": message}, "time": 0.0})
    return status, body, [(b"content-type", b"application/json"),
                          (b"content-length", str(len(body)).encode()), *headers]


def _find(exc, kind, depth=0):
    """``exc`` or the exception of type ``kind`` it was raised from or groups."""
    if exc is None or depth > 8:
        return None
    if isinstance(exc, kind):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _find(inner, kind, depth + 1)
        if found is not None:
            return found
    return _find(exc.__cause__ or exc.__context__, kind, depth + 1)


def _loopback(client) -> bool:
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def _key_of(headers: dict):
    key = headers.get(b"api-key")
    if key is None:
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            key = auth[7:].strip()
    return None if key is None else key.decode("latin-1")


class AccessMiddleware:
    """Pure ASGI middleware (outermost): decides before the route runs."""

    def __init__(self, app, guard: Guard, keys: KeyStore, routes, max_body_bytes: int,
                 usage: Usage):
        self.app, self.guard, self.keys = app, guard, keys
        self.routes = routes  # the app's route list (routes added later included)
        self.max_body = max_body_bytes
        self.usage = usage
        self.rates = RateLimiter()

    def _route(self, scope):
        partial = None
        for route in self.routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                return route.path, child.get("path_params", {})
            if match == Match.PARTIAL and partial is None:
                partial = (route.path, child.get("path_params", {}))
        return partial or (None, {})

    def _principal(self, scope, headers):
        key = _key_of(headers)
        if key is None:
            if not self.keys.has_keys:
                if _loopback(scope.get("client")):
                    return ANONYMOUS, None
                return None, _json(401, "Unauthorized: no API keys are configured, so only "
                                        "loopback clients are served")
            return None, _json(401, "Unauthorized: this server needs an API key (the "
                                    "api-key header or Authorization: Bearer)",
                               [(b"www-authenticate", b"Bearer")])
        p = self.keys.authenticate(key)
        if p is None:
            return None, _json(401, "Unauthorized: invalid API key",
                               [(b"www-authenticate", b"Bearer")])
        return p, None

    def _decide(self, p: Principal, perm: str, params: dict, method: str):
        """None to go on, ``(status, body, headers)`` to refuse, or ``"exists-false"``."""
        need = _ROLE_OF.get(perm, "admin")
        if p.rank < ROLES[need] or (perm == "admin" and not p.is_global_admin):
            return _json(403, f"Forbidden: this needs a{'n' if need == 'admin' else ''} "
                              f"{need} key{' without a tenant' if perm == 'admin' else ''}")
        name = params.get("name")
        if name is None:
            return None
        if p.collections is not None and name not in p.collections:
            if perm == "exists":
                return "exists-false"
            return _json(403, f"Forbidden: this key is limited to the collections "
                              f"{', '.join(sorted(p.collections))}")
        how = self.guard.access(p, name)
        if how == "hidden":
            if perm == "exists":
                return "exists-false"
            if perm == "create":
                return _json(403, f"Forbidden: the collection name `{name}` is not "
                                  "available to this key")
            return _json(404, f"Not found: Collection `{name}` doesn't exist!")
        if how == "shared" and perm in ("manage", "snapshot"):
            return _json(403, "Forbidden: a shared (is_tenant) collection is managed with "
                              "a key without a tenant")
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method = scope["method"]
        headers = dict(scope.get("headers") or ())
        path, params = self._route(scope)
        perm = PERMISSIONS.get(("GET" if method == "HEAD" else method, path),
                               "read" if path is None else "admin")
        refusal, p = None, None
        if perm != PUBLIC:
            p, refusal = self._principal(scope, headers)
            if p is not None and p.tenant is not None:
                # the request's tenant, for the access log and the metrics' labels
                # (the observer, outside this middleware, reads the same scope)
                scope.setdefault("state", {})["tenant"] = p.tenant
            if refusal is None:
                refusal = self._decide(p, perm, params, method)
            if refusal is None:
                wait = self.rates.wait(p)
                if wait > 0:
                    refusal = _json(429, f"Too many requests: this key's rate limit is "
                                         f"{p.limit('rate'):g} requests per second",
                                    [(b"retry-after", RateLimiter.retry_after(wait).encode())])
        if refusal is None:
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                refusal = _json(413, f"Payload too large: the request body is {int(length)} "
                                     f"bytes; the server's max-body-bytes is {self.max_body}")
        if refusal == "exists-false":
            body = orjson.dumps({"result": {"exists": False}, "status": "ok", "time": 0.0})
            refusal = (200, body, [(b"content-type", b"application/json"),
                                   (b"content-length", str(len(body)).encode())])
        scope_name = None if p is None else ("anonymous" if p.key_id is None else p.scope)
        if refusal is not None:
            status, body, hdrs = refusal
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
            await send({"type": "http.response.body", "body": body})
            if scope_name is not None:
                self.usage.add(scope_name, requests=1, bytes_out=len(body))
            return
        counts = {"bytes_in": 0, "bytes_out": 0, "started": False}

        def count_in(n):
            counts["bytes_in"] += n

        async def counting_send(message):
            if message["type"] == "http.response.body":
                counts["bytes_out"] += len(message.get("body", b""))
            counts["started"] = True
            await send(message)

        token = current_principal.set(p)
        try:
            await self.app(scope, limit_receive(receive, self.max_body, count_in),
                           counting_send)
        except Exception as exc:  # a streamed body past the limit, seen by a middleware
            too_large = _find(exc, BodyTooLarge)
            if too_large is None or counts["started"]:
                raise
            status, body, hdrs = _json(413, too_large.message)
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
            await send({"type": "http.response.body", "body": body})
        finally:
            current_principal.reset(token)
            counts.pop("started")
            if scope_name is not None:
                queries = int(path is not None and perm == "read"
                              and any(w in path for w in _QUERY_WORDS))
                self.usage.add(scope_name, requests=1, queries=queries, **counts)


def _usage_rows(guard: Guard, keys: KeyStore, usage: Usage, p: Principal) -> list:
    counters = usage.snapshot()
    scopes = {}  # scope -> Principal-like for counting
    for rec in keys.records():
        q = Principal(key_id=rec["id"], role=rec["role"], tenant=rec.get("tenant"))
        scopes.setdefault(q.scope, q)
    for name, e in guard.registry.items():
        if e.get("owner") is not None:
            q = Principal(key_id=None, role="read", tenant=e["owner"])
            scopes.setdefault(q.scope, q)
    rows = []
    names = set(scopes) | set(counters)
    if not p.is_global_admin:
        names = {p.scope} if p.key_id is not None else names
    for s in sorted(names):
        q = scopes.get(s)
        row = {"scope": s, "tenant": None if q is None else q.tenant,
               "key": None if q is None or q.tenant is not None else q.key_id,
               "points": 0, "collections": 0, "stored_bytes": 0}
        if q is not None:
            owned = guard.owned_by(q)
            row["collections"] = len(owned)
            row["points"] = guard.points_of(q)
            row["stored_bytes"] = guard.stored_bytes_of(q)
        row.update(counters.get(s, dict.fromkeys(Usage.FIELDS, 0)))
        rows.append(row)
    return rows


def install(app, ctx) -> None:
    """Adds the access middleware and ``GET /warpsearch/usage`` to ``app`` and the
    guard to ``ctx`` (the keys file: ``settings.api_keys`` or ``<db>/api_keys.json``)."""
    settings = ctx.settings
    keys = KeyStore(getattr(settings, "api_keys", None)
                    or os.path.join(ctx.db.path, KEYS_FILE))
    guard = Guard(ctx.db, keys, Registry(os.path.join(ctx.db.path, REGISTRY_FILE)))
    ctx.guard = guard
    usage = Usage()

    @app.get("/warpsearch/usage", tags=["warpsearch"])
    async def usage_report(request: Request):
        p = current_principal.get() or ANONYMOUS
        return await ctx.answer(request, lambda: {"tenants": _usage_rows(guard, keys, usage,
                                                                         p)})

    app.add_middleware(AccessMiddleware, guard=guard, keys=keys, routes=app.router.routes,
                       max_body_bytes=getattr(settings, "max_body_bytes", 32 << 20),
                       usage=usage)

