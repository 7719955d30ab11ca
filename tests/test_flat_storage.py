# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""FlatIndex storage options (fp16, sq8, sq4, binary) and the refine copy."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import (METRICS, assert_exact, assert_same_answer, exact_knn, make_clustered,
                      make_queries, recall_at_k, simd_level)


@pytest.fixture(scope="module")
def data():
    return make_clustered(6000, 64, seed=21), make_queries(100, 64, seed=21)


def _gt(data, metric, k=10):
    xb, xq = data
    return exact_knn(xb, xq, k, metric)[1]


def _build(xb, metric, storage, refine=None, parts=1):
    idx = ws.FlatIndex(dim=xb.shape[1], metric=metric, storage=storage, refine=refine)
    for chunk in np.array_split(xb, parts):
        idx.add(chunk)
    return idx


@pytest.mark.parametrize("metric", METRICS)
def test_fp16_storage_is_exact_up_to_half_rounding(data, metric):
    xb, xq = data
    idx = _build(xb, metric, "fp16")
    D, I = idx.search(xq, k=10)
    assert recall_at_k(I, _gt(data, metric)) >= 0.99
    # exact over the float16-rounded vectors (cosine: rounded after normalization)
    x, q, m = xb, xq, metric
    if metric == "cosine":
        x = xb / np.linalg.norm(xb, axis=1, keepdims=True)
        q, m = xq / np.linalg.norm(xq, axis=1, keepdims=True), "ip"
    assert_exact(D, I, x.astype(np.float16).astype(np.float32), q, 10, m, rtol=1e-4, atol=1e-3)
    assert idx.bytes_per_vector == 2 * 64


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("storage,refine,factor,floor", [
    ("sq8", "none", 4, 0.90),
    ("sq4", "fp32", 10, 0.90),
    ("sq4", "sq8", 10, 0.85),
])
def test_scalar_storage_recall(data, metric, storage, refine, factor, floor):
    xb, xq = data
    idx = _build(xb, metric, storage, refine)
    _, I = idx.search(xq, k=10, refine_factor=factor)
    assert recall_at_k(I, _gt(data, metric)) >= floor


def test_sq8_on_integer_data_is_lossless():
    rng = np.random.default_rng(3)
    xb = rng.integers(0, 256, size=(3000, 40)).astype(np.uint8)
    xq = rng.integers(0, 256, size=(30, 40)).astype(np.float32)
    ref = _build(xb, "l2", "fp32")
    for storage, data in (("sq8", xb), ("sq4", (xb // 16).astype(np.uint8))):
        idx, exact = _build(data, "l2", storage), _build(data, "l2", "fp32")
        q = xq if storage == "sq8" else np.floor(xq / 16)
        D, I = idx.search(q, k=10)
        D0, I0 = exact.search(q, k=10)
        np.testing.assert_array_equal(I, I0)
        np.testing.assert_array_equal(D, D0)
        np.testing.assert_array_equal(idx.get_vectors([5, 17]), data[[5, 17]].astype(np.float32))
    assert ref.bytes_per_vector == 4 * 40


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("storage", ["sq8", "sq4", "binary"])
def test_full_refine_pool_gives_exact_results(data, metric, storage):
    xb, xq = data
    if storage == "binary" and metric == "l2":  # binary codes rank by angle
        with pytest.raises(ValueError, match="cosine"):
            _build(xb, metric, storage, "fp32")
        return
    idx = _build(xb, metric, storage, "fp32")
    D, I = idx.search(xq[:20], k=10, refine_factor=len(xb))  # re-rank everything
    assert_exact(D, I, xb, xq[:20], 10, metric)


@pytest.mark.parametrize("metric", ["ip"])  # binary storage refuses l2
def test_binary_estimate_matches_numpy_reference(metric):
    rng = np.random.default_rng(5)
    xb = rng.standard_normal((500, 70)).astype(np.float32)  # 70: a partial 4-dim group
    xq = rng.standard_normal((8, 70)).astype(np.float32)
    idx = _build(xb, metric, "binary", "none")
    D, I = idx.search(xq, k=500)
    # reference: center = mean, s = sign(x - c) as +-1, a = mean |x - c|,
    # q.x ~ q.c + a * q.s; the engine sums q.s from 8-bit tables of 4-dim groups
    c = xb.astype(np.float64).mean(0)
    r = xb - c.astype(np.float32)
    s = np.where(r > 0, 1.0, -1.0)
    a = np.abs(r).astype(np.float64).mean(1)
    m = (70 + 3) // 4
    for qi in range(len(xq)):
        q = xq[qi].astype(np.float64)
        ip = q @ c + a * (s @ q)
        ref = (q @ q - 2 * ip + (xb.astype(np.float64) ** 2).sum(1)).clip(0) if metric == "l2" else ip
        # table quantization: entries of 4 dims span at most 2 * sum|q| over the group
        qp = np.concatenate([np.abs(q), np.zeros(4 * m - 70)]).reshape(m, 4).sum(1)
        step = (2 * qp).max() / 127
        bound = a * m * 0.5 * step * (2 if metric == "l2" else 1) + 1e-3 * np.abs(ref)
        got = np.full(500, np.nan)
        got[I[qi]] = D[qi]
        assert np.all(np.abs(got - ref) <= bound + 1e-4), np.abs(got - ref).max()
        # ranking follows the reference up to that error
        assert np.corrcoef(got, ref)[0, 1] > 0.99
    # a small k prunes codes by a bound in the scan; it must not change the top of the list
    D10, I10 = idx.search(xq, k=10)
    np.testing.assert_array_equal(D10, D[:, :10])
    np.testing.assert_array_equal(I10, I[:, :10])


def test_binary_refine_improves_recall_on_embeddings():
    # low-rank "embedding-like" data: a few strong directions plus noise
    rng = np.random.default_rng(9)
    basis = rng.standard_normal((16, 128))
    xb = (rng.standard_normal((8000, 16)) @ basis + 0.3 * rng.standard_normal((8000, 128)))
    xq = (rng.standard_normal((100, 16)) @ basis + 0.3 * rng.standard_normal((100, 128)))
    xb, xq = xb.astype(np.float32), xq.astype(np.float32)
    gt = exact_knn(xb, xq, 10, "cosine")[1]
    plain = _build(xb, "cosine", "binary", "none")
    refined = _build(xb, "cosine", "binary")  # default refine: fp32
    assert refined.refine == "fp32" and plain.refine == "none"
    r0 = recall_at_k(plain.search(xq, 10)[1], gt)
    r1 = recall_at_k(refined.search(xq, 10, refine_factor=10)[1], gt)
    assert r0 >= 0.3
    assert r1 >= 0.9 and r1 > r0
    assert plain.bytes_per_vector == 128 // 8 + 4  # sign bits and a float scale


@pytest.mark.parametrize("storage", ["sq8", "sq4"])
def test_range_widens_when_later_data_falls_outside(storage):
    rng = np.random.default_rng(4)
    first = rng.uniform(0, 1, size=(2000, 32)).astype(np.float32)
    later = rng.uniform(0, 10, size=(2000, 32)).astype(np.float32)
    idx = _build(first, "l2", storage)
    idx.add(later, ids=np.arange(2000, 4000))
    xb = np.vstack([first, later])
    rec = idx.get_vectors(np.arange(4000))
    levels = 255 if storage == "sq8" else 15
    step = 10 * 1.25 / levels  # the widened range has 1/8 headroom per side at most
    # nothing is clamped to the first range: every value stays within about a step
    assert np.abs(rec - xb).max() <= 1.01 * step
    _, I = idx.search(later[:50], k=1)
    assert (I[:, 0] == np.arange(2000, 2050)).mean() >= 0.9


def test_train_fits_ranges_before_add():
    rng = np.random.default_rng(6)
    x = rng.uniform(-5, 5, size=(1000, 16)).astype(np.float32)
    idx = ws.FlatIndex(16, "l2", storage="sq8")
    idx.train(x)
    idx.add(x[:1])  # one vector: the trained range is kept, not refitted to it
    idx.add(x[1:])
    assert np.abs(idx.get_vectors(np.arange(1000)) - x).max() <= 10 / 255 * 0.51
    with pytest.raises(ValueError, match="before adding"):
        idx.train(x)
    f16 = ws.FlatIndex(16, "l2", storage="fp16")
    f16.add(x)
    f16.train(x)  # nothing to fit: allowed at any time, changes nothing
    np.testing.assert_array_equal(f16.get_vectors([0]), x[:1].astype(np.float16).astype(np.float32))


@pytest.mark.parametrize("storage,refine", [("fp16", None), ("sq8", None), ("sq4", "sq8"),
                                            ("binary", "fp16"), ("binary", "none")])
def test_save_load_round_trip(data, storage, refine, tmp_path):
    xb, xq = data
    idx = _build(xb, "cosine", storage, refine, parts=3)
    idx.remove([0, 7, 99])
    p = tmp_path / "flat.wsi"
    idx.save(p)
    back = ws.load_index(p)
    assert isinstance(back, ws.FlatIndex)
    assert (back.storage, back.refine, len(back)) == (storage, idx.refine, len(idx))
    assert back.bytes_per_vector == idx.bytes_per_vector
    D0, I0 = idx.search(xq, k=10)
    D1, I1 = back.search(xq, k=10)
    np.testing.assert_array_equal(I0, I1)
    np.testing.assert_array_equal(D0, D1)
    back.add(xb[:5], ids=[0, 7, 99, 100, 101])  # the loaded codec keeps encoding
    assert len(back) == len(idx) + 3


@pytest.mark.parametrize("storage", ["fp16", "sq4", "binary"])
def test_remove_filter_and_replace(data, storage):
    xb, xq = data
    metric = "cosine" if storage == "binary" else "l2"  # binary codes rank by angle
    idx = _build(xb, metric, storage, "fp32" if storage != "fp16" else None)
    idx.remove(np.arange(0, 6000, 2))
    allowed = np.arange(1, 6000, 6)
    _, I = idx.search(xq, k=10, filter=allowed, refine_factor=20)
    assert np.isin(I[I >= 0], allowed).all()
    gt = exact_knn(xb, xq, 10, metric, allowed=allowed)[1]
    assert recall_at_k(I, gt) >= 0.9
    idx.add(xq[:3], ids=[1, 3, 5])  # replace live ids
    _, I = idx.search(xq[:3], k=1)
    assert I[:, 0].tolist() == [1, 3, 5]


def test_memory_matches_storage_and_estimate(data):
    xb, _ = data
    sizes = {}
    for storage, refine in [("fp32", None), ("fp16", None), ("sq8", None), ("sq4", None),
                            ("binary", "none"), ("binary", "sq8")]:
        idx = _build(xb, "ip" if storage == "binary" else "l2", storage, refine)
        sizes[storage, refine] = idx.memory_usage()
        est = ws.estimate_memory(len(xb), 64, index="flat", storage=storage, refine=refine)
        assert abs(est["bytes"] - idx.memory_usage()) <= 0.15 * idx.memory_usage()
    assert sizes["fp16", None] < sizes["fp32", None]
    assert sizes["sq8", None] < sizes["fp16", None]
    assert sizes["sq4", None] < sizes["sq8", None]
    assert sizes["binary", "none"] < sizes["sq4", None]
    assert sizes["binary", "none"] < sizes["binary", "sq8"]


def test_bad_storage_options():
    with pytest.raises(ValueError, match="storage"):
        ws.FlatIndex(8, storage="int3")
    with pytest.raises(TypeError, match="storage"):
        ws.FlatIndex(8, storage=8)
    with pytest.raises(ValueError, match="refine"):
        ws.FlatIndex(8, refine="fp16")  # fp32 storage is exact already
    with pytest.raises(ValueError, match="refine"):
        ws.FlatIndex(8, storage="fp16", refine="sq8")
    with pytest.raises(ValueError, match="refine"):
        ws.FlatIndex(8, storage="sq8", refine="pq")
    idx = ws.FlatIndex(8, storage="sq8", refine="fp32")
    idx.add(np.ones((4, 8), np.float32))
    with pytest.raises(ValueError, match="refine_factor"):
        idx.search(np.ones(8, np.float32), k=1, refine_factor=0)
    with pytest.raises(ValueError, match="storage"):
        ws.estimate_memory(10, 8, index="flat", storage="fp8")


def test_fp16_overflow_is_an_error_and_changes_nothing():
    idx = ws.FlatIndex(4, storage="fp16")
    idx.add(np.ones((3, 4), np.float32))
    bad = np.ones((2, 4), np.float32)
    bad[1, 2] = 1e6
    with pytest.raises(ValueError, match="float16"):
        idx.add(bad, ids=[10, 11])
    assert len(idx) == 3 and 10 not in idx


@pytest.mark.parametrize("level", ws.build_info()["simd_compiled"])
def test_storage_kernels_same_on_every_isa(data, level):
    xb, xq = data
    xb, xq = xb[:, :61], xq[:20, :61]  # odd dim: every kernel's tail
    indexes = [_build(xb, "ip" if s == "binary" else "l2", s, r) for s, r in
               [("fp16", None), ("sq8", None), ("sq4", None), ("binary", "none")]]
    ref = [(i.search(xq, k=10), i.search(xq[:1], k=10), i.get_vectors([3, 4])) for i in indexes]
    with simd_level(level):
        got = [(i.search(xq, k=10), i.search(xq[:1], k=10), i.get_vectors([3, 4])) for i in indexes]
    for (batch0, one0, v0), (batch1, one1, v1) in zip(ref, got):
        np.testing.assert_allclose(v1, v0, rtol=1e-6, atol=1e-6)
        for (D0, I0), (D1, I1) in ((batch0, batch1), (one0, one1)):
            np.testing.assert_allclose(D1, D0, rtol=1e-4, atol=1e-3)
            assert (I1 == I0).mean() >= 0.98  # near-ties may swap with float rounding


@pytest.mark.parametrize("storage,refine", [("fp16", None), ("sq8", None), ("sq4", "fp32"),
                                            ("binary", None), ("binary", "none")])
@pytest.mark.parametrize("dim", [1, 3, 70])
def test_empty_and_tiny_indexes(storage, refine, dim):
    idx = ws.FlatIndex(dim, "ip" if storage == "binary" else "l2", storage=storage, refine=refine)
    for nq in (1, 3, 20):  # few queries take the row path, many the panel path
        D, I = idx.search(np.ones((nq, dim), np.float32), k=3)
        assert (I == -1).all() and np.isinf(D).all()
    x = np.random.default_rng(dim).standard_normal((5, dim)).astype(np.float32)
    idx.add(x)
    idx.remove([0, 1, 2, 3, 4])  # emptied again after training
    _, I = idx.search(x, k=2)
    assert (I == -1).all()
    idx.add(x[:2], ids=[7, 8])
    _, I = idx.search(x[:2], k=5, refine_factor=50)
    assert sorted(I[0][I[0] >= 0].tolist()) == [7, 8]


@pytest.mark.parametrize("storage,refine,metric", [
    ("fp16", None, "cosine"), ("sq8", None, "l2"), ("sq4", None, "ip"), ("sq8", "fp32", "l2"),
    ("sq4", "sq8", "cosine"), ("binary", "none", "ip"), ("binary", None, "ip"),
    ("binary", "fp32", "cosine"),
])
@pytest.mark.parametrize("form", ["mask", "ids", "range"])
def test_filtered_search_scores_only_allowed_rows(data, storage, refine, metric, form):
    # Sparse filters list the allowed rows and score only those (decoded, or repacked
    # binary codes), dense or contiguous ones scan the blocks: either way the answer
    # equals the unfiltered search of an index holding just the allowed rows under the
    # same quantizer, and each allowed row is scored once per query (+ the re-ranked).
    xb, xq = data
    xb, xq = xb[:3000, :48], xq[:40, :48]
    ids = np.arange(len(xb), dtype=np.int64) * 2 + 5

    def build(rows):
        idx = ws.FlatIndex(dim=48, metric=metric, storage=storage, refine=refine)
        idx.train(xb)  # one quantizer for both indexes
        idx.add(xb[rows], ids[rows])
        return idx

    idx = build(np.arange(len(xb)))
    rng = np.random.default_rng(len(form))
    for frac in (0.005, 0.05, 0.2, 0.6):
        if form == "range":  # whole panels: the block scan wastes nothing on them
            keep = np.arange(160, 160 + int(frac * len(xb)) // 16 * 16 + 16)
        else:
            keep = np.flatnonzero(rng.random(len(xb)) < frac)
        flt = ids[keep] if form == "ids" else np.isin(np.arange(ids[-1] + 1), ids[keep])
        sub = build(keep)
        for nq in (1, 5, 40):
            D, I, st = idx.search(xq[:nq], k=10, filter=flt, return_stats=True)
            D0, I0 = sub.search(xq[:nq], k=10)
            assert_same_answer(D, I, D0, I0)
            pool = min(40, len(keep)) if idx.refine != "none" else 0
            assert st["allowed"] == len(keep)
            assert st["distance_evals"] == nq * (len(keep) + pool)
            if storage != "binary" and idx.refine == "none":  # exact over the stored vectors
                x, q, m = idx.get_vectors(ids[keep]), xq[:nq], metric
                if metric == "cosine":
                    q, m = xq[:nq] / np.linalg.norm(xq[:nq], axis=1, keepdims=True), "ip"
                assert_exact(D, I, x, q, 10, m, ids=ids[keep], rtol=1e-4, atol=1e-3)
