# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Qdrant's point endpoints: upsert, retrieve, delete, payload updates, scroll,
count, search (single and batch), query (nearest, by id, recommend) and recommend.

Scores follow Qdrant: Euclid is the distance (the square root of the database's
squared L2), Dot and Cosine the similarity. Payload updates read the points and
write them back (serialized per collection among payload updates; a concurrent
upsert of the same point may be overwritten by them).
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np
import orjson
from fastapi import Request

from .. import _core
from .app import JSON_BODY, read_json
from .qdrant import (BATCH_FIELDS, COUNT_FIELDS, DELETE_PAYLOAD_FIELDS, POINT_FIELDS,
                     QUERY_FIELDS, RECOMMEND_FIELDS, RETRIEVE_FIELDS, SCROLL_FIELDS,
                     SEARCH_FIELDS, SELECT_FIELDS, SET_PAYLOAD_FIELDS, UPSERT_BATCH_FIELDS,
                     UPSERT_FIELDS, ApiError, as_dict, check_results, check_threshold,
                     get_limit, get_offset, id_sort_key, known_fields, parse_id, parse_ids,
                     parse_vector, passes_threshold, payload_selector, reject_unsupported,
                     search_ef, select_payload, to_qdrant_scores, vector_answer, vector_name,
                     wants)

__all__ = ["register", "translate_filter", "parse_matrix"]

_ALL = 1 << 62  # "no limit" for scans


def translate_filter(f, schema=None):
    """Qdrant's filter JSON for the database: ``match: {"text": ...}`` (Qdrant's
    full-text condition) becomes the database's ``text`` condition, and with
    ``schema`` (the collection's field indexes) a match, range, is_null or is_empty
    condition on a key without an index (Qdrant filters on any payload key, nested
    ones as "a.b") is read from each point's payload (the database's ``scan``); the
    rest is the same language."""
    if isinstance(f, list):
        return [translate_filter(c, schema) for c in f]
    if not isinstance(f, dict):
        return f
    if "key" in f and isinstance(f.get("match"), dict) and set(f["match"]) == {"text"}:
        return {"key": f["key"], "text": f["match"]["text"]}
    if schema is not None and _unindexed(f, schema):
        return {"scan": f}
    return {k: translate_filter(v, schema) if k in ("must", "should", "must_not") else v
            for k, v in f.items()}


def _unindexed(cond, schema) -> bool:
    """Whether ``cond`` is a condition the payload scan answers, on a key without a
    field index."""
    keys = set(cond)
    if keys in ({"is_null"}, {"is_empty"}):
        ref = next(iter(cond.values()))
        key = ref.get("key") if isinstance(ref, dict) else ref
    elif "key" in keys and len(keys) == 2 and keys & {"match", "range"}:
        key = cond["key"]
    else:
        return False
    return isinstance(key, str) and key not in schema


def _filter(col, body):
    f = body.get("filter")
    return None if f is None else translate_filter(f, col.schema)


def parse_matrix(values, dim: int, what: str = "vectors") -> np.ndarray:
    """A list of ``dim``-vectors as a float32 ``(n, dim)`` array; 400 on anything else."""
    if not isinstance(values, list):
        raise ApiError(400, f"{what} must be a list of vectors")
    if not values:
        return np.zeros((0, dim), np.float32)
    arr = _core.float_rows(values, dim)  # every value's type and range checked in C++
    if arr is not None:
        return arr
    return np.stack([parse_vector(v, dim, f"{what}[{i}]") for i, v in enumerate(values)])


def _payloads(values, n):
    if values is None:
        return [None] * n
    if not isinstance(values, list) or len(values) != n:
        raise ApiError(400, f"payloads must be a list of {n} objects")
    for p in values:
        if p is not None and not isinstance(p, dict):
            raise ApiError(400, f"a payload must be a JSON object, got {type(p).__name__}")
    return values


def _upsert_body(body: dict, dim: int):
    known_fields(body, UPSERT_FIELDS, "upsert")
    reject_unsupported(body, ("update_filter", "shard_key"))
    if body.get("update_mode") not in (None, "upsert"):
        raise ApiError(400, f"update_mode {body['update_mode']!r} is not supported by this "
                            "server (upsert only)")
    if body.get("points") is not None:
        pts = body["points"]
        if not isinstance(pts, list) or not all(isinstance(p, dict) for p in pts):
            raise ApiError(400, "points must be a list of {'id', 'vector', 'payload'} objects")
        for p in pts:
            known_fields(p, POINT_FIELDS, "a point")
            if "id" not in p or "vector" not in p:
                raise ApiError(400, "every point needs an 'id' and a 'vector'")
        ids = [parse_id(p["id"]) for p in pts]
        vecs = parse_matrix([p["vector"] for p in pts], dim)
        pays = _payloads([p.get("payload") for p in pts], len(pts))
    elif body.get("batch") is not None:
        b = as_dict(body["batch"], "batch")
        known_fields(b, UPSERT_BATCH_FIELDS, "batch")
        ids = parse_ids(b.get("ids"), "batch.ids")
        vecs = parse_matrix(b.get("vectors"), dim, "batch.vectors")
        if len(vecs) != len(ids):
            raise ApiError(400, f"batch: {len(vecs)} vectors for {len(ids)} ids")
        pays = _payloads(b.get("payloads"), len(ids))
    else:
        raise ApiError(400, "upsert needs 'points' (a list) or 'batch' (ids, vectors, payloads)")
    last = {uid: i for i, uid in enumerate(ids)}  # a repeated id: the last one wins
    if len(last) != len(ids):
        keep = sorted(last.values())
        ids, vecs, pays = [ids[i] for i in keep], vecs[keep], [pays[i] for i in keep]
    return ids, vecs, pays


def _mmr_args(value, max_k):
    """``(diversity, candidates_limit)`` of a query's ``mmr`` object."""
    m = as_dict(value, "query.mmr")
    extra = set(m) - {"diversity", "candidates_limit"}
    if extra:
        raise ApiError(400, f"query.mmr: unknown fields {sorted(extra)}")
    d = m.get("diversity")
    d = 0.5 if d is None else d
    if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0.0 <= d <= 1.0:
        raise ApiError(400, f"query.mmr.diversity must be a number in [0, 1], got {d!r}")
    n = m.get("candidates_limit")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)
                          or not 1 <= n <= max_k):
        raise ApiError(400, f"query.mmr.candidates_limit must be an integer in "
                            f"[1, {max_k}], got {n!r}")
    return float(d), 0 if n is None else n


def _mmr_order(col, p, hits) -> list:
    """``hits`` (best first) in maximal-marginal-relevance order: each next hit is the
    one with the best ``(1 - diversity) * relevance - diversity * (its largest
    similarity to those already taken)``, similarities in the collection's metric
    (cosine, dot product, or minus the Euclidean distance)."""
    if len(hits) < 2:
        return hits
    field = tuple.__getitem__
    recs = col.get([field(h, 0) for h in hits])
    keep = [i for i, r in enumerate(recs) if r is not None]  # deleted meanwhile: dropped
    hits = [hits[i] for i in keep]
    if len(hits) < 2:
        return hits
    V = np.stack([recs[i].vector for i in keep]).astype(np.float64)
    q = np.asarray(p.vec, dtype=np.float64)
    if col.metric == "cosine":
        V /= np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-30)
        q = q / max(np.linalg.norm(q), 1e-30)
    if col.metric == "l2":
        rel = -np.linalg.norm(V - q, axis=1)
        sq = (V * V).sum(1)
        sim = -np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * V @ V.T, 0))
    else:
        rel, sim = V @ q, V @ V.T
    d = p.mmr[0]
    order = [int(np.argmax(rel))]
    taken = np.zeros(len(hits), bool)
    taken[order[0]] = True
    closest = sim[order[0]].copy()  # largest similarity to a taken hit, per hit
    for _ in range(min(len(hits), p.offset + p.limit) - 1):
        score = np.where(taken, -np.inf, (1 - d) * rel - d * closest)
        j = int(np.argmax(score))
        order.append(j)
        taken[j] = True
        closest = np.maximum(closest, sim[j])
    return [hits[j] for j in order]


def _path_id(point_id: str):
    return int(point_id) if point_id.isdigit() else parse_id(point_id)


def _vectors_of(col, ids, with_vector) -> dict:
    """``{id: the point's vector field as with_vector (from wants) asks}``."""
    return {r.id: vector_answer(r.vector, with_vector) for r in col.get(ids)
            if r is not None} if ids else {}


def _records(col, ids, sel, with_vector):
    out = []
    for r in col.get(ids):
        if r is not None:
            out.append({"id": r.id, "payload": select_payload(r.payload, sel),
                        "vector": vector_answer(r.vector, with_vector)})
    return out


def _selected_ids(col, body) -> list:
    if body.get("points") is not None:
        return list(dict.fromkeys(parse_ids(body["points"], "points")))
    if body.get("filter") is not None:
        return [r.id for r in col.scroll(_filter(col, body), limit=_ALL, with_vectors=False,
                                         with_payload=False)]
    raise ApiError(400, "give 'points' (a list of ids) or 'filter'")


def _done(col) -> dict:
    return {"operation_id": col.sequence, "status": "completed"}


class _Nearest:
    """One checked nearest-neighbour request: the query vector, the page asked for
    (``limit`` after ``offset``, ids in ``exclude`` skipped), the search's filter and
    ef, the score threshold and what to return."""

    __slots__ = ("vec", "limit", "offset", "exclude", "filter", "ef", "threshold",
                 "selector", "with_vector", "mmr")

    def __init__(self, vec, limit, offset, exclude, filter, ef, threshold, selector,
                 with_vector, mmr=None):
        self.vec, self.limit, self.offset, self.exclude = vec, limit, offset, exclude
        self.filter, self.ef, self.threshold = filter, ef, threshold
        self.selector, self.with_vector = selector, with_vector
        self.mmr = mmr  # None, or (diversity, candidates): maximal marginal relevance

    @property
    def k(self) -> int:
        """How many hits to ask the database for."""
        if self.mmr is not None:
            return max(self.mmr[1], self.limit + self.offset) + len(self.exclude)
        return self.limit + self.offset + len(self.exclude)

    def with_vector_of(self, vec) -> "_Nearest":
        """The same request for another query vector."""
        return _Nearest(vec, self.limit, self.offset, self.exclude, self.filter, self.ef,
                        self.threshold, self.selector, self.with_vector, self.mmr)

    @property
    def ids_and_scores_only(self) -> bool:
        """Whether the answer needs nothing but ids and scores."""
        return self.selector is None and not self.with_vector and not self.exclude \
            and self.mmr is None


def _passing(metric: str, scores, threshold) -> int:
    """How many of ``scores`` (Qdrant's, best first) pass ``score_threshold``: the
    answer is cut at the first that does not."""
    n = 0
    while n < len(scores) and passes_threshold(metric, scores[n], threshold):
        n += 1
    return n


class Points:
    """The work of the point endpoints, run in the worker threads."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.max_k = ctx.settings.max_k

    # -- search ---------------------------------------------------------------------
    def plan(self, col, vec, body, exclude=()) -> "_Nearest":
        """The checked request ``body`` of a search for the points nearest to ``vec``
        (limit, offset, filter, params, score_threshold, with_payload, with_vector)."""
        limit = get_limit(body, self.max_k)
        offset = get_offset(body, self.max_k)
        if limit + offset > self.max_k:
            raise ApiError(400, f"limit + offset must be at most {self.max_k}, "
                                f"got {limit + offset}")
        return _Nearest(vec, limit, offset, set(exclude), _filter(col, body),
                        search_ef(body.get("params")),
                        check_threshold(body.get("score_threshold")),
                        payload_selector(body.get("with_payload"), False),
                        wants(body.get("with_vector"), False, "with_vector"))

    def finish(self, col, p: "_Nearest", hits) -> list:
        """Qdrant's scored points of one search's ``hits`` (best first). Reads each
        hit's id and score without decoding its payload, which is decoded only when
        the request selects it."""
        field = tuple.__getitem__  # a Hit's stored fields, its payload still encoded
        if p.exclude:
            hits = [h for h in hits if field(h, 0) not in p.exclude]
        if p.mmr is not None:
            hits = _mmr_order(col, p, hits)
        page = hits[p.offset:p.offset + p.limit]
        scores = to_qdrant_scores(col.metric, [field(h, 1) for h in page])
        if p.threshold is not None:
            n = _passing(col.metric, scores, p.threshold)
            page, scores = page[:n], scores[:n]
        ids = [field(h, 0) for h in page]
        vecs = _vectors_of(col, ids, p.with_vector) if p.with_vector else {}
        sel = p.selector
        return [{"id": uid, "version": 0, "score": s,
                 "payload": None if sel is None else select_payload(h.payload, sel),
                 "vector": vecs.get(uid)} for uid, s, h in zip(ids, scores, page)]

    @staticmethod
    def finish_arrays(col, plans, res) -> list:
        """``finish`` of each of ``plans`` (none asking for payloads, vectors or
        exclusions) from the ids and scores arrays of their one ``search_batch``
        (``res``), without making a Hit per result: with int ids, each answer is JSON
        text written in one call (an ``orjson.Fragment``)."""
        S = res.scores.astype(np.float64)
        if col.metric == "l2":  # to_qdrant_scores: the distance, not its square
            S = np.sqrt(np.where(S > 0, S, 0.0))
        lo = np.array([p.offset for p in plans], dtype=np.int64)
        hi = np.maximum(np.minimum(lo + [p.limit for p in plans], res.counts), lo)
        for i, p in enumerate(plans):
            if p.threshold is not None:
                hi[i] = lo[i] + _passing(col.metric, S[i, lo[i]:hi[i]].tolist(), p.threshold)
        ints = res.int_ids()
        if ints is not None:
            return [orjson.Fragment(b) for b in _core.scored_points_json(ints, S, lo, hi)]
        out = []
        for a, b, row_ids, row_scores in zip(lo.tolist(), hi.tolist(), res.ids.tolist(),
                                             S.tolist()):
            out.append([{"id": uid, "version": 0, "score": s, "payload": None, "vector": None}
                        for uid, s in zip(row_ids[a:b], row_scores[a:b])])
        return out

    def answer(self, col, p: "_Nearest") -> list:
        """Runs one checked search: Qdrant's scored points."""
        hits, _ = self.ctx.search(col, p.vec, k=p.k, filter=p.filter, ef=p.ef,
                                  with_payload=p.selector is not None)
        return self.finish(col, p, hits)

    def nearest(self, col, vec, body, exclude=()) -> list:
        """Qdrant's scored points nearest to ``vec`` per the request ``body``."""
        return self.answer(col, self.plan(col, vec, body, exclude))

    def batch(self, col, body, to_plan, to_plans=None) -> list:
        """A batch endpoint: every request checked first (``to_plan(col, request)``, or
        ``to_plans(col, requests)`` for all at once), then those sharing k, filter and
        ef searched together in one ``search_batch`` call, answered in request order."""
        known_fields(as_dict(body), BATCH_FIELDS, "batch")
        searches = body.get("searches")
        if not isinstance(searches, list):
            raise ApiError(400, "searches must be a list of requests")
        if len(searches) > self.ctx.settings.max_batch:
            raise ApiError(400, f"at most {self.ctx.settings.max_batch} searches per batch, "
                                f"got {len(searches)}")
        if self.ctx.guard is not None:
            self.ctx.guard.check_batch(len(searches), "searches in one batch")
        plans = to_plans(col, searches) if to_plans is not None else \
            [to_plan(col, as_dict(s, "searches[]")) for s in searches]
        check_results(sum(p.k for p in plans), self.ctx.settings.max_results)
        groups: dict = {}
        out: list = [None] * len(plans)
        for i, p in enumerate(plans):
            if p.mmr is not None:  # re-ranks its own candidates
                out[i] = self.answer(col, p)
                continue
            key = (p.k, p.ef, orjson.dumps(p.filter, option=orjson.OPT_SORT_KEYS))
            groups.setdefault(key, []).append(i)
        for rows in groups.values():
            p0 = plans[rows[0]]
            payload = any(plans[i].selector is not None for i in rows)
            if len(rows) == 1:
                hits, _ = self.ctx.search(col, p0.vec, k=p0.k, filter=p0.filter, ef=p0.ef,
                                          with_payload=payload)
                results = [hits]
            else:
                results, _ = self.ctx.search_batch(
                    col, np.stack([plans[i].vec for i in rows]), k=p0.k, filter=p0.filter,
                    ef=p0.ef, with_payload=payload)
                if all(plans[i].ids_and_scores_only for i in rows):
                    for i, answer in zip(rows, self.finish_arrays(
                            col, [plans[i] for i in rows], results)):
                        out[i] = answer
                    continue
            for i, hits in zip(rows, results):
                out[i] = self.finish(col, plans[i], hits)
        return out

    def example_vector(self, col, ex, what):
        """A recommend example: a point id (its stored vector) or a vector."""
        if isinstance(ex, list) or isinstance(ex, dict):
            return parse_vector(ex, col.dim, what)
        uid = parse_id(ex)
        rec = col.get([uid])[0]
        if rec is None:
            raise ApiError(404, f"Not found: No point with id {uid} found")
        return rec.vector

    def recommend_vector(self, col, spec: dict):
        """Qdrant's average_vector strategy: ``2 * mean(positive) - mean(negative)``
        (cosine examples normalized first, as Qdrant stores them); returns the query and
        the example ids, which never appear in the results."""
        spec = as_dict(spec, "recommend")
        strategy = spec.get("strategy")
        if strategy not in (None, "average_vector"):
            raise ApiError(400, f"recommend strategy {strategy!r} is not supported "
                                "(average_vector only)")
        pos, neg = spec.get("positive") or [], spec.get("negative") or []
        if not isinstance(pos, list) or not isinstance(neg, list):
            raise ApiError(400, "positive and negative must be lists")
        if not pos:
            raise ApiError(400, "recommend needs at least one positive example")
        ids = {parse_id(x) for x in pos + neg if not isinstance(x, (list, dict))}

        def mean(exs, what):
            V = np.stack([self.example_vector(col, x, f"{what}[{i}]")
                          for i, x in enumerate(exs)]).astype(np.float64)
            if col.metric == "cosine":
                norms = np.linalg.norm(V, axis=1, keepdims=True)
                if not (norms > 0).all():
                    raise ApiError(400, f"{what}: a zero vector has no direction (Cosine)")
                V /= norms
            return V.mean(axis=0)

        p = mean(pos, "positive")
        q = p if not neg else 2 * p - mean(neg, "negative")
        return q.astype(np.float32), ids

    def query_plan(self, col, body) -> "_Nearest":
        """The checked request of the universal ``query`` endpoint."""
        body = as_dict(body)
        known_fields(body, QUERY_FIELDS, "query")
        reject_unsupported(body, ("prefetch", "lookup_from", "shard_key"))
        vector_name(body.get("using"))
        q = body.get("query")
        vec, exclude = None, set()
        if q is None:
            raise ApiError(400, "query is required (use scroll to list points)")
        mmr = None
        if isinstance(q, dict):
            if set(q) == {"nearest"}:
                q = q["nearest"]
            elif set(q) == {"nearest", "mmr"}:
                mmr = _mmr_args(q["mmr"], self.max_k)
                q = q["nearest"]
            elif set(q) == {"recommend"}:
                vec, exclude = self.recommend_vector(col, q["recommend"])
            else:
                raise ApiError(400, f"query {sorted(q)} is not supported (nearest vector, "
                                    "nearest to a point id, or recommend)")
        if vec is None:
            if isinstance(q, (int, str)) and not isinstance(q, bool):
                uid = parse_id(q)
                vec, exclude = self.example_vector(col, uid, "query"), {uid}
            else:
                vec = parse_vector(q, col.dim, "query")
        p = self.plan(col, vec, body, exclude)
        if mmr is not None:
            p.mmr = mmr
            if p.k > self.max_k:
                raise ApiError(400, f"mmr.candidates_limit + exclusions must be at most "
                                    f"{self.max_k}, got {p.k}")
        return p

    def query(self, col, body) -> dict:
        return {"points": self.answer(col, self.query_plan(col, body))}

    # -- reads ----------------------------------------------------------------------
    def scroll(self, col, body) -> dict:
        """Points in Qdrant's id order, from the id ``offset`` on. Each page sorts the
        ids of every matching point (the database scrolls in storage order), so a page
        costs O(n log n) in the points that pass the filter."""
        known_fields(body, SCROLL_FIELDS, "scroll")
        reject_unsupported(body, ("order_by", "shard_key"))
        limit = get_limit(body, self.max_k)
        sel = payload_selector(body.get("with_payload"), True)
        with_vector = wants(body.get("with_vector"), False, "with_vector")
        ids = sorted((r.id for r in col.scroll(_filter(col, body), limit=_ALL, with_vectors=False,
                                               with_payload=False)), key=id_sort_key)
        start = 0
        if body.get("offset") is not None:
            keys = [id_sort_key(u) for u in ids]
            start = bisect_left(keys, id_sort_key(parse_id(body["offset"])))
        page = ids[start:start + limit]
        nxt = ids[start + limit] if start + limit < len(ids) else None
        return {"points": _records(col, page, sel, with_vector), "next_page_offset": nxt}

    # -- writes ---------------------------------------------------------------------
    def rewrite_payloads(self, col, body, change) -> dict:
        """Applies ``change(payload) -> payload`` to the selected points."""
        reject_unsupported(body, ("key", "shard_key"))
        with self.ctx.lock(col.name):
            explicit = body.get("points") is not None
            ids = _selected_ids(col, body)
            recs = col.get(ids) if ids else []
            if explicit:
                for uid, r in zip(ids, recs):
                    if r is None:
                        raise ApiError(404, f"Not found: No point with id {uid} found")
            recs = [r for r in recs if r is not None]
            if recs:
                col.upsert([r.id for r in recs], np.stack([r.vector for r in recs]),
                           [change(dict(r.payload or {})) for r in recs])
        return _done(col)


def register(app, ctx) -> None:
    pts = Points(ctx)
    base = "/collections/{name}/points"

    def route(method, path, fn, tag="points"):
        async def endpoint(request: Request, name: str):
            body = as_dict(await read_json(request))
            return await ctx.answer(request, lambda: fn(ctx.collection(name), body))
        endpoint.__name__ = fn.__name__ if hasattr(fn, "__name__") else "endpoint"
        getattr(app, method)(base + path, tags=[tag], openapi_extra=JSON_BODY,
                             name=f"{method} {path or '/'}")(endpoint)

    def upsert(col, body):
        ids, vecs, pays = _upsert_body(body, col.dim)
        if ids:
            col.upsert(ids, vecs, pays)
        return _done(col)

    def retrieve(col, body):
        known_fields(body, RETRIEVE_FIELDS, "retrieve")
        reject_unsupported(body, ("shard_key",))
        return _records(col, list(dict.fromkeys(parse_ids(body.get("ids"), "ids"))),
                        payload_selector(body.get("with_payload"), True),
                        wants(body.get("with_vector"), False, "with_vector"))

    def delete(col, body):
        known_fields(body, SELECT_FIELDS, "delete")
        reject_unsupported(body, ("shard_key",))
        if body.get("points") is not None:
            col.delete(parse_ids(body["points"], "points"))
        elif body.get("filter") is not None:
            col.delete(filter=_filter(col, body))
        else:
            raise ApiError(400, "delete needs 'points' (a list of ids) or 'filter'")
        return _done(col)

    def set_payload(col, body):
        known_fields(body, SET_PAYLOAD_FIELDS, "set payload")
        new = as_dict(body.get("payload"), "payload")
        return pts.rewrite_payloads(col, body, lambda p: {**p, **new})

    def overwrite_payload(col, body):
        known_fields(body, SET_PAYLOAD_FIELDS, "overwrite payload")
        new = as_dict(body.get("payload"), "payload")
        return pts.rewrite_payloads(col, body, lambda p: dict(new))

    def delete_payload(col, body):
        known_fields(body, DELETE_PAYLOAD_FIELDS, "delete payload")
        keys = body.get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ApiError(400, "keys must be a list of payload keys")
        drop = set(keys)
        return pts.rewrite_payloads(col, body, lambda p: {k: v for k, v in p.items()
                                                          if k not in drop})

    def clear_payload(col, body):
        known_fields(body, SELECT_FIELDS, "clear payload")
        return pts.rewrite_payloads(col, body, lambda p: {})

    def count(col, body):
        known_fields(body, COUNT_FIELDS, "count")
        reject_unsupported(body, ("shard_key",))
        return {"count": col.count(_filter(col, body))}

    def search_plan(col, body, vec=None):
        known_fields(body, SEARCH_FIELDS, "search")
        reject_unsupported(body, ("shard_key",))
        if "vector" not in body:
            raise ApiError(400, "search needs a 'vector'")
        return pts.plan(col, parse_vector(body["vector"], col.dim) if vec is None else vec,
                        body)

    def search_plans(col, searches):
        """The plans of a search batch: when every request's vector is a plain list of
        numbers, all of them are converted and checked as one array."""
        vecs = [s.get("vector") if isinstance(s, dict) else None for s in searches]
        if searches and all(type(v) is list for v in vecs):
            try:
                M = parse_matrix(vecs, col.dim)
            except ApiError:  # one of them is bad: each request says which, below
                M = None
            if M is not None and len(M) == len(searches):
                # requests that differ only in their vector (the usual batch) are
                # checked once: the first one's plan is reused with each vector
                plans, seen = [], {}
                for i, s in enumerate(searches):
                    s = as_dict(s, "searches[]")
                    key = orjson.dumps({f: v for f, v in s.items() if f != "vector"},
                                       option=orjson.OPT_SORT_KEYS)
                    p = seen.get(key)
                    if p is None:
                        p = seen[key] = search_plan(col, s, M[i])
                    else:
                        p = p.with_vector_of(M[i])
                    plans.append(p)
                return plans
        return [search_plan(col, as_dict(s, "searches[]")) for s in searches]

    def recommend_plan(col, body):
        known_fields(body, RECOMMEND_FIELDS, "recommend")
        reject_unsupported(body, ("lookup_from", "shard_key"))
        vector_name(body.get("using"))
        vec, exclude = pts.recommend_vector(col, body)
        return pts.plan(col, vec, body, exclude)

    def search(col, body):
        return pts.answer(col, search_plan(col, body))

    def recommend(col, body):
        return pts.answer(col, recommend_plan(col, body))

    def search_batch(col, body):
        return pts.batch(col, body, search_plan, search_plans)

    def query_batch(col, body):
        return [{"points": r} for r in pts.batch(col, body, pts.query_plan)]

    def recommend_batch(col, body):
        return pts.batch(col, body, recommend_plan)

    route("put", "", upsert)
    route("post", "", retrieve)
    route("post", "/delete", delete)
    route("post", "/payload", set_payload)
    route("put", "/payload", overwrite_payload)
    route("post", "/payload/delete", delete_payload)
    route("post", "/payload/clear", clear_payload)
    route("post", "/scroll", pts.scroll)
    route("post", "/count", count)
    route("post", "/search", search, "search")
    route("post", "/search/batch", search_batch, "search")
    route("post", "/query", pts.query, "search")
    route("post", "/query/batch", query_batch, "search")
    route("post", "/recommend", recommend, "search")
    route("post", "/recommend/batch", recommend_batch, "search")

    @app.get(base + "/{point_id}", tags=["points"])
    async def get_point(request: Request, name: str, point_id: str):
        def work():
            uid = _path_id(point_id)
            recs = _records(ctx.collection(name), [uid], True, True)
            if not recs:
                raise ApiError(404, f"Not found: No point with id {uid} found")
            return recs[0]
        return await ctx.answer(request, work)
