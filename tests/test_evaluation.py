# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""warpsearch.contrib.evaluation: the one exact ground truth and recall."""

from __future__ import annotations

import numpy as np
import pytest

from warpsearch.contrib.evaluation import exact_knn, recall_at_k


def _brute(b, q, metric):
    b, q = np.asarray(b, np.float64), np.asarray(q, np.float64)
    if metric == "cosine":
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    if metric == "l2":
        return ((q[:, None] - b[None]) ** 2).sum(-1)
    return q @ b.T


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_exact_knn_matches_float64_sort(metric):
    rng = np.random.default_rng(1)
    b = rng.standard_normal((300, 8))
    q = rng.standard_normal((7, 8))
    s = _brute(b, q, metric)
    key = s if metric == "l2" else -s
    D, I = exact_knn(b, q, 5, metric, block_bytes=4096)  # several query blocks
    np.testing.assert_array_equal(I, np.argsort(key, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(D, np.take_along_axis(s, I, axis=1), rtol=1e-9, atol=1e-9)


def test_ties_go_to_the_earlier_row():
    # integer data: many equal distances across the k-th place
    rng = np.random.default_rng(2)
    b = rng.integers(0, 2, (400, 3)).astype(np.float32)
    q = rng.integers(0, 2, (20, 3)).astype(np.float32)
    _, I = exact_knn(b, q, 10, "l2")
    np.testing.assert_array_equal(I, np.argsort(_brute(b, q, "l2"), axis=1,
                                                kind="stable")[:, :10])


def test_ids_allowed_and_padding():
    b = np.array([[0.0], [1.0], [2.0], [3.0]])
    D, I = exact_knn(b, [[2.9]], 3, "l2", ids=[10, 11, 12, 13], allowed=[10, 13])
    assert I.tolist() == [[13, 10, -1]]
    assert D[0, 2] == np.inf and D[0, 0] == pytest.approx(0.01)
    D, I = exact_knn(b, [[1.0]], 2, "ip", allowed=[])
    assert I.tolist() == [[-1, -1]] and D[0, 0] == -np.inf
    with pytest.raises(ValueError, match="metric"):
        exact_knn(b, [[1.0]], 2, "hamming")
    with pytest.raises(ValueError, match="k"):
        exact_knn(b, [[1.0]], 0, "l2")


def test_recall_at_k():
    gt = np.array([[1, 2, 3], [4, 5, -1]])
    assert recall_at_k(np.array([[3, 9, 1], [5, -1, -1]]), gt) == pytest.approx(3 / 5)
    assert recall_at_k(np.array([[1, 2, 3], [4, 5, 6]]), gt, k=2) == 1.0
    assert recall_at_k(np.array([-1, -1]), np.array([-1, -1])) == 1.0  # nothing to find
    with pytest.raises(ValueError, match="rows"):
        recall_at_k(np.zeros((2, 3)), np.zeros((3, 3)))
