# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""IVF-PQ index, k-means and memory estimates."""

from __future__ import annotations

import numbers

import numpy as np

from . import _core
from ._device import DeviceQueries, device_index, is_device_array, resolve_device
from ._validation import (as_filter, as_matrix, as_positive_int, check_choice, check_metric,
                          check_sq_bits)
from .index import _WRAPPERS, HNSW_STORAGE_MODES, REFINE_MODES, STORAGE_MODES, _IndexBase

__all__ = ["IVFPQIndex", "kmeans", "estimate_memory"]

LUT_TYPES = ("fp32", "fp16")
PROBE_MODES = ("adaptive", "fixed")


def _as_int(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if value > 2**31 - 1:
        raise ValueError(f"{name} is too large: {value}")
    return value


def _check_pq(dim: int, m, nbits) -> tuple[int, int]:
    nbits = _as_int(nbits, "nbits")
    if nbits not in (4, 8):
        raise ValueError(f"nbits must be 4 or 8, got {nbits}")
    if m is None:
        m = dim // 2 if dim % 2 == 0 else dim
    m = as_positive_int(m, "m")
    if m > dim or dim % m != 0:
        raise ValueError(f"m={m} must divide dim={dim}")
    return m, nbits


def _check_opq(opq) -> int:
    if opq is None:
        return -1
    if not isinstance(opq, (bool, np.bool_)):
        raise TypeError(f"opq must be True, False or None (automatic), got {type(opq).__name__}")
    return int(bool(opq))


def _check_refine(refine) -> str:
    return check_choice(refine, "refine", REFINE_MODES)


class IVFPQIndex(_IndexBase):
    """Inverted file with product-quantized residuals (IVF-PQ).

    k-means splits the space into ``nlist`` cells; each vector is stored in its
    nearest cell as the PQ code of its residual (``m`` sub-quantizers of
    ``2**nbits`` centroids). ``nbits=4`` codes are scored by SIMD "fast scan"
    (uint8 lookup tables in registers). With ``refine`` set, a copy of each
    vector (``"sq8"``, ``"fp16"`` or ``"fp32"``) re-ranks the best
    ``k * refine_factor`` candidates exactly.

    ``opq`` rotates the residuals before product quantization (non-parametric
    OPQ): onto their principal axes, grouped so that every sub-quantizer gets
    about the same share of the variance. ``None`` (the default) decides at
    :meth:`train`: it keeps the rotation when, on validation rows, ranking the
    training sample by PQ distances finds at least 1 more true neighbour in 100
    at the depth that matters (the top 20 with a refine store, the top 10
    without), since it costs ``dim**2`` operations per query; only for
    ``dim <= 1024`` (trying it costs O(dim^3): about 3 s of training at dim
    768). ``True`` / ``False`` force it. Distances are unchanged.

    Call :meth:`train` (on at least ``nlist`` representative vectors) before
    :meth:`add`.

    ``device`` (``"auto"``, ``"cpu"``, ``"cuda[:N]"``) is where searches run; on
    a GPU the probing, the lookup tables and the code scan run there, and a
    refine store (which stays in host memory) re-ranks the GPU's candidates on
    the CPU. The same trained index can be searched on either device, and
    ``save`` writes the same file.

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2000, 16)).astype(np.float32)
    >>> idx = ws.IVFPQIndex(dim=16, nlist=16, nbits=4, refine="fp32")
    >>> idx.train(x)
    >>> idx.add(x)
    >>> D, I = idx.search(x[:3], k=1, nprobe=4)
    >>> I[:, 0].tolist()
    [0, 1, 2]
    """

    def __init__(self, dim: int, metric: str = "l2", nlist: int = 1024, m: int | None = None,
                 nbits: int = 8, refine: str = "none", seed: int = 0, kmeans_iters: int = 10,
                 max_points_per_centroid: int = 256, opq: bool | None = None,
                 device: str = "auto"):
        super().__init__(device)
        dim = as_positive_int(dim, "dim")
        m, nbits = _check_pq(dim, m, nbits)
        nlist = as_positive_int(nlist, "nlist")
        if nlist > 2**24:
            raise ValueError(f"nlist must be <= 2**24, got {nlist}")
        self._impl = _core.IvfPqIndex(dim, check_metric(metric), nlist, m, nbits,
                                      _check_refine(refine), _as_int(seed, "seed"),
                                      _as_int(kmeans_iters, "kmeans_iters"),
                                      _as_int(max_points_per_centroid, "max_points_per_centroid"),
                                      _check_opq(opq))

    @property
    def is_trained(self) -> bool:
        """True once :meth:`train` has run."""
        return self._impl.is_trained

    @property
    def nlist(self) -> int:
        return self._impl.nlist

    @property
    def m(self) -> int:
        return self._impl.m

    @property
    def nbits(self) -> int:
        return self._impl.nbits

    @property
    def refine(self) -> str:
        return self._impl.refine

    @property
    def opq(self) -> bool | None:
        """The ``opq`` setting (``None``: decided at training)."""
        v = self._impl.opq
        return None if v < 0 else bool(v)

    def rotation(self) -> np.ndarray | None:
        """The trained OPQ rotation ``R`` (``(dim, dim)``, orthogonal; the codebooks
        see ``R @ residual``), or None when the index uses none."""
        return self._impl.rotation()

    def __repr__(self) -> str:
        return (f"IVFPQIndex(dim={self.dim}, metric={self.metric!r}, nlist={self.nlist}, "
                f"m={self.m}, nbits={self.nbits}, refine={self.refine!r}, "
                f"opq={self.opq}, "
                f"size={len(self)})")

    def train(self, vectors) -> None:
        """Trains the coarse quantizer (k-means) and the PQ codebooks.

        Needs at least ``nlist`` vectors; the index must be empty. On a GPU index
        (``device``) the assignment steps of the coarse k-means run on the GPU.
        """
        x = as_matrix(vectors, self.dim, "training vectors")
        self._gpu = None
        gpu = -1 if self._device == "cpu" else device_index(self._device)
        self._impl.train(x, gpu)

    def search(self, queries, k: int = 10, nprobe: int = 16, refine_factor: int = 4,
               filter=None, device=None, lut: str = "fp32", probe: str = "adaptive"):
        """Approximate k nearest neighbours: ``(D, I)`` of shape ``(nq, k)``.

        ``nprobe`` cells are visited per query: on average with ``probe="adaptive"``
        (each query visits, among its ``2 * nprobe`` nearest cells, those whose
        centroid distance is within a gap of its nearest cell's; the gap is calibrated
        at training so that training rows visit ``nprobe`` cells on average, so a query
        near many centroids gets more cells than one deep inside a cell), exactly with
        ``probe="fixed"``. Indexes saved before the calibration existed, and
        ``nprobe > 512``, probe a fixed number; ``last_search_info["probe"]`` says
        which rule ran and ``["lists_probed"]`` how many cells. ``k * refine_factor`` candidates
        are re-ranked (exactly with a refine store; from the float lookup table
        for 4-bit codes without one). D is the squared L2 distance (ascending)
        or the similarity for ip/cosine (descending); missing results have id -1.
        ``filter`` is a boolean mask indexed by id or an array of allowed ids;
        small allowed sets are searched exhaustively.

        ``device`` overrides the index's device for this call. On a GPU the whole
        search runs on the device (probing, tables, code scan, re-rank, ids):
        every code is scored from a float lookup table (``lut="fp16"`` halves its
        shared memory, for large ``m``), so 4-bit codes need no re-rank there;
        with a refine store at most ``gpu_max_k`` (2048) candidates per query are
        re-ranked. GPU queries may be NumPy arrays or device arrays (CuPy,
        PyTorch CUDA tensors, ``__cuda_array_interface__`` / DLPack); results of
        device queries are arrays of the same library on the same device.
        """
        k = as_positive_int(k, "k")
        nprobe = as_positive_int(nprobe, "nprobe")
        refine_factor = as_positive_int(refine_factor, "refine_factor")
        lut = check_choice(lut, "lut", LUT_TYPES)
        adaptive = check_choice(probe, "probe", PROBE_MODES) == "adaptive"
        dev = self._choose_device(device, queries, k <= _core.gpu_max_k,
                                  f"k={k} exceeds what GPU IVF-PQ search supports "
                                  f"(k <= {_core.gpu_max_k})")
        allow_ids, mask = as_filter(filter)
        if dev != "cpu" and is_device_array(queries):
            dq = DeviceQueries(queries, self.dim)
            D, I = dq.empty(k)
            stats = self._on_device(dev, lambda data: _core.search_gpu_ivf_ptr(
                self._impl, data, dq.ptr, dq.nq, k, nprobe, refine_factor, allow_ids, mask, lut,
                adaptive, dq.pointer(D), dq.pointer(I)), auto=False)  # no CPU fallback
            self._finish_search(stats, dev, dq.nq, nprobe)
            return (D[0], I[0]) if dq.single else (D, I)
        q = as_matrix(queries, self.dim, "queries")
        single = np.ndim(queries) == 1
        out = None
        if dev != "cpu":
            out = self._on_device(dev, lambda data: _core.search_gpu_ivf(
                self._impl, data, q, k, nprobe, refine_factor, -1, allow_ids, mask, lut, adaptive),
                self._is_auto(device))
            if out is None:
                dev = "cpu"  # auto, and the index kept changing: the CPU answers
        if out is not None:
            D, I, stats = out
        else:
            D, I, stats = self._impl.search_ivf(q, k, nprobe, refine_factor, -1, allow_ids, mask,
                                                adaptive)
        self._finish_search(stats, dev, int(q.shape[0]), nprobe)
        if single:
            return D[0], I[0]
        return D, I

    def _finish_search(self, stats: dict, dev: str, nq: int, nprobe: int) -> None:
        stats["device"] = dev
        stats["nq"] = nq
        stats["nprobe"] = nprobe
        self.last_search_info = stats

    def probe_gaps(self) -> np.ndarray:
        """Adaptive probing calibration, ``(rows, 2)``: nprobe and its centroid-distance gap
        (inner product: in units of ``|q|``); empty when the index probes fixed counts."""
        return self._impl.probe_gaps()

    def centroids(self) -> np.ndarray:
        """Coarse centroids, ``(nlist, dim)`` (empty before training)."""
        return self._impl.centroids()

    def list_sizes(self) -> np.ndarray:
        """Number of vectors in each cell."""
        return np.asarray(self._impl.list_sizes(), dtype=np.int64)


_WRAPPERS["ivf_pq"] = IVFPQIndex


def kmeans(x, k: int, iters: int = 25, seed: int = 0, max_points_per_centroid: int = 256,
           device: str = "cpu", return_objective: bool = False):
    """k-means clustering: returns the ``(k, d)`` float32 centroids.

    Seeded by k-means++, then ``iters`` Lloyd iterations on a random sample of at
    most ``k * max_points_per_centroid`` points (``0``: all points), threaded.
    Empty clusters are re-seeded by splitting the largest one. With ``device``
    ``"cuda[:N]"`` (or ``"auto"`` with a GPU) the assignment steps run on the
    GPU. ``return_objective=True`` returns ``(centroids, objective)``, the sum of
    squared distances of the training sample to its nearest centroid.

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> x = np.concatenate([np.zeros((50, 2)), np.ones((50, 2))]).astype(np.float32)
    >>> c = ws.kmeans(x, 2, seed=1)
    >>> sorted(c[:, 0].round(3).tolist())
    [0.0, 1.0]
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"points must be 2-D, got shape {arr.shape}")
    pts = as_matrix(arr, arr.shape[1], "points")
    k = as_positive_int(k, "k")
    if pts.shape[0] < k:
        raise ValueError(f"k-means needs at least k={k} points, got {pts.shape[0]}")
    if not isinstance(return_objective, (bool, np.bool_)):
        raise TypeError("return_objective must be a bool")
    dev = resolve_device(device)
    c, obj = _core.kmeans(pts, k, _as_int(iters, "iters"), _as_int(seed, "seed"),
                          _as_int(max_points_per_centroid, "max_points_per_centroid"),
                          -1 if dev == "cpu" else device_index(dev), bool(return_objective))
    return (c, float(obj)) if return_objective else c


def _hnsw_bytes(n: int, dim: int, M: int = 16, quantized: bool = True, sq_bits=None,
                storage: str = "fp32", **_) -> dict:
    # Level-0 links, vectors, scalar codes and norms, labels/levels/state, upper levels
    # (E[levels] = 1 / (M - 1) per node), the id map. Codes of an undecided width
    # (sq_bits=None) are counted at 8 bits, the larger of the two.
    M = as_positive_int(M, "M")
    sq_bits = check_sq_bits(sq_bits)
    links0 = n * (2 * M + 1) * 4
    storage = check_choice(storage, "storage", HNSW_STORAGE_MODES)
    vectors = n * dim * {"fp32": 4, "fp16": 2, "sq8": 0}[storage]  # sq8: the codes are the vectors
    code_bytes = (dim + 63) // 64 * 64 * (sq_bits or 8) // 8
    codes = n * (code_bytes + 4) if quantized else 0
    upper = n * 24 + int(n * (M + 1) * 4 / max(M - 1, 1))
    other = n * (8 + 1 + 1) + n * 32
    parts = {"links": links0 + upper, "vectors": vectors, "codes": codes, "ids": other}
    return parts


def _flat_bytes(n: int, dim: int, storage: str = "fp32", refine=None, **_) -> dict:
    storage = check_choice(storage, "storage", STORAGE_MODES)
    if refine is None:
        refine = "fp32" if storage == "binary" else "none"
    refine = _check_refine(refine)
    if storage == "fp32" and refine != "none":
        raise ValueError(f"refine={refine!r} needs a compressed storage (fp32 vectors are exact)")
    rows = (n + 31) // 32 * 32
    code = {"fp32": 4 * dim, "fp16": 2 * dim, "sq8": dim, "sq4": (dim + 1) // 2,
            "binary": ((dim + 3) // 4 + 3) // 4 * 2 + 4}[storage]  # 4-bit groups of 4 dims + scale
    ref = {"none": 0, "sq8": dim, "fp16": 2 * dim, "fp32": 4 * dim}[refine]
    parts = {"vectors": rows * code + rows * 4, "ids": n * 8 + n * 32}
    if ref:
        parts["refine"] = rows * ref
    return parts


def estimate_memory(n: int, dim: int, index: str = "hnsw", **params) -> dict:
    """Memory an index of ``n`` vectors needs, without building it.

    ``index`` is ``"hnsw"`` (params ``M``, ``quantized``, ``sq_bits``, ``storage``), ``"flat"``
    (params ``storage``, ``refine`` as for :class:`FlatIndex`) or
    ``"ivf_pq"`` (params ``nlist``, ``m``, ``nbits``, ``refine``, ``metric`` as
    for :class:`IVFPQIndex`, and ``id_map``: count the id-to-location map, about
    21-43 bytes per vector, that an IVF-PQ index builds the first time it looks
    an id up: ``add`` with explicit ids, ``remove``, ``in``, ``get_vectors`` or
    a filter given as ids). Returns ``{"bytes", "bytes_per_vector", "parts",
    "index", "n", "dim"}``; the model matches ``memory_usage()`` of an index
    built by one bulk add within a few percent.

    Examples
    --------
    >>> import warpsearch as ws
    >>> est = ws.estimate_memory(10**9, 128, index="ivf_pq", nlist=65536, nbits=4, refine="none")
    >>> round(est["bytes"] / 2**30)  # GiB: 32-byte codes + 8-byte ids per vector
    38
    """
    n = _as_int(n, "n")
    dim = as_positive_int(dim, "dim")
    if not isinstance(index, str):
        raise TypeError("index must be a string")
    kind = index.lower()
    if kind == "hnsw":
        unknown = set(params) - {"M", "quantized", "ef_construction", "metric", "sq_bits",
                                 "storage"}
        parts = _hnsw_bytes(n, dim, **params)
    elif kind == "flat":
        unknown = set(params) - {"metric", "storage", "refine"}
        parts = _flat_bytes(n, dim, **params)
    elif kind in ("ivf_pq", "ivfpq"):
        unknown = set(params) - {"nlist", "m", "nbits", "refine", "metric", "id_map"}
        m, nbits = _check_pq(dim, params.get("m"), params.get("nbits", 8))
        nlist = as_positive_int(params.get("nlist", 1024), "nlist")
        id_map = params.get("id_map", False)
        if not isinstance(id_map, (bool, np.bool_)):
            raise TypeError("id_map must be a bool")
        est = _core.IvfPqIndex.estimate_memory(n, dim, nlist, m, nbits,
                                               _check_refine(params.get("refine", "none")),
                                               check_metric(params.get("metric", "l2")),
                                               bool(id_map))
        parts = {k: int(v) for k, v in est.items() if k != "total"}
        kind = "ivf_pq"
    else:
        raise ValueError(f"unknown index {index!r}; expected 'hnsw', 'flat' or 'ivf_pq'")
    if unknown:
        raise TypeError(f"unknown parameter(s) for {kind}: {', '.join(sorted(unknown))}")
    total = int(sum(parts.values()))
    return {"bytes": total, "bytes_per_vector": total / n if n else 0.0, "parts": parts,
            "index": kind, "n": n, "dim": dim}
