# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""warpsearch's own endpoints, ``/warpsearch/collections/{name}/<method>``: the
embedded ``Collection`` API over HTTP with its own conventions (ids as given, no
UUID normalization; squared L2 scores; storage-order scroll), used by the native
client, plus ``explain`` and the binary batch search ``search_npy``.

``search_npy`` takes an ``application/x-npy`` body (float32 or float64, shape
``(nq, dim)`` or ``(dim,)``) and the query parameters ``k``, ``filter`` (JSON),
``ef``, ``nprobe``, ``refine_factor``, ``with_payload``, ``timeout``; it answers an ``.npz``:

- ``scores``: float32 ``(nq, k)``, NaN where a query has fewer than k results;
- ``ids``: int64 ``(nq, k)`` with -1 padding when every id returned is an integer
  below 2**63; otherwise a unicode array of the ids written as text ("" padding)
  and ``id_is_int``, a bool array telling which entries were integers;
- ``payloads`` (with ``with_payload=true``): the UTF-8 JSON of the per-query lists
  of payloads, as a uint8 array.
"""

from __future__ import annotations

import io

import numpy as np
import orjson
from fastapi import Request
from fastapi.responses import Response

from .app import JSON_BODY, read_json
from .qdrant import ApiError, as_dict, check_results, get_int, known_fields

__all__ = ["register", "encode_batch"]



def _k(body, max_k):
    return get_int(body, "k", 10, 1, max_k)


def _records(recs):
    return [None if r is None else {"id": r.id, "payload": r.payload,
                                    "vector": None if r.vector is None else r.vector.tolist()}
            for r in recs]


def encode_batch(res, with_payload: bool) -> bytes:
    """The ``search_npy`` answer for ``res`` (a ``BatchResults``)."""
    out = {"scores": res.scores.astype(np.float32, copy=False)}
    ints = res.int_ids()
    if ints is not None:
        out["ids"] = ints
    else:
        ids = res.ids
        out["ids"] = np.array([["" if u is None else str(u) for u in row] for row in ids],
                              dtype=str).reshape(ids.shape)
        out["id_is_int"] = np.array([[isinstance(u, int) for u in row] for row in ids],
                                    dtype=bool).reshape(ids.shape)
    if with_payload:
        out["payloads"] = np.frombuffer(res.payloads_json(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **out)
    return buf.getvalue()


def _query_bool(v, name):
    if v is None:
        return False
    if v.lower() in ("1", "true", "yes"):
        return True
    if v.lower() in ("0", "false", "no"):
        return False
    raise ApiError(400, f"{name} must be true or false, got {v!r}")


def _query_int(params, name, hi):
    v = params.get(name)
    if v is None:
        return None
    try:
        n = int(v)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {v!r}") from None
    if not 1 <= n <= hi:
        raise ApiError(400, f"{name} must be in [1, {hi}], got {n}")
    return n


_SEARCH = ("vector", "k", "filter", "ef", "nprobe", "refine_factor")
#: The body fields of each native endpoint (anything else is a 400 naming it).
_FIELDS = {
    "/upsert": frozenset({"ids", "vectors", "payloads", "batch_size"}),
    "/get": frozenset({"ids"}),
    "/delete": frozenset({"ids", "filter"}),
    "/search": frozenset({*_SEARCH, "with_payload", "timeout", "return_stats"}),
    "/explain": frozenset(_SEARCH),
    "/scroll": frozenset({"filter", "limit", "offset", "with_vectors", "with_payload"}),
    "/count": frozenset({"filter"}),
    "/flush": frozenset({"timeout"}),
    "/create_field_index": frozenset({"name", "type"}),
}


def register(app, ctx) -> None:
    max_k = ctx.settings.max_k
    base = "/warpsearch/collections/{name}"

    def route(method, path, fn):
        fields = _FIELDS.get(path, frozenset())

        async def endpoint(request: Request, name: str):
            body = as_dict(await read_json(request)) if method == "post" else {}
            known_fields(body, fields, path.lstrip("/"))
            return await ctx.answer(request, lambda: fn(ctx.collection(name), body))
        getattr(app, method)(base + path, tags=["warpsearch"],
                             openapi_extra=JSON_BODY if method == "post" else None,
                             name=f"warpsearch {method} {path}")(endpoint)

    def upsert(col, b):
        vecs = b.get("vectors")
        if not isinstance(vecs, list):
            raise ApiError(400, "vectors must be a list of vectors")
        kw = {}
        if b.get("batch_size") is not None:
            kw["batch_size"] = b["batch_size"]
        return {"sequence": col.upsert(b.get("ids"), vecs, b.get("payloads"), progress=False,
                                       **kw)}

    def get(col, b):
        return _records(col.get(b.get("ids")))

    def delete(col, b):
        return {"deleted": col.delete(b.get("ids"), filter=b.get("filter"))}

    def _search_args(b):
        return dict(k=_k(b, max_k), filter=b.get("filter"), ef=b.get("ef"),
                    nprobe=b.get("nprobe"), refine_factor=b.get("refine_factor"))

    def search(col, b):
        if "vector" not in b:
            raise ApiError(400, "search needs a 'vector'")
        hits, stats = ctx.search(col, b["vector"],
                                 with_payload=bool(b.get("with_payload", True)),
                                 timeout=b.get("timeout"), **_search_args(b))
        out = {"hits": [[h.id, h.score, h.payload] for h in hits]}
        if b.get("return_stats"):
            out["stats"] = stats
        return out

    def explain(col, b):
        if "vector" not in b:
            raise ApiError(400, "explain needs a 'vector'")
        return col.explain(b["vector"], **_search_args(b))

    def scroll(col, b):
        limit = get_int(b, "limit", 100, 0, max_k)
        offset = get_int(b, "offset", 0, 0, 1 << 62)
        return _records(col.scroll(b.get("filter"), limit=limit, offset=offset,
                                   with_vectors=bool(b.get("with_vectors", True)),
                                   with_payload=bool(b.get("with_payload", True))))

    def count(col, b):
        return col.count(b.get("filter"))

    def flush(col, b):
        col.flush(timeout=b.get("timeout"))
        return True

    def create_field_index(col, b):
        col.create_field_index(b.get("name"), b.get("type"))
        return True

    route("post", "/upsert", upsert)
    route("post", "/get", get)
    route("post", "/delete", delete)
    route("post", "/search", search)
    route("post", "/explain", explain)
    route("post", "/scroll", scroll)
    route("post", "/count", count)
    route("post", "/flush", flush)
    route("post", "/compact", lambda col, b: col.compact(progress=False))
    route("post", "/create_field_index", create_field_index)
    route("get", "/info", lambda col, b: col.info())

    @app.post(base + "/offload", tags=["warpsearch"], openapi_extra=JSON_BODY,
              name="warpsearch post /offload")
    async def offload(request: Request, name: str):
        """Frees the collection's memory: closed on local disk, or (``{"to": URL}``)
        moved to object storage as a verified snapshot; the next request that uses
        it activates it."""
        body = as_dict(await read_json(request))
        to = body.get("to")
        if to is not None and not isinstance(to, str):
            raise ApiError(400, "to must be a directory or URL string (or null)")

        def work():
            try:
                return ctx.db.offload(name, to=to)
            except KeyError:
                raise ApiError(404, f"Not found: Collection `{name}` doesn't exist!") from None
        return await ctx.answer(request, work)

    @app.get(base + "/tier", tags=["warpsearch"], name="warpsearch get /tier")
    async def tier(request: Request, name: str):
        """Where the collection is: ``ram``, ``disk`` or ``object`` (does not load it)."""
        def work():
            try:
                return {"tier": ctx.db.tier(name)}
            except KeyError:
                raise ApiError(404, f"Not found: Collection `{name}` doesn't exist!") from None
        return await ctx.answer(request, work)

    @app.post(base + "/search_npy", tags=["warpsearch"], openapi_extra={
        "requestBody": {"required": True, "content": {"application/x-npy": {
            "schema": {"type": "string", "format": "binary"}}}}},
        response_class=Response)
    async def search_npy(request: Request, name: str):
        raw = await request.body()
        p = request.query_params
        k = _query_int(p, "k", max_k) or 10
        filt = None
        if p.get("filter"):
            try:
                filt = orjson.loads(p["filter"])
            except orjson.JSONDecodeError as exc:
                raise ApiError(400, f"filter is not valid JSON: {exc}") from None
        with_payload = _query_bool(p.get("with_payload"), "with_payload")
        timeout = None
        if p.get("timeout"):
            try:
                timeout = float(p["timeout"])
            except ValueError:
                raise ApiError(400, f"timeout must be seconds, got {p['timeout']!r}") from None
        try:
            Q = np.load(io.BytesIO(raw), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ApiError(400, f"the body must be one .npy array: {exc}") from None
        if Q.dtype not in (np.float32, np.float64):
            raise ApiError(400, f"queries must be float32 (or float64), got {Q.dtype}")
        if Q.ndim == 1:
            Q = Q[None, :]
        if Q.ndim != 2 or Q.shape[0] > ctx.settings.max_batch:
            raise ApiError(400, f"queries must have shape (nq, dim) with nq <= "
                                f"{ctx.settings.max_batch}, got {Q.shape}")
        check_results(Q.shape[0] * k, ctx.settings.max_results)

        def work():
            col = ctx.collection(name)
            res, _ = ctx.search_batch(col, Q, k=k, filter=filt,
                                      ef=_query_int(p, "ef", 1_000_000),
                                      nprobe=_query_int(p, "nprobe", 1_000_000),
                                      refine_factor=_query_int(p, "refine_factor", 1_000),
                                      with_payload=with_payload, timeout=timeout)
            return encode_batch(res, with_payload)

        data = await ctx.run(work)
        return Response(data, media_type="application/octet-stream")
