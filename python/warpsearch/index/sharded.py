# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Indexes made of indexes, spread over devices in one process.

:class:`ShardedIndex` splits the points over its shards (each holds a disjoint
subset of the ids); every query goes to every shard and the per-shard top-k are
merged by the one top-k merge (:func:`warpsearch._topk.merge_topk`, or its
device-side twin when the queries are device arrays). :class:`ReplicatedIndex`
holds the same points on every replica and splits each query batch between them.
Both search like any index, with the index's own search parameters. The parts
run concurrently, one host thread each; the engine releases the GIL while it
searches or adds, so the parts overlap on the CPU and on their GPUs.
:func:`shard_index` builds either over a list of devices (or every GPU) after a
memory plan (:mod:`warpsearch.index.planner`).

>>> import numpy as np, warpsearch as ws
>>> x = np.random.default_rng(0).standard_normal((1000, 8)).astype(np.float32)
>>> idx = ws.shard_index("flat", devices=["cpu", "cpu"], dim=8)
>>> idx.add(x)
>>> [len(s) for s in idx.indexes]
[500, 500]
>>> D, I = idx.search(x[:2], k=1)
>>> I[:, 0].tolist()
[0, 1]
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import shutil
import tempfile
import threading
import weakref

import numpy as np

from .. import _core
from .._topk import merge_topk
from .._validation import as_ids, as_matrix, as_path, as_positive_int
from . import _multi_device as md
from ._base import _IndexBase
from ._device import device_index, is_device_array
from .planner import (check_growth, device_copy_bytes, host_bytes, index_kind, index_params,
                      place)
from .stats import merge_stats

__all__ = ["ShardedIndex", "ReplicatedIndex"]

_FORMAT = "warpsearch-multi-index"
_VERSION = 1
_LARGER_IS_BETTER = {"l2": False, "ip": True, "cosine": True}


class _MultiIndex:
    """What sharded and replicated indexes share: the parts, their checks, the pool of
    one thread per part, and the stats. Not instantiated directly."""

    mode = ""

    def __init__(self, indexes, check_memory: bool = True):
        if isinstance(indexes, _IndexBase) or not hasattr(indexes, "__iter__"):
            raise TypeError(f"{type(self).__name__} takes a list of indexes, "
                            f"got {type(indexes).__name__}")
        parts = list(indexes)
        if not parts:
            raise ValueError(f"{type(self).__name__} needs at least one index")
        for p in parts:
            if not isinstance(p, _IndexBase):
                raise TypeError(f"every part must be a FlatIndex, HNSWIndex or IVFPQIndex, "
                                f"got {type(p).__name__}")
        kinds = {type(p).__name__ for p in parts}
        if len(kinds) > 1:
            raise TypeError(f"all parts must be indexes of one kind, got {sorted(kinds)}")
        dims = {p.dim for p in parts}
        if len(dims) > 1:
            raise ValueError(f"all parts must have one dimension, got {sorted(dims)}")
        metrics = {p.metric for p in parts}
        if len(metrics) > 1:
            raise ValueError(f"all parts must have one metric, got {sorted(metrics)}")
        if len({id(p) for p in parts}) != len(parts):
            raise ValueError("an index appears twice among the parts")
        if not isinstance(check_memory, (bool, np.bool_)):
            raise TypeError("check_memory must be a bool")
        self._parts = tuple(parts)
        self.check_memory = bool(check_memory)
        self._tls = threading.local()
        self._pool = None
        self._pool_lock = threading.Lock()
        self._rr = 0  # round robin of replicas for one-query searches

    # -- properties -----------------------------------------------------
    @property
    def indexes(self) -> tuple:
        """The parts (shards or replicas), in order."""
        return self._parts

    @property
    def devices(self) -> list:
        """The device of each part."""
        return [p.device for p in self._parts]

    @property
    def kind(self) -> str:
        """``"flat"``, ``"hnsw"`` or ``"ivf_pq"``."""
        return index_kind(self._parts[0])

    @property
    def dim(self) -> int:
        return self._parts[0].dim

    @property
    def metric(self) -> str:
        return self._parts[0].metric

    @property
    def last_search_info(self) -> dict:
        """Merged stats of the last search this thread ran on this index (``{}`` before)."""
        return getattr(self._tls, "info", {})

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self._parts)} x {type(self._parts[0]).__name__}, "
                f"dim={self.dim}, metric={self.metric!r}, size={len(self)}, "
                f"devices={self.devices})")

    def memory_usage(self) -> int:
        """Host bytes of the parts (an index shared by several replicas counted once)."""
        return int(sum(p.memory_usage() for p in self._distinct()))

    def _distinct(self) -> list:
        """One part per distinct engine index (replicas may share one)."""
        seen, out = set(), []
        for p in self._parts:
            if id(p._impl) not in seen:
                seen.add(id(p._impl))
                out.append(p)
        return out

    # -- threads --------------------------------------------------------
    def _map(self, fn, items):
        """``[fn(item) for item in items]``, one thread per item; the first error (in
        item order) is raised once all have finished."""
        items = list(items)
        if len(items) == 1:
            return [fn(items[0])]
        with self._pool_lock:
            if self._pool is None:
                self._pool = cf.ThreadPoolExecutor(max_workers=len(self._parts),
                                                   thread_name_prefix="warpsearch-part")
                weakref.finalize(self, self._pool.shutdown, wait=False)
        futures = [self._pool.submit(fn, it) for it in items]
        cf.wait(futures)
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stops the part threads (they start again at the next call)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    # -- searches -------------------------------------------------------
    def _prepare(self, queries):
        """``(q, single, device)``: the queries as a 2-D array (float32 NumPy, or a
        CuPy/PyTorch device array), whether they were one 1-D query, and the CUDA
        device index they live on (None for host queries)."""
        if is_device_array(queries):
            cpu = [i for i, p in enumerate(self._parts) if p.device == "cpu"]
            if cpu:
                raise TypeError(f"queries are a device array but part {cpu[0]} searches on the "
                                "CPU; place every part on a GPU or pass a NumPy array")
            q = md.as_library_array(queries)
            return md.as_rows(q), len(q.shape) == 1, md.device_of(q)
        q = as_matrix(queries, self.dim, "queries")
        return q, np.ndim(queries) == 1, None

    @staticmethod
    def _check_k(k) -> int:
        return as_positive_int(k, "k")

    def _finish(self, D, I, stats, single, return_stats):
        self._tls.info = stats
        if single:
            D, I = D[0], I[0]
        return (D, I, stats) if return_stats else (D, I)

    @staticmethod
    def _search_part(part, q, home, k, filter, params):
        """One part's search; device queries are moved to the part's GPU and its results
        back to ``home`` (the queries' device)."""
        if home is None:
            return part.search(q, k=k, filter=filter, return_stats=True, **params)
        dev, lib = device_index(part.device), md.library(q)
        with md.current_device(lib, dev):
            D, I, st = part.search(md.on_device(q, dev), k=k, filter=filter,
                                   return_stats=True, **params)
        with md.current_device(lib, home):
            return md.on_device(D, home), md.on_device(I, home), st

    # -- persistence ----------------------------------------------------
    def _save_dir(self, path, files, entries) -> None:
        """Writes ``files`` (``[(name, index)]``) and a manifest into the folder ``path``,
        replacing an earlier save there atomically (a new folder renamed into place)."""
        path = os.path.abspath(as_path(path))
        if os.path.exists(path) and not os.path.exists(os.path.join(path, "manifest.json")):
            raise ValueError(f"{path!r} exists and is not a saved {type(self).__name__}; "
                             "choose a new path")
        parent = os.path.dirname(path) or "."
        tmp = tempfile.mkdtemp(prefix=".ws-multi-", dir=parent)
        try:
            for name, part in files:
                part.save(os.path.join(tmp, name))
            manifest = {"format": _FORMAT, "version": _VERSION, "mode": self.mode,
                        "kind": self.kind, "dim": self.dim, "metric": self.metric,
                        "parts": entries}
            with open(os.path.join(tmp, "manifest.json"), "w") as f:
                json.dump(manifest, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            old = None
            if os.path.exists(path):
                old = tempfile.mkdtemp(prefix=".ws-multi-old-", dir=parent)
                os.rename(path, os.path.join(old, "x"))
            os.rename(tmp, path)
            if old:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @staticmethod
    def _read_manifest(path, mode):
        from .io import load_index
        path = as_path(path)
        mpath = os.path.join(path, "manifest.json")
        if not os.path.exists(mpath):
            raise FileNotFoundError(f"no saved sharded or replicated index at {path!r} "
                                    "(manifest.json is missing)")
        try:
            with open(mpath) as f:
                m = json.load(f)
        except (OSError, ValueError) as exc:
            raise ValueError(f"unreadable manifest {mpath!r}: {exc}") from None
        if not isinstance(m, dict) or m.get("format") != _FORMAT:
            raise ValueError(f"{mpath!r} is not a warpsearch sharded/replicated index manifest")
        if m.get("version") != _VERSION:
            raise ValueError(f"{mpath!r} has version {m.get('version')!r}; this warpsearch "
                             f"reads version {_VERSION}")
        if m.get("mode") != mode:
            raise ValueError(f"{path!r} holds a {m.get('mode')!r} index, not {mode!r}")
        parts = m.get("parts")
        if not isinstance(parts, list) or not parts:
            raise ValueError(f"{mpath!r} lists no parts")
        return path, parts, load_index

    @staticmethod
    def _load_devices(entries, devices):
        saved = [e.get("device", "cpu") for e in entries]
        if devices is None:
            return saved
        if isinstance(devices, str):
            return [devices] * len(saved)
        devices = list(devices)
        if len(devices) != len(saved):
            raise ValueError(f"devices names {len(devices)} devices for {len(saved)} parts")
        return devices


class ShardedIndex(_MultiIndex):
    """An index whose points are split over shards (indexes of one kind, dimension and
    metric, each on any device, each holding a disjoint set of ids).

    ``search`` sends every query to every shard, one thread per shard, and merges
    their top-k: for an exact index the answer is that of one index holding all the
    points (ties aside). ``search`` takes the shards' own parameters (``ef``,
    ``nprobe``, ``refine_factor``, ``timeout``, ...). Filters are by global id (a mask
    indexed by id or an array of allowed ids) and reach every shard as given. ``add``
    routes each point to exactly one shard: an id a shard holds goes there (its vector
    is replaced), new ids fill the smallest shards first. Device queries (CuPy,
    PyTorch) need every shard on a GPU; each shard gets the queries on its device and
    the results are merged on the queries' device.

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> x = np.random.default_rng(1).standard_normal((600, 16)).astype(np.float32)
    >>> shards = [ws.FlatIndex(dim=16, device="cpu") for _ in range(3)]
    >>> idx = ws.ShardedIndex(shards)
    >>> idx.add(x)
    >>> len(idx), [len(s) for s in shards]
    (600, [200, 200, 200])
    >>> D, I, stats = idx.search(x[5], k=3, return_stats=True)
    >>> int(I[0]), stats["shards"]
    (5, 3)
    """

    mode = "shard"

    def __init__(self, indexes, check_memory: bool = True):
        super().__init__(indexes, check_memory)
        if len(self._distinct()) != len(self._parts):
            raise ValueError("two shards share one index; shards hold disjoint points")
        sizes = [len(p) for p in self._parts]
        if sum(sizes) and max(sizes) < sum(sizes):  # more than one shard holds points
            ids = np.concatenate([p.ids for p in self._parts])
            if np.unique(ids).size != ids.size:
                raise ValueError("shards must hold disjoint ids (ids are global); an id is "
                                 "held by two shards")

    def __len__(self) -> int:
        return int(sum(len(p) for p in self._parts))

    def __contains__(self, id) -> bool:
        return any(id in p for p in self._parts)

    @property
    def ids(self) -> np.ndarray:
        """All live ids (shard by shard)."""
        return np.concatenate([p.ids for p in self._parts])

    def get_vectors(self, ids) -> np.ndarray:
        """Stored vectors of ``ids`` (from the shard holding each); KeyError for an
        unknown id."""
        id_arr = as_ids(ids, None, unique=False, allow_negative=True)
        out = np.empty((id_arr.size, self.dim), np.float32)
        left = np.ones(id_arr.size, bool)
        for p in self._parts:
            if not left.any():
                break
            hit = left & np.isin(id_arr, p.ids)
            if hit.any():
                out[hit] = p.get_vectors(id_arr[hit])
                left &= ~hit
        if left.any():
            raise KeyError(int(id_arr[left][0]))
        return out

    def search(self, queries, k: int = 10, filter=None, return_stats: bool = False, **params):
        """k nearest neighbours over all shards: ``(D, I)`` of shape ``(nq, k)`` (one row
        for a 1-D query), or ``(D, I, stats)`` with ``return_stats``. ``params`` are the
        shards' own search parameters. The stats sum the shards' counters and keep
        each shard's own under ``"parts"``."""
        k = self._check_k(k)
        if not isinstance(return_stats, (bool, np.bool_)):
            raise TypeError(f"return_stats must be a bool, got {type(return_stats).__name__}")
        q, single, home = self._prepare(queries)
        out = self._map(lambda p: self._search_part(p, q, home, k, filter, params), self._parts)
        larger = _LARGER_IS_BETTER[self.metric]
        if home is None:
            D, I = merge_topk(np.concatenate([o[0] for o in out], axis=1),
                              np.concatenate([o[1] for o in out], axis=1), k, larger)
        else:
            with md.current_device(md.library(q), home):
                D, I = md.merge_rows(md.concat([o[0] for o in out], 1),
                                     md.concat([o[1] for o in out], 1), k, larger)
        stats = merge_stats([o[2] for o in out], "shard", int(q.shape[0]))
        return self._finish(D, I, stats, single, return_stats)

    # -- writes ---------------------------------------------------------
    def _next_id(self) -> int:
        return max(int(p._impl.next_id) for p in self._parts)

    def route(self, ids) -> np.ndarray:
        """The shard each of ``ids`` would be added to (``add``'s routing): the shard
        that holds it, else the smallest shards first (new ids in their given order)."""
        return self._route(as_ids(ids, None))[0]

    def _route(self, id_arr: np.ndarray, all_new: bool = False):
        """``(owner, new)``: each id's shard, and which ids no shard holds (``all_new``:
        none is held, as for default ids past the largest)."""
        owner = np.full(id_arr.size, -1, np.int64)
        if id_arr.size and not all_new:
            for s, p in enumerate(self._parts):
                if len(p):
                    owner[(owner < 0) & np.isin(id_arr, p.ids)] = s
        new = owner < 0
        counts = _fill_counts([len(p) for p in self._parts], int(new.sum()))
        owner[new] = np.repeat(np.arange(len(self._parts)), counts)
        return owner, new

    def add(self, vectors, ids=None, **params) -> None:
        """Adds vectors; ``ids`` as for one index (by default they continue from the
        largest id of any shard). Each point goes to one shard (see :meth:`route`); the
        shards add concurrently. ``params`` go to each shard's ``add`` (``progress``).
        With ``check_memory`` an add whose growth would not fit on a device is refused
        (:class:`~warpsearch.index.planner.MemoryPlanError`) before anything changes.
        On an error in one shard, the ids new to the index are removed again from the
        others (vectors replaced there keep their new values)."""
        x = as_matrix(vectors, self.dim, "vectors")
        n = x.shape[0]
        if ids is None:
            start = self._next_id()
            id_arr = np.arange(start, start + n, dtype=np.int64)
        else:
            id_arr = as_ids(ids, n)
        if n == 0:
            return
        if self.kind == "ivf_pq":
            untrained = [i for i, p in enumerate(self._parts) if not p.is_trained]
            if untrained:
                raise ValueError(f"shard {untrained[0]} is not trained; call train() first")
        owner, new = self._route(id_arr, all_new=ids is None)
        jobs = []
        for s, p in enumerate(self._parts):
            rows = np.flatnonzero(owner == s)
            if rows.size == 0:
                continue
            lo, hi = int(rows[0]), int(rows[-1]) + 1
            sel = slice(lo, hi) if hi - lo == rows.size else rows  # a view when contiguous
            jobs.append((p, x[sel], id_arr[sel], new[sel]))
        if self.check_memory:
            grow = [(p, int(fresh.sum())) for p, _, _, fresh in jobs]
            check_growth(_growth(grow, grow), "this add")
        results = self._map(lambda j: _try(lambda: j[0].add(j[1], ids=j[2], **params)), jobs)
        errors = [e for e in results if e is not None]
        if errors:
            for (p, _, ids_s, fresh), err in zip(jobs, results):
                if err is None:
                    p.remove(ids_s[fresh])
            raise errors[0]

    def remove(self, ids) -> int:
        """Removes ids from whichever shard holds them; returns how many were removed."""
        id_arr = as_ids(ids, None, unique=False, allow_negative=True)
        return int(sum(p.remove(id_arr) for p in self._parts))

    def train(self, vectors, **params) -> None:
        """Trains every shard on ``vectors``. IVF-PQ: the first shard is trained (on its
        device) and its coarse quantizer, codebooks and probe calibration are copied to
        the others, so all shards code points alike; the shards must be empty and have
        the same parameters. Flat: each shard fits its storage quantizer to
        ``vectors``. HNSW indexes need no training (TypeError)."""
        kind = self.kind
        if kind == "hnsw":
            raise TypeError("HNSW indexes need no training")
        if kind == "flat":
            for p in self._parts:
                p.train(vectors, **params)
            return
        first, rest = self._parts[0], self._parts[1:]
        shape = {(p.nlist, p.m, p.nbits, p.refine, p.opq) for p in self._parts}
        if len(shape) > 1:
            raise ValueError("IVF-PQ shards have different parameters (nlist, m, nbits, "
                             "refine, opq); train them one by one instead")
        if any(len(p) for p in self._parts):
            raise ValueError("training needs empty shards")
        first.train(vectors, **params)
        _copy_training(first, rest)

    # -- persistence ----------------------------------------------------
    def save(self, path) -> None:
        """Writes the shards (one index file each) and a manifest (mode, kind, the
        shards' devices) into the folder ``path``; an earlier save there is replaced
        atomically. :meth:`load` reads it back."""
        names = [f"shard-{i}.ws" for i in range(len(self._parts))]
        self._save_dir(path, list(zip(names, self._parts)),
                       [{"file": n, "device": p.device} for n, p in zip(names, self._parts)])

    @classmethod
    def load(cls, path, devices=None, check_memory: bool = True) -> "ShardedIndex":
        """Reads a folder written by :meth:`save`. ``devices`` (one device for all
        shards, or one per shard) overrides the saved devices."""
        path, entries, load_index = cls._read_manifest(path, "shard")
        devs = cls._load_devices(entries, devices)
        parts = [place(load_index(os.path.join(path, str(e.get("file")))).to("cpu"), d,
                       check_memory) for e, d in zip(entries, devs)]
        return cls(parts, check_memory)


class ReplicatedIndex(_MultiIndex):
    """An index whose replicas (indexes of one kind, dimension and metric, each on any
    device) all hold the same points; each query batch is split into contiguous
    slices searched concurrently, one per replica, so results equal those of one
    replica. Replicas may share one engine index (see :func:`shard_index`): the host
    then keeps one copy and each GPU replica its own device copy.

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> x = np.random.default_rng(2).standard_normal((500, 8)).astype(np.float32)
    >>> idx = ws.shard_index("hnsw", devices=["cpu", "cpu"], mode="replicate", dim=8)
    >>> idx.add(x)
    >>> len(idx), idx.memory_usage() == idx.indexes[0].memory_usage()
    (500, True)
    >>> D, I = idx.search(x[:4], k=1, ef=32)
    >>> I[:, 0].tolist()
    [0, 1, 2, 3]
    """

    mode = "replicate"

    def __init__(self, indexes, check_memory: bool = True):
        super().__init__(indexes, check_memory)
        first = self._distinct()[0]
        for p in self._distinct()[1:]:
            if len(p) != len(first) or not np.array_equal(np.sort(p.ids), np.sort(first.ids)):
                raise ValueError("replicas must hold the same points (the same ids); "
                                 f"sizes {[len(r) for r in self._parts]}")

    def __len__(self) -> int:
        return len(self._parts[0])

    def __contains__(self, id) -> bool:
        return id in self._parts[0]

    @property
    def ids(self) -> np.ndarray:
        return self._parts[0].ids

    def get_vectors(self, ids) -> np.ndarray:
        return self._parts[0].get_vectors(ids)

    def search(self, queries, k: int = 10, filter=None, return_stats: bool = False, **params):
        """k nearest neighbours: ``(D, I)`` as from one replica (``(D, I, stats)`` with
        ``return_stats``). A batch is split into one contiguous slice per replica
        (fewer for small batches; a single query goes to the replicas in turn)."""
        k = self._check_k(k)
        if not isinstance(return_stats, (bool, np.bool_)):
            raise TypeError(f"return_stats must be a bool, got {type(return_stats).__name__}")
        q, single, home = self._prepare(queries)
        nq, r = int(q.shape[0]), len(self._parts)
        with self._pool_lock:
            first = self._rr
            self._rr = (self._rr + 1) % r
        slices = min(r, max(nq, 1))
        bounds = np.linspace(0, nq, slices + 1).astype(int)
        jobs = [(self._parts[(first + j) % r], int(bounds[j]), int(bounds[j + 1]))
                for j in range(slices)]
        out = self._map(lambda j: self._search_part(j[0], md.rows(q, j[1], j[2]), home, k,
                                                    filter, params), jobs)
        if home is None:
            D = np.concatenate([o[0] for o in out], axis=0)
            I = np.concatenate([o[1] for o in out], axis=0)
        else:
            with md.current_device(md.library(q), home):
                D = md.concat([o[0] for o in out], 0)
                I = md.concat([o[1] for o in out], 0)
        stats = merge_stats([o[2] for o in out], "replicate", nq)
        return self._finish(D, I, stats, single, return_stats)

    def _write(self, fn):
        """Runs a write on each distinct engine index once and drops every replica's
        device copy of it (they are made again at the next search)."""
        out = [fn(p) for p in self._distinct()]
        for p in self._parts:
            p._gpu = None
        return out

    def add(self, vectors, ids=None, **params) -> None:
        """Adds the vectors to every replica (once per shared engine index)."""
        x = as_matrix(vectors, self.dim, "vectors")
        id_arr = None if ids is None else as_ids(ids, x.shape[0])
        if x.shape[0] == 0:
            return
        if self.check_memory:
            n = x.shape[0]
            check_growth(_growth([(p, n) for p in self._distinct()],
                                 [(p, n) for p in self._parts]), "this add")
        self._write(lambda p: p.add(x, ids=id_arr, **params))

    def remove(self, ids) -> int:
        """Removes ids from every replica; returns how many points were removed."""
        return int(self._write(lambda p: p.remove(ids))[0])

    def train(self, vectors, **params) -> None:
        """Trains each distinct replica index (IVF-PQ, or a flat storage quantizer) on
        ``vectors``; replicas trained alike code points alike."""
        if self.kind == "hnsw":
            raise TypeError("HNSW indexes need no training")
        if self.kind == "flat":
            self._write(lambda p: p.train(vectors, **params))
            return
        distinct = self._distinct()
        if any(len(p) for p in distinct):
            raise ValueError("training needs empty replicas")
        distinct[0].train(vectors, **params)
        for p in self._parts:
            p._gpu = None
        # the other engine indexes get the first one's training: every replica is alike
        _copy_training(distinct[0], [p for p in self._parts if p._impl is not distinct[0]._impl])

    def save(self, path) -> None:
        """Writes one copy of the points and a manifest naming each replica's device into
        the folder ``path`` (replaced atomically). :meth:`load` reads it back, the
        replicas then sharing one engine index."""
        self._save_dir(path, [("replica.ws", self._parts[0])],
                       [{"file": "replica.ws", "device": p.device} for p in self._parts])

    @classmethod
    def load(cls, path, devices=None, check_memory: bool = True) -> "ReplicatedIndex":
        """Reads a folder written by :meth:`save`; ``devices`` (one per replica)
        overrides the saved devices."""
        from .shard_index import share
        path, entries, load_index = cls._read_manifest(path, "replicate")
        devs = cls._load_devices(entries, devices)
        files = {str(e.get("file")) for e in entries}
        if len(files) != 1:
            raise ValueError("a replicated index manifest names one file")
        base = load_index(os.path.join(path, files.pop()))
        return cls([share(base, d, check_memory) for d in devs], check_memory)


def _copy_training(trained, others) -> None:
    """Gives ``others`` (empty IVF-PQ indexes) the coarse quantizer, codebooks and probe
    calibration of ``trained`` (empty too), through its file: one engine index each;
    parts that shared an engine index keep sharing one."""
    if not others:
        return
    with tempfile.TemporaryDirectory(prefix="ws-train-") as d:
        path = os.path.join(d, "trained.ws")
        trained.save(path)
        loaded = {}
        for p in others:
            key = id(p._impl)
            if key not in loaded:
                loaded[key] = _core.load_index(path)
            p._impl = loaded[key]
            p._gpu = None


def _try(fn):
    """``fn()``; returns the exception it raised instead of raising it."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - carried back to the caller's thread
        return exc
    return None


def _fill_counts(sizes, m: int) -> np.ndarray:
    """How many of ``m`` new points each shard gets so that the sizes end as even as
    they can: the smallest shards are filled first; equal ones in shard order."""
    sizes = np.asarray(sizes, np.int64)
    counts = np.zeros(sizes.size, np.int64)
    if m == 0:
        return counts
    lo, hi = int(sizes.min()), int(sizes.max()) + m  # the level every shard reaches
    while lo < hi:
        mid = (lo + hi) // 2
        if np.maximum(mid - sizes, 0).sum() >= m:
            hi = mid
        else:
            lo = mid + 1
    counts = np.maximum((lo - 1) - sizes, 0)
    left = m - int(counts.sum())
    for s in np.flatnonzero(sizes + counts < lo)[:left]:
        counts[s] += 1
    return counts


def _growth(host_jobs, device_jobs) -> dict:
    """Extra bytes per device of adding rows to parts (``[(part, rows)]``): the host grows
    by each engine index of ``host_jobs`` (replicas sharing one name it once), each GPU
    by the growth of the device copies of ``device_jobs`` it holds (a copy not made
    yet counts whole: the next search makes it)."""
    out = {"cpu": 0}
    for part, rows in host_jobs:
        kind, params, n, dim = index_kind(part), index_params(part), len(part), part.dim
        out["cpu"] += host_bytes(kind, n + rows, dim, params) - host_bytes(kind, n, dim, params)
    for part, rows in device_jobs:
        if part.device == "cpu":
            continue
        kind, params, n, dim = index_kind(part), index_params(part), len(part), part.dim
        now = part._gpu.memory_usage() if part._gpu is not None else 0
        new = device_copy_bytes(kind, n + rows, dim, params, getattr(part, "gpu_precision", "fp32"))
        out[part.device] = out.get(part.device, 0) + new - now
    return out
