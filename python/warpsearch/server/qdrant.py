# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Qdrant's REST conventions, translated to and from the embedded database's:
point ids, distances and scores, payload / vector selectors, request fields.

Pure Python and NumPy (no web framework), so it is tested on its own.
"""

from __future__ import annotations

import math
import numbers
import uuid

import numpy as np

from .. import _core

__all__ = ["ApiError", "parse_id", "parse_ids", "DISTANCES", "to_qdrant_score", "to_qdrant_scores",
           "passes_threshold", "select_payload", "wants", "parse_vector", "field_schema",
           "qdrant_field_type", "id_sort_key", "get_limit", "get_offset", "search_ef",
           "reject_unsupported", "as_dict"]

#: Qdrant distance name -> the database's metric.
DISTANCES = {"Cosine": "cosine", "Euclid": "l2", "Dot": "ip"}
METRIC_NAMES = {v: k for k, v in DISTANCES.items()}

#: Qdrant payload index type -> schema type. Qdrant fields hold one value or an
#: array, so the array form (which also takes single values) is used where there is one.
_FIELD_TYPES = {"keyword": "keyword[]", "integer": "int[]", "float": "float[]",
                "bool": "bool[]", "geo": "geo[]", "datetime": "datetime[]", "text": "text",
                "uuid": "keyword[]"}
_QDRANT_TYPES = {"keyword": "keyword", "int": "integer", "float": "float", "bool": "bool",
                 "geo": "geo", "datetime": "datetime", "text": "text"}
_U64 = 1 << 64


class ApiError(Exception):
    """An error answered with HTTP ``status`` and ``message`` in Qdrant's error shape."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def as_dict(body, what: str = "request body") -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, f"{what} must be a JSON object, got {type(body).__name__}")
    return body


def parse_id(value):
    """An unsigned 64-bit integer, or a string (UUIDs normalized to the hyphenated
    lower-case form, as Qdrant returns them).

    Examples
    --------
    >>> parse_id("12345678123456781234567812345678")
    '12345678-1234-5678-1234-567812345678'
    >>> parse_id(7), parse_id("doc-1")
    (7, 'doc-1')
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ApiError(400, f"point id must be an unsigned integer or a UUID string, "
                            f"got {value!r}")
    if isinstance(value, int):
        if not 0 <= value < _U64:
            raise ApiError(400, f"point id {value} is outside the unsigned 64-bit range")
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        if not value:
            raise ApiError(400, "point id must not be an empty string") from None
        return value


def parse_ids(values, what: str = "ids") -> list:
    if not isinstance(values, list):
        raise ApiError(400, f"{what} must be a list of point ids, got {type(values).__name__}")
    return [parse_id(v) for v in values]


def id_sort_key(uid):
    """Qdrant's point order: integers first (by value), then strings."""
    return (0, uid, "") if isinstance(uid, int) else (1, 0, uid)


def to_qdrant_score(metric: str, score: float) -> float:
    """Qdrant reports Euclid as the distance, the database squared L2.

    Examples
    --------
    >>> to_qdrant_score("l2", 9.0), to_qdrant_score("cosine", 0.5)
    (3.0, 0.5)
    """
    return to_qdrant_scores(metric, [score])[0]


def to_qdrant_scores(metric: str, scores) -> list:
    """``to_qdrant_score`` of each of ``scores``, as Python floats."""
    if metric == "l2":
        return [math.sqrt(s) if s > 0 else 0.0 for s in map(float, scores)]
    return [float(s) for s in scores]


def check_results(n: int, cap: int) -> None:
    """400 when a batch asks for more than ``cap`` results in all."""
    if n > cap:
        raise ApiError(400, f"the batch asks for {n} results (queries x limit); the "
                            f"server's max-results is {cap}")


def passes_threshold(metric: str, qscore: float, threshold) -> bool:
    """``score_threshold``: an upper bound on distances, a lower bound on similarities."""
    if threshold is None:
        return True
    return qscore <= threshold if metric == "l2" else qscore >= threshold


def check_threshold(threshold):
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) \
            or not math.isfinite(threshold):
        raise ApiError(400, f"score_threshold must be a number, got {threshold!r}")
    return float(threshold)


def wants(selector, default: bool, what: str):
    """``with_vector`` / ``with_vectors``: False (none), True (the vector as a list),
    or, for a list of vector names, that list (the vector under each name asked: a
    collection's one dense vector answers to every name)."""
    if selector is None:
        return default
    if isinstance(selector, bool):
        return selector
    if isinstance(selector, list) and all(isinstance(s, str) for s in selector):
        return list(selector) if selector else False
    raise ApiError(400, f"{what} must be a bool or a list of vector names, got {selector!r}")


def vector_answer(vec, sel):
    """A point's ``vector`` field as ``sel`` (from ``wants``) asks: the list, or
    ``{name: list}`` for the names asked."""
    if vec is None or sel is False:
        return None
    v = vec.tolist() if hasattr(vec, "tolist") else vec
    return {name: v for name in sel} if isinstance(sel, list) else v


def payload_selector(selector, default: bool):
    """Normalizes ``with_payload`` to ``None`` (no payload), ``True`` (all), or
    ``("include" | "exclude", keys)``."""
    if selector is None:
        return True if default else None
    if isinstance(selector, bool):
        return True if selector else None
    if isinstance(selector, list) and all(isinstance(k, str) for k in selector):
        return ("include", set(selector))
    if isinstance(selector, dict) and len(selector) == 1:
        (kind, keys), = selector.items()
        if kind in ("include", "exclude") and isinstance(keys, list) \
                and all(isinstance(k, str) for k in keys):
            return (kind, set(keys))
    raise ApiError(400, "with_payload must be a bool, a list of keys, {'include': [...]} or "
                        f"{{'exclude': [...]}}; got {selector!r}")


def select_payload(payload, sel):
    """The payload as ``sel`` (from ``payload_selector``) asks."""
    if sel is None:
        return None
    if payload is None:
        return {}
    if sel is True:
        return payload
    kind, keys = sel
    if kind == "include":
        return {k: v for k, v in payload.items() if k in keys}
    return {k: v for k, v in payload.items() if k not in keys}


def vector_name(name, what: str = "using") -> None:
    """Checks a vector name (``using``, a named vector's name): a collection holds one
    dense vector, which every name refers to (the name a Qdrant client gave it when
    creating the collection, "" for the unnamed one)."""
    if name is not None and not isinstance(name, str):
        raise ApiError(400, f"{what} must be a vector name (a string), got {name!r}")


def parse_vector(value, dim: int, what: str = "vector") -> np.ndarray:
    """One dense vector (a list of ``dim`` finite numbers) as float32. A named vector
    (``{"name": ..., "vector": [...]}`` or ``{"<name>": [...]}``, one name) is the
    collection's one dense vector; sparse vectors and several named vectors are
    refused."""
    if isinstance(value, dict):
        if set(value) == {"name", "vector"}:
            name, value = value["name"], value["vector"]
        elif len(value) == 1:
            (name, value), = value.items()
        elif {"indices", "values"} <= set(value):
            raise ApiError(400, f"{what}: sparse vectors are not supported")
        else:
            raise ApiError(400, f"{what}: a point holds one dense vector, got "
                                f"{len(value)} named vectors")
        vector_name(name, f"{what}: the vector name")
        if isinstance(value, dict):
            raise ApiError(400, f"{what}: sparse vectors are not supported")
    if type(value) is list and len(value) == dim:
        rows = _core.float_rows([value], dim)  # the common case, checked in one pass
        if rows is not None:
            return rows[0]
    arr = None  # something is wrong with it: find out what, to say so
    if isinstance(value, list) and bool not in set(map(type, value)):
        try:  # one NumPy conversion; nested, ragged or non-numeric values fail below
            arr = np.asarray(value)
        except (ValueError, TypeError, OverflowError):
            arr = None
    if arr is None or arr.ndim != 1 or arr.dtype.kind not in "iuf":
        raise ApiError(400, f"{what} must be a list of numbers")
    if len(value) != dim:
        raise ApiError(400, f"{what}: wrong vector dimension: expected {dim}, got {len(value)}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ApiError(400, f"{what} has a non-finite value")
    with np.errstate(over="ignore"):
        out = arr.astype(np.float32)
    if not np.isfinite(out).all():
        raise ApiError(400, f"{what} has a value outside the float32 range")
    return out


def field_schema(spec) -> str:
    """Qdrant's ``field_schema`` (a type name or ``{"type": ...}``) -> schema type."""
    if isinstance(spec, dict):
        spec = spec.get("type")
    if not isinstance(spec, str) or spec not in _FIELD_TYPES:
        raise ApiError(400, f"field_schema must be one of {', '.join(_FIELD_TYPES)} "
                            f"(or {{'type': ...}}), got {spec!r}")
    return _FIELD_TYPES[spec]


def qdrant_field_type(spec) -> str:
    return _QDRANT_TYPES[spec.type]


def get_int(body: dict, key: str, default, lo: int, hi: int):
    v = body.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise ApiError(400, f"{key} must be an integer, got {v!r}")
    if not lo <= v <= hi:
        raise ApiError(400, f"{key} must be in [{lo}, {hi}], got {v}")
    return v


def get_limit(body: dict, max_k: int, default: int = 10, key: str = "limit") -> int:
    return get_int(body, key, default, 1, max_k)


def get_offset(body: dict, max_k: int) -> int:
    return get_int(body, "offset", 0, 0, max_k)


def search_ef(params):
    """``params``: ``hnsw_ef`` is the HNSW candidate list size; ``exact`` is refused
    (ask a flat collection for exact results); quantization options are accepted and
    ignored (the collection's index configuration decides)."""
    if params is None:
        return None
    params = as_dict(params, "params")
    if params.get("exact"):
        raise ApiError(400, "params.exact is not supported: collections search with their "
                            "configured index (use a flat index for exact search)")
    ef = params.get("hnsw_ef")
    if ef is None:
        return None
    if isinstance(ef, bool) or not isinstance(ef, int) or not 1 <= ef <= 1_000_000:
        raise ApiError(400, f"params.hnsw_ef must be an integer in [1, 1000000], got {ef!r}")
    return ef


def known_fields(body: dict, allowed, what: str) -> None:
    """A 400 naming the fields of ``body`` that its request type does not have (a
    misspelt field would otherwise be ignored without a word)."""
    extra = [k for k in body if k not in allowed]
    if extra:
        raise ApiError(400, f"{what}: unknown field{'s' if len(extra) > 1 else ''} "
                            f"{', '.join(repr(k) for k in sorted(map(str, extra)))}; the "
                            f"fields are {', '.join(sorted(allowed))}")


# The body fields of Qdrant's request types (its REST API), each request checked
# against its own: unsupported ones among them are refused by name where set.
SEARCH_FIELDS = frozenset({"vector", "filter", "params", "limit", "offset", "with_payload",
                           "with_vector", "score_threshold", "shard_key"})
QUERY_FIELDS = frozenset({"query", "using", "prefetch", "filter", "params", "limit",
                          "offset", "with_payload", "with_vector", "score_threshold",
                          "lookup_from", "shard_key"})
RECOMMEND_FIELDS = frozenset({"positive", "negative", "strategy", "using", "filter",
                              "params", "limit", "offset", "with_payload", "with_vector",
                              "score_threshold", "lookup_from", "shard_key"})
BATCH_FIELDS = frozenset({"searches"})
SCROLL_FIELDS = frozenset({"filter", "limit", "offset", "order_by", "with_payload",
                           "with_vector", "shard_key"})
COUNT_FIELDS = frozenset({"filter", "exact", "shard_key"})
RETRIEVE_FIELDS = frozenset({"ids", "with_payload", "with_vector", "shard_key"})
SELECT_FIELDS = frozenset({"points", "filter", "shard_key"})
SET_PAYLOAD_FIELDS = frozenset({"payload", "points", "filter", "key", "shard_key"})
DELETE_PAYLOAD_FIELDS = frozenset({"keys", "points", "filter", "shard_key"})
UPSERT_FIELDS = frozenset({"points", "batch", "update_filter", "update_mode", "shard_key"})
POINT_FIELDS = frozenset({"id", "vector", "payload"})
UPSERT_BATCH_FIELDS = frozenset({"ids", "vectors", "payloads"})
CREATE_FIELDS = frozenset({"vectors", "sparse_vectors", "shard_number", "sharding_method",
                           "replication_factor", "write_consistency_factor",
                           "on_disk_payload", "hnsw_config", "wal_config",
                           "optimizers_config", "quantization_config", "strict_mode_config",
                           "init_from", "metadata", "warpsearch"})
VECTOR_PARAMS_FIELDS = frozenset({"size", "distance", "hnsw_config", "quantization_config",
                                  "on_disk", "datatype", "multivector_config"})
FIELD_INDEX_FIELDS = frozenset({"field_name", "field_schema"})


def reject_unsupported(body: dict, keys) -> None:
    """A request naming a feature this server lacks gets a 400 saying which."""
    for k in keys:
        v = body.get(k)
        if v not in (None, "", [], {}):
            raise ApiError(400, f"{k!r} is not supported by this server")
