# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""HNSWIndex(storage=...): the kept vectors in half precision, or only the 8-bit codes."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import METRICS, exact_knn, make_clustered, make_queries, recall_at_k


@pytest.fixture(scope="module")
def data():
    return make_clustered(5000, 48, seed=31), make_queries(100, 48, seed=31)


def _half(x):
    return np.asarray(x, np.float32).astype(np.float16).astype(np.float32)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("quantized", [True, False])
def test_fp16_recall_and_distances(data, metric, quantized):
    xb, xq = data
    idx = ws.HNSWIndex(48, metric, M=16, ef_construction=100, quantized=quantized, storage="fp16")
    idx.add(xb)
    assert idx.storage == "fp16"
    D, I = idx.search(xq, k=10, ef=64)
    assert recall_at_k(I, exact_knn(xb, xq, 10, metric)[1]) >= 0.95
    # reported distances are exact over the float16-rounded vectors
    x = xb / np.linalg.norm(xb, axis=1, keepdims=True) if metric == "cosine" else xb
    q = xq / np.linalg.norm(xq, axis=1, keepdims=True) if metric == "cosine" else xq
    xh = _half(x).astype(np.float64)
    for r in range(0, 100, 9):
        v = xh[I[r]]
        ref = ((v - q[r]) ** 2).sum(1) if metric == "l2" else v @ q[r]
        np.testing.assert_allclose(D[r], ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(idx.get_vectors([0, 9]), _half(x[[0, 9]]))


def test_fp16_halves_vector_memory(data):
    xb, _ = data
    full = ws.HNSWIndex(48, "l2", M=16, ef_construction=64)
    half = ws.HNSWIndex(48, "l2", M=16, ef_construction=64, storage="fp16")
    full.add(xb)
    half.add(xb)
    saved = full.memory_usage() - half.memory_usage()
    assert saved >= 0.9 * len(xb) * 48 * 2
    for idx, st in ((full, "fp32"), (half, "fp16")):
        est = ws.estimate_memory(len(xb), 48, index="hnsw", M=16, storage=st)["bytes"]
        assert abs(est - idx.memory_usage()) <= 0.1 * idx.memory_usage()


def test_fp16_save_load_remove_and_repair(data, tmp_path):
    xb, xq = data
    idx = ws.HNSWIndex(48, "ip", M=12, ef_construction=80, storage="fp16")
    idx.add(xb)
    idx.remove(np.arange(0, 5000, 3))
    idx.consolidate()  # neighbour repair reads the fp16 vectors
    idx.add(xb[:300] * 1.5, ids=np.arange(10_000, 10_300))
    p = tmp_path / "h16.wsi"
    idx.save(p)
    back = ws.load_index(p)
    assert back.storage == "fp16" and len(back) == len(idx)
    D0, I0 = idx.search(xq, k=10, ef=64)
    D1, I1 = back.search(xq, k=10, ef=64)
    np.testing.assert_array_equal(I0, I1)
    np.testing.assert_array_equal(D0, D1)
    keep = np.setdiff1d(np.arange(5000), np.arange(0, 5000, 3))
    xs = np.vstack([xb[keep], xb[:300] * 1.5])
    ids = np.concatenate([keep, np.arange(10_000, 10_300)])
    gt = exact_knn(xs, xq, 10, "ip", ids=ids)[1]
    assert recall_at_k(I1, gt) >= 0.93
    assert not np.isin(I1, np.arange(0, 5000, 3)).any()


def test_fp16_errors():
    with pytest.raises(ValueError, match="storage"):
        ws.HNSWIndex(8, storage="sq4")
    idx = ws.HNSWIndex(4, storage="fp16")
    idx.add(np.ones((3, 4), np.float32))
    bad = np.full((1, 4), 7e4, np.float32)
    with pytest.raises(ValueError, match="float16"):
        idx.add(bad, ids=[50])
    assert len(idx) == 3 and 50 not in idx
    cos = ws.HNSWIndex(4, "cosine", storage="fp16")
    cos.add(bad)  # normalized first: within range
    assert len(cos) == 1


def test_sq8_on_integer_data_matches_fp32_with_a_quarter_of_the_vectors(tmp_path):
    rng = np.random.default_rng(12)
    centres = rng.integers(0, 200, size=(20, 40))
    xb = np.clip(centres[rng.integers(0, 20, 4000)] + rng.integers(-30, 30, (4000, 40)), 0, 255)
    xb = xb.astype(np.uint8)
    xq = xb[:50].astype(np.float32) + rng.integers(-3, 3, (50, 40))
    full = ws.HNSWIndex(40, "l2", M=12, ef_construction=80)
    small = ws.HNSWIndex(40, "l2", M=12, ef_construction=80, storage="sq8")
    threads = ws.get_num_threads()
    ws.set_num_threads(1)  # one insertion order: both builds make the same graph
    try:
        full.add(xb)
        small.add(xb)
    finally:
        ws.set_num_threads(threads)
    assert small.storage == "sq8" and small.sq_bits == 8
    D0, I0 = full.search(xq, k=10, ef=64)
    D1, I1 = small.search(xq, k=10, ef=64)
    np.testing.assert_array_equal(I0, I1)  # lossless codes: the same graph and distances
    np.testing.assert_array_equal(D0, D1)
    assert full.memory_usage() - small.memory_usage() >= 0.95 * 4000 * 40 * 4
    np.testing.assert_array_equal(small.get_vectors([3, 8]), xb[[3, 8]].astype(np.float32))
    p = tmp_path / "sq8.wsi"
    small.save(p)
    back = ws.load_index(p)
    assert back.storage == "sq8"
    D2, I2 = back.search(xq, k=10, ef=64)
    np.testing.assert_array_equal(I1, I2)
    np.testing.assert_array_equal(D1, D2)
    est = ws.estimate_memory(4000, 40, index="hnsw", M=12, storage="sq8")["bytes"]
    assert abs(est - small.memory_usage()) <= 0.15 * small.memory_usage()


@pytest.mark.parametrize("metric", METRICS)
def test_sq8_float_data_recall_widening_and_repair(data, metric, tmp_path):
    xb, xq = data
    idx = ws.HNSWIndex(48, metric, M=16, ef_construction=100, storage="sq8")
    idx.add(xb[:2500])
    idx.add(xb[2500:] * 1.3)  # outside the first range: every code is re-encoded
    xs = np.vstack([xb[:2500], xb[2500:] * 1.3])
    gt = exact_knn(xs, xq, 10, metric)[1]
    D, I = idx.search(xq, k=10, ef=96)
    assert recall_at_k(I, gt) >= 0.9
    # distances are exact over the stored (decoded) vectors
    v = idx.get_vectors(I[0])
    q = xq[0] / np.linalg.norm(xq[0]) if metric == "cosine" else xq[0]
    ref = ((v - q) ** 2).sum(1) if metric == "l2" else v @ q
    np.testing.assert_allclose(D[0], ref, rtol=1e-4, atol=1e-3)
    idx.remove(np.arange(0, 5000, 4))
    idx.consolidate()
    _, I = idx.search(xq, k=10, ef=96)
    assert not np.isin(I, np.arange(0, 5000, 4)).any()
    keep = np.setdiff1d(np.arange(5000), np.arange(0, 5000, 4))
    assert recall_at_k(I, exact_knn(xs[keep], xq, 10, metric, ids=keep)[1]) >= 0.88
    idx.save(tmp_path / "f.wsi")
    back = ws.load_index(tmp_path / "f.wsi")
    np.testing.assert_array_equal(back.search(xq, k=10, ef=96)[1], I)


def test_sq8_needs_quantized_8_bit_codes():
    with pytest.raises(ValueError, match="sq8"):
        ws.HNSWIndex(8, storage="sq8", quantized=False)
    with pytest.raises(ValueError, match="sq8"):
        ws.HNSWIndex(8, storage="sq8", sq_bits=4)


@pytest.mark.parametrize("storage, row_bytes", [("fp32", 4), ("fp16", 2)])
def test_quantized_walk_counts_the_bytes_re_ranked(storage, row_bytes):
    """With a quantized walk a fixed ``rerank`` reads that many stored rows per query
    (reported as refine_bytes); an fp32 walk re-ranks nothing and reports none."""
    x, q = make_clustered(2000, 24, seed=3), make_queries(7, 24, seed=3)
    idx = ws.HNSWIndex(24, "l2", M=8, ef_construction=64, storage=storage)
    idx.add(x)
    *_, st = idx.search(q, k=5, ef=40, rerank=20, return_stats=True)
    assert st["refine_bytes"] == 7 * 20 * row_bytes * 24
    plain = ws.HNSWIndex(24, "l2", M=8, ef_construction=64, quantized=False)
    plain.add(x)
    assert "refine_bytes" not in plain.search(q, k=5, ef=40, return_stats=True)[2]
