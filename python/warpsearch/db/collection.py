# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A collection: points (id, vector, payload) kept in a write-ahead log, one
mutable segment (indexed as it grows) and sealed segments, searched together.

The class is a facade over five parts: ``state`` (segments, id map, live view),
``writer`` (log order, group commit, apply order, back-pressure), ``query`` (plan,
per-segment search, merge, hydrate), ``sealer`` (indexing, sealing, merging in the
background) and ``recovery`` (open, replay, checkpoint).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from .._progress import progress_bar
from .._validation import as_matrix, as_nonnegative_int, as_positive_int, as_timeout
from . import query
from .config import Record, parse_schema
from .display import ExplainPlan, Hits, html_table
from .embedding import as_embedding, as_texts
from .filters import compile_filter
from .payload import encode_payloads, normalize_id, normalize_ids, payload_list
from .recovery import checkpoint, create_collection_dir, open_state, replay
from .sealer import Sealer
from .segment import parse_columns
from .wal import WriteAheadLog, encode_delete, encode_upsert
from .writer import Writer

__all__ = ["Collection", "create_collection_dir"]

log = logging.getLogger("warpsearch.db")
_DEFAULT_BATCH = 4096


class Collection:
    """Points with a vector and a JSON payload; created by ``Database.create_collection``.

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> db = ws.connect("example_db")
    >>> col = db.create_collection("docs", dim=4, metric="l2", schema={"lang": "keyword"})
    >>> seq = col.upsert(["a", "b"], np.eye(4)[:2], [{"lang": "en"}, {"lang": "fr"}])
    >>> [h.id for h in col.search(np.eye(4)[1], k=2, filter={"lang": "fr"})]
    ['b']
    >>> db.close()
    """

    #: Writers wait (and after ``backpressure_timeout`` seconds fail) while this many
    #: full segments wait to be sealed.
    max_pending_seals = 4
    backpressure_timeout = 60.0

    def __init__(self, path: str, name: str, fsync: str = "always", fsync_interval_ms: int = 100,
                 embedding=None):
        self.name = name
        self.path = path
        st = open_state(path, name)
        #: Text to vectors for ``texts=`` / ``text=`` (an ``Embedding``, or None): the one
        #: given, else the model named in the config.
        self.embedding = as_embedding(embedding if embedding is not None
                                      else st.config.get("embedding"))
        last = replay(st)
        self.state = st
        self.wal = WriteAheadLog(f"{path}/wal", last + 1, fsync, fsync_interval_ms)
        # Started after replay: segments frozen while replaying are sealed now.
        self._sealer = Sealer(st, self.wal, name)
        self._writer = Writer(name, st, self.wal, self._sealer, last, self)

    # -- settings --------------------------------------------------------------------
    dim = property(lambda self: self.state.dim, doc="Vector dimension.")
    metric = property(lambda self: self.state.metric, doc='"l2", "ip" or "cosine".')
    schema = property(lambda self: self.state.schema, doc="Payload schema.")
    index_config = property(lambda self: self.state.index_config, doc="Index configuration.")
    segment_size = property(lambda self: self.state.segment_size, doc="Rows per segment.")
    device = property(lambda self: self.state.device, doc="Where sealed segments search.")

    @property
    def _closed(self) -> bool:
        return self._writer.closed

    def _check_open(self):
        if self._writer.closed:
            raise ValueError(f"collection {self.name!r} is closed")

    def _err(self, exc):
        """``exc`` (a ValueError or TypeError of an input check) naming this collection."""
        return type(exc)(f"collection {self.name!r}: {exc}")

    # -- writes ----------------------------------------------------------------------
    def _vectors(self, vectors, n):
        try:
            out = as_matrix(vectors, self.dim, "vectors")
        except (ValueError, TypeError) as exc:
            raise self._err(exc) from None
        if out.shape[0] != n:
            raise ValueError(f"collection {self.name!r}: {out.shape[0]} vectors for {n} ids")
        if self.metric == "cosine" and n and not np.all(np.einsum("ij,ij->i", out, out) > 0):
            raise ValueError(f"collection {self.name!r}: a zero vector has no direction "
                             "(metric cosine)")
        return out

    def embed(self, texts) -> np.ndarray:
        """Vectors of ``texts`` (a str or a list of them) by the collection's embedding:
        a float32 ``(n, dim)`` array."""
        if self.embedding is None:
            raise ValueError(f"collection {self.name!r} has no embedding: give "
                             "embedding= to create_collection or get_collection, or pass "
                             "vectors")
        try:
            texts = as_texts(texts)
            return self.embedding(texts, self.dim) if texts else \
                np.empty((0, self.dim), np.float32)
        except (ValueError, TypeError) as exc:
            raise self._err(exc) from None

    def _vectors_or_texts(self, vectors, texts, what):
        if (vectors is None) == (texts is None):
            raise ValueError(f"collection {self.name!r}: give either {what} or "
                             f"{'text' if what == 'vector' else 'texts'}")
        return self.embed(texts) if vectors is None else vectors

    def upsert(self, ids, vectors=None, payloads=None, *, texts=None,
               batch_size: int = _DEFAULT_BATCH, progress=None) -> int:
        """Inserts or replaces points; returns the log sequence number of the last batch.

        Parameters
        ----------
        ids : int, str or sequence of them
            Point ids (unique within one call).
        vectors : array_like, shape (n, dim)
            Or, instead, ``texts``: one str per point, turned into vectors by the
            collection's ``embedding`` (the texts are not stored; put them in the
            payloads to keep them).
        payloads : list of dict or None, optional
            One JSON-able dict (or None) per point. Schema fields are type-checked.
        batch_size : int
            Points per log record; large upserts are streamed in batches.
        progress : bool, optional
            Show a progress bar (default: where a person is watching, for more than
            one batch).

        Notes
        -----
        Every batch (``batch_size`` rows) is one log record: durable before the call
        returns (concurrent writers share one fsync), visible to the next search, and
        all-or-nothing after a crash.
        """
        try:
            uids = normalize_ids(ids, writing=True)
        except (ValueError, TypeError) as exc:
            raise self._err(exc) from None
        if len(set(uids)) != len(uids):
            raise ValueError(f"collection {self.name!r}: duplicate ids in one upsert call")
        vecs = self._vectors(self._vectors_or_texts(vectors, texts, "vectors"), len(uids))
        payloads = payload_list(payloads, len(uids), self.name)
        batch_size = as_positive_int(batch_size, "batch_size", maximum=None)
        n = len(uids)
        nbatches = (n + batch_size - 1) // batch_size
        self._check_open()
        seq = self.wal.last_seq
        auto = progress if progress is not None or nbatches > 1 else False
        with progress_bar(auto, n, f"upsert {self.name}", "pt") as bar:
            for s in range(0, n, batch_size):
                e = min(n, s + batch_size)
                seq = self._upsert_batch(uids[s:e], vecs[s:e], payloads[s:e])
                bar.update(e - s)
        return seq

    def _upsert_batch(self, uids, vecs, payloads):
        schema = self.schema
        try:
            raws = encode_payloads(payloads)
            parsed = parse_columns(schema, payloads)
        except (ValueError, TypeError) as exc:
            raise self._err(exc) from None

        def recheck(rec):  # a field was added since the payloads were parsed
            if self.state.schema is schema:
                return rec
            try:
                return rec[:4] + (parse_columns(self.state.schema, payloads),)
            except (ValueError, TypeError) as exc:
                raise self._err(exc) from None

        return self._writer.write(encode_upsert(uids, vecs, raws),
                                  ("upsert", uids, vecs, raws, parsed), check=recheck)

    def delete(self, ids=None, *, filter=None) -> int:
        """Deletes points by id or by filter (not both); returns how many existed."""
        if (ids is None) == (filter is None):
            raise ValueError(f"collection {self.name!r}: give either ids or filter to delete")
        node = self._filter(filter) if filter is not None else None
        if node is None:
            try:
                asked = list(dict.fromkeys(normalize_ids(ids)))
            except (ValueError, TypeError) as exc:
                raise self._err(exc) from None
        found = []

        def prepare():
            if node is not None:
                uids = [r.id for r in query.scan(self.state, node, 0, None, False, False)]
            else:
                uids = [u for u in asked if u in self.state.idmap]
            found.append(len(uids))
            if not uids:
                return None, None
            return encode_delete(uids), ("delete", uids)

        self._writer.write(None, None, prepare)
        return found[0] if found else 0

    # -- reads ------------------------------------------------------------------------
    def _filter(self, filter):
        try:
            return compile_filter(filter, self.schema)
        except (ValueError, TypeError) as exc:
            raise self._err(exc) from None

    def _queries(self, q, name):
        try:
            Q = as_matrix(q, self.dim, name)
        except (ValueError, TypeError) as exc:
            raise self._err(exc) from None
        if self.metric == "cosine" and not (float(np.dot(Q[0], Q[0])) > 0 if len(Q) == 1
                                            else np.all(np.einsum("ij,ij->i", Q, Q) > 0)):
            raise ValueError(f"collection {self.name!r}: a zero query vector has no direction "
                             "(metric cosine)")
        return Q

    def _params(self, k, ef, nprobe, refine_factor, timeout):
        try:
            k = as_positive_int(k, "k")
            cfg = self.index_config
            ef = getattr(cfg, "ef_search", 64) if ef is None else as_positive_int(ef, "ef")
            nprobe = getattr(cfg, "nprobe", 16) if nprobe is None else \
                as_positive_int(nprobe, "nprobe")
            refine_factor = getattr(cfg, "refine_factor", 4) if refine_factor is None else \
                as_positive_int(refine_factor, "refine_factor")
            timeout = as_timeout(timeout)
        except (ValueError, TypeError) as exc:
            raise self._err(exc) from None
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        return k, query.SearchParams(ef, nprobe, refine_factor, deadline)

    def _search(self, Q, k, filter, ef, nprobe, refine_factor, timeout, with_payload,
                return_stats, batch=False):
        k, params = self._params(k, ef, nprobe, refine_factor, timeout)
        self._check_open()
        node = self._filter(filter)
        if not return_stats:
            return query.search(self.state, Q, k, node, params, with_payload, None, batch), None
        t0 = time.perf_counter()
        segs: list = []
        hits = query.search(self.state, Q, k, node, params, with_payload, segs, batch)
        live = sum(max(0, s["rows"]) for s in segs)
        stats = {"segments": segs, "plan": _plan_name(segs),
                 "allowed": sum(s["allowed"] for s in segs), "rows": live,
                 "nodes_visited": int(sum(s.get("nodes_visited", 0) for s in segs)),
                 "distance_evals": int(sum(s.get("distance_evals", 0) for s in segs)),
                 "exact_rows": int(sum(s.get("exact_rows", 0) for s in segs)),
                 "refine_bytes": int(sum(s.get("refine_bytes", 0) for s in segs)),
                 "time_ms": (time.perf_counter() - t0) * 1e3, "nq": int(Q.shape[0])}
        return hits, stats

    def search(self, vector=None, k: int = 10, filter=None, ef=None,
               with_payload: bool = True, *, text=None, nprobe=None, refine_factor=None,
               timeout=None, return_stats: bool = False):
        """The ``k`` nearest points to ``vector`` that pass ``filter``: a list of ``Hit``
        (with ``return_stats=True``: ``(hits, stats)``, the stats of this call).

        ``ef`` is the candidate list size of HNSW segments (default: the config's
        ``ef_search``); ``nprobe`` / ``refine_factor`` those of IVF-PQ segments.
        ``timeout`` (seconds) bounds the search: past it, ``TimeoutError``. Rows the
        background indexer has not reached yet are scanned exactly. Deleted and
        replaced points never appear. ``text`` instead of ``vector`` searches for the
        vector of a text (by the collection's ``embedding``).
        """
        Q = self._queries(self._vectors_or_texts(vector, text, "vector"), "vector")
        if Q.shape[0] != 1:
            raise ValueError(f"collection {self.name!r}: search takes one vector; use "
                             "search_batch for several")
        hits, stats = self._search(Q, k, filter, ef, nprobe, refine_factor, timeout,
                                   with_payload, return_stats)
        return (Hits(hits[0]), stats) if return_stats else Hits(hits[0])

    def search_batch(self, vectors=None, k: int = 10, filter=None, ef=None,
                     with_payload: bool = True, *, texts=None, nprobe=None,
                     refine_factor=None, timeout=None, return_stats: bool = False):
        """``search`` for each row of ``vectors`` (one filter for all): a ``BatchResults``,
        the sequence of each query's list of Hit, with ``ids`` and ``scores`` arrays (with
        ``return_stats=True``: ``(results, stats)``). ``texts`` instead of ``vectors``:
        the vectors of these texts (by the collection's ``embedding``)."""
        Q = self._queries(self._vectors_or_texts(vectors, texts, "vectors"), "vectors")
        hits, stats = self._search(Q, k, filter, ef, nprobe, refine_factor, timeout,
                                   with_payload, return_stats, batch=True)
        return (hits, stats) if return_stats else hits

    def search_exact(self, vectors, k: int = 10, filter=None, with_payload: bool = False):
        """The exact ``k`` nearest live points passing ``filter`` for each row of
        ``vectors`` (a vector is one row), by brute force over every segment's vectors
        (indexes ignored): one list of ``Hit`` per row. The ground truth of ``search``;
        it costs O(points x dim) per query.

        Examples
        --------
        >>> import numpy as np, warpsearch as ws
        >>> db = ws.connect("exact_db")
        >>> col = db.create_collection("v", dim=2, metric="l2")
        >>> seq = col.upsert([1, 2, 3], [[0, 0], [1, 0], [5, 5]])
        >>> [h.id for h in col.search_exact([0.9, 0], k=2)[0]]
        [2, 1]
        >>> db.close()
        """
        Q = self._queries(vectors, "vectors")
        try:
            k = as_positive_int(k, "k")
        except (ValueError, TypeError) as exc:
            raise self._err(exc) from None
        self._check_open()
        node = self._filter(filter)
        return query.exact(self.state, Q, k, node, bool(with_payload))

    def explain(self, vector, k: int = 10, filter=None, ef=None, *, nprobe=None,
                refine_factor=None) -> dict:
        """Runs one search and reports how: per segment plan, filter selectivity,
        nodes visited, distance evaluations, ``refine_bytes`` (bytes of stored vectors
        read to re-rank candidates: IVF-PQ refine copies, the exact rows of HNSW with a
        quantized walk; read from the index file when the segment is mapped) and time."""
        Q = self._queries(vector, "vector")[:1]
        t0 = time.perf_counter()
        node = self._filter(filter)
        filter_ms = (time.perf_counter() - t0) * 1e3
        hits, stats = self._search(Q, k, filter, ef, nprobe, refine_factor, None, False, True)
        return ExplainPlan(query.explain_report(self.state, node, filter, filter_ms, hits[0],
                                                stats))

    def create_field_index(self, name: str, type: str) -> None:
        """Makes payload field ``name`` filterable as ``type`` (a schema type, e.g.
        ``"keyword"`` or ``"int[]"``), indexing the points already stored.

        Writes wait meanwhile; searches continue. A live point whose ``name`` has a
        value of another type raises ``ValueError`` and leaves the schema unchanged.
        Declaring a field again with the same type does nothing; with another type it
        is a ``ValueError``.
        """
        try:
            spec = parse_schema({name: type})[name]
        except (ValueError, TypeError) as exc:
            raise self._err(exc) from None
        old = self.schema.get(name)
        if old is not None:
            if old.spelled == spec.spelled:
                return
            raise ValueError(f"collection {self.name!r}: field {name!r} is already "
                             f"{old.spelled!r}; cannot index it as {spec.spelled!r}")
        with self._writer.exclusive():
            try:
                with self.state.mu:
                    self.state.add_field(spec)
            except ValueError as exc:
                raise self._err(exc) from None
        checkpoint(self.state, self.wal)

    def count(self, filter=None) -> int:
        """Number of live points (that pass ``filter``)."""
        self._check_open()
        if filter is None:
            return len(self.state.idmap)
        node = self._filter(filter)
        return sum(a for *_, a in query.plan(self.state, node))

    def __len__(self) -> int:
        return self.count()

    def scroll(self, filter=None, limit: int = 100, offset: int = 0, with_vectors: bool = True,
               with_payload: bool = True) -> list:
        """Live points (that pass ``filter``) in storage order: ``limit`` of them after
        skipping ``offset``. A list of ``Record``."""
        try:
            limit = as_nonnegative_int(limit, "limit", maximum=None)
            offset = as_nonnegative_int(offset, "offset", maximum=None)
        except (ValueError, TypeError) as exc:
            raise self._err(exc) from None
        self._check_open()
        node = self._filter(filter)
        with self.state.mu:
            return query.scan(self.state, node, offset, limit, with_vectors, with_payload)

    def get(self, ids) -> list:
        """Records of ``ids`` in the order asked, ``None`` where a point does not exist."""
        try:
            uids = normalize_ids(ids)
        except (ValueError, TypeError) as exc:
            raise self._err(exc) from None
        self._check_open()
        st = self.state
        out = []
        with st.mu:
            for uid in uids:
                iid = st.idmap.get(uid)
                if iid is None:
                    out.append(None)
                    continue
                seg, row = st.by_iid(iid), iid & 0xFFFFFFFF
                out.append(Record(uid, np.array(seg.vectors([row])[0]), seg.payload(row)))
        return out

    def __contains__(self, uid) -> bool:
        return normalize_id(uid) in self.state.idmap

    @property
    def sequence(self) -> int:
        """Sequence number of the newest log record."""
        return self.wal.last_seq

    def info(self) -> dict:
        """Counts and layout: points, segments (sealed / being sealed), rows indexed,
        deletes, background work and its failures."""
        return self.state.info(self.wal, self._sealer)

    def durations(self) -> dict:
        """How long this collection's durability and background steps take, for
        monitoring: ``wal_fsync``, ``seal`` and ``merge`` histograms of seconds (each
        ``{"buckets": [(upper bound, cumulative count), ...], "sum": s, "count": n}``)
        and ``merges_pending``, the merges automatic compaction would run now (its
        queue)."""
        self._check_open()
        sealer = self._sealer
        return {"wal_fsync": self.wal.fsync_timings.snapshot(),
                "seal": sealer.seal_timings.snapshot(),
                "merge": sealer.merge_timings.snapshot(),
                "merges_pending": sealer.pending_merges()}

    def memory_usage(self) -> dict:
        """Bytes held, by where: ``ram`` (indexes and the vectors of unsealed segments),
        ``mapped`` (what sealed segments read from memory-mapped files: vectors kept
        beside a lossy index, and the parts of index files read so far; in RAM as far
        as the page cache keeps them), ``device`` (GPU copies of indexes) and ``disk``
        (the collection's files, log included). Payloads and field indexes are not
        counted."""
        self._check_open()
        return self.state.memory_usage()

    def __repr__(self) -> str:
        return (f"Collection({self.name!r}, dim={self.dim}, metric={self.metric!r}, "
                f"points={len(self.state.idmap)})")

    def _repr_html_(self) -> str:
        if self._closed:
            return html_table(("collection", "state"), [(self.name, "closed")])
        info = self.info()
        rows = [(k, info[k]) for k in ("name", "points", "dim", "metric", "device",
                                       "sealed_segments", "mutable_rows", "indexed_rows",
                                       "deleted_rows", "sequence")]
        rows.insert(4, ("index", info["index"]["kind"]))
        rows.append(("schema", info["schema"]))
        if self.embedding is not None:
            rows.append(("embedding", self.embedding.name or "callable"))
        return html_table(("", "value"), rows, f"Collection {self.name!r}")

    # -- maintenance ----------------------------------------------------------------------
    def flush(self, timeout=None) -> None:
        """Waits until every point is indexed and every full segment sealed, then writes
        a checkpoint (manifest + tombstones)."""
        timeout = as_timeout(timeout)
        self._check_open()
        self._sealer.wait_idle(timeout)
        checkpoint(self.state, self.wal)

    def compact(self, progress=None) -> dict:
        """Rewrites the sealed segments that need it: those with deletes (purged) and
        those smaller than the merge limit (merged by size tiers, smallest first, up to
        8 segment sizes). Full segments without deletes are left alone, so the cost
        follows what changed, not the collection. Searches and writes continue
        meanwhile. Merges also run automatically in the background (segments with a
        fifth deleted, or more than 8 segments). Returns a small report."""
        self.flush()
        with progress_bar(progress, None, f"compact {self.name}", "group") as bar:
            rep = self._sealer.compact(progress=bar)
        return rep

    def train(self, sample) -> None:
        """Trains the IVF-PQ quantizer of this collection on ``sample`` (before any
        segment is indexed); without it, training uses the first ``train_size`` points."""
        self._check_open()
        st = self.state
        if st.index_cfg["kind"] != "ivf_pq":
            raise ValueError(f"collection {self.name!r}: train() is for IVF-PQ collections; "
                             f"this one uses {st.index_cfg['kind']}")
        X = self._vectors(sample, len(np.atleast_2d(np.asarray(sample))))
        with st.mu:
            if st.trained is not None or any(s.index is not None for s in st.view):
                raise ValueError(f"collection {self.name!r} is already trained")
        self._sealer.train(X)
        self._sealer.wake()

    # -- snapshots --------------------------------------------------------------------
    def snapshot(self, path, base=None, progress=None) -> str:
        """Writes a consistent point-in-time archive of the collection to ``path``.

        Writes may continue meanwhile: the state is captured under the lock (after
        the log is flushed), then files are copied without it. With ``base`` (a
        previous snapshot of this collection) only segments not already in the
        base are stored, plus a reference to it. ``path`` may be a local directory
        or, with fsspec installed, a URL such as ``memory://name``. Returns the path.
        """
        from .snapshot import take_snapshot

        self._check_open()
        return take_snapshot(self, path, base, progress=progress)

    # -- lifecycle ------------------------------------------------------------------
    def close(self) -> None:
        """Seals what is ready (a fully indexed mutable segment is written with its index,
        so reopening does not index it again), writes a checkpoint, closes the log."""
        if self._writer.closed:
            return
        self._writer.close()  # writes already logged are applied
        st = self.state
        with st.mu:
            mut = st.mutable
            froze = bool(mut.n and mut.index is not None and mut.indexed >= mut.n)
            if froze:
                st.freeze(self.wal.last_seq, 0)
        if froze:  # the log file it came from is then dropped by the checkpoint
            self.wal.rotate()
        try:
            self._sealer.wait_idle_frozen()
        finally:
            self._sealer.close()
            try:
                checkpoint(st, self.wal)
            finally:
                self.wal.close()


def _plan_name(segs):
    plans = sorted({s.get("plan") or "empty" for s in segs})
    return plans[0] if len(plans) == 1 else (plans or "empty")
