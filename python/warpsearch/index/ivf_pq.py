# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Inverted file with product quantization (:class:`IVFPQIndex`)."""

from __future__ import annotations

import numpy as np

from .. import _core
from .._progress import progress_bar
from .._validation import (as_ids, as_int, as_matrix, as_nonnegative_int, as_positive_int,
                           as_timeout, check_choice, check_metric)
from ._base import REFINE_MODES, _IndexBase
from ._device import device_index

__all__ = ["IVFPQIndex"]

LUT_TYPES = ("fp32", "fp16")
_ADD_CHUNK = 16384  # rows per engine add while a progress bar is shown
PROBE_MODES = ("adaptive", "fixed")


def _check_pq(dim: int, m, nbits) -> tuple[int, int]:
    nbits = as_int(nbits, "nbits")
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
                                      _check_refine(refine), as_nonnegative_int(seed, "seed"),
                                      as_nonnegative_int(kmeans_iters, "kmeans_iters"),
                                      as_nonnegative_int(max_points_per_centroid,
                                                         "max_points_per_centroid"),
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

    def train(self, vectors, progress=None) -> None:
        """Trains the coarse quantizer (k-means) and the PQ codebooks.

        Needs at least ``nlist`` vectors; the index must be empty. On a GPU index
        (``device``) the assignment steps of the coarse k-means run on the GPU.
        ``progress`` shows a bar of the training step (``None``: only where someone
        watches, a terminal or a notebook).
        """
        x = as_matrix(vectors, self.dim, "training vectors")
        self._gpu = None
        gpu = -1 if self._device == "cpu" else device_index(self._device)
        with progress_bar(progress, 1, "IVF-PQ train (k-means, codebooks)", unit="step") as bar:
            self._impl.train(x, gpu)
            bar.update(1)

    def add(self, vectors, ids=None, progress=None) -> None:
        """Adds vectors (``(n, dim)``; a 1-D array is one vector) to a trained index.

        ``ids`` are non-negative int64 (``-1`` is the id of missing results); by
        default they continue from the largest id so far. Re-adding an existing id
        replaces its vector. ``progress`` shows a bar (``None``: only where someone
        watches, a terminal or a notebook); the rows are then encoded and stored
        in chunks, which gives the index one add gives (vectors are encoded one
        by one); an error in a later chunk keeps the chunks before it. Otherwise
        on error nothing changes.
        """
        x = as_matrix(vectors, self.dim, "vectors")
        id_arr = None if ids is None else as_ids(ids, x.shape[0])
        if x.shape[0] == 0:
            return
        self._add_in_chunks(x, id_arr, _ADD_CHUNK, progress, "IVF-PQ add")

    def search(self, queries, k: int = 10, nprobe: int = 16, refine_factor: int = 4,
               filter=None, device=None, lut: str = "fp32", probe: str = "adaptive",
               return_stats: bool = False, timeout=None):
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
        ``return_stats=True`` returns ``(D, I, stats)``: the search's
        ``last_search_info``.
        ``timeout`` (seconds; None: no limit) bounds a CPU search: the code scans and the
        re-rank check it every few thousand codes and raise ``TimeoutError`` once it has
        passed (the index is unchanged). GPU searches ignore it.
        """
        k = as_positive_int(k, "k")
        timeout = as_timeout(timeout)
        nprobe = as_positive_int(nprobe, "nprobe")
        refine_factor = as_positive_int(refine_factor, "refine_factor")
        lut = check_choice(lut, "lut", LUT_TYPES)
        adaptive = check_choice(probe, "probe", PROBE_MODES) == "adaptive"
        return self._run_search(
            queries, k, filter, device,
            refusal=self._gpu_refusal(k, nprobe),
            cpu=lambda q, ids, mask: self._impl.search_ivf(
                q, k, nprobe, refine_factor, -1, ids, mask, adaptive, timeout),
            gpu=lambda data, q, ids, mask: _core.search_gpu_ivf(
                self._impl, data, q, k, nprobe, refine_factor, -1, ids, mask, lut, adaptive),
            gpu_ptr=lambda data, dq, D, I, ids, mask: _core.search_gpu_ivf_ptr(
                self._impl, data, dq.ptr, dq.nq, k, nprobe, refine_factor, ids, mask, lut,
                adaptive, dq.pointer(D), dq.pointer(I)),
            extra_stats={"nprobe": nprobe}, return_stats=return_stats)

    def _gpu_refusal(self, k, ef) -> str | None:
        if k > _core.gpu_max_k:
            return f"k={k} exceeds what GPU IVF-PQ search supports (k <= {_core.gpu_max_k})"
        return None

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
