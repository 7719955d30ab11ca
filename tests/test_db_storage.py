# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Collections whose sealed segments keep compressed vectors (FlatConfig/HNSWConfig storage)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
import warpsearch as ws
from warpsearch.contrib.evaluation import exact_knn

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


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("index, holds", [
    (ws.FlatConfig(), True),
    (ws.HNSWConfig(M=12, ef_construction=80), True),
    (ws.HNSWConfig(M=12, ef_construction=80, storage="sq8"), False),
])
def test_mutable_segment_drops_vectors_its_index_holds(tmp_path, monkeypatch, metric, index,
                                                       holds):
    """The mutable segment keeps its vectors in chunks and drops a chunk once its
    index holds those rows exactly: every vector reads back as written (within 1e-6 of
    its norm for cosine), exact search and filters see every row, and the segment's
    RAM is the index plus the chunks on their way; a compressed index keeps them."""
    from warpsearch.db.segment import RowStore
    monkeypatch.setattr(RowStore, "_CHUNK_BYTES", 0)  # the smallest chunks (256 rows)
    x, q = _data()
    db = ws.connect(tmp_path / "db", fsync="never")
    c = db.create_collection("c", dim=DIM, metric=metric, index=index,
                             schema={"tag": "int"})
    c.upsert(np.arange(N), x, [{"tag": i % 3} for i in range(N)])
    c.flush()
    store = c.state.mutable.vecs
    assert store.per == 256 and store.n == N
    full = N // 256
    assert store.dropped == (full if holds else 0)
    assert store.nbytes == (len(store.chunks) - store.dropped) * 256 * DIM * 4
    got = np.stack([r.vector for r in c.get(list(range(N)))])
    if holds and metric == "cosine":
        assert (np.abs(got - x) <= 1e-6 * np.linalg.norm(x, axis=1, keepdims=True)).all()
    else:
        assert np.array_equal(got, x)
    # rows read back in any order and across held and dropped chunks
    rows = np.array([N - 1, 5, 300, 5, 2999 - 256])
    assert np.array_equal(c.state.mutable.vectors(rows), got[rows])
    assert np.array_equal(c.state.mutable.vectors(slice(200, 700)), got[200:700])
    flt = {"must": [{"key": "tag", "match": {"value": 1}}]}
    want = exact_knn(got, q, 10, metric, allowed=np.arange(1, N, 3))[1]
    res = c.search_exact(q, k=10, filter=flt)
    assert [[h.id for h in r] for r in res] == want.tolist()
    # sealing writes the same vectors
    db.close()
    db = ws.connect(tmp_path / "db", fsync="never")
    c = db.get_collection("c")
    again = np.stack([r.vector for r in c.get(list(range(N)))])
    tol = 1e-6 * np.linalg.norm(x, axis=1, keepdims=True) * (2 if metric == "cosine" else 0)
    assert (np.abs(again - x) <= tol).all()
    db.close()


def test_stored_payloads_take_their_own_size():
    """A stored payload occupies about its own length (the fast encoder's result holds
    a 4 KiB buffer)."""
    import tracemalloc

    from warpsearch.db.payload import encode_payloads
    pays = [{"section": "libs", "size": i} for i in range(2000)]
    tracemalloc.start()
    try:
        raws = encode_payloads(pays)
        used = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert [bytes(r) for r in raws[:2]] == [b'{"section":"libs","size":0}',
                                             b'{"section":"libs","size":1}']
    assert used < 2000 * 200, used


_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1),
                          st.floats(allow_nan=True, allow_infinity=True),
                          st.text(alphabet=st.sampled_from('ab,"\\\\{}[]:\u00e9\u2028\n '),
                                  max_size=8))
_json_values = st.recursive(_json_scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=4), kids, max_size=3)),
    max_leaves=8)


@settings(max_examples=300, deadline=None)
@example([{"a": '},{"b":1', "k},{": ["]", '\\"', "{"]}, {}, {"c": {"d": [[], {}]}}])
@given(st.lists(st.one_of(st.none(), st.dictionaries(st.text(alphabet=st.sampled_from('k,"}{'),
                                                              max_size=4),
                                                      _json_values, max_size=4)),
                max_size=6))
def test_batch_payload_encoding_equals_encoding_each(pays):
    """A batch encoded in one call (split per payload) gives exactly the bytes of each
    payload encoded alone, or the same error."""
    from warpsearch.db.payload import encode_payload, encode_payloads
    try:
        want = [encode_payload(p) for p in pays]
    except (ValueError, TypeError) as exc:
        with pytest.raises(type(exc)):
            encode_payloads(pays)
        return
    assert [bytes(r) for r in encode_payloads(pays)] == want
