# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Shared data and helpers for the asv suites.

Data is synthetic and clustered (Gaussian mixture, fixed seeds) so every run
and every commit measures the same thing. ``device`` is a parameter of every
suite: a ``cuda`` case raises ``NotImplementedError`` in ``setup`` (asv then
skips it) unless CUDA is compiled in, a device is present and the index class
takes a ``device`` argument.
"""

from __future__ import annotations

import inspect

import numpy as np

import warpsearch as ws
from warpsearch.contrib.evaluation import exact_knn, recall_at_k

DEVICES = ["cpu", "cuda"]
DIM = 64
N_BASE = 20_000
N_QUERIES = 500
K = 10
M = 16
EF_CONSTRUCTION = 200
EF_SEARCH = [16, 64, 256]


def clustered(n: int, dim: int = DIM, seed: int = 0, stream: int = 0,
              n_clusters: int = 64, spread: float = 0.35) -> np.ndarray:
    """``n`` float32 points of the Gaussian mixture fixed by ``seed``; different
    ``stream`` values draw different points from the same mixture."""
    centres = np.random.default_rng(seed).standard_normal((n_clusters, dim))
    rng = np.random.default_rng([seed, stream + 1])
    labels = rng.integers(0, n_clusters, size=n)
    return (centres[labels] + spread * rng.standard_normal((n, dim))).astype(np.float32)


def dataset(n: int = N_BASE, nq: int = N_QUERIES, dim: int = DIM, seed: int = 0):
    """``(base, queries)``: queries are new points of the same mixture as the base."""
    return clustered(n, dim, seed=seed, stream=0), clustered(nq, dim, seed=seed, stream=1)


def exact_ids(base: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Exact squared-L2 top-``k`` ids in float64 (independent of the engine)."""
    return exact_knn(base, queries, k, "l2")[1]


def recall(ids: np.ndarray, gt: np.ndarray) -> float:
    """Mean fraction of the true neighbours found."""
    return recall_at_k(ids, gt)


def device_kwargs(cls, device: str) -> dict:
    """Constructor arguments selecting ``device``; ``NotImplementedError`` (asv: skip)
    when that device cannot run here."""
    takes_device = "device" in inspect.signature(cls.__init__).parameters
    if device == "cpu":
        return {"device": "cpu"} if takes_device else {}
    info = ws.build_info()
    if not info["cuda_compiled"]:
        raise NotImplementedError("CUDA is not compiled into this build")
    if info["cuda_devices"] < 1:
        raise NotImplementedError("no CUDA device present")
    if not takes_device:
        raise NotImplementedError(f"{cls.__name__} has no device option in this version")
    return {"device": device}
