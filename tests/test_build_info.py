# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""build_info(), thread settings and SIMD dispatch (same results at every level)."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import (
    METRICS,
    assert_exact,
    exact_knn,
    make_clustered,
    make_queries,
    recall_at_k,
)
from warpsearch import _core


def test_build_info_keys_and_types():
    info = ws.build_info()
    expected = {"version": str, "simd_level": str, "simd_best": str, "simd_compiled": list,
                "cuda_compiled": bool, "cuda_devices": int, "threads": int, "openmp": bool,
                "thread_pool": str}
    assert set(expected) <= set(info), f"missing keys: {set(expected) - set(info)}"
    for key, typ in expected.items():
        assert isinstance(info[key], typ), f"{key}: {type(info[key]).__name__}"
    assert info["version"] == ws.__version__
    assert info["threads"] == ws.get_num_threads() >= 1
    assert info["cuda_devices"] >= 0
    if not info["cuda_compiled"]:
        assert info["cuda_devices"] == 0, "a build without CUDA must report zero devices"
    # build_info returns a fresh dict: callers may change it freely
    info["threads"] = -1
    assert ws.build_info()["threads"] >= 1


def test_simd_level_is_a_compiled_isa():
    info = ws.build_info()
    assert "generic" in info["simd_compiled"]
    assert info["simd_level"] in info["simd_compiled"]
    assert info["simd_best"] in info["simd_compiled"]
    assert len(set(info["simd_compiled"])) == len(info["simd_compiled"])


def test_num_threads_round_trip():
    n = ws.get_num_threads()
    try:
        for t in (1, 3, 2, np.int64(1).item()):
            ws.set_num_threads(t)
            assert ws.get_num_threads() == t
            assert ws.build_info()["threads"] == t
        # work still runs, and gives the same answer, with one thread and with several
        xb = make_clustered(3000, 16, seed=1)
        xq = make_queries(64, 16, seed=1)
        res = []
        for t in (1, 4):
            ws.set_num_threads(t)
            idx = ws.FlatIndex(dim=16)
            idx.add(xb)
            res.append(idx.search(xq, k=5))
        np.testing.assert_array_equal(res[0][1], res[1][1])
        np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-6, atol=1e-5)
    finally:
        ws.set_num_threads(n)
    assert ws.get_num_threads() == n


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), ("2", TypeError),
                                     (1.0, TypeError), (None, TypeError), (False, TypeError)])
def test_num_threads_errors(bad, exc):
    n = ws.get_num_threads()
    with pytest.raises(exc, match="threads"):
        ws.set_num_threads(bad)
    assert ws.get_num_threads() == n


def test_unknown_simd_level_rejected():
    level = _core.simd_level()
    with pytest.raises(ValueError, match="SIMD level"):
        _core.set_simd_level("sse9")
    assert _core.simd_level() == level


def _supported_levels():
    """Compiled ISAs the CPU can run (trying each one), in compiled order."""
    current = _core.simd_level()
    levels = []
    try:
        for level in _core.simd_compiled():
            try:
                _core.set_simd_level(level)
            except ValueError:
                continue  # compiled in but not supported by this CPU
            levels.append(level)
    finally:
        _core.set_simd_level(current)
    return levels


@pytest.fixture
def restore_simd():
    level = _core.simd_level()
    yield
    _core.set_simd_level(level)
    assert _core.simd_level() == level


def test_generic_always_supported(restore_simd):
    assert "generic" in _supported_levels()
    _core.set_simd_level("generic")
    assert _core.simd_level() == "generic"


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dim", [7, 64, 100])
def test_flat_same_results_at_every_simd_level(restore_simd, metric, dim):
    xb = make_clustered(2000, dim, seed=dim)
    xq = make_queries(40, dim, seed=dim)
    idx = ws.FlatIndex(dim=dim, metric=metric)
    idx.add(xb)
    ref = None
    for level in _supported_levels():
        _core.set_simd_level(level)
        assert _core.simd_level() == level
        D, I = idx.search(xq, k=10)
        assert_exact(D, I, xb, xq, 10, metric)
        if ref is None:
            ref = D
        np.testing.assert_allclose(D, ref, rtol=1e-4, atol=1e-3, err_msg=f"level {level}")


@pytest.mark.parametrize("quantized, sq_bits", [(True, 8), (True, 4), (False, None)])
@pytest.mark.parametrize("metric", METRICS)
def test_hnsw_same_results_at_every_simd_level(restore_simd, metric, quantized, sq_bits):
    dim = 48
    xb = make_clustered(4000, dim, seed=4)
    xq = make_queries(100, dim, seed=4)
    _, gt = exact_knn(xb, xq, 10, metric)
    levels = _supported_levels()
    for build_level in (levels[0], levels[-1]):
        # an index built with one ISA is searched with every ISA
        _core.set_simd_level(build_level)
        idx = ws.HNSWIndex(dim=dim, metric=metric, quantized=quantized, ef_construction=100,
                           sq_bits=sq_bits)
        idx.add(xb)
        ref = None
        for level in levels:
            _core.set_simd_level(level)
            D, I = idx.search(xq, k=10, ef=64)
            r = recall_at_k(I, gt, 10)
            assert r >= 0.95, f"built with {build_level}, searched with {level}: recall {r}"
            if ref is None:
                ref = (D, I)
            # the traversal may differ by a near tie; the answers agree almost everywhere
            same = (I == ref[1]).mean()
            assert same >= 0.97, f"{level} vs {levels[0]}: {same:.3f} of ids agree"
            both = I == ref[1]
            np.testing.assert_allclose(D[both], ref[0][both], rtol=1e-4, atol=1e-3)
