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
memory plan (:mod:`warpsearch.index.memory_plan`).

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

import os

import numpy as np

from .._topk import merge_topk
from .._validation import as_ids, as_matrix
from . import _multi_device as md
from ._multi import LARGER_IS_BETTER, _MultiIndex, copy_training, growth, try_call
from .memory_plan import check_growth, place
from .stats import merge_stats

__all__ = ["ShardedIndex"]


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
        larger = LARGER_IS_BETTER[self.metric]
        if len(out) == 1:  # one shard: its results are the answer
            D, I = out[0][0], out[0][1]
        elif home is None:
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
        (:class:`~warpsearch.index.memory_plan.MemoryPlanError`) before anything changes.
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
            check_growth(growth(grow, grow), "this add")
        results = self._map(lambda j: try_call(lambda: j[0].add(j[1], ids=j[2], **params)), jobs)
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
        copy_training(first, rest)

    # -- persistence ----------------------------------------------------
    def save(self, path) -> None:
        """Writes the shards (one index file each) and a manifest (mode, kind, the
        shards' devices) into the folder ``path``; a complete new folder replaces an
        earlier save there. :meth:`load` reads it back."""
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
