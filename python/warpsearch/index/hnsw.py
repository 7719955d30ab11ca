# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Graph search (:class:`HNSWIndex`)."""

from __future__ import annotations

import numpy as np

from .. import _core
from .._progress import progress_bar, show_progress
from .._validation import (as_ids, as_matrix, as_nonnegative_int, as_positive_int, as_timeout,
                           check_choice, check_metric, check_sq_bits)
from ._base import HNSW_STORAGE_MODES, _IndexBase

__all__ = ["HNSWIndex"]

# Rows per engine add while a progress bar is shown: below the engine's 1024, the size
# from which an add renumbers the graph at its end (done once, after the last chunk).
_ADD_CHUNK = 1000


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

    def add(self, vectors, ids=None, progress=None) -> None:
        """Adds vectors (``(n, dim)`` float32/float16/uint8/...; a 1-D array is one vector).

        ``ids`` are non-negative int64 (``-1`` is the id of missing results); by
        default they continue from the largest id so far. Re-adding an existing id
        replaces its vector. On error nothing changes.

        ``progress`` shows a bar (``None``: only where someone watches, a terminal
        or a notebook). Without traversal codes (``quantized=False``) the rows then
        go to the graph in chunks, in the order of one add, and make the index one
        add makes (with one thread, the same file: with more, concurrent inserts
        make any two builds differ a little); an error in a later chunk keeps the
        chunks before it. A quantized index fits its codes' range (and
        chooses ``sq_bits``) on the rows of one add, so it takes them in one add
        and its bar completes when the add does.
        """
        x = as_matrix(vectors, self.dim, "vectors")
        id_arr = None if ids is None else as_ids(ids, x.shape[0])
        n = x.shape[0]
        if n == 0:
            return
        show = show_progress(progress)
        if self.quantized or n <= _ADD_CHUNK or not show:
            with progress_bar(show and n > _ADD_CHUNK, n, "HNSW add") as bar:
                self._add_rows(x, id_arr)
                bar.update(n)
            return
        self._add_in_chunks(x, id_arr, _ADD_CHUNK, True, "HNSW add")
        if 2 * n >= len(self):
            self._impl.reorder()  # what one add of n >= 1024 rows does at its end

    def _gpu_refusal(self, k, ef) -> str | None:
        if k > _core.gpu_max_graph_k or ef > _core.gpu_max_graph_k:
            return (f"k={k}, ef={ef} exceed what GPU graph search supports "
                    f"(k and ef <= {_core.gpu_max_graph_k})")
        return None

    def search(self, queries, k: int = 10, ef: int = 64, filter=None, rerank: int | None = None,
               device=None, return_stats: bool = False, timeout=None):
        """Approximate k nearest neighbours: ``(D, I)`` of shape ``(nq, k)``.

        ``ef`` is the candidate list size (raised to k if smaller); ``rerank``
        limits how many candidates are re-scored exactly (default: all ``ef``).
        ``filter`` (mask over ids or allowed ids) is honoured exactly: small
        allowed sets are searched exhaustively, others by a filter-aware walk.
        On a GPU (``device`` or the index's device) the walk computes exact
        distances, so ``rerank`` has no effect there. ``return_stats=True`` returns
        ``(D, I, stats)``: the search's ``last_search_info`` (plan, nodes visited, ...).
        ``timeout`` (seconds; None: no limit) bounds a CPU search: the walks (and exact
        scans) check it every few hundred distances and raise ``TimeoutError`` once it
        has passed (the index is unchanged). GPU searches ignore it.
        """
        ef = as_positive_int(ef, "ef")
        rr = -1 if rerank is None else as_positive_int(rerank, "rerank")
        k = as_positive_int(k, "k")
        timeout = as_timeout(timeout)
        return self._search(queries, k, ef, rr, filter, device, return_stats, timeout)

    def consolidate(self) -> None:
        """Repairs the graph around removed points now and frees their slots."""
        self._gpu = None
        self._impl.consolidate()

    def reorder(self) -> None:
        """Renumbers nodes in BFS order for memory locality (done after bulk adds)."""
        self._gpu = None
        self._impl.reorder()
