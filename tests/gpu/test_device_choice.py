# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Device choice on every build: these run without a GPU (and check the fallbacks)."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from warpsearch import _core

HAS_GPU = ws.build_info()["cuda_compiled"] and ws.build_info()["cuda_devices"] > 0
no_gpu = pytest.mark.skipif(HAS_GPU, reason="checks the behaviour without a GPU")


def _indexes(**kw):
    return [ws.FlatIndex(dim=4, **kw), ws.HNSWIndex(dim=4, **kw)]


@no_gpu
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "CUDA:1"])
def test_cuda_without_gpu_is_a_value_error(device):
    for cls in (ws.FlatIndex, ws.HNSWIndex):
        with pytest.raises(ValueError, match="CUDA|cuda"):
            cls(dim=4, device=device)
    idx = ws.FlatIndex(dim=4)
    idx.add(np.eye(4, dtype=np.float32))
    with pytest.raises(ValueError, match="CUDA|cuda"):
        idx.to(device)
    with pytest.raises(ValueError, match="CUDA|cuda"):
        idx.search(np.eye(4, dtype=np.float32), k=1, device=device)
    assert idx.device == "cpu"  # a failed move changes nothing


@no_gpu
def test_auto_falls_back_to_cpu():
    for idx in _indexes(device="auto") + _indexes():
        assert idx.device == "cpu"
        idx.add(np.eye(4, dtype=np.float32))
        D, I = idx.search(np.eye(4, dtype=np.float32), k=1)
        assert I[:, 0].tolist() == [0, 1, 2, 3]
        assert idx.last_search_info["device"] == "cpu"


@no_gpu
def test_gpu_entry_points_fail_clearly():
    with pytest.raises(ValueError, match="(?i)cuda|device"):
        _core.gpu_select_k(np.zeros((2, 3), np.float32), 1, True, 0)
    idx = ws.FlatIndex(dim=4)
    with pytest.raises(ValueError, match="(?i)cuda|device"):
        _core.to_device(idx._impl, 0)


def test_to_cpu_and_per_call_device(tmp_path):
    x = np.random.default_rng(0).standard_normal((200, 4)).astype(np.float32)
    for idx in _indexes():
        idx.add(x)
        assert idx.to("cpu") is idx and idx.device == "cpu"
        D, I = idx.search(x[:5], k=3, device="cpu")
        assert idx.last_search_info["device"] == "cpu"
        assert I[:, 0].tolist() == [0, 1, 2, 3, 4]
        D2, I2 = idx.search(x[:5], k=3, device="auto")
        assert idx.last_search_info["device"] == ("cuda:0" if HAS_GPU else "cpu")
        np.testing.assert_array_equal(I2[:, 0], I[:, 0])
        idx.save(tmp_path / "i.ws")
        back = ws.load_index(tmp_path / "i.ws")
        assert back.search(x[:5], k=3)[1][:, 0].tolist() == I[:, 0].tolist()


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "cuda:-1", ""])
def test_bad_device_names(bad):
    with pytest.raises(ValueError, match="device"):
        ws.FlatIndex(dim=4, device=bad)


@pytest.mark.parametrize("bad", [0, 1.5, ["cuda"]])
def test_device_must_be_a_string(bad):
    with pytest.raises(TypeError, match="device"):
        ws.HNSWIndex(dim=4, device=bad)


class _FakeDeviceArray:
    """Looks like a CUDA array to the validation (never dereferenced)."""

    __cuda_array_interface__ = {"shape": (1, 4), "typestr": "<f4", "data": (1, False),
                                "version": 3}


@no_gpu
def test_device_arrays_without_gpu_are_type_errors():
    idx = ws.FlatIndex(dim=4)
    idx.add(np.eye(4, dtype=np.float32))
    with pytest.raises(TypeError, match="(?i)device array"):
        idx.search(_FakeDeviceArray(), k=1)
    ivf = ws.IVFPQIndex(dim=4, nlist=2, m=2)
    ivf.train(np.random.default_rng(0).standard_normal((300, 4)).astype(np.float32))
    for device in (None, "auto", "cpu"):
        with pytest.raises(TypeError, match="(?i)device array"):
            ivf.search(_FakeDeviceArray(), k=1, device=device)
