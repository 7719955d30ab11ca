# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Sharded and replicated indexes with their parts on the CPU: results against one
index and exact ground truth, add routing, filters by global id, checks, save/load,
stats, the memory plan, the shard threads and the device-side merge (on NumPy)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import warpsearch as ws
from warpsearch import _core
from warpsearch.index import _multi_device as md
from warpsearch.index import memory_plan

from conftest import (METRICS, assert_exact, assert_same_answer, exact_knn, make_clustered,
                      make_queries, recall_at_k)

N, DIM, NQ = 3000, 32, 60


@pytest.fixture(scope="module")
def data():
    return make_clustered(N, DIM, seed=7), make_queries(NQ, DIM, seed=7)


def flat_shards(metric, count, **kw):
    return ws.ShardedIndex([ws.FlatIndex(dim=DIM, metric=metric, device="cpu", **kw)
                            for _ in range(count)])


# -- exact search -----------------------------------------------------------
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("count", [1, 2, 3])
def test_sharded_exact_equals_one_index(data, metric, count):
    xb, xq = data
    one = ws.FlatIndex(dim=DIM, metric=metric, device="cpu")
    one.add(xb)
    sh = flat_shards(metric, count)
    sh.add(xb)
    D, I = sh.search(xq, k=10)
    D0, I0 = one.search(xq, k=10)
    assert_same_answer(D, I, D0, I0)
    assert_exact(D, I, xb, xq, 10, metric)
    d, i = sh.search(xq[3], k=10)  # a 1-D query gives one row
    assert d.shape == i.shape == (10,)
    assert_same_answer(d, i, D0[3], I0[3])


def test_k_larger_than_shards_pads(data):
    xb, xq = data
    sh = flat_shards("l2", 3)
    sh.add(xb[:7])
    D, I = sh.search(xq[:4], k=10)
    assert (I[:, :7] >= 0).all() and (I[:, 7:] == -1).all() and np.isinf(D[:, 7:]).all()
    assert_exact(D, I, xb[:7], xq[:4], 10, "l2")
    empty = flat_shards("ip", 2)
    D, I = empty.search(xq[:2], k=3)
    assert (I == -1).all() and (D == -np.inf).all()


# -- approximate search: recall at the same parameters ---------------------
def test_sharded_hnsw_recall(data):
    xb, xq = data
    gt = exact_knn(xb, xq, 10, "l2")[1]
    one = ws.HNSWIndex(dim=DIM, M=8, ef_construction=64, device="cpu")
    one.add(xb)
    r1 = recall_at_k(one.search(xq, k=10, ef=16)[1], gt)
    for count in (2, 4):
        sh = ws.shard_index("hnsw", devices=["cpu"] * count, dim=DIM, M=8, ef_construction=64)
        sh.add(xb)
        rs = recall_at_k(sh.search(xq, k=10, ef=16)[1], gt)
        assert rs >= r1 - 0.01, (count, rs, r1)
        assert rs >= 0.8


def test_sharded_ivf_pq_recall(data):
    xb, xq = data
    gt = exact_knn(xb, xq, 10, "l2")[1]
    params = dict(dim=DIM, nlist=32, m=8, nbits=4, refine="fp32", seed=3)
    one = ws.IVFPQIndex(device="cpu", **params)
    one.train(xb)
    one.add(xb)
    r1 = recall_at_k(one.search(xq, k=10, nprobe=4)[1], gt)
    sh = ws.shard_index("ivf_pq", devices=["cpu"] * 3, **params)
    with pytest.raises(ValueError, match="train"):
        sh.add(xb)
    sh.train(xb)
    # every shard codes points with the first shard's training
    c0 = sh.indexes[0].centroids()
    assert all(np.array_equal(s.centroids(), c0) for s in sh.indexes[1:])
    sh.add(xb)
    rs = recall_at_k(sh.search(xq, k=10, nprobe=4)[1], gt)
    assert rs >= r1 - 0.01 and rs >= 0.8, (rs, r1)
    D, I, st = sh.search(xq, k=10, nprobe=4, probe="fixed", return_stats=True)
    assert st["lists_probed"] == sum(p["lists_probed"] for p in st["parts"])
    assert st["probe"] == "fixed" and st["nprobe"] == 4


def test_sharded_trained_flat_storage_equals_one_index(data):
    xb, xq = data
    one = ws.FlatIndex(dim=DIM, storage="sq8", device="cpu")
    one.train(xb)
    one.add(xb)
    sh = ws.shard_index("flat", devices=["cpu"] * 2, dim=DIM, storage="sq8")
    sh.train(xb)  # every shard fits the same ranges
    sh.add(xb)
    assert_same_answer(*sh.search(xq, k=10), *one.search(xq, k=10))


# -- replicas ---------------------------------------------------------------
def test_replicated_equals_single(data, tmp_path):
    xb, xq = data
    one = ws.HNSWIndex(dim=DIM, M=8, ef_construction=64, device="cpu")
    one.add(xb)
    D0, I0 = one.search(xq, k=10, ef=32)
    rep = ws.shard_index(one, devices=["cpu"] * 3, mode="replicate")
    assert isinstance(rep, ws.ReplicatedIndex) and len(rep) == N
    assert rep.memory_usage() == one.memory_usage()  # one host index, shared
    D, I = rep.search(xq, k=10, ef=32)
    np.testing.assert_array_equal(D, D0)
    np.testing.assert_array_equal(I, I0)
    for nq in (1, 2):  # fewer queries than replicas
        D, I = rep.search(xq[:nq], k=10, ef=32)
        np.testing.assert_array_equal(I, I0[:nq])
    for _ in range(4):  # single queries go to the replicas in turn
        d, i = rep.search(xq[5], k=10, ef=32)
        np.testing.assert_array_equal(i, I0[5])
    # independent replicas holding the same index
    one.save(tmp_path / "h.ws")
    reps = ws.ReplicatedIndex([ws.load_index(tmp_path / "h.ws").to("cpu") for _ in range(2)])
    D, I, st = reps.search(xq, k=10, ef=32, return_stats=True)
    np.testing.assert_array_equal(I, I0)
    np.testing.assert_array_equal(D, D0)
    assert st["replicas"] == 2 and st["nq"] == NQ
    assert st["distance_evals"] == sum(p["distance_evals"] for p in st["parts"])
    assert st["allowed"] == N  # each replica counts the same points


def test_replicated_writes_reach_every_replica(data):
    xb, xq = data
    rep = ws.shard_index("flat", devices=["cpu", "cpu"], mode="replicate", dim=DIM)
    rep.add(xb[:100])
    rep.add(xb[100:200], ids=np.arange(1000, 1100))
    assert len(rep) == 200 and all(len(p) == 200 for p in rep.indexes)
    assert rep.remove([0, 1, 1000]) == 3
    assert 0 not in rep and 2 in rep and 1001 in rep
    D, I = rep.search(xb[:50], k=1)
    assert 0 not in I and I[2, 0] == 2


def test_replicated_ivf_pq_trains_once(data):
    xb, xq = data
    params = dict(dim=DIM, nlist=16, m=8, nbits=4, refine="fp32", device="cpu")
    rep = ws.ReplicatedIndex([ws.IVFPQIndex(**params), ws.IVFPQIndex(**params, seed=9)])
    rep.train(xb)
    a, b = rep.indexes
    assert a._impl is not b._impl and np.array_equal(a.centroids(), b.centroids())
    rep.add(xb)
    D, I = rep.search(xq, k=10, nprobe=4)
    np.testing.assert_array_equal(I, a.search(xq, k=10, nprobe=4)[1])
    np.testing.assert_array_equal(I, b.search(xq, k=10, nprobe=4)[1])
    with pytest.raises(ValueError, match="empty"):
        rep.train(xb)


# -- filters ----------------------------------------------------------------
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_filters_by_global_id(data, metric):
    xb, xq = data
    one = ws.FlatIndex(dim=DIM, metric=metric, device="cpu")
    one.add(xb)
    sh = flat_shards(metric, 3)
    sh.add(xb)
    rng = np.random.default_rng(0)
    mask = rng.random(N) < 0.05
    allowed = np.flatnonzero(rng.random(N) < 0.01)
    for f in (mask, allowed):
        D, I = sh.search(xq, k=10, filter=f)
        D0, I0 = one.search(xq, k=10, filter=f)
        assert_same_answer(D, I, D0, I0)
        ok = set(np.flatnonzero(mask) if f is mask else allowed)
        assert set(I[I >= 0].tolist()) <= ok
    hs = ws.shard_index("hnsw", devices=["cpu"] * 2, dim=DIM, metric=metric, M=8)
    hs.add(xb)
    D, I = hs.search(xq, k=10, filter=allowed, ef=32)
    assert set(I[I >= 0].tolist()) <= set(allowed.tolist())
    # a tiny allowed set is searched exactly by each shard
    assert_exact(D, I, xb[allowed], xq, 10, metric, ids=allowed)


# -- add routing ------------------------------------------------------------
def test_add_routes_each_id_to_one_shard(data):
    xb, _ = data
    sh = flat_shards("l2", 3)
    sh.add(xb[:1000])
    sizes = [len(p) for p in sh.indexes]
    assert sum(sizes) == 1000 and max(sizes) - min(sizes) <= 1
    sh.add(xb[1000:1500])  # default ids continue from the largest
    assert sorted(sh.ids.tolist()) == list(range(1500))
    owners = [set(p.ids.tolist()) for p in sh.indexes]
    assert sum(len(o) for o in owners) == 1500 and len(set().union(*owners)) == 1500
    # re-adding ids replaces them in the shard that holds them
    where = sh.route([10, 700, 1499, 5000])
    assert all(i in sh.indexes[s] for i, s in zip([10, 700, 1499], where[:3]))
    assert 0 <= where[3] < 3
    sh.add(xb[:3] + 100, ids=[10, 700, 1499])
    assert len(sh) == 1500
    np.testing.assert_allclose(sh.get_vectors([10, 700, 1499]), xb[:3] + 100)
    assert all(sum(i in p for p in sh.indexes) == 1 for i in (10, 700, 1499))
    # new points fill the smallest shards first
    sh.remove(list(sh.indexes[0].ids[:300]))
    sh.add(xb[1500:1800], ids=np.arange(5000, 5300))
    sizes = [len(p) for p in sh.indexes]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 1500
    assert sh.indexes[0].ids.max() >= 5000


def test_failed_add_changes_nothing(data):
    xb, _ = data
    sh = ws.ShardedIndex([ws.HNSWIndex(dim=DIM, storage="fp16", quantized=False, device="cpu")
                          for _ in range(2)])
    sh.add(xb[:100])
    bad = xb[100:200].copy()
    bad[80] = 1e6  # beyond float16: the second shard's add fails
    with pytest.raises(ValueError):
        sh.add(bad)
    assert len(sh) == 100 and sorted(sh.ids.tolist()) == list(range(100))


def test_fill_counts():
    from warpsearch.index.sharded import _fill_counts
    assert _fill_counts([0, 0, 0], 7).tolist() == [3, 2, 2]
    assert _fill_counts([10, 0, 4], 6).tolist() == [0, 5, 1]
    assert _fill_counts([10, 0, 4], 20).tolist() == [2, 11, 7]  # ends 12, 11, 11
    assert _fill_counts([5, 5], 0).tolist() == [0, 0]


# -- checks -----------------------------------------------------------------
def test_bad_parts_are_refused():
    f = ws.FlatIndex(dim=8, device="cpu")
    with pytest.raises(TypeError, match="one kind"):
        ws.ShardedIndex([f, ws.HNSWIndex(dim=8, device="cpu")])
    with pytest.raises(ValueError, match="dimension"):
        ws.ShardedIndex([f, ws.FlatIndex(dim=9, device="cpu")])
    with pytest.raises(ValueError, match="metric"):
        ws.ReplicatedIndex([f, ws.FlatIndex(dim=8, metric="ip", device="cpu")])
    with pytest.raises(ValueError, match="at least one"):
        ws.ShardedIndex([])
    with pytest.raises(TypeError, match="list of indexes"):
        ws.ShardedIndex(f)
    with pytest.raises(TypeError, match="FlatIndex"):
        ws.ShardedIndex([f, np.zeros(3)])
    with pytest.raises(ValueError, match="twice"):
        ws.ShardedIndex([f, f])
    a, b = ws.FlatIndex(dim=8, device="cpu"), ws.FlatIndex(dim=8, device="cpu")
    a.add(np.eye(8, dtype=np.float32))
    b.add(np.eye(8, dtype=np.float32), ids=np.arange(7, 15))
    with pytest.raises(ValueError, match="disjoint"):
        ws.ShardedIndex([a, b])
    with pytest.raises(ValueError, match="same points"):
        ws.ReplicatedIndex([a, ws.FlatIndex(dim=8, device="cpu")])
    with pytest.raises(TypeError, match="check_memory"):
        ws.ShardedIndex([a], check_memory=1)


def test_bad_search_and_build_arguments(data):
    xb, xq = data
    sh = flat_shards("l2", 2)
    sh.add(xb[:100])
    with pytest.raises(ValueError, match="dim"):
        sh.search(xq[:, :5], k=3)
    with pytest.raises(ValueError, match="k"):
        sh.search(xq, k=0)
    with pytest.raises(TypeError, match="return_stats"):
        sh.search(xq, k=3, return_stats="yes")
    with pytest.raises(TypeError):
        sh.search(xq, k=3, ef=10)  # not a flat search parameter
    with pytest.raises(TypeError, match="no training"):
        ws.shard_index("hnsw", devices=["cpu"], dim=4).train(xb[:, :4])
    with pytest.raises(ValueError, match="unknown index kind"):
        ws.shard_index("lsh", devices=["cpu"], dim=4)
    with pytest.raises(ValueError, match="mode"):
        ws.shard_index("flat", devices=["cpu"], mode="mirror", dim=4)
    with pytest.raises(TypeError, match="device"):
        ws.shard_index("flat", devices=["cpu"], dim=4, device="cpu")
    with pytest.raises(TypeError, match="dim"):
        ws.shard_index("flat", devices=["cpu"])
    with pytest.raises(TypeError, match="replicate"):
        ws.shard_index(ws.FlatIndex(dim=4), devices=["cpu"], mode="shard")
    with pytest.raises(ValueError, match="at least one"):
        ws.shard_index("flat", devices=[], dim=4)
    with pytest.raises(ValueError, match="'all' or a list"):
        ws.shard_index("flat", devices="cpu", dim=4)
    if _core.cuda_device_count() == 0:
        with pytest.raises(ValueError, match="none is available"):
            ws.shard_index("flat", devices="all", dim=4)
        with pytest.raises(ValueError, match="CUDA|cuda"):
            ws.shard_index("flat", devices=["cpu", "cuda:0"], dim=4)


def test_factory_and_properties(data):
    xb, xq = data
    sh = ws.shard_index(lambda dev: ws.FlatIndex(dim=DIM, metric="ip", device=dev),
                        devices=["cpu", "auto"] if _core.cuda_device_count() == 0 else ["cpu"])
    sh.add(xb[:300])
    assert len(sh) == 300 and sh.dim == DIM and sh.metric == "ip" and sh.kind == "flat"
    assert sh.devices == ["cpu"] * len(sh.indexes)
    assert 5 in sh and 300 not in sh
    np.testing.assert_allclose(sh.get_vectors([299, 0]), xb[[299, 0]])
    with pytest.raises(KeyError):
        sh.get_vectors([0, 12345])
    assert sh.memory_usage() == sum(p.memory_usage() for p in sh.indexes)
    assert sh.remove([0, 1, 99999]) == 2 and len(sh) == 298
    assert "ShardedIndex(" in repr(sh)
    with pytest.raises(ValueError, match="empty"):
        def not_empty(dev):
            i = ws.FlatIndex(dim=4, device=dev)
            i.add(np.ones((1, 4), np.float32))
            return i
        ws.shard_index(not_empty, devices=["cpu"])
    with pytest.raises(TypeError, match="not an index"):
        ws.shard_index(lambda dev: 3, devices=["cpu"])


# -- save / load ------------------------------------------------------------
def test_save_load_round_trip(data, tmp_path):
    xb, xq = data
    sh = ws.shard_index("hnsw", devices=["cpu"] * 2, dim=DIM, M=8)
    sh.add(xb)
    D0, I0 = sh.search(xq, k=10, ef=32)
    sh.save(tmp_path / "sh")
    sh.save(tmp_path / "sh")  # replaces the earlier save
    again = ws.ShardedIndex.load(tmp_path / "sh")
    assert [len(p) for p in again.indexes] == [len(p) for p in sh.indexes]
    D, I = again.search(xq, k=10, ef=32)
    np.testing.assert_array_equal(I, I0)
    np.testing.assert_array_equal(D, D0)
    rep = ws.shard_index(sh.indexes[0], devices=["cpu"] * 2, mode="replicate")
    rep.save(tmp_path / "rep")
    rep2 = ws.ReplicatedIndex.load(tmp_path / "rep", devices=["cpu", "cpu", "cpu"][:2])
    np.testing.assert_array_equal(rep2.search(xq, k=5, ef=32)[1],
                                  sh.indexes[0].search(xq, k=5, ef=32)[1])
    assert rep2.indexes[0]._impl is rep2.indexes[1]._impl
    with pytest.raises(ValueError, match="not 'shard'|'replicate'"):
        ws.ShardedIndex.load(tmp_path / "rep")
    with pytest.raises(FileNotFoundError):
        ws.ShardedIndex.load(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="manifest"):
        ws.ShardedIndex.load(tmp_path / "bad")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a saved"):
        sh.save(tmp_path / "file")
    with pytest.raises(ValueError, match="devices"):
        ws.ShardedIndex.load(tmp_path / "sh", devices=["cpu"] * 3)


# -- concurrency and stats --------------------------------------------------
def test_shards_search_concurrently(data):
    xb, xq = data
    sh = flat_shards("l2", 3)
    sh.add(xb)
    barrier = threading.Barrier(3, timeout=10)
    threads = set()
    for p in sh.indexes:
        inner = p.search

        def search(*a, _inner=inner, **kw):
            threads.add(threading.get_ident())
            barrier.wait()  # passes only when all three shards search at once
            return _inner(*a, **kw)
        p.search = search
    D, I = sh.search(xq, k=5)
    assert len(threads) == 3 and threading.get_ident() not in threads
    sh.close()
    assert sh.search(xq, k=5)[1].shape == (NQ, 5)  # the threads start again


def test_stats_are_merged_and_per_thread(data):
    xb, xq = data
    sh = ws.shard_index("hnsw", devices=["cpu"] * 2, dim=DIM, M=8)
    sh.add(xb)
    assert sh.last_search_info == {}
    D, I, st = sh.search(xq, k=10, ef=32, return_stats=True)
    assert st["shards"] == 2 and st["mode"] == "shard" and st["nq"] == NQ
    assert st["device"] == "cpu" and len(st["parts"]) == 2
    for key in ("distance_evals", "nodes_visited"):
        assert st[key] == sum(p[key] for p in st["parts"]) > 0
    assert sh.last_search_info == st
    seen = {}
    t = threading.Thread(target=lambda: seen.update(info=sh.last_search_info))
    t.start()
    t.join()
    assert seen["info"] == {}


# -- the memory plan --------------------------------------------------------
def test_plan_memory_fits_and_refuses():
    plan = ws.plan_memory(10_000, 64, index="hnsw", devices=["cpu", "cpu"], M=16)
    assert plan["fits"] and plan["advice"] is None
    host = plan["devices"]["cpu"]
    one = ws.estimate_memory(5000, 64, index="hnsw", M=16)["bytes"]
    assert host["peak_bytes"] == 2 * one and host["parts"] == 2 and host["free_bytes"] > 0
    rep = ws.plan_memory(10_000, 64, index="hnsw", devices=["cpu", "cpu"], mode="replicate")
    assert rep["devices"]["cpu"]["peak_bytes"] == ws.estimate_memory(10_000, 64)["bytes"]
    huge = ws.plan_memory(4 * 10**9, 128, index="flat", devices=["cpu"] * 2)  # 2 TB
    assert not huge["fits"] and "Would fit" in huge["advice"] and "points" in huge["advice"]
    with pytest.raises(ws.MemoryPlanError, match="would not fit") as err:
        ws.shard_index("flat", devices=["cpu"] * 2, dim=128, n=4 * 10**9)
    assert isinstance(err.value, ValueError)
    assert isinstance(ws.shard_index("flat", devices=["cpu"], dim=128, n=4 * 10**9,
                                     check_memory=False), ws.ShardedIndex)
    with pytest.raises(ValueError, match="mode"):
        ws.plan_memory(10, 4, devices=["cpu"], mode="x")
    with pytest.raises(TypeError, match="unknown parameter"):
        ws.plan_memory(10, 4, index="flat", devices=["cpu"], M=3)


def test_plan_names_a_smaller_setting(monkeypatch):
    real = memory_plan.available_bytes
    fp32 = ws.estimate_memory(1_000_000, 128, index="flat")["bytes"]
    monkeypatch.setattr(memory_plan, "available_bytes", lambda d: fp32 // 2 if d == "cpu" else real(d))
    plan = ws.plan_memory(1_000_000, 128, index="flat", devices=["cpu"])
    assert not plan["fits"] and "storage='sq8'" in plan["advice"]


def test_add_that_would_not_fit_is_refused(data, monkeypatch):
    xb, _ = data
    sh = flat_shards("l2", 2)
    sh.add(xb[:100])
    monkeypatch.setattr(memory_plan, "available_bytes", lambda d: 1000)
    with pytest.raises(ws.MemoryPlanError, match="would not fit"):
        sh.add(xb[100:])
    assert len(sh) == 100
    sh.check_memory = False
    sh.add(xb[100:])
    assert len(sh) == N


# -- the device-side merge, run on NumPy -----------------------------------
@pytest.mark.parametrize("larger", [False, True])
def test_merge_rows_matches_merge_topk(larger):
    rng = np.random.default_rng(5)
    for _ in range(20):
        nq, shards, k = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 6))
        ids = rng.permutation(10 * shards * k)[:shards * k].reshape(1, -1)
        I = np.repeat(ids, nq, axis=0).astype(np.int64)
        D = rng.integers(0, 4, I.shape).astype(np.float32)  # many ties
        I[rng.random(I.shape) < 0.2] = -1  # padding
        D[rng.random(D.shape) < 0.05] = np.nan
        D[rng.random(D.shape) < 0.05] = np.inf if not larger else -np.inf
        got = md.merge_rows(D, I, k, larger)
        want = _core.merge_topk(D, I, k, larger)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[0], want[0])
