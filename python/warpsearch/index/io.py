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


def load_index(path, mmap: bool = False, verify: bool = False):
    """Loads any index written by ``save``. A missing, truncated or corrupted file
    raises ``ValueError`` (``CorruptionError``, a ``ValueError``, for a damaged one;
    ``FileNotFoundError`` when the path does not exist).

    Parameters
    ----------
    path : str or os.PathLike
        The index file.
    mmap : bool
        Map the file instead of reading it. Opening reads the header and small
        sections only (milliseconds); vectors, codes, graph links and inverted lists
        stay in the file and are paged in as searches read them, so resident memory
        grows with what searches touch. Results are identical to a full load. Each
        section's checksum is verified on its first use (a damaged one raises
        ``CorruptionError`` from that call, never a crash); ``verify=True`` or
        ``index.verify()`` checks everything now. The mapped parts are read-only:
        the first ``add``/``remove``/``train`` copies them into RAM (copy-on-write of
        the whole index), after which the index no longer reads the file. Saving over
        the file is safe (``save`` renames a new file into place; the mapping keeps
        the old contents); truncating or rewriting a mapped file in place is not
        supported (the process may be killed by SIGBUS). Files written before mapped
        layouts existed load into RAM even with ``mmap=True``; save them again to map
        them.
    verify : bool
        With ``mmap``, verify every checksum now (a full load always does).

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
    impl = _core.load_index(p, bool(mmap))
    if verify and mmap:
        impl.verify()
    cls = _WRAPPERS[impl.type_name]
    obj = cls.__new__(cls)
    _IndexBase.__init__(obj)
    obj._impl = impl
    return obj
