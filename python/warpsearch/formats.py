# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Vector files of any size, read in row ranges without loading them whole.

Formats, chosen by the file's extension (or ``format=``):

* ``.npy``: NumPy arrays (memory-mapped);
* ``.fvecs`` / ``.bvecs`` / ``.ivecs``: the TEXMEX formats (each row an int32
  dimension, then float32 / uint8 / int32 values), memory-mapped;
* ``.fbin`` / ``.u8bin`` / ``.i8bin`` / ``.ibin``: the big-ann-benchmarks formats
  (uint32 rows, uint32 dimension, then float32 / uint8 / int8 / int32 rows),
  memory-mapped; ground truth ``.ibin`` files that also carry distances (ids then
  float32 distances) read their ids;
* ``.parquet``: one list (or fixed-size list) column of numbers, ``column=`` or the
  only such column, read one row group at a time (needs ``pyarrow``).

>>> import numpy as np, warpsearch as ws
>>> X = np.arange(12, dtype=np.float32).reshape(4, 3)
>>> ws.write_vectors("four.fbin", X)
>>> f = ws.open_vectors("four.fbin")
>>> len(f), f.dim, f.dtype
(4, 3, dtype('float32'))
>>> f.read(1, 3).tolist()
[[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["VectorFile", "open_vectors", "write_vectors", "FORMATS"]

#: extension -> (layout, element dtype)
FORMATS = {
    ".npy": ("npy", None),
    ".fvecs": ("vecs", np.float32), ".bvecs": ("vecs", np.uint8), ".ivecs": ("vecs", np.int32),
    ".fbin": ("bin", np.float32), ".u8bin": ("bin", np.uint8), ".i8bin": ("bin", np.int8),
    ".ibin": ("bin", np.int32),
    ".parquet": ("parquet", None),
}


def _format_of(path: str, format) -> str:
    if format is not None:
        ext = format if format.startswith(".") else "." + format
    else:
        ext = os.path.splitext(path)[1]
    ext = ext.lower()
    if ext not in FORMATS:
        raise ValueError(f"{path}: unknown vector file format {ext or '(none)'!r}; "
                         f"expected one of {', '.join(sorted(FORMATS))} (or pass format=)")
    return ext


class VectorFile:
    """Rows ``[start, stop)`` of a vector file on demand: ``read``, ``chunks``,
    ``take`` (chosen rows), ``len()``, ``dim``, ``dtype``. ``read`` reads the rows into
    a new array (the file's pages stay in the page cache, not in this process's
    resident memory); ``take`` goes through a memory mapping; Parquet reads the row
    groups that hold the rows."""

    def __init__(self, path, format=None, column=None):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"no vector file at {self.path}")
        self.format = _format_of(self.path, format)
        layout, dtype = FORMATS[self.format]
        self._pq = None
        size = os.path.getsize(self.path)
        self._offset = None  # where row 0 starts, for reads that do not map the file
        if layout == "npy":
            arr = np.load(self.path, mmap_mode="r", allow_pickle=False)
            if arr.ndim != 2:
                raise ValueError(f"{self.path}: expected a 2-D array, got shape {arr.shape}")
            self._rows = arr
            if arr.flags["C_CONTIGUOUS"] and isinstance(arr, np.memmap):
                self._offset, self._row_bytes = arr.offset, arr.shape[1] * arr.itemsize
        elif layout == "vecs":
            if size < 4:
                raise ValueError(f"{self.path}: too short for a {self.format} file")
            dim = int(np.fromfile(self.path, dtype=np.int32, count=1)[0])
            row_bytes = 4 + dim * np.dtype(dtype).itemsize
            if dim <= 0 or size % row_bytes:
                raise ValueError(f"{self.path}: not a {self.format} file (dimension {dim}, "
                                 f"{size} bytes is not a whole number of {row_bytes}-byte rows)")
            raw = np.memmap(self.path, dtype=np.uint8, mode="r").reshape(-1, row_bytes)
            self._rows = raw[:, 4:].view(dtype)
            self._vecs_dims = raw[:, :4].view(np.int32)
            self._offset, self._row_bytes = 0, row_bytes
        elif layout == "bin":
            if size < 8:
                raise ValueError(f"{self.path}: too short for a {self.format} file")
            n, dim = (int(x) for x in np.fromfile(self.path, dtype=np.uint32, count=2))
            item = np.dtype(dtype).itemsize
            sizes = (n * dim * item, n * dim * 8) if self.format == ".ibin" else \
                (n * dim * item,)  # ground truth: ids, then float32 distances
            if dim == 0 or (size - 8) not in sizes:
                raise ValueError(f"{self.path}: header says {n} x {dim} but the file has "
                                 f"{size - 8} data bytes")
            self._rows = np.memmap(self.path, dtype=dtype, mode="r", offset=8,
                                   shape=(n, dim))  # ids first when distances follow
            self._offset, self._row_bytes = 8, dim * item
        else:
            self._open_parquet(column)
        if self._pq is None:
            self.n, self.dim = (int(x) for x in self._rows.shape)
            self.dtype = self._rows.dtype

    def _open_parquet(self, column) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError("reading Parquet needs pyarrow: pip install 'warpsearch[db]'") \
                from None
        f = pq.ParquetFile(self.path)
        fields = [fl for fl in f.schema_arrow
                  if (pa.types.is_list(fl.type) or pa.types.is_fixed_size_list(fl.type)
                      or pa.types.is_large_list(fl.type))
                  and (pa.types.is_integer(fl.type.value_type)
                       or pa.types.is_floating(fl.type.value_type))]
        if column is None:
            if len(fields) != 1:
                raise ValueError(f"{self.path}: {len(fields)} list columns of numbers "
                                 f"({[fl.name for fl in fields]}); name one with column=")
            column = fields[0].name
        elif column not in [fl.name for fl in fields]:
            raise ValueError(f"{self.path}: no list column of numbers named {column!r}")
        self._pq, self._column = f, column
        self.n = f.metadata.num_rows
        self._starts = np.cumsum([0] + [f.metadata.row_group(i).num_rows
                                        for i in range(f.num_row_groups)])
        first = self._group(0) if self.n else None
        if first is None:
            raise ValueError(f"{self.path}: the file has no rows")
        self.dim, self.dtype = first.shape[1], first.dtype

    def _group(self, g: int) -> np.ndarray:
        col = self._pq.read_row_group(g, columns=[self._column]).column(0).combine_chunks()
        values = col.values if hasattr(col, "values") else col.flatten()
        arr = values.to_numpy(zero_copy_only=False)
        rows = len(col)
        if rows and arr.size % rows:
            raise ValueError(f"{self.path}: column {self._column!r} has rows of "
                             "different lengths")
        return arr.reshape(rows, -1 if rows else 0)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return (f"VectorFile({self.path!r}, format={self.format!r}, n={self.n}, "
                f"dim={self.dim}, dtype={np.dtype(self.dtype).name})")

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``[start, stop)`` as a new C-contiguous array of the file's dtype."""
        stop = self.n if stop is None else min(int(stop), self.n)
        start = max(0, int(start))
        if start >= stop:
            return np.empty((0, self.dim), self.dtype)
        if self._pq is None:
            if self._offset is None:  # e.g. a Fortran-ordered .npy: through the mapping
                return np.ascontiguousarray(self._rows[start:stop])
            # read, not mapped: the rows cost their copy only, never resident file pages
            with open(self.path, "rb") as f:
                f.seek(self._offset + start * self._row_bytes)
                raw = np.fromfile(f, dtype=np.uint8, count=(stop - start) * self._row_bytes)
            raw = raw.reshape(stop - start, self._row_bytes)
            if self.format not in (".fvecs", ".bvecs", ".ivecs"):
                return raw.view(self.dtype)
            dims = raw[:, :4].view(np.int32)[:, 0]
            if (dims != self.dim).any():
                bad = int(np.flatnonzero(dims != self.dim)[0])
                raise ValueError(f"{self.path}: row {start + bad} has dimension "
                                 f"{int(dims[bad])}, expected {self.dim}")
            return np.ascontiguousarray(raw[:, 4:]).view(self.dtype)
        g0 = int(np.searchsorted(self._starts, start, side="right")) - 1
        parts, g = [], g0
        while g < len(self._starts) - 1 and self._starts[g] < stop:
            arr = self._group(g)
            lo = max(start - self._starts[g], 0)
            hi = min(stop - self._starts[g], len(arr))
            parts.append(arr[lo:hi])
            g += 1
        return np.ascontiguousarray(np.concatenate(parts))

    def chunks(self, rows: int, start: int = 0):
        """``(start, array)`` for consecutive blocks of at most ``rows`` rows."""
        rows = int(rows)
        if rows <= 0:
            raise ValueError(f"rows must be positive, got {rows}")
        for s in range(int(start), self.n, rows):
            yield s, self.read(s, s + rows)

    def take(self, rows, block: int = 65536) -> np.ndarray:
        """The rows numbered ``rows`` (sorted ascending), in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows[0] < 0 or rows[-1] >= self.n or (np.diff(rows) < 0).any()):
            raise ValueError("rows must be sorted row numbers inside the file")
        if self._pq is None and self._offset is None:
            return np.ascontiguousarray(self._rows[rows])
        out = np.empty((len(rows), self.dim), self.dtype)  # block by block, via read
        for s in range(0, self.n, block):
            sel = np.flatnonzero((rows >= s) & (rows < s + block))
            if sel.size:
                out[sel] = self.read(s, s + block)[rows[sel] - s]
        return out


def open_vectors(path, format=None, column=None) -> VectorFile:
    """Opens a vector file (see the module's list of formats) for reading in row
    ranges; nothing is read until rows are asked for."""
    return VectorFile(path, format=format, column=column)


def write_vectors(path, vectors, format=None) -> None:
    """Writes ``vectors`` (a 2-D array) in the format of ``path``'s extension (not
    Parquet), converting to that format's element type; a value that would change
    in the conversion is refused."""
    path = os.fspath(path)
    fmt = _format_of(path, format)
    layout, dtype = FORMATS[fmt]
    arr = np.asarray(vectors)
    if arr.ndim != 2:
        raise ValueError(f"vectors must be 2-D, got shape {arr.shape}")
    if layout == "parquet":
        raise ValueError("write Parquet with pyarrow (a list column of numbers)")
    if layout == "npy":
        np.save(path, arr)
        return
    out = arr.astype(dtype)
    if not np.array_equal(out, arr, equal_nan=False):
        raise ValueError(f"{fmt} stores {np.dtype(dtype).name}: these values would change")
    n, dim = out.shape
    with open(path, "wb") as f:
        if layout == "bin":
            np.array([n, dim], np.uint32).tofile(f)
            out.tofile(f)
        else:
            raw = np.empty((n, 4 + dim * out.itemsize), np.uint8)
            raw[:, :4] = np.full((n, 1), dim, np.int32).view(np.uint8)
            raw[:, 4:] = np.ascontiguousarray(out).view(np.uint8).reshape(n, -1)
            raw.tofile(f)
