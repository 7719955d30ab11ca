# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Device options on every build: IVFPQIndex without a GPU (an explicit CUDA device is a
clear error, ``auto`` runs on the CPU and says so, the file does not depend on it) and
the GPU precision option of FlatIndex."""

from __future__ import annotations

import numpy as np
import pytest
import warpsearch as ws
from conftest import make_clustered, make_queries
from warpsearch import _core

HAS_GPU = ws.build_info()["cuda_compiled"] and ws.build_info()["cuda_devices"] > 0
no_gpu = pytest.mark.skipif(HAS_GPU, reason="checks the behaviour without a GPU")


@pytest.fixture(scope="module")
def trained():
    xb, xq = make_clustered(2_000, 16, seed=1), make_queries(10, 16, seed=1)
    idx = ws.IVFPQIndex(dim=16, nlist=16, nbits=4, refine="fp32", device="cpu")
    idx.train(xb)
    idx.add(xb)
    return idx, xb, xq


@no_gpu
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "CUDA:1"])
def test_ivf_pq_cuda_without_gpu_is_a_value_error(trained, device):
    with pytest.raises(ValueError, match="CUDA|cuda"):
        ws.IVFPQIndex(dim=16, nlist=4, device=device)
    idx, _, xq = trained
    with pytest.raises(ValueError, match="CUDA|cuda"):
        idx.to(device)
    with pytest.raises(ValueError, match="CUDA|cuda"):
        idx.search(xq, k=1, device=device)
    assert idx.device == "cpu"


@no_gpu
def test_ivf_pq_auto_falls_back_to_cpu(trained):
    _, xb, xq = trained
    idx = ws.IVFPQIndex(dim=16, nlist=16, nbits=8, device="auto")
    assert idx.device == "cpu"
    idx.train(xb)
    idx.add(xb)
    D, I = idx.search(xb[:5], k=1, nprobe=16)
    assert I[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert idx.last_search_info["device"] == "cpu"
    idx.search(xq, k=3, device="auto")
    assert idx.last_search_info["device"] == "cpu"


@no_gpu
def test_ivf_pq_gpu_entry_points_fail_clearly(trained):
    idx, _, _ = trained
    with pytest.raises(ValueError, match="(?i)cuda|device"):
        _core.to_device(idx._impl, 0)


def test_ivf_pq_cpu_device_and_options(trained, tmp_path):
    idx, xb, xq = trained
    assert idx.to("cpu") is idx and idx.device == "cpu"
    D, I = idx.search(xq, k=5, device="cpu")
    assert idx.last_search_info["device"] == "cpu" and idx.last_search_info["nprobe"] == 16
    with pytest.raises(ValueError, match="lut"):
        idx.search(xq, k=5, lut="fp8")
    with pytest.raises(TypeError, match="lut"):
        idx.search(xq, k=5, lut=16)
    with pytest.raises(TypeError, match="device"):
        ws.IVFPQIndex(dim=16, nlist=4, device=0)
    idx.save(tmp_path / "x.ws")
    back = ws.load_index(tmp_path / "x.ws")
    assert isinstance(back, ws.IVFPQIndex) and back.device in ("cpu", "cuda:0")
    D2, I2 = back.search(xq, k=5, device="cpu")
    np.testing.assert_array_equal(I, I2)


def test_flat_gpu_precision_option(tmp_path):
    x = np.eye(4, dtype=np.float32)
    for p in ("fp32", "fp16", "bf16", "FP16"):
        idx = ws.FlatIndex(dim=4, gpu_precision=p, device="cpu")
        assert idx.gpu_precision == p.lower()
        idx.add(x)
        D, I = idx.search(x, k=1)  # the CPU ignores it
        assert I[:, 0].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="gpu_precision"):
        ws.FlatIndex(dim=4, gpu_precision="int8")
    with pytest.raises(TypeError, match="gpu_precision"):
        ws.FlatIndex(dim=4, gpu_precision=16)
    idx.save(tmp_path / "f.ws")
    assert ws.load_index(tmp_path / "f.ws").gpu_precision == "fp32"


@pytest.mark.parametrize("cls", [ws.FlatIndex, ws.HNSWIndex, ws.IVFPQIndex])
def test_stale_device_copy_retries(cls, monkeypatch):
    # The retry rule of GPU searches, with a stand-in for the device copy and the engine
    # (runs on every build; tests/gpu checks it against a real device copy).
    idx = cls(dim=4, device="cpu")
    made = []
    monkeypatch.setattr(idx, "_device_data", lambda dev: made.append(dev) or len(made))
    stale = _core.StaleDeviceCopyError("the device copy of this index is out of date")
    assert isinstance(stale, ValueError)  # users catching ValueError see no change

    def stale_twice(copy):
        if copy < 3:
            raise stale
        return "answer"

    assert idx._on_device("cuda:0", stale_twice, auto=False) == "answer"
    assert made == ["cuda:0"] * 3  # a new copy for every try

    def always_stale(copy):
        raise stale

    made.clear()
    assert idx._on_device("cuda:0", always_stale, auto=True) is None  # auto: the CPU answers
    assert len(made) == 3
    with pytest.raises(RuntimeError, match="kept changing"):
        idx._on_device("cuda:0", always_stale, auto=False)

    def other_error(copy):
        raise ValueError("k must be in [1, 2048], got 0")

    made.clear()
    with pytest.raises(ValueError, match="k must be"):  # anything else: no retry
        idx._on_device("cuda:0", other_error, auto=True)
    assert len(made) == 1

    def stale_by_message_only(copy):  # the type decides, not the text
        raise ValueError("the device copy of this index is out of date")

    made.clear()
    with pytest.raises(ValueError, match="out of date"):
        idx._on_device("cuda:0", stale_by_message_only, auto=True)
    assert len(made) == 1


def test_gpu_refusals():
    # what keeps a search off the GPU (device="auto" then runs it on the CPU)
    assert "binary" in ws.FlatIndex(dim=8, metric="ip", storage="binary", refine="none")._gpu_refusal(10, 0)
    assert ws.FlatIndex(dim=8, metric="ip", storage="binary")._gpu_refusal(10, 0) is None  # fp32 refine copy
    assert ws.FlatIndex(dim=8)._gpu_refusal(_core.gpu_max_k, 0) is None
    assert "k=" in ws.FlatIndex(dim=8)._gpu_refusal(_core.gpu_max_k + 1, 0)
    hnsw = ws.HNSWIndex(dim=8)
    assert hnsw._gpu_refusal(10, _core.gpu_max_graph_k) is None
    assert "ef=" in hnsw._gpu_refusal(10, _core.gpu_max_graph_k + 1)
