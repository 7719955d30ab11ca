# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Replicated indexes (:class:`ReplicatedIndex`): every part holds all the points."""

from __future__ import annotations

import os

import numpy as np

from .._validation import as_ids, as_matrix
from . import _multi_device as md
from ._multi import _MultiIndex, copy_training, growth
from .memory_plan import check_growth
from .stats import merge_stats

__all__ = ["ReplicatedIndex"]


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
            check_growth(growth([(p, n) for p in self._distinct()],
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
        copy_training(distinct[0], [p for p in self._parts if p._impl is not distinct[0]._impl])

    def save(self, path) -> None:
        """Writes one copy of the points and a manifest naming each replica's device into
        the folder ``path`` (a complete new folder replaces an earlier save). :meth:`load` reads it back, the
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
