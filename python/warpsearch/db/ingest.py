# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Bulk ingest from files: ``.npy`` (vectors) and ``.parquet`` (vectors + payload columns)."""

from __future__ import annotations

import os

import numpy as np

from .._progress import progress_bar, show_progress

from .._validation import as_positive_int

__all__ = ["ingest"]


def ingest(col, path, *, ids=None, id_column=None, vector_column: str = "vector",
           payload_columns=None, batch_size: int = 4096, progress=None) -> int:
    """Streams the points of a file into collection ``col``; returns how many were written.

    Parameters
    ----------
    col : Collection
    path : str or os.PathLike
        ``.npy``: an ``(n, dim)`` array of vectors (memory-mapped, read in batches).
        ``.parquet``: one row per point; ``vector_column`` holds the vector (a list
        column) and the other columns (or ``payload_columns``) become the payload.
        Parquet needs pyarrow (``pip install pyarrow`` or ``warpsearch[db]``).
    ids : sequence, optional
        Point ids; by default ``id_column`` (parquet) or the row numbers.
    batch_size : int
        Points per batch (and per log record).
    progress : bool, optional
        Progress bar (default: on a terminal only).

    Examples
    --------
    >>> import numpy as np, warpsearch as ws
    >>> np.save("vectors.npy", np.eye(3, 4))
    >>> db = ws.connect("example_db"); col = db.create_collection("c", dim=4)
    >>> ws.ingest(col, "vectors.npy")
    3
    >>> db.close()
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    batch_size = as_positive_int(batch_size, "batch_size", maximum=None)
    if path.endswith(".npy"):
        return _ingest_npy(col, path, ids, batch_size, progress)
    if path.endswith(".parquet"):
        return _ingest_parquet(col, path, ids, id_column, vector_column, payload_columns,
                               batch_size, progress)
    raise ValueError(f"cannot ingest {path!r}: expected a .npy or .parquet file")


def _bar(progress, total, name):
    if not show_progress(progress):
        return None
    return progress_bar(True, total, f"ingest {name}", "pt")


def _ingest_npy(col, path, ids, batch_size, progress):
    x = np.load(path, mmap_mode="r")
    if x.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D array of vectors, got shape {x.shape}")
    n = x.shape[0]
    if ids is not None and len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} vectors in {path}")
    bar = _bar(progress, n, col.name)
    try:
        for s in range(0, n, batch_size):
            e = min(n, s + batch_size)
            batch_ids = list(range(s, e)) if ids is None else list(ids[s:e])
            col.upsert(batch_ids, np.asarray(x[s:e]), None, batch_size=batch_size,
                       progress=False)
            if bar is not None:
                bar.update(e - s)
    finally:
        if bar is not None:
            bar.close()
    return n


def _ingest_parquet(col, path, ids, id_column, vector_column, payload_columns, batch_size,
                    progress):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("reading .parquet files needs pyarrow: pip install pyarrow "
                          "(or warpsearch[db])") from None
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    if vector_column not in names:
        raise ValueError(f"{path}: no vector column {vector_column!r} (columns: {names})")
    if id_column is not None and id_column not in names:
        raise ValueError(f"{path}: no id column {id_column!r} (columns: {names})")
    if payload_columns is None:
        payload_columns = [c for c in names if c not in (vector_column, id_column)]
    missing = [c for c in payload_columns if c not in names]
    if missing:
        raise ValueError(f"{path}: payload columns {missing} not found (columns: {names})")
    n = pf.metadata.num_rows
    if ids is not None and len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} rows in {path}")
    bar = _bar(progress, n, col.name)
    done = 0
    try:
        cols = [vector_column] + ([id_column] if id_column else []) + list(payload_columns)
        for batch in pf.iter_batches(batch_size=batch_size, columns=cols):
            m = batch.num_rows
            vec = _vectors(batch.column(vector_column), col.dim, path)
            if id_column is not None:
                batch_ids = batch.column(id_column).to_pylist()
            elif ids is not None:
                batch_ids = list(ids[done:done + m])
            else:
                batch_ids = list(range(done, done + m))
            pcols = {c: batch.column(c).to_pylist() for c in payload_columns}
            pays = [{c: pcols[c][i] for c in payload_columns} for i in range(m)] \
                if payload_columns else None
            col.upsert(batch_ids, vec, pays, batch_size=batch_size, progress=False)
            done += m
            if bar is not None:
                bar.update(m)
    finally:
        if bar is not None:
            bar.close()
    return done


def _vectors(arr, dim, path):
    import pyarrow as pa

    if pa.types.is_fixed_size_list(arr.type) or pa.types.is_list(arr.type) \
            or pa.types.is_large_list(arr.type):
        if arr.null_count:
            raise ValueError(f"{path}: the vector column has nulls")
        flat = arr.flatten().to_numpy(zero_copy_only=False)
        if flat.size != len(arr) * dim:
            raise ValueError(f"{path}: vectors must all have {dim} values")
        return flat.reshape(len(arr), dim)
    raise ValueError(f"{path}: the vector column must be a list of numbers, got {arr.type}")
