# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""warpsearch: vector search (exact and HNSW) with a C++ engine and a CUDA seam.

>>> import warpsearch as ws
>>> sorted(ws.build_info())[:3]
['cuda_compiled', 'cuda_devices', 'openmp']
"""

from __future__ import annotations

from . import _core
from ._core import CudaError, InternalError
from .index import (
    FlatIndex,
    HNSWIndex,
    IVFPQIndex,
    MemoryPlanError,
    ReplicatedIndex,
    ShardedIndex,
    estimate_memory,
    kmeans,
    load_index,
    plan_memory,
    shard_index,
)
from .formats import VectorFile, open_vectors, write_vectors
from .build import build_index
from .planner import Plan, plan
from .db import (
    Collection,
    CorruptionError,
    Database,
    DatabaseLockedError,
    FlatConfig,
    Hit,
    HNSWConfig,
    IVFPQConfig,
    Record,
    connect,
    ingest,
    restore,
    verify_snapshot,
)

__version__ = _core.__version__

__all__ = [
    "FlatIndex",
    "HNSWIndex",
    "IVFPQIndex",
    "kmeans",
    "estimate_memory",
    "load_index",
    "open_vectors",
    "write_vectors",
    "VectorFile",
    "build_index",
    "plan",
    "Plan",
    "ShardedIndex",
    "ReplicatedIndex",
    "shard_index",
    "plan_memory",
    "MemoryPlanError",
    "connect",
    "Database",
    "Collection",
    "HNSWConfig",
    "FlatConfig",
    "IVFPQConfig",
    "Record",
    "Hit",
    "restore",
    "verify_snapshot",
    "ingest",
    "CorruptionError",
    "DatabaseLockedError",
    "set_num_threads",
    "get_num_threads",
    "build_info",
    "CudaError",
    "InternalError",
    "__version__",
]


def set_num_threads(n: int) -> None:
    """Threads used by batch calls (add, search). Default: all cores."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("number of threads must be an int")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """Threads used by batch calls."""
    return _core.get_num_threads()


def build_info() -> dict:
    """How this build was made and what it runs on.

    ``simd_level`` is the SIMD level the kernels run with: ``simd_best`` (the best one
    this CPU and build support) unless the environment variable ``WARPSEARCH_SIMD``
    (``generic``, ``avx2``, ``avx512`` or ``avx512_vnni``) forced another one when
    warpsearch was imported; an unknown or unsupported value makes the import fail
    with an ImportError that names it.
    """
    return {
        "version": __version__,
        "simd_level": _core.simd_level(),
        "simd_best": _core.simd_best(),
        "simd_compiled": list(_core.simd_compiled()),
        "cuda_compiled": bool(_core.cuda_compiled()),
        "cuda_devices": int(_core.cuda_device_count()),
        "threads": _core.get_num_threads(),
        "openmp": False,
        "thread_pool": "sleeping worker pool (no spin-wait)",
    }
