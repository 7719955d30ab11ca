# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Exact ground truth and recall, in NumPy only (no peer library is imported).

The one implementation used by the tests, the benchmarks and the demo.

>>> import numpy as np
>>> from warpsearch.contrib.evaluation import exact_knn, recall_at_k
>>> base = np.array([[0, 0], [1, 0], [5, 5]], dtype=np.float32)
>>> D, I = exact_knn(base, np.float32([[0.9, 0]]), k=2, metric="l2")
>>> I.tolist(), D.round(2).tolist()
([[1, 0]], [[0.01, 0.81]])
>>> recall_at_k(np.array([[1, 2]]), I)  # 1 of the 2 true neighbours found
0.5
"""

from __future__ import annotations

import numpy as np

from .._validation import as_positive_int

__all__ = ["scores", "exact_knn", "exact_knn_file", "recall_at_k"]

METRICS = ("l2", "ip", "cosine")


def _check_metric(metric) -> str:
    if not isinstance(metric, str) or metric.lower() not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    return metric.lower()


def _normalized(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)


def scores(base, queries, metric: str, dtype=np.float64) -> np.ndarray:
    """``(nq, n)`` scores in the indexes' convention: squared L2 (smaller is nearer,
    clipped at 0) or the similarity for ``"ip"`` / ``"cosine"`` (larger is nearer)."""
    metric = _check_metric(metric)
    b = np.asarray(base, dtype=dtype)
    q = np.atleast_2d(np.asarray(queries, dtype=dtype))
    if metric == "cosine":
        b, q = _normalized(b), _normalized(q)
    if metric == "l2":
        d = (q * q).sum(1)[:, None] - 2.0 * (q @ b.T) + (b * b).sum(1)[None, :]
        return np.maximum(d, 0.0)
    return q @ b.T


def _top_k_rows(key: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` smallest keys of each row, ties broken by the lower
    index (as a stable full sort would), without sorting whole rows."""
    n = key.shape[1]
    if k >= n:
        return np.argsort(key, axis=1, kind="stable")
    part = np.argpartition(key, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(key, part, axis=1)
    order = np.lexsort((part, vals), axis=1)
    out = np.take_along_axis(part, order, axis=1)
    # a tie at the k-th value may have left out a lower index: sort those rows fully
    kth = vals.max(axis=1)
    tied = np.count_nonzero(key <= kth[:, None], axis=1) > k
    for r in np.flatnonzero(tied):
        out[r] = np.argsort(key[r], kind="stable")[:k]
    return out


def exact_knn(base, queries, k: int, metric: str = "l2", ids=None, allowed=None,
              dtype=np.float64, block_bytes: int = 64 << 20):
    """Exact k nearest neighbours: ``(D, I)`` of shape ``(nq, k)`` like ``index.search``.

    Scores are computed in ``dtype`` (float64 by default) for blocks of queries,
    so memory stays near ``block_bytes``. D is the squared L2 distance (ascending)
    or the similarity for ip/cosine (descending); ties go to the earlier row.
    ``ids`` are the ids of the rows of ``base`` (default: the row numbers);
    ``allowed`` keeps only rows whose id is in it. Missing results (fewer than
    ``k`` rows) have id -1 and distance +inf (l2) / -inf.
    """
    metric = _check_metric(metric)
    k = as_positive_int(k, "k")
    b = np.asarray(base)
    q = np.atleast_2d(np.asarray(queries))
    row_ids = np.arange(len(b), dtype=np.int64) if ids is None else np.asarray(ids, np.int64)
    if allowed is not None:
        keep = np.isin(row_ids, np.asarray(allowed, np.int64))
        b, row_ids = b[keep], row_ids[keep]
    b = np.asarray(b, dtype=dtype)
    if metric == "cosine":
        b = _normalized(b)
    larger_is_nearer = metric != "l2"
    nq, n = q.shape[0], b.shape[0]
    D = np.full((nq, k), -np.inf if larger_is_nearer else np.inf, dtype=dtype)
    I = np.full((nq, k), -1, dtype=np.int64)
    if n == 0 or nq == 0:
        return D, I
    m = min(k, n)
    bnorm = (b * b).sum(axis=1) if metric == "l2" else None
    rows = max(1, int(block_bytes // (n * np.dtype(dtype).itemsize)))
    for s in range(0, nq, rows):
        qb = np.asarray(q[s:s + rows], dtype=dtype)
        if metric == "cosine":
            qb = _normalized(qb)
        prod = qb @ b.T
        if metric == "l2":
            sc = np.maximum((qb * qb).sum(1)[:, None] - 2.0 * prod + bnorm[None, :], 0.0)
            top = _top_k_rows(sc, m)
        else:
            sc = prod
            top = _top_k_rows(-sc, m)
        D[s:s + rows, :m] = np.take_along_axis(sc, top, axis=1)
        I[s:s + rows, :m] = row_ids[top]
    return D, I


def exact_knn_file(base, queries, k: int, metric: str = "l2", chunk_rows: int = 262_144,
                   device: str = "auto", progress=None):
    """``exact_knn`` over a vector file larger than RAM (a path in any format of
    :func:`warpsearch.open_vectors`, or an open ``VectorFile``), read ``chunk_rows``
    rows at a time; ids are the file's row numbers. On a GPU (``device="auto"``
    where one is present, or ``"cuda"``) each chunk is scored by an exact
    ``FlatIndex`` there in float32; on the CPU in float64 as ``exact_knn``. The
    running top ``k`` is merged after each chunk (ties to the earlier row)."""
    from .. import _core
    from .._progress import progress_bar
    from ..formats import VectorFile, open_vectors

    metric = _check_metric(metric)
    src = base if isinstance(base, VectorFile) else open_vectors(base)
    q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    if q.shape[1] != src.dim:
        raise ValueError(f"queries have dimension {q.shape[1]}, the file {src.dim}")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    gpu = device == "cuda" or (device == "auto" and _core.cuda_device_count() > 0)
    larger = metric != "l2"
    D = np.full((len(q), k), -np.inf if larger else np.inf)
    I = np.full((len(q), k), -1, dtype=np.int64)
    with progress_bar(progress, src.n, "exact ground truth") as bar:
        for start, X in src.chunks(chunk_rows):
            if gpu:
                from ..index import FlatIndex

                flat = FlatIndex(src.dim, metric=metric, device="cuda")
                flat.add(X.astype(np.float32, copy=False))
                d, i = flat.search(q, k=min(k, len(X)))
                d = np.asarray(d, dtype=np.float64)
                i = np.where(i >= 0, i + start, -1)
            else:
                d, i = exact_knn(X, q, min(k, len(X)), metric,
                                 ids=np.arange(start, start + len(X)))
            allD = np.concatenate([D, d], axis=1)
            allI = np.concatenate([I, i], axis=1)
            top = _top_k_rows(-allD if larger else allD, k)
            D, I = np.take_along_axis(allD, top, 1), np.take_along_axis(allI, top, 1)
            bar.update(len(X))
    return D, I


def recall_at_k(ids, gt_ids, k: int | None = None) -> float:
    """Mean fraction of the true top-``k`` ids found in the first ``k`` results.

    ``ids`` and ``gt_ids`` are ``(nq, >=k)`` (a 1-D array is one query); ``k``
    defaults to the width of ``gt_ids``. The padding id -1 counts neither as a
    result nor as a true neighbour; with no true neighbour at all, recall is 1.
    """
    got = np.atleast_2d(np.asarray(ids))
    truth = np.atleast_2d(np.asarray(gt_ids))
    if got.shape[0] != truth.shape[0]:
        raise ValueError(f"ids have {got.shape[0]} rows but gt_ids have {truth.shape[0]}")
    k = truth.shape[1] if k is None else int(k)
    got = got[:, :k].astype(np.int64)
    truth = truth[:, :k].astype(np.int64)
    hits = total = 0
    step = max(1, (1 << 24) // max(1, got.shape[1] * truth.shape[1]))  # bounded memory
    for s in range(0, truth.shape[0], step):
        g, t = got[s:s + step], truth[s:s + step]
        valid = t >= 0
        found = ((g[:, :, None] == t[:, None, :]) & (g[:, :, None] >= 0)).any(axis=1)
        hits += int((found & valid).sum())
        total += int(valid.sum())
    return 1.0 if total == 0 else hits / total
