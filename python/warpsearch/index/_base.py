# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""What every index shares: add, remove, save, and one device flow for searches."""

from __future__ import annotations

import threading

import numpy as np

from .. import _core
from .._progress import progress_bar, show_progress
from .._validation import as_filter, as_ids, as_matrix, as_path
from ._device import DeviceQueries, device_index, is_device_array, resolve_device

__all__ = ["GPU_PRECISIONS", "STORAGE_MODES", "REFINE_MODES", "HNSW_STORAGE_MODES"]

GPU_PRECISIONS = ("fp32", "fp16", "bf16")
STORAGE_MODES = ("fp32", "fp16", "sq8", "sq4", "binary")
REFINE_MODES = ("none", "sq8", "fp16", "fp32")  # re-rank copies (flat and IVF-PQ)
HNSW_STORAGE_MODES = ("fp32", "fp16", "sq8")

# The engine refuses a device copy older than the index (see ``_IndexBase._on_device``).
_STALE_RETRIES = 3


def _names_auto(device) -> bool:
    return isinstance(device, str) and device.strip().lower() == "auto"


class _IndexBase:
    """Shared add/search/remove/save behaviour. Not instantiated directly.

    A search goes through :meth:`_run_search`, the one device flow: it picks the
    device (with the CPU fallback of ``"auto"``), runs device arrays on their GPU,
    NumPy queries on a GPU copy of the index (made again when a write made it
    stale) or on the CPU, and records the stats. Index types only say how their
    engine is called on each path.
    """

    _impl: _core.Index

    def __init__(self, device="auto"):
        self._tls = threading.local()  # last_search_info, one per thread
        self._device_auto = device is None or _names_auto(device)
        self._device = resolve_device(device)
        self._gpu = None  # device-resident copy, dropped whenever the index changes

    # -- properties -----------------------------------------------------
    @property
    def last_search_info(self) -> dict:
        """Stats of the last search that *this thread* ran on this index (``{}`` before
        any): device, nq and what the engine counted. Two threads searching the same
        index each read their own; ``search(..., return_stats=True)`` returns them
        with the results."""
        return getattr(self._tls, "info", {})

    @last_search_info.setter
    def last_search_info(self, info: dict) -> None:
        self._tls.info = info

    @property
    def dim(self) -> int:
        """Dimension of the vectors."""
        return self._impl.dim

    @property
    def metric(self) -> str:
        """``"l2"``, ``"ip"`` or ``"cosine"``."""
        return self._impl.metric

    def __len__(self) -> int:
        return self._impl.size()

    def __contains__(self, id) -> bool:
        ids = as_ids(id, None, unique=False, allow_negative=True)
        return ids.size == 1 and self._impl.contains(int(ids[0]))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, metric={self.metric!r}, size={len(self)})"

    # -- writes ---------------------------------------------------------
    def add(self, vectors, ids=None) -> None:
        """Adds vectors (``(n, dim)`` float32/float16/uint8/...; a 1-D array is one vector).

        ``ids`` are non-negative int64 (``-1`` is the id of missing results); by
        default they continue from the largest id so far.
        Re-adding an existing id replaces its vector. On error nothing changes.
        """
        x = as_matrix(vectors, self.dim, "vectors")
        id_arr = None if ids is None else as_ids(ids, x.shape[0])
        if x.shape[0] == 0:
            return
        self._add_rows(x, id_arr)

    def _add_rows(self, x: np.ndarray, id_arr) -> None:
        """One engine add of validated rows."""
        try:
            self._impl.add(x, id_arr)
        finally:
            # after the write: a search during it may have copied the old contents
            self._gpu = None

    def _add_in_chunks(self, x: np.ndarray, id_arr, chunk: int, progress, desc: str) -> None:
        """Adds validated rows ``chunk`` at a time, advancing a progress bar (see
        :mod:`warpsearch._progress`); one engine add when no bar is shown."""
        n = x.shape[0]
        if not show_progress(progress) or n <= chunk:
            self._add_rows(x, id_arr)
            return
        with progress_bar(True, n, desc) as bar:
            for s in range(0, n, chunk):
                e = min(n, s + chunk)
                self._add_rows(x[s:e], None if id_arr is None else id_arr[s:e])
                bar.update(e - s)

    def remove(self, ids) -> int:
        """Removes ids (unknown ids are ignored); returns how many were removed."""
        try:
            return int(self._impl.remove(as_ids(ids, None, unique=False, allow_negative=True)))
        finally:
            self._gpu = None

    # -- devices --------------------------------------------------------
    @property
    def device(self) -> str:
        """Where searches run: ``"cpu"`` or ``"cuda:N"``."""
        return self._device

    def to(self, device):
        """Moves searches to ``device`` (``"cpu"``, ``"cuda[:N]"``, ``"auto"``); returns self.

        Moving to a GPU copies the vectors (and graph) to it now; ``"cpu"`` frees
        that copy. The index itself always stays in host memory, so ``save``
        writes the same file whatever the device.
        """
        dev = resolve_device(device)
        self._device_auto = _names_auto(device)
        self._device = dev
        self._gpu = None
        if dev != "cpu":
            self._device_data(dev)
        return self

    def _device_data(self, dev):
        if self._gpu is None or self._gpu.device != device_index(dev):
            self._gpu = None  # free the old copy before making a new one
            self._gpu = _core.to_device(self._impl, device_index(dev))
        return self._gpu

    def _on_device(self, dev, search, auto: bool):
        """Runs ``search(device_copy)``. A write from another thread can make the copy
        stale between its upload and the search (the engine then raises
        ``StaleDeviceCopyError``): the copy is made again and the search retried; after
        a few tries, ``auto`` searches go to the CPU (returns ``None``) and explicit
        ones raise."""
        for _ in range(_STALE_RETRIES):
            try:
                return search(self._device_data(dev))
            except _core.StaleDeviceCopyError:
                self._gpu = None
        if auto:
            return None
        raise RuntimeError(f"the index kept changing during {_STALE_RETRIES} GPU searches "
                           "(concurrent writes); search on device='cpu' or pause the writes")

    def _gpu_refusal(self, k, ef) -> str | None:
        """Why the GPU cannot run this search (``None``: it can)."""
        if k > _core.gpu_max_k:
            return f"k={k} exceeds what GPU exact search supports (k <= {_core.gpu_max_k})"
        return None

    # -- reads ----------------------------------------------------------
    def _is_auto(self, device) -> bool:
        """Whether this search (``device``, or the index's when None) is ``"auto"``."""
        return self._device_auto if device is None else _names_auto(device)

    def _choose_device(self, device, queries, gpu_ok: bool, limits: str) -> str:
        """The device of one search: ``device`` or the index's, with the CPU fallback of
        ``"auto"`` when the GPU cannot run it (``gpu_ok`` false; ``limits`` says why)."""
        dev = self._device if device is None else resolve_device(device)
        auto = self._is_auto(device)
        if dev != "cpu":
            if gpu_ok:
                return dev
            if not auto or is_device_array(queries):
                raise ValueError(f"{limits}; search on device='cpu'")
            return "cpu"  # device="auto": fall back to the CPU
        if is_device_array(queries) and _core.cuda_device_count() > 0:
            raise TypeError("queries are a device array but this search runs on the CPU; "
                            "use idx.to('cuda') or pass a NumPy array")
        return dev

    def _run_search(self, queries, k: int, filter, device, *, refusal: str | None, cpu,
                    gpu, gpu_ptr, extra_stats: dict | None = None, return_stats=False):
        """The one search flow of every index type; returns ``(D, I)`` (one row's
        arrays for a 1-D query), or ``(D, I, stats)`` with ``return_stats``, and
        records the stats in this thread's ``last_search_info``.

        ``refusal`` is why the GPU cannot run this search (``None``: it can). The
        engine calls are ``cpu(q, allow_ids, mask)`` and ``gpu(copy, q, allow_ids,
        mask)``, each returning ``(D, I, stats)``, and ``gpu_ptr(copy, dq, D, I,
        allow_ids, mask)``, which fills the device arrays ``D`` and ``I`` for the
        :class:`DeviceQueries` ``dq`` and returns the stats. ``extra_stats`` are
        added to the stats of every path; :meth:`_gpu_stats` adds those of GPU runs.
        """
        if not isinstance(return_stats, (bool, np.bool_)):
            raise TypeError(f"return_stats must be a bool, got {type(return_stats).__name__}")
        dev = self._choose_device(device, queries, refusal is None, refusal or "")
        if dev != "cpu" and is_device_array(queries):
            dq = DeviceQueries(queries, self.dim)
            allow_ids, mask = as_filter(filter)
            D, I = dq.empty(k)
            stats = self._on_device(dev, lambda data: gpu_ptr(data, dq, D, I, allow_ids, mask),
                                    auto=False)  # device arrays have no CPU fallback
            single, nq = dq.single, dq.nq
        else:
            q = as_matrix(queries, self.dim, "queries")  # validates before anything reads it
            single = np.ndim(queries) == 1
            nq = int(q.shape[0])
            allow_ids, mask = as_filter(filter)
            out = None
            if dev != "cpu":
                out = self._on_device(dev, lambda data: gpu(data, q, allow_ids, mask),
                                      self._is_auto(device))
                if out is None:
                    dev = "cpu"  # auto, and the index kept changing: the CPU answers
            if out is None:
                out = cpu(q, allow_ids, mask)
            D, I, stats = out
        stats["device"] = dev
        stats["nq"] = nq
        if extra_stats:
            stats.update(extra_stats)
        if dev != "cpu":
            self._gpu_stats(stats)
        self.last_search_info = stats
        if single:
            D, I = D[0], I[0]
        return (D, I, stats) if return_stats else (D, I)

    def _search(self, queries, k: int, ef: int, rerank: int, filter, device, return_stats,
                timeout=None):
        """Flat and HNSW searches: the engine's ``search`` on the CPU, ``search_gpu`` and
        ``search_gpu_ptr`` on a GPU (``ef`` is 0 for exact search). ``timeout`` (checked
        by :func:`as_timeout`) bounds the CPU search only."""
        return self._run_search(
            queries, k, filter, device, refusal=self._gpu_refusal(k, ef),
            return_stats=return_stats,
            cpu=lambda q, ids, mask: self._impl.search(q, k, ef, rerank, ids, mask, timeout),
            gpu=lambda data, q, ids, mask: _core.search_gpu(self._impl, data, q, k, ef, ids, mask),
            gpu_ptr=lambda data, dq, D, I, ids, mask: _core.search_gpu_ptr(
                self._impl, data, dq.ptr, dq.nq, k, ef, ids, mask, dq.pointer(D), dq.pointer(I)))

    def _gpu_stats(self, stats: dict) -> None:
        """Adds what only GPU searches of this index type report."""

    def get_vectors(self, ids) -> np.ndarray:
        """Stored vectors of ``ids`` (normalized for cosine); KeyError for an unknown id."""
        id_arr = as_ids(ids, None, unique=False, allow_negative=True)
        out, found = self._impl.reconstruct(id_arr)
        if not found.all():
            raise KeyError(int(id_arr[~found][0]))
        return out

    @property
    def ids(self) -> np.ndarray:
        """All live ids."""
        return self._impl.ids()

    def memory_usage(self) -> int:
        """Bytes of memory held by the index (in RAM; see ``mapped_bytes``)."""
        return int(self._impl.memory_usage())

    @property
    def mapped_bytes(self) -> int:
        """Bytes read from the memory-mapped index file (``load_index(..., mmap=True)``);
        0 once the index is all in RAM."""
        return int(self._impl.mapped_bytes())

    def verify(self) -> None:
        """Verifies every checksum of a memory-mapped index now (otherwise each
        section is verified on its first use); ``CorruptionError`` when one fails.
        A no-op for an index in RAM (verified when it was loaded)."""
        self._impl.verify()

    def save(self, path) -> None:
        """Writes the index (versioned, checksummed format); atomic replace of ``path``."""
        self._impl.save(as_path(path))
