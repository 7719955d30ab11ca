# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""IVFPQIndex: recall against exact search for each nbits/refine mode, PQ codes and
lookup tables against NumPy, the fast-scan kernel of every ISA, filters, removal,
persistence, memory estimates and errors."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import (
    auto_device,
    exact_knn,
    make_clustered,
    make_queries,
    needs_test_hooks,
    recall_at_k,
    simd_level,
)
from warpsearch import _core

N, DIM, NQ, K, NLIST = 20_000, 32, 200, 10, 64

# recall@10 at nprobe=8, refine_factor=4 on the clustered data below (measured values
# 0.89 / 0.97 / 0.998 / 1.0 for 8-bit and 0.62 / 0.94 / 0.954 / 0.955 for 4-bit; 4-bit
# codes of 2-d sub-vectors are coarse, re-ranking recovers most of the loss).
RECALL_L2 = {
    (8, "none"): 0.85, (8, "sq8"): 0.93, (8, "fp16"): 0.97, (8, "fp32"): 0.97,
    (4, "none"): 0.55, (4, "sq8"): 0.90, (4, "fp16"): 0.92, (4, "fp32"): 0.92,
}


@pytest.fixture(scope="module")
def data():
    return make_clustered(N, DIM, seed=7), make_queries(NQ, DIM, seed=7)


_built: dict = {}


@pytest.fixture(scope="module")
def built(data):
    """One trained and filled index per (metric, nbits, refine), built on first use."""
    xb, _ = data

    def get(metric="l2", nbits=8, refine="none"):
        key = (metric, nbits, refine)
        if key not in _built:
            idx = ws.IVFPQIndex(DIM, metric, nlist=NLIST, nbits=nbits, refine=refine)
            idx.train(xb)
            idx.add(xb)
            _built[key] = idx
        return _built[key]

    return get


# -- recall -------------------------------------------------------------------------
@pytest.mark.parametrize("nbits,refine", sorted(RECALL_L2))
def test_recall_l2(built, data, nbits, refine):
    xb, xq = data
    idx = built("l2", nbits, refine)
    _, gt = exact_knn(xb, xq, K, "l2")
    D, I = idx.search(xq, k=K, nprobe=8, refine_factor=4)
    assert D.shape == I.shape == (NQ, K) and D.dtype == np.float32 and I.dtype == np.int64
    assert recall_at_k(I, gt) >= RECALL_L2[(nbits, refine)]
    assert (np.diff(D, axis=1) >= 0).all()  # ascending squared distances


@pytest.mark.parametrize("metric", ["ip", "cosine"])
@pytest.mark.parametrize("nbits,refine,factor,floor", [(8, "none", 1, 0.70), (8, "fp32", 4, 0.97),
                                                     (4, "fp32", 20, 0.93)])
def test_recall_similarity(built, data, metric, nbits, refine, factor, floor):
    xb, xq = data
    idx = built(metric, nbits, refine)
    _, gt = exact_knn(xb, xq, K, metric)
    D, I = idx.search(xq, k=K, nprobe=8, refine_factor=factor)
    assert recall_at_k(I, gt) >= floor
    assert (np.diff(D, axis=1) <= 0).all()  # descending similarity


def test_recall_grows_with_nprobe_and_refine(built, data):
    xb, xq = data
    idx = built("l2", 4, "fp32")
    _, gt = exact_knn(xb, xq, K, "l2")
    r = [recall_at_k(idx.search(xq, k=K, nprobe=p, refine_factor=f)[1], gt)
         for p, f in [(1, 1), (2, 2), (8, 4), (NLIST, 30)]]
    assert r == sorted(r) and r[-1] >= 0.99


@pytest.mark.parametrize("refine, row_bytes", [("fp32", 4 * DIM), ("fp16", 2 * DIM),
                                               ("sq8", DIM + 4), ("none", 0)])
def test_stats_count_the_bytes_re_ranked(built, data, refine, row_bytes):
    """refine_bytes: each query read k * refine_factor re-rank records (what a mapped
    index reads from its file past the codes)."""
    _, xq = data
    idx = built("l2", 4, refine)
    *_, st = idx.search(xq, k=K, nprobe=8, refine_factor=3, return_stats=True)
    assert st["refine_bytes"] == NQ * K * 3 * row_bytes
    _, _, filtered = idx.search(xq[:5], k=K, nprobe=8, refine_factor=3, return_stats=True,
                                filter=np.arange(0, N, 2))
    assert filtered["refine_bytes"] >= (5 * K * row_bytes if row_bytes else 0)


def test_refined_distances_are_exact(built, data):
    xb, xq = data
    for metric in ("l2", "ip"):
        D, I = built(metric, 4, "fp32").search(xq[:20], k=5, nprobe=8)
        x = xb[I].astype(np.float64)
        q = xq[:20, None, :].astype(np.float64)
        true = ((x - q) ** 2).sum(-1) if metric == "l2" else (x * q).sum(-1)
        np.testing.assert_allclose(D, true, rtol=1e-4, atol=1e-3)


def test_sq8_refine_is_lossless_on_integer_data():
    """uint8-valued data (SIFT-like descriptors) gets the unit grid for its sq8 copy:
    refined distances are exact, and sq8 ranks exactly as fp32 does."""
    rng = np.random.default_rng(9)
    centres = rng.integers(20, 200, size=(16, 64))
    xb = np.clip(centres[rng.integers(0, 16, 6000)] + rng.normal(0, 25, (6000, 64)), 0, 250)
    xb = np.rint(xb).astype(np.uint8)  # some dimensions span fewer than 256 values
    xq = xb[:50].astype(np.float32) + 0.5
    res = {}
    for refine in ("sq8", "fp32"):
        idx = ws.IVFPQIndex(64, "l2", nlist=32, m=32, nbits=4, refine=refine)
        idx.train(xb)
        idx.add(xb)
        res[refine] = idx.search(xq, k=10, nprobe=8, refine_factor=8)
    D, I = res["sq8"]
    x = xb[I].astype(np.float64)
    true = ((x - xq[:, None, :].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_allclose(D, true, rtol=1e-5, atol=1e-2)
    np.testing.assert_array_equal(I, res["fp32"][1])
    np.testing.assert_allclose(D, res["fp32"][0], rtol=1e-5, atol=1e-2)


def test_pq_distances_match_reconstruction(built, data):
    # Without a refine store, an 8-bit index returns the exact distance to the PQ
    # reconstruction (centroid + decoded residual), which get_vectors returns.
    _, xq = data
    for metric in ("l2", "ip"):
        idx = built(metric, 8, "none")
        D, I = idx.search(xq[:20], k=5, nprobe=8)
        rec = idx.get_vectors(I.ravel()).reshape(20, 5, DIM).astype(np.float64)
        q = xq[:20, None, :].astype(np.float64)
        true = ((rec - q) ** 2).sum(-1) if metric == "l2" else (rec * q).sum(-1)
        np.testing.assert_allclose(D, true, rtol=1e-4, atol=1e-3)


def test_fast_scan_rescoring_uses_float_tables(built, data):
    # 4-bit without refine: candidates are re-scored with the float LUT, so the returned
    # distances are the exact PQ distances too.
    _, xq = data
    idx = built("l2", 4, "none")
    D, I = idx.search(xq[:20], k=5, nprobe=8)
    rec = idx.get_vectors(I.ravel()).reshape(20, 5, DIM).astype(np.float64)
    true = ((rec - xq[:20, None, :].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_allclose(D, true, rtol=1e-3, atol=1e-2)


def test_fast_scan_ranking_matches_pq_distances(built, data):
    # 4-bit L2 ranks candidates with uint8 tables built per (query, cell) from a cell part
    # and a query part (16-bit fixed point); over every cell, k or 2k candidates must
    # hold nearly all of the exact PQ top-k computed in NumPy (measured 0.88 / 0.9975;
    # the float tables give 0.885 / 0.999).
    xb, xq = data
    idx = built("l2", 4, "none")
    rec = idx.get_vectors(np.arange(len(xb))).astype(np.float64)
    q = xq[:50].astype(np.float64)
    d = (q**2).sum(1)[:, None] - 2 * q @ rec.T + (rec**2).sum(1)[None, :]
    ref = np.argsort(d, axis=1)[:, :K]
    assert recall_at_k(idx.search(xq[:50], k=K, nprobe=NLIST, refine_factor=1)[1], ref) >= 0.8
    assert recall_at_k(idx.search(xq[:50], k=K, nprobe=NLIST, refine_factor=2)[1], ref) >= 0.98


# -- product quantizer and fast scan against NumPy ---------------------------------
@needs_test_hooks
@pytest.mark.parametrize("nbits", [4, 8])
def test_pq_encode_and_lut(nbits):
    rng = np.random.default_rng(0)
    x = make_clustered(3000, 24, seed=3)
    pq = _core._ProductQuantizer(24, 6, nbits)
    pq.train(x, 1)
    cb = pq.codebook  # (m, ksub, dsub)
    assert cb.shape == (6, 2**nbits, 4)
    codes = pq.encode(x[:500])
    sub = x[:500].reshape(500, 6, 1, 4).astype(np.float64)
    d = ((sub - cb[None].astype(np.float64)) ** 2).sum(-1)  # (n, m, ksub)
    ref = d.argmin(-1)
    # equal codes, or an exact tie within float rounding
    chosen = np.take_along_axis(d, codes[..., None].astype(np.int64), -1)[..., 0]
    assert (codes == ref).mean() > 0.999
    np.testing.assert_allclose(chosen, d.min(-1), rtol=1e-5, atol=1e-5)
    q = rng.standard_normal(24).astype(np.float32)
    qs = q.reshape(6, 1, 4).astype(np.float64)
    np.testing.assert_allclose(pq.compute_lut(q, "l2"), ((qs - cb) ** 2).sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pq.compute_lut(q, "ip"), -(qs * cb).sum(-1), rtol=1e-5, atol=1e-5)


@needs_test_hooks
@pytest.mark.parametrize("m", [1, 3, 16, 64, 300])
def test_quantized_lut(m):
    rng = np.random.default_rng(m)
    lut = (rng.random((m, 16)) * 7 + rng.random((m, 1)) * 3).astype(np.float32)
    lut8, scale, bias = _core._quantize_lut(lut)
    assert lut8.shape == (-(-m // 4) * 4, 16) and lut8.dtype == np.uint8
    mins = lut.min(1, keepdims=True)
    ref = np.floor((lut - mins) * np.float32(scale) + 0.5)
    np.testing.assert_array_equal(lut8[:m], ref.astype(np.uint8))
    assert (lut8[m:] == 0).all()
    assert bias == pytest.approx(float(mins.sum()), rel=1e-5)
    assert lut8[:m].max() == min(127, 65535 // m)  # the widest row uses the full range
    assert int(lut8[:m].max(1).astype(np.int64).sum()) <= 65535  # sums fit in uint16


@needs_test_hooks
@pytest.mark.parametrize("level", ws.build_info()["simd_compiled"])
@pytest.mark.parametrize("n,m", [(1, 1), (31, 2), (77, 16), (200, 64), (65, 300)])
def test_fast_scan_kernel(level, n, m):
    if level not in ("generic", "avx2", "avx512", "avx512_vnni"):
        pytest.skip(f"no fast-scan kernel for {level}")
    rng = np.random.default_rng(n * 1000 + m)
    codes = rng.integers(0, 16, (n, m)).astype(np.uint8)
    packed = _core._pack_fastscan(codes)
    lut8, _, _ = _core._quantize_lut(rng.random((m, 16)).astype(np.float32))
    expected = lut8[np.arange(m)[None, :], codes].astype(np.int64).sum(1)
    with simd_level(level):
        got = _core._fastscan_distances(packed, n, m, lut8)
    np.testing.assert_array_equal(got, expected)


def _combine_lut16_reference(P, Q, m, cap, unit, rshift):
    """The fixed-point table combination, as documented: rows of P + Q shifted to 0, one
    scale (times 2^rshift[j] per row) keeping entries <= cap, rounded half up."""
    v = P.astype(np.int64) + Q.astype(np.int64)
    mn, mx = v.min(1), v.max(1)
    sh = np.zeros(m, np.int64) if rshift is None else rshift[:m].astype(np.int64)
    units = max(1, int(((mx - mn) << sh).max()))
    top = int(sh[-1])
    scf = np.floor(np.float32(cap) * np.float32(32768) / np.float32(units))
    sc_max = 32767 >> top
    sc = sc_max if scf >= sc_max else 1 if scf < 1 else int(scf)
    rows = (v - mn[:, None]) * (sc << sh)[:, None]
    out = np.zeros((-(-m // 4) * 4, 16), np.uint8)
    out[:m] = (rows + 16384) >> 15
    return out, sc * 2.0 ** top / (32768 * unit), float(mn.sum()) * unit


@needs_test_hooks
@pytest.mark.parametrize("level", ws.build_info()["simd_compiled"])
@pytest.mark.parametrize("m", [1, 5, 8, 13, 64, 100])
@pytest.mark.parametrize("shifted", [False, True])
def test_combine_lut16_kernel(level, m, shifted):
    # The per-(query, cell) table of 4-bit L2 search against a NumPy reference: exact
    # row ranges, the shared scale, per-row shifts, padding rows, on every ISA.
    if level not in ("generic", "avx2", "avx512", "avx512_vnni"):
        pytest.skip(f"no fast-scan kernel for {level}")
    rng = np.random.default_rng(m * 2 + shifted)
    P = rng.integers(0, 16384, (m, 16)).astype(np.int16)
    Q = rng.integers(0, 16384, (m, 16)).astype(np.int16)
    # Rows of very different widths, so that the widest one sets the scale.
    narrow = rng.random(m) < 0.5
    P[narrow] //= 40
    Q[narrow] //= 40
    m_pad = -(-m // 4) * 4
    rshift = None
    if shifted:  # non-decreasing, constant within groups of 8 rows
        groups = np.minimum(np.cumsum(rng.integers(0, 2, -(-m_pad // 8))), 8)
        rshift = np.repeat(groups, 8)[:m_pad].astype(np.uint8)
    ref, ref_scale, ref_bias = _combine_lut16_reference(P, Q, m, 127.0, 0.25, rshift)
    with simd_level(level):
        out, scale, bias = _core._combine_lut16(P, Q, 127.0, 0.25, rshift)
    np.testing.assert_array_equal(out, ref)
    assert out[:m].max() <= 127
    assert scale == pytest.approx(ref_scale, rel=1e-6)
    assert bias == pytest.approx(ref_bias, rel=1e-6)


@needs_test_hooks
def test_combine_lut16_rejects_bad_tables():
    P = np.zeros((4, 16), np.int16)
    with pytest.raises(ValueError, match=r"\[0, 16383\]"):
        _core._combine_lut16(P, np.full((4, 16), 20000, np.int16), 127.0, 1.0)
    with pytest.raises(ValueError, match="must both be"):
        _core._combine_lut16(P, np.zeros((3, 16), np.int16), 127.0, 1.0)
    with pytest.raises(ValueError, match="equal within groups"):
        _core._combine_lut16(P, P, 127.0, 1.0, np.array([3, 3, 3, 1], np.uint8))
    with pytest.raises(ValueError, match="m_pad entries"):
        _core._combine_lut16(P, P, 127.0, 1.0, np.zeros(3, np.uint8))


@pytest.mark.parametrize("level", ws.build_info()["simd_compiled"])
def test_search_same_on_every_isa(data, level):
    xb, xq = data
    idx = ws.IVFPQIndex(DIM, "l2", nlist=16, nbits=4, refine="fp16")
    idx.train(xb[:4000])
    idx.add(xb[:4000])
    ref = idx.search(xq[:30], k=5, nprobe=4)
    with simd_level(level):
        got = idx.search(xq[:30], k=5, nprobe=4)
    np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-5)



@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_batching_and_threads_do_not_change_results(built, metric):
    """Large query sets are split into equal batches per thread; every split gives the
    same rows as searching the queries in small chunks."""
    idx = built(metric, 4, "sq8")
    xq = make_queries(2_500, DIM, seed=11)
    ref_d, ref_i = zip(*(idx.search(xq[i : i + 97], k=K, nprobe=6, refine_factor=3) for i in range(0, len(xq), 97)))
    ref_d, ref_i = np.concatenate(ref_d), np.concatenate(ref_i)
    saved = ws.get_num_threads()
    try:
        for t in (1, 2, 3):
            ws.set_num_threads(t)
            D, I = idx.search(xq, k=K, nprobe=6, refine_factor=3)
            np.testing.assert_array_equal(I, ref_i)
            np.testing.assert_array_equal(D, ref_d)
            D, I = idx.search(xq[:0], k=K, nprobe=6, refine_factor=3)  # no batch at all
            assert D.shape == I.shape == (0, K)
    finally:
        ws.set_num_threads(saved)

# -- filters ------------------------------------------------------------------------
def test_filter_mask_and_ids(built, data):
    xb, xq = data
    idx = built("l2", 4, "fp32")
    rng = np.random.default_rng(1)
    mask = rng.random(N) < 0.5
    D, I = idx.search(xq, k=K, nprobe=8, filter=mask)
    assert mask[I[I >= 0]].all()
    assert idx.last_search_info["plan"] == "filtered_ivf"
    _, gt = exact_knn(xb, xq, K, "l2", allowed=np.flatnonzero(mask))
    assert recall_at_k(I, gt) >= 0.88
    allowed = np.flatnonzero(mask)
    D2, I2 = idx.search(xq, k=K, nprobe=8, filter=allowed)
    np.testing.assert_array_equal(I, I2)


def test_small_filter_is_exhaustive_and_exact(built, data):
    xb, xq = data
    idx = built("l2", 8, "fp32")
    allowed = np.random.default_rng(2).choice(N, 30, replace=False)
    D, I = idx.search(xq[:20], k=K, nprobe=2, filter=allowed)
    assert idx.last_search_info["plan"] == "brute_force"
    gD, gI = exact_knn(xb, xq[:20], K, "l2", allowed=allowed)
    np.testing.assert_array_equal(np.sort(I, 1), np.sort(gI, 1))
    np.testing.assert_allclose(D, gD, rtol=1e-4, atol=1e-3)
    # no refine store: exhaustive over PQ distances, still only allowed ids
    D, I = built("l2", 4, "none").search(xq[:20], k=50, filter=allowed)
    assert np.isin(I[I >= 0], allowed).all() and (I >= 0).sum(1).min() == 30
    # nothing allowed
    D, I = idx.search(xq[:2], k=3, filter=np.zeros(0, np.int64))
    assert (I == -1).all() and np.isinf(D).all()


# -- writes -------------------------------------------------------------------------
def test_remove_and_readd(data):
    xb, xq = data
    idx = ws.IVFPQIndex(DIM, "l2", nlist=16, nbits=4, refine="fp32")
    idx.train(xb[:5000])
    idx.add(xb[:5000])
    _, I = idx.search(xq[:50], k=5, nprobe=16)
    gone = np.unique(I[:, 0])
    assert idx.remove(gone) == gone.size
    assert idx.remove(gone) == 0 and len(idx) == 5000 - gone.size
    assert gone[0] not in idx and int(I[0, 1]) in idx
    _, I2 = idx.search(xq[:50], k=5, nprobe=16)
    assert not np.isin(I2, gone).any()
    # re-adding an id replaces it; a new vector under an existing id moves it
    idx.add(xb[gone], ids=gone)
    assert len(idx) == 5000
    _, I3 = idx.search(xq[:50], k=5, nprobe=16)
    assert recall_at_k(I3, I) >= 0.98
    idx.add(xq[:1], ids=[int(gone[0])])
    assert len(idx) == 5000
    np.testing.assert_allclose(idx.get_vectors([int(gone[0])])[0], xq[0], rtol=1e-6)
    assert idx.search(xq[0], k=1, nprobe=16)[1][0] == gone[0]


def test_ids_default_and_explicit(data):
    xb, _ = data
    idx = ws.IVFPQIndex(DIM, "l2", nlist=8, nbits=8, refine="fp32")
    idx.train(xb[:1000])
    idx.add(xb[:10], ids=np.arange(9, -1, -1) * 1000)
    idx.add(xb[10:20])  # default ids continue after the largest id
    assert sorted(idx.ids.tolist()) == sorted((np.arange(10) * 1000).tolist() + list(range(9001, 9011)))
    D, I = idx.search(xb[0], k=1, nprobe=8)
    assert I[0] == 9000 and D[0] == pytest.approx(0, abs=1e-3)


def test_empty_trained_index_and_k_larger_than_n(data):
    xb, xq = data
    idx = ws.IVFPQIndex(DIM, "ip", nlist=4, nbits=4)
    idx.train(xb[:500])
    D, I = idx.search(xq[:3], k=4)
    assert (I == -1).all() and (D == -np.inf).all()
    idx.add(xb[:5])
    D, I = idx.search(xq[:3], k=8, nprobe=4, refine_factor=1)
    assert ((I >= 0).sum(1) == 5).all() and (I[:, 5:] == -1).all()


# -- persistence --------------------------------------------------------------------
@pytest.mark.parametrize("nbits,refine,metric", [(8, "none", "l2"), (4, "sq8", "cosine"),
                                                 (4, "fp16", "ip")])
def test_save_load_round_trip(tmp_path, data, nbits, refine, metric):
    xb, xq = data
    idx = ws.IVFPQIndex(DIM, metric, nlist=32, nbits=nbits, refine=refine, seed=3)
    idx.train(xb[:6000])
    idx.add(xb[:6000])
    idx.remove(np.arange(0, 6000, 7))
    path = tmp_path / "ivf.wsi"
    idx.save(path)
    back = ws.load_index(path)
    assert isinstance(back, ws.IVFPQIndex) and back.is_trained
    assert (back.nlist, back.m, back.nbits, back.refine, back.metric, len(back)) == \
        (32, DIM // 2, nbits, refine, metric, len(idx))
    for kw in ({}, {"nprobe": 32, "refine_factor": 2}):
        a, b = idx.search(xq, k=K, **kw), back.search(xq, k=K, **kw)
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[0], b[0])
    back.add(xb[6000:6100])  # a loaded index keeps working
    assert len(back) == len(idx) + 100
    np.testing.assert_array_equal(np.sort(back.ids)[:5], np.sort(idx.ids)[:5])


def test_untrained_round_trip_and_corrupt_file(tmp_path):
    idx = ws.IVFPQIndex(8, nlist=4, nbits=4)
    idx.save(tmp_path / "u.wsi")
    back = ws.load_index(tmp_path / "u.wsi")
    assert not back.is_trained and len(back) == 0
    raw = (tmp_path / "u.wsi").read_bytes()
    (tmp_path / "short.wsi").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError):
        ws.load_index(tmp_path / "short.wsi")
    flipped = bytearray(raw)
    flipped[40] ^= 0xFF  # inside the header
    (tmp_path / "bad.wsi").write_bytes(bytes(flipped))
    with pytest.raises(ValueError):
        ws.load_index(tmp_path / "bad.wsi")


def test_corrupt_payload_is_detected(tmp_path, data):
    xb, _ = data
    idx = ws.IVFPQIndex(DIM, nlist=8, nbits=4, refine="fp16")
    idx.train(xb[:2000])
    idx.add(xb[:2000])
    idx.save(tmp_path / "a.wsi")
    raw = bytearray((tmp_path / "a.wsi").read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit inside the section data
    (tmp_path / "b.wsi").write_bytes(bytes(raw))
    with pytest.raises(ValueError):
        ws.load_index(tmp_path / "b.wsi")


# -- memory -------------------------------------------------------------------------
@pytest.mark.parametrize("nbits,refine,metric", [(8, "none", "l2"), (4, "none", "l2"),
                                                 (4, "fp32", "ip"), (8, "sq8", "cosine")])
def test_memory_estimate_matches(data, nbits, refine, metric):
    xb, _ = data
    idx = ws.IVFPQIndex(DIM, metric, nlist=64, nbits=nbits, refine=refine)
    idx.train(xb)
    idx.add(xb)
    est = ws.estimate_memory(N, DIM, index="ivf_pq", nlist=64, nbits=nbits, refine=refine,
                             metric=metric)
    assert est["bytes"] == pytest.approx(idx.memory_usage(), rel=0.2)
    assert est["bytes_per_vector"] == pytest.approx(est["bytes"] / N)
    _ = idx.ids[:3] in idx  # an id lookup builds the id map: counted by memory_usage
    assert 5 in idx
    est_map = ws.estimate_memory(N, DIM, index="ivf_pq", nlist=64, nbits=nbits, refine=refine,
                                 metric=metric, id_map=True)
    assert est_map["bytes"] == pytest.approx(idx.memory_usage(), rel=0.2)


def test_memory_estimate_other_indexes(data):
    xb, _ = data
    flat = ws.FlatIndex(DIM)
    flat.add(xb[:3000])
    assert ws.estimate_memory(3000, DIM, index="flat")["bytes"] == \
        pytest.approx(flat.memory_usage(), rel=0.2)
    hnsw = ws.HNSWIndex(DIM, M=12, ef_construction=40)
    hnsw.add(xb[:3000])
    assert ws.estimate_memory(3000, DIM, index="hnsw", M=12)["bytes"] == \
        pytest.approx(hnsw.memory_usage(), rel=0.2)
    hnsw4 = ws.HNSWIndex(DIM, M=12, ef_construction=40, sq_bits=4)
    hnsw4.add(xb[:3000])
    est4 = ws.estimate_memory(3000, DIM, index="hnsw", M=12, sq_bits=4)
    assert est4["bytes"] == pytest.approx(hnsw4.memory_usage(), rel=0.2)
    assert est4["parts"]["codes"] < ws.estimate_memory(3000, DIM, index="hnsw", M=12)["parts"]["codes"]
    with pytest.raises(ValueError, match="sq_bits"):
        ws.estimate_memory(10, 8, index="hnsw", sq_bits=2)
    big = ws.estimate_memory(10**9, 128, index="ivf_pq", nlist=65536, nbits=4)
    assert 35e9 < big["bytes"] < 45e9  # 32-byte codes + 8-byte ids per vector
    with pytest.raises(ValueError):
        ws.estimate_memory(10, 8, index="lsh")
    with pytest.raises(TypeError):
        ws.estimate_memory(10, 8, index="flat", M=3)


# -- info and errors ----------------------------------------------------------------
def test_last_search_info(built, data):
    _, xq = data
    idx = built("l2", 4, "fp32")
    idx.search(xq[:7], k=3, nprobe=5, probe="fixed")
    info = idx.last_search_info
    assert info["plan"] == "ivf" and info["nq"] == 7 and info["nprobe"] == 5
    assert info["probe"] == "fixed"
    assert info["lists_probed"] == 35 and info["distance_evals"] > 0
    assert info["device"] == auto_device()
    assert "IVFPQIndex(dim=32" in repr(idx)


def test_errors(data):
    xb, xq = data
    with pytest.raises(ValueError, match="nbits"):
        ws.IVFPQIndex(DIM, nbits=5)
    with pytest.raises(ValueError, match="divide"):
        ws.IVFPQIndex(DIM, m=5)
    with pytest.raises(ValueError):
        ws.IVFPQIndex(DIM, refine="fp8")
    with pytest.raises(ValueError):
        ws.IVFPQIndex(DIM, metric="hamming")
    with pytest.raises(ValueError):
        ws.IVFPQIndex(DIM, nlist=0)
    with pytest.raises(TypeError):
        ws.IVFPQIndex(DIM, nlist=8.0)
    idx = ws.IVFPQIndex(DIM, nlist=64, nbits=4)
    assert not idx.is_trained
    with pytest.raises(ValueError, match="train"):
        idx.add(xb[:10])
    with pytest.raises(ValueError, match="nlist"):
        idx.train(xb[:63])  # fewer points than nlist
    with pytest.raises(ValueError):
        idx.train(xb[:, :16])  # wrong dimension
    idx.train(xb[:2000])
    with pytest.raises(ValueError):
        idx.add(xb[:10, :16])
    with pytest.raises(ValueError):
        idx.search(xq[:, :8])
    with pytest.raises(ValueError):
        idx.search(xq, nprobe=0)
    with pytest.raises(ValueError):
        idx.search(xq, refine_factor=0)
    with pytest.raises(TypeError):
        idx.search(xq, k=1.5)
    idx.add(xb[:100])
    with pytest.raises(ValueError, match="empty"):
        idx.train(xb[:2000])  # retraining an index that holds vectors
    with pytest.raises(ValueError):
        idx.add(np.full((1, DIM), np.inf, np.float32))
    with pytest.raises(TypeError):
        idx.search(xq, filter=lambda i: True)


def test_fp16_refine_rejects_values_outside_half_range():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((600, 16)).astype(np.float32)
    idx = ws.IVFPQIndex(16, "l2", nlist=4, m=8, nbits=4, refine="fp16")
    idx.train(x)
    idx.add(x[:10])
    bad = x[10:12].copy()
    bad[1, 3] = 1e6
    with pytest.raises(ValueError, match="float16"):
        idx.add(bad, ids=[100, 101])
    assert len(idx) == 10 and 100 not in idx
