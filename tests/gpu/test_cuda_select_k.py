# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""GPU select-k (warp bitonic queues for k <= 256, radix select above) against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from warpsearch import _core

pytestmark = pytest.mark.gpu


def _check(vals, k, select_min):
    D, I = _core.gpu_select_k(vals, k, select_min, 0)
    rows, cols = vals.shape
    m = min(k, cols)
    ref = np.sort(vals, axis=1)
    ref = ref[:, :m] if select_min else ref[:, ::-1][:, :m]
    np.testing.assert_array_equal(D[:, :m], ref)
    assert (I[:, :m] >= 0).all() and (I[:, :m] < cols).all()
    np.testing.assert_array_equal(np.take_along_axis(vals, I[:, :m], axis=1), D[:, :m])
    for row in I[:, :m]:
        assert np.unique(row).size == m
    assert (I[:, m:] == -1).all()
    assert (D[:, m:] == (np.inf if select_min else -np.inf)).all()


@pytest.mark.parametrize("k", [1, 10, 32, 100, 256, 257, 1000, 2048])
@pytest.mark.parametrize("select_min", [True, False])
def test_select_k_matches_numpy(k, select_min):
    rng = np.random.default_rng(k)
    for rows, cols in ((7, 5000), (300, 300), (2, 100_000), (5, max(1, k // 2))):
        _check(rng.standard_normal((rows, cols)).astype(np.float32), k, select_min)


@pytest.mark.parametrize("k", [5, 200, 1500])
def test_select_k_ties_and_duplicates(k):
    rng = np.random.default_rng(7)
    vals = rng.integers(0, 4, size=(6, 3000)).astype(np.float32)  # heavy ties
    vals[0] = 1.0  # one constant row
    _check(vals, k, True)
    _check(-vals, k, False)


def test_select_k_rejects_bad_k():
    v = np.zeros((2, 10), np.float32)
    with pytest.raises(ValueError):
        _core.gpu_select_k(v, 0, True, 0)
    with pytest.raises(ValueError):
        _core.gpu_select_k(v, _core.gpu_max_k + 1, True, 0)
