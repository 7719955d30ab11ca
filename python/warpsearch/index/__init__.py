# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Index classes: thin, validated wrappers over the compiled engine.

:class:`FlatIndex` (exact), :class:`HNSWIndex` (graph) and :class:`IVFPQIndex`
(inverted file, product quantization) share one base (add, remove, save) and
one device flow for searches; :func:`load_index` opens any saved index.
:class:`ShardedIndex` and :class:`ReplicatedIndex` spread indexes of one kind over
devices (:func:`shard_index` builds them; :func:`plan_memory` checks they fit).

>>> import numpy as np
>>> from warpsearch.index import FlatIndex, load_index
>>> idx = FlatIndex(dim=3, metric="ip")
>>> idx.add(np.eye(3, dtype=np.float32), ids=[10, 20, 30])
>>> D, I = idx.search(np.float32([0, 1, 0]), k=1)
>>> int(I[0]), float(D[0])
(20, 1.0)
"""

from __future__ import annotations

from ._base import GPU_PRECISIONS, HNSW_STORAGE_MODES, REFINE_MODES, STORAGE_MODES
from .flat import FlatIndex
from .hnsw import HNSWIndex
from .io import load_index
from .ivf_pq import IVFPQIndex
from .kmeans import kmeans
from .memory import estimate_memory
from .memory_plan import MemoryPlanError, plan_memory
from .replicated import ReplicatedIndex
from .shard_index import shard_index
from .sharded import ShardedIndex

__all__ = [
    "FlatIndex",
    "HNSWIndex",
    "IVFPQIndex",
    "load_index",
    "kmeans",
    "estimate_memory",
    "ShardedIndex",
    "ReplicatedIndex",
    "shard_index",
    "plan_memory",
    "MemoryPlanError",
    "GPU_PRECISIONS",
    "STORAGE_MODES",
    "REFINE_MODES",
    "HNSW_STORAGE_MODES",
]
