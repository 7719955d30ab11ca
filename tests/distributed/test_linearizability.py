# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The checker on known histories, then a recorded concurrent run of the cluster at
the strongest consistency (writes "all", reads "all")."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
from .linearizability import Op, check

INF = math.inf


def W(c, t0, t1, v, key="x"):
    return Op(c, t0, t1, "write", key, v)


def R(c, t0, t1, v, key="x"):
    return Op(c, t0, t1, "read", key, v)


@pytest.mark.parametrize("history", [
    [W(0, 0, 1, 1), R(1, 2, 3, 1)],                                # sequential
    [W(0, 0, 10, 1), R(1, 1, 2, None), R(2, 3, 4, 1)],             # read during a write
    [W(0, 0, 10, 1), W(1, 0, 10, 2), R(2, 11, 12, 1)],             # either order of writes
    [W(0, 0, 1, 1), W(1, 2, INF, 2), R(2, 3, 4, 2), R(2, 5, 6, 2)],  # unknown write seen
    [W(0, 0, 1, 1), W(1, 2, INF, 2), R(2, 3, 4, 1)],               # ... or not (yet)
    [R(0, 0, 1, None)],                                            # the initial value
    [W(0, 0, 5, 1, "a"), R(1, 1, 2, 1, "a"), W(2, 0, 1, 7, "b"), R(3, 2, 3, 7, "b")],
])
def test_checker_accepts_linearizable(history):
    assert check(history)


@pytest.mark.parametrize("history", [
    [W(0, 0, 1, 1), R(1, 2, 3, None)],                             # a completed write missed
    [W(0, 0, 10, 1), R(1, 1, 2, 1), R(2, 3, 4, None)],             # new value, then old again
    [R(0, 0, 1, 5)],                                               # a value never written
    [W(0, 0, 1, 1), W(0, 2, 3, 2), R(1, 4, 5, 1)],                 # overwritten value read
    [W(0, 0, 1, 1, "a"), R(1, 2, 3, 1, "a"), W(2, 0, 1, 2, "b"), R(3, 2, 3, 1, "b")],
])
def test_checker_rejects_non_linearizable(history):
    assert not check(history)


def test_checker_errors():
    with pytest.raises(ValueError, match="kind"):
        check([Op(0, 0, 1, "cas", "x", 1)])
    with pytest.raises(ValueError, match="returns before"):
        check([W(0, 5, 1, 1)])


def test_concurrent_history_is_linearizable(cluster_db):
    col = cluster_db.create_collection("lin", dim=4, shards=2, replication_factor=3,
                                       write_consistency="all")
    keys = [0, 1, 2]
    history, mu = [], threading.Lock()
    counter = iter(range(1, 10**9))

    def client(c):
        rng = np.random.default_rng(c)
        for _ in range(40):
            key = keys[int(rng.integers(len(keys)))]
            if rng.random() < 0.5:
                with mu:
                    v = next(counter)
                t0 = time.monotonic()
                try:
                    col.upsert([key], np.full((1, 4), float(v)), [{"v": v}])
                    t1 = time.monotonic()
                except Exception:  # noqa: BLE001 - outcome unknown
                    t1 = INF
                op = Op(c, t0, t1, "write", key, v)
            else:
                t0 = time.monotonic()
                rec = col.get([key], read_consistency="all")[0]
                t1 = time.monotonic()
                op = Op(c, t0, t1, "read", key, None if rec is None else rec.payload["v"])
            with mu:
                history.append(op)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(history) == 160
    writes = sum(op.kind == "write" for op in history)
    assert 40 < writes < 120 and all(op.ret != INF for op in history)
    assert check(history)
    # the same history with its last read made stale (it returns a value that a
    # write completed before it had overwritten) is caught
    i = max((j for j, op in enumerate(history) if op.kind == "read"),
            key=lambda j: history[j].call)
    op = history[i]
    ws_ = [w for w in history if w.kind == "write" and w.key == op.key and w.ret < op.call]
    stale = [a for a in ws_ if any(a.ret < b.call for b in ws_)]
    assert stale, "the run wrote too little to make a stale read"
    bad = list(history)
    bad[i] = op._replace(value=stale[0].value)
    assert not check(bad)
