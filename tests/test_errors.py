# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Bad input raises TypeError/ValueError naming the problem and changes nothing;
bad files raise ValueError (FileNotFoundError when missing) and never crash."""

from __future__ import annotations

import os

import numpy as np
import pytest
import warpsearch as ws
from conftest import make_clustered

DIM = 8
INDEXES = {
    "flat": lambda metric="l2": ws.FlatIndex(dim=DIM, metric=metric),
    "hnsw": lambda metric="l2": ws.HNSWIndex(dim=DIM, metric=metric, ef_construction=40),
}


@pytest.fixture(params=sorted(INDEXES))
def kind(request):
    return request.param


@pytest.fixture
def filled(kind):
    idx = INDEXES[kind]()
    idx.add(make_clustered(200, DIM, seed=1))
    return idx


@pytest.fixture(scope="module")
def queries():
    return make_clustered(5, DIM, seed=2)


def _snapshot(idx, q):
    D, I = idx.search(q, k=5)
    return len(idx), np.sort(idx.ids), D, I


def _assert_unchanged(idx, q, before):
    after = _snapshot(idx, q)
    assert after[0] == before[0]
    np.testing.assert_array_equal(after[1], before[1])
    np.testing.assert_array_equal(after[2], before[2])
    np.testing.assert_array_equal(after[3], before[3])


# -- vectors --------------------------------------------------------------------
BAD_VECTORS = [
    ("wrong dim", np.ones((3, DIM + 1), np.float32), ValueError, "dimension"),
    ("wrong dim 1-D", np.ones(DIM - 1, np.float32), ValueError, "dimension"),
    ("3-D", np.ones((2, 3, DIM), np.float32), ValueError, "3-D"),
    ("0-D", np.float32(1.0), ValueError, "0-D"),
    ("NaN", np.where(np.eye(3, DIM) > 0, np.nan, 1.0), ValueError, "NaN"),
    ("inf", np.full((2, DIM), np.inf), ValueError, "inf"),
    ("-inf", np.r_[np.ones((2, DIM)), np.full((1, DIM), -np.inf)], ValueError, "inf"),
    ("float64 beyond float32", np.full((1, DIM), 1e300), ValueError, "inf"),
    ("strings", np.array([["a"] * DIM]), TypeError, "numeric"),
    ("object", np.array([[1.0] * (DIM - 1) + [None]], dtype=object), TypeError, "numeric"),
    ("bool", np.ones((2, DIM), dtype=bool), TypeError, "numeric"),
    ("complex", np.ones((2, DIM), dtype=complex), TypeError, "numeric"),
    ("ragged list", [[1.0] * DIM, [1.0] * (DIM - 1)], TypeError, "numbers"),
    ("str", "not a vector", TypeError, "numeric"),
    ("None", None, TypeError, "numeric"),
]


@pytest.mark.parametrize("name,x,exc,match", BAD_VECTORS, ids=[b[0] for b in BAD_VECTORS])
def test_bad_vectors_in_add(filled, queries, name, x, exc, match):
    before = _snapshot(filled, queries)
    with pytest.raises(exc, match=match):
        filled.add(x)
    _assert_unchanged(filled, queries, before)


@pytest.mark.parametrize("name,x,exc,match", BAD_VECTORS, ids=[b[0] for b in BAD_VECTORS])
def test_bad_vectors_in_search(filled, name, x, exc, match):
    with pytest.raises(exc, match=match):
        filled.search(x, k=3)


def test_nan_error_names_row_and_column(filled):
    x = np.ones((4, DIM), np.float32)
    x[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"row 2, column 5"):
        filled.add(x)


def test_cosine_zero_vector(kind, queries):
    idx = INDEXES[kind]("cosine")
    idx.add(make_clustered(50, DIM, seed=3))
    before = _snapshot(idx, queries)
    x = make_clustered(5, DIM, seed=4)
    x[3] = 0
    with pytest.raises(ValueError, match="zero norm"):
        idx.add(x)
    _assert_unchanged(idx, queries, before)


# -- k, ef, rerank ------------------------------------------------------------------
@pytest.mark.parametrize("k,exc", [(0, ValueError), (-1, ValueError), (2.0, TypeError),
                                   ("3", TypeError), (None, TypeError), (True, TypeError),
                                   (2**40, ValueError), (np.float32(3), TypeError)])
def test_bad_k(filled, queries, k, exc):
    with pytest.raises(exc, match="k"):
        filled.search(queries, k=k)


def test_numpy_integer_k_is_accepted(filled, queries):
    D, I = filled.search(queries, k=np.int64(3))
    assert I.shape == (5, 3)


@pytest.mark.parametrize("param,value,exc", [("ef", 0, ValueError), ("ef", -5, ValueError),
                                             ("ef", 1.5, TypeError), ("rerank", 0, ValueError),
                                             ("rerank", "all", TypeError)])
def test_bad_hnsw_search_params(queries, param, value, exc):
    idx = INDEXES["hnsw"]()
    idx.add(make_clustered(50, DIM, seed=3))
    with pytest.raises(exc, match=param):
        idx.search(queries, k=3, **{param: value})


# -- ids ----------------------------------------------------------------------------
BAD_IDS = [
    ("duplicate", [1, 2, 1], ValueError, "duplicate id 1"),
    ("too many", [1, 2, 3, 4], ValueError, "4 entries for 3"),
    ("too few", [1, 2], ValueError, "2 entries for 3"),
    ("float", [1.0, 2.0, 3.0], TypeError, "integers"),
    ("str", ["a", "b", "c"], TypeError, "integers"),
    ("bool", [True, False, True], TypeError, "integers"),
    ("2-D", [[1, 2, 3]], ValueError, "1-D"),
    ("uint64 beyond int64", np.array([1, 2, 2**64 - 1], np.uint64), ValueError, "int64"),
]


@pytest.mark.parametrize("name,ids,exc,match", BAD_IDS, ids=[b[0] for b in BAD_IDS])
def test_bad_ids_in_add(filled, queries, name, ids, exc, match):
    before = _snapshot(filled, queries)
    with pytest.raises(exc, match=match):
        filled.add(make_clustered(3, DIM, seed=9), ids=ids)
    _assert_unchanged(filled, queries, before)


def test_failed_add_midway_changes_nothing(filled, queries):
    # one bad row at the end of an otherwise valid batch with new and existing ids
    before = _snapshot(filled, queries)
    x = make_clustered(50, DIM, seed=10)
    x[-1, 0] = np.nan
    with pytest.raises(ValueError):
        filled.add(x, ids=np.r_[np.arange(25), np.arange(1000, 1025)])
    _assert_unchanged(filled, queries, before)
    assert 1000 not in filled


@pytest.mark.parametrize("ids,exc", [([1.5], TypeError), (["x"], TypeError),
                                     ([[1, 2]], ValueError)])
def test_bad_ids_in_remove(filled, queries, ids, exc):
    before = _snapshot(filled, queries)
    with pytest.raises(exc, match="ids"):
        filled.remove(ids)
    _assert_unchanged(filled, queries, before)


# -- constructor ----------------------------------------------------------------------
@pytest.mark.parametrize("kind_", sorted(INDEXES))
@pytest.mark.parametrize("metric,exc,match", [("hamming", ValueError, "unknown metric"),
                                              ("", ValueError, "unknown metric"),
                                              (2, TypeError, "metric"),
                                              (None, TypeError, "metric")])
def test_bad_metric(kind_, metric, exc, match):
    cls = ws.FlatIndex if kind_ == "flat" else ws.HNSWIndex
    with pytest.raises(exc, match=match):
        cls(dim=4, metric=metric)


@pytest.mark.parametrize("kind_", sorted(INDEXES))
@pytest.mark.parametrize("dim,exc", [(0, ValueError), (-3, ValueError), (4.0, TypeError),
                                     ("4", TypeError), (None, TypeError), (10**6, ValueError)])
def test_bad_dim(kind_, dim, exc):
    cls = ws.FlatIndex if kind_ == "flat" else ws.HNSWIndex
    with pytest.raises(exc, match="dim"):
        cls(dim=dim)


@pytest.mark.parametrize("kw,exc,match", [({"M": 1}, ValueError, "M"),
                                          ({"M": 1000}, ValueError, "M"),
                                          ({"M": 8.0}, TypeError, "M"),
                                          ({"ef_construction": 0}, ValueError, "ef_construction"),
                                          ({"quantized": "yes"}, TypeError, "quantized"),
                                          ({"seed": -1}, ValueError, "seed"),
                                          ({"seed": 1.5}, TypeError, "seed"),
                                          ({"sq_bits": 6}, ValueError, "sq_bits"),
                                          ({"sq_bits": 0}, ValueError, "sq_bits"),
                                          ({"sq_bits": 4.0}, TypeError, "sq_bits"),
                                          ({"sq_bits": True}, TypeError, "sq_bits")])
def test_bad_hnsw_params(kw, exc, match):
    with pytest.raises(exc, match=match):
        ws.HNSWIndex(dim=4, **kw)


# -- filters --------------------------------------------------------------------------
@pytest.mark.parametrize("flt,exc", [
    ("abc", TypeError),
    (np.array([1.0, 2.0]), TypeError),
    (lambda i: True, TypeError),
    ({"a": 1}, TypeError),
    ({1, 2}, TypeError),
    (np.ones((2, 2), bool), ValueError),
    (np.ones((2, 2), np.int64), ValueError),
    (3.5, TypeError),
])
def test_bad_filter(filled, queries, flt, exc):
    with pytest.raises(exc, match="filter"):
        filled.search(queries, k=3, filter=flt)


# -- files ----------------------------------------------------------------------------
@pytest.fixture
def saved(kind, tmp_path):
    """A saved index big enough that the middle of the file is vector data."""
    idx = INDEXES[kind]()
    idx.add(make_clustered(2000, DIM, seed=5))
    path = tmp_path / "good.ws"
    idx.save(path)
    return path.read_bytes(), tmp_path


def _write(tmp_path, data: bytes):
    p = tmp_path / "bad.ws"
    p.write_bytes(data)
    return p


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no index file"):
        ws.load_index(tmp_path / "missing.ws")


def test_load_directory(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        ws.load_index(tmp_path)


def test_load_bad_path_type():
    with pytest.raises(TypeError, match="path"):
        ws.load_index(42)


def test_load_empty_file(tmp_path):
    with pytest.raises(ValueError, match="too short"):
        ws.load_index(_write(tmp_path, b""))


@pytest.mark.parametrize("fraction", [0.0001, 0.01, 0.5, 0.9, 0.999])
def test_load_truncated(saved, fraction):
    data, tmp_path = saved
    cut = max(1, int(len(data) * fraction))
    with pytest.raises(ValueError, match="not a valid warpsearch index file"):
        ws.load_index(_write(tmp_path, data[:cut]))
    with pytest.raises(ValueError, match="not a valid warpsearch index file"):
        ws.load_index(_write(tmp_path, data[:-1]))


@pytest.mark.parametrize("where", [0.25, 0.5, 0.75])
def test_load_flipped_bytes(saved, where):
    data, tmp_path = saved
    bad = bytearray(data)
    pos = int(len(data) * where)
    bad[pos:pos + 4] = bytes(b ^ 0xFF for b in bad[pos:pos + 4])
    with pytest.raises(ValueError, match="checksum|not a valid"):
        ws.load_index(_write(tmp_path, bytes(bad)))


def test_load_flipped_header_bytes(saved):
    data, tmp_path = saved
    for pos in range(0, 64, 3):
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        with pytest.raises(ValueError, match="not a valid"):
            ws.load_index(_write(tmp_path, bytes(bad)))


@pytest.mark.parametrize("size", [1, 100, 5000])
def test_load_random_bytes(tmp_path, size):
    rng = np.random.default_rng(size)
    with pytest.raises(ValueError, match="not a valid warpsearch index file"):
        ws.load_index(_write(tmp_path, rng.bytes(size)))


def test_load_random_bytes_with_valid_magic(saved):
    # a correct magic and version followed by garbage is still rejected cleanly
    data, tmp_path = saved
    rng = np.random.default_rng(1)
    bad = data[:16] + rng.bytes(len(data) - 16)
    with pytest.raises(ValueError, match="not a valid"):
        ws.load_index(_write(tmp_path, bad))


def test_good_file_still_loads_after_failures(saved):
    data, tmp_path = saved
    p = tmp_path / "ok.ws"
    p.write_bytes(data)
    assert len(ws.load_index(p)) == 2000
    assert len(ws.load_index(os.fspath(p))) == 2000


def test_save_to_missing_directory_raises(filled, tmp_path):
    with pytest.raises(ValueError, match="cannot open"):
        filled.save(tmp_path / "no" / "such" / "dir" / "x.ws")
    with pytest.raises(TypeError, match="path"):
        filled.save(None)


def test_get_vectors_unknown_id(filled):
    with pytest.raises(KeyError):
        filled.get_vectors([10**9])


def test_set_num_threads_errors():
    n = ws.get_num_threads()
    for bad, exc in ((0, ValueError), (-1, ValueError), ("2", TypeError), (2.0, TypeError),
                     (True, TypeError)):
        with pytest.raises(exc, match="threads"):
            ws.set_num_threads(bad)
    assert ws.get_num_threads() == n
