# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""HNSWIndex: recall against exact search, filters, deletes, persistence, concurrency."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import warpsearch as ws
from conftest import METRICS, exact_knn, make_clustered, make_queries, recall_at_k
from warpsearch import _core

N, DIM, NQ, K = 20_000, 32, 200, 10
RECALL = 0.95


@pytest.fixture(scope="module")
def data():
    """Clustered base and queries, and each base point's cluster (for correlated filters)."""
    xb = make_clustered(N, DIM, seed=5)
    xq = make_queries(NQ, DIM, seed=5)
    rng = np.random.default_rng(5)
    rng.standard_normal((32, DIM))  # the centres, drawn first by make_clustered
    labels = rng.integers(0, 32, size=N)
    return xb, xq, labels


_built: dict = {}


@pytest.fixture(scope="module")
def built(data):
    """Builds (once per module) an index per (metric, quantized) with default parameters."""
    xb, xq, _ = data

    def get(metric, quantized):
        key = (metric, quantized)
        if key not in _built:
            # the CPU engine (its planner, re-rank and counters); tests/gpu covers the GPU
            idx = ws.HNSWIndex(dim=DIM, metric=metric, quantized=quantized, device="cpu")
            idx.add(xb)
            idx.search(xq, k=K)  # one unfiltered batch: the planner learns the walk's cost
            _built[key] = idx
        return _built[key]

    yield get
    _built.clear()


def _valid_rows(I, allowed_ids):
    """Every non-padding id is allowed and no row repeats an id."""
    for row in I:
        got = row[row != -1]
        assert np.isin(got, allowed_ids).all(), f"ids outside the allowed set: {got}"
        assert np.unique(got).size == got.size, f"duplicate ids in a row: {row}"


def _overlap(I, gt):
    """Recall counting every id, -1 included (for indexes where -1 is a real id)."""
    return float(np.mean([np.intersect1d(a, b).size for a, b in zip(I, gt)])) / gt.shape[1]


def _assert_recall(I, gt, idx=None, minimum=RECALL):
    r = recall_at_k(I, gt, K)
    plan = f" (plan {idx.last_search_info['plan']})" if idx is not None else ""
    assert r >= minimum, f"recall@{K} {r:.4f} < {minimum}{plan}"


# -- recall ------------------------------------------------------------------
@pytest.mark.parametrize("quantized", [True, False])
@pytest.mark.parametrize("metric", METRICS)
def test_recall(built, data, metric, quantized):
    xb, xq, _ = data
    idx = built(metric, quantized)
    assert (idx.metric, idx.quantized, idx.dim, len(idx)) == (metric, quantized, DIM, N)
    _, gt = exact_knn(xb, xq, K, metric)
    D, I = idx.search(xq, k=K, ef=64)
    _valid_rows(I, np.arange(N))
    _assert_recall(I, gt)
    # distances are the ids' own and ordered by the public convention
    order = np.diff(D, axis=1)
    assert (order >= -1e-5).all() if metric == "l2" else (order <= 1e-5).all()
    info = idx.last_search_info
    assert info["plan"] == "graph" and info["nq"] == NQ and info["device"] == "cpu"
    assert info["distance_evals"] > 0 and info["nodes_visited"] > 0


@pytest.mark.parametrize("quantized", [True, False])
@pytest.mark.parametrize("metric", METRICS)
def test_recall_dim128(clustered_128, metric, quantized):
    xb, xq = clustered_128
    idx = ws.HNSWIndex(dim=128, metric=metric, M=16, ef_construction=100, quantized=quantized)
    idx.add(xb)
    _, gt = exact_knn(xb, xq, K, metric)
    _, I = idx.search(xq, k=K, ef=64)
    _assert_recall(I, gt)


@pytest.mark.parametrize("quantized", [True, False])
@pytest.mark.parametrize("metric", METRICS)
def test_batch_equals_one_query_at_a_time(built, data, metric, quantized):
    """Unfiltered batches walk several queries at once on each thread (interleaved, with
    lanes refilled as walks end); every query must get exactly its results alone."""
    xb, xq, _ = data
    idx = built(metric, quantized)
    threads = ws.get_num_threads()
    try:
        for nt, n, ef in [(1, 2, 10), (1, 7, 40), (1, NQ, 64), (2, 37, 24), (2, NQ, 100)]:
            ws.set_num_threads(nt)
            D, I = idx.search(xq[:n], k=K, ef=ef)
            for i in range(n):
                d1, i1 = idx.search(xq[i], k=K, ef=ef)
                np.testing.assert_array_equal(I[i], i1, err_msg=f"query {i} of {n}, ef {ef}")
                np.testing.assert_array_equal(D[i], d1, err_msg=f"query {i} of {n}, ef {ef}")
    finally:
        ws.set_num_threads(threads)


def test_rerank_limits_exact_rescoring(built, data):
    xb, xq, _ = data
    idx = built("l2", True)
    _, gt = exact_knn(xb, xq, K, "l2")
    idx.search(xq, k=K, ef=64, rerank=64)  # every candidate re-scored exactly
    evals_all = idx.last_search_info["distance_evals"]
    D, I = idx.search(xq, k=K, ef=64, rerank=2 * K)
    assert idx.last_search_info["distance_evals"] < evals_all
    _valid_rows(I, np.arange(N))
    _assert_recall(I, gt)  # fewer exact re-scores, still a sound answer
    # the reported distances are exact ones even with a short re-rank
    xb64 = xb.astype(np.float64)
    true = ((xb64[I] - xq[:, None, :].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_allclose(D, true, rtol=1e-4, atol=1e-3)


def test_integer_data_codes_are_lossless():
    """uint8-valued data (e.g. SIFT descriptors) is stored on the unit grid: traversal
    distances are then exact up to the query's int16 rounding, so re-ranking only k
    candidates already gives the exact answer, with exact distances."""
    rng = np.random.default_rng(11)
    centres = rng.integers(20, 200, size=(16, 64))
    xb = np.clip(centres[rng.integers(0, 16, 5000)] + rng.normal(0, 25, (5000, 64)), 0, 255)
    xb = xb.astype(np.uint8)
    xq = np.clip(centres[rng.integers(0, 16, 100)] + rng.normal(0, 25, (100, 64)), 0, 255)
    xq = xq.astype(np.float32) + 0.5  # queries need not be integers
    idx = ws.HNSWIndex(dim=64, metric="l2", M=16, ef_construction=100)
    idx.add(xb)
    Dg, gt = exact_knn(xb.astype(np.float32), xq, K, "l2")
    D, I = idx.search(xq, k=K, ef=128, rerank=K)
    assert recall_at_k(I, gt) >= 0.99
    hit = I == gt
    np.testing.assert_allclose(D[hit], Dg[hit], rtol=1e-5, atol=1e-2)
    # values off the grid (a later add) make the codes lossy: results stay exact
    idx.add(xb[:100].astype(np.float32) + 0.25, ids=np.arange(10_000, 10_100))
    xb2 = np.vstack([xb.astype(np.float32), xb[:100].astype(np.float32) + 0.25])
    ids2 = np.concatenate([np.arange(5000), np.arange(10_000, 10_100)])
    Dg2, gt2 = exact_knn(xb2, xq, K, "l2", ids=ids2)
    D2, I2 = idx.search(xq, k=K, ef=128)
    assert recall_at_k(I2, gt2) >= 0.97
    hit2 = I2 == gt2
    np.testing.assert_allclose(D2[hit2], Dg2[hit2], rtol=1e-5, atol=1e-2)


@pytest.fixture
def restore_simd_level():
    level = _core.simd_level()
    yield
    _core.set_simd_level(level)


@pytest.mark.parametrize("storage", ["fp32", "sq8"])
@pytest.mark.parametrize("level", _core.simd_compiled())
def test_lossless_code_distances_scale_with_the_distance(restore_simd_level, level, storage):
    """Exact distances from lossless codes are summed as squared differences: data far
    from the origin with near neighbours (norms ~3e6, distances ~1e2) keeps distances
    accurate relative to the distance, at every SIMD level (the expanded form
    |q|^2 - 2 q.x + |x|^2 in fp32 is off by ~0.5 here)."""
    try:
        _core.set_simd_level(level)
    except ValueError:
        pytest.skip(f"SIMD level {level} not supported by this CPU")
    rng = np.random.default_rng(5)
    centres = rng.integers(215, 240, size=(8, 64))
    xb = np.clip(centres[rng.integers(0, 8, 3000)] + rng.normal(0, 2, (3000, 64)), 0, 255)
    xb = np.rint(xb).astype(np.uint8)
    xq = xb[rng.integers(0, 3000, 60)].astype(np.float32) + rng.uniform(-0.5, 0.5, (60, 64))
    xq = xq.astype(np.float32)
    idx = ws.HNSWIndex(dim=64, metric="l2", M=16, ef_construction=100, storage=storage)
    idx.add(xb)
    assert idx.sq_bits == 8
    Dg, gt = exact_knn(xb.astype(np.float32), xq, K, "l2")
    D, I = idx.search(xq, k=K, ef=128, rerank=K)
    assert recall_at_k(I, gt) >= 0.95
    hit = I == gt
    np.testing.assert_allclose(D[hit], Dg[hit], rtol=1e-5, atol=1e-2)


@pytest.mark.parametrize("step, query_shift", [(0.5, 0.3), (1.0, 0.0), (1.0, 3e4)])
def test_uniform_grid_l2_walk(step, query_shift):
    """Data on one grid step for every dimension: the L2 walk scores codes without
    stored norms (query in code units, int16 weights). Queries off the grid, and
    queries so far from the data that the int16 form cannot hold them (the walk then
    falls back to the dot product and norms), still find the exact neighbours."""
    rng = np.random.default_rng(17)
    centres = rng.integers(30, 220, size=(12, 48))
    xb = np.clip(centres[rng.integers(0, 12, 4000)] + rng.normal(0, 20, (4000, 48)), 0, 255)
    xb[:2] = [[0] * 48, [255] * 48]  # every dimension spans the full code range
    xb = np.rint(xb).astype(np.float32) * step
    xq = np.clip(centres[rng.integers(0, 12, 100)] + rng.normal(0, 20, (100, 48)), 0, 255)
    xq = (xq * step + query_shift).astype(np.float32)
    idx = ws.HNSWIndex(dim=48, metric="l2", M=16, ef_construction=100)
    idx.add(xb)
    Dg, gt = exact_knn(xb, xq, K, "l2")
    D, I = idx.search(xq, k=K, ef=128)
    assert recall_at_k(I, gt) >= 0.98
    hit = I == gt
    np.testing.assert_allclose(D[hit], Dg[hit], rtol=1e-4, atol=1e-2)


def _low_rank(n, dim, rank=8, seed=3):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, rank)) @ rng.standard_normal((rank, dim))).astype(np.float32)


@pytest.mark.parametrize("metric", METRICS)
def test_4bit_codes_recall(metric):
    """4-bit traversal codes (half the bytes per distance) keep recall on data they
    suit: the calibrated re-rank absorbs their coarser ranking."""
    x = _low_rank(10_200, 128)
    xb, xq = x[:10_000], x[10_000:]
    idx = ws.HNSWIndex(dim=128, metric=metric, sq_bits=4, ef_construction=100)
    idx.add(xb)
    assert idx.sq_bits == 4
    _, gt = exact_knn(xb, xq, K, metric)
    D, I = idx.search(xq, k=K, ef=128)
    _valid_rows(I, np.arange(len(xb)))
    _assert_recall(I, gt)
    # a later add outside the trained range widens the 4-bit grid and re-encodes
    far = xb[:50] * 1.3
    idx.add(far, ids=np.arange(len(xb), len(xb) + 50))
    _, gt2 = exact_knn(np.vstack([xb, far]), xq, K, metric)
    _, I2 = idx.search(xq, k=K, ef=128)
    _assert_recall(I2, gt2)


@pytest.mark.parametrize("xb, expected", [
    (_low_rank(3000, 256), 4),  # smooth high-dimensional data: 4-bit codes rank it well
    (make_clustered(3000, 16, seed=2), 8),  # few dimensions: 4 bits would reorder neighbours
    (np.random.default_rng(4).integers(0, 256, (3000, 64)).astype(np.uint8), 8),  # lossless grid
    (_low_rank(500, 256), 8),  # too small to judge: the default width
])
def test_code_width_chosen_from_data(xb, expected):
    idx = ws.HNSWIndex(dim=xb.shape[1], metric="l2", ef_construction=64)
    assert idx.sq_bits is None
    idx.add(xb[:-200])
    assert idx.sq_bits == expected
    idx.add(xb[-200:])  # fixed once chosen
    assert idx.sq_bits == expected
    xq = xb[:50].astype(np.float32) + 0.01
    _, gt = exact_knn(xb.astype(np.float32), xq, K, "l2")
    _, I = idx.search(xq, k=K, ef=64)
    assert recall_at_k(I, gt, K) >= 0.95


def test_single_query_and_k_larger_than_n():
    x = make_clustered(30, 8, seed=1)
    idx = ws.HNSWIndex(dim=8, metric="l2")
    idx.add(x)
    D, I = idx.search(x[3], k=5)
    assert D.shape == I.shape == (5,) and I[0] == 3
    D, I = idx.search(x[:2], k=40)
    assert (I[:, :30] >= 0).all() and (I[:, 30:] == -1).all() and (D[:, 30:] == np.inf).all()
    np.testing.assert_array_equal(np.sort(I[0, :30]), np.arange(30))
    for metric in ("ip", "cosine"):
        idx = ws.HNSWIndex(dim=8, metric=metric)
        idx.add(x)
        D, I = idx.search(x[:1], k=31)
        assert I[0, -1] == -1 and D[0, -1] == -np.inf


def test_empty_index():
    idx = ws.HNSWIndex(dim=4)
    D, I = idx.search(np.ones((3, 4)), k=2)
    assert (I == -1).all() and (D == np.inf).all()
    assert len(idx) == 0 and idx.ids.size == 0


# -- filters -----------------------------------------------------------------
@pytest.mark.parametrize("form", ["mask", "ids"])
@pytest.mark.parametrize("selectivity", [0.001, 0.01, 0.1, 0.2, 0.5])
@pytest.mark.parametrize("quantized", [True, False])
@pytest.mark.parametrize("metric", METRICS)
def test_filtered_recall(built, data, metric, quantized, selectivity, form):
    xb, xq, _ = data
    idx = built(metric, quantized)
    rng = np.random.default_rng(int(selectivity * 1000) + 7)
    allowed = np.sort(rng.choice(N, size=int(N * selectivity), replace=False))
    if form == "mask":
        flt = np.zeros(N, dtype=bool)
        flt[allowed] = True
    else:
        flt = rng.permutation(allowed)  # order of allowed ids does not matter
    _, gt = exact_knn(xb, xq, K, metric, allowed=allowed)
    D, I = idx.search(xq, k=K, ef=64, filter=flt)
    _valid_rows(I, allowed)
    # there are >= K allowed points, so no row may be padded
    assert (I != -1).all(), f"padding with {len(allowed)} allowed (plan {idx.last_search_info})"
    assert idx.last_search_info["allowed"] == len(allowed)
    _assert_recall(I, gt, idx)


def test_filtered_walk_is_used_at_mid_selectivity(built, data):
    # the planner must not fall back to an exact scan for everything: at 20% of a
    # 20k index a graph walk is cheaper
    xb, xq, _ = data
    idx = built("l2", True)
    allowed = np.arange(0, N, 5)
    idx.search(xq, k=K, filter=allowed)
    assert idx.last_search_info["plan"] in ("filtered_graph", "graph")
    assert idx.last_search_info["distance_evals"] < NQ * len(allowed)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("clusters", [6, 10])
def test_filter_correlated_with_clusters(built, data, metric, clusters):
    # the allowed points form whole clusters, most queries lie in other clusters
    xb, xq, labels = data
    idx = built(metric, True)
    allowed = np.flatnonzero(labels < clusters)
    _, gt = exact_knn(xb, xq, K, metric, allowed=allowed)
    D, I = idx.search(xq, k=K, ef=128, filter=allowed)
    _valid_rows(I, allowed)
    assert (I != -1).all(), "a filtered search returned padding although enough points pass"
    _assert_recall(I, gt, idx)


def test_filter_fewer_allowed_than_k(built, data):
    xb, xq, _ = data
    idx = built("cosine", True)
    allowed = np.array([5, 17, 19_999])
    D, I = idx.search(xq[:20], k=K, filter=allowed)
    assert (np.sort(I[:, :3], axis=1) == allowed).all()
    assert (I[:, 3:] == -1).all() and (D[:, 3:] == -np.inf).all()
    # empty and all-false filters allow nothing; unknown ids are ignored
    for flt in (np.array([], dtype=np.int64), np.zeros(N, dtype=bool), np.array([N + 5, -3])):
        D, I = idx.search(xq[:5], k=K, filter=flt)
        assert (I == -1).all() and (D == -np.inf).all()


def test_filter_short_mask(built, data):
    xb, xq, _ = data
    idx = built("l2", False)
    mask = np.zeros(300, dtype=bool)  # covers ids 0..299 only
    mask[::3] = True
    _, gt = exact_knn(xb, xq, K, "l2", allowed=np.flatnonzero(mask))
    D, I = idx.search(xq, k=K, filter=mask)
    _valid_rows(I, np.flatnonzero(mask))
    _assert_recall(I, gt)


# -- deletes and replacement --------------------------------------------------
@pytest.mark.parametrize("quantized", [True, False])
def test_remove_never_returned(data, quantized):
    xb, xq, _ = data
    n = 8000
    idx = ws.HNSWIndex(dim=DIM, metric="l2", quantized=quantized)
    idx.add(xb[:n])
    rng = np.random.default_rng(3)
    _, nearest = exact_knn(xb[:n], xq, 5, "l2")
    removed = np.unique(np.r_[rng.choice(n, 800, replace=False), nearest[:, 0]])
    assert idx.remove(removed) == len(removed)
    assert idx.remove(removed[:10]) == 0
    assert len(idx) == n - len(removed)
    assert all(int(r) not in idx for r in removed[:50])
    keep = np.setdiff1d(np.arange(n), removed)
    _, gt = exact_knn(xb[keep], xq, K, "l2", ids=keep)
    for k in (K, 100):
        _, I = idx.search(xq, k=k, ef=max(64, k))
        assert not np.isin(I, removed).any(), "a removed id was returned"
    _, I = idx.search(xq, k=K)
    _assert_recall(I, gt)
    # a filter naming removed ids does not bring them back
    _, I = idx.search(xq, k=K, filter=removed)
    assert (I == -1).all()
    mask = np.ones(n, dtype=bool)
    _, I = idx.search(xq, k=K, filter=mask)
    assert not np.isin(I, removed).any()
    with pytest.raises(KeyError):
        idx.get_vectors(removed[:1])


@pytest.mark.parametrize("metric", METRICS)
def test_remove_consolidate_and_add_again(data, metric):
    xb, xq, _ = data
    n = 8000
    idx = ws.HNSWIndex(dim=DIM, metric=metric)
    idx.add(xb[:n])
    removed = np.arange(0, n, 4)
    idx.remove(removed)
    idx.consolidate()
    mem = idx.memory_usage()
    # new points with new ids go into the freed slots; old ids come back with new vectors
    fresh = np.arange(n, n + len(removed) // 2)
    back = removed[: len(removed) - len(fresh)]
    new_x = xb[n:n + len(removed)]
    idx.add(new_x, ids=np.r_[fresh, back])
    assert len(idx) == n
    assert idx.memory_usage() <= mem * 1.10, "freed slots were not reused"
    live_ids = np.r_[np.setdiff1d(np.arange(n), removed), fresh, back]
    live_x = np.r_[np.delete(xb[:n], removed, axis=0), new_x]
    np.testing.assert_array_equal(np.sort(idx.ids), np.sort(live_ids))
    _, gt = exact_knn(live_x, xq, K, metric, ids=live_ids)
    _, I = idx.search(xq, k=K)
    _valid_rows(I, live_ids)
    _assert_recall(I, gt)
    # old vectors of re-added ids are gone: searching an old vector must not find its id
    # at distance ~0 (l2) unless the new vector happens to be identical
    if metric == "l2":
        D, I = idx.search(xb[back[:50]], k=1)
        assert not np.any((I[:, 0] == back[:50]) & (D[:, 0] < 1e-6))


@pytest.mark.parametrize("quantized", [True, False])
def test_readd_replaces_vector(data, quantized):
    xb, xq, _ = data
    n = 5000
    idx = ws.HNSWIndex(dim=DIM, metric="l2", quantized=quantized)
    idx.add(xb[:n])
    targets = np.array([1, 2, 3, 4000])
    idx.add(xq[:4], ids=targets)  # move these ids onto the first queries
    assert len(idx) == n
    np.testing.assert_allclose(idx.get_vectors(targets), xq[:4])
    D, I = idx.search(xq[:4], k=1)
    np.testing.assert_array_equal(I[:, 0], targets)
    assert (D[:, 0] < 1e-4).all()
    # their old positions no longer report them
    _, I = idx.search(xb[targets], k=3)
    for row, t, old in zip(I, targets, xb[targets]):
        if not np.allclose(old, xq[list(targets).index(t)]):
            assert row[0] != t
    x2 = xb[:n].copy()
    x2[targets] = xq[:4]
    _, gt = exact_knn(x2, xq, K, "l2")
    _, I = idx.search(xq, k=K)
    _assert_recall(I, gt)


def test_remove_everything_then_add():
    x = make_clustered(500, 16, seed=4)
    idx = ws.HNSWIndex(dim=16)
    idx.add(x)
    assert idx.remove(np.arange(500)) == 500
    assert len(idx) == 0
    _, I = idx.search(x[:3], k=4)
    assert (I == -1).all()
    idx.consolidate()
    idx.add(x[:100], ids=np.arange(1000, 1100))
    _, I = idx.search(x[:100], k=1)
    np.testing.assert_array_equal(I[:, 0], np.arange(1000, 1100))


# -- ids ------------------------------------------------------------------------
def test_default_id_continuation():
    x = make_clustered(300, 8, seed=6)
    idx = ws.HNSWIndex(dim=8)
    idx.add(x[:100])
    np.testing.assert_array_equal(np.sort(idx.ids), np.arange(100))
    idx.add(x[100:110], ids=np.arange(500, 510))
    idx.add(x[110:120])
    np.testing.assert_array_equal(np.sort(idx.ids)[-10:], np.arange(510, 520))
    idx.remove(np.arange(510, 520))
    idx.add(x[120:121])  # removal does not lower the next default id
    assert 520 in idx and 510 not in idx
    idx.add(x[121:122], ids=[7])  # a smaller id does not move it back
    idx.add(x[122:123])
    assert 521 in idx and 7 in idx


def test_arbitrary_int64_ids(data):
    xb, xq, _ = data
    n = 3000
    rng = np.random.default_rng(12)
    ids = np.unique(rng.integers(0, 2**63 - 1, size=n, dtype=np.int64))
    ids[:3] = [0, 1, 2**63 - 1]
    ids = np.unique(ids)
    x = xb[: len(ids)]
    idx = ws.HNSWIndex(dim=DIM, metric="ip")
    idx.add(x, ids=ids)
    _, gt = exact_knn(x, xq, K, "ip", ids=ids)
    D, I = idx.search(xq, k=K)
    real = np.isfinite(D)
    assert real.all()
    assert np.isin(I, ids).all()
    assert _overlap(I, gt) >= RECALL
    allowed = ids[::10]
    _, gt = exact_knn(x, xq, K, "ip", ids=ids, allowed=allowed)
    _, I = idx.search(xq, k=K, filter=allowed)
    assert np.isin(I, allowed).all()
    assert _overlap(I, gt) >= RECALL
    np.testing.assert_array_equal(idx.get_vectors([2**63 - 1])[0], x[ids == 2**63 - 1][0])
    with pytest.raises(ValueError, match="overflow"):
        idx.add(xq[:1])  # default ids cannot continue past the largest int64


# -- dtypes -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float16, np.uint8, np.float64])
def test_input_dtypes(dtype):
    x = make_clustered(5000, 32, seed=8)
    q = make_queries(100, 32, seed=8)
    if dtype == np.uint8:  # scale the mixture into 0..255
        lo, hi = x.min(), x.max()
        x = np.clip((x - lo) / (hi - lo) * 255, 0, 255).round().astype(np.uint8)
        q = np.clip((q - lo) / (hi - lo) * 255, 0, 255).round().astype(np.uint8)
    else:
        x, q = x.astype(dtype), q.astype(dtype)
    idx = ws.HNSWIndex(dim=32, metric="l2")
    idx.add(x)
    xf, qf = x.astype(np.float32), q.astype(np.float32)
    np.testing.assert_array_equal(idx.get_vectors(np.arange(5)), xf[:5])
    _, gt = exact_knn(xf, qf, K, "l2")
    D, I = idx.search(q, k=K)
    _assert_recall(I, gt)
    D2, I2 = idx.search(qf, k=K)
    np.testing.assert_array_equal(I, I2)
    np.testing.assert_array_equal(D, D2)


# -- persistence --------------------------------------------------------------------
@pytest.mark.parametrize("quantized, sq_bits", [(True, 8), (True, 4), (False, None)])
@pytest.mark.parametrize("metric", METRICS)
def test_save_load_identical(data, metric, quantized, sq_bits, tmp_path):
    xb, xq, _ = data
    n = 6000
    idx = ws.HNSWIndex(dim=DIM, metric=metric, M=12, ef_construction=80, quantized=quantized,
                       sq_bits=sq_bits)
    ids = np.arange(n, dtype=np.int64) * 3 + 50
    idx.add(xb[:n], ids=ids)
    idx.remove(ids[::7])
    path = tmp_path / "h.ws"
    idx.save(path)
    loaded = ws.load_index(path)
    assert isinstance(loaded, ws.HNSWIndex)
    assert (loaded.M, loaded.ef_construction, loaded.quantized) == (12, 80, quantized)
    assert loaded.sq_bits == idx.sq_bits
    assert (loaded.dim, loaded.metric, len(loaded)) == (DIM, metric, len(idx))
    np.testing.assert_array_equal(np.sort(loaded.ids), np.sort(idx.ids))
    for kw in ({}, {"ef": 128}, {"filter": ids[::3]}):
        D, I = idx.search(xq, k=K, **kw)
        D2, I2 = loaded.search(xq, k=K, **kw)
        np.testing.assert_array_equal(I, I2)
        np.testing.assert_array_equal(D, D2)
    # the loaded index keeps working: default ids continue, deletes apply
    loaded.add(xq[:3])
    assert ids.max() + 3 in loaded
    assert loaded.remove(ids[1:2]) == 1
    # save after load round-trips again
    loaded.save(path)
    again = ws.load_index(str(path))
    D, I = loaded.search(xq, k=K)
    D2, I2 = again.search(xq, k=K)
    np.testing.assert_array_equal(I, I2)
    np.testing.assert_array_equal(D, D2)


def test_reorder_keeps_results(data):
    xb, xq, _ = data
    idx = ws.HNSWIndex(dim=DIM, metric="l2")
    idx.add(xb[:4000])
    idx.remove(np.arange(10))
    _, gt = exact_knn(xb[10:4000], xq, K, "l2", ids=np.arange(10, 4000))
    ids_before = np.sort(idx.ids)
    idx.reorder()
    np.testing.assert_array_equal(np.sort(idx.ids), ids_before)
    _, I = idx.search(xq, k=K)
    _assert_recall(I, gt)
    np.testing.assert_array_equal(idx.get_vectors([10, 3999]), xb[[10, 3999]])


# -- concurrency ------------------------------------------------------------------------
def test_concurrent_add_and_search(data):
    xb, xq, _ = data
    n, batch = 10_000, 500
    idx = ws.HNSWIndex(dim=DIM, metric="l2", ef_construction=100)
    idx.add(xb[:batch])
    done = [1]  # batches fully added
    errors: list = []
    stop = threading.Event()
    searches = [0]

    def adder():
        try:
            for b in range(1, n // batch):
                idx.add(xb[b * batch:(b + 1) * batch])
                done[0] = b + 1
        except Exception as exc:  # surfaced by the main thread
            errors.append(exc)
        finally:
            stop.set()

    def searcher(seed):
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                q = xq[rng.integers(0, NQ, size=16)]
                flt = None if rng.random() < 0.7 else np.arange(0, n, 3)
                D, I = idx.search(q, k=K, filter=flt)
                limit = (done[0] + 1) * batch  # a batch in flight may already be visible
                got = I[I != -1]
                if got.size and (got.min() < 0 or got.max() >= limit):
                    raise AssertionError(f"id outside what was added: {got.min()}..{got.max()}")
                if flt is not None and not np.isin(got, flt).all():
                    raise AssertionError("filtered search returned a disallowed id")
                if not (D[:, 1:] >= D[:, :-1] - 1e-5).all():  # padding is +inf
                    raise AssertionError("distances are not sorted")
                for row in I:
                    r = row[row != -1]
                    if np.unique(r).size != r.size:
                        raise AssertionError(f"duplicate ids {row}")
                searches[0] += 1
        except Exception as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=adder)] + [
        threading.Thread(target=searcher, args=(s,)) for s in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors[0]
    assert searches[0] > 0
    assert len(idx) == n
    _, gt = exact_knn(xb[:n], xq, K, "l2")
    _, I = idx.search(xq, k=K)
    _assert_recall(I, gt)


def test_concurrent_remove_and_search(data):
    xb, xq, _ = data
    n = 6000
    idx = ws.HNSWIndex(dim=DIM, metric="cosine")
    idx.add(xb[:n])
    removed = np.arange(0, n, 2)
    errors: list = []
    stop = threading.Event()

    def remover():
        try:
            for chunk in np.array_split(removed, 20):
                idx.remove(chunk)
            idx.consolidate()
        except Exception as exc:
            errors.append(exc)
        finally:
            stop.set()

    def searcher():
        try:
            while not stop.is_set():
                _, I = idx.search(xq[:32], k=K)
                if (I == -1).any() or I.min() < 0 or I.max() >= n:
                    raise AssertionError(f"invalid ids {I.min()}..{I.max()}")
        except Exception as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=remover), threading.Thread(target=searcher)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[0]
    _, I = idx.search(xq, k=K)
    assert not np.isin(I, removed).any()
    keep = np.arange(1, n, 2)
    _, gt = exact_knn(xb[keep], xq, K, "cosine", ids=keep)
    _assert_recall(I, gt)
