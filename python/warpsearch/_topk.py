# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The one top-k merge: results of several sources (segments, devices, shards)
concatenated along the columns are reduced to the k best per row (in C++:
``_core.merge_topk``)."""

from __future__ import annotations

import numpy as np

from . import _core

__all__ = ["merge_topk"]


def merge_topk(D, I, k: int, larger_is_better: bool):
    """The ``k`` best of each row of ``(D, I)`` (``(nq, m)`` float32 / int64, id -1 is
    padding): new ``(nq, k)`` arrays, padded with -1 and -inf/+inf. Ties keep the
    earlier column; an id repeated in a row is kept once (its best entry)."""
    return _core.merge_topk(np.ascontiguousarray(D, dtype=np.float32),
                            np.ascontiguousarray(I, dtype=np.int64), int(k),
                            bool(larger_is_better))
