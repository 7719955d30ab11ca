# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Qdrant's collection endpoints: create, info, list, exists, delete, and payload
index creation."""

from __future__ import annotations

from fastapi import Request

from ..db import FlatConfig, HNSWConfig
from ..db.config import index_config_from_dict
from .app import JSON_BODY, read_json
from .qdrant import (CREATE_FIELDS, DISTANCES, FIELD_INDEX_FIELDS, METRIC_NAMES,
                     VECTOR_PARAMS_FIELDS, ApiError, as_dict, field_schema, known_fields,
                     qdrant_field_type, reject_unsupported, vector_name)

__all__ = ["register", "collection_info", "create_args"]


def _hnsw(cfg, where):
    """Qdrant's ``hnsw_config`` -> an index configuration (``m == 0``: no graph)."""
    cfg = as_dict(cfg, where)
    m, efc = cfg.get("m"), cfg.get("ef_construct")
    if m == 0:
        return FlatConfig()
    kw = {}
    if m is not None:
        kw["M"] = m
    if efc is not None:
        kw["ef_construction"] = efc
    return HNSWConfig(**kw)


def create_args(body: dict) -> dict:
    """The ``create_collection`` arguments of Qdrant's create-collection body. The
    optional ``warpsearch`` object passes the embedded database's own settings
    (``index``: an index configuration dict, ``schema``, ``segment_size``,
    ``device``); Qdrant clients never send it."""
    body = as_dict(body)
    known_fields(body, CREATE_FIELDS, "create collection")
    reject_unsupported(body, ("sparse_vectors", "sharding_method", "init_from"))
    vectors = body.get("vectors")
    if isinstance(vectors, dict) and "size" not in vectors and len(vectors) == 1:
        # one named vector ({"": {...}}, {"text-dense": {...}}): the collection's one
        # dense vector, which requests may then name (see qdrant.vector_name)
        (name, vectors), = vectors.items()
        vector_name(name, "the vector name")
    if not isinstance(vectors, dict) or "size" not in vectors:
        raise ApiError(400, "vectors must be {'size': N, 'distance': 'Cosine' | 'Euclid' | "
                            "'Dot'} or one named vector {NAME: {...}}; a collection holds "
                            "one dense vector")
    known_fields(vectors, VECTOR_PARAMS_FIELDS, "vectors")
    reject_unsupported(vectors, ("multivector_config",))
    if vectors.get("datatype") not in (None, "float32"):
        raise ApiError(400, f"vectors.datatype {vectors['datatype']!r} is not supported "
                            "(float32 only)")
    dist = vectors.get("distance")
    if dist not in DISTANCES:
        raise ApiError(400, f"vectors.distance must be one of {', '.join(DISTANCES)}, "
                            f"got {dist!r}")
    size = vectors["size"]
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 65536:
        raise ApiError(400, f"vectors.size must be an integer in [1, 65536], got {size!r}")
    args = {"dim": size, "metric": DISTANCES[dist]}
    hnsw = vectors.get("hnsw_config") or body.get("hnsw_config")
    if hnsw:
        args["index"] = _hnsw(hnsw, "hnsw_config")
    own = body.get("warpsearch")
    if own is not None:
        own = as_dict(own, "warpsearch")
        extra = set(own) - {"index", "schema", "segment_size", "device"}
        if extra:
            raise ApiError(400, f"warpsearch: unknown settings {sorted(extra)}")
        if own.get("index") is not None:
            args["index"] = index_config_from_dict(as_dict(own["index"], "warpsearch.index"))
        for k in ("schema", "segment_size", "device"):
            if own.get(k) is not None:
                args[k] = own[k]
    return args


def cluster_args(body: dict) -> dict:
    """A cluster database's layout from Qdrant's create-collection body:
    ``shard_number`` shards of ``replication_factor`` replicas, a write acknowledged by
    ``write_consistency_factor`` of them (1: one, all of them: all, else a quorum)."""
    out = {}
    for key, arg in (("shard_number", "shards"), ("replication_factor", "replication_factor")):
        v = body.get(key)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1024:
                raise ApiError(400, f"{key} must be an integer in [1, 1024], got {v!r}")
            out[arg] = v
    w = body.get("write_consistency_factor")
    if w is not None:
        rf = out.get("replication_factor", 1)
        if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= rf:
            raise ApiError(400, f"write_consistency_factor must be an integer in [1, {rf}], "
                                f"got {w!r}")
        out["write_consistency"] = "one" if w == 1 else "all" if w == rf else "quorum"
    return out


def collection_info(col) -> dict:
    """Qdrant's CollectionInfo of ``col`` (plus ``warpsearch``: the database's own)."""
    info = col.info()
    busy = info["sealing"] > 0 or info["indexed_rows"] < info["rows"]
    bg_error = info["background"]["error"]
    cfg = info["index"]
    hnsw = {"m": cfg["M"], "ef_construct": cfg["ef_construction"]} \
        if cfg["kind"] == "hnsw" else {"m": 0, "ef_construct": 100}
    schema = {}
    for name, spec in col.schema.items():
        schema[name] = {"data_type": qdrant_field_type(spec), "params": None,
                        "points": col.count({"must_not": [{"is_empty": {"key": name}}]})}
    return {
        "status": "red" if bg_error else ("yellow" if busy else "green"),
        "optimizer_status": {"error": bg_error} if bg_error else "ok",
        "warnings": [],
        "indexed_vectors_count": info["indexed_rows"],
        "points_count": info["points"],
        "segments_count": info["sealed_segments"] + info["sealing"] + 1,
        "config": {
            "params": {"vectors": {"size": info["dim"], "distance": METRIC_NAMES[info["metric"]]},
                       "shard_number": len(info.get("shards") or [None]),
                       "replication_factor": info.get("replication_factor", 1),
                       "write_consistency_factor": 1, "on_disk_payload": False},
            "hnsw_config": {**hnsw, "full_scan_threshold": 10000},
            "optimizer_config": {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
                                 "default_segment_number": 0,
                                 "max_segment_size": col.segment_size,
                                 "flush_interval_sec": 0},
            "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
            "quantization_config": None,
        },
        "payload_schema": schema,
        "warpsearch": info,
    }


def register(app, ctx) -> None:
    db = ctx.db

    @app.get("/collections", tags=["collections"])
    async def list_collections(request: Request):
        return await ctx.answer(request, lambda: {
            "collections": [{"name": n} for n in db.list_collections()
                            if ctx.guard is None or ctx.guard.visible(n)]})

    @app.get("/collections/{name}", tags=["collections"])
    async def get_collection(request: Request, name: str):
        return await ctx.answer(request, lambda: collection_info(ctx.collection(name)))

    @app.get("/collections/{name}/exists", tags=["collections"])
    async def collection_exists(request: Request, name: str):
        def work():
            try:
                return {"exists": db.has_collection(name)}
            except ValueError:  # not a valid name: no such collection
                return {"exists": False}
        return await ctx.answer(request, work)

    @app.put("/collections/{name}", tags=["collections"], openapi_extra=JSON_BODY)
    async def create_collection(request: Request, name: str):
        body = await read_json(request)
        args = create_args(body)
        if getattr(db, "is_cluster", False):
            args.update(cluster_args(body))

        def work():
            if db.has_collection(name):
                raise ApiError(409, f"Wrong input: Collection `{name}` already exists!")
            if ctx.guard is not None:
                ctx.guard.before_create(name)  # the key's max-collections
            db.create_collection(name, **args)
            if ctx.guard is not None:
                ctx.guard.created(name)  # owned by the key's tenant
            return True
        return await ctx.answer(request, work)

    @app.delete("/collections/{name}", tags=["collections"])
    async def delete_collection(request: Request, name: str):
        def work():  # Qdrant answers false for a collection that does not exist
            try:
                db.drop_collection(name)
            except KeyError:
                return False
            if ctx.guard is not None:
                ctx.guard.dropped(name)
            return True
        return await ctx.answer(request, work)

    @app.put("/collections/{name}/index", tags=["indexes"], openapi_extra=JSON_BODY)
    async def create_field_index(request: Request, name: str):
        body = as_dict(await read_json(request))
        known_fields(body, FIELD_INDEX_FIELDS, "create field index")
        field = body.get("field_name")
        if not isinstance(field, str) or not field:
            raise ApiError(400, "field_name must be a non-empty string")
        spelled = field_schema(body.get("field_schema"))
        if ctx.guard is not None:
            ctx.guard.check_field_schema(body.get("field_schema"))  # is_tenant

        def work():
            col = ctx.collection(name)
            old = col.schema.get(field)
            if old is None or old.type != spelled.rstrip("[]"):  # same type: nothing to do
                col.create_field_index(field, spelled)
            if ctx.guard is not None:
                ctx.guard.field_indexed(name, field, body.get("field_schema"))
            return {"operation_id": col.sequence, "status": "completed"}
        return await ctx.answer(request, work)
