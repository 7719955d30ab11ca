# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The replica op log on its own (no Ray): order, reopening, a torn tail, retention,
reset to a snapshot's sequence number; and the shard-key hash."""

from __future__ import annotations

import os

import numpy as np
import pytest

from warpsearch.cluster.oplog import OpLog
from warpsearch.cluster.router import RING, ShardMap, key_hash, needed


def test_append_after_and_reopen(tmp_path):
    log = OpLog(str(tmp_path), retention=1000, chunk_ops=4)
    for s in range(1, 11):
        log.append(s, ("upsert", [s], np.full((1, 2), s, np.float32), [None]))
    with pytest.raises(ValueError, match="record 12 after 10"):
        log.append(12, ("delete", [1]))
    got = log.after(3, limit=4)
    assert [s for s, _ in got] == [4, 5, 6, 7]
    assert got[0][1][0] == "upsert" and got[0][1][2][0, 0] == 4
    assert log.after(10) == [] and log.after(0, 100)[-1][0] == 10
    log.close()
    again = OpLog(str(tmp_path), retention=1000, chunk_ops=4)
    assert again.last == 10 and again.last_record()[0] == 10
    again.append(11, ("delete", [3]))
    assert [s for s, _ in again.after(8)] == [9, 10, 11]
    again.close()


def test_torn_tail_is_dropped(tmp_path):
    log = OpLog(str(tmp_path), retention=1000, chunk_ops=100)
    for s in range(1, 4):
        log.append(s, ("delete", [s]))
    log.close()
    chunk = [f for f in os.listdir(tmp_path) if f.startswith("ops-")][0]
    with open(tmp_path / chunk, "ab") as f:
        f.write(b"\x10\x00\x00\x00garbage")  # a record cut short by a crash
    again = OpLog(str(tmp_path), retention=1000, chunk_ops=100)
    assert again.last == 3
    again.append(4, ("delete", [4]))
    assert [s for s, _ in again.after(0)] == [1, 2, 3, 4]
    again.close()


def test_retention_and_reset(tmp_path):
    log = OpLog(str(tmp_path), retention=8, chunk_ops=4)
    for s in range(1, 31):
        log.append(s, ("delete", [s]))
    assert log.first > 1 and 30 - log.first + 1 >= 8
    assert log.after(0) is None  # deleted: a peer this far behind needs a snapshot
    assert [s for s, _ in log.after(log.first - 1)][-1] == 30
    log.reset(100)
    assert log.last == 100 and log.after(50) is None and log.after(100) == []
    log.append(101, ("delete", [1]))
    log.close()
    again = OpLog(str(tmp_path))
    assert again.base == 100 and again.last == 101
    again.close()


def test_key_hash_and_ranges():
    assert key_hash(5) == key_hash(5) != key_hash("5")
    assert key_hash(True) != key_hash(1)
    assert 0 <= key_hash("tenant-a") < RING
    m = ShardMap(3)
    assert [(s.lo, s.hi) for s in m] == [(0, RING // 3), (RING // 3, 2 * RING // 3),
                                         (2 * RING // 3, RING)]
    assert m.of(0).index == 0 and m.of(RING - 1).index == 2
    assert [needed(c, 3) for c in ("one", "quorum", "all")] == [1, 2, 3]
    assert needed("quorum", 2) == 2 and needed("quorum", 4) == 3
    with pytest.raises(ValueError, match="write_consistency"):
        needed("two", 3)
