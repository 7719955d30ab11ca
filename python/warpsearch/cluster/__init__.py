# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Collections sharded and replicated over the machines of a Ray cluster.

``ws.connect("ray://HOST:PORT")`` or ``ws.connect("ray://auto")`` returns a
``ClusterDatabase`` with the embedded database's API; its ``create_collection`` also
takes ``shards``, ``replication_factor``, ``write_consistency`` and ``shard_key``.
Needs the ``distributed`` extra (``pip install 'warpsearch[distributed]'``).
"""

from __future__ import annotations

from .database import ClusterDatabase, require_ray
from .router import NoReplicaError, WriteConsistencyError

__all__ = ["ClusterDatabase", "NoReplicaError", "WriteConsistencyError", "connect",
           "require_ray"]


def connect(url: str, **options) -> ClusterDatabase:
    """A ``ClusterDatabase`` for ``ray://auto`` or ``ray://HOST:PORT`` (the address of a
    running cluster's GCS, as ``ray start --head`` prints it); ``options`` go to
    ``ClusterDatabase``."""
    if not isinstance(url, str) or not url.lower().startswith("ray://"):
        raise ValueError(f"a cluster URL looks like ray://HOST:PORT or ray://auto, got {url!r}")
    address = url[len("ray://"):]
    if not address:
        raise ValueError(f"{url!r} names no cluster: use ray://HOST:PORT or ray://auto")
    require_ray()
    return ClusterDatabase(address, **options)
