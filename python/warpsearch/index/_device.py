# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Device choice (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``) and device arrays.

Device arrays are CuPy arrays, PyTorch CUDA tensors or anything else that
exposes ``__cuda_array_interface__`` (or DLPack, through CuPy). Their data
pointer goes to the engine as is: no copy through host memory. Results come
back as arrays of the same library.
"""

from __future__ import annotations

import importlib

import numpy as np

from .. import _core

__all__ = ["resolve_device", "is_device_array", "DeviceQueries"]


def _count() -> int:
    return int(_core.cuda_device_count())


def resolve_device(device) -> str:
    """Returns ``"cpu"`` or ``"cuda:N"``; raises ValueError when no such GPU exists."""
    if device is None:
        device = "auto"
    if not isinstance(device, str):
        raise TypeError(f"device must be a string ('auto', 'cpu', 'cuda' or 'cuda:N'), "
                        f"got {type(device).__name__}")
    name = device.strip().lower()
    if name == "auto":
        return "cuda:0" if _count() > 0 else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "cuda" or name.startswith("cuda:"):
        index = 0
        if name != "cuda":
            tail = name[5:]
            if not tail.isdigit():
                raise ValueError(f"bad device {device!r}: expected 'cuda:N' with an integer N")
            index = int(tail)
        if not _core.cuda_compiled():
            raise ValueError(f"device={device!r}: this warpsearch build has no CUDA support "
                             "(it was built without CUDA); use device='cpu' or 'auto'")
        n = _count()
        if n == 0:
            raise ValueError(f"device={device!r}: no CUDA device is available "
                             "(no GPU or no driver); use device='cpu' or 'auto'")
        if index >= n:
            raise ValueError(f"device={device!r}: CUDA device {index} does not exist "
                             f"({n} device{'s' if n != 1 else ''} available)")
        return f"cuda:{index}"
    raise ValueError(f"unknown device {device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'")


def device_index(device: str) -> int:
    """The N of ``"cuda:N"``."""
    return int(device.split(":", 1)[1])


def _library(x):
    return type(x).__module__.split(".", 1)[0]


def is_device_array(x) -> bool:
    """True for arrays whose data lives in GPU memory (CuPy, PyTorch CUDA, ...)."""
    if isinstance(x, np.ndarray):
        return False
    if _library(x) == "torch":
        return bool(getattr(x, "is_cuda", False))
    try:
        if hasattr(x, "__cuda_array_interface__"):
            return True
    except Exception:  # noqa: BLE001 - an interface that refuses to export is no device array
        return False
    dev = getattr(x, "__dlpack_device__", None)
    if dev is None:
        return False
    try:
        kind = int(dev()[0])
    except Exception:  # noqa: BLE001 - a broken __dlpack_device__ is not a device array
        return False
    return kind in (2, 13)  # kDLCUDA, kDLCUDAManaged


class DeviceQueries:
    """A C-contiguous float32 ``(nq, dim)`` view of a device array and an output factory."""

    def __init__(self, x, dim: int):
        if _library(x) != "torch":  # CuPy, or any other device array through CuPy (no copy)
            try:
                cupy = importlib.import_module("cupy")
            except ImportError:
                raise TypeError("queries: device arrays other than PyTorch tensors need CuPy "
                                "(pip install cupy-cuda12x or cupy-cuda13x)") from None
            x = cupy.asarray(x) if hasattr(x, "__cuda_array_interface__") else cupy.from_dlpack(x)
        self.lib = _library(x)
        self.single = len(x.shape) == 1
        self.array = self._as_float32_matrix(x, dim)
        cai = self.array.__cuda_array_interface__
        self.ptr = int(cai["data"][0])
        self.nq = int(cai["shape"][0])
        self._source = x
        # The engine works on its own stream, ordered after the legacy default stream
        # only: wait for work queued on the library's current stream.
        if self.lib == "torch":
            importlib.import_module("torch").cuda.current_stream(x.device).synchronize()
        else:
            importlib.import_module("cupy").cuda.get_current_stream().synchronize()

    def _as_float32_matrix(self, x, dim):
        shape = tuple(int(v) for v in x.shape)
        if len(shape) == 1:
            shape = (1, shape[0])
            x = x.reshape(shape)
        if len(shape) != 2:
            raise ValueError(f"queries must be 1-D or 2-D, got shape {shape}")
        if shape[1] != dim:
            raise ValueError(f"queries have dimension {shape[1]}, expected dim={dim}")
        if self.lib == "torch":
            torch = importlib.import_module("torch")
            if x.dtype.is_complex or x.dtype == torch.bool:
                raise TypeError(f"queries must have a real numeric dtype, got {x.dtype}")
            y = x.detach().to(torch.float32).contiguous()
            finite = bool(torch.isfinite(y).all()) if y.numel() else True
        else:
            cupy = importlib.import_module("cupy")
            if x.dtype.kind not in "fiu":
                raise TypeError(f"queries must have a numeric dtype, got {x.dtype}")
            y = cupy.ascontiguousarray(x, dtype=cupy.float32)
            finite = bool(cupy.isfinite(y).all()) if y.size else True
        if not finite:
            raise ValueError("queries contain NaN or inf")
        return y

    def empty(self, k: int):
        """``(D, I)`` output arrays of shape ``(nq, k)`` on the queries' device and library."""
        shape = (self.nq, k)
        if self.lib == "torch":
            torch = importlib.import_module("torch")
            dev = self._source.device
            return (torch.empty(shape, dtype=torch.float32, device=dev),
                    torch.empty(shape, dtype=torch.int64, device=dev))
        cupy = importlib.import_module("cupy")
        with cupy.cuda.Device(self.array.device.id):
            return cupy.empty(shape, dtype=cupy.float32), cupy.empty(shape, dtype=cupy.int64)

    @staticmethod
    def pointer(a) -> int:
        return int(a.__cuda_array_interface__["data"][0])
