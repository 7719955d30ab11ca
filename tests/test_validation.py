# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""One rule per input, one exception type per rule, wherever the input is taken:
a non-integer count is a TypeError, an integer out of range a ValueError, and the
message names the parameter."""

from __future__ import annotations

import numpy as np
import pytest

import warpsearch as ws
from warpsearch._validation import as_int, as_nonnegative_int, as_positive_int

NOT_INTEGERS = [2.0, "3", None, True, np.float32(3)]


@pytest.mark.parametrize("bad", NOT_INTEGERS)
def test_non_integer_is_a_type_error(bad):
    for check in (as_positive_int, as_nonnegative_int):
        with pytest.raises(TypeError, match="width must be an integer"):
            check(bad, "width")


def test_ranges_are_value_errors():
    assert as_positive_int(np.int64(3), "k") == 3 and type(as_positive_int(np.int64(3), "k")) is int
    assert as_nonnegative_int(0, "offset") == 0
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        as_positive_int(0, "k")
    with pytest.raises(ValueError, match="offset must be a non-negative integer, got -1"):
        as_nonnegative_int(-1, "offset")
    with pytest.raises(ValueError, match="n is too large"):
        as_nonnegative_int(2**31, "n")
    assert as_nonnegative_int(2**40, "limit", maximum=None) == 2**40
    with pytest.raises(ValueError, match="x must be >= 5"):
        as_int(4, "x", minimum=5)


@pytest.fixture
def col(tmp_path):
    db = ws.connect(tmp_path / "db")
    c = db.create_collection("c", dim=4, metric="l2", index=ws.FlatConfig())
    c.upsert([1, 2], np.eye(2, 4, dtype=np.float32))
    yield c
    db.close()


def test_database_counts_follow_the_rule(col, tmp_path):
    # these raised ValueError for a non-integer before: now TypeError, as in the indexes
    for call in (lambda: col.search(np.zeros(4), k="3"),
                 lambda: col.search(np.zeros(4), ef=2.5),
                 lambda: col.scroll(limit=1.5),
                 lambda: col.upsert([3], np.zeros((1, 4)), batch_size="10"),
                 lambda: ws.HNSWConfig(M=8.0),
                 lambda: ws.HNSWConfig(ef_search=None)):
        with pytest.raises(TypeError, match="must be an integer"):
            call()
    for call, name in ((lambda: col.search(np.zeros(4), k=0), "k"),
                       (lambda: col.search(np.zeros(4), ef=-2), "ef"),
                       (lambda: col.scroll(offset=-1), "offset"),
                       (lambda: col.upsert([3], np.zeros((1, 4)), batch_size=0), "batch_size"),
                       (lambda: ws.HNSWConfig(ef_construction=0), "ef_construction")):
        with pytest.raises(ValueError, match=f"{name} must be a"):
            call()
    with ws.connect(tmp_path / "db2") as db:
        with pytest.raises(TypeError, match="dim must be an integer"):
            db.create_collection("d", dim="4")
        with pytest.raises(ValueError, match="segment_size"):
            db.create_collection("d", dim=4, segment_size=2**31)
    with pytest.raises(TypeError, match="fsync_interval_ms"):
        ws.connect(tmp_path / "db3", fsync_interval_ms=1.0)


def test_index_seeds_follow_the_rule():
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        ws.HNSWIndex(dim=4, seed=-1)  # TypeError before: a negative int is a bad value
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        ws.IVFPQIndex(dim=4, nlist=2, seed=-1)
    with pytest.raises(TypeError, match="iters must be an integer"):
        ws.kmeans(np.zeros((4, 2), np.float32), 2, iters=2.0)


def test_bool_masks_are_read_in_place():
    """A contiguous bool mask reaches the engine as a uint8 view of the same memory
    (no per-search copy of a segment-sized mask); a strided one is copied; searching
    leaves the caller's mask as it was."""
    import warpsearch as ws
    from warpsearch._validation import as_filter

    m = np.zeros(1000, bool)
    m[::3] = True
    ids, u8 = as_filter(m)
    assert ids is None and u8.dtype == np.uint8 and np.shares_memory(u8, m)
    _, strided = as_filter(m[::2])
    assert strided.flags["C_CONTIGUOUS"] and (strided == m[::2]).all()
    idx = ws.FlatIndex(4)
    idx.add(np.random.default_rng(0).standard_normal((1000, 4)).astype(np.float32))
    before = m.copy()
    _, I = idx.search(np.zeros(4, np.float32), k=20, filter=m)
    assert (I % 3 == 0).all() and (m == before).all()
