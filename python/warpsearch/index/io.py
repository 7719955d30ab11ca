# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Loading any saved index into its wrapper class."""

from __future__ import annotations

import os

from .. import _core
from .._validation import as_path
from ._base import _IndexBase
from .flat import FlatIndex
from .hnsw import HNSWIndex
from .ivf_pq import IVFPQIndex

__all__ = ["load_index"]

# the engine's type name of a saved index -> its wrapper
_WRAPPERS = {"flat": FlatIndex, "hnsw": HNSWIndex, "ivf_pq": IVFPQIndex}


def load_index(path):
    """Loads any index written by ``save``. A missing, truncated or corrupted file
    raises ``ValueError`` (``FileNotFoundError`` when the path does not exist).

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> idx = ws.FlatIndex(dim=2)
    >>> idx.add(np.array([[0, 0], [3, 4]], dtype=np.float32))
    >>> idx.save("two.ws")
    >>> again = ws.load_index("two.ws")
    >>> type(again).__name__, len(again), again.search(np.float32([3, 4]), k=1)[1].tolist()
    ('FlatIndex', 2, [1])
    """
    p = as_path(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"no index file at {p!r}")
    impl = _core.load_index(p)
    cls = _WRAPPERS[impl.type_name]
    obj = cls.__new__(cls)
    _IndexBase.__init__(obj)
    obj._impl = impl
    return obj
