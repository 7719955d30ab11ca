# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Memory estimates of an index before it is built."""

from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import (as_nonnegative_int, as_positive_int, check_choice, check_metric,
                           check_sq_bits)
from ._base import HNSW_STORAGE_MODES, STORAGE_MODES
from .ivf_pq import _check_pq, _check_refine

__all__ = ["estimate_memory"]


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
    n = as_nonnegative_int(n, "n")
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
