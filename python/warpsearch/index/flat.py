# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Exact search (:class:`FlatIndex`)."""

from __future__ import annotations

from .. import _core
from .._validation import as_matrix, as_positive_int, as_timeout, check_choice, check_metric
from ._base import GPU_PRECISIONS, REFINE_MODES, STORAGE_MODES, _IndexBase

__all__ = ["FlatIndex"]


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
        if storage == "binary" and check_metric(metric) == "l2":
            raise ValueError('storage="binary" ranks by angle (the sign of each component) and '
                             'is meant for metric "cosine" or "ip"; for "l2" use "sq8", "sq4" or "fp16"')
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

    def _gpu_stats(self, stats: dict) -> None:
        stats["precision"] = self.gpu_precision

    def search(self, queries, k: int = 10, filter=None, device=None, refine_factor: int = 4,
               return_stats: bool = False, timeout=None):
        """Exact k nearest neighbours: ``(D, I)`` of shape ``(nq, k)``.

        D is the squared L2 distance (ascending) or the similarity for ip/cosine
        (descending); missing results have id -1 and distance +inf (l2) / -inf.
        ``filter`` is a boolean mask indexed by id, or an array of allowed ids.
        ``device`` overrides the index's device for this call; device arrays
        (CuPy, PyTorch) as queries give results of the same kind on the GPU.
        With a refine copy, ``k * refine_factor`` candidates are re-ranked on it.
        ``return_stats=True`` returns ``(D, I, stats)``: the search's
        ``last_search_info``.
        ``timeout`` (seconds; None: no limit) bounds a CPU search: the scan checks it
        block by block and raises ``TimeoutError`` once it has passed (the index is
        unchanged). GPU searches ignore it.
        """
        refine_factor = as_positive_int(refine_factor, "refine_factor")
        k = as_positive_int(k, "k")
        timeout = as_timeout(timeout)
        rerank = min(k * refine_factor, 2**31 - 1)
        return self._search(queries, k, 0, rerank, filter, device, return_stats, timeout)
