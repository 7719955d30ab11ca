# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Device arrays spread over several GPUs: moving them between devices, joining them,
and the top-k merge of shard results where they lie.

Every function takes CuPy arrays or PyTorch CUDA tensors (other device arrays are
first viewed through CuPy, as :class:`~warpsearch.index._device.DeviceQueries`
does); nothing goes through host memory. Copies between two GPUs are made by the
library (CuPy ``ndarray.copy`` under the target device, PyTorch ``Tensor.to``) and
the target device is synchronized before the engine reads them, since the engine
works on its own stream. :func:`merge_rows` also runs on NumPy arrays: that is how
its agreement with ``_core.merge_topk`` is tested on machines without a GPU.
"""

from __future__ import annotations

import contextlib
import importlib

import numpy as np

__all__ = ["library", "as_library_array", "device_of", "on_device", "concat", "merge_rows",
           "rows", "as_rows", "current_device"]


def library(x) -> str:
    """``"torch"``, ``"cupy"`` or ``"numpy"``."""
    return type(x).__module__.split(".", 1)[0]


def _mod(name: str):
    return importlib.import_module(name)


def as_library_array(x):
    """A PyTorch tensor as is; any other device array as a CuPy array (no copy)."""
    if library(x) in ("torch", "cupy"):
        return x
    try:
        cupy = _mod("cupy")
    except ImportError:
        raise TypeError("queries: device arrays other than PyTorch tensors need CuPy "
                        "(pip install cupy-cuda12x or cupy-cuda13x)") from None
    return cupy.asarray(x) if hasattr(x, "__cuda_array_interface__") else cupy.from_dlpack(x)


def device_of(x) -> int:
    """The CUDA device index of a CuPy array or PyTorch tensor."""
    if library(x) == "torch":
        idx = x.device.index
        return int(_mod("torch").cuda.current_device() if idx is None else idx)
    return int(x.device.id)


def current_device(lib: str, dev: int):
    """A context in which ``lib``'s current CUDA device is ``dev`` (CuPy launches its
    kernels and allocates on the current device, which starts at 0 in every thread)."""
    if lib == "cupy":
        return _mod("cupy").cuda.Device(dev)
    if lib == "torch":
        return _mod("torch").cuda.device(dev)
    return contextlib.nullcontext()


def _synchronize(lib: str, dev: int) -> None:
    if lib == "torch":
        _mod("torch").cuda.synchronize(dev)
    else:
        _mod("cupy").cuda.Device(dev).synchronize()


def on_device(x, dev: int):
    """``x`` on CUDA device ``dev``: itself when it is there, else a device-to-device copy
    (completed before this returns)."""
    if device_of(x) == dev:
        return x
    lib = library(x)
    if lib == "torch":
        y = x.to(f"cuda:{dev}")
    else:
        cupy = _mod("cupy")
        with cupy.cuda.Device(dev):
            y = x.copy()  # CuPy copies an array of another device onto the current one
    _synchronize(lib, dev)
    return y


def concat(arrays, axis: int):
    """Joins arrays of one library (all on one device) along ``axis``."""
    lib = library(arrays[0])
    if lib == "torch":
        return _mod("torch").cat(list(arrays), dim=axis)
    if lib == "cupy":
        cupy = _mod("cupy")
        with cupy.cuda.Device(device_of(arrays[0])):
            return cupy.concatenate(list(arrays), axis=axis)
    return np.concatenate(list(arrays), axis=axis)


def rows(x, start: int, stop: int):
    """Rows ``start:stop`` of a 2-D array (a view)."""
    return x[start:stop]


def as_rows(x):
    """A 1-D query as a ``(1, dim)`` array; 2-D arrays as they are."""
    return x.reshape(1, -1) if len(x.shape) == 1 else x


class _Ops:
    """The few array operations of the merge, per library."""

    def __init__(self, lib: str):
        self.lib = lib
        self.xp = np if lib == "numpy" else _mod(lib)

    def argsort_stable(self, a, descending: bool):
        if self.lib == "torch":
            return self.xp.sort(a, dim=1, descending=descending, stable=True).indices
        key = -a if descending else a  # negation keeps equal keys equal: still stable
        if self.lib == "cupy":
            return self.xp.argsort(key, axis=1)  # CuPy sorts stably
        return np.argsort(key, axis=1, kind="stable")

    def take(self, a, idx):
        if self.lib == "torch":
            return self.xp.gather(a, 1, idx)
        return self.xp.take_along_axis(a, idx, axis=1)

    def where(self, cond, value, a):
        """``a`` with ``value`` where ``cond`` holds (``a``'s dtype kept)."""
        return self.xp.where(cond, self.xp.full_like(a, value), a)

    def isnan(self, a):
        return self.xp.isnan(a)


def merge_rows(D, I, k: int, larger_is_better: bool):
    """The ``k`` best of each row of ``(D, I)`` (``(nq, m)``, ``m >= k``, float32 / int64
    arrays of one library on one device), computed there: the rule of
    :func:`warpsearch._topk.merge_topk` (equal distances keep the earlier column;
    entries with a negative id or a NaN distance are dropped; short rows are padded
    with id -1 and +inf, or -inf when larger is better) for rows whose ids are
    distinct, as those of shards holding disjoint ids are."""
    ops = _Ops(library(D))
    fill = float("-inf") if larger_is_better else float("inf")
    drop = (I < 0) | ops.isnan(D)
    key = ops.where(drop, fill, D)
    order = ops.argsort_stable(key, larger_is_better)
    # a second stable pass moves dropped entries behind every kept one (a kept entry
    # may carry the fill value itself: an infinite distance)
    dropped = ops.take(drop, order)
    flag = dropped.to(ops.xp.uint8) if ops.lib == "torch" else dropped.astype(ops.xp.uint8)
    order = ops.take(order, ops.argsort_stable(flag, False))[:, :k]
    outD = ops.take(key, order)
    outI = ops.where(ops.take(drop, order), -1, ops.take(I, order))
    return outD, outI
