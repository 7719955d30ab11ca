# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""GPU IVF-PQ search against the CPU on the same trained index: 8-bit and 4-bit codes,
every refine mode, nprobe variants, fp16 tables, filters (both plans), empty cells,
large k, odd dimensions, persistence and device moves. Tests named ``small`` use tiny
sizes so that the CPU emulator of the CUDA sources can run them."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import METRICS, exact_knn, make_clustered, make_queries, recall_at_k, scores

pytestmark = pytest.mark.gpu

_cache: dict = {}


def _index(n, dim, nq, metric="l2", nbits=8, refine="none", nlist=32, m=None, seed=3):
    key = (n, dim, nq, metric, nbits, refine, nlist, m, seed)
    if key not in _cache:
        xb = make_clustered(n, dim, seed=seed)
        xq = make_queries(nq, dim, seed=seed)
        idx = ws.IVFPQIndex(dim=dim, metric=metric, nlist=nlist, m=m, nbits=nbits, refine=refine,
                            device="cpu")
        idx.train(xb)
        idx.add(xb)
        _cache[key] = (idx, xb, xq)
    return _cache[key]


def _both(idx, xq, **kw):
    Dc, Ic = idx.search(xq, device="cpu", **kw)
    assert idx.last_search_info["device"] == "cpu"
    Dg, Ig = idx.search(xq, device="cuda", **kw)
    assert idx.last_search_info["device"] == "cuda:0"
    return Dc, Ic, Dg, Ig


def _distances_follow_ids(D, I, xb, xq, metric, rtol=1e-3, atol=1e-2):
    """Refined results: D are the exact distances of I (ids = rows of xb), ordered."""
    s = scores(xb, xq, metric)
    valid = I >= 0
    got = np.take_along_axis(s, np.where(valid, I, 0), axis=1)
    np.testing.assert_allclose(D[valid], got[valid], rtol=rtol, atol=atol)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("nbits", [8, 4])
@pytest.mark.parametrize("refine", ["none", "sq8", "fp16", "fp32"])
@pytest.mark.parametrize("nprobe", [1, 8, 32])
def test_ivf_pq_gpu_matches_cpu(metric, nbits, refine, nprobe):
    idx, xb, xq = _index(20_000, 32, 200, metric, nbits, refine, nlist=64)
    k = 10
    _, gt = exact_knn(xb, xq, k, metric)
    Dc, Ic, Dg, Ig = _both(idx, xq, k=k, nprobe=nprobe)
    rc, rg = recall_at_k(Ic, gt), recall_at_k(Ig, gt)
    # 4-bit codes without refine: the GPU scores every code from float tables (the CPU
    # from uint8 tables, then re-ranks k * refine_factor), so it may only do better.
    assert rg >= rc - 0.01, (rc, rg)
    if refine != "none" or nbits == 8:
        assert abs(rg - rc) <= 0.01, (rc, rg)
    if refine == "fp32":
        _distances_follow_ids(Dg, Ig, xb, xq, metric)
    if refine == "none" and nbits == 8:  # same codes, same tables: same distances
        same = Ic == Ig
        np.testing.assert_allclose(Dg[same], Dc[same], rtol=1e-4, atol=1e-3)
        assert same.mean() >= 0.97


@pytest.mark.parametrize("nbits", [8, 4])
def test_ivf_pq_gpu_fp16_tables(nbits):
    idx, xb, xq = _index(20_000, 64, 200, "l2", nbits, "fp32", nlist=64, m=32)
    _, gt = exact_knn(xb, xq, 10, "l2")
    Dc, Ic, Dg, Ig = _both(idx, xq, k=10, nprobe=16)
    _, Ih = idx.search(xq, k=10, nprobe=16, device="cuda", lut="fp16")
    assert idx.last_search_info["lut"] == "fp16"
    assert recall_at_k(Ih, gt) >= recall_at_k(Ig, gt) - 0.01


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("refine", ["none", "fp32"])
@pytest.mark.parametrize("frac", [0.5, 0.01])
def test_ivf_pq_gpu_filters(metric, refine, frac):
    idx, xb, xq = _index(20_000, 32, 100, metric, 8, refine, nlist=64)
    rng = np.random.default_rng(1)
    mask = rng.random(len(xb)) < frac
    allowed = np.flatnonzero(mask)
    Dc, Ic, Dg, Ig = _both(idx, xq, k=10, nprobe=8, filter=mask)
    plan_gpu = idx.last_search_info["plan"]
    idx.search(xq, k=10, nprobe=8, filter=mask, device="cpu")
    assert plan_gpu == idx.last_search_info["plan"]
    got = Ig[Ig >= 0]
    assert np.isin(got, allowed).all()
    _, gt = exact_knn(xb, xq, 10, metric, allowed=allowed)
    # the CPU may widen probing past the plan (a distance bound): never worse than the GPU
    assert recall_at_k(Ic, gt) >= recall_at_k(Ig, gt) - 0.01
    # an id-list filter gives the same answer as the mask
    _, Ii = idx.search(xq, k=10, nprobe=8, filter=allowed, device="cuda")
    assert (Ii == Ig).mean() >= 0.99


def test_ivf_pq_gpu_empty_cells_small():
    xb = make_clustered(2_000, 16, seed=4)
    idx = ws.IVFPQIndex(dim=16, nlist=32, m=8, nbits=8, device="cpu")
    idx.train(xb)
    idx.add(xb[:40])  # most cells stay empty
    assert (idx.list_sizes() == 0).sum() > 0
    xq = make_queries(20, 16, seed=4)
    for k in (5, 64):  # k past the stored vectors: padded rows
        Dc, Ic, Dg, Ig = _both(idx, xq, k=k, nprobe=4)
        assert ((Ig >= 0) == (Ic >= 0)).mean() >= 0.95
        assert (Dg[Ig < 0] == np.inf).all()
    empty = ws.IVFPQIndex(dim=16, nlist=8, m=8, device="cpu")
    empty.train(xb)
    D, I = empty.search(xq, k=3, device="cuda")
    assert (I == -1).all() and (D == np.inf).all()


@pytest.mark.parametrize("nbits", [8, 4])
def test_ivf_pq_gpu_small(nbits):
    idx, xb, xq = _index(600, 8, 8, "l2", nbits, "none", nlist=8, m=4)
    Dc, Ic, Dg, Ig = _both(idx, xq, k=5, nprobe=3)
    _, gt = exact_knn(xb, xq, 5, "l2")
    assert recall_at_k(Ig, gt) >= recall_at_k(Ic, gt) - 0.05
    if nbits == 8:
        assert (Ic == Ig).mean() >= 0.9


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_ivf_pq_gpu_refine_small(metric):
    idx, xb, xq = _index(600, 8, 8, metric, 8, "fp32", nlist=8, m=4)
    Dc, Ic, Dg, Ig = _both(idx, xq, k=5, nprobe=8)
    assert (Ic == Ig).mean() >= 0.9
    _distances_follow_ids(Dg, Ig, xb, xq, metric)


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_ivf_pq_gpu_adaptive_probe_small(metric):
    # Adaptive probing drops the same cells on both devices: equal cell counts per
    # query, and (8-bit codes, exact tables on both) the same results.
    xb = make_clustered(1500, 8, n_clusters=40, seed=9, spread=0.6)
    xq = make_queries(12, 8, n_clusters=40, seed=9, spread=0.6)
    idx = ws.IVFPQIndex(dim=8, metric=metric, nlist=16, m=4, nbits=8, device="cpu")
    idx.train(xb)
    idx.add(xb)
    assert len(idx.probe_gaps()) > 0
    for nprobe in (2, 5):
        Dc, Ic, Dg, Ig = _both(idx, xq, k=5, nprobe=nprobe)
        assert (Ic == Ig).mean() >= 0.9
        for i in range(len(xq)):
            counts = []
            for dev in ("cpu", "cuda"):
                idx.search(xq[i], k=5, nprobe=nprobe, device=dev)
                assert idx.last_search_info["probe"] == "adaptive"
                counts.append(idx.last_search_info["lists_probed"])
            assert counts[0] == counts[1]
    _, I1 = idx.search(xq, k=5, nprobe=5, device="cuda", probe="fixed")
    assert idx.last_search_info["lists_probed"] == 5 * len(xq)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("refine", ["sq8", "fp16"])
def test_ivf_pq_gpu_refine_stores_small(metric, refine):
    # The device decodes sq8 and fp16 records as the CPU does: with every vector
    # re-ranked on both (600 candidates: the workspace path), same ids and distances.
    idx, xb, xq = _index(600, 8, 8, metric, 4, refine, nlist=8, m=4)
    Dc, Ic, Dg, Ig = _both(idx, xq, k=5, nprobe=8, refine_factor=120)
    assert (Ic == Ig).mean() >= 0.95
    same = Ic == Ig
    np.testing.assert_allclose(Dg[same], Dc[same], rtol=1e-4, atol=1e-4)
    _distances_follow_ids(Dg, Ig, xb, xq, metric, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("refine", ["none", "fp32"])
def test_ivf_pq_gpu_counters_small(refine):
    # Every cell probed: every code is scored, and the refine store re-ranks kc of them.
    idx, xb, xq = _index(600, 8, 8, "l2", 8, refine, nlist=8, m=4)
    idx.search(xq, k=5, nprobe=8, refine_factor=3, device="cuda", probe="fixed")
    info = idx.last_search_info
    reranked = len(xq) * 15 if refine == "fp32" else 0
    assert info["distance_evals"] == len(xq) * len(xb) + reranked
    assert info["lists_probed"] == len(xq) * int((idx.list_sizes() > 0).sum())


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("refine", ["none", "sq8"])
def test_ivf_pq_gpu_device_pointers_small(metric, refine, emulator_memory):
    """The entry point of device-array queries, on the emulator's device memory: the same
    answers as host queries, written where the caller's device pointers say."""
    mem = emulator_memory
    idx, xb, xq = _index(600, 8, 8, metric, 8, refine, nlist=8, m=4)
    k, nprobe = 5, 4
    mask = np.arange(len(xb)) % 2 == 0
    Dh, Ih = idx.search(xq, k=k, nprobe=nprobe, filter=mask, device="cuda")
    data = idx._device_data("cuda:0")
    q = np.ascontiguousarray(xq, dtype=np.float32)
    nq = len(q)
    qp, dp, ip = mem.upload(q), mem.empty(nq * k * 4), mem.empty(nq * k * 8)
    stats = ws._core.search_gpu_ivf_ptr(idx._impl, data, qp, nq, k, nprobe, 4, None, mask,
                                        "fp32", True, dp, ip)
    D, I = mem.download(dp, (nq, k), np.float32), mem.download(ip, (nq, k), np.int64)
    np.testing.assert_array_equal(I, Ih)
    np.testing.assert_array_equal(D, Dh)
    assert mask[I[I >= 0]].all()
    assert stats["lists_probed"] == idx.last_search_info["lists_probed"]
    # host memory where device memory is due is refused
    with pytest.raises(ValueError, match="not device memory"):
        ws._core.search_gpu_ivf_ptr(idx._impl, data, q.ctypes.data, nq, k, nprobe, 4, None,
                                    mask, "fp32", True, dp, ip)


def test_ivf_pq_gpu_no_queries_small():
    idx, xb, xq = _index(600, 8, 8, "cosine", 8, "fp16", nlist=8, m=4)
    D, I = idx.search(np.empty((0, 8), np.float32), k=4, device="cuda")
    assert D.shape == (0, 4) and I.shape == (0, 4)
    D1, I1 = idx.search(xq[0], k=4, device="cuda")  # one 1-D query
    D2, I2 = idx.search(xq[:1], k=4, device="cuda")
    np.testing.assert_array_equal(I1, I2[0])


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("nbits", [8, 4])
def test_ivf_pq_gpu_opq_small(metric, nbits):
    # With OPQ the device works in the rotated space (rotated centroids and queries):
    # 8-bit PQ distances are those of the CPU, and the refine store re-ranks the same
    # candidates with the original queries.
    xb = make_clustered(600, 8, seed=5)
    xq = make_queries(8, 8, seed=5)
    for refine in ("none", "fp32"):
        idx = ws.IVFPQIndex(dim=8, metric=metric, nlist=8, m=4, nbits=nbits, refine=refine,
                            opq=True, device="cpu")
        idx.train(xb)
        idx.add(xb)
        assert idx.rotation() is not None
        Dc, Ic, Dg, Ig = _both(idx, xq, k=5, nprobe=8)
        if nbits == 8 or refine != "none":
            assert (Ic == Ig).mean() >= 0.9
            np.testing.assert_allclose(Dg, Dc, rtol=1e-3, atol=1e-3)
        _, gt = exact_knn(xb, xq, 5, metric)
        assert recall_at_k(Ig, gt) >= recall_at_k(Ic, gt) - 0.05
        if refine == "fp32":
            _distances_follow_ids(Dg, Ig, xb, xq, metric)


@pytest.mark.parametrize("k", [256, 257, 2048])
def test_ivf_pq_gpu_large_k(k):
    idx, xb, xq = _index(20_000, 32, 20, "l2", 8, "none", nlist=64)
    Dc, Ic, Dg, Ig = _both(idx, xq, k=k, nprobe=16)
    # a query whose probed cells hold fewer than k codes gets padding (-1, +inf) at the end
    found = Ig >= 0
    assert (found == np.isfinite(Dg)).all()
    assert (found[:, :-1] >= found[:, 1:]).all()
    steps = np.diff(np.where(found, Dg, 0.0), axis=1)
    assert (steps[found[:, 1:]] >= -1e-4).all()
    overlap = np.mean([len(np.intersect1d(a[a >= 0], b[b >= 0])) / max(1, (a >= 0).sum())
                       for a, b in zip(Ic, Ig)])
    assert overlap >= 0.98


@pytest.mark.parametrize("dim,m", [(15, 15), (9, 3), (33, 11)])
@pytest.mark.parametrize("nbits", [8, 4])
def test_ivf_pq_gpu_odd_dims(dim, m, nbits):
    idx, xb, xq = _index(5_000, dim, 50, "l2", nbits, "fp32", nlist=32, m=m)
    _, gt = exact_knn(xb, xq, 10, "l2")
    Dc, Ic, Dg, Ig = _both(idx, xq, k=10, nprobe=8)
    # the CPU may widen probing past the plan (a distance bound): never worse than the GPU
    assert recall_at_k(Ic, gt) >= recall_at_k(Ig, gt) - 0.01


def test_ivf_pq_gpu_save_load_and_moves(tmp_path):
    xb, xq = make_clustered(5_000, 32, seed=2), make_queries(50, 32, seed=2)
    idx = ws.IVFPQIndex(dim=32, nlist=32, nbits=4, refine="sq8", device="cuda")
    assert idx.device == "cuda:0"
    idx.train(xb)
    idx.add(xb)
    D1, I1 = idx.search(xq, k=10)
    assert idx.last_search_info["device"] == "cuda:0"
    idx.save(tmp_path / "a.ws")
    idx.to("cpu")
    idx.save(tmp_path / "b.ws")
    assert (tmp_path / "a.ws").read_bytes() == (tmp_path / "b.ws").read_bytes()
    back = ws.load_index(tmp_path / "a.ws")
    D2, I2 = back.search(xq, k=10, device="cuda")
    np.testing.assert_array_equal(I1, I2)
    # writes after the move are searched on the device too (the copy is refreshed)
    back.to("cuda")
    back.add(xb[:10] + 100.0, ids=np.arange(10) + 10**6)
    _, I3 = back.search(xb[:1] + 100.0, k=1)
    assert I3[0] == 10**6


def test_ivf_pq_gpu_limits():
    idx, xb, xq = _index(600, 8, 8, "l2", 8, "none", nlist=8, m=4)
    with pytest.raises(ValueError, match="GPU"):
        idx.search(xq, k=2049, device="cuda")
    D, I = idx.search(xq, k=2049, device="auto")  # falls back to the CPU
    assert idx.last_search_info["device"] == "cpu" and I.shape == (8, 2049)
    with pytest.raises(ValueError, match="lut"):
        idx.search(xq, k=1, device="cuda", lut="int8")


@pytest.mark.parametrize("nbits", [8, 4])
def test_ivf_pq_gpu_workspace_path_small(nbits):
    """More than 256 candidates: the distances go through the workspace and select-k."""
    idx, xb, xq = _index(600, 8, 8, "ip", nbits, "none", nlist=8, m=4)
    Dc, Ic, Dg, Ig = _both(idx, xq, k=300, nprobe=4)  # rows may be padded (id -1)
    hits = sum(len(np.intersect1d(a[a >= 0], b[b >= 0])) for a, b in zip(Ic, Ig))
    assert hits >= (0.95 if nbits == 8 else 0.8) * (Ic >= 0).sum()
    for d, i in zip(Dg, Ig):
        assert (np.diff(d[i >= 0]) <= 1e-4).all()  # similarities, descending
        assert (d[i < 0] == -np.inf).all()
    idx2, xb2, xq2 = _index(600, 8, 8, "l2", 8, "fp32", nlist=8, m=4)
    mask = np.zeros(len(xb2), bool)
    mask[::7] = True
    Dc, Ic, Dg, Ig = _both(idx2, xq2, k=5, nprobe=2, refine_factor=80, filter=mask)
    assert mask[Ig[Ig >= 0]].all()
    # The CPU widens a filtered search's probing by a per-cell distance bound (or scans
    # the allowed set exactly); the GPU probes the planned cells only. So each is checked
    # against the exact filtered answer, and the CPU is never the worse one.
    _, gt = exact_knn(xb2, xq2, 5, "l2", allowed=np.flatnonzero(mask))
    assert recall_at_k(Ig, gt) >= 0.9 and recall_at_k(Ic, gt) >= recall_at_k(Ig, gt)
