# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Building a sharded or replicated index over a list of devices (:func:`shard_index`)."""

from __future__ import annotations

from .. import _core
from ._base import _IndexBase
from ._device import resolve_device
from .flat import FlatIndex
from .hnsw import HNSWIndex
from .ivf_pq import IVFPQIndex
from .memory_plan import MODES, check_plan, index_kind, index_params, place, plan_memory
from .replicated import ReplicatedIndex
from .sharded import ShardedIndex

__all__ = ["shard_index", "resolve_devices"]

_KINDS = {"flat": FlatIndex, "hnsw": HNSWIndex, "ivf_pq": IVFPQIndex, "ivfpq": IVFPQIndex}
# wrapper attributes that are per-wrapper state, not settings (see share)
_OWN_STATE = ("_tls", "_device", "_device_auto", "_gpu", "_impl")


def resolve_devices(devices) -> list:
    """``"all"`` (every GPU) or a list of ``"cpu"`` / ``"cuda[:N]"`` / ``"auto"`` (repeats
    allowed: several parts on one device) as a list of ``"cpu"`` / ``"cuda:N"``."""
    if isinstance(devices, str):
        if devices.strip().lower() != "all":
            raise ValueError(f"devices must be 'all' or a list of devices, got {devices!r}")
        n = int(_core.cuda_device_count())
        if n == 0:
            raise ValueError("devices='all' names every GPU and none is available; pass a "
                             "list such as ['cpu', 'cpu'] to spread the index on the CPU")
        return [f"cuda:{i}" for i in range(n)]
    try:
        devs = list(devices)
    except TypeError:
        raise TypeError(f"devices must be 'all' or a list of devices, "
                        f"got {type(devices).__name__}") from None
    if not devs:
        raise ValueError("devices must name at least one device")
    return [resolve_device(d) for d in devs]


def share(index, device: str, check_memory: bool = True):
    """Another wrapper of ``index``'s engine index that searches on ``device``: the host
    keeps one index, each GPU wrapper its own device copy (made now, after a memory
    check, when the index holds points). Writes through either wrapper are seen by
    both (a GPU copy made stale by a write is made again)."""
    dev = resolve_device(device)
    cls = type(index)
    obj = cls.__new__(cls)
    _IndexBase.__init__(obj, dev)
    for key, value in vars(index).items():
        if key not in _OWN_STATE:
            setattr(obj, key, value)  # settings such as gpu_precision
    obj._impl = index._impl
    return place(obj, dev, check_memory)


def shard_index(index, devices="all", mode: str = "shard", *, n: int | None = None,
                check_memory: bool = True, **params):
    """A :class:`ShardedIndex` or :class:`ReplicatedIndex` with one part per entry of
    ``devices``.

    ``index`` says what each part is:

    - a kind, ``"flat"``, ``"hnsw"`` or ``"ivf_pq"``, with its constructor arguments
      in ``params`` (``dim``, ``metric``, ``M``, ``nlist``, ``storage``, ...; not
      ``device``: ``devices`` places the parts);
    - a function ``make(device) -> index`` returning a new empty index on that device;
    - an existing index (``mode="replicate"`` only): it is replicated onto
      ``devices``, every replica sharing its host memory.

    ``devices`` is ``"all"`` (every GPU; ValueError where there is none) or a list of
    ``"cpu"`` / ``"cuda:N"`` / ``"auto"``, repeats allowed (several shards on the CPU).
    ``mode`` is ``"shard"`` (the points are split, every query goes to every shard) or
    ``"replicate"`` (every replica holds all points, query batches are split; the
    replicas share one host index, and each GPU holds a device copy).

    With ``check_memory`` (default) a plan (:func:`~warpsearch.plan_memory`) checks
    that ``n`` points (when given) fit on every device before anything is built, and
    each later ``add`` and device copy is checked too; what would not fit raises
    :class:`~warpsearch.index.memory_plan.MemoryPlanError` (a ValueError) naming what
    would fit.

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> x = np.random.default_rng(0).standard_normal((2000, 16)).astype(np.float32)
    >>> idx = ws.shard_index("ivf_pq", devices=["cpu"] * 2, dim=16, nlist=16, nbits=4,
    ...                      refine="fp32")
    >>> idx.train(x)
    >>> idx.add(x)
    >>> D, I = idx.search(x[:3], k=1, nprobe=4)
    >>> I[:, 0].tolist()
    [0, 1, 2]
    """
    devs = resolve_devices(devices)
    if not isinstance(mode, str) or mode.strip().lower() not in MODES:
        raise ValueError(f"mode must be 'shard' or 'replicate', got {mode!r}")
    mode = mode.strip().lower()
    if not isinstance(check_memory, bool):
        raise TypeError("check_memory must be a bool")
    if isinstance(index, _IndexBase):
        if mode != "replicate":
            raise TypeError("an existing index can be replicated (mode='replicate'); to shard, "
                            "pass a kind ('flat', 'hnsw', 'ivf_pq') or a function of the device")
        if params or n is not None:
            raise TypeError("replicating an existing index takes no index parameters or n")
        return ReplicatedIndex([share(index, d, check_memory) for d in devs], check_memory)
    if isinstance(index, str):
        kind = index.strip().lower()
        if kind not in _KINDS:
            raise ValueError(f"unknown index kind {index!r}; expected 'flat', 'hnsw' or 'ivf_pq'")
        if "device" in params:
            raise TypeError("devices= places the parts; the index parameters take no device")
        if "dim" not in params:
            raise TypeError("shard_index of a kind needs dim=")
        cls = _KINDS[kind]

        def make(device):
            return cls(device=device, **params)
    elif callable(index):
        if params:
            raise TypeError(f"unexpected parameters {sorted(params)}: a function builds the parts")
        make = index
    else:
        raise TypeError(f"index must be a kind ('flat', 'hnsw', 'ivf_pq'), a function of the "
                        f"device or an index, got {type(index).__name__}")
    first = _made(make, devs[0])
    if check_memory and n is not None:
        plan = plan_memory(n, first.dim, index_kind(first), devs, mode,
                           gpu_precision=getattr(first, "gpu_precision", "fp32"),
                           **index_params(first))
        check_plan(plan, f"{n:,} points in mode {mode!r} over {devs}")
    if mode == "replicate":
        return ReplicatedIndex([first] + [share(first, d, check_memory) for d in devs[1:]],
                               check_memory)
    return ShardedIndex([first] + [_made(make, d) for d in devs[1:]], check_memory)


def _made(make, device):
    """``make(device)``, checked: an empty index, on ``device``."""
    idx = make(device)
    if not isinstance(idx, _IndexBase):
        raise TypeError(f"the index function returned {type(idx).__name__}, not an index")
    if len(idx):
        raise ValueError("the index function must return an empty index")
    if idx.device != device:
        idx.to(device)
    return idx
