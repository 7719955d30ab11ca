# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""k-means with the assignment steps on the GPU: the objective matches the CPU's within
a small tolerance, and an IVF-PQ index trained on the GPU searches as well as one
trained on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import exact_knn, make_clustered, make_queries, recall_at_k

pytestmark = pytest.mark.gpu


def _objective(x, c):
    d = (x * x).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2.0 * x @ c.T
    return float(np.maximum(d.min(1), 0).sum())


@pytest.mark.parametrize("k,dim", [(16, 8), (256, 32), (1000, 17)])
def test_kmeans_gpu_objective_matches_cpu(k, dim):
    x = make_clustered(40_000, dim, n_clusters=64, seed=k)
    cc, oc = ws.kmeans(x, k, iters=10, seed=1, device="cpu", return_objective=True)
    cg, og = ws.kmeans(x, k, iters=10, seed=1, device="cuda", return_objective=True)
    assert cg.shape == cc.shape and np.isfinite(cg).all()
    assert abs(og - oc) <= 0.01 * oc, (oc, og)
    # the objective is the one of the returned centroids (on the whole set, no sample)
    assert abs(_objective(x, cg) - _objective(x, cc)) <= 0.01 * _objective(x, cc)


def test_kmeans_gpu_small():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((4, 6)).astype(np.float32) * 20
    x = (centers[rng.integers(0, 4, 400)] + rng.standard_normal((400, 6))).astype(np.float32)
    cc, oc = ws.kmeans(x, 4, iters=5, seed=3, device="cpu", return_objective=True)
    cg, og = ws.kmeans(x, 4, iters=5, seed=3, device="cuda", return_objective=True)
    # well separated clusters: the same centroids, in the same order
    np.testing.assert_allclose(cg, cc, rtol=1e-4, atol=1e-4)
    assert og == pytest.approx(oc, rel=1e-4)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_ivf_pq_trained_on_gpu(metric):
    xb, xq = make_clustered(20_000, 32, seed=9), make_queries(100, 32, seed=9)
    _, gt = exact_knn(xb, xq, 10, metric)
    rec = {}
    for dev in ("cpu", "cuda"):
        idx = ws.IVFPQIndex(dim=32, metric=metric, nlist=64, nbits=8, refine="fp32", device=dev)
        idx.train(xb)
        idx.add(xb)
        _, I = idx.search(xq, k=10, nprobe=8, device="cpu")
        rec[dev] = recall_at_k(I, gt)
        sizes = idx.list_sizes()
        assert sizes.sum() == len(xb) and (sizes > 0).mean() > 0.9
    assert abs(rec["cuda"] - rec["cpu"]) <= 0.02, rec
