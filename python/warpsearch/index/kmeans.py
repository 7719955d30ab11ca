# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""k-means clustering on the engine (CPU threads or a GPU)."""

from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import as_matrix, as_nonnegative_int, as_positive_int
from ._device import device_index, resolve_device

__all__ = ["kmeans"]


def kmeans(x, k: int, iters: int = 25, seed: int = 0, max_points_per_centroid: int = 256,
           device: str = "cpu", return_objective: bool = False):
    """k-means clustering: returns the ``(k, d)`` float32 centroids.

    Seeded by k-means++, then ``iters`` Lloyd iterations on a random sample of at
    most ``k * max_points_per_centroid`` points (``0``: all points), threaded.
    Empty clusters are re-seeded by splitting the largest one. With ``device``
    ``"cuda[:N]"`` (or ``"auto"`` with a GPU) the assignment steps run on the
    GPU. ``return_objective=True`` returns ``(centroids, objective)``, the sum of
    squared distances of the training sample to its nearest centroid.

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> x = np.concatenate([np.zeros((50, 2)), np.ones((50, 2))]).astype(np.float32)
    >>> c = ws.kmeans(x, 2, seed=1)
    >>> sorted(c[:, 0].round(3).tolist())
    [0.0, 1.0]
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"points must be 2-D, got shape {arr.shape}")
    pts = as_matrix(arr, arr.shape[1], "points")
    k = as_positive_int(k, "k")
    if pts.shape[0] < k:
        raise ValueError(f"k-means needs at least k={k} points, got {pts.shape[0]}")
    if not isinstance(return_objective, (bool, np.bool_)):
        raise TypeError("return_objective must be a bool")
    dev = resolve_device(device)
    c, obj = _core.kmeans(pts, k, as_nonnegative_int(iters, "iters"),
                          as_nonnegative_int(seed, "seed"),
                          as_nonnegative_int(max_points_per_centroid, "max_points_per_centroid"),
                          -1 if dev == "cpu" else device_index(dev), bool(return_objective))
    return (c, float(obj)) if return_objective else c
