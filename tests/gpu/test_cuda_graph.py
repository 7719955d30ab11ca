# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""GPU graph search over an HNSW index: recall next to the CPU walk at the same ef,
filters (filtered nodes traversed, never returned), removed points, exact distances."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import METRICS, exact_knn, make_clustered, make_queries, recall_at_k, scores

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def built():
    """Random (hard) and clustered data, one HNSW index per metric."""
    rng = np.random.default_rng(0)
    out = {}
    for kind in ("random", "clustered"):
        if kind == "random":
            xb = rng.standard_normal((20_000, 32)).astype(np.float32)
            xq = rng.standard_normal((300, 32)).astype(np.float32)
        else:
            xb, xq = make_clustered(20_000, 48, seed=5), make_queries(300, 48, seed=5)
        for metric in METRICS:
            idx = ws.HNSWIndex(dim=xb.shape[1], metric=metric, M=16, ef_construction=100,
                               device="cpu")
            idx.add(xb)
            out[kind, metric] = (idx, xb, xq)
    return out


def _exact_distances_ok(D, I, xb, xq, metric):
    s = scores(xb, xq, metric)
    valid = I >= 0
    got = np.take_along_axis(s, np.where(valid, I, 0), axis=1)
    np.testing.assert_allclose(D[valid], got[valid], rtol=1e-4, atol=1e-3)
    order = np.diff(np.where(valid, D, D[:, :1]), axis=1)
    assert (order >= -1e-5).all() if metric == "l2" else (order <= 1e-5).all()


@pytest.mark.parametrize("kind", ["random", "clustered"])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("ef", [16, 64, 200])
def test_graph_recall_matches_cpu(built, kind, metric, ef):
    idx, xb, xq = built[kind, metric]
    k = 10
    _, gt = exact_knn(xb, xq, k, metric)
    Dc, Ic = idx.search(xq, k=k, ef=ef, device="cpu")
    Dg, Ig = idx.search(xq, k=k, ef=ef, device="cuda:0")
    info = idx.last_search_info
    assert info["device"] == "cuda:0" and info["plan"] == "graph" and info["nq"] == len(xq)
    assert info["distance_evals"] > 0 and info["nodes_visited"] > 0
    r_cpu, r_gpu = recall_at_k(Ic, gt), recall_at_k(Ig, gt)
    assert r_gpu >= r_cpu - 0.01, (r_gpu, r_cpu)
    _exact_distances_ok(Dg, Ig, xb, xq, metric)
    for row in Ig:
        assert np.unique(row[row >= 0]).size == (row >= 0).sum()


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("clusters", [6, 10])
def test_graph_filter_correlated_with_clusters(metric, clusters):
    # the allowed points form whole clusters and most queries lie in other clusters: the
    # nearest nodes of any kind are all filtered out, so the walk must cross them
    rng = np.random.default_rng(clusters)
    centres = rng.standard_normal((32, 32)) * 3.0
    labels = rng.integers(0, 32, 20_000)
    xb = (centres[labels] + rng.standard_normal((20_000, 32))).astype(np.float32)
    xq = (centres[rng.integers(0, 32, 200)] + rng.standard_normal((200, 32))).astype(np.float32)
    idx = ws.HNSWIndex(dim=32, metric=metric, M=16, ef_construction=100, device="cpu")
    idx.add(xb)
    allowed = np.flatnonzero(labels < clusters)
    _, gt = exact_knn(xb, xq, 10, metric, allowed=allowed)
    Dc, Ic = idx.search(xq, k=10, ef=128, filter=allowed, device="cpu")
    Dg, Ig = idx.search(xq, k=10, ef=128, filter=allowed, device="cuda")
    assert idx.last_search_info["plan"] == "graph"
    assert np.isin(Ig[Ig >= 0], allowed).all() and (Ig >= 0).all()
    r_cpu, r_gpu = recall_at_k(Ic, gt), recall_at_k(Ig, gt)
    assert r_gpu >= 0.95 and r_gpu >= r_cpu - 0.01, (r_gpu, r_cpu)
    _exact_distances_ok(Dg, Ig, xb, xq, metric)


@pytest.mark.parametrize("metric", METRICS)
def test_graph_filters_are_exact_about_membership(built, metric):
    idx, xb, xq = built["clustered", metric]
    n = len(xb)
    rng = np.random.default_rng(1)
    for frac in (0.5, 0.1, 0.001):
        allowed = np.flatnonzero(rng.random(n) < frac)
        D, I = idx.search(xq, k=10, ef=64, filter=allowed, device="cuda")
        assert np.isin(I[I >= 0], allowed).all()
        _, gt = exact_knn(xb, xq, 10, metric, allowed=allowed)
        assert recall_at_k(I, gt) >= 0.9
        # every query gets min(k, allowed) results
        assert ((I >= 0).sum(axis=1) == min(10, allowed.size)).all()
        _exact_distances_ok(D, I, xb, xq, metric)
    # nothing allowed: padding
    D, I = idx.search(xq, k=5, filter=np.array([], np.int64), device="cuda")
    assert (I == -1).all()


def test_graph_removed_points_never_returned():
    xb = make_clustered(6000, 24, seed=8)
    xq = make_queries(100, 24, seed=8)
    idx = ws.HNSWIndex(dim=24, M=12, ef_construction=80, device="cuda")
    idx.add(xb)
    removed = np.arange(0, len(xb), 3)
    idx.remove(removed)
    D, I = idx.search(xq, k=10, ef=64)
    assert idx.last_search_info["device"] == "cuda:0"
    assert not np.isin(I, removed).any()
    keep = np.setdiff1d(np.arange(len(xb)), removed)
    _, gt = exact_knn(xb, xq, 10, "l2", allowed=keep)
    Dc, Ic = idx.search(xq, k=10, ef=64, device="cpu")
    assert recall_at_k(I, gt) >= recall_at_k(Ic, gt) - 0.01
    idx.consolidate()  # slots freed: the device copy is rebuilt
    D2, I2 = idx.search(xq, k=10, ef=64)
    assert not np.isin(I2, removed).any()
    assert recall_at_k(I2, gt) >= recall_at_k(Ic, gt) - 0.02


def test_graph_edge_cases():
    empty = ws.HNSWIndex(dim=8, device="cuda")
    D, I = empty.search(np.ones((2, 8), np.float32), k=3)
    assert (I == -1).all() and np.isinf(D).all()
    idx = ws.HNSWIndex(dim=3, metric="ip", device="cuda")
    x = np.random.default_rng(2).standard_normal((40, 3)).astype(np.float32)
    idx.add(x)
    D, I = idx.search(x[0], k=50, ef=64)  # 1-D query, k > n
    assert D.shape == (50,) and (I[40:] == -1).all() and (D[40:] == -np.inf).all()
    assert sorted(I[:40].tolist()) == list(range(40))
    D, I = idx.search(x[:0], k=4)
    assert D.shape == (0, 4)
    with pytest.raises(ValueError, match="GPU"):
        idx.search(x, k=2, ef=ws._core.gpu_max_graph_k + 1)
