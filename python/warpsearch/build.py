# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Out-of-core index builds: an index over a vector file larger than RAM, trained on
a sample, filled in streamed chunks within a memory budget, checkpointed so that an
interrupted build resumes where it stopped (``warpsearch build`` on the command
line)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil

import numpy as np

from ._progress import progress_bar
from ._validation import as_positive_int
from .formats import VectorFile, open_vectors
from .index import FlatIndex, HNSWIndex, IVFPQIndex, estimate_memory, load_index

__all__ = ["build_index", "parse_bytes"]

_KINDS = {"flat": FlatIndex, "hnsw": HNSWIndex, "ivf_pq": IVFPQIndex}
_STATE = "state.json"
_CHECKPOINT = "index.ws"
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20,
          "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
          "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}


def parse_bytes(value) -> int:
    """A byte count: an int, or a string such as ``"512MB"`` / ``"4 GiB"`` (binary
    units: 1 KB = 1024 bytes).

    >>> parse_bytes("1.5 GB"), parse_bytes(4096)
    (1610612736, 4096)
    """
    if isinstance(value, bool):
        raise TypeError("a byte count must be an int or a string such as '4GB'")
    if isinstance(value, (int, np.integer)):
        if value <= 0:
            raise ValueError(f"a byte count must be positive, got {value}")
        return int(value)
    if not isinstance(value, str):
        raise TypeError("a byte count must be an int or a string such as '4GB'")
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", value)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a byte count: {value!r} (e.g. '512MB', '4GB')")
    out = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if out <= 0:
        raise ValueError(f"a byte count must be positive, got {value!r}")
    return out


def _source_key(src: VectorFile) -> dict:
    st = os.stat(src.path)
    return {"path": os.path.abspath(src.path), "bytes": st.st_size,
            "mtime_ns": st.st_mtime_ns, "n": src.n, "dim": src.dim}


def _train_rows(kind: str, n: int, params: dict, train_rows) -> int:
    if train_rows is not None:
        train_rows = as_positive_int(train_rows, "train_rows", maximum=None)
        return min(int(train_rows), n)
    if kind == "ivf_pq":  # k-means wants tens of points per list; PQ a few thousand rows
        return min(n, max(50_000, 64 * int(params.get("nlist", 1024))))
    return min(n, 50_000)


def _plan_chunk(kind, n, dim, params, budget, chunk_rows, itemsize):
    """Rows per chunk (a ValueError when the index itself would not fit the budget)."""
    est_params = {k: v for k, v in params.items()
                  if k in {"M", "quantized", "sq_bits", "storage", "metric", "refine",
                           "nlist", "m", "nbits"}}
    index_bytes = estimate_memory(n, dim, index=kind, **est_params)["bytes"]
    if budget is not None and index_bytes >= budget * 0.9:
        hint = {"hnsw": "an IVF-PQ index (index='ivf_pq') or HNSW storage='sq8'",
                "flat": "storage='sq8' or an IVF-PQ index (index='ivf_pq')",
                "ivf_pq": "fewer bytes per code (a smaller m, nbits=4) or refine='none'"}[kind]
        raise ValueError(f"a {kind} index of {n:,} x {dim} vectors needs about "
                         f"{index_bytes / 2**20:,.0f} MiB, over 90% of the memory budget of "
                         f"{budget / 2**20:,.0f} MiB; raise the budget or use {hint}")
    if chunk_rows is not None:
        chunk_rows = as_positive_int(chunk_rows, "chunk_rows", maximum=None)
        return int(chunk_rows)
    per_row = dim * (itemsize + 4 + 4)  # the file's rows, their float32 copy, headroom
    if budget is None:
        return 65_536
    room = budget - index_bytes - _resident_bytes()  # the process itself counts too
    return int(max(1024, min(262_144, room // (2 * per_row))))


def _resident_bytes() -> int:
    """This process's resident memory now (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def build_index(source, path, index: str = "ivf_pq", *, metric: str = "l2",
                memory_budget=None, chunk_rows: int | None = None,
                train_rows: int | None = None, checkpoint_rows: int | None = None,
                resume: bool = True, progress=None, seed: int = 0, format=None,
                column=None, **params):
    """Builds an index over the vector file ``source`` (any format of
    :func:`open_vectors`, or an open :class:`VectorFile`) and saves it at ``path``,
    never holding more than a chunk of the file in memory.

    The rows get ids ``0 .. n-1`` in file order. An IVF-PQ index is trained on
    ``train_rows`` rows spread over the file (default: ``max(50,000, 64 * nlist)``),
    then filled chunk by chunk; flat and HNSW indexes are filled chunk by chunk.
    ``memory_budget`` (bytes, or a string such as ``"4GB"``) sizes the chunks and
    refuses, before reading anything, an index whose estimated memory
    (:func:`estimate_memory`) would not fit it, naming what would. Every
    ``checkpoint_rows`` rows (default: a tenth of the file) the partial index and its
    progress are saved in ``path + ".partial"``; a later call with the same source
    and parameters resumes from there (``resume=False`` starts over). ``params`` go
    to the index's constructor (``nlist``, ``m``, ``nbits``, ``M``, ...). Returns the
    built index.

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> X = np.random.default_rng(0).standard_normal((3000, 16)).astype(np.float32)
    >>> ws.write_vectors("base.fbin", X)
    >>> idx = ws.build_index("base.fbin", "base.ws", index="hnsw", chunk_rows=1000,
    ...                      progress=False)
    >>> len(idx), idx.search(X[5], k=1)[1].tolist()
    (3000, [5])
    """
    src = source if isinstance(source, VectorFile) else open_vectors(source, format, column)
    kind = str(index).lower().replace("-", "_")
    if kind == "ivfpq":
        kind = "ivf_pq"
    if kind not in _KINDS:
        raise ValueError(f"unknown index {index!r}; expected 'flat', 'hnsw' or 'ivf_pq'")
    if src.n == 0:
        raise ValueError(f"{src.path}: the file has no rows")
    budget = None if memory_budget is None else parse_bytes(memory_budget)
    params = dict(params)
    rows_per_chunk = _plan_chunk(kind, src.n, src.dim, dict(params, metric=metric),
                                              budget, chunk_rows, np.dtype(src.dtype).itemsize)
    every = max(rows_per_chunk, src.n // 10) if checkpoint_rows is None else int(checkpoint_rows)
    if every <= 0:
        raise ValueError(f"checkpoint_rows must be positive, got {checkpoint_rows!r}")
    path = os.fspath(path)
    partial = path + ".partial"
    settings = {"index": kind, "metric": metric, "params": params, "seed": seed,
                "train_rows": _train_rows(kind, src.n, params, train_rows),
                "source": _source_key(src)}
    fingerprint = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str)
                                 .encode()).hexdigest()
    idx, done = None, 0
    state_file = os.path.join(partial, _STATE)
    if os.path.exists(state_file) and resume:
        with open(state_file) as f:
            state = json.load(f)
        if state.get("fingerprint") != fingerprint:
            raise ValueError(f"{partial} holds a partial build of another source or other "
                             "parameters; pass resume=False to start over")
        idx, done = load_index(os.path.join(partial, _CHECKPOINT)), int(state["rows_done"])
        if len(idx) != done:
            raise ValueError(f"{partial}: the checkpoint holds {len(idx)} rows, its state "
                             f"says {done}; pass resume=False to start over")
    elif os.path.exists(partial):
        shutil.rmtree(partial)
    if idx is None:
        idx = _KINDS[kind](src.dim, metric=metric, **params)
        if kind == "ivf_pq":
            rng = np.random.default_rng(seed)
            rows = np.sort(rng.choice(src.n, settings["train_rows"], replace=False))
            idx.train(src.take(rows).astype(np.float32, copy=False))
    os.makedirs(partial, exist_ok=True)

    def checkpoint(rows_done):
        idx.save(os.path.join(partial, _CHECKPOINT))
        tmp = state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"fingerprint": fingerprint, "rows_done": rows_done,
                       "settings": settings}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, state_file)

    since = 0
    with progress_bar(progress, src.n, f"building {kind} from {os.path.basename(src.path)}") \
            as bar:
        bar.update(done)
        for start, X in src.chunks(rows_per_chunk, start=done):
            idx.add(X)  # ids continue from the largest so far: the row numbers
            done = start + len(X)
            bar.update(len(X))
            since += len(X)
            if since >= every and done < src.n:
                checkpoint(done)
                since = 0
    idx.save(path)
    shutil.rmtree(partial, ignore_errors=True)
    return idx
