# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A collection: points (id, vector, payload) kept in a write-ahead log, one
mutable segment and sealed segments, searched together.

Directory of a collection::

    MANIFEST.json        config + live segments + WAL sequence they cover (atomic)
    wal/                 write-ahead log files
    segments/seg-<id>/   sealed segment files
    tombstones/          deleted-row bitmaps of sealed segments

Internal ids are ``segment id << 32 | row``; the user id -> internal id map is
rebuilt on open from the segments' id files, tombstones and the log.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import threading
import time

import numpy as np

from .._progress import someone_watching
from .._validation import as_matrix, as_nonnegative_int, as_positive_int
from ..index import HNSWIndex
from .config import Hit, Record, index_config_from_dict, parse_schema
from .filters import compile_filter
from .payload import decode_payload, encode_payload, normalize_id, normalize_ids
from .segment import (MutableSegment, load_segment, load_tombstones, parse_rows,
                      save_tombstones, seg_dirname, write_segment)
from .storage import fsync_dir, read_manifest, write_manifest
from .wal import WriteAheadLog, decode_record, encode_delete, encode_upsert, read_log

__all__ = ["Collection"]

log = logging.getLogger("warpsearch.db")
_ROW_BITS = 32
_ROW_MASK = (1 << _ROW_BITS) - 1
_DEFAULT_BATCH = 4096


class _RowsView:
    """A segment seen with a fixed row count (for evaluating filters)."""

    __slots__ = ("n", "fields")

    def __init__(self, n, fields):
        self.n, self.fields = n, fields


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

    def __init__(self, path: str, name: str, fsync: str = "always", fsync_interval_ms: int = 100):
        self.name = name
        self.path = path
        body = read_manifest(path)
        cfg = body["config"]
        self.dim = int(cfg["dim"])
        self.metric = cfg["metric"]
        self.index_config = index_config_from_dict(cfg["index"])
        self._index_cfg = self.index_config.to_dict()
        self.schema = parse_schema(cfg["schema"])
        self.segment_size = int(cfg["segment_size"])
        self._config = cfg
        self._uid = body.get("uid", "")
        self._lock = threading.RLock()
        self._compact_mu = threading.Lock()
        self._closed = False
        self._bg_error = None
        self._sealed: dict = {}
        self._frozen: list = []
        self._idmap: dict = {}
        self._pins: dict = {}
        self._garbage: list = []
        self._tomb_gen = int(body.get("tomb_gen", 0))
        # Sealed segments hold every record up to seq "seq", plus the first
        # "seq_rows" rows of the next one when a record larger than a segment was
        # split across segments; replay skips exactly those rows.
        self._covered = int(body["seq"])
        self._covered_rows = int(body.get("seq_rows", 0))
        self._next_seg = int(body["next_segment_id"])
        for d in ("wal", "segments", "tombstones"):
            os.makedirs(os.path.join(path, d), exist_ok=True)
        self._load_sealed(body)
        self._mutable = self._new_mutable()
        self._refresh_view()
        self._queue: queue.Queue = queue.Queue()
        last = self._covered
        for seq, payload in read_log(self._dir("wal"), self._covered):
            rec = decode_record(payload)
            skip = self._covered_rows if seq == self._covered + 1 else 0
            if skip and rec[0] == "upsert":
                rec = (rec[0],) + tuple(part[skip:] for part in rec[1:])
                self._apply(rec, seq, replay=True, first_row=skip)
            else:
                self._apply(rec, seq, replay=True)
            last = seq
        self._wal = WriteAheadLog(self._dir("wal"), last + 1, fsync, fsync_interval_ms)
        # Started after replay: segments frozen while replaying are sealed now.
        self._worker = threading.Thread(target=self._seal_loop, daemon=True,
                                        name=f"warpsearch-seal-{name}")
        self._worker.start()

    # -- opening -------------------------------------------------------------
    def _dir(self, sub):
        return os.path.join(self.path, sub)

    def _load_sealed(self, body):
        seg_root, tomb_root = self._dir("segments"), self._dir("tombstones")
        live_dirs, live_tombs = set(), set()
        for entry in body["segments"]:
            seg = load_segment(seg_root, entry, self.schema, self.dim)
            if entry.get("tombstones"):
                seg.set_tombs(load_tombstones(tomb_root, entry["tombstones"], seg.n))
                seg.tomb_file = entry["tombstones"]["file"]
                live_tombs.add(seg.tomb_file)
            self._sealed[seg.seg_id] = seg
            live_dirs.add(seg_dirname(seg.seg_id))
            alive = np.flatnonzero(~seg.tombs())
            base = seg.seg_id << _ROW_BITS
            for row in alive.tolist():
                prev = self._idmap.get(seg.uids[row])
                if prev is not None:  # never written that way; repair defensively
                    self._sealed[prev >> _ROW_BITS].mark_deleted(prev & _ROW_MASK)
                self._idmap[seg.uids[row]] = base | row
        # Remove what no manifest names: unfinished seals, replaced or compacted segments.
        for f in os.listdir(seg_root):
            if f not in live_dirs:
                shutil.rmtree(os.path.join(seg_root, f), ignore_errors=True)
        for f in os.listdir(tomb_root):
            if f not in live_tombs:
                os.remove(os.path.join(tomb_root, f))

    def _new_mutable(self):
        seg = MutableSegment(self._next_seg, self.dim, self.metric, self.schema)
        self._next_seg += 1
        return seg

    def _refresh_view(self):
        self._view = tuple(self._sealed[k] for k in sorted(self._sealed)) + tuple(self._frozen) \
            + (self._mutable,)
        self._by_id = {s.seg_id: s for s in self._view}

    def _by_iid(self, iid):
        return self._by_id[iid >> _ROW_BITS]

    def _check_open(self):
        if self._closed:
            raise ValueError(f"collection {self.name!r} is closed")
        if self._bg_error is not None:
            raise RuntimeError(f"collection {self.name!r}: sealing a segment failed: "
                               f"{self._bg_error!r}") from self._bg_error

    # -- writes ----------------------------------------------------------------
    def _validate_vectors(self, vectors, n):
        out = as_matrix(vectors, self.dim, "vectors")
        if out.shape[0] != n:
            raise ValueError(f"{out.shape[0]} vectors for {n} ids")
        return out

    def upsert(self, ids, vectors, payloads=None, *, batch_size: int = _DEFAULT_BATCH,
               progress=None) -> int:
        """Inserts or replaces points; returns the log sequence number of the last batch.

        Parameters
        ----------
        ids : int, str or sequence of them
            Point ids (unique within one call).
        vectors : array_like, shape (n, dim)
        payloads : list of dict or None, optional
            One JSON-able dict (or None) per point. Schema fields are type-checked.
        batch_size : int
            Points per log record; large upserts are streamed in batches.
        progress : bool, optional
            Show a progress bar (default: only on a terminal and for more than one batch).

        Every batch (``batch_size`` rows) is one log record: durable before it
        is applied and before the call returns, visible to the next search, and
        all-or-nothing after a crash.
        """
        uids = normalize_ids(ids)
        if len(set(uids)) != len(uids):
            raise ValueError("duplicate ids in one upsert call")
        vecs = self._validate_vectors(vectors, len(uids))
        if payloads is None:
            payloads = [None] * len(uids)
        elif isinstance(payloads, dict):
            payloads = [payloads]
        payloads = list(payloads)
        if len(payloads) != len(uids):
            raise ValueError(f"{len(payloads)} payloads for {len(uids)} ids")
        batch_size = as_positive_int(batch_size, "batch_size", maximum=None)
        n = len(uids)
        nbatches = (n + batch_size - 1) // batch_size
        if progress is None:
            progress = nbatches > 1 and someone_watching()
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, unit="pt", desc=f"upsert {self.name}")
        self._check_open()
        seq = self._wal.last_seq
        try:
            for s in range(0, n, batch_size):
                e = min(n, s + batch_size)
                seq = self._upsert_batch(uids[s:e], vecs[s:e], payloads[s:e])
                if bar is not None:
                    bar.update(e - s)
        finally:
            if bar is not None:
                bar.close()
        return seq

    def _upsert_batch(self, uids, vecs, payloads):
        raws = [encode_payload(p) for p in payloads]
        parsed = parse_rows(self.schema, payloads)
        with self._lock:
            self._check_open()
            # One log record per batch, so a batch is all-or-nothing after a crash.
            seq = self._wal.append(encode_upsert(uids, vecs, raws))
            self._apply(("upsert", uids, vecs, raws, parsed), seq)
        return seq

    def delete(self, ids=None, *, filter=None) -> int:
        """Deletes points by id or by filter (not both); returns how many existed."""
        if (ids is None) == (filter is None):
            raise ValueError("give either ids or filter to delete")
        node = compile_filter(filter, self.schema) if filter is not None else None
        with self._lock:
            self._check_open()
            if node is not None:
                uids = [r.id for r in self._scan(node, 0, None, with_vectors=False,
                                                 with_payload=False)]
            else:
                uids = list(dict.fromkeys(normalize_ids(ids)))
            if not uids:
                return 0
            count = sum(1 for u in uids if u in self._idmap)
            if count:
                seq = self._wal.append(encode_delete(uids))
                self._apply(("delete", uids), seq)
            return count

    def _apply(self, rec, seq, replay=False, first_row=0):
        """Applies a logged record to memory (caller holds the lock or is opening)."""
        if rec[0] == "delete":
            for uid in rec[1]:
                iid = self._idmap.pop(uid, None)
                if iid is not None:
                    self._by_iid(iid).mark_deleted(iid & _ROW_MASK)
            return
        _, uids, vecs, raws = rec[:4]
        parsed = rec[4] if len(rec) > 4 else \
            parse_rows(self.schema, [decode_payload(r) for r in raws])
        # Tombstone old versions first: a concurrent search may miss a point being
        # replaced, but never sees its stale version.
        for uid in uids:
            iid = self._idmap.pop(uid, None)
            if iid is not None:
                self._by_iid(iid).mark_deleted(iid & _ROW_MASK)
        off, m, froze = 0, len(uids), False
        while off < m:
            mut = self._mutable
            take = min(m - off, self.segment_size - mut.n)
            base = mut.n
            mut.append(uids[off:off + take], vecs[off:off + take], raws[off:off + take],
                       parsed[off:off + take])
            hi = mut.seg_id << _ROW_BITS
            for i, uid in enumerate(uids[off:off + take]):
                self._idmap[uid] = hi | (base + i)
            off += take
            if mut.n >= self.segment_size:
                # A segment ending inside the record covers its first rows only.
                self._freeze(seq, 0) if off == m else self._freeze(seq - 1, first_row + off)
                froze = True
        if froze and not replay:
            self._wal.rotate()

    def _freeze(self, covered_seq, covered_rows):
        mut = self._mutable
        mut.covered_seq = covered_seq
        mut.covered_rows = covered_rows
        self._frozen.append(mut)
        self._mutable = self._new_mutable()
        self._refresh_view()
        self._queue.put(mut)

    # -- background sealing -------------------------------------------------
    def _seal_loop(self):
        while True:
            seg = self._queue.get()
            try:
                if seg is None:
                    return
                if self._bg_error is None:
                    self._seal(seg)
            except Exception as exc:  # reported by the next call
                log.exception("sealing segment %s failed", seg.seg_id)
                self._bg_error = exc
            finally:
                self._queue.task_done()

    def _seal(self, frozen):
        sealed = write_segment(self._dir("segments"), frozen.seg_id, frozen.vectors(),
                               frozen.uids, frozen.raws, self._index_cfg, self.dim,
                               self.metric, self.schema)
        with self._lock:
            # Deletes made while the index was built went to frozen's tombstones.
            sealed.set_tombs(frozen.tombs())
            sealed.tomb_dirty = sealed.n_deleted > 0
            self._sealed[sealed.seg_id] = sealed
            self._frozen.remove(frozen)
            self._refresh_view()
            if (frozen.covered_seq, frozen.covered_rows) > (self._covered, self._covered_rows):
                self._covered, self._covered_rows = frozen.covered_seq, frozen.covered_rows
            if not self._closed:
                self._checkpoint()

    def _wait_sealed(self):
        self._queue.join()

    def _checkpoint(self):
        """Writes changed tombstones and a new manifest; frees what it no longer names."""
        self._wal.sync()
        tomb_root = self._dir("tombstones")
        old_tombs = []
        for seg in self._sealed.values():
            if seg.tomb_dirty:
                self._tomb_gen += 1
                if seg.tomb_file:
                    old_tombs.append(seg.tomb_file)
                meta = save_tombstones(tomb_root, seg, self._tomb_gen)
                seg.entry["tombstones"] = meta
                seg.tomb_file = meta["file"]
                seg.tomb_dirty = False
        fsync_dir(tomb_root)
        write_manifest(self.path, self._manifest_body())
        for f in old_tombs:
            try:
                os.remove(os.path.join(tomb_root, f))
            except FileNotFoundError:
                pass
        self._collect_garbage()
        self._wal.drop_covered(self._covered)

    def _manifest_body(self):
        return {"format": 1, "uid": self._uid, "config": self._config, "seq": self._covered,
                "seq_rows": self._covered_rows,
                "next_segment_id": self._next_seg, "tomb_gen": self._tomb_gen,
                "segments": [self._sealed[k].entry for k in sorted(self._sealed)]}

    def _collect_garbage(self):
        keep = []
        for seg_id in self._garbage:
            if self._pins.get(seg_id):
                keep.append(seg_id)
            else:
                shutil.rmtree(os.path.join(self._dir("segments"), seg_dirname(seg_id)),
                              ignore_errors=True)
        self._garbage = keep

    def flush(self) -> None:
        """Waits for background sealing and writes a checkpoint (manifest + tombstones)."""
        self._check_open()
        self._wait_sealed()
        with self._lock:
            self._check_open()
            self._checkpoint()

    def compact(self) -> dict:
        """Merges all sealed segments into one and purges deleted points.

        Searches and writes may continue meanwhile. Returns a small report.
        """
        with self._compact_mu:
            return self._compact()

    def _compact(self) -> dict:
        self._check_open()
        self._wait_sealed()
        with self._lock:
            self._check_open()
            victims = [self._sealed[k] for k in sorted(self._sealed)]
            if len(victims) < 2 and not any(s.n_deleted for s in victims):
                return {"merged": len(victims), "rows": sum(s.n for s in victims), "purged": 0}
            snap = [(s, s.tombs().copy()) for s in victims]
            new_id = self._next_seg
            self._next_seg += 1
        alive = [np.flatnonzero(~t) for _, t in snap]
        vecs = np.concatenate([s.vectors()[a] for (s, _), a in zip(snap, alive)]) if snap \
            else np.zeros((0, self.dim), np.float32)
        uids = [s.uids[r] for (s, _), a in zip(snap, alive) for r in a.tolist()]
        raws = [s.raws[r] for (s, _), a in zip(snap, alive) for r in a.tolist()]
        purged = sum(s.n for s in victims) - len(uids)
        new = None
        if uids:
            new = write_segment(self._dir("segments"), new_id, vecs, uids, raws,
                                self._index_cfg, self.dim, self.metric, self.schema)
        with self._lock:
            row = 0
            hi = new_id << _ROW_BITS
            for (s, _), a in zip(snap, alive):
                now_dead = s.tombs()[a]
                old_hi = s.seg_id << _ROW_BITS
                for j, r in enumerate(a.tolist()):
                    if now_dead[j]:
                        new.mark_deleted(row)
                    elif self._idmap.get(s.uids[r]) == old_hi | r:
                        self._idmap[s.uids[r]] = hi | row
                    row += 1
                del self._sealed[s.seg_id]
                self._garbage.append(s.seg_id)
            if new is not None:
                self._sealed[new_id] = new
            self._refresh_view()
            self._checkpoint()
        return {"merged": len(victims), "rows": len(uids), "purged": purged}

    # -- reads ------------------------------------------------------------------
    def _masks(self, node):
        """Per searchable segment: (segment, rows n, allowed mask or None, allowed count)."""
        out = []
        for seg in self._view:
            if seg.kind == "mutable":  # the one receiving writes (or a frozen one: cheap)
                with self._lock:
                    n = seg.n
                    mask = node.mask(_RowsView(n, seg.fields)) if node is not None else None
                    live = seg.live_mask(n)
            else:
                n = seg.n
                mask = node.mask(seg) if node is not None else None
                live = seg.live_mask(n)
            if live is not None:
                mask = live if mask is None else (mask & live)
            if mask is None and seg.kind == "mutable":  # rows appended after n stay invisible
                mask = np.ones(n, dtype=bool)
            allowed = n if mask is None else int(np.count_nonzero(mask))
            out.append((seg, n, mask, allowed))
        return out

    def _query_matrix(self, q, name):
        return as_matrix(q, self.dim, name)

    def _search(self, Q, k, filter, ef, with_payload, stats=None):
        k = as_positive_int(k, "k")
        if ef is None:
            ef = getattr(self.index_config, "ef_search", 64)
        else:
            ef = as_positive_int(ef, "ef")
        ef = max(int(ef), k)
        self._check_open()
        t0 = time.perf_counter()
        node = compile_filter(filter, self.schema)
        plans = self._masks(node)
        t1 = time.perf_counter()
        nq = Q.shape[0]
        Ds, Us = [], []
        for seg, n, mask, allowed in plans:
            if n == 0 or allowed == 0:
                continue
            if isinstance(seg.index, HNSWIndex):
                D, ids = seg.index.search(Q, k=k, ef=ef, filter=mask)
            else:
                D, ids = seg.index.search(Q, k=k, filter=mask)
            if stats is not None:
                info = dict(seg.index.last_search_info)
                stats.append({"segment": seg.seg_id, "state": seg.kind if seg.kind == "sealed"
                              else ("frozen" if seg in self._frozen else "mutable"),
                              "index": type(seg.index).__name__, "rows": n,
                              "allowed": allowed, "plan": info.get("plan"),
                              "nodes_visited": info.get("nodes_visited", 0),
                              "distance_evals": info.get("distance_evals", 0)})
            Ds.append(D.reshape(nq, k))
            Us.append((seg, ids.reshape(nq, k)))
        results = self._merge(Ds, Us, nq, k, with_payload)
        if stats is not None:
            live = sum(max(0, n - seg.n_deleted) for seg, n, _, _ in plans)
            stats.append({"filter_ms": (t1 - t0) * 1e3, "total_ms": (time.perf_counter() - t0)
                          * 1e3, "allowed": sum(a for _, _, _, a in plans), "live": live})
        return results

    def _merge(self, Ds, Us, nq, k, with_payload):
        out = [[] for _ in range(nq)]
        if not Ds:
            return out
        D = np.concatenate(Ds, axis=1)
        order = np.argsort(D if self.metric == "l2" else -D, axis=1, kind="stable")
        width = [u[1].shape[1] for u in Us]
        starts = np.cumsum([0] + width)
        for qi in range(nq):
            seen = set()
            for c in order[qi].tolist():
                si = int(np.searchsorted(starts, c, side="right") - 1)
                seg, rows = Us[si]
                row = int(rows[qi, c - starts[si]])
                if row < 0:
                    continue
                uid = seg.uids[row]
                if uid in seen:
                    continue
                seen.add(uid)
                out[qi].append(Hit(uid, float(D[qi, c]),
                                   seg.payload(row) if with_payload else None))
                if len(out[qi]) == k:
                    break
        return out

    def search(self, vector, k: int = 10, filter=None, ef=None, with_payload: bool = True):
        """The ``k`` nearest points to ``vector`` that pass ``filter``: a list of ``Hit``.

        ``ef`` is the candidate list size of HNSW segments (default: the config's
        ``ef_search``). The mutable segment is searched exactly. Deleted and
        replaced points never appear.
        """
        q = self._query_matrix(vector, "vector")
        if q.shape[0] != 1:
            raise ValueError("search takes one vector; use search_batch for several")
        return self._search(q, k, filter, ef, with_payload)[0]

    def search_batch(self, vectors, k: int = 10, filter=None, ef=None,
                     with_payload: bool = True):
        """``search`` for each row of ``vectors`` (one filter for all): list of lists of Hit."""
        return self._search(self._query_matrix(vectors, "vectors"), k, filter, ef, with_payload)

    def explain(self, vector, k: int = 10, filter=None, ef=None) -> dict:
        """Runs one search and reports how: per segment plan, filter selectivity,
        nodes visited, distance evaluations and time."""
        q = self._query_matrix(vector, "vector")
        stats: list = []
        hits = self._search(q[:1], k, filter, ef, False, stats)[0]
        summary = stats.pop()
        live = summary["live"]
        plans = sorted({s["plan"] for s in stats if s["plan"]})
        return {
            "plan": plans[0] if len(plans) == 1 else (plans or ["empty"]),
            "filter": filter,
            "estimated_cardinality": summary["allowed"],
            "selectivity": (summary["allowed"] / live) if live else 0.0,
            "live_points": live,
            "segments": stats,
            "nodes_visited": int(sum(s["nodes_visited"] for s in stats)),
            "distance_evals": int(sum(s["distance_evals"] for s in stats)),
            "filter_ms": summary["filter_ms"],
            "time_ms": summary["total_ms"],
            "hits": [(h.id, h.score) for h in hits],
        }

    def _scan(self, node, offset, limit, with_vectors=True, with_payload=True):
        out = []
        skip = offset
        for seg, n, mask, allowed in self._masks(node):
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
            vecs = seg.vectors()
            for r in rows.tolist():
                out.append(Record(seg.uids[r], np.array(vecs[r]) if with_vectors else None,
                                  seg.payload(r) if with_payload else None))
            if limit is not None and len(out) >= limit:
                break
        return out

    def count(self, filter=None) -> int:
        """Number of live points (that pass ``filter``)."""
        self._check_open()
        if filter is None:
            return len(self._idmap)
        node = compile_filter(filter, self.schema)
        return sum(a for _, _, _, a in self._masks(node))

    def __len__(self) -> int:
        return self.count()

    def scroll(self, filter=None, limit: int = 100, offset: int = 0, with_vectors: bool = True,
               with_payload: bool = True) -> list:
        """Live points (that pass ``filter``) in storage order: ``limit`` of them after
        skipping ``offset``. A list of ``Record``."""
        limit = as_nonnegative_int(limit, "limit", maximum=None)
        offset = as_nonnegative_int(offset, "offset", maximum=None)
        self._check_open()
        node = compile_filter(filter, self.schema)
        with self._lock:
            return self._scan(node, offset, limit, with_vectors, with_payload)

    def get(self, ids) -> list:
        """Records of ``ids`` in the order asked, ``None`` where a point does not exist."""
        uids = normalize_ids(ids)
        self._check_open()
        out = []
        with self._lock:
            for uid in uids:
                iid = self._idmap.get(uid)
                if iid is None:
                    out.append(None)
                    continue
                seg, row = self._by_iid(iid), iid & _ROW_MASK
                out.append(Record(uid, np.array(seg.vectors()[row]), seg.payload(row)))
        return out

    def __contains__(self, uid) -> bool:
        return normalize_id(uid) in self._idmap

    @property
    def sequence(self) -> int:
        """Sequence number of the newest log record."""
        return self._wal.last_seq

    def info(self) -> dict:
        """Counts and layout: points, segments (sealed / being sealed), rows, deletes."""
        with self._lock:
            return {"name": self.name, "points": len(self._idmap), "dim": self.dim,
                    "metric": self.metric, "index": self._index_cfg,
                    "schema": {k: v.spelled for k, v in self.schema.items()},
                    "sealed_segments": len(self._sealed), "sealing": len(self._frozen),
                    "mutable_rows": self._mutable.n, "covered_seq": self._covered,
                    "sequence": self._wal.last_seq,
                    "deleted_rows": sum(s.n_deleted for s in self._view)}

    def __repr__(self) -> str:
        return (f"Collection({self.name!r}, dim={self.dim}, metric={self.metric!r}, "
                f"points={len(self._idmap)})")

    # -- snapshots --------------------------------------------------------------------
    def snapshot(self, path, base=None) -> str:
        """Writes a consistent point-in-time archive of the collection to ``path``.

        Writes may continue meanwhile: the state is captured under the lock (after
        the log is flushed), then files are copied without it. With ``base`` (a
        previous snapshot of this collection) only segments not already in the
        base are stored, plus a reference to it. ``path`` may be a local directory
        or, with fsspec installed, a URL such as ``memory://name``. Returns the path.
        """
        from .snapshot import take_snapshot

        self._check_open()
        return take_snapshot(self, path, base)

    def _capture_for_snapshot(self) -> dict:
        with self._lock:
            self._check_open()
            self._wal.sync()
            segs = []
            for k in sorted(self._sealed):
                seg = self._sealed[k]
                self._pins[k] = self._pins.get(k, 0) + 1
                segs.append((json.loads(json.dumps(seg.entry)),
                             os.path.join(self._dir("segments"), seg_dirname(k)),
                             seg.tombs()[: seg.n].copy()))
            ids, raws, vecs = [], [], []
            for seg in self._frozen + [self._mutable]:
                alive = np.flatnonzero(~seg.tombs()[: seg.n])
                ids += [seg.uids[r] for r in alive.tolist()]
                raws += [seg.raws[r] for r in alive.tolist()]
                vecs.append(seg.vectors()[alive])
            return {"uid": self._uid, "config": self._config, "seq": self._wal.last_seq,
                    "segments": segs,
                    "tail": {"ids": ids, "raws": raws, "vectors": np.concatenate(vecs)}}

    def _release_snapshot(self, state) -> None:
        with self._lock:
            for entry, _, _ in state["segments"]:
                k = entry["id"]
                self._pins[k] -= 1
                if not self._pins[k]:
                    del self._pins[k]
            if not self._closed:
                self._collect_garbage()

    def _install_segments(self, segs) -> None:
        """Adds sealed segments restored from a snapshot: ``(entry, copy_files, tombs)``."""
        with self._lock:
            self._check_open()
            if self._idmap:
                raise ValueError("segments can only be restored into an empty collection")
            root = self._dir("segments")
            for entry, copy_files, tomb in segs:
                seg_id = self._next_seg
                self._next_seg += 1
                final = os.path.join(root, seg_dirname(seg_id))
                os.makedirs(final + ".tmp")
                copy_files(final + ".tmp")
                fsync_dir(final + ".tmp")
                os.rename(final + ".tmp", final)
                e = {"id": seg_id, "rows": entry["rows"], "index": entry["index"],
                     "files": entry["files"]}
                seg = load_segment(root, e, self.schema, self.dim)
                seg.set_tombs(tomb)
                seg.tomb_dirty = True
                self._sealed[seg_id] = seg
                hi = seg_id << _ROW_BITS
                for row in np.flatnonzero(~tomb).tolist():
                    self._idmap[seg.uids[row]] = hi | row
            fsync_dir(root)
            self._refresh_view()
            self._checkpoint()

    # -- lifecycle ------------------------------------------------------------------
    def close(self) -> None:
        """Finishes background sealing, writes a checkpoint and closes the log."""
        if self._closed:
            return
        self._wait_sealed()
        self._queue.put(None)
        self._worker.join()
        with self._lock:
            if self._bg_error is None:
                self._checkpoint()
            self._wal.close()
            self._closed = True


def create_collection_dir(path: str, config: dict, uid: str) -> None:
    """Creates a collection directory atomically (temp dir + rename)."""
    tmp = path + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for d in ("wal", "segments", "tombstones"):
        os.makedirs(os.path.join(tmp, d))
    write_manifest(tmp, {"format": 1, "uid": uid, "config": config, "seq": 0,
                         "next_segment_id": 0, "tomb_gen": 0, "segments": []})
    os.rename(tmp, path)
    fsync_dir(os.path.dirname(path))

