# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Search deadlines inside the engine: every index type's CPU search takes a ``timeout``
that its scans and walks check as they go (flat exact and compressed scans, HNSW walks
plain, filtered and interleaved, IVF-PQ scans and re-rank). Past it the search raises
Python's ``TimeoutError`` and leaves the index as it was; a generous timeout changes
nothing; and a collection's ``timeout`` reaches the engine."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import warpsearch as ws
from warpsearch.db import query as query_mod

DIM = 32
N = 20_000
NQ = 400
K = 10
EXPIRED = 1e-9  # passed before the engine's first check


def _clustered(n, seed, dim=DIM, k=40):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dim)).astype(np.float32) * 3
    return (centres[rng.integers(0, k, n)] + rng.standard_normal((n, dim))).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    return _clustered(N, 1), _clustered(NQ, 2)


def _flat(x, storage):
    # binary codes rank by an inner-product estimate (l2 is refused for them)
    idx = ws.FlatIndex(DIM, "ip" if storage == "binary" else "l2", device="cpu", storage=storage)
    idx.add(x)
    return idx


def _hnsw(x):
    idx = ws.HNSWIndex(DIM, "l2", M=12, ef_construction=80, device="cpu")
    idx.add(x)
    return idx


def _ivf(x):
    idx = ws.IVFPQIndex(DIM, "l2", nlist=64, m=16, nbits=4, refine="fp32", device="cpu")
    idx.train(x)
    idx.add(x)
    return idx


@pytest.fixture(scope="module", params=["flat-fp32", "flat-sq8", "flat-binary", "hnsw", "ivf_pq"])
def index(request, data):
    x, _ = data
    kind = request.param
    if kind.startswith("flat"):
        return kind, _flat(x, kind.split("-")[1])
    if kind == "hnsw":
        return kind, _hnsw(x)
    return kind, _ivf(x)


# The search of each index type, with knobs that make it do real work.
def _search(kind, idx, q, **kw):
    if kind == "hnsw":
        return idx.search(q, k=K, ef=128, **kw)
    if kind == "ivf_pq":
        return idx.search(q, k=K, nprobe=16, **kw)
    return idx.search(q, k=K, **kw)


# Filters: every other id (plain walks, filtered IVF), a fifth of the ids (the HNSW
# filter-aware walk), and a small set (HNSW and IVF-PQ exhaustive plans).
FILTERS = {
    "none": None,
    "half": np.arange(0, N, 2, dtype=np.int64),
    "fifth": np.arange(0, N, 5, dtype=np.int64),
    "few": np.arange(0, N, 97, dtype=np.int64),
}


@pytest.mark.parametrize("fname", list(FILTERS))
@pytest.mark.parametrize("batch", [True, False], ids=["batch", "single"])
def test_expired_timeout_raises_and_index_stays_usable(index, data, fname, batch):
    kind, idx = index
    _, qs = data
    q = qs if batch else qs[0]
    flt = FILTERS[fname]
    D0, I0 = _search(kind, idx, q, filter=flt)
    with pytest.raises(TimeoutError, match="exceeded its timeout"):
        _search(kind, idx, q, filter=flt, timeout=EXPIRED)
    D1, I1 = _search(kind, idx, q, filter=flt)
    np.testing.assert_array_equal(I1, I0)
    np.testing.assert_array_equal(D1, D0)


@pytest.mark.parametrize("fname", ["none", "fifth"])
def test_generous_timeout_changes_nothing(index, data, fname):
    kind, idx = index
    _, qs = data
    flt = FILTERS[fname]
    for q in (qs, qs[3]):
        D0, I0 = _search(kind, idx, q, filter=flt)
        D1, I1 = _search(kind, idx, q, filter=flt, timeout=600)
        D2, I2 = _search(kind, idx, q, filter=flt, timeout=math.inf)  # no limit
        np.testing.assert_array_equal(I1, I0)
        np.testing.assert_array_equal(D1, D0)
        np.testing.assert_array_equal(I2, I0)
        np.testing.assert_array_equal(D2, D0)


def test_timeout_stops_a_running_search(index, data):
    """A timeout far shorter than the search, but not over before it starts, stops it:
    the check is inside the scans and walks, not only at the start of the call."""
    kind, idx = index
    _, qs = data
    q = np.tile(qs, (10, 1))  # 4,000 queries
    t = time.perf_counter()
    _search(kind, idx, q)
    took = time.perf_counter() - t
    with pytest.raises(TimeoutError):
        _search(kind, idx, q, timeout=took / 50)


@pytest.mark.parametrize("fname", ["fifth", "few"])
def test_timeout_stops_a_running_sparse_filtered_flat_search(index, data, fname):
    """Filters that allow few rows spread over the data are scanned row by row (the
    allowed rows listed, not the blocks): that scan checks the deadline too."""
    kind, idx = index
    if not kind.startswith("flat"):
        pytest.skip("the allowed-row scan is the flat index's")
    _, qs = data
    q = np.tile(qs, (10, 1))
    t = time.perf_counter()
    _search(kind, idx, q, filter=FILTERS[fname])
    took = time.perf_counter() - t
    with pytest.raises(TimeoutError):
        _search(kind, idx, q, filter=FILTERS[fname], timeout=took / 50)


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (math.nan, ValueError),
                                     (-math.inf, ValueError), ("1", TypeError),
                                     (True, TypeError), (np.bool_(True), TypeError),
                                     ([1.0], TypeError)])
def test_bad_timeouts(index, data, bad, exc):
    kind, idx = index
    _, qs = data
    with pytest.raises(exc, match="timeout"):
        _search(kind, idx, qs[:2], timeout=bad)


def test_engine_maps_timeout_error():
    """The engine's TimeoutError is Python's built-in one, with its message."""
    idx = ws.FlatIndex(4, "l2", device="cpu")
    idx.add(np.eye(4, dtype=np.float32))
    with pytest.raises(TimeoutError) as info:
        idx._impl.search(np.eye(4, dtype=np.float32), 1, 0, -1, None, None, EXPIRED)
    assert type(info.value) is TimeoutError
    assert str(info.value) == "the search exceeded its timeout"
    with pytest.raises(ValueError, match="timeout"):
        idx._impl.search(np.eye(4, dtype=np.float32), 1, 0, -1, None, None, -1.0)


def test_collection_timeout_reaches_the_engine(tmp_path, monkeypatch):
    """One large segment: the deadline can only be honoured inside the engine."""
    x = _clustered(50_000, 3, dim=64)
    db = ws.connect(tmp_path / "db", fsync="never")
    try:
        col = db.create_collection("c", dim=64, metric="l2", segment_size=100_000,
                                   index=ws.FlatConfig())
        col.upsert(list(range(len(x))), x)
        col.flush()
        q = x[:2000]
        _, stats = col.search_batch(q[:5], k=10, return_stats=True)
        segs = stats["segments"]
        assert len(segs) == 1 and segs[0]["indexed_rows"] == 50_000
        with pytest.raises(TimeoutError):
            col.search_batch(q, k=10, timeout=1e-4)
        # The same with the collection's own checks between segments disarmed: the
        # engine receives the seconds left and raises by itself.
        seen = []

        def remaining(self):
            left = None if self.deadline is None else max(self.deadline - time.monotonic(), 1e-9)
            seen.append(left)
            return left

        monkeypatch.setattr(query_mod.SearchParams, "remaining", remaining)
        with pytest.raises(TimeoutError):
            col.search_batch(q, k=10, timeout=1e-4)
        assert seen and all(s is not None and s <= 1e-4 for s in seen)
        monkeypatch.undo()
        a = col.search_batch(q[:50], k=10, timeout=600)
        b = col.search_batch(q[:50], k=10)
        assert a == b
    finally:
        db.close()
