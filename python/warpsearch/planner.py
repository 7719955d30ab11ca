# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Capacity planning: which index and storage a collection of ``n`` vectors needs for
a recall target on the hardware at hand, how many bytes each device holds, and how
many GPUs or machines that makes, with the arithmetic shown.

Memory comes from :func:`warpsearch.estimate_memory` (the model ``memory_usage()``
of built indexes matches, as saved and loaded: an HNSW index grown by many adds keeps
up to half again of spare capacity in the process that built it). Throughput is estimated only when the plan is calibrated
on a sample of the user's own vectors (``sample=``): each candidate index is built
on the sample, searched at the smallest setting that reaches the recall target
against exact ground truth, and its single-core QPS is scaled to ``n`` (HNSW by the
graph's depth, ``log n``; IVF by the rows scanned per query, ``n / nlist``). Those
numbers are labelled estimates. Prices are inputs, never built in.

>>> import warpsearch as ws
>>> p = ws.plan(10**9, 128, recall=0.9, ram="512GB", gpus=1, gpu_memory="80GB")
>>> p.index, p.params["nbits"], p.devices
('ivf_pq', 8, 1)
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from ._validation import as_positive_int
from .build import parse_bytes
from .index import estimate_memory

__all__ = ["Plan", "plan", "GPU_MEMORY"]

#: Memory of common data-centre GPUs (bytes), for ``gpu_memory="H100"`` and the like.
GPU_MEMORY = {"h100": 80 << 30, "h200": 141 << 30, "a100": 80 << 30, "a100-40gb": 40 << 30,
              "l40s": 48 << 30, "l4": 24 << 30, "a10": 24 << 30, "b200": 192 << 30}
RAM_USABLE = 0.75  # of a machine's RAM: the rest is the OS, query buffers and builds
GPU_USABLE = 0.85  # of a GPU's memory: the rest is search workspace


def _machine_ram() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 16 << 30


def _divisor_near(dim: int, target: int) -> int:
    """The divisor of ``dim`` closest to ``target`` (PQ sub-quantizers)."""
    divs = [d for d in range(1, dim + 1) if dim % d == 0]
    return min(divs, key=lambda d: (abs(d - target), -d))


def _nlist(n: int) -> int:
    """About 4 sqrt(n) lists, a power of two, in [16, 262144]."""
    return int(min(262_144, max(16, 2 ** round(math.log2(max(1.0, 4 * math.sqrt(n)))))))


def _candidates(n: int, dim: int, recall: float) -> list:
    """(name, index, params, the highest recall@10 it is planned for), most accurate
    first. The ceilings are rules of thumb for these codes at k=10 (a calibrated
    plan measures instead)."""
    nl = _nlist(n)
    out = [("flat (exact, fp32)", "flat", {}, 1.0),
           ("HNSW, int8 traversal, fp32 re-rank", "hnsw", {"M": 16}, 0.995),
           ("HNSW, sq8 storage", "hnsw", {"M": 16, "storage": "sq8"}, 0.97),
           ("IVF-PQ 8-bit, fp32 re-rank", "ivf_pq",
            {"nlist": nl, "m": _divisor_near(dim, dim // 4), "nbits": 8, "refine": "fp32"},
            0.99),
           ("IVF-PQ 8-bit, sq8 re-rank", "ivf_pq",
            {"nlist": nl, "m": _divisor_near(dim, dim // 4), "nbits": 8, "refine": "sq8"},
            0.97),
           ("IVF-PQ 8-bit, no re-rank", "ivf_pq",
            {"nlist": nl, "m": _divisor_near(dim, dim // 2), "nbits": 8, "refine": "none"},
            0.92),
           ("IVF-PQ 4-bit fast-scan, no re-rank", "ivf_pq",
            {"nlist": nl, "m": _divisor_near(dim, dim // 2), "nbits": 4, "refine": "none"},
            0.9)]
    if recall < 0.999:
        out = out[1:]  # exact search only when asked for exact results
    return [c for c in out if c[3] >= recall]


class Plan:
    """The chosen index (``index``, ``params``), its bytes (``bytes``,
    ``bytes_per_vector``), where it runs (``target``: ``"cpu"`` or ``"gpu"``),
    ``devices`` (GPUs; 0 on the CPU), ``machines``, ``bytes_per_device``, the
    calibrated ``qps`` estimate (or None), ``cost_per_hour`` (with prices), the
    ``arithmetic`` as lines of text, and the ``alternatives`` considered."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def __str__(self) -> str:
        return "\n".join(self.arithmetic)

    def __repr__(self) -> str:
        return (f"Plan(index={self.index!r}, params={self.params}, target={self.target!r}, "
                f"machines={self.machines}, devices={self.devices}, "
                f"bytes={self.bytes:,})")


def _calibrate(sample, kind, params, recall, k, metric, n):
    """Single-core QPS at ``recall`` of ``kind`` built on ``sample``, scaled to ``n``;
    None when no setting reaches the recall on the sample."""
    from . import get_num_threads, set_num_threads
    from .contrib.evaluation import exact_knn, recall_at_k
    from .index import HNSWIndex, IVFPQIndex

    X = np.ascontiguousarray(sample, dtype=np.float32)
    rng = np.random.default_rng(0)
    nq = min(200, max(20, len(X) // 20))
    qi = rng.choice(len(X), nq, replace=False)
    base = np.delete(X, qi, axis=0)
    Q = X[qi] + 0.01 * X.std() * rng.standard_normal(X[qi].shape).astype(np.float32)
    gt = exact_knn(base, Q, k, metric)[1]
    m = len(base)
    if kind == "hnsw":
        idx = HNSWIndex(X.shape[1], metric=metric, **params)
        idx.add(base)
        settings = [dict(ef=e) for e in (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)]
        scale = math.log(max(m, 2)) / math.log(max(n, 2))
    else:
        nl = max(4, min(_nlist(m), m // 39))
        idx = IVFPQIndex(X.shape[1], metric=metric, **dict(params, nlist=nl))
        idx.train(base)
        idx.add(base)
        settings = [dict(nprobe=p, refine_factor=4) for p in (1, 2, 4, 8, 16, 32, 64, 128)
                    if p <= nl]
        # rows scanned per query grow as n / nlist: nlist ~ sqrt(n)
        scale = (m / nl) / (n / params["nlist"])
    threads = get_num_threads()
    set_num_threads(1)
    try:
        for s in settings:
            I = idx.search(Q, k=k, **s)[1]
            if recall_at_k(I, gt) >= recall:
                t0 = time.perf_counter()
                reps = 0
                while time.perf_counter() - t0 < 0.3:
                    idx.search(Q, k=k, **s)
                    reps += 1
                qps = reps * nq / (time.perf_counter() - t0)
                return {"qps_per_core_sample": qps, "setting": s, "sample_rows": m,
                        "qps_per_core": qps * scale}
    finally:
        set_num_threads(threads)
    return None


def plan(n: int, dim: int, *, recall: float = 0.95, qps: float | None = None, k: int = 10,
         metric: str = "l2", ram=None, disk=None, cpu_cores: int | None = None,
         gpus: int = 0, gpu_memory=None, sample=None, prices: dict | None = None) -> Plan:
    """Plans the index and hardware for ``n`` vectors of ``dim`` at ``recall``@``k``.

    Hardware per machine: ``ram`` (bytes or ``"256GB"``; default this machine's),
    ``disk`` (checked against the index file when given), ``cpu_cores`` (default this
    machine's), ``gpus`` and ``gpu_memory`` (bytes, ``"80GB"`` or a model name of
    ``GPU_MEMORY`` such as ``"H100"``). With ``gpus``, the index is planned on GPUs
    (sharded over as many as it needs); otherwise in RAM (sharded over machines). The
    plan takes the most accurate candidate whose planned recall reaches ``recall``
    and that fits one device, else the one needing the fewest devices. ``sample``
    (vectors like the collection's) calibrates throughput; with ``qps``, replicas are
    added to reach it. ``prices`` (``{"machine_hour": ..., "gpu_hour": ...}``) gives
    ``cost_per_hour``.
    """
    n = as_positive_int(n, "n", maximum=None)
    dim = as_positive_int(dim, "dim")
    if not isinstance(recall, (int, float)) or not 0 < recall <= 1:
        raise ValueError(f"recall must be in (0, 1], got {recall!r}")
    if qps is not None and (not isinstance(qps, (int, float)) or qps <= 0):
        raise ValueError(f"qps must be positive, got {qps!r}")
    if gpus and sample is not None:
        raise ValueError("calibration measures the CPU; plan GPUs without sample=")
    n, dim = int(n), int(dim)
    ram_b = _machine_ram() if ram is None else parse_bytes(ram)
    cores = cpu_cores or os.cpu_count() or 1
    if gpus:
        if gpu_memory is None:
            raise ValueError("gpus needs gpu_memory (bytes, '80GB' or a model such as 'H100')")
        gmem = GPU_MEMORY.get(str(gpu_memory).lower()) if isinstance(gpu_memory, str) else None
        gmem = gmem or parse_bytes(gpu_memory)
        per_device, where = gmem * GPU_USABLE, f"GPU ({gmem / 2**30:,.0f} GiB, " \
                                               f"{GPU_USABLE:.0%} usable)"
    else:
        per_device, where = ram_b * RAM_USABLE, f"machine RAM ({ram_b / 2**30:,.0f} GiB, " \
                                                f"{RAM_USABLE:.0%} usable)"
    cands = _candidates(n, dim, recall)
    if not cands:
        raise ValueError(f"no index is planned for recall {recall}")
    rows = []
    for name, kind, params, ceiling in cands:
        est = estimate_memory(n, dim, index=kind, metric=metric, **params)
        rows.append((name, kind, params, ceiling, est, math.ceil(est["bytes"] / per_device)))
    fits = [r for r in rows if r[5] == 1]
    chosen = fits[0] if fits else min(rows, key=lambda r: (r[5], -r[3]))
    name, kind, params, ceiling, est, shards = chosen
    lines = [f"{n:,} vectors x {dim} dims, recall@{k} >= {recall}, metric {metric}",
             f"index: {name} {params} (planned for recall up to {ceiling})",
             f"memory: {est['bytes_per_vector']:.1f} B/vector x {n:,} = "
             f"{est['bytes'] / 2**30:,.2f} GiB  ({', '.join(f'{p} {b / 2**30:,.2f} GiB' for p, b in est['parts'].items())})",
             f"per device: {where} holds {per_device / 2**30:,.1f} GiB -> "
             f"{shards} shard(s) of {est['bytes'] / shards / 2**30:,.2f} GiB"]
    cal = None
    replicas = 1
    if sample is not None:
        cal = _calibrate(sample, kind if kind != "flat" else "hnsw", params, recall, k,
                         metric, n) if kind != "flat" else None
        if cal is None:
            lines.append("throughput: the sample did not reach the recall target with this "
                         "index; no estimate")
        else:
            # each shard answers every query on its own device, in parallel: a replica
            # (all shards) serves about what one machine does on the whole index
            per_replica = cal["qps_per_core"] * cores
            lines.append(f"throughput (estimate): {cal['qps_per_core_sample']:,.0f} QPS/core on "
                         f"{cal['sample_rows']:,} sample rows at {cal['setting']}, scaled to "
                         f"{n:,} -> {cal['qps_per_core']:,.0f} QPS/core x {cores} cores = "
                         f"{per_replica:,.0f} QPS per replica")
            if qps is not None:
                replicas = max(1, math.ceil(qps / per_replica))
                lines.append(f"replicas for {qps:,.0f} QPS: ceil({qps:,.0f} / "
                             f"{per_replica:,.0f}) = {replicas}")
    elif qps is not None:
        lines.append("throughput: pass sample= (vectors like the collection's) to size "
                     "replicas for the QPS target")
    devices = shards * replicas if gpus else 0
    machines = math.ceil(devices / gpus) if gpus else shards * replicas
    lines.append(f"hardware: {machines} machine(s)" +
                 (f", {devices} GPU(s) ({gpus} per machine)" if gpus else ""))
    if disk is not None:
        disk_b = parse_bytes(disk)
        per_machine = est["bytes"] * replicas / machines
        ok = per_machine <= disk_b
        lines.append(f"disk: index files {per_machine / 2**30:,.2f} GiB per machine of "
                     f"{disk_b / 2**30:,.0f} GiB: {'fits' if ok else 'DOES NOT FIT'}")
    cost = None
    if prices:
        unknown = set(prices) - {"machine_hour", "gpu_hour"}
        if unknown:
            raise ValueError(f"unknown prices {sorted(unknown)}; use machine_hour, gpu_hour")
        cost = machines * prices.get("machine_hour", 0.0) + devices * prices.get("gpu_hour", 0.0)
        lines.append(f"cost: {machines} x {prices.get('machine_hour', 0.0)} + {devices} x "
                     f"{prices.get('gpu_hour', 0.0)} = {cost:,.2f} per hour")
    alternatives = [{"name": r[0], "index": r[1], "params": r[2], "recall_ceiling": r[3],
                     "bytes": r[4]["bytes"], "devices_needed": r[5]} for r in rows]
    return Plan(index=kind, params=params, bytes=est["bytes"],
                bytes_per_vector=est["bytes_per_vector"], target="gpu" if gpus else "cpu",
                devices=devices, machines=machines, shards=shards, replicas=replicas,
                bytes_per_device=int(est["bytes"] / shards), qps=None if cal is None else
                cal["qps_per_core"] * cores, calibration=cal, cost_per_hour=cost,
                arithmetic=lines, alternatives=alternatives)
