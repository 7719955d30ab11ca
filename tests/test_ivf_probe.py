# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Adaptive probing of IVF-PQ cells: the calibration table, the probing rule against a
NumPy reference, the average number of cells it visits, recall against fixed probing,
persistence, the fixed mode and errors."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import exact_knn, make_clustered, make_queries, recall_at_k

N, DIM, NQ, K, NLIST = 20_000, 32, 300, 10, 64
CLUSTERS, SPREAD = 200, 0.6  # more clusters than cells: neighbours straddle cells


@pytest.fixture(scope="module")
def data():
    return (make_clustered(N, DIM, n_clusters=CLUSTERS, seed=3, spread=SPREAD),
            make_queries(NQ, DIM, n_clusters=CLUSTERS, seed=3, spread=SPREAD))


_built: dict = {}


@pytest.fixture(scope="module")
def built(data):
    xb, _ = data

    def get(metric="l2"):
        if metric not in _built:
            idx = ws.IVFPQIndex(DIM, metric, nlist=NLIST, nbits=4, refine="fp32")
            idx.train(xb)
            idx.add(xb)
            _built[metric] = idx
        return _built[metric]

    return get


def gap_for(table: np.ndarray, nprobe: int) -> float:
    """The index's gap for nprobe: the table entry, or linear between two entries."""
    P, g = table[:, 0], table[:, 1]
    assert P[0] <= nprobe <= P[-1]
    return float(np.interp(nprobe, P, g))


def test_calibration_table(built):
    for metric in ("l2", "ip"):
        t = built(metric).probe_gaps()
        assert t.ndim == 2 and t.shape[1] == 2 and t.dtype == np.float32
        # every nprobe from 2 to 8, then a 1.25x grid up to nlist - 1
        assert t[:7, 0].tolist() == [2, 3, 4, 5, 6, 7, 8]
        assert t[-1, 0] == NLIST - 1 and (np.diff(t[:, 0]) > 0).all()
        assert (t[:, 1] >= 0).all() and (np.diff(t[:, 1]) >= 0).all()


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_average_cells_match_nprobe(built, data, metric):
    # Queries from the distribution of the training rows visit nprobe cells on average
    # (the calibration's target), each between 1 and 2 * nprobe.
    _, xq = data
    idx = built(metric)
    for nprobe in (2, 4, 8, 16):
        idx.search(xq, k=K, nprobe=nprobe, refine_factor=4)
        info = idx.last_search_info
        assert info["probe"] == "adaptive"
        mean = info["lists_probed"] / NQ
        assert abs(mean - nprobe) <= 0.1 * nprobe, (nprobe, mean)


def test_probing_rule_matches_numpy(built, data):
    # With every candidate re-ranked exactly (refine fp32, k * refine_factor above the
    # size of the probed cells), the results are the exact k nearest among the probed
    # cells: those of the 2 * nprobe nearest whose squared distance exceeds the nearest
    # one's by at most the calibrated gap.
    xb, xq = data
    idx = built("l2")
    c = idx.centroids().astype(np.float64)
    xd, qd = xb.astype(np.float64), xq.astype(np.float64)
    cell = ((xd**2).sum(1)[:, None] - 2 * xd @ c.T + (c**2).sum(1)[None, :]).argmin(1)
    dq = (qd**2).sum(1)[:, None] - 2 * qd @ c.T + (c**2).sum(1)[None, :]
    order = np.argsort(dq, axis=1, kind="stable")
    ds = np.take_along_axis(dq, order, axis=1)
    for nprobe in (3, 9):  # 9 lies between the table's 8 and 10: interpolated gap
        gap = gap_for(idx.probe_gaps(), nprobe)
        D, I = idx.search(xq, k=K, nprobe=nprobe, refine_factor=1000)
        same_ids = same_cells = 0
        for i in range(NQ):
            w = 2 * nprobe
            probed = order[i, :w][ds[i, :w] - ds[i, 0] <= gap]
            members = np.flatnonzero(np.isin(cell, probed))
            assert len(members) <= K * 1000
            d = ((xd[members] - qd[i]) ** 2).sum(1)
            want = members[np.argsort(d, kind="stable")[:K]]
            same_ids += set(want.tolist()) == set(I[i].tolist())
            idx.search(xq[i], k=K, nprobe=nprobe, refine_factor=1)  # its cell count alone
            same_cells += idx.last_search_info["lists_probed"] == len(probed)
        # float32 distances in the index: a cell at the gap's edge may fall either way
        assert same_ids >= 0.98 * NQ and same_cells >= 0.98 * NQ, (nprobe, same_ids, same_cells)


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_adaptive_recall_at_least_fixed(built, data, metric):
    xb, xq = data
    idx = built(metric)
    _, gt = exact_knn(xb, xq, K, metric)
    for nprobe in (2, 4, 8):
        _, Ia = idx.search(xq, k=K, nprobe=nprobe, refine_factor=8)
        evals_a = idx.last_search_info["distance_evals"]
        _, If = idx.search(xq, k=K, nprobe=nprobe, refine_factor=8, probe="fixed")
        info = idx.last_search_info
        assert info["probe"] == "fixed" and info["lists_probed"] == NQ * nprobe
        assert recall_at_k(Ia, gt) >= recall_at_k(If, gt)
        assert evals_a <= 1.1 * info["distance_evals"]


def test_fixed_outside_calibrated_range(built, data):
    # nprobe = 1 (the nearest cell), and nprobe >= nlist (every cell), are fixed.
    _, xq = data
    idx = built("l2")
    D1, I1 = idx.search(xq, k=K, nprobe=1)
    assert idx.last_search_info["probe"] == "fixed"
    assert idx.last_search_info["lists_probed"] == NQ
    D2, I2 = idx.search(xq, k=K, nprobe=1, probe="fixed")
    np.testing.assert_array_equal(I1, I2)
    idx.search(xq[:5], k=K, nprobe=NLIST)
    info = idx.last_search_info
    assert info["probe"] == "fixed" and info["lists_probed"] == 5 * NLIST


def test_save_load_keeps_calibration(built, data, tmp_path):
    _, xq = data
    idx = built("ip")
    path = str(tmp_path / "probe.wsi")
    idx.save(path)
    back = ws.load_index(path)
    np.testing.assert_array_equal(back.probe_gaps(), idx.probe_gaps())
    D1, I1 = idx.search(xq, k=K, nprobe=6)
    D2, I2 = back.search(xq, k=K, nprobe=6)
    np.testing.assert_array_equal(I1, I2)
    np.testing.assert_allclose(D1, D2, rtol=1e-6)


def test_untrained_and_tiny_indexes():
    assert ws.IVFPQIndex(8, nlist=4).probe_gaps().shape == (0, 2)
    # nlist = 2: nothing to calibrate, probing is fixed
    x = make_clustered(500, 8, seed=1)
    idx = ws.IVFPQIndex(8, nlist=2, nbits=4)
    idx.train(x)
    idx.add(x)
    assert idx.probe_gaps().shape == (0, 2)
    idx.search(x[:4], k=3, nprobe=2)
    assert idx.last_search_info["probe"] == "fixed"


def test_probe_errors(built, data):
    _, xq = data
    idx = built("l2")
    with pytest.raises(ValueError, match="probe"):
        idx.search(xq, k=K, probe="sometimes")
    with pytest.raises(TypeError):
        idx.search(xq, k=K, probe=1)
