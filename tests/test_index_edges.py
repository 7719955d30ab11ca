# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Edges every index type shares: ids, progress bars of long calls, and search stats
returned by the call (``last_search_info`` is per thread)."""

from __future__ import annotations

import sys
import threading
import types

import numpy as np
import pytest
from conftest import make_clustered, make_queries

import warpsearch as ws
from warpsearch import _progress

DIM = 16


def _index(kind, **kw):
    if kind == "flat":
        return ws.FlatIndex(dim=DIM, **kw)
    if kind == "hnsw":
        return ws.HNSWIndex(dim=DIM, M=8, ef_construction=40, **kw)
    idx = ws.IVFPQIndex(dim=DIM, nlist=8, m=8, refine="fp32", **kw)
    idx.train(make_clustered(2000, DIM, seed=9))
    return idx


KINDS = ["flat", "hnsw", "ivf_pq"]


# -- ids ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", [-1, -7, np.iinfo(np.int64).min])
def test_negative_ids_are_refused_by_add(kind, bad):
    idx = _index(kind)
    x = make_clustered(3, DIM, seed=1)
    idx.add(x[:1], ids=[5])
    with pytest.raises(ValueError, match=f"ids must be >= 0, got {bad}"):
        idx.add(x[1:], ids=[10, bad])
    assert len(idx) == 1 and sorted(idx.ids.tolist()) == [5]  # nothing changed
    assert bad not in idx and idx.remove([bad]) == 0  # lookups of a negative id: no match


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("storage", ["fp32", "sq8"])
def test_a_search_with_no_query_returns_empty_results(kind, storage):
    # FlatIndex divided by its number of query groups (zero) and killed the process
    idx = _index(kind) if kind != "flat" else ws.FlatIndex(dim=DIM, storage=storage)
    idx.add(make_clustered(200, DIM, seed=2))
    D, I = idx.search(np.zeros((0, DIM), np.float32), k=3)
    assert D.shape == I.shape == (0, 3)


def test_minus_one_is_named_as_the_padding_id():
    with pytest.raises(ValueError, match="-1 is the id of missing results"):
        ws.FlatIndex(dim=2).add(np.ones((1, 2), np.float32), ids=[-1])


# -- progress -------------------------------------------------------------------------
def test_someone_watching(monkeypatch):
    monkeypatch.setattr(sys, "stderr", types.SimpleNamespace(isatty=lambda: False))
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert not _progress.someone_watching() and not _progress.show_progress(None)
    assert _progress.show_progress(True) and not _progress.show_progress(False)
    monkeypatch.setattr(sys, "stderr", types.SimpleNamespace(isatty=lambda: True))
    assert _progress.someone_watching()
    # a Jupyter kernel: stderr is no terminal, but a person watches the notebook
    monkeypatch.setattr(sys, "stderr", types.SimpleNamespace(isatty=lambda: False))
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert _progress.someone_watching()
    shell.kernel = None  # a terminal IPython that merely imported ipykernel
    assert not _progress.someone_watching()
    with pytest.raises(TypeError, match="progress must be True, False or None"):
        _progress.show_progress("yes")


def _file(idx, path):
    idx.save(path)
    return path.read_bytes()


def test_hnsw_add_with_a_bar_builds_the_same_index(tmp_path, capsys):
    x = make_clustered(3500, DIM, seed=2)
    before = ws.get_num_threads()
    ws.set_num_threads(1)  # with more threads, concurrent inserts make any two builds differ
    try:
        for kw in ({"quantized": False}, {"quantized": False, "storage": "fp16"},
                   {"quantized": True}):
            one = ws.HNSWIndex(dim=DIM, M=8, ef_construction=40, **kw)
            one.add(x, progress=False)
            bar = ws.HNSWIndex(dim=DIM, M=8, ef_construction=40, **kw)
            bar.add(x, progress=True)
            assert "HNSW add" in capsys.readouterr().err  # the bar was drawn
            assert _file(one, tmp_path / "one.ws") == _file(bar, tmp_path / "bar.ws"), kw
    finally:
        ws.set_num_threads(before)


def test_hnsw_add_with_a_bar_advances_per_chunk(monkeypatch):
    calls = []
    idx = ws.HNSWIndex(dim=DIM, M=8, ef_construction=40, quantized=False)
    real = idx._impl
    monkeypatch.setattr(idx, "_impl", types.SimpleNamespace(
        add=lambda x, ids: calls.append(len(x)) or real.add(x, ids),
        reorder=real.reorder, size=real.size, dim=real.dim, quantized=False))
    idx.add(make_clustered(2500, DIM, seed=3), progress=True)
    assert calls == [1000, 1000, 500]
    calls.clear()
    idx.add(make_clustered(2500, DIM, seed=4), progress=False)
    assert calls == [2500]


def test_ivf_pq_add_and_train_with_a_bar(tmp_path, capsys):
    x = make_clustered(40000, DIM, seed=5)
    one = _index("ivf_pq")
    one.add(x, progress=False)
    bar = ws.IVFPQIndex(dim=DIM, nlist=8, m=8, refine="fp32")
    bar.train(make_clustered(2000, DIM, seed=9), progress=True)
    bar.add(x, progress=True)
    err = capsys.readouterr().err
    assert "IVF-PQ train" in err and "IVF-PQ add" in err
    assert _file(one, tmp_path / "one.ws") == _file(bar, tmp_path / "bar.ws")
    with pytest.raises(TypeError, match="progress"):
        bar.add(x[:2], progress="auto")


# -- stats ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_search_returns_its_stats(kind):
    idx = _index(kind, device="cpu")
    idx.add(make_clustered(500, DIM, seed=6))
    q = make_queries(4, DIM, seed=6)
    D, I, stats = idx.search(q, k=3, return_stats=True)
    D2, I2 = idx.search(q, k=3)
    np.testing.assert_array_equal(I, I2)
    assert stats["device"] == "cpu" and stats["nq"] == 4
    assert stats == idx.last_search_info
    d, i, one = idx.search(q[0], k=2, return_stats=True)  # a single query: 1-D rows
    assert d.shape == i.shape == (2,) and one["nq"] == 1
    with pytest.raises(TypeError, match="return_stats"):
        idx.search(q, k=3, return_stats=1)


@pytest.mark.parametrize("kind", KINDS)
def test_last_search_info_is_per_thread(kind):
    idx = _index(kind, device="cpu")
    idx.add(make_clustered(3000, DIM, seed=7))
    qs = [make_queries(nq, DIM, seed=s) for s, nq in ((1, 3), (2, 11))]
    filters = [None, np.arange(0, 3000, 2)]
    start = threading.Barrier(2)
    errors = []

    def worker(t):
        try:
            start.wait()
            for rep in range(30):
                k = 2 + t + rep % 3
                _, I, stats = idx.search(qs[t], k=k, filter=filters[t], return_stats=True)
                info = idx.last_search_info
                assert info is stats and info["nq"] == len(qs[t]), (t, info)
                assert I.shape == (len(qs[t]), k)
                if filters[t] is not None:
                    assert (I % 2 == 0).all()
        except Exception as exc:  # noqa: BLE001 - reported below, with the thread
            errors.append((t, exc))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert idx.last_search_info == {}  # this thread searched nothing


# -- zero query under cosine ------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_zero_query_rejected_under_cosine(kind):
    x = make_clustered(50, DIM, seed=6)
    idx = _index(kind, metric="cosine")
    with pytest.raises(ValueError, match="zero norm"):
        idx.add(np.zeros((1, DIM), np.float32))  # as in add
    idx.add(x)
    q = x[:3].copy()
    q[1] = 0.0
    with pytest.raises(ValueError, match="a zero query vector has no direction"):
        idx.search(q, k=5)
    with pytest.raises(ValueError, match="a zero query vector has no direction"):
        idx.search(np.zeros(DIM, np.float32), k=5)
    D, ids = idx.search(x[:2], k=1)  # nonzero queries still work
    assert (ids >= 0).all() and np.isfinite(D).all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_zero_query_allowed_for_l2_and_ip(kind, metric):
    x = make_clustered(50, DIM, seed=7)
    idx = _index(kind, metric=metric)
    idx.add(x)
    D, I = idx.search(np.zeros(DIM, np.float32), k=3)
    assert (I >= 0).all() and np.isfinite(D).all()


# -- binary storage needs an angle metric -----------------------------------------
def test_binary_storage_refuses_l2():
    with pytest.raises(ValueError, match=r'binary.*"cosine" or "ip"'):
        ws.FlatIndex(DIM, metric="l2", storage="binary")
    with pytest.raises(ValueError, match=r'binary.*"cosine" or "ip"'):
        ws.FlatIndex(DIM, metric="L2", storage="binary", refine="fp32")
    x = make_clustered(200, DIM, seed=8)
    for metric in ("cosine", "ip"):
        idx = ws.FlatIndex(DIM, metric=metric, storage="binary")  # fp32 refine copy
        idx.add(x)
        _, ids = idx.search(x[:5], k=1, refine_factor=len(x))
        if metric == "cosine":
            assert ids.ravel().tolist() == list(range(5))


# -- search before train ------------------------------------------------------------
def test_ivf_pq_search_before_train_raises():
    idx = ws.IVFPQIndex(8, nlist=4, nbits=4)
    q = np.ones((2, 8), np.float32)
    with pytest.raises(ValueError, match="not trained"):
        idx.search(q, k=3)
    with pytest.raises(ValueError, match="not trained"):
        idx.search(q[0], k=3, filter=np.array([1, 2]))
    # trained but empty: padded rows, as before
    idx.train(np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32))
    D, I = idx.search(q, k=3)
    assert (I == -1).all() and np.isposinf(D).all()
