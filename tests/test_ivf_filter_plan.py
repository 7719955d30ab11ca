# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Filtered IVF-PQ search whose filter is not spread evenly over the cells: recall
against exact filtered ground truth stays high and does not fall as nprobe rises, for a
filter concentrated in clusters far from every query, a uniform filter and a sparse one;
fixed and adaptive probing; L2 and cosine; with and without a refine store. The widening
statistics, and the per-cell bound surviving removes and a save/load round trip."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import exact_knn, recall_at_k

N, DIM, CLUSTERS, NQ, K, NLIST = 20_000, 32, 100, 100, 10, 128
NPROBES = (8, 12, 16, 32, 64)


@pytest.fixture(scope="module")
def data():
    """Clustered rows; queries from clusters 5.. only; three filters: the rows of
    clusters 0-4 (~5%, far from every query), a uniform 5% and a uniform 0.5%."""
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)
    labels = rng.integers(0, CLUSTERS, N)
    xb = (centres[labels] + 0.5 * rng.standard_normal((N, DIM))).astype(np.float32)
    xq = (centres[rng.integers(5, CLUSTERS, NQ)]
          + 0.5 * rng.standard_normal((NQ, DIM))).astype(np.float32)
    filters = {"far": np.flatnonzero(labels < 5),
               "uniform": np.flatnonzero(rng.random(N) < 0.05),
               "sparse": np.flatnonzero(rng.random(N) < 0.005)}
    return xb, xq, filters


_built: dict = {}


def index_for(xb, metric, refine):
    key = (metric, refine)
    if key not in _built:
        # Without a refine store the PQ estimates are the final distances: one 8-bit
        # sub-quantizer per dimension keeps them close to exact.
        kw = dict(nbits=4) if refine != "none" else dict(nbits=8, m=DIM)
        idx = ws.IVFPQIndex(DIM, metric, nlist=NLIST, refine=refine, **kw)
        idx.train(xb)
        idx.add(xb)
        _built[key] = idx
    return _built[key]


@pytest.mark.parametrize("refine", ["fp32", "none"])
@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize("which", ["far", "uniform", "sparse"])
def test_filtered_recall_never_falls(data, metric, refine, which):
    xb, xq, filters = data
    allowed = filters[which]
    idx = index_for(xb, metric, refine)
    _, gt = exact_knn(xb, xq, K, metric, allowed=allowed)
    for probe in ("fixed", "adaptive"):
        recalls = []
        for nprobe in NPROBES:
            _, I = idx.search(xq, K, nprobe=nprobe, filter=allowed, probe=probe)
            assert np.isin(I[I >= 0], allowed).all()
            recalls.append(recall_at_k(I, gt))
        assert min(recalls) >= 0.95, (probe, recalls)
        assert all(b >= a - 0.01 for a, b in zip(recalls, recalls[1:])), (probe, recalls)


def test_widening_stats(data):
    xb, xq, filters = data
    idx = index_for(xb, "l2", "fp32")
    idx.search(xq, K, nprobe=16, filter=filters["far"])
    info = idx.last_search_info
    assert info["plan"] == "filtered_ivf"
    # the 16 nearest cells of a query hold none of the filter: every query widens
    assert info["queries_widened"] == NQ
    assert info["cells_widened"] >= NQ
    assert 0 <= info["cells_exact"] <= info["cells_widened"]
    # all cells that hold allowed rows, at most
    far_cells = info["cells_widened"] / NQ
    assert far_cells <= NLIST - 16
    idx.search(xq, K, nprobe=16)
    info = idx.last_search_info
    assert info["plan"] == "ivf"
    assert info["queries_widened"] == info["cells_widened"] == info["cells_exact"] == 0


def test_bound_survives_remove_and_reload(data, tmp_path):
    xb, xq, filters = data
    allowed = filters["far"]
    idx = ws.IVFPQIndex(DIM, "l2", nlist=NLIST, nbits=4, refine="fp32")
    idx.train(xb)
    idx.add(xb)
    # removes leave the bound valid (it is not shrunk), later adds grow it
    gone = allowed[::3]
    assert idx.remove(gone) == len(gone)
    idx.add(xb[gone], ids=gone)
    _, gt = exact_knn(xb, xq, K, "l2", allowed=allowed)
    D1, I1 = idx.search(xq, K, nprobe=12, filter=allowed)
    assert recall_at_k(I1, gt) >= 0.95
    idx.save(tmp_path / "far.wsi")
    back = ws.load_index(tmp_path / "far.wsi")
    D2, I2 = back.search(xq, K, nprobe=12, filter=allowed)
    np.testing.assert_array_equal(I1, I2)
    np.testing.assert_allclose(D1, D2, rtol=1e-6)
    assert back.last_search_info["queries_widened"] == NQ


def test_costly_widening_takes_the_exact_scan(data):
    """A uniform 5% filter at nprobe 8: the bound leaves most cells open for some
    queries, whose widening would cost more than scoring the ~1k allowed rows; those
    queries take the exact scan, and the results match the exact filtered neighbours."""
    xb, xq, filters = data
    allowed = filters["uniform"]
    idx = index_for(xb, "l2", "fp32")
    _, gt = exact_knn(xb, xq, K, "l2", allowed=allowed)
    _, I = idx.search(xq, K, nprobe=8, filter=allowed, probe="fixed")
    info = idx.last_search_info
    assert info["plan"] == "filtered_ivf"
    assert 0 < info["queries_exact"] <= info["queries_widened"] <= NQ
    assert np.isin(I[I >= 0], allowed).all()
    assert recall_at_k(I, gt) >= 0.99
