# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""FlatIndex: exact results against a float64 NumPy ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import METRICS, assert_exact, assert_same_answer, auto_device, exact_knn, make_clustered


@pytest.fixture(scope="module")
def data():
    xb = make_clustered(3000, 32, seed=11)
    xq = make_clustered(50, 32, seed=12)
    return xb, xq


def _flat(xb, metric, ids=None):
    idx = ws.FlatIndex(dim=xb.shape[1], metric=metric)
    idx.add(xb, ids)
    return idx


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("k", [1, 10, 100])
def test_exact_matches_numpy(data, metric, k):
    xb, xq = data
    idx = _flat(xb, metric)
    assert len(idx) == len(xb) and idx.dim == 32 and idx.metric == metric
    D, I = idx.search(xq, k=k)
    assert_exact(D, I, xb, xq, k, metric)
    # ordering follows the public convention
    if metric == "l2":
        assert (np.diff(D, axis=1) >= 0).all()
    else:
        assert (np.diff(D, axis=1) <= 0).all()
    assert idx.last_search_info["nq"] == len(xq)
    assert idx.last_search_info["device"] == auto_device()  # the same answer on either


@pytest.mark.parametrize("dim", [1, 3, 17, 64, 128, 129])
def test_odd_dimensions(dim):
    # dims that are not multiples of the SIMD width exercise the tail loops
    xb = make_clustered(500, dim, seed=dim)
    xq = make_clustered(20, dim, seed=dim + 1)
    for metric in METRICS:
        D, I = _flat(xb, metric).search(xq, k=5)
        assert_exact(D, I, xb, xq, 5, metric)


@pytest.mark.parametrize("metric", METRICS)
def test_single_query_is_1d(data, metric):
    xb, xq = data
    idx = _flat(xb, metric)
    D, I = idx.search(xq[0], k=7)
    assert D.shape == (7,) and I.shape == (7,)
    D2, I2 = idx.search(xq[:1], k=7)
    np.testing.assert_array_equal(I, I2[0])
    np.testing.assert_array_equal(D, D2[0])
    assert_exact(D, I, xb, xq[0], 7, metric)


@pytest.mark.parametrize("metric", METRICS)
def test_k_larger_than_n_pads(metric):
    xb = make_clustered(5, 8, seed=3)
    xq = make_clustered(3, 8, seed=4)
    idx = _flat(xb, metric)
    D, I = idx.search(xq, k=9)
    assert (I[:, :5] >= 0).all() and (I[:, 5:] == -1).all()
    pad = np.inf if metric == "l2" else -np.inf
    assert (D[:, 5:] == pad).all()
    assert_exact(D, I, xb, xq, 9, metric)


def test_empty_index_returns_padding():
    for metric in METRICS:
        idx = ws.FlatIndex(dim=4, metric=metric)
        D, I = idx.search(np.ones((2, 4), np.float32), k=3)
        assert (I == -1).all()
        assert (D == (np.inf if metric == "l2" else -np.inf)).all()


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("form", ["mask", "ids"])
def test_filter(data, metric, form):
    xb, xq = data
    idx = _flat(xb, metric)
    rng = np.random.default_rng(5)
    allowed = np.sort(rng.choice(len(xb), size=150, replace=False))
    if form == "mask":
        flt = np.zeros(len(xb), dtype=bool)
        flt[allowed] = True
    else:
        flt = allowed
    D, I = idx.search(xq, k=10, filter=flt)
    assert np.isin(I, allowed).all()
    assert_exact(D, I, xb, xq, 10, metric, allowed=allowed)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("form", ["mask", "ids"])
@pytest.mark.parametrize("frac", [0.005, 0.05, 0.2, 0.6])
def test_filter_fractions_score_only_allowed_rows(data, metric, form, frac):
    # Sparse filters list the allowed rows and score only those, dense ones scan the
    # panels; the answer is the exact one over the allowed rows either way, equal to
    # the unfiltered search of an index that holds only those rows, and every allowed
    # row is scored once per query.
    xb, xq = data
    ids = np.arange(len(xb), dtype=np.int64) * 3 + 7
    idx = _flat(xb, metric, ids)
    rng = np.random.default_rng(int(frac * 1000))
    keep = np.flatnonzero(rng.random(len(xb)) < frac)
    if form == "mask":
        flt = np.zeros(ids[-1] + 1, dtype=bool)
        flt[ids[keep]] = True
    else:
        flt = rng.permutation(ids[keep])
    sub = _flat(xb[keep], metric, ids[keep])
    for nq in (1, 5, 50):  # few queries favour the panel scan, many the allowed rows
        D, I, st = idx.search(xq[:nq], k=10, filter=flt, return_stats=True)
        assert st["allowed"] == len(keep) and st["distance_evals"] == nq * len(keep)
        assert_exact(D, I, xb[keep], xq[:nq], 10, metric, ids=ids[keep])
        D0, I0 = sub.search(xq[:nq], k=10)
        assert_same_answer(D, I, D0, I0)


def test_filter_fewer_allowed_than_k(data):
    xb, xq = data
    idx = _flat(xb, "l2")
    allowed = np.array([3, 77, 2999])
    D, I = idx.search(xq, k=5, filter=allowed)
    assert set(I[:, :3].ravel()) <= set(allowed.tolist())
    assert (I[:, 3:] == -1).all() and (D[:, 3:] == np.inf).all()
    assert_exact(D, I, xb, xq, 5, "l2", allowed=allowed)


def test_filter_short_mask_and_unknown_ids(data):
    xb, xq = data
    idx = _flat(xb, "ip")
    # a mask shorter than the id range allows only the ids it covers
    mask = np.zeros(100, dtype=bool)
    mask[::7] = True
    D, I = idx.search(xq, k=4, filter=mask)
    assert np.isin(I, np.flatnonzero(mask)).all()
    assert_exact(D, I, xb, xq, 4, "ip", allowed=np.flatnonzero(mask))
    # ids that are not in the index are ignored; an empty filter allows nothing
    D, I = idx.search(xq, k=4, filter=np.array([10**12, -5, 42]))
    assert (I[:, 0] == 42).all() and (I[:, 1:] == -1).all()
    D, I = idx.search(xq, k=4, filter=np.array([], dtype=np.int64))
    assert (I == -1).all() and (D == -np.inf).all()
    D, I = idx.search(xq, k=4, filter=np.zeros(len(xb), dtype=bool))
    assert (I == -1).all()


def test_remove_and_readd(data):
    xb, xq = data
    idx = _flat(xb, "l2")
    gone = np.arange(0, len(xb), 3)
    assert idx.remove(gone) == len(gone)
    assert idx.remove(gone) == 0  # already gone: ignored
    assert idx.remove([10**15]) == 0
    assert len(idx) == len(xb) - len(gone)
    keep = np.setdiff1d(np.arange(len(xb)), gone)
    assert 0 not in idx and 1 in idx
    D, I = idx.search(xq, k=10)
    assert not np.isin(I, gone).any()
    assert_exact(D, I, xb[keep], xq, 10, "l2", ids=keep)
    # add the removed ones back
    idx.add(xb[gone], gone)
    assert len(idx) == len(xb)
    D, I = idx.search(xq, k=10)
    assert_exact(D, I, xb, xq, 10, "l2")
    np.testing.assert_array_equal(np.sort(idx.ids), np.arange(len(xb)))


@pytest.mark.parametrize("metric", METRICS)
def test_replace_existing_id(data, metric):
    xb, xq = data
    idx = _flat(xb, metric)
    # move the vector of id 5 onto query 0: it must become query 0's nearest neighbour
    idx.add(xq[0] * 1.0, ids=[5])
    assert len(idx) == len(xb)
    xb2 = xb.copy()
    xb2[5] = xq[0]
    D, I = idx.search(xq, k=10)
    assert I[0, 0] == 5
    assert_exact(D, I, xb2, xq, 10, metric)
    expected = xq[0] if metric != "cosine" else xq[0] / np.linalg.norm(xq[0])
    np.testing.assert_allclose(idx.get_vectors([5])[0], expected, rtol=1e-5, atol=1e-6)


def test_arbitrary_int64_ids(data):
    xb, xq = data
    n = 600
    rng = np.random.default_rng(8)
    ids = np.unique(rng.integers(0, np.iinfo(np.int64).max, size=n, dtype=np.int64))
    ids[:3] = [0, 1, np.iinfo(np.int64).max]
    ids = np.unique(ids)
    x = xb[: len(ids)]
    idx = _flat(x, "l2", ids=ids)
    assert len(idx) == len(ids)
    np.testing.assert_array_equal(np.sort(idx.ids), np.sort(ids))
    D, I = idx.search(xq, k=10)
    assert_exact(D, I, x, xq, 10, "l2", ids=ids)
    for v in (np.iinfo(np.int64).max, 0, 1):
        assert v in idx
        np.testing.assert_array_equal(idx.get_vectors([v])[0], x[np.flatnonzero(ids == v)[0]])
    # id-array filters work with any int64 id
    allowed = ids[::5]
    D, I = idx.search(xq, k=10, filter=allowed)
    assert_exact(D, I, x, xq, 10, "l2", ids=ids, allowed=allowed)
    # default ids cannot continue past the largest int64: clear error, nothing changes
    with pytest.raises(ValueError, match="overflow"):
        idx.add(xq[:1])
    assert len(idx) == len(ids)
    # removing an extreme id works too
    assert idx.remove([np.iinfo(np.int64).max]) == 1
    assert np.iinfo(np.int64).max not in idx


@pytest.mark.parametrize("metric", METRICS)
def test_large_ids_large_index_few_queries(metric):
    # few queries over many rows: the scan is split into ranges whose results are merged
    xb = make_clustered(20_000, 16, seed=21)
    xq = make_clustered(2, 16, seed=22)
    ids = 2**40 - np.arange(1, len(xb) + 1, dtype=np.int64) * 3  # descending, far from 0
    ids[7] = 0
    idx = _flat(xb, metric, ids=ids)
    D, I = idx.search(xq, k=20)
    assert_exact(D, I, xb, xq, 20, metric, ids=ids)
    D, I = idx.search(xb[7], k=3)
    assert_exact(D, I, xb, xb[7], 3, metric, ids=ids)
    if metric != "ip":  # the vector itself is its nearest neighbour
        assert I[0] == 0 and np.isfinite(D[0])


def test_default_ids_continue_after_max(data):
    xb, _ = data
    idx = ws.FlatIndex(dim=32)
    idx.add(xb[:10])
    idx.add(xb[10:12], ids=[100, 50])
    idx.add(xb[12:15])
    np.testing.assert_array_equal(np.sort(idx.ids), np.r_[0:10, 50, 100, 101:104])


@pytest.mark.parametrize("dtype", [np.float16, np.uint8, np.float64, np.int32])
@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_input_dtypes(dtype, metric):
    rng = np.random.default_rng(9)
    if np.issubdtype(dtype, np.integer):
        xb = rng.integers(0, 256, size=(800, 24)).astype(dtype)
        xq = rng.integers(0, 256, size=(20, 24)).astype(dtype)
    else:
        xb = make_clustered(800, 24, seed=9).astype(dtype)
        xq = make_clustered(20, 24, seed=10).astype(dtype)
    idx = _flat(xb, metric)
    D, I = idx.search(xq, k=8)
    # the index works on the float32 values of the input
    f32b, f32q = xb.astype(np.float32), xq.astype(np.float32)
    assert_exact(D, I, f32b, f32q, 8, metric, rtol=1e-4, atol=1e-2)
    # same results as passing float32 directly
    D2, I2 = _flat(f32b, metric).search(f32q, k=8)
    np.testing.assert_array_equal(D, D2)
    np.testing.assert_array_equal(I, I2)


def test_non_contiguous_input(data):
    xb, xq = data
    big = np.zeros((len(xb), 64), np.float32)
    big[:, ::2] = xb  # strided view with the right shape
    idx = _flat(big[:, ::2], "l2")
    D, I = idx.search(np.asfortranarray(xq), k=5)
    assert_exact(D, I, xb, xq, 5, "l2")


@pytest.mark.parametrize("metric", METRICS)
def test_save_load_round_trip(data, metric, tmp_index_path):
    xb, xq = data
    ids = np.arange(len(xb), dtype=np.int64) * 7 + 1000
    idx = _flat(xb, metric, ids=ids)
    idx.remove(ids[:50])
    D, I = idx.search(xq, k=10)
    idx.save(tmp_index_path)
    loaded = ws.load_index(str(tmp_index_path))
    assert isinstance(loaded, ws.FlatIndex)
    assert (loaded.dim, loaded.metric, len(loaded)) == (idx.dim, idx.metric, len(idx))
    D2, I2 = loaded.search(xq, k=10)
    np.testing.assert_array_equal(D, D2)
    np.testing.assert_array_equal(I, I2)
    np.testing.assert_array_equal(np.sort(loaded.ids), np.sort(idx.ids))
    # the loaded index keeps working: default ids continue after the max id
    loaded.add(xq[:2])
    assert ids.max() + 1 in loaded and ids.max() + 2 in loaded


def test_save_overwrites_existing_file(data, tmp_index_path):
    xb, xq = data
    _flat(xb[:10], "l2").save(tmp_index_path)
    _flat(xb, "l2").save(tmp_index_path)
    assert len(ws.load_index(tmp_index_path)) == len(xb)


def test_get_vectors_unknown_id_raises(data):
    idx = _flat(data[0][:20], "l2")
    np.testing.assert_array_equal(idx.get_vectors([3, 4]), data[0][3:5])
    with pytest.raises(KeyError):
        idx.get_vectors([3, 999])


def test_memory_usage_grows(data):
    xb, _ = data
    idx = ws.FlatIndex(dim=32)
    before = idx.memory_usage()
    idx.add(xb)
    assert idx.memory_usage() >= before + xb.nbytes


def test_repr_and_len(data):
    idx = _flat(data[0][:10], "cosine")
    assert repr(idx) == "FlatIndex(dim=32, metric='cosine', size=10)"
    assert len(idx) == 10


def test_matches_exact_helper_on_large_k(data):
    xb, xq = data
    D, I = _flat(xb, "l2").search(xq[:3], k=len(xb) + 5)
    gD, gI = exact_knn(xb, xq[:3], len(xb) + 5, "l2")
    assert (I[:, -5:] == -1).all()
    np.testing.assert_allclose(D[:, :-5], gD[:, :-5], rtol=1e-4, atol=1e-3)
