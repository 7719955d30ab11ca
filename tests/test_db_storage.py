# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Collections whose sealed segments keep compressed vectors (FlatConfig/HNSWConfig storage)."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws

DIM, N = 32, 3000


def _data():
    rng = np.random.default_rng(17)
    centers = rng.standard_normal((30, DIM)) * 3
    x = (centers[rng.integers(0, 30, N)] + rng.standard_normal((N, DIM))).astype(np.float32)
    q = (centers[rng.integers(0, 30, 40)] + rng.standard_normal((40, DIM))).astype(np.float32)
    return x, q


def _truth(x, q, k):
    s = q.astype(np.float64) @ x.T.astype(np.float64)
    return [set(np.argsort(-row)[:k].tolist()) for row in s]


@pytest.mark.parametrize("index", [ws.FlatConfig(storage="sq8"),
                                   ws.FlatConfig(storage="binary", refine="fp16"),
                                   ws.HNSWConfig(M=12, ef_construction=80, storage="fp16"),
                                   ws.HNSWConfig(M=12, ef_construction=80, storage="sq8")])
def test_compressed_segments_search_and_reopen(tmp_path, index):
    x, q = _data()
    db = ws.connect(tmp_path / "db", fsync="never")
    c = db.create_collection("c", dim=DIM, metric="ip", index=index, segment_size=1000)
    c.upsert(np.arange(N), x)
    c.flush()
    assert c.info()["sealed_segments"] == 3
    truth = _truth(x, q, 10)
    res = c.search_batch(q, k=10)
    recall = np.mean([len({h.id for h in hits} & t) / 10 for hits, t in zip(res, truth)])
    assert recall >= 0.9
    db.close()
    db = ws.connect(tmp_path / "db", fsync="never")
    c = db.get_collection("c")
    assert c.info()["index"] == index.to_dict()
    again = c.search_batch(q, k=10)
    assert [[h.id for h in r] for r in again] == [[h.id for h in r] for r in res]
    db.close()


def test_bad_storage_configs():
    with pytest.raises(ValueError, match="storage"):
        ws.FlatConfig(storage="int2")
    with pytest.raises(ValueError, match="refine"):
        ws.FlatConfig(refine="fp16")
    with pytest.raises(ValueError, match="storage"):
        ws.HNSWConfig(storage="sq4")
    assert ws.FlatConfig().to_dict() == {"kind": "flat", "storage": "fp32", "refine": None}


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("index, holds", [
    (ws.FlatConfig(), True),
    (ws.HNSWConfig(M=12, ef_construction=80), True),
    (ws.HNSWConfig(M=12, ef_construction=80, storage="sq8"), False),
    (ws.IVFPQConfig(nlist=16, nbits=4, refine="fp32", train_size=1000), True),
    (ws.IVFPQConfig(nlist=16, nbits=4, train_size=1000), False),  # fp16 re-rank copy
])
def test_one_copy_of_the_vectors_per_segment(tmp_path, metric, index, holds):
    """A sealed segment whose index holds the vectors (fp32 rows; normalized for
    cosine) writes no vectors.npy: the vectors are read back from the index (times the
    saved norms for cosine), equal to those written (within 1e-6 of their norm for
    cosine), before and after a reopen, and through a compaction."""
    x, _ = _data()
    db = ws.connect(tmp_path / "db", fsync="never")
    c = db.create_collection("c", dim=DIM, metric=metric, index=index, segment_size=1000)
    c.upsert(np.arange(N), x)
    c.flush()
    assert c.info()["sealed_segments"] == 3
    seg_dir = tmp_path / "db" / "collections" / "c" / "segments"
    for d in sorted(seg_dir.iterdir()):
        names = {p.name for p in d.iterdir()}
        assert ("vectors.npy" in names) == (not holds), names
        assert ("norms.npy" in names) == (holds and metric == "cosine"), names

    def check(col):
        got = np.stack([r.vector for r in col.get(list(range(N)))])
        if holds and metric == "cosine":
            tol = 1e-6 * np.linalg.norm(x, axis=1, keepdims=True)
            assert (np.abs(got - x) <= tol).all()
        else:
            assert np.array_equal(got, x)
        scrolled = col.scroll(limit=N, with_payload=False)
        assert np.array_equal(np.stack([r.vector for r in scrolled]), got)

    check(c)
    ids = np.arange(N)
    before = c.search_exact(x[:5], k=10)
    db.close()
    db = ws.connect(tmp_path / "db", fsync="never")
    c = db.get_collection("c")
    check(c)
    again = c.search_exact(x[:5], k=10)
    assert [[h.id for h in r] for r in again] == [[h.id for h in r] for r in before]
    c.delete(ids[::7].tolist())
    c.compact()
    kept = np.setdiff1d(ids, ids[::7])
    got = np.stack([r.vector for r in c.get(kept.tolist())])
    tol = 1e-6 * np.linalg.norm(x[kept], axis=1, keepdims=True) * (3 if metric == "cosine" else 0)
    assert (np.abs(got - x[kept]) <= tol).all()
    db.close()
