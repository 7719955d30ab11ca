# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""IVF-PQ with the OPQ rotation: the rotation against a NumPy eigen-decomposition of
the training residuals, the eigenvalue allocation, its effect on the reconstruction
error and recall, persistence, the automatic choice, errors, and the row-weighted
fast-scan tables it relies on."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import exact_knn, needs_test_hooks, recall_at_k, simd_level
from warpsearch import _core


def anisotropic(n, d, seed, scale=1.0, decay=0.12, clusters=32):
    """Clusters whose spread falls off along a random orthogonal basis: a few wide
    directions and many narrow ones, as in descriptors and text embeddings."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    sd = np.exp(-decay * np.arange(d))
    centers = rng.standard_normal((clusters, d)) * 3.0
    lab = rng.integers(0, clusters, n)
    x = centers[lab] + (rng.standard_normal((n, d)) * sd) @ basis.T
    return (x * scale).astype(np.float32)


def filled(x, metric="l2", **params):
    """An IVFPQIndex trained on x and holding it."""
    idx = ws.IVFPQIndex(x.shape[1], metric, **params)
    idx.train(x)
    idx.add(x)
    return idx


def residuals(idx, x):
    c = idx.centroids().astype(np.float64)
    xd = x.astype(np.float64)
    d2 = (xd**2).sum(1)[:, None] - 2 * xd @ c.T + (c**2).sum(1)[None, :]
    return xd - c[d2.argmin(1)]


@pytest.mark.parametrize("scale", [1.0, 1e-3])
def test_rotation_is_pca_of_residuals_with_eigenvalue_allocation(scale):
    # 3,000 training vectors: the PQ sample is all of them, so the rotation must
    # diagonalize their residual second moments. With 2-d sub-spaces, eigenvalue
    # allocation pairs the i-th largest variance with the i-th smallest. scale=1e-3 puts
    # every variance below 1 (their logs negative), where a plain product of variances
    # would group the largest ones together.
    d, m = 16, 8
    x = anisotropic(3000, d, seed=1, scale=scale)
    idx = ws.IVFPQIndex(d, nlist=8, m=m, nbits=4, opq=True)
    idx.train(x)
    R = idx.rotation().astype(np.float64)
    assert R.shape == (d, d)
    np.testing.assert_allclose(R @ R.T, np.eye(d), atol=1e-4)
    r = residuals(idx, x)
    cov = r.T @ r / len(r)
    rc = R @ cov @ R.T
    off = rc - np.diag(np.diag(rc))
    assert np.abs(off).max() <= 1e-3 * np.abs(np.diag(rc)).max()
    lam = np.sort(np.linalg.eigvalsh(cov))[::-1]
    diag = np.diag(rc)
    np.testing.assert_allclose(diag[0::2], lam[:m], rtol=1e-3, atol=1e-6 * lam[0])
    np.testing.assert_allclose(diag[1::2], lam[::-1][:m], rtol=2e-2, atol=1e-5 * lam[0])


def test_rotation_of_wide_data_diagonalizes_the_residuals():
    # 200 dimensions (the Householder + QL eigen-decomposition on a larger matrix), with
    # fewer training rows than the PQ sample cap: all of them are the sample.
    d = 200
    x = anisotropic(3500, d, seed=15, decay=0.03)
    idx = ws.IVFPQIndex(d, nlist=4, nbits=4, opq=True)
    idx.train(x)
    R = idx.rotation().astype(np.float64)
    np.testing.assert_allclose(R @ R.T, np.eye(d), atol=1e-5)
    r = residuals(idx, x)
    rc = R @ (r.T @ r / len(r)) @ R.T
    off = rc - np.diag(np.diag(rc))
    assert np.abs(off).max() <= 1e-3 * np.abs(np.diag(rc)).max()
    lam = np.sort(np.linalg.eigvalsh(r.T @ r / len(r)))[::-1]
    np.testing.assert_allclose(np.sort(np.diag(rc))[::-1], lam, rtol=1e-3, atol=1e-6 * lam[0])


def test_rotation_lowers_reconstruction_error_and_raises_recall():
    d = 32
    x = anisotropic(12_000, d, seed=2)
    q = anisotropic(200, d, seed=3)
    gt = exact_knn(x, q, 10, "l2")[1]
    err, rec = {}, {}
    for opq in (False, True):
        idx = filled(x, nlist=32, nbits=4, opq=opq)
        assert (idx.rotation() is not None) == opq
        xh = idx.get_vectors(np.arange(len(x))).astype(np.float64)
        err[opq] = ((xh - x) ** 2).sum(1).mean()
        rec[opq] = recall_at_k(idx.search(q, k=10, nprobe=8, refine_factor=4)[1], gt)
    # measured: error 0.657 -> 0.116 (0.18x), recall 0.594 -> 0.800 (4-bit, no refine store)
    assert err[True] < 0.6 * err[False]
    assert rec[True] >= rec[False] + 0.1


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_rotated_index_with_refine_keeps_recall(metric):
    d = 48
    x = anisotropic(8000, d, seed=4)
    q = anisotropic(100, d, seed=5)
    if metric == "cosine":
        gt = exact_knn(x, q, 10, "cosine")[1]
    else:
        gt = exact_knn(x, q, 10, metric)[1]
    idx = filled(x, metric, nlist=32, nbits=4, refine="fp32", opq=True)
    assert recall_at_k(idx.search(q, k=10, nprobe=32, refine_factor=8)[1], gt) >= 0.98
    # 8-bit codes (float tables, no fast scan) take the rotated queries too
    idx8 = filled(x, metric, nlist=32, nbits=8, refine="fp32", opq=True)
    assert recall_at_k(idx8.search(q, k=10, nprobe=32, refine_factor=4)[1], gt) >= 0.98


def test_pq_distances_are_those_of_the_reconstruction():
    # Without a refine store, the distances returned for 8-bit codes are exact distances
    # to the reconstruction (centroid + R^T decoded residual): the rotation is undone.
    d = 24
    x = anisotropic(4000, d, seed=6)
    q = anisotropic(20, d, seed=7)
    idx = filled(x, nlist=16, nbits=8, opq=True)
    D, I = idx.search(q, k=5, nprobe=16)
    rec = idx.get_vectors(I.ravel()).reshape(20, 5, d).astype(np.float64)
    true = ((rec - q[:, None, :].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_allclose(D, true, rtol=1e-4, atol=1e-3)


def test_filtered_and_exhaustive_plans_with_rotation():
    d = 32
    x = anisotropic(6000, d, seed=8)
    q = anisotropic(30, d, seed=9)
    idx = filled(x, nlist=32, nbits=4, refine="fp32", opq=True)
    allowed = np.arange(0, 6000, 97)  # small: searched exhaustively and exactly
    D, I = idx.search(q, k=5, filter=allowed)
    assert np.isin(I, allowed).all()
    np.testing.assert_array_equal(I, exact_knn(x, q, 5, "l2", allowed=allowed)[1])


def test_save_load_round_trip(tmp_path):
    d = 32
    x = anisotropic(5000, d, seed=10)
    q = anisotropic(50, d, seed=11)
    idx = filled(x, nlist=16, nbits=4, refine="sq8", opq=True)
    idx.save(tmp_path / "opq.wsi")
    back = ws.load_index(tmp_path / "opq.wsi")
    assert back.opq is True
    np.testing.assert_array_equal(back.rotation(), idx.rotation())
    for a, b in zip(idx.search(q, k=10, nprobe=4), back.search(q, k=10, nprobe=4)):
        np.testing.assert_array_equal(a, b)
    # an index without rotation saves none and loads without one
    plain = ws.IVFPQIndex(d, nlist=16, nbits=4, opq=False)
    plain.train(x)
    plain.save(tmp_path / "plain.wsi")
    again = ws.load_index(tmp_path / "plain.wsi")
    assert again.rotation() is None and again.opq is False


def test_automatic_choice():
    # Anisotropic data: the rotation ranks the sample far better, so auto keeps it.
    # Isotropic noise with a refine store: no axis is wider than another, the ranking
    # gains nothing at the re-rank depth, and auto leaves the queries unrotated.
    d = 32
    x = anisotropic(5000, d, seed=12)
    idx = ws.IVFPQIndex(d, nlist=16, nbits=4)
    assert idx.opq is None
    idx.train(x)
    assert idx.rotation() is not None
    rng = np.random.default_rng(13)
    iso = rng.standard_normal((5000, d)).astype(np.float32)
    idx2 = ws.IVFPQIndex(d, nlist=16, nbits=4, refine="fp32")
    idx2.train(iso)
    assert idx2.rotation() is None
    idx2.add(iso)
    q = rng.standard_normal((50, d)).astype(np.float32)
    assert recall_at_k(idx2.search(q, k=10, nprobe=16, refine_factor=16)[1], exact_knn(iso, q, 10, "l2")[1]) >= 0.97
    # past 1024 dimensions auto skips the O(dim^3) eigen-decomposition
    wide = ws.IVFPQIndex(1040, nlist=4, nbits=4)
    wide.train(anisotropic(600, 1040, seed=14))
    assert wide.rotation() is None


def test_opq_errors():
    for bad in ("yes", 1, 0.5):
        with pytest.raises(TypeError, match="opq"):
            ws.IVFPQIndex(16, nlist=4, opq=bad)
    assert ws.IVFPQIndex(16, nlist=4, opq=np.bool_(True)).opq is True


# -- row-weighted fast-scan tables ----------------------------------------------------
@needs_test_hooks
@pytest.mark.parametrize("level", ws.build_info()["simd_compiled"])
@pytest.mark.parametrize("m", [8, 20, 64])
def test_row_weighted_tables_and_scan(level, m):
    # Rows whose spread falls off get finer units (shift t_j per group of 8 rows); the
    # scan weights row j by 2^(T - t_j). The kernel sums must equal the weighted sums of
    # the table entries, and the estimate must lie within the rounding bound.
    if level not in ("generic", "avx2", "avx512", "avx512_vnni"):
        pytest.skip(f"no fast-scan kernel for {level}")
    rng = np.random.default_rng(m)
    m_pad = -(-m // 4) * 4
    groups = -(-m_pad // 8)
    t = np.minimum(np.arange(groups), 3)
    rshift = np.repeat(t, 8)[:m_pad].astype(np.uint8)
    mag = 2.0 ** -rshift[:m].astype(np.float64)
    lut = (rng.random((m, 16)) * mag[:, None] * 50 + rng.random((m, 1))).astype(np.float32)
    n = 90
    codes = rng.integers(0, 16, (n, m)).astype(np.uint8)
    packed = _core._pack_fastscan(codes)
    with simd_level(level):
        lut8, scale, bias = _core._quantize_lut(lut, rshift)
        got = _core._fastscan_distances(packed, n, m, lut8, rshift).astype(np.int64)
    top = int(rshift[m - 1])
    w = 2 ** (top - rshift[:m].astype(np.int64))
    picked = lut8[np.arange(m)[None, :], codes].astype(np.int64)
    np.testing.assert_array_equal(got, (picked * w).sum(1))
    exact = lut.astype(np.float64)[np.arange(m)[None, :], codes].sum(1)
    bound = 0.5 * w.sum() / scale + 1e-3 * np.abs(exact).max()
    assert np.abs(bias + got / scale - exact).max() <= bound
    # finer units pay off: the error is below that of one unit for every row
    lut8u, scale_u, bias_u = _core._quantize_lut(lut)
    plain = lut8u[np.arange(m)[None, :], codes].astype(np.int64).sum(1)
    err_w = np.abs(bias + got / scale - exact).mean()
    err_u = np.abs(bias_u + plain / scale_u - exact).mean()
    if groups > 1:
        assert err_w < err_u
    else:  # one group: nothing to shift
        assert err_w == err_u


@needs_test_hooks
def test_row_shift_validation():
    lut = np.ones((8, 16), np.float32)
    with pytest.raises(ValueError, match="groups of 8"):
        _core._quantize_lut(lut, np.array([0, 0, 0, 0, 1, 1, 1, 1], np.uint8))
    lut16 = np.ones((16, 16), np.float32)
    with pytest.raises(ValueError, match="decrease"):
        _core._quantize_lut(lut16, np.array([1] * 8 + [0] * 8, np.uint8))
