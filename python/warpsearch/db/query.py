# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Reads of a collection: the plan (per-segment masks), one engine call per segment
for the whole query batch, one vectorized top-k merge across segments, and results
hydrated (ids, lazily decoded payloads) for the returned hits only.

Searches take no lock except, with a filter, the brief one that evaluates the
filter over the mutable segment's growing field indexes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import numpy as np

from .. import _core
from .._topk import merge_topk
from ..index import HNSWIndex, IVFPQIndex
from .config import Hit, Record
from .filters import scan_nodes
from .segment import take_raws
from .state import ROW_BITS, ROW_MASK

__all__ = ["plan", "search", "exact", "scan", "SearchParams", "BatchResults"]



class _RowsView:
    """A segment seen with a fixed row count (for evaluating filters): its field
    indexes, its stored payloads (read by ``{"scan": ...}`` conditions) and the masks
    of those conditions when computed beforehand (``scanned``: id(node) -> mask)."""

    __slots__ = ("n", "fields", "raws", "scanned", "uids")

    def __init__(self, n, fields, raws, scanned=None, uids=None):
        self.n, self.fields, self.raws, self.scanned = n, fields, raws, scanned
        self.uids = uids  # the point ids of the rows (``has_id``)


class SearchParams:
    """Per-search knobs of every index kind, checked once per call."""

    __slots__ = ("ef", "nprobe", "refine_factor", "deadline")

    def __init__(self, ef, nprobe, refine_factor, deadline):
        self.ef, self.nprobe, self.refine_factor, self.deadline = \
            ef, nprobe, refine_factor, deadline

    def remaining(self):
        """Seconds left before the deadline (None: no deadline); raises when none are."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the search exceeded its timeout")
        return left


def plan(st, node):
    """Per searchable segment ``(segment, rows n, indexed rows, mask or None, allowed)``;
    the mask combines the filter and the tombstones (None: every row passes)."""
    out = []
    for seg in st.view:
        if seg.kind == "mutable":
            if node is None:
                n = seg.n
                mask = seg.live_mask(n)
            else:
                scanned = None
                scans = scan_nodes(node)
                if scans:  # payloads decoded without the lock writers take
                    with st.mu:
                        n = seg.n
                        raws = seg.raws[:n]
                    rows = _RowsView(n, None, raws)
                    scanned = {id(x): x.mask(rows) for x in scans}
                with st.mu:  # the field indexes grow under this lock
                    if scanned is None:
                        n = seg.n
                    mask = node.mask(_RowsView(n, seg.fields, seg.raws, scanned, seg.uids))
                    live = seg.live_mask(n)
                if live is not None:
                    mask &= live
            indexed = min(seg.indexed, n) if seg.index is not None else 0
        else:
            n = indexed = seg.n
            mask = seg.live_mask(n)
            if node is not None:
                m = node.mask(seg)
                mask = m if mask is None else (m & mask)
        allowed = n if mask is None else int(np.count_nonzero(mask))
        out.append((seg, n, indexed, mask, allowed))
    return out


def _engine_search(index, Q, k, params, mask, timeout):
    """A CPU index's engine called directly: ``Q`` (float32, C-contiguous, checked by
    the collection) and ``mask`` (the plan's bool array) need none of the checks and
    conversions of the public ``search``. Same arguments as that search would pass."""
    m = None if mask is None else np.ascontiguousarray(mask).view(np.uint8)
    impl = index._impl
    if isinstance(index, HNSWIndex):
        D, R, st = impl.search(Q, k, max(params.ef, k), -1, None, m, timeout)
    elif isinstance(index, IVFPQIndex):
        D, R, st = impl.search_ivf(Q, k, params.nprobe, params.refine_factor, -1, None, m,
                                   True, timeout)
        st["nprobe"] = params.nprobe
    else:
        D, R, st = impl.search(Q, k, 0, min(k * params.refine_factor, 2**31 - 1), None, m,
                               timeout)
    st["device"], st["nq"] = "cpu", int(Q.shape[0])
    return D, R, st


def _index_search(index, Q, k, params, mask, stats):
    # The seconds left reach the engine, which checks them inside its scans and walks.
    timeout = params.remaining()
    if index.device == "cpu":
        D, R, st = _engine_search(index, Q, k, params, mask, timeout)
        if stats is not None:
            stats.update(st)
        return D, R
    # a device index: the stats of this call (never the index's last_search_info,
    # which a concurrent search may have replaced)
    if isinstance(index, HNSWIndex):
        D, R, st = index.search(Q, k=k, ef=max(params.ef, k), filter=mask, timeout=timeout,
                                return_stats=True)
    elif isinstance(index, IVFPQIndex):
        D, R, st = index.search(Q, k=k, nprobe=params.nprobe,
                                refine_factor=params.refine_factor, filter=mask,
                                timeout=timeout, return_stats=True)
    else:
        D, R, st = index.search(Q, k=k, filter=mask, refine_factor=params.refine_factor,
                                timeout=timeout, return_stats=True)
    if stats is not None:
        stats.update(st)
    return D, R


#: Queries up to which an exact scan runs on the engine's kernels (more: a BLAS product).
_KERNEL_MAX_NQ = 8


def _exact_rows(V, Q, metric, k, rows=None, norms=None):
    """Exact top-k of ``Q`` over the rows ``V`` (labels ``rows``; ``norms``, the rows'
    norms when known): ``(D, labels)``."""
    nq = Q.shape[0]
    larger = metric != "l2"
    if metric == "cosine":
        Q = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    if 0 < nq <= _KERNEL_MAX_NQ and len(V):
        # a few queries: the engine's kernels on the rows in place (a BLAS product
        # would be as fast alone, but its threads wait on cores that the background
        # indexer keeps busy, which cost a query right after a write up to 0.1 s)
        D, idx = _core.exact_topk(np.ascontiguousarray(V, dtype=np.float32),
                                  np.ascontiguousarray(Q, dtype=np.float32), k, metric,
                                  None if norms is None else
                                  np.ascontiguousarray(norms, dtype=np.float32))
        lab = np.arange(len(V), dtype=np.int64) if rows is None else rows
        return D, np.where(idx >= 0, lab[np.maximum(idx, 0)], -1)
    D = np.full((nq, k), -np.inf if larger else np.inf, dtype=np.float32)
    R = np.full((nq, k), -1, dtype=np.int64)
    if len(V) == 0:
        return D, R
    s = Q @ V.T
    if metric == "cosine":  # divided by the rows' norms (no normalized copy of V)
        s /= (np.linalg.norm(V, axis=1) if norms is None else norms)[None, :]
    if metric == "l2":
        s = np.maximum((Q * Q).sum(1)[:, None] - 2 * s + (V * V).sum(1)[None, :], 0)
    key = -s if larger else s
    m = min(k, s.shape[1])
    part = np.argpartition(key, m - 1, axis=1)[:, :m] if m < s.shape[1] else \
        np.broadcast_to(np.arange(s.shape[1]), (nq, s.shape[1]))
    order = np.take_along_axis(part, np.argsort(np.take_along_axis(key, part, 1), axis=1,
                                                kind="stable"), 1)
    D[:, :m] = np.take_along_axis(s, order, 1)
    lab = np.arange(len(V), dtype=np.int64) if rows is None else rows
    R[:, :m] = lab[order]
    return D, R


def _segment_parts(seg, n, indexed, mask, Q, k, params, metric, stats):
    """Results of one segment as ``(D, rows, segment)`` parts: its index over rows
    ``[0, indexed)`` and an exact scan of the rows the indexer has not reached."""
    parts = []
    if indexed > 0:
        D, R = _index_search(seg.index, Q, k, params, mask, stats)
        parts.append((D, R, seg))
    if indexed < n:
        D, R, scanned = _exact_tail(seg, indexed, n, mask, Q, metric, k, params)
        if stats is not None:
            stats["exact_rows"] = stats.get("exact_rows", 0) + scanned
            stats.setdefault("nq", Q.shape[0])  # an exact-only segment has no engine stats
        parts.append((D, R, seg))
    return parts


#: Rows per block of an exact scan (bounds the (nq, rows) score matrix).
_EXACT_BLOCK = 65536


def _row_blocks(seg, lo, hi, mask):
    """The rows ``[lo, hi)`` of ``seg`` passing ``mask`` as ``(vectors, rows, norms)``
    blocks: the mutable segment's stored chunks (views, no copy, with the norms kept
    beside them), else ``_EXACT_BLOCK`` rows (norms None), bounding the (nq, rows)
    score matrix either way."""
    mutable = seg.kind == "mutable"
    step = seg.vecs.per if mutable else _EXACT_BLOCK
    a = lo
    while a < hi:
        b = min(hi, (a // step + 1) * step)
        V, rows = seg.vectors(slice(a, b)), np.arange(a, b, dtype=np.int64)
        norms = seg.vecs.held_norms(a, b) if mutable else None
        if mask is not None:
            keep = mask[a:b]
            V, rows = V[keep], rows[keep]
            norms = None if norms is None else norms[keep]
        a = b
        if len(rows):
            yield V, rows, norms


def _exact_tail(seg, lo, hi, mask, Q, metric, k, params=None):
    """Exact top-k over the mutable segment's rows ``[lo, hi)``, a stored chunk at a
    time, merged as it goes: ``(D, rows, rows scanned)``. ``params``' deadline is
    checked before each chunk (``TimeoutError`` once it has passed)."""
    D = R = None
    scanned = 0
    for V, rows, norms in _row_blocks(seg, lo, hi, mask):
        if params is not None:
            params.remaining()
        d, r = _exact_rows(V, Q, metric, k, rows, norms)
        scanned += len(rows)
        D, R = (d, r) if D is None else merge_topk(
            np.concatenate((D, d), axis=1), np.concatenate((R, r), axis=1), k, metric != "l2")
    if D is None:  # no row passes: padding only
        D, R = _exact_rows(np.empty((0, Q.shape[1]), np.float32), Q, metric, k)
    return D, R, scanned


def search(st, Q, k, node, params, with_payload, stats=None, batch=False):
    """Lists of ``Hit`` per query row of ``Q`` (``batch``: as ``BatchResults``);
    ``stats`` (a list) receives one dict per segment searched."""
    nq = Q.shape[0]
    parts = []
    for seg, n, indexed, mask, allowed in plan(st, node):
        if n == 0 or allowed == 0:
            continue
        params.remaining()
        seg_stats = None
        if stats is not None:
            seg_stats = {"segment": seg.seg_id, "state": seg.kind if seg.kind == "sealed"
                         else ("frozen" if seg.frozen else "mutable"),
                         "index": type(seg.index).__name__ if indexed else "exact",
                         "rows": n, "indexed_rows": indexed, "allowed": allowed}
        parts += _segment_parts(seg, n, indexed, mask, Q, k, params, st.metric, seg_stats)
        if stats is not None:
            if indexed < n:
                seg_stats["plan"] = "exact" if not indexed else \
                    f"{seg_stats.get('plan')}+exact tail"
            stats.append(seg_stats)
    return _merge_parts(st, parts, nq, k, with_payload, batch)


def exact(st, Q, k, node, with_payload):
    """Exact top-k of each query row of ``Q`` over every live row passing ``node``
    (indexes ignored; scanned in blocks): lists of ``Hit`` as ``search`` returns."""
    nq = Q.shape[0]
    parts = []
    for seg, n, _, mask, allowed in plan(st, node):
        if n == 0 or allowed == 0:
            continue
        for block, rows, norms in _row_blocks(seg, 0, n, mask):
            D, R = _exact_rows(np.asarray(block, dtype=np.float32), Q, st.metric, k, rows,
                               norms)
            parts.append((D, R, seg))
    return _merge_parts(st, parts, nq, k, with_payload, False)


def _merge_parts(st, parts, nq, k, with_payload, batch):
    """One top-k over the ``(D, rows, segment)`` parts, hydrated."""
    if not parts:
        if batch:
            return BatchResults(np.empty(0, object), None, np.empty((nq, 0), np.float32),
                                np.empty((nq, 0), np.int64))
        return [[] for _ in range(nq)]
    if len(parts) == 1:  # one source: its rows are already the top k
        D, R, seg = parts[0]
        res = _one_source(seg, D, R, with_payload)
    else:
        segs = {p[2].seg_id: p[2] for p in parts}
        D, iids = merge_topk(
            np.concatenate([p[0] for p in parts], axis=1),
            np.concatenate([np.where(p[1] >= 0, p[1] | (p[2].seg_id << ROW_BITS), -1)
                            for p in parts], axis=1), k, st.metric != "l2")
        res = _batch(segs, D, iids, with_payload)
    return res if batch else list(res)


class BatchResults(Sequence):
    """The results of ``search_batch``: one list of ``Hit`` per query, built when a
    query's results are first read; ``ids`` and ``scores`` give them all as arrays
    (``(nq, k)``; padding ``None`` / ``nan``) without making a Hit per result."""

    __slots__ = ("_uids", "_raws", "_D", "_R", "_rows")

    def __init__(self, uids, raws, D, R):
        # rows R[q, j] (-1: none, after the valid ones) index uids / raws (None: no payloads)
        self._uids, self._raws, self._D, self._R = uids, raws, D, R
        self._rows = [None] * len(R)

    def __len__(self) -> int:
        return len(self._rows)

    def _row(self, i):
        r = self._rows[i]
        if r is None:
            r = _core.make_hits(Hit, self._uids, self._raws, self._D[i:i + 1],
                                self._R[i:i + 1])[0]
            self._rows[i] = r
        return r

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._row(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("result index out of range")
        return self._row(i % n)

    def __iter__(self):
        if None in self._rows:  # the missing lists in one call
            made = _core.make_hits(Hit, self._uids, self._raws, self._D, self._R)
            self._rows = [old if old is not None else new for old, new in zip(self._rows, made)]
        return iter(self._rows)

    def __eq__(self, other):
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None

    def __repr__(self) -> str:
        nq, k = self._R.shape if self._R.ndim == 2 else (len(self), 0)
        found = int((self._R >= 0).sum())
        return f"BatchResults(queries={nq}, k={k}, hits={found})"

    def _repr_html_(self) -> str:
        from .display import html_table

        ids, scores = self.ids, self.scores
        shown = min(len(self), 10)
        rows = [(q, j, ids[q, j], float(scores[q, j]))
                for q in range(shown) for j in range(ids.shape[1]) if ids[q, j] is not None]
        return html_table(("query", "rank", "id", "score"), rows, repr(self)) + (
            f"<p>first {shown} of {len(self)} queries</p>" if shown < len(self) else "")

    @property
    def ids(self) -> np.ndarray:
        """Ids as an ``(nq, k)`` object array (``None`` where a row has fewer than k)."""
        valid = self._R >= 0
        out = np.empty(self._R.shape, dtype=object)
        if len(self._uids):
            out[...] = self._uids[np.where(valid, self._R, 0)]
        out[~valid] = None
        return out

    @property
    def counts(self) -> np.ndarray:
        """How many hits each query found (``(nq,)`` int64): its first ``counts[q]``
        entries of ``ids`` and ``scores`` are hits, the rest padding."""
        return (self._R >= 0).sum(axis=1) if self._R.ndim == 2 else \
            np.zeros(len(self), np.int64)

    @property
    def scores(self) -> np.ndarray:
        """Scores as an ``(nq, k)`` float32 array (``nan`` where a row has fewer)."""
        return np.where(self._R >= 0, self._D, np.float32(np.nan))

    def int_ids(self):
        """Ids as an ``(nq, k)`` int64 array (``-1`` where a row has fewer than k) when
        every id is an int; ``None`` otherwise (string ids)."""
        if self._uids.dtype == object and self._R.ndim == 2:
            return _core.gather_int_ids(self._uids, np.ascontiguousarray(self._R))
        valid = self._R >= 0
        taken = self._uids[np.where(valid, self._R, 0)] if len(self._uids) else \
            np.zeros(self._R.shape, np.int64)
        if taken.dtype.kind != "i":
            flat = taken[valid].tolist()
            if not all(type(u) is int for u in flat):
                return None
            taken = np.asarray(taken.tolist(), dtype=np.int64)  # ids are int64 (upsert)
        return np.where(valid, taken, -1).astype(np.int64, copy=False)

    def payloads_json(self) -> bytes:
        """Every query's payloads as one JSON array of arrays (``null`` for a point
        without one), spliced from the stored JSON without decoding it."""
        if self._raws is None:
            raise ValueError("these results were searched without payloads")
        raws = self._raws
        if self._R.ndim == 2 and type(raws) is list:
            out = _core.payload_rows_json(raws, np.ascontiguousarray(self._R))
            if out is not None:  # every payload held as stored JSON bytes
                return out
        rows = []
        for row in self._R.tolist():
            items = []
            for r in row:
                if r < 0:
                    break
                p = raws[r]
                items.append(p if type(p) is bytes and p else b"null" if not p else
                             json.dumps(p, separators=(",", ":")).encode())
            rows.append(b"[" + b",".join(items) + b"]")
        return b"[" + b",".join(rows) + b"]"


def _batch(segs, D, iids, with_payload):
    """BatchResults of merged ``(D, internal ids)``: ids and payloads gathered per hit."""
    valid = iids >= 0
    rows = iids & ROW_MASK
    seg_of = iids >> ROW_BITS
    U = np.empty(iids.shape, dtype=object)
    P = np.empty(iids.shape, dtype=object) if with_payload else None
    for sid in np.unique(seg_of[valid]).tolist():
        seg = segs[sid]  # the segments this search read, even if replaced since
        sel = valid & (seg_of == sid)
        r = rows[sel]
        U[sel] = seg.uids[r]
        if with_payload:
            P[sel] = take_raws(seg.raws, r)
    R = np.where(valid, np.arange(iids.size, dtype=np.int64).reshape(iids.shape), -1)
    return BatchResults(U.ravel(), P.ravel().tolist() if with_payload else None,
                        np.ascontiguousarray(D, dtype=np.float32), R)


def _one_source(seg, D, R, with_payload):
    """BatchResults of one segment's ``(D, rows)``."""
    uids, raws = seg.uids, (seg.raws if with_payload else None)
    D = np.ascontiguousarray(D, dtype=np.float32)
    R = np.ascontiguousarray(R, dtype=np.int64)
    if uids.dtype == object and (raws is None or isinstance(raws, list)):
        return BatchResults(uids, raws, D, R)
    # a loaded sealed segment (int64 ids, mapped payloads): the hit rows only
    valid = R >= 0
    rows = R[valid]
    U = uids[rows]  # int64 or objects: results make Python ids as they are read
    P = take_raws(raws, rows) if raws is not None else None
    R2 = np.full(R.shape, -1, dtype=np.int64)
    R2[valid] = np.arange(rows.size, dtype=np.int64)
    return BatchResults(U, P, D, R2)


def scan(st, node, offset, limit, with_vectors=True, with_payload=True):
    """Live points passing ``node`` in storage order, after skipping ``offset``."""
    out = []
    skip = offset
    for seg, n, _, mask, allowed in plan(st, node):
        if allowed == 0:
            continue
        rows = np.arange(n) if mask is None else np.flatnonzero(mask)
        if skip >= len(rows):
            skip -= len(rows)
            continue
        rows = rows[skip:]
        skip = 0
        if limit is not None:
            rows = rows[: limit - len(out)]
        vecs = seg.vectors(rows) if with_vectors else None
        for i, (r, uid) in enumerate(zip(rows.tolist(), seg.uids[rows].tolist())):
            out.append(Record(uid, vecs[i].copy() if with_vectors else None,
                              seg.payload(r) if with_payload else None))
        if limit is not None and len(out) >= limit:
            break
    return out


def explain_report(st, node, filter, filter_ms, hits, stats) -> dict:
    """``Collection.explain``'s report of one search (its ``stats`` and ``hits``) with
    the filter's cardinality over the live points (``node``: the compiled filter)."""
    plans = plan(st, node)
    live = sum(max(0, n - seg.n_deleted) for seg, n, _, _, _ in plans)
    allowed = sum(a for *_, a in plans)
    return {
        "plan": stats["plan"],
        "filter": filter,
        "estimated_cardinality": allowed,
        "selectivity": (allowed / live) if live else 0.0,
        "live_points": live,
        "segments": stats["segments"],
        "nodes_visited": stats["nodes_visited"],
        "distance_evals": stats["distance_evals"],
        "exact_rows": stats["exact_rows"],
        "refine_bytes": stats["refine_bytes"],
        "filter_ms": filter_ms,
        "time_ms": stats["time_ms"] + filter_ms,
        "hits": [(h.id, h.score) for h in hits],
    }
