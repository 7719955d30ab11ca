# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Shared test data and exact ground truth.

Everything here is generated (fixed seeds); no test reads a dataset from disk.
Ground truth is computed with NumPy in float64 so it does not share code with
the engine under test.
"""

from __future__ import annotations

import contextlib
import ctypes

import numpy as np
import pytest
import warpsearch as ws

METRICS = ("l2", "ip", "cosine")


@contextlib.contextmanager
def simd_level(level: str):
    """Runs the block on the kernels of ``level`` (skips the test when this CPU lacks
    it), then restores the level in use."""
    from warpsearch import _core
    before = ws.build_info()["simd_level"]
    try:
        _core.set_simd_level(level)
    except ValueError:
        pytest.skip(f"{level} not supported by this CPU")
    try:
        yield
    finally:
        _core.set_simd_level(before)


def _test_hooks_mark():
    """Skips a test of the test-only entry points (``_core._ProductQuantizer``,
    ``_quantize_lut``, ``_pack_fastscan``, ...) where the build lacks them: they are
    compiled only into test builds (CMake WARPSEARCH_TEST_HOOKS=ON, or the CUDA emulator
    build that CI runs them in), never into the wheel. With WARPSEARCH_REQUIRE_TEST_HOOKS=1
    a build without them fails those tests instead."""
    import os
    from warpsearch import _core
    have = hasattr(_core, "_pack_fastscan")
    if not have and os.environ.get("WARPSEARCH_REQUIRE_TEST_HOOKS") == "1":
        return pytest.mark.usefixtures("_missing_test_hooks")
    return pytest.mark.skipif(not have, reason="test-only entry points are not in this build "
                              "(CMake WARPSEARCH_TEST_HOOKS=ON or the CUDA emulator build has them)")


@pytest.fixture
def _missing_test_hooks():
    pytest.fail("WARPSEARCH_REQUIRE_TEST_HOOKS=1 but this build has no test-only entry points")


needs_test_hooks = _test_hooks_mark()


class EmulatorMemory:
    """Device memory of the CUDA emulator build (plain host memory there), from the test
    hooks exported by that build only: device-pointer entry points get tested on machines
    without a GPU. ``available`` is false in any other build."""

    def __init__(self):
        self.available = False
        try:
            lib = ctypes.CDLL(ws._core.__file__)
            self._malloc, self._free = lib.ws_emu_test_malloc, lib.ws_emu_test_free
        except (OSError, AttributeError):
            return
        self._malloc.restype, self._malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
        self._free.restype, self._free.argtypes = ctypes.c_int, [ctypes.c_void_p]
        self._live = []
        self.available = True

    def upload(self, a: np.ndarray) -> int:
        """A device copy of ``a``; returns its address."""
        a = np.ascontiguousarray(a)
        p = self.empty(a.nbytes)
        ctypes.memmove(p, a.ctypes.data, a.nbytes)
        return p

    def empty(self, nbytes: int) -> int:
        p = self._malloc(max(int(nbytes), 1))
        assert p, "emulator allocation failed"
        self._live.append(p)
        return p

    def download(self, p: int, shape, dtype) -> np.ndarray:
        out = np.empty(shape, dtype)
        ctypes.memmove(out.ctypes.data, p, out.nbytes)
        return out

    def free_all(self) -> None:
        while self.available and self._live:
            self._free(self._live.pop())


@pytest.fixture
def emulator_memory():
    """EmulatorMemory, freed after the test; skips the test outside the emulator build."""
    mem = EmulatorMemory()
    if not mem.available:
        pytest.skip("needs the CUDA emulator build (on a GPU, device arrays are tested "
                    "with CuPy/PyTorch)")
    try:
        yield mem
    finally:
        mem.free_all()


# -- data -----------------------------------------------------------------
def make_clustered(n: int, dim: int, n_clusters: int = 32, seed: int = 0,
                   spread: float = 0.35) -> np.ndarray:
    """Gaussian mixture: ``n_clusters`` centres ~ N(0, 1), points ~ N(centre, spread^2)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim))
    labels = rng.integers(0, n_clusters, size=n)
    x = centres[labels] + spread * rng.standard_normal((n, dim))
    return x.astype(np.float32)


def make_queries(nq: int, dim: int, n_clusters: int = 32, seed: int = 0,
                 spread: float = 0.35) -> np.ndarray:
    """Queries drawn from the same mixture as ``make_clustered(..., seed)`` (new points)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim))  # same centres as the base data
    qrng = np.random.default_rng(seed + 10_000)
    labels = qrng.integers(0, n_clusters, size=nq)
    q = centres[labels] + spread * qrng.standard_normal((nq, dim))
    return q.astype(np.float32)


# -- exact ground truth -----------------------------------------------------
# One implementation (NumPy, float64), shared with the benchmarks and the demo.
from warpsearch.contrib.evaluation import exact_knn, recall_at_k, scores  # noqa: E402,F401


def assert_exact(D, I, xb, xq, k: int, metric: str, ids=None, allowed=None,
                 rtol: float = 1e-4, atol: float = 1e-3):
    """Asserts that ``(D, I)`` is an exact k-NN result for ``xq`` over ``xb``.

    Distances must equal the float64 ground truth; ids must be distinct per row
    and each returned id's true score must equal its reported distance (so ties
    may come back in either order). Padding must be -1 with +inf/-inf.
    """
    xq = np.atleast_2d(xq)
    D, I = np.atleast_2d(D), np.atleast_2d(I)
    ids = np.arange(len(xb), dtype=np.int64) if ids is None else np.asarray(ids, np.int64)
    gt_D, _ = exact_knn(xb, xq, k, metric, ids=ids, allowed=allowed)
    assert D.shape == I.shape == (xq.shape[0], k)
    assert D.dtype == np.float32 and I.dtype == np.int64
    # padding is id -1 with distance +inf (l2) / -inf; id -1 with a finite distance is a real id
    pad = np.inf if metric == "l2" else -np.inf
    is_pad, gt_pad = D == pad, gt_D == pad
    assert np.array_equal(is_pad, gt_pad), "padding positions differ from the ground truth"
    assert (I[is_pad] == -1).all(), "padding ids must be -1"
    valid = ~is_pad
    np.testing.assert_allclose(D[valid], gt_D[valid], rtol=rtol, atol=atol)
    row_of = {int(v): j for j, v in enumerate(ids)}
    s = scores(xb, xq, metric)
    for r in range(I.shape[0]):
        got = I[r][valid[r]]
        assert np.unique(got).size == got.size, f"query {r}: duplicate ids {got}"
        assert all(int(v) in row_of for v in got), f"query {r}: unknown ids in {got}"
        true = np.array([s[r, row_of[int(v)]] for v in got])
        np.testing.assert_allclose(D[r, :got.size], true, rtol=rtol, atol=atol,
                                   err_msg=f"query {r}: reported distances are not the ids' own")


def assert_same_answer(D, I, D0, I0):
    """Asserts that two k-NN answers are equal: the same distances, bit for bit, and the
    same ids, where ids of equal distances may come in either order (and a tie at the
    k-th distance may keep either id)."""
    D, I, D0, I0 = (np.atleast_2d(a) for a in (D, I, D0, I0))
    np.testing.assert_array_equal(D, D0)
    for r in range(D.shape[0]):
        inner = D[r] != D[r, -1]
        a, b = np.lexsort((I[r], D[r])), np.lexsort((I0[r], D0[r]))
        np.testing.assert_array_equal(I[r][a][inner[a]], I0[r][b][inner[b]], err_msg=f"query {r}")


# -- fixtures ---------------------------------------------------------------
@pytest.fixture(scope="session")
def clustered_64():
    """10k base vectors, 200 queries, dim 64, clustered."""
    return make_clustered(10_000, 64, seed=1), make_queries(200, 64, seed=1)


@pytest.fixture(scope="session")
def clustered_32():
    """5k base vectors, 100 queries, dim 32, clustered."""
    return make_clustered(5_000, 32, seed=2), make_queries(100, 32, seed=2)


@pytest.fixture(scope="session")
def clustered_128():
    """5k base vectors, 100 queries, dim 128, clustered."""
    return make_clustered(5_000, 128, seed=3), make_queries(100, 128, seed=3)


@pytest.fixture
def tmp_index_path(tmp_path):
    return tmp_path / "index.ws"


# -- GPU marker -------------------------------------------------------------
def gpu_available() -> bool:
    """A GPU test needs CUDA compiled in AND a device present."""
    info = ws.build_info()
    return bool(info["cuda_compiled"]) and int(info["cuda_devices"]) > 0


def auto_device() -> str:
    """Where ``device="auto"`` runs a search on this machine."""
    return "cuda:0" if gpu_available() else "cpu"


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    info = ws.build_info()
    why = ("CUDA not compiled into this build" if not info["cuda_compiled"]
           else "no CUDA device present")
    skip = pytest.mark.skip(reason=f"gpu test: {why}")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)
