# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The one top-k merge (``_core.merge_topk``) against a NumPy reference: ties keep the
earlier column, -1 padding and NaN are ignored, repeated ids are kept once at their best
occurrence, short rows are padded; shapes and dtypes are checked."""

from __future__ import annotations

import numpy as np
import pytest
from warpsearch import _core


def reference(D, I, k, larger):
    nq = D.shape[0]
    pad = -np.inf if larger else np.inf
    outD = np.full((nq, k), pad, np.float32)
    outI = np.full((nq, k), -1, np.int64)
    for r in range(nq):
        cols = [j for j in range(D.shape[1]) if I[r, j] >= 0 and not np.isnan(D[r, j])]
        key = (lambda j: (-D[r, j], j)) if larger else (lambda j: (D[r, j], j))
        got, seen = 0, set()
        for j in sorted(cols, key=key):
            if I[r, j] in seen:
                continue
            seen.add(I[r, j])
            outD[r, got], outI[r, got] = D[r, j], I[r, j]
            got += 1
            if got == k:
                break
    return outD, outI


def sources(rng, nq, ks, larger, id_range=50):
    """Concatenated per-source result rows: sorted, padded, with ties and repeated ids."""
    parts_d, parts_i = [], []
    for ki in ks:
        d = rng.integers(0, 8, (nq, ki)).astype(np.float32)  # few values: many ties
        d = -np.sort(-d, axis=1) if larger else np.sort(d, axis=1)
        ids = rng.integers(0, id_range, (nq, ki)).astype(np.int64)
        short = rng.random((nq, ki)) < 0.2
        ids[short] = -1
        d[short] = -np.inf if larger else np.inf
        parts_d.append(d)
        parts_i.append(ids)
    return np.ascontiguousarray(np.hstack(parts_d)), np.ascontiguousarray(np.hstack(parts_i))


@pytest.mark.parametrize("larger", [False, True])
@pytest.mark.parametrize("nq,ks,k", [(1, [10, 10, 10, 10], 10), (37, [5, 7, 3], 10),
                                     (300, [20, 20, 20, 20, 20], 10), (5, [4], 9),
                                     (2000, [50, 50], 100), (3, [1, 1], 1)])
def test_matches_reference(larger, nq, ks, k):
    rng = np.random.default_rng(nq * 7 + k + larger)
    D, I = sources(rng, nq, ks, larger, id_range=max(5, 2 * sum(ks)))
    got_d, got_i = _core.merge_topk(D, I, k, larger)
    ref_d, ref_i = reference(D, I, k, larger)
    assert got_d.dtype == np.float32 and got_i.dtype == np.int64
    assert got_d.shape == got_i.shape == (nq, k)
    np.testing.assert_array_equal(got_i, ref_i)
    np.testing.assert_array_equal(got_d, ref_d)


def test_ties_duplicates_padding_nan():
    D = np.array([[1.0, 0.5, 0.5, np.nan, 0.5, 2.0, 0.1]], np.float32)
    I = np.array([[3, 4, 7, 9, 4, -1, 8]], np.int64)
    d, i = _core.merge_topk(D, I, 5, False)
    # 0.1 first; the 0.5 tie in column order (4 then 7; the second 4 dropped); NaN and -1 ignored
    assert i.tolist() == [[8, 4, 7, 3, -1]]
    assert d.tolist() == [[np.float32(0.1), 0.5, 0.5, 1.0, np.inf]]
    d, i = _core.merge_topk(D, I, 3, True)
    assert i.tolist() == [[3, 4, 7]]  # larger is better: 1.0, then the 0.5 tie
    d, i = _core.merge_topk(np.zeros((2, 0), np.float32), np.zeros((2, 0), np.int64), 2, True)
    assert i.tolist() == [[-1, -1], [-1, -1]] and np.isneginf(d).all()


def test_input_checks():
    D = np.zeros((2, 3), np.float32)
    I = np.zeros((2, 3), np.int64)
    with pytest.raises(TypeError, match="float32"):
        _core.merge_topk(D.astype(np.float64), I, 2, False)
    with pytest.raises(TypeError, match="int64"):
        _core.merge_topk(D, I.astype(np.int32), 2, False)
    with pytest.raises(ValueError, match="same shape"):
        _core.merge_topk(D, I[:, :2].copy(), 2, False)
    with pytest.raises(ValueError, match="2-D"):
        _core.merge_topk(D.ravel(), I.ravel(), 2, False)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.merge_topk(np.zeros((3, 2), np.float32).T, I, 2, False)
    with pytest.raises(ValueError, match="k must be > 0"):
        _core.merge_topk(D, I, 0, False)
    with pytest.raises(TypeError, match="k must be an int"):
        _core.merge_topk(D, I, 2.0, False)


# -- exact_topk: the exact scan of rows held by the caller --------------------------

def _exact_reference(V, Q, k, metric, allow):
    V64, Q64 = V.astype(np.float64), Q.astype(np.float64)
    if metric == "l2":
        s = ((Q64[:, None, :] - V64[None]) ** 2).sum(-1)
    else:
        s = -(Q64 @ V64.T)
        if metric == "cosine":
            s /= np.linalg.norm(V64, axis=1)[None]
    if allow is not None:
        s[:, ~allow] = np.inf
    order = np.argsort(s, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(s, order, 1)


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("nq", [1, 5])
def test_exact_topk_matches_numpy(metric, nq):
    rng = np.random.default_rng(7)
    n, d, k = 700, 37, 12
    V = rng.standard_normal((n, d)).astype(np.float32)
    Q = rng.standard_normal((nq, d)).astype(np.float32)
    if metric == "cosine":
        Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    allow = rng.random(n) < 0.3
    for norms in (None, np.linalg.norm(V, axis=1).astype(np.float32)):
        if norms is not None and metric != "cosine":
            continue
        for a in (None, allow):
            D, I = _core.exact_topk(V, Q, k, metric, norms, a)
            order, s = _exact_reference(V, Q, k, metric, a)
            np.testing.assert_array_equal(I, order)
            want = s if metric == "l2" else -s
            np.testing.assert_allclose(D, want, rtol=1e-4, atol=1e-4)


def test_exact_topk_pads_short_rows_and_checks_inputs():
    V = np.eye(4, dtype=np.float32)[:3]
    D, I = _core.exact_topk(V, V[:1], 5, "ip")
    assert I[0, 0] == 0 and sorted(I[0, 1:3].tolist()) == [1, 2]  # rows 1 and 2 tie at 0
    assert I[0, 3:].tolist() == [-1, -1] and np.isneginf(D[0, 3:]).all()
    D, I = _core.exact_topk(V, V[:1], 2, "l2", allow=np.zeros(3, bool))
    assert I.tolist() == [[-1, -1]] and np.isposinf(D).all()
    with pytest.raises(ValueError, match="dimension"):
        _core.exact_topk(V, np.ones((1, 3), np.float32), 2, "l2")
    with pytest.raises(ValueError, match="k must be > 0"):
        _core.exact_topk(V, V, 0, "l2")
    with pytest.raises(ValueError, match="allow must be 1-D of length 3"):
        _core.exact_topk(V, V, 1, "l2", allow=np.ones(2, bool))
    with pytest.raises(TypeError, match="float32"):
        _core.exact_topk(V.astype(np.float64), V, 1, "l2")
    with pytest.raises(ValueError):
        _core.exact_topk(V, V, 1, "hamming")
