# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Sharded and replicated indexes with their parts on GPUs: host queries (exact answers,
recall against one index, replicas equal to one), the memory plan from the devices'
free memory, and device queries (CuPy, PyTorch) whose results stay on the device,
merged there. Parts are spread over every GPU present (two parts share a GPU when there
is one). Tests named ``small`` use tiny sizes so that the CPU emulator of the CUDA
sources can run them."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from warpsearch import _core
from warpsearch.index import _multi_device as md

from conftest import assert_exact, exact_knn, make_clustered, make_queries, recall_at_k

pytestmark = pytest.mark.gpu


def _gpus(parts: int) -> list:
    n = _core.cuda_device_count()
    return [f"cuda:{i % n}" for i in range(parts)]


def _libs():
    out = []
    try:
        import cupy  # noqa: F401
        out.append("cupy")
    except ImportError:
        pass
    try:
        import torch
        if torch.cuda.is_available():
            out.append("torch")
    except ImportError:
        pass
    return out


def _lib(name):
    if name not in _libs():
        pytest.skip(f"{name} with CUDA is not installed")
    mod = __import__(name)
    to_dev = (lambda a, dev=0: mod.asarray(a)) if name == "cupy" else \
        (lambda a, dev=0: mod.as_tensor(a, device=f"cuda:{dev}"))
    to_np = (lambda a: a.get()) if name == "cupy" else (lambda a: a.cpu().numpy())
    return mod, to_dev, to_np


def test_sharded_host_queries_small():
    xb, xq = make_clustered(400, 12, seed=6), make_queries(6, 12, seed=6)
    sh = ws.shard_index("flat", devices=_gpus(2), dim=12, metric="l2")
    sh.add(xb)
    D, I, st = sh.search(xq, k=5, return_stats=True)
    assert_exact(D, I, xb, xq, 5, "l2")
    assert sorted(set(np.atleast_1d(st["device"]))) == sorted(set(_gpus(2)))
    mask = np.arange(400) % 4 == 0
    D, I = sh.search(xq, k=5, filter=mask)
    assert_exact(D, I, xb[mask], xq, 5, "l2", ids=np.flatnonzero(mask))
    rep = ws.shard_index("flat", devices=_gpus(2), mode="replicate", dim=12, metric="ip")
    rep.add(xb)
    D, I = rep.search(xq, k=5)
    D1, I1 = rep.indexes[0].search(xq, k=5)
    np.testing.assert_array_equal(I, I1)
    np.testing.assert_array_equal(D, D1)


def test_sharded_ivf_pq_recall_small():
    xb, xq = make_clustered(600, 16, seed=8), make_queries(8, 16, seed=8)
    gt = exact_knn(xb, xq, 5, "l2")[1]
    params = dict(dim=16, nlist=8, m=8, nbits=4, refine="fp32", seed=1)
    one = ws.IVFPQIndex(device="cuda:0", **params)
    one.train(xb)
    one.add(xb)
    r1 = recall_at_k(one.search(xq, k=5, nprobe=2)[1], gt)
    sh = ws.shard_index("ivf_pq", devices=_gpus(2), **params)
    sh.train(xb)
    sh.add(xb)
    rs = recall_at_k(sh.search(xq, k=5, nprobe=2)[1], gt)
    assert rs >= r1 - 0.01, (rs, r1)


def test_plan_memory_small():
    free, total = _core.cuda_mem_info(0)
    assert 0 < free <= total
    assert _core.cuda_mem_info(_core.cuda_device_count()) == (0, 0)
    plan = ws.plan_memory(1000, 16, index="flat", devices=_gpus(2))
    assert plan["fits"] and 0 < plan["devices"]["cuda:0"]["free_bytes"] <= total
    huge = ws.plan_memory(2 * 10**9, 1024, index="flat", devices=["cuda:0"])
    assert not huge["fits"] and "cuda:0 would need" in huge["advice"]
    with pytest.raises(ws.MemoryPlanError, match="Would fit"):
        ws.shard_index("flat", devices="all", dim=1024, n=2 * 10**9)


@pytest.mark.parametrize("lib", ["cupy", "torch"])
def test_sharded_device_queries(lib):
    mod, to_dev, to_np = _lib(lib)
    xb, xq = make_clustered(5000, 32, seed=9), make_queries(50, 32, seed=9)
    one = ws.FlatIndex(dim=32, metric="cosine", device="cpu")
    one.add(xb)
    for parts in (2, 3):
        sh = ws.shard_index("flat", devices=_gpus(parts), dim=32, metric="cosine")
        sh.add(xb)
        Dd, Id = sh.search(to_dev(xq), k=10)
        assert type(Dd) is type(to_dev(xq)) and md.device_of(Dd) == 0
        assert_exact(to_np(Dd), to_np(Id), xb, xq, 10, "cosine")
        Dh, Ih = sh.search(xq, k=10)
        np.testing.assert_array_equal(to_np(Id), Ih)
        d1, i1 = sh.search(to_dev(xq[0]), k=10)
        assert to_np(i1).shape == (10,)
    hn = ws.shard_index("hnsw", devices=_gpus(2), dim=32, metric="cosine", M=16)
    hn.add(xb)
    gt = exact_knn(xb, xq, 10, "cosine")[1]
    assert recall_at_k(to_np(hn.search(to_dev(xq), k=10, ef=64)[1]), gt) >= 0.9
    rep = ws.shard_index(one, devices=_gpus(2), mode="replicate")
    Dd, Id = rep.search(to_dev(xq), k=10)
    Dh, Ih = rep.indexes[0].search(xq, k=10)
    np.testing.assert_array_equal(to_np(Id), Ih)
    mixed = ws.ShardedIndex([ws.FlatIndex(dim=32, device="cpu"),
                             ws.FlatIndex(dim=32, device="cuda:0")])
    with pytest.raises(TypeError, match="CPU"):
        mixed.search(to_dev(xq), k=3)


@pytest.mark.parametrize("lib", ["cupy", "torch"])
def test_device_queries_across_gpus(lib):
    if _core.cuda_device_count() < 2:
        pytest.skip("needs two GPUs")
    mod, to_dev, to_np = _lib(lib)
    xb, xq = make_clustered(4000, 32, seed=10), make_queries(40, 32, seed=10)
    sh = ws.shard_index("flat", devices=["cuda:0", "cuda:1"], dim=32)
    sh.add(xb)
    for home in (0, 1):  # results come back on the queries' GPU
        Dd, Id = sh.search(to_dev(xq, home) if lib == "torch" else _cupy_on(mod, xq, home), k=8)
        assert md.device_of(Dd) == home and md.device_of(Id) == home
        assert_exact(to_np(Dd), to_np(Id), xb, xq, 8, "l2")


def _cupy_on(cupy, a, dev):
    with cupy.cuda.Device(dev):
        return cupy.asarray(a)


@pytest.mark.parametrize("lib", ["cupy", "torch"])
@pytest.mark.parametrize("larger", [False, True])
def test_device_merge_matches_host_merge(lib, larger):
    mod, to_dev, to_np = _lib(lib)
    rng = np.random.default_rng(11)
    I = np.stack([rng.permutation(200)[:40] for _ in range(30)]).astype(np.int64)
    D = rng.integers(0, 5, I.shape).astype(np.float32)
    I[rng.random(I.shape) < 0.2] = -1
    D[rng.random(D.shape) < 0.05] = np.nan
    outD, outI = md.merge_rows(to_dev(D), to_dev(I), 7, larger)
    wantD, wantI = _core.merge_topk(D, I, 7, larger)
    np.testing.assert_array_equal(to_np(outI), wantI)
    np.testing.assert_array_equal(to_np(outD), wantD)
