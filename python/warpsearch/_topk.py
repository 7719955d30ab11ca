# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The one top-k merge: results of several sources (segments, devices, shards)
concatenated along the columns are reduced to the k best per row."""

from __future__ import annotations

import numpy as np

__all__ = ["merge_topk"]


def merge_topk(D, I, k: int, larger_is_better: bool):
    """The ``k`` best of each row of ``(D, I)`` (``(nq, m)`` float32 / int64, id -1 is
    padding): new ``(nq, k)`` arrays, padded with -1 and -inf/+inf. Ties keep the
    earlier column; an id repeated in a row is kept once (its best entry)."""
    D = np.asarray(D, dtype=np.float32)
    I = np.asarray(I, dtype=np.int64)
    nq, m = I.shape
    pad = -np.inf if larger_is_better else np.inf
    key = np.where(I >= 0, -D if larger_is_better else D, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    Is = np.take_along_axis(I, order, 1)
    Ds = np.take_along_axis(D, order, 1)
    # drop repeats of an id within a row (after sorting: keep the first)
    srt = np.sort(Is, axis=1, kind="stable")
    dup_any = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)
    outD = np.full((nq, k), pad, dtype=np.float32)
    outI = np.full((nq, k), -1, dtype=np.int64)
    for qi in range(nq):
        row_i, row_d = Is[qi], Ds[qi]
        if dup_any[qi].any():
            _, first = np.unique(row_i, return_index=True)
            keep = np.zeros(m, dtype=bool)
            keep[first] = True
            row_i, row_d = row_i[keep], row_d[keep]
        valid = row_i >= 0
        row_i, row_d = row_i[valid][:k], row_d[valid][:k]
        outI[qi, :len(row_i)] = row_i
        outD[qi, :len(row_d)] = row_d
    return outD, outI
