# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Graph search (:class:`HNSWIndex`)."""

from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import as_nonnegative_int, as_positive_int, check_choice, check_metric, check_sq_bits
from ._base import HNSW_STORAGE_MODES, _IndexBase

__all__ = ["HNSWIndex"]


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
        seed = as_nonnegative_int(seed, "seed", maximum=2**64 - 1)
        sq_bits = check_sq_bits(sq_bits)
        if isinstance(storage, str) and storage.lower() in ("sq4", "binary"):
            raise ValueError(f"HNSW storage must be 'fp32', 'fp16' or 'sq8', got {storage!r}: "
                             "the walk reads 8/4-bit codes (sq_bits); the stored vectors re-rank")
        self._impl = _core.HnswIndex(as_positive_int(dim, "dim"), check_metric(metric), M,
                                     as_positive_int(ef_construction, "ef_construction"),
                                     bool(quantized), seed, sq_bits,
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
        k = as_positive_int(k, "k")
        return self._search(queries, k, ef, rr, filter, device)

    def consolidate(self) -> None:
        """Repairs the graph around removed points now and frees their slots."""
        self._gpu = None
        self._impl.consolidate()

    def reorder(self) -> None:
        """Renumbers nodes in BFS order for memory locality (done after bulk adds)."""
        self._gpu = None
        self._impl.reorder()
