# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Memory plans of indexes spread over devices (:func:`plan_memory`).

A plan predicts what each device holds at its peak and compares it with what the
device has free now: the CUDA seam's ``cuda_mem_info`` for a GPU, the kernel's
``MemAvailable`` for the host. Indexes always live in host memory (a GPU search
reads a device copy), so the host holds every shard of a sharded index and one
index shared by the replicas of a replicated one; each GPU holds the device copies
of its shards, or one full copy per replica, plus a reserve for the CUDA context's
work space and a batch of queries and results. The sizes come from
:func:`~warpsearch.estimate_memory` (within a few percent of a built index); the
device copies are modelled on what the GPU search uploads (decoded float32 vectors,
graph links, codes, ids).

>>> import warpsearch as ws
>>> plan = ws.plan_memory(1_000_000, 128, index="flat", devices=["cpu", "cpu"])
>>> sorted(plan["devices"]), round(plan["devices"]["cpu"]["peak_bytes"] / 2**20)
(['cpu'], 530)
"""

from __future__ import annotations

import math
import os

from .. import _core
from .._validation import as_nonnegative_int, as_positive_int
from ._device import device_index, resolve_device
from .memory import estimate_memory

__all__ = ["plan_memory", "MemoryPlanError", "place"]

GPU_RESERVE = 256 << 20  # CUDA work space, a batch of queries and their results
MODES = ("shard", "replicate")
# estimate_memory's parameters per kind (constructor arguments outside them are ignored)
_EST_PARAMS = {"flat": {"storage", "refine"},
               "hnsw": {"M", "quantized", "sq_bits", "storage"},
               "ivf_pq": {"nlist", "m", "nbits", "refine", "metric"}}


class MemoryPlanError(ValueError):
    """A build, add or device copy that would not fit in a device's free memory."""


def _gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.1f} MiB"


def available_bytes(device: str) -> int:
    """Free bytes of ``device`` now: ``"cpu"`` (host memory the kernel reports
    available) or ``"cuda:N"`` (the driver's free memory on that GPU)."""
    if device != "cpu":
        free, _total = _core.cuda_mem_info(device_index(device))
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        raise ValueError("cannot tell how much host memory is free on this system; "
                         "pass check_memory=False to skip the memory plan") from None


def estimate_params(kind: str, params: dict) -> dict:
    """The entries of ``params`` (constructor arguments) that ``estimate_memory`` reads."""
    return {k: v for k, v in params.items() if k in _EST_PARAMS[kind]}


def index_kind(index) -> str:
    """``"flat"``, ``"hnsw"`` or ``"ivf_pq"`` of an index object."""
    return index._impl.type_name


def index_params(index) -> dict:
    """``estimate_memory`` parameters of an existing index."""
    kind = index_kind(index)
    if kind == "flat":
        return {"storage": index.storage, "refine": index.refine}
    if kind == "hnsw":
        return {"M": index.M, "quantized": index.quantized, "sq_bits": index.sq_bits,
                "storage": index.storage}
    return {"nlist": index.nlist, "m": index.m, "nbits": index.nbits, "refine": index.refine,
            "metric": index.metric}


def host_bytes(kind: str, n: int, dim: int, params: dict) -> int:
    """Bytes of an index of ``n`` points in host memory."""
    return estimate_memory(n, dim, index=kind, **params)["bytes"]


def device_copy_bytes(kind: str, n: int, dim: int, params: dict,
                      gpu_precision: str = "fp32") -> int:
    """Bytes of the device copy a GPU search of such an index uploads."""
    if n == 0:
        return 0
    if kind == "flat":  # float32 vectors, norms, ids (+ a 2-byte copy for fp16/bf16 math)
        return n * dim * 4 + n * 12 + (n * dim * 2 if gpu_precision != "fp32" else 0)
    parts = estimate_memory(n, dim, index=kind, **params)["parts"]
    if kind == "hnsw":  # the graph's links, float32 vectors, norms, ids
        return parts["links"] + n * dim * 4 + n * 12
    return sum(v for k, v in parts.items() if k != "id_map")  # codes, ids, refine, centroids


def _alternatives(kind: str, params: dict):
    """Smaller settings of the same kind to name when a plan does not fit."""
    if kind == "flat":
        yield {**params, "storage": "sq8", "refine": "none"}
        yield {**params, "storage": "sq4", "refine": "none"}
    elif kind == "hnsw":
        yield {**params, "storage": "sq8", "quantized": True, "sq_bits": 8}
    else:
        if params.get("refine", "none") != "none":
            yield {**params, "refine": "none"}
        if params.get("nbits", 8) != 4:
            yield {**params, "nbits": 4, "refine": "none"}


def _resident(kind, n, dim, params, devices, mode, gpu_precision) -> dict:
    """Bytes each device holds: ``{device: bytes}`` (the host always appears)."""
    parts = len(devices)
    out = {"cpu": 0}
    if mode == "shard":
        per = math.ceil(n / parts) if parts else 0
        out["cpu"] = parts * host_bytes(kind, per, dim, params)
        for d in devices:
            if d != "cpu":
                out[d] = out.get(d, 0) + device_copy_bytes(kind, per, dim, params, gpu_precision)
    else:  # the replicas share one host index; each GPU replica has a full copy
        out["cpu"] = host_bytes(kind, n, dim, params)
        for d in devices:
            if d != "cpu":
                out[d] = out.get(d, 0) + device_copy_bytes(kind, n, dim, params, gpu_precision)
    return out


def plan_memory(n: int, dim: int, index: str = "hnsw", devices=("cpu",), mode: str = "shard",
                gpu_reserve: int = GPU_RESERVE, gpu_precision: str = "fp32", **params) -> dict:
    """Predicts the peak bytes of each device for an index of ``n`` points spread over
    ``devices`` (a list of ``"cpu"`` / ``"cuda:N"``, repeats allowed) in ``mode``
    ``"shard"`` (each part holds ``n / len(devices)`` points) or ``"replicate"`` (each
    part holds all ``n``), and whether it fits in what each device has free now.

    ``index`` and ``params`` are those of :func:`~warpsearch.estimate_memory`. The host
    holds every shard (a GPU shard also keeps its index in host memory) or the one
    index the replicas share; each GPU holds its parts' device copies plus
    ``gpu_reserve`` bytes. Returns ``{"fits", "mode", "index", "n", "dim", "devices":
    {device: {"peak_bytes", "free_bytes", "fits", "parts"}}, "advice"}``; ``advice``
    (``None`` when everything fits) names what would fit: more devices, fewer points,
    the other mode, or a smaller storage.
    """
    n = as_nonnegative_int(n, "n", maximum=None)
    dim = as_positive_int(dim, "dim")
    if not isinstance(mode, str) or mode.lower() not in MODES:
        raise ValueError(f"mode must be 'shard' or 'replicate', got {mode!r}")
    mode = mode.lower()
    if isinstance(devices, str):
        raise TypeError("devices must be a list of devices ('cpu', 'cuda:N')")
    devs = [resolve_device(d) for d in devices]
    if not devs:
        raise ValueError("devices must name at least one device")
    kind = estimate_memory(0, dim, index=index, **params)["index"]  # validates the params
    reserve = as_nonnegative_int(gpu_reserve, "gpu_reserve", maximum=None)
    plan = _plan(n, dim, kind, devs, mode, reserve, gpu_precision, params)
    if not plan["fits"]:
        plan["advice"] = _advice(plan, kind, dim, params, devs, reserve, gpu_precision)
    return plan


def _plan(n, dim, kind, devs, mode, reserve, gpu_precision, params) -> dict:
    """The plan of validated arguments, without advice."""
    resident = _resident(kind, n, dim, params, devs, mode, gpu_precision)
    report = {}
    for d, b in resident.items():
        peak = b + (reserve if d != "cpu" else 0)
        free = available_bytes(d)
        report[d] = {"peak_bytes": int(peak), "free_bytes": int(free), "fits": peak <= free,
                     "parts": devs.count(d)}
    fits = all(r["fits"] for r in report.values())
    return {"fits": fits, "mode": mode, "index": kind, "n": n, "dim": dim, "devices": report,
            "advice": None}


def _advice(plan, kind, dim, params, devs, reserve, gpu_precision) -> str:
    n, mode, report = plan["n"], plan["mode"], plan["devices"]
    bad = [d for d, r in report.items() if not r["fits"]]
    note = {"cpu": " (the host keeps every part's index; a GPU part adds a device copy)"}
    lines = [f"{d} would need {_gib(report[d]['peak_bytes'])} and has "
             f"{_gib(report[d]['free_bytes'])} free{note.get(d, '')}" for d in bad]
    # the largest n these devices hold: resident bytes grow about linearly with n
    scale = min((report[d]["free_bytes"] - (reserve if d != "cpu" else 0))
                / max(report[d]["peak_bytes"] - (reserve if d != "cpu" else 0), 1)
                for d in report)
    what = []
    if scale > 0:
        what.append(f"at most about {int(n * scale):,} points on these devices")
    gpus = [d for d in devs if d != "cpu"]
    if gpus and any(d != "cpu" for d in bad):
        per_point = device_copy_bytes(kind, max(n, 1), dim, params, gpu_precision) / max(n, 1)
        room = min(report[d]["free_bytes"] for d in set(gpus)) - reserve
        if room > 0 and mode == "shard":
            need = math.ceil(n * per_point / room)
            what.append(f"sharding over at least {need} GPUs with this much free memory")
        if mode == "replicate":
            alt = _plan(n, dim, kind, devs, "shard", reserve, gpu_precision, params)
            if alt["fits"]:
                what.append(f"mode='shard' over these {len(devs)} devices (it fits)")
    for alt_params in _alternatives(kind, params):
        alt = _plan(n, dim, kind, devs, mode, reserve, gpu_precision, alt_params)
        if alt["fits"]:
            changed = {k: v for k, v in alt_params.items() if params.get(k) != v}
            what.append("the smaller settings " + ", ".join(f"{k}={v!r}" for k, v in
                                                              changed.items()) + " (they fit)")
            break
    return "; ".join(lines) + ". Would fit: " + ("; or ".join(what) if what else
                                                 "nothing on these devices") + "."


def check_plan(plan: dict, action: str) -> None:
    """Raises :class:`MemoryPlanError` naming what would fit when ``plan`` does not fit."""
    if not plan["fits"]:
        raise MemoryPlanError(f"{action} would not fit in memory: {plan['advice']} "
                              "(check_memory=False skips this check)")


def check_growth(growth: dict, action: str) -> None:
    """Raises :class:`MemoryPlanError` when the extra bytes ``growth`` (``{device:
    bytes}``) of a write or a device copy exceed what those devices have free."""
    short = []
    for d, extra in growth.items():
        if extra <= 0:
            continue
        free = available_bytes(d)
        need = extra + (GPU_RESERVE if d != "cpu" else 0)
        if need > free:
            short.append(f"{d} would need {_gib(need)} more and has {_gib(free)} free")
    if short:
        raise MemoryPlanError(f"{action} would not fit in memory: " + "; ".join(short)
                              + ". Would fit: fewer points per call on these devices, more "
                              "shards (devices), or a smaller storage (estimate_memory gives "
                              "the bytes per point) (check_memory=False skips this check).")


def place(index, device: str, check_memory: bool = True):
    """``index.to(device)``, refused first (:class:`MemoryPlanError`) when ``check_memory``
    and the device copy of a GPU ``device`` would not fit in its free memory."""
    if device != "cpu" and check_memory and len(index):
        need = device_copy_bytes(index_kind(index), len(index), index.dim, index_params(index),
                                 getattr(index, "gpu_precision", "fp32"))
        check_growth({device: need}, f"a copy of the index on {device}")
    return index.to(device)
