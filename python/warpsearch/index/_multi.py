# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""What sharded and replicated indexes share (:class:`_MultiIndex`): the parts and
their checks, one thread per part, device-array searches of one part, the folder they
are saved in, and the memory growth of a write."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import shutil
import tempfile
import threading
import weakref

import numpy as np

from .. import _core
from .._validation import as_matrix, as_path, as_positive_int
from . import _multi_device as md
from ._base import _IndexBase
from ._device import device_index, is_device_array
from .memory_plan import device_copy_bytes, host_bytes, index_kind, index_params

_FORMAT = "warpsearch-multi-index"
_VERSION = 1
LARGER_IS_BETTER = {"l2": False, "ip": True, "cosine": True}


class _MultiIndex:
    """What sharded and replicated indexes share: the parts, their checks, the pool of
    one thread per part, and the stats. Not instantiated directly."""

    mode = ""

    def __init__(self, indexes, check_memory: bool = True):
        if isinstance(indexes, _IndexBase) or not hasattr(indexes, "__iter__"):
            raise TypeError(f"{type(self).__name__} takes a list of indexes, "
                            f"got {type(indexes).__name__}")
        parts = list(indexes)
        if not parts:
            raise ValueError(f"{type(self).__name__} needs at least one index")
        for p in parts:
            if not isinstance(p, _IndexBase):
                raise TypeError(f"every part must be a FlatIndex, HNSWIndex or IVFPQIndex, "
                                f"got {type(p).__name__}")
        kinds = {type(p).__name__ for p in parts}
        if len(kinds) > 1:
            raise TypeError(f"all parts must be indexes of one kind, got {sorted(kinds)}")
        dims = {p.dim for p in parts}
        if len(dims) > 1:
            raise ValueError(f"all parts must have one dimension, got {sorted(dims)}")
        metrics = {p.metric for p in parts}
        if len(metrics) > 1:
            raise ValueError(f"all parts must have one metric, got {sorted(metrics)}")
        if len({id(p) for p in parts}) != len(parts):
            raise ValueError("an index appears twice among the parts")
        if not isinstance(check_memory, (bool, np.bool_)):
            raise TypeError("check_memory must be a bool")
        self._parts = tuple(parts)
        self.check_memory = bool(check_memory)
        self._tls = threading.local()
        self._pool = None
        self._pool_lock = threading.Lock()
        self._rr = 0  # round robin of replicas for one-query searches

    # -- properties -----------------------------------------------------
    @property
    def indexes(self) -> tuple:
        """The parts (shards or replicas), in order."""
        return self._parts

    @property
    def devices(self) -> list:
        """The device of each part."""
        return [p.device for p in self._parts]

    @property
    def kind(self) -> str:
        """``"flat"``, ``"hnsw"`` or ``"ivf_pq"``."""
        return index_kind(self._parts[0])

    @property
    def dim(self) -> int:
        return self._parts[0].dim

    @property
    def metric(self) -> str:
        return self._parts[0].metric

    @property
    def last_search_info(self) -> dict:
        """Merged stats of the last search this thread ran on this index (``{}`` before)."""
        return getattr(self._tls, "info", {})

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self._parts)} x {type(self._parts[0]).__name__}, "
                f"dim={self.dim}, metric={self.metric!r}, size={len(self)}, "
                f"devices={self.devices})")

    def memory_usage(self) -> int:
        """Host bytes of the parts (an index shared by several replicas counted once)."""
        return int(sum(p.memory_usage() for p in self._distinct()))

    def _distinct(self) -> list:
        """One part per distinct engine index (replicas may share one)."""
        seen, out = set(), []
        for p in self._parts:
            if id(p._impl) not in seen:
                seen.add(id(p._impl))
                out.append(p)
        return out

    # -- threads --------------------------------------------------------
    def _map(self, fn, items):
        """``[fn(item) for item in items]``, one thread per item; the first error (in
        item order) is raised once all have finished."""
        items = list(items)
        if len(items) == 1:
            return [fn(items[0])]
        with self._pool_lock:
            if self._pool is None:
                self._pool = cf.ThreadPoolExecutor(max_workers=len(self._parts),
                                                   thread_name_prefix="warpsearch-part")
                weakref.finalize(self, self._pool.shutdown, wait=False)
        futures = [self._pool.submit(fn, it) for it in items]
        cf.wait(futures)
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stops the part threads (they start again at the next call)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    # -- searches -------------------------------------------------------
    def _prepare(self, queries):
        """``(q, single, device)``: the queries as a 2-D array (float32 NumPy, or a
        CuPy/PyTorch device array), whether they were one 1-D query, and the CUDA
        device index they live on (None for host queries)."""
        if is_device_array(queries):
            cpu = [i for i, p in enumerate(self._parts) if p.device == "cpu"]
            if cpu:
                raise TypeError(f"queries are a device array but part {cpu[0]} searches on the "
                                "CPU; place every part on a GPU or pass a NumPy array")
            q = md.as_library_array(queries)
            return md.as_rows(q), len(q.shape) == 1, md.device_of(q)
        q = as_matrix(queries, self.dim, "queries")
        return q, np.ndim(queries) == 1, None

    @staticmethod
    def _check_k(k) -> int:
        return as_positive_int(k, "k")

    def _finish(self, D, I, stats, single, return_stats):
        self._tls.info = stats
        if single:
            D, I = D[0], I[0]
        return (D, I, stats) if return_stats else (D, I)

    @staticmethod
    def _search_part(part, q, home, k, filter, params):
        """One part's search; device queries are moved to the part's GPU and its results
        back to ``home`` (the queries' device)."""
        if home is None:
            return part.search(q, k=k, filter=filter, return_stats=True, **params)
        dev, lib = device_index(part.device), md.library(q)
        with md.current_device(lib, dev):
            D, I, st = part.search(md.on_device(q, dev), k=k, filter=filter,
                                   return_stats=True, **params)
        with md.current_device(lib, home):
            return md.on_device(D, home), md.on_device(I, home), st

    # -- persistence ----------------------------------------------------
    def _save_dir(self, path, files, entries) -> None:
        """Writes ``files`` (``[(name, index)]``) and a manifest into the folder ``path``,
        replacing an earlier save there by a complete new folder renamed into place (the
        folder is never half written; the old one is moved aside first)."""
        path = os.path.abspath(as_path(path))
        if os.path.exists(path) and not os.path.exists(os.path.join(path, "manifest.json")):
            raise ValueError(f"{path!r} exists and is not a saved {type(self).__name__}; "
                             "choose a new path")
        parent = os.path.dirname(path) or "."
        tmp = tempfile.mkdtemp(prefix=".ws-multi-", dir=parent)
        try:
            for name, part in files:
                part.save(os.path.join(tmp, name))
            manifest = {"format": _FORMAT, "version": _VERSION, "mode": self.mode,
                        "kind": self.kind, "dim": self.dim, "metric": self.metric,
                        "parts": entries}
            with open(os.path.join(tmp, "manifest.json"), "w") as f:
                json.dump(manifest, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            old = None
            if os.path.exists(path):
                old = tempfile.mkdtemp(prefix=".ws-multi-old-", dir=parent)
                os.rename(path, os.path.join(old, "x"))
            os.rename(tmp, path)
            if old:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @staticmethod
    def _read_manifest(path, mode):
        from .io import load_index
        path = as_path(path)
        mpath = os.path.join(path, "manifest.json")
        if not os.path.exists(mpath):
            raise FileNotFoundError(f"no saved sharded or replicated index at {path!r} "
                                    "(manifest.json is missing)")
        try:
            with open(mpath) as f:
                m = json.load(f)
        except (OSError, ValueError) as exc:
            raise ValueError(f"unreadable manifest {mpath!r}: {exc}") from None
        if not isinstance(m, dict) or m.get("format") != _FORMAT:
            raise ValueError(f"{mpath!r} is not a warpsearch sharded/replicated index manifest")
        if m.get("version") != _VERSION:
            raise ValueError(f"{mpath!r} has version {m.get('version')!r}; this warpsearch "
                             f"reads version {_VERSION}")
        if m.get("mode") != mode:
            raise ValueError(f"{path!r} holds a {m.get('mode')!r} index, not {mode!r}")
        parts = m.get("parts")
        if not isinstance(parts, list) or not parts:
            raise ValueError(f"{mpath!r} lists no parts")
        return path, parts, load_index

    @staticmethod
    def _load_devices(entries, devices):
        saved = [e.get("device", "cpu") for e in entries]
        if devices is None:
            return saved
        if isinstance(devices, str):
            return [devices] * len(saved)
        devices = list(devices)
        if len(devices) != len(saved):
            raise ValueError(f"devices names {len(devices)} devices for {len(saved)} parts")
        return devices


def copy_training(trained, others) -> None:
    """Gives ``others`` (empty IVF-PQ indexes) the coarse quantizer, codebooks and probe
    calibration of ``trained`` (empty too), through its file: one engine index each;
    parts that shared an engine index keep sharing one."""
    if not others:
        return
    with tempfile.TemporaryDirectory(prefix="ws-train-") as d:
        path = os.path.join(d, "trained.ws")
        trained.save(path)
        loaded = {}
        for p in others:
            key = id(p._impl)
            if key not in loaded:
                loaded[key] = _core.load_index(path)
            p._impl = loaded[key]
            p._gpu = None


def try_call(fn):
    """``fn()``; returns the exception it raised instead of raising it."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - carried back to the caller's thread
        return exc
    return None


def growth(host_jobs, device_jobs) -> dict:
    """Extra bytes per device of adding rows to parts (``[(part, rows)]``): the host grows
    by each engine index of ``host_jobs`` (replicas sharing one name it once), each GPU
    by the growth of the device copies of ``device_jobs`` it holds (a copy not made
    yet counts whole: the next search makes it)."""
    out = {"cpu": 0}
    for part, rows in host_jobs:
        kind, params, n, dim = index_kind(part), index_params(part), len(part), part.dim
        out["cpu"] += host_bytes(kind, n + rows, dim, params) - host_bytes(kind, n, dim, params)
    for part, rows in device_jobs:
        if part.device == "cpu":
            continue
        kind, params, n, dim = index_kind(part), index_params(part), len(part), part.dim
        now = part._gpu.memory_usage() if part._gpu is not None else 0
        new = device_copy_bytes(kind, n + rows, dim, params, getattr(part, "gpu_precision", "fp32"))
        out[part.device] = out.get(part.device, 0) + new - now
    return out
