# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The gather step of a search over shards: per-shard top-k lists merged into one
``BatchResults`` by the one top-k merge (``merge_topk``)."""

from __future__ import annotations

import numpy as np

from .._topk import merge_topk
from ..db.query import BatchResults

__all__ = ["merge_shards"]


def merge_shards(results, nq, k, larger_is_better, with_payload):
    """One ``BatchResults`` from per-shard ``(ids, scores, payloads, seq)``: the columns
    concatenated and reduced to the k best per row with ``merge_topk`` (positions in
    the concatenation stand for the ids, which are unique across shards)."""
    if not results:
        return BatchResults(np.empty(0, object), None, np.empty((nq, 0), np.float32),
                            np.empty((nq, 0), np.int64))
    ids = np.concatenate([r[0] for r in results], axis=1)
    D = np.concatenate([r[1] for r in results], axis=1).astype(np.float32)
    valid = ~np.isnan(D)  # shards with fewer than k results pad with nan
    pos = np.where(valid, np.arange(ids.size, dtype=np.int64).reshape(ids.shape), -1)
    D = np.where(valid, D, -np.inf if larger_is_better else np.inf).astype(np.float32)
    Dm, P = merge_topk(D, pos, k, larger_is_better)
    raws = _flat_payloads(results, ids.shape) if with_payload else None
    uids = np.ascontiguousarray(ids.ravel(), dtype=object)
    return BatchResults(uids, raws, np.ascontiguousarray(Dm, dtype=np.float32),
                        np.ascontiguousarray(P, dtype=np.int64))


def _flat_payloads(results, shape):
    """Payloads in the row-major order of the concatenated ``(nq, sum k_i)`` id array."""
    out = []
    for q in range(shape[0]):
        for r in results:
            row = r[2][q]
            out += list(row) + [None] * (r[0].shape[1] - len(row))
    return out
