# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""GPU exact search with the fp16 / bf16 first pass on the matrix units and fp32
re-rank: the same ids as the fp32 path up to near-ties, exact fp32 distances, filters,
large k and odd dimensions. The ``small`` test runs in the CPU emulator (which computes
the tiles with scalar loops instead of WMMA)."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import METRICS, make_clustered, make_queries, scores

pytestmark = pytest.mark.gpu


def _same_up_to_ties(D32, I32, Dr, Ir, metric, tol=1e-4):
    """Ids agree except where the fp32 distances of the two answers tie within tol."""
    assert Dr.shape == D32.shape
    # the k-th distances agree, and every id of one answer is in the other or ties
    np.testing.assert_allclose(Dr, D32, rtol=tol, atol=tol)
    for a, b, da in zip(I32, Ir, D32):
        diff = set(a.tolist()) ^ set(b.tolist())
        if diff:  # only ids at the boundary distance may differ
            edge = da[-1]
            assert np.isclose(da[np.isin(a, list(diff))], edge, rtol=tol, atol=tol).all()


def _run(xb, xq, k, metric, precision, filter=None):
    idx = ws.FlatIndex(dim=xb.shape[1], metric=metric, device="cuda")
    idx.add(xb)
    D32, I32 = idx.search(xq, k=k, filter=filter)
    idx.gpu_precision = precision
    Dr, Ir = idx.search(xq, k=k, filter=filter)
    assert idx.last_search_info["precision"] == precision
    return D32, I32, Dr, Ir


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("k", [1, 10, 100, 300])
def test_flat_reduced_precision_matches_fp32(metric, precision, k):
    xb, xq = make_clustered(20_000, 64, seed=11), make_queries(200, 64, seed=11)
    D32, I32, Dr, Ir = _run(xb, xq, k, metric, precision)
    _same_up_to_ties(D32, I32, Dr, Ir, metric)
    # distances are fp32 distances of the returned ids
    s = scores(xb, xq, metric)
    np.testing.assert_allclose(Dr, np.take_along_axis(s, Ir, axis=1), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("dim", [3, 17, 130])
def test_flat_reduced_precision_odd_dims(dim):
    xb, xq = make_clustered(5_000, dim, seed=dim), make_queries(50, dim, seed=dim)
    D32, I32, Dr, Ir = _run(xb, xq, 10, "l2", "fp16")
    _same_up_to_ties(D32, I32, Dr, Ir, "l2")


def test_flat_reduced_precision_filters_and_large_k():
    xb, xq = make_clustered(10_000, 32, seed=1), make_queries(20, 32, seed=1)
    mask = np.random.default_rng(0).random(len(xb)) < 0.3
    D32, I32, Dr, Ir = _run(xb, xq, 10, "l2", "fp16", filter=mask)
    assert mask[Ir].all()
    _same_up_to_ties(D32, I32, Dr, Ir, "l2")
    D32, I32, Dr, Ir = _run(xb, xq, 1000, "ip", "bf16")
    _same_up_to_ties(D32, I32, Dr, Ir, "ip", tol=1e-3)


def test_flat_reduced_precision_small():
    rng = np.random.default_rng(2)
    xb = rng.standard_normal((150, 20)).astype(np.float32)
    xq = rng.standard_normal((5, 20)).astype(np.float32)
    D32, I32, Dr, Ir = _run(xb, xq, 4, "l2", "fp16")
    _same_up_to_ties(D32, I32, Dr, Ir, "l2")
    with pytest.raises(ValueError, match="gpu_precision"):
        ws.FlatIndex(dim=4, gpu_precision="fp8")
