# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The gather step on its own (no Ray): per-shard top-k lists, padded where a shard
has fewer than k, merged into one BatchResults."""

from __future__ import annotations

import numpy as np

from warpsearch import Hit
from warpsearch.cluster.merge import merge_shards


def _shard(ids, scores, pays=None):
    I = np.array(ids, dtype=object)
    D = np.array(scores, dtype=np.float32)
    return I, D, pays, 1


def test_merge_l2_with_padding_and_payloads():
    a = _shard([["a", 3], [None, None]], [[0.5, 2.0], [np.nan, np.nan]],
               [[{"s": 0}, {"s": 0}], []])
    b = _shard([[7, None], ["z", 8]], [[1.0, np.nan], [0.1, 0.2]],
               [[{"s": 1}], [{"s": 1}, None]])
    res = merge_shards([a, b], 2, 3, larger_is_better=False, with_payload=True)
    assert res[0] == [Hit("a", 0.5, {"s": 0}), Hit(7, 1.0, {"s": 1}), Hit(3, 2.0, {"s": 0})]
    assert res[1] == [Hit("z", np.float32(0.1), {"s": 1}), Hit(8, np.float32(0.2), None)]
    assert res.ids.tolist() == [["a", 7, 3], ["z", 8, None]]


def test_merge_similarity_keeps_largest_and_no_payloads():
    a = _shard([[1, 2]], [[0.9, 0.1]])
    b = _shard([[3, 4]], [[0.95, 0.5]])
    res = merge_shards([a, b], 1, 2, larger_is_better=True, with_payload=False)
    assert [h.id for h in res[0]] == [3, 1] and all(h.payload is None for h in res[0])


def test_merge_nothing():
    res = merge_shards([], 3, 5, larger_is_better=False, with_payload=False)
    assert len(res) == 3 and all(row == [] for row in res)
