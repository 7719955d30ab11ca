# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The CUDA seam. CPU-parity tests for each kernel join this file as kernels land;
tests marked ``gpu`` run only where CUDA is compiled in and a device is present."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import warpsearch as ws
from warpsearch import _core


def test_device_seam_reports_devices():
    count = _core.cuda_device_count()
    assert isinstance(count, int) and count >= 0
    assert isinstance(_core.cuda_compiled(), bool)
    if not _core.cuda_compiled():
        assert count == 0, "a build without CUDA must report zero devices"
    # asking for a device that does not exist gives an empty name, not an error
    assert _core.cuda_device_name(count) == ""
    assert _core.cuda_device_name(-1) == ""
    info = ws.build_info()
    assert info["cuda_devices"] == count and info["cuda_compiled"] == _core.cuda_compiled()


@pytest.mark.parametrize("cls", [ws.FlatIndex, ws.HNSWIndex])
def test_device_requests(cls):
    x = np.eye(4, dtype=np.float32)
    if "device" not in inspect.signature(cls).parameters:
        # no device choice yet: a device request is rejected, never silently ignored
        with pytest.raises(TypeError, match="device"):
            cls(dim=4, device="cuda")
        idx = cls(dim=4)
        idx.add(x)
        idx.search(x, k=1)
        assert idx.last_search_info["device"] == "cpu"
        return
    # with a device parameter: an explicit "cuda" without a GPU is a clear error
    if ws.build_info()["cuda_devices"] == 0:
        with pytest.raises((ValueError, RuntimeError), match="(?i)cuda|gpu|device"):
            idx = cls(dim=4, device="cuda")
            idx.add(x)
            idx.search(x, k=1)
    idx = cls(dim=4, device="auto")
    idx.add(x)
    idx.search(x, k=1)
    expected = "cuda" if ws.build_info()["cuda_devices"] > 0 else "cpu"
    assert idx.last_search_info["device"].startswith(expected)


@pytest.mark.gpu
def test_device_names():
    count = _core.cuda_device_count()
    assert count > 0
    for d in range(count):
        name = _core.cuda_device_name(d)
        assert isinstance(name, str) and name


# -- exact search: GPU against the CPU engine and a float64 ground truth -----------
from conftest import METRICS, assert_exact, make_clustered  # noqa: E402

GPU_K = [1, 10, 100, 256, 1000, 2048]


def _data(kind: str, n: int, dim: int, seed: int):
    rng = np.random.default_rng(seed)
    if kind == "clustered":
        return make_clustered(n, dim, seed=seed), make_clustered(23, dim, seed=seed + 1)
    return (rng.standard_normal((n, dim)).astype(np.float32),
            rng.standard_normal((23, dim)).astype(np.float32))


def _pair(xb, metric, ids=None):
    """The same vectors in a CPU index and a GPU index."""
    cpu = ws.FlatIndex(dim=xb.shape[1], metric=metric, device="cpu")
    gpu = ws.FlatIndex(dim=xb.shape[1], metric=metric, device="cuda")
    for idx in (cpu, gpu):
        if len(xb):
            idx.add(xb, ids)
    return cpu, gpu


def _same_up_to_ties(Dg, Ig, Dc, Ic, metric):
    np.testing.assert_allclose(Dg, Dc, rtol=1e-4, atol=1e-3)
    # ids may differ only where distances tie (within float32 rounding)
    differ = Ig != Ic
    if differ.any():
        np.testing.assert_allclose(Dg[differ], Dc[differ], rtol=1e-4, atol=1e-3)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["random", "clustered"])
@pytest.mark.parametrize("k", GPU_K)
def test_flat_gpu_matches_cpu(kind, k):
    xb, xq = _data(kind, 4096, 33, seed=k)
    for metric in METRICS:
        cpu, gpu = _pair(xb, metric)
        Dc, Ic = cpu.search(xq, k=k)
        Dg, Ig = gpu.search(xq, k=k)
        assert gpu.last_search_info["device"] == "cuda:0"
        assert Dg.dtype == np.float32 and Ig.dtype == np.int64 and Dg.shape == (len(xq), k)
        _same_up_to_ties(Dg, Ig, Dc, Ic, metric)
        assert_exact(Dg, Ig, xb, xq, k, metric)


@pytest.mark.gpu
@pytest.mark.parametrize("dim", [1, 3, 17, 129, 300])
@pytest.mark.parametrize("metric", METRICS)
def test_flat_gpu_odd_dims(dim, metric):
    xb, xq = _data("random", 1500, dim, seed=dim)
    ids = np.arange(len(xb), dtype=np.int64) * 5 + 1000  # sparse ids, not the row numbers
    cpu, gpu = _pair(xb, metric, ids)
    for k in (7, 300):
        Dg, Ig = gpu.search(xq, k=k)
        assert_exact(Dg, Ig, xb, xq, k, metric, ids=ids)
        _same_up_to_ties(Dg, Ig, *cpu.search(xq, k=k), metric)


@pytest.mark.gpu
@pytest.mark.parametrize("k", [10, 256, 700])
def test_flat_gpu_filters(k):
    xb, xq = _data("clustered", 5000, 24, seed=3)
    ids = np.arange(len(xb), dtype=np.int64) + 100
    for metric in METRICS:
        cpu, gpu = _pair(xb, metric, ids)
        rng = np.random.default_rng(k)
        for allowed in (ids[rng.random(len(ids)) < 0.3], ids[:5], np.array([], np.int64)):
            Dg, Ig = gpu.search(xq, k=k, filter=allowed)
            assert_exact(Dg, Ig, xb, xq, k, metric, ids=ids, allowed=allowed)
            _same_up_to_ties(Dg, Ig, *cpu.search(xq, k=k, filter=allowed), metric)
            mask = np.zeros(ids.max() + 1, dtype=bool)
            mask[allowed] = True
            Dm, Im = gpu.search(xq, k=k, filter=mask)
            _same_up_to_ties(Dm, Im, Dg, Ig, metric)
            assert gpu.last_search_info["allowed"] == len(allowed)


@pytest.mark.gpu
@pytest.mark.parametrize("metric", METRICS)
def test_flat_gpu_edge_cases(metric):
    pad = np.inf if metric == "l2" else -np.inf
    empty = ws.FlatIndex(dim=5, metric=metric, device="cuda")
    D, I = empty.search(np.ones((3, 5), np.float32), k=4)
    assert (I == -1).all() and (D == pad).all()
    xb, xq = _data("random", 50, 5, seed=1)
    _, gpu = _pair(xb, metric)
    D, I = gpu.search(xq[:0], k=3)
    assert D.shape == I.shape == (0, 3)
    D, I = gpu.search(xq[0], k=60)  # one 1-D query, k > n: padded
    assert D.shape == (60,) and (I[50:] == -1).all() and (D[50:] == pad).all()
    assert_exact(D[None], I[None], xb, xq[:1], 60, metric)


@pytest.mark.gpu
def test_flat_gpu_follows_writes_and_devices(tmp_path):
    xb, xq = _data("random", 2000, 16, seed=9)
    idx = ws.FlatIndex(dim=16, metric="l2", device="cpu")
    idx.add(xb)
    assert idx.to("cuda:0") is idx and idx.device == "cuda:0"
    D0, I0 = idx.search(xq, k=5)
    idx.add(xq[:3] + 0, ids=[10_000, 10_001, 10_002])  # the device copy is refreshed
    D1, I1 = idx.search(xq[:3], k=1)
    assert I1[:, 0].tolist() == [10_000, 10_001, 10_002]
    idx.remove([10_000, 10_001, 10_002])
    D2, I2 = idx.search(xq, k=5)
    _same_up_to_ties(D2, I2, D0, I0, "l2")
    Dc, Ic = idx.search(xq, k=5, device="cpu")
    assert idx.last_search_info["device"] == "cpu"
    _same_up_to_ties(D2, I2, Dc, Ic, "l2")
    # the file does not depend on the device that searched
    idx.save(tmp_path / "a.ws")
    idx.to("cpu").save(tmp_path / "b.ws")
    assert (tmp_path / "a.ws").read_bytes() == (tmp_path / "b.ws").read_bytes()
    back = ws.load_index(tmp_path / "a.ws").to("cuda")
    _same_up_to_ties(*back.search(xq, k=5), D2, I2, "l2")


@pytest.mark.gpu
def test_gpu_limits_and_auto_fallback():
    xb, xq = _data("random", 3000, 8, seed=2)
    auto = ws.FlatIndex(dim=8, device="auto")
    auto.add(xb)
    auto.search(xq, k=ws._core.gpu_max_k + 1)
    assert auto.last_search_info["device"] == "cpu"  # beyond the GPU's k: CPU
    explicit = ws.FlatIndex(dim=8, device="cuda")
    explicit.add(xb)
    with pytest.raises(ValueError, match="GPU"):
        explicit.search(xq, k=ws._core.gpu_max_k + 1)


def _device_libs():
    libs = []
    try:
        import cupy  # noqa: F401
        libs.append("cupy")
    except ImportError:
        pass
    try:
        import torch
        if torch.cuda.is_available():
            libs.append("torch")
    except ImportError:
        pass
    return libs


@pytest.mark.gpu
@pytest.mark.parametrize("lib", ["cupy", "torch"])
def test_device_arrays_stay_on_device(lib):
    if lib not in _device_libs():
        pytest.skip(f"{lib} with CUDA is not installed")
    mod = __import__(lib)
    xb, xq = _data("clustered", 3000, 32, seed=4)
    flat = ws.FlatIndex(dim=32, metric="cosine", device="cuda")
    flat.add(xb)
    hnsw = ws.HNSWIndex(dim=32, metric="l2", device="cuda")
    hnsw.add(xb)
    ivf = ws.IVFPQIndex(dim=32, metric="ip", nlist=32, m=16, refine="sq8", opq=True, device="cuda")
    ivf.train(xb)
    ivf.add(xb)
    for idx, kw in ((flat, {}), (hnsw, {"ef": 64}), (ivf, {"nprobe": 8})):
        Dh, Ih = idx.search(xq, k=10, **kw)
        qd = mod.asarray(xq) if lib == "cupy" else mod.as_tensor(xq, device="cuda")
        Dd, Id = idx.search(qd, k=10, **kw)
        assert type(Dd) is type(qd) and type(Id) is type(qd)
        to_np = (lambda a: a.get()) if lib == "cupy" else (lambda a: a.cpu().numpy())
        _same_up_to_ties(to_np(Dd), to_np(Id), Dh, Ih, idx.metric)
        assert idx.last_search_info["device"] == "cuda:0"
        # float64 and 1-D device queries are converted on the device
        q64 = mod.asarray(xq[0].astype(np.float64)) if lib == "cupy" else \
            mod.as_tensor(xq[0].astype(np.float64), device="cuda")
        D1, I1 = idx.search(q64, k=10, **kw)
        assert to_np(I1).shape == (10,)
        with pytest.raises(ValueError, match="dimension"):
            idx.search(qd[:, :5], k=3, **kw)
    # IVF-PQ: device queries run the same device pipeline as host ones (same answers),
    # filters included
    mask = np.arange(len(xb)) % 3 == 0
    qd = mod.asarray(xq) if lib == "cupy" else mod.as_tensor(xq, device="cuda")
    Dh, Ih = ivf.search(xq, k=10, nprobe=8, filter=mask)
    Dd, Id = ivf.search(qd, k=10, nprobe=8, filter=mask)
    np.testing.assert_array_equal(to_np(Id), Ih)
    np.testing.assert_array_equal(to_np(Dd), Dh)
    assert mask[Ih[Ih >= 0]].all()


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_device_pointers_small(kind, emulator_memory):
    """The device-pointer entry point of exact and graph search on the emulator's device
    memory: the answers of host queries."""
    mem = emulator_memory
    xb, xq = _data("clustered", 400, 12, seed=6)
    xq = xq[:6]
    if kind == "flat":
        idx, kw = ws.FlatIndex(dim=12, metric="cosine", device="cuda"), {}
    else:
        idx, kw = ws.HNSWIndex(dim=12, metric="l2", device="cuda"), {"ef": 32}
    idx.add(xb)
    Dh, Ih = idx.search(xq, k=4, **kw)
    nq, k = len(xq), 4
    qp, dp, ip = mem.upload(xq.astype(np.float32)), mem.empty(nq * k * 4), mem.empty(nq * k * 8)
    _core.search_gpu_ptr(idx._impl, idx._device_data("cuda:0"), qp, nq, k, kw.get("ef", 64),
                         None, None, dp, ip)
    np.testing.assert_array_equal(mem.download(ip, (nq, k), np.int64), Ih)
    np.testing.assert_array_equal(mem.download(dp, (nq, k), np.float32), Dh)


def _stale_ready(kind):
    """An index whose device copy exists and then misses a write (as when another
    thread adds between the copy's upload and a search)."""
    rng = np.random.default_rng(5)
    xb = rng.standard_normal((3000, 16)).astype(np.float32)
    if kind == "flat":
        idx = ws.FlatIndex(dim=16, device="cuda")
    elif kind == "hnsw":
        idx = ws.HNSWIndex(dim=16, device="cuda")
    else:
        idx = ws.IVFPQIndex(dim=16, nlist=16, m=8, refine="fp32", device="cuda")
        idx.train(xb)
    idx.add(xb)
    idx.search(xb[:2], k=1)  # the device copy is made
    extra = rng.standard_normal((3, 16)).astype(np.float32) + 50.0
    return idx, extra


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_stale_device_copy_is_replaced(kind):
    idx, extra = _stale_ready(kind)
    idx._impl.add(extra, np.array([7000, 7001, 7002], np.int64))  # behind the wrapper's back
    _, I = idx.search(extra, k=1)  # refused as out of date, copied again, searched
    assert I[:, 0].tolist() == [7000, 7001, 7002]
    assert idx.last_search_info["device"] == "cuda:0"


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_device_copy_that_stays_stale(kind, monkeypatch):
    idx, extra = _stale_ready(kind)
    stale = idx._gpu
    idx._impl.add(extra, np.array([7000, 7001, 7002], np.int64))
    monkeypatch.setattr(idx, "_device_data", lambda dev: stale)  # writes never stop
    with pytest.raises(RuntimeError, match="kept changing"):
        idx.search(extra, k=1, device="cuda")
    _, I = idx.search(extra, k=1, device="auto")  # auto answers from the CPU
    assert idx.last_search_info["device"] == "cpu"
    assert I[:, 0].tolist() == [7000, 7001, 7002]


@pytest.mark.gpu
def test_binary_storage_without_refine_stays_on_the_cpu():
    # ranked by the CPU's estimate; the GPU would score decoded vectors (other answers)
    x = np.random.default_rng(6).standard_normal((500, 32)).astype(np.float32)
    idx = ws.FlatIndex(dim=32, storage="binary", refine="none", device="auto")
    idx.add(x)
    idx.search(x[:4], k=5)
    assert idx.last_search_info["device"] == "cpu"
    with pytest.raises(ValueError, match="binary"):
        idx.search(x[:4], k=5, device="cuda")
    refined = ws.FlatIndex(dim=32, storage="binary", device="cuda")  # refine fp32: exact
    refined.add(x)
    _, I = refined.search(x[:4], k=1)
    assert refined.last_search_info["device"] == "cuda:0" and I[:, 0].tolist() == [0, 1, 2, 3]
