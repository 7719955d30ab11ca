# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Index classes: thin, validated wrappers over the compiled engine."""

from __future__ import annotations

import os

import numpy as np

from . import _core
from ._device import DeviceQueries, device_index, is_device_array, resolve_device
from ._validation import (
    as_filter,
    as_ids,
    as_matrix,
    as_path,
    as_positive_int,
    check_choice,
    check_metric,
    check_sq_bits,
)

__all__ = ["FlatIndex", "HNSWIndex", "load_index"]

GPU_PRECISIONS = ("fp32", "fp16", "bf16")
STORAGE_MODES = ("fp32", "fp16", "sq8", "sq4", "binary")
REFINE_MODES = ("none", "sq8", "fp16", "fp32")  # re-rank copies (flat and IVF-PQ)
HNSW_STORAGE_MODES = ("fp32", "fp16", "sq8")


# The engine refuses a device copy older than the index (see ``_IndexBase._on_device``).
_STALE_COPY = "device copy of this index is out of date"
_STALE_RETRIES = 3


def _names_auto(device) -> bool:
    return isinstance(device, str) and device.strip().lower() == "auto"


class _IndexBase:
    """Shared add/search/remove/save behaviour. Not instantiated directly."""

    _impl: _core.Index

    def __init__(self, device="auto"):
        self.last_search_info: dict = {}
        self._device_auto = device is None or _names_auto(device)
        self._device = resolve_device(device)
        self._gpu = None  # device-resident copy, dropped whenever the index changes

    # -- properties -----------------------------------------------------
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
        ids = as_ids(id, None, unique=False)
        return ids.size == 1 and self._impl.contains(int(ids[0]))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, metric={self.metric!r}, size={len(self)})"

    # -- writes ---------------------------------------------------------
    def add(self, vectors, ids=None) -> None:
        """Adds vectors (``(n, dim)`` float32/float16/uint8/...; a 1-D array is one vector).

        ``ids`` are int64; by default they continue from the largest id so far.
        Re-adding an existing id replaces its vector. On error nothing changes.
        """
        x = as_matrix(vectors, self.dim, "vectors")
        id_arr = None if ids is None else as_ids(ids, x.shape[0])
        if x.shape[0] == 0:
            return
        try:
            self._impl.add(x, id_arr)
        finally:
            # after the write: a search during it may have copied the old contents
            self._gpu = None

    def remove(self, ids) -> int:
        """Removes ids (unknown ids are ignored); returns how many were removed."""
        try:
            return int(self._impl.remove(as_ids(ids, None, unique=False)))
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
        stale between its upload and the search (the engine then refuses it): the copy
        is made again and the search retried; after a few tries, ``auto`` searches go to
        the CPU (returns ``None``) and explicit ones raise."""
        for _ in range(_STALE_RETRIES):
            try:
                return search(self._device_data(dev))
            except ValueError as exc:
                if _STALE_COPY not in str(exc):
                    raise
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

    def _search_gpu(self, queries, k, ef, filter, dev, auto=False):
        """GPU search; ``None`` when ``auto`` and the copy could not be kept current."""
        allow_ids, mask = as_filter(filter)
        if is_device_array(queries):
            dq = DeviceQueries(queries, self.dim)
            D, I = dq.empty(k)
            stats = self._on_device(dev, lambda data: _core.search_gpu_ptr(
                self._impl, data, dq.ptr, dq.nq, k, ef, allow_ids, mask, dq.pointer(D),
                dq.pointer(I)), auto=False)  # device arrays have no CPU fallback
            single, nq = dq.single, dq.nq
        else:
            q = as_matrix(queries, self.dim, "queries")  # validates before anything reads it
            single = np.ndim(queries) == 1
            out = self._on_device(dev, lambda data: _core.search_gpu(
                self._impl, data, q, k, ef, allow_ids, mask), auto)
            if out is None:
                return None
            D, I, stats = out
            nq = int(q.shape[0])
        stats["device"] = dev
        stats["nq"] = nq
        self.last_search_info = stats
        if single:
            return D[0], I[0]
        return D, I

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

    def _search(self, queries, k, ef, rerank, filter, device=None):
        k = as_positive_int(k, "k")
        refusal = self._gpu_refusal(k, ef)
        dev = self._choose_device(device, queries, refusal is None, refusal or "")
        if dev != "cpu":
            out = self._search_gpu(queries, k, ef, filter, dev, self._is_auto(device))
            if out is not None:
                return out
        q = as_matrix(queries, self.dim, "queries")  # validates before anything else reads it
        single = np.ndim(queries) == 1
        allow_ids, mask = as_filter(filter)
        D, I, stats = self._impl.search(q, k, ef, rerank, allow_ids, mask)
        stats["device"] = "cpu"
        stats["nq"] = int(q.shape[0])
        self.last_search_info = stats
        if single:
            return D[0], I[0]
        return D, I

    def get_vectors(self, ids) -> np.ndarray:
        """Stored vectors of ``ids`` (normalized for cosine); KeyError for an unknown id."""
        id_arr = as_ids(ids, None, unique=False)
        out, found = self._impl.reconstruct(id_arr)
        if not found.all():
            raise KeyError(int(id_arr[~found][0]))
        return out

    @property
    def ids(self) -> np.ndarray:
        """All live ids."""
        return self._impl.ids()

    def memory_usage(self) -> int:
        """Bytes of memory held by the index."""
        return int(self._impl.memory_usage())

    def save(self, path) -> None:
        """Writes the index (versioned, checksummed format); atomic replace of ``path``."""
        self._impl.save(as_path(path))


class FlatIndex(_IndexBase):
    """Exact search: every query is compared with every vector (blocked, threaded).

    ``storage`` is how the vectors are kept (``memory_usage()`` and
    ``bytes_per_vector`` report the effect):

    - ``"fp32"`` (default): as given; exact search.
    - ``"fp16"``: half the bytes; searched exactly as decoded (values must fit
      float16, ``|x| <= 65504``).
    - ``"sq8"`` / ``"sq4"``: one byte / half a byte per dimension, a per-dimension
      range fitted to the first ``add`` (or to :meth:`train`) and widened, with
      the stored rows re-encoded, when later data falls outside it. Integer data
      whose range spans at most 256 (sq8) / 16 (sq4) values is coded losslessly.
    - ``"binary"``: one bit per dimension (the sign around the mean of the first
      data) and a scale per vector; ranked by an estimate, meant with a re-rank.

    ``refine`` (``"none"``, ``"sq8"``, ``"fp16"``, ``"fp32"``) keeps a second copy
    of the vectors: the best ``k * refine_factor`` candidates of the compressed
    scan are re-ranked on it. ``None`` means ``"fp32"`` for binary storage and
    ``"none"`` otherwise. GPU searches read the refine copy when there is one,
    else the decoded storage; binary storage without a refine copy is ranked by
    its estimate on the CPU only (``device="auto"`` searches it there).

    ``gpu_precision`` (``"fp32"``, ``"fp16"`` or ``"bf16"``) is the arithmetic of
    GPU searches: with fp16/bf16 a first pass runs on the tensor cores over a
    2-byte copy of the vectors and its best ``4 * k`` candidates (at most 2048)
    are re-ranked in fp32, so results match fp32 up to near-ties.

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> idx = ws.FlatIndex(dim=4, metric="l2")
    >>> idx.add(np.eye(4, dtype=np.float32))
    >>> D, I = idx.search(np.array([1, 0, 0, 0], dtype=np.float32), k=2)
    >>> int(I[0]), float(D[0])
    (0, 0.0)
    """

    gpu_precision = "fp32"  # loaded indexes start here too

    def __init__(self, dim: int, metric: str = "l2", device: str = "auto",
                 gpu_precision: str = "fp32", storage: str = "fp32", refine: str | None = None):
        super().__init__(device)
        self.gpu_precision = check_choice(gpu_precision, "gpu_precision", GPU_PRECISIONS)
        storage = check_choice(storage, "storage", STORAGE_MODES)
        if refine is None:
            refine = "fp32" if storage == "binary" else "none"
        refine = check_choice(refine, "refine", REFINE_MODES)
        self._impl = _core.FlatIndex(as_positive_int(dim, "dim"), check_metric(metric), storage,
                                     refine)

    @property
    def storage(self) -> str:
        """How the vectors are kept: fp32, fp16, sq8, sq4 or binary."""
        return self._impl.storage

    @property
    def refine(self) -> str:
        """The re-rank copy: none, sq8, fp16 or fp32."""
        return self._impl.refine

    @property
    def bytes_per_vector(self) -> int:
        """Bytes of vector data per vector: the codes plus the refine copy (ids excluded)."""
        return int(self._impl.bytes_per_vector)

    def __repr__(self) -> str:
        extra = "" if self.storage == "fp32" else f", storage={self.storage!r}, refine={self.refine!r}"
        return (f"FlatIndex(dim={self.dim}, metric={self.metric!r}{extra}, size={len(self)})")

    def train(self, vectors) -> None:
        """Fits the storage quantizer (sq8/sq4 ranges, the binary center) and an sq8
        refine copy to ``vectors`` without adding them; only while the index is empty.
        Optional: otherwise the first ``add`` fits them. No effect for fp32/fp16."""
        x = as_matrix(vectors, self.dim, "training vectors")
        self._impl.train(x)

    def _device_data(self, dev):
        data = super()._device_data(dev)
        # gpu_precision may have changed since the copy was made
        prec = check_choice(self.gpu_precision, "gpu_precision", GPU_PRECISIONS)
        if data.precision != prec:
            data.set_precision(prec)
        return data

    def _gpu_refusal(self, k, ef) -> str | None:
        if self.storage == "binary" and self.refine == "none":
            # the GPU would score the decoded vectors, not the CPU's estimate: other answers
            return "binary storage without a refine copy is searched on the CPU only"
        return super()._gpu_refusal(k, ef)

    def _search_gpu(self, queries, k, ef, filter, dev, auto=False):
        out = super()._search_gpu(queries, k, ef, filter, dev, auto)
        if out is not None:
            self.last_search_info["precision"] = self.gpu_precision
        return out

    def search(self, queries, k: int = 10, filter=None, device=None, refine_factor: int = 4):
        """Exact k nearest neighbours: ``(D, I)`` of shape ``(nq, k)``.

        D is the squared L2 distance (ascending) or the similarity for ip/cosine
        (descending); missing results have id -1 and distance +inf (l2) / -inf.
        ``filter`` is a boolean mask indexed by id, or an array of allowed ids.
        ``device`` overrides the index's device for this call; device arrays
        (CuPy, PyTorch) as queries give results of the same kind on the GPU.
        With a refine copy, ``k * refine_factor`` candidates are re-ranked on it.
        """
        refine_factor = as_positive_int(refine_factor, "refine_factor")
        k = as_positive_int(k, "k")
        return self._search(queries, k, 0, min(k * refine_factor, 2**31 - 1), filter, device)


class HNSWIndex(_IndexBase):
    """Approximate search on a hierarchical navigable small-world graph.

    Traversal runs on scalar-quantized codes (``quantized=True``) and the best
    candidates are re-ranked with the exact vectors. Integer-valued data whose
    per-dimension range spans at most 256 values (uint8 descriptors such as SIFT)
    is coded losslessly on 8 bits, and the re-rank then reads the codes.

    ``sq_bits`` is the code width: 8, 4 (half the bytes read per distance, coarser
    ranking), or ``None`` to choose at the first ``add``: 4 bits when, on a sample of
    that data, 4-bit codes alone keep at least 90% of the true 10 nearest neighbours
    in their top 10, else 8. ``idx.sq_bits`` reports the width in use (``None`` until
    it is chosen).

    ``storage`` is how the vectors used for the re-rank and the build are kept:
    ``"fp32"`` (default), ``"fp16"`` (half the bytes; values must fit float16,
    ``|x| <= 65504``; distances are then those of the float16-rounded vectors) or
    ``"sq8"``: no separate copy, the 8-bit traversal codes are the stored vectors
    (a quarter of fp32; lossless for integer data such as uint8 descriptors, else
    distances and the build use the decoded codes). ``"sq8"`` needs
    ``quantized=True`` and 8-bit codes.

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1000, 16)).astype(np.float32)
    >>> idx = ws.HNSWIndex(dim=16, metric="l2", M=16, ef_construction=100)
    >>> idx.add(x)
    >>> D, I = idx.search(x[:3], k=1, ef=32)
    >>> I[:, 0].tolist()
    [0, 1, 2]
    """

    def __init__(self, dim: int, metric: str = "l2", M: int = 16, ef_construction: int = 200,
                 quantized: bool = True, seed: int = 42, device: str = "auto",
                 sq_bits: int | None = None, storage: str = "fp32"):
        super().__init__(device)
        M = as_positive_int(M, "M")
        if not 2 <= M <= 256:
            raise ValueError(f"M must be in [2, 256], got {M}")
        if not isinstance(quantized, (bool, np.bool_)):
            raise TypeError("quantized must be a bool")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise TypeError("seed must be a non-negative integer")
        sq_bits = check_sq_bits(sq_bits)
        if isinstance(storage, str) and storage.lower() in ("sq4", "binary"):
            raise ValueError(f"HNSW storage must be 'fp32', 'fp16' or 'sq8', got {storage!r}: "
                             "the walk reads 8/4-bit codes (sq_bits); the stored vectors re-rank")
        self._impl = _core.HnswIndex(as_positive_int(dim, "dim"), check_metric(metric), M,
                                     as_positive_int(ef_construction, "ef_construction"),
                                     bool(quantized), int(seed), sq_bits,
                                     check_choice(storage, "storage", HNSW_STORAGE_MODES))

    @property
    def storage(self) -> str:
        """How the kept vectors are stored: fp32, fp16 or sq8."""
        return self._impl.storage

    @property
    def M(self) -> int:
        return self._impl.M

    @property
    def ef_construction(self) -> int:
        return self._impl.ef_construction

    @property
    def quantized(self) -> bool:
        return self._impl.quantized

    @property
    def sq_bits(self) -> int | None:
        """Bits per code entry of the traversal codes (``None`` until chosen)."""
        return (self._impl.sq_bits or None) if self._impl.quantized else None

    def _gpu_refusal(self, k, ef) -> str | None:
        if k > _core.gpu_max_graph_k or ef > _core.gpu_max_graph_k:
            return (f"k={k}, ef={ef} exceed what GPU graph search supports "
                    f"(k and ef <= {_core.gpu_max_graph_k})")
        return None

    def search(self, queries, k: int = 10, ef: int = 64, filter=None, rerank: int | None = None,
               device=None):
        """Approximate k nearest neighbours: ``(D, I)`` of shape ``(nq, k)``.

        ``ef`` is the candidate list size (raised to k if smaller); ``rerank``
        limits how many candidates are re-scored exactly (default: all ``ef``).
        ``filter`` (mask over ids or allowed ids) is honoured exactly: small
        allowed sets are searched exhaustively, others by a filter-aware walk.
        On a GPU (``device`` or the index's device) the walk computes exact
        distances, so ``rerank`` has no effect there.
        """
        ef = as_positive_int(ef, "ef")
        rr = -1 if rerank is None else as_positive_int(rerank, "rerank")
        return self._search(queries, k, ef, rr, filter, device)

    def consolidate(self) -> None:
        """Repairs the graph around removed points now and frees their slots."""
        self._gpu = None
        self._impl.consolidate()

    def reorder(self) -> None:
        """Renumbers nodes in BFS order for memory locality (done after bulk adds)."""
        self._gpu = None
        self._impl.reorder()


_WRAPPERS = {"flat": FlatIndex, "hnsw": HNSWIndex}


def load_index(path):
    """Loads any index written by ``save``. A missing, truncated or corrupted file
    raises ``ValueError`` (``FileNotFoundError`` when the path does not exist)."""
    p = as_path(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"no index file at {p!r}")
    impl = _core.load_index(p)
    cls = _WRAPPERS[impl.type_name]
    obj = cls.__new__(cls)
    _IndexBase.__init__(obj)
    obj._impl = impl
    return obj
