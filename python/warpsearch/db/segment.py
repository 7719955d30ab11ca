# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Segments: the mutable one (grows in memory, indexed as it grows by the
collection's indexer) and sealed ones (immutable files with the configured index; only their
tombstones change).

Sealed segment directory ``seg-<id>/``::

    vectors.npy      float32 (n, dim), the vectors as given; absent when the index
                     file holds them (an fp32 flat or HNSW storage, an fp32 IVF-PQ
                     re-rank copy): then the vectors are read from the index, and
    norms.npy        float32 (n,), their norms, when the index holds them normalized
                     (cosine): a vector is read back as its stored unit vector times
                     its norm, within float32 rounding (1e-6 of its norm) of the
                     vector written
    ids.npy          user ids of the rows when all are ints (int64), else
    ids.json         user ids of the rows (int or str)
    payloads.jsonl   one JSON payload per row (empty line: no payload); a loaded
                     segment maps it and reads a row's payload when asked
    index.bin        the index (ids are the row numbers), written by ``Index.save``
    fields.npz       the frozen payload field indexes (``fields.save_fields``); absent
                     in segments written before them (or with no indexed field), whose
                     field indexes are rebuilt from the payloads on open

The manifest records the size and CRC-32 of every file; loading checks them
and raises ``CorruptionError`` on any mismatch, so a damaged segment is never
served. The index is the exception: it is memory-mapped (``load_index(mmap=True)``)
and the engine verifies each of its sections' checksums on first use, so opening
reads its header, not its data (a damaged section raises ``CorruptionError`` from
the first search that reads it). Tombstones live beside
(``tombstones/seg-<id>.<gen>.npy``) because they change after sealing.
"""

from __future__ import annotations

import json
import mmap
import os
import shutil

import numpy as np

from .. import _core
from ..index import FlatIndex, HNSWIndex, load_index
from .fields import Grow, load_fields, make_field_index, save_fields
from .payload import MISSING, decode_payload, field_values, parse_column
from .storage import CorruptionError, file_crc32, fsync_dir

__all__ = ["MutableSegment", "SealedSegment", "write_segment", "load_segment",
           "build_index", "make_index", "add_rows", "SEGMENT_FILES", "seg_dirname", "parse_columns",
           "build_field"]

SEGMENT_FILES = ("vectors.npy", "ids.json", "payloads.jsonl", "index.bin")
FIELDS_FILE = "fields.npz"
NORMS_FILE = "norms.npy"
_CHECK_ROWS = 1 << 13  # rows read per step from an index (bounds the temporaries)
# Files checked by size only when a segment opens: the engine verifies the index's
# sections itself, each on first use.
_LAZY_FILES = ("index.bin",)


def seg_dirname(seg_id: int) -> str:
    return f"seg-{seg_id:08d}"


class _SegmentBase:
    kind = "?"
    seg_id: int
    fields: dict
    n: int
    n_deleted: int
    _live = (None, -1, -1)  # (mask, n, tombstone version) of the last live_mask call
    _tomb_ver = 0

    def payload(self, row: int):
        return decode_payload(self.raws[row])

    def live_mask(self, n: int):
        """None when every row of the first ``n`` is live, else the bool mask (cached
        until the next delete, so searches do not rebuild it)."""
        if self.n_deleted == 0:
            return None
        mask, cn, ver = self._live
        if cn == n and ver == self._tomb_ver:
            return mask
        mask = ~self.tombs()[:n]
        self._live = (mask, n, self._tomb_ver)
        return mask


def _anonymous_rows(n: int, dim: int) -> np.ndarray:
    """An (n, dim) float32 array in a memory mapping of its own, given back to the
    system when the array goes (a chunk from malloc could stay in the process as free
    heap memory once dropped)."""
    # populated at once: the rows are about to be written, and faulting the pages in one
    # call costs a quarter less than a fault per page during the copy
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
    return np.frombuffer(mmap.mmap(-1, max(1, n * dim) * 4, flags=flags), dtype=np.float32,
                         count=n * dim).reshape(n, dim)


class RowStore:
    """The mutable segment's vectors as given, in fixed-size chunks: an append never
    copies what is stored, and a chunk whose rows the segment's index holds exactly
    (checked row by row, as for sealed segments) is dropped, its rows then read back
    from the index (times their norms for cosine). So a segment holds one copy of each
    vector once it is indexed, plus a chunk of rows at most on its way."""

    _CHUNK_BYTES = 4 << 20

    def __init__(self, dim: int):
        self.dim = dim
        self.per = max(256, self._CHUNK_BYTES // (4 * max(dim, 1)))  # rows per chunk
        self.chunks: list = []  # (per, dim) float32 arrays, None once dropped
        self.row_norms: list = []  # (per,) float32 norms of each held chunk's rows
        self.norms: dict = {}  # chunk -> float32 norms (cosine chunks read from the index)
        self.index = None  # where dropped chunks are read back
        self.n = 0
        self.dropped = 0  # chunks [0, dropped) are None

    @property
    def nbytes(self) -> int:
        """Bytes of the chunks still held."""
        return sum(c.nbytes for c in self.chunks if c is not None)

    def extend(self, vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        m, off, per = len(vectors), 0, self.per
        while off < m:
            c, r = divmod(self.n, per)
            if c == len(self.chunks):
                self.chunks.append(_anonymous_rows(per, self.dim))
                self.row_norms.append(np.empty(per, dtype=np.float32))
            take = min(m - off, per - r)
            part = self.chunks[c][r:r + take]
            part[...] = vectors[off:off + take]
            # written with the rows: an exact scan divides by them (cosine) instead of
            # normalizing a copy of the chunk on every query
            np.sqrt(np.einsum("ij,ij->i", part, part), out=self.row_norms[c][r:r + take])
            off += take
            self.n += take  # rows become readable as their chunk part is written

    def _chunk_rows(self, c: int, a: int, b: int) -> np.ndarray:
        """Rows ``[a, b)`` of chunk ``c`` (relative), from the chunk or the index."""
        ch = self.chunks[c]
        if ch is not None:
            return ch[a:b]
        base = c * self.per
        out = self.index.get_vectors(np.arange(base + a, base + b, dtype=np.int64))
        nrm = self.norms.get(c)
        if nrm is not None:
            out *= nrm[a:b, None]
        return out

    def held_norms(self, lo: int, hi: int):
        """The norms of rows ``[lo, hi)`` when they lie in one held chunk, else None."""
        per = self.per
        c = lo // per
        if hi <= lo or (hi - 1) // per != c or self.chunks[c] is None:
            return None
        return self.row_norms[c][lo - c * per:hi - c * per]

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``[lo, hi)``: a view when they lie in one held chunk."""
        per = self.per
        if hi <= lo:
            return np.empty((0, self.dim), dtype=np.float32)
        c0, c1 = lo // per, (hi - 1) // per
        if c0 == c1:
            return self._chunk_rows(c0, lo - c0 * per, hi - c0 * per)
        return np.concatenate([self._chunk_rows(c, max(lo, c * per) - c * per,
                                                min(hi, (c + 1) * per) - c * per)
                               for c in range(c0, c1 + 1)])

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Rows at the indices ``rows`` (int64), in that order."""
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        if not len(rows):
            return out
        cs = rows // self.per
        for c in np.unique(cs).tolist():
            sel = np.flatnonzero(cs == c)
            ch = self.chunks[c]
            r = rows[sel] - c * self.per
            if ch is not None:
                out[sel] = ch[r]
            else:
                out[sel] = self._chunk_rows(c, int(r.min()), int(r.max()) + 1)[r - r.min()]
        return out

    def drop_indexed(self, index, indexed: int) -> None:
        """Drops the whole chunks below row ``indexed`` that ``index`` holds exactly."""
        while self.dropped < indexed // self.per:
            c = self.dropped
            held = index_holds_vectors(index, self.chunks[c], first_row=c * self.per)
            if held is None:  # the index keeps less (a compressed storage): keep them
                return
            self.index = index
            if held:
                self.norms[c] = held[0]
            self.chunks[c] = None  # readers of these rows now go to the index
            self.row_norms[c] = None
            self.dropped += 1


class MutableSegment(_SegmentBase):
    """The segment receiving writes: vectors in memory, indexed as it grows.

    The indexer (a background thread of the collection) adds rows to ``index`` in
    order; rows ``[0, indexed)`` are in it, and searches scan the newer rows
    ``[indexed, n)`` exactly, so a write is visible at once and served by the index
    soon after. The vectors live in a ``RowStore``, which drops the chunks the index
    holds exactly (one copy of each indexed vector).
    """

    kind = "mutable"

    def __init__(self, seg_id: int, dim: int, metric: str, schema: dict):
        self.seg_id = seg_id
        self.dim = dim
        self.metric = metric
        self.vecs = RowStore(dim)
        self.index = None
        self.indexed = 0
        self.fields = {name: make_field_index(spec) for name, spec in schema.items()}
        self._uids = Grow(object)
        self.raws: list = []
        self._tomb = Grow(np.bool_)
        self.n = 0
        self.n_deleted = 0
        self.covered_seq = -1  # set when frozen
        self.covered_rows = 0  # rows of record covered_seq + 1 it also holds
        self.frozen = False

    @property
    def uids(self) -> np.ndarray:
        return self._uids.view()

    def append(self, uids, vectors, raws, columns) -> None:
        """Appends rows; ``columns[j]`` is schema field j's ``Column`` of the rows."""
        m = len(uids)
        base = self.n
        self.vecs.extend(vectors)
        for fi, col in zip(self.fields.values(), columns):
            fi.add_column(base, col)
        ids = np.empty(m, dtype=object)
        ids[:] = uids
        self._uids.extend(ids)
        self.raws.extend(raws)
        self._tomb.extend(np.zeros(m, dtype=np.bool_))
        self.n = base + m  # published last: readers see whole rows only

    def tombs(self) -> np.ndarray:
        return self._tomb.view()

    def mark_deleted(self, row: int) -> None:
        if not self._tomb.buf[row]:
            self._tomb.buf[row] = True
            self.n_deleted += 1
            self._tomb_ver += 1

    def vectors(self, rows=None) -> np.ndarray:
        """The vectors as given (of ``rows`` when given: indices, a slice or a bool
        mask)."""
        n = self.n
        if rows is None:
            return self.vecs.rows(0, n)
        if isinstance(rows, slice):
            a, b, step = rows.indices(n)
            if step == 1:
                return self.vecs.rows(a, max(a, b))
            rows = np.arange(a, b, step, dtype=np.int64)
        rows = np.asarray(rows)
        if rows.dtype == np.bool_:
            rows = np.flatnonzero(rows[:n])
        rows = rows.astype(np.int64, copy=False)
        if rows.ndim == 0:
            return self.vecs.take(rows.reshape(1))[0]
        if rows.size and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"row out of range for a segment of {n} rows")
        return self.vecs.take(np.where(rows < 0, rows + n, rows))


class Payloads:
    """The raw payloads of a loaded sealed segment: its payloads.jsonl, memory-mapped,
    and the offset of each row (8 bytes per row instead of a bytes object)."""

    __slots__ = ("_buf", "_off", "_n")

    def __init__(self, path: str, n: int):
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            self._buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        # rows are joined by b"\n": row i is buf[off[i]:off[i + 1] - 1]; the newlines
        # are found a block at a time (no file-sized temporary)
        step, parts = 1 << 24, [np.zeros(1, dtype=np.int64)]
        for a in range(0, size, step):
            blk = np.frombuffer(self._buf, dtype=np.uint8, count=min(step, size - a), offset=a)
            parts.append(np.flatnonzero(blk == 10).astype(np.int64) + (a + 1))
            del blk
        parts.append(np.array([size + 1], dtype=np.int64))
        self._off = np.concatenate(parts)
        if len(self._off) != n + 1 and (n or size):
            raise ValueError(f"{path} holds {len(self._off) - 1} rows, expected {n}")
        if not n:
            self._off = np.zeros(1, dtype=np.int64)
        if isinstance(self._buf, mmap.mmap):  # the scan read every page: let them go
            self._buf.madvise(mmap.MADV_DONTNEED)
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(self._n))]
        row = int(row)
        if row < 0:
            row += self._n
        if not 0 <= row < self._n:
            raise IndexError(row)
        return self._buf[int(self._off[row]):int(self._off[row + 1]) - 1]

    def __iter__(self):
        for i in range(self._n):
            yield self[i]

    def take(self, rows) -> list:
        """The payloads of ``rows`` (an int array) in one call."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if not len(rows):
            return []
        return _core.gather_slices(self._buf, self._off, rows)


def take_raws(raws, rows) -> list:
    """``[raws[r] for r in rows]`` (stored payload bytes, or None), for a mutable
    segment's list or a loaded segment's mapped ``Payloads`` alike."""
    if isinstance(raws, Payloads):
        return raws.take(rows)
    return [raws[i] for i in np.asarray(rows).tolist()]


class SealedSegment(_SegmentBase):
    """An immutable segment loaded from (or just written to) its directory."""

    kind = "sealed"

    def __init__(self, seg_id, vectors, uids, raws, index, fields, entry, norms=None):
        self.seg_id = seg_id
        self._vectors = vectors  # None: the index holds them (times ``norms`` if given)
        self._norms = norms
        # int64 when every id is an int (8 bytes per row), else objects
        self.uids = uids if isinstance(uids, np.ndarray) and uids.dtype == np.int64 \
            else _object_array(uids)
        self.raws = raws
        self.index = index
        self.fields = fields
        self.entry = entry  # manifest entry: files, sizes, checksums
        self.n = len(uids)
        self.indexed = self.n
        self._tomb = np.zeros(self.n, dtype=np.bool_)
        self.n_deleted = 0
        self.tomb_dirty = False
        self.tomb_file = None

    def tombs(self) -> np.ndarray:
        return self._tomb

    def set_tombs(self, tomb: np.ndarray) -> None:
        self._tomb = tomb
        self.n_deleted = int(np.count_nonzero(tomb[: self.n]))
        self._tomb_ver += 1

    def mark_deleted(self, row: int) -> None:
        if not self._tomb[row]:
            self._tomb[row] = True
            self.n_deleted += 1
            self.tomb_dirty = True
            self._tomb_ver += 1

    def vectors(self, rows=None) -> np.ndarray:
        """The vectors as given (of ``rows`` when given: indices or a bool mask): from
        vectors.npy, or read from the index when it holds them (scaled back by their
        norms when it holds them normalized)."""
        if self._vectors is not None:
            return self._vectors if rows is None else self._vectors[rows]
        if rows is None:
            rows = np.arange(self.n, dtype=np.int64)
        elif isinstance(rows, slice):
            rows = np.arange(self.n, dtype=np.int64)[rows]
        else:
            rows = np.asarray(rows)
            rows = np.flatnonzero(rows) if rows.dtype == np.bool_ else rows.astype(np.int64)
        out = np.empty((len(rows), self.index.dim), dtype=np.float32)
        for a in range(0, len(rows), _CHECK_ROWS):
            out[a:a + _CHECK_ROWS] = self.index.get_vectors(rows[a:a + _CHECK_ROWS])
        if self._norms is not None:
            out *= self._norms[rows, None]
        return out

    @property
    def vector_file_bytes(self) -> int:
        """Bytes of vectors.npy mapped by this segment (0 when the index holds them)."""
        return 0 if self._vectors is None else int(self._vectors.nbytes)


def index_holds_vectors(index, vectors: np.ndarray, first_row: int = 0):
    """What a sealed segment needs beside ``index`` to give ``vectors`` back: ``()``
    when the index's stored rows are the vectors exactly (l2 / ip with an fp32
    storage or re-rank copy), ``(norms,)`` when they are the vectors normalized
    (cosine) and scaling them by ``norms`` gives the vectors within 1e-6 of their
    norms, and ``None`` when the index keeps less (compressed storage): then the
    segment keeps vectors.npy. Checked row by row, not assumed from the config;
    ``vectors`` are the index's rows ``first_row, first_row + 1, ...``."""
    n = len(vectors)
    if n == 0 or not hasattr(index, "get_vectors"):
        return None
    norms = np.empty(n, dtype=np.float32)
    exact = True
    for a in range(0, n, _CHECK_ROWS):
        v = vectors[a:a + _CHECK_ROWS]
        v64 = v.astype(np.float64)
        norms[a:a + len(v)] = np.sqrt(np.einsum("ij,ij->i", v64, v64))
        del v64
        try:
            got = index.get_vectors(np.arange(first_row + a, first_row + a + len(v),
                                              dtype=np.int64))
        except (KeyError, RuntimeError, ValueError, TypeError):
            return None
        if exact and np.array_equal(got, v):
            continue
        exact = False
        nrm = norms[a:a + len(v)]
        err = np.abs(got * nrm[:, None] - v).max(axis=1)
        if not (err <= 1e-6 * np.maximum(nrm, np.finfo(np.float32).tiny)).all():
            return None
    return () if exact else (norms,)


def _int_ids(uids):
    """``uids`` as an int64 array when every one is an int, else None."""
    if isinstance(uids, np.ndarray) and uids.dtype == np.int64:
        return uids
    if not all(type(u) is int for u in uids):
        return None
    return np.asarray(uids, dtype=np.int64) if len(uids) else np.zeros(0, dtype=np.int64)


def _object_array(values) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def parse_columns(schema: dict, payloads) -> list:
    """Per schema field, its ``Column`` over the payloads; raises ValueError on a wrong
    type."""
    return [parse_column(s, payloads) for s in schema.values()]


def build_fields(schema: dict, raws) -> dict:
    fields = {name: make_field_index(spec) for name, spec in schema.items()}
    if fields:
        for row, raw in enumerate(raws):
            p = decode_payload(raw)
            for fi in fields.values():
                fi.add(row, p)
    for fi in fields.values():
        fi.freeze()
    return fields


def build_field(spec, seg, strict: bool = True):
    """The index of payload field ``spec`` over the rows of ``seg`` (a field added to
    the schema after the rows were written). A live row whose value has the wrong type
    raises ``ValueError`` naming the point when ``strict``; deleted rows (and, when not
    ``strict``, wrong values) count as missing. The field of a sealed segment is frozen.
    """
    fi = make_field_index(spec)
    tombs = seg.tombs()
    for row in range(seg.n):
        try:
            state, values = field_values(spec, seg.payload(row))
        except ValueError as exc:
            if strict and not tombs[row]:
                raise ValueError(f"point {seg.uids[row]!r}: {exc}") from None
            state, values = MISSING, ()
        fi.add_parsed(row, state, values)
    if seg.kind == "sealed":
        fi.freeze()
    return fi


def make_index(cfg: dict, dim: int, metric: str, device="auto", trained=None):
    """An empty index of the configured kind (``trained``: the path of the collection's
    trained IVF-PQ quantizer, which IVF-PQ segments are copies of)."""
    kind = cfg["kind"]
    if kind == "hnsw":
        return HNSWIndex(dim, metric, M=cfg["M"], ef_construction=cfg["ef_construction"],
                         quantized=cfg["quantized"], storage=cfg.get("storage", "fp32"),
                         device=device)
    if kind == "flat":
        return FlatIndex(dim, metric, storage=cfg.get("storage", "fp32"),
                         refine=cfg.get("refine"), device=device)
    if kind == "ivf_pq":
        if trained is None:
            raise ValueError("IVF-PQ segments need the collection's trained quantizer")
        idx = load_index(trained)
        return idx.to(device) if device != "auto" else idx
    raise ValueError(f"unknown index kind {kind!r}")


def build_index(cfg: dict, dim: int, metric: str, vectors: np.ndarray, device="auto",
                trained=None):
    """The configured index over ``vectors`` with the row numbers as ids."""
    idx = make_index(cfg, dim, metric, device, trained)
    if len(vectors):
        add_rows(idx, vectors, 0)
    return idx


def add_rows(idx, vectors, first_row: int) -> None:
    """Adds ``vectors`` as rows ``first_row, first_row + 1, ...`` of ``idx``."""
    idx.add(vectors, ids=np.arange(first_row, first_row + len(vectors), dtype=np.int64))


def _fsync_file(path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def write_segment(seg_root: str, seg_id: int, vectors, uids, raws, index_cfg, dim, metric,
                  schema, index=None, device="auto", trained=None):
    """Writes a sealed segment durably (building its index unless ``index``, already
    holding exactly these rows, is given); returns the SealedSegment."""
    final = os.path.join(seg_root, seg_dirname(seg_id))
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    int_ids = _int_ids(uids if isinstance(uids, np.ndarray) else list(uids))
    if int_ids is not None:
        np.save(os.path.join(tmp, "ids.npy"), int_ids)
        uids = int_ids
    else:
        with open(os.path.join(tmp, "ids.json"), "w") as f:
            json.dump(list(uids), f, separators=(",", ":"))
    with open(os.path.join(tmp, "payloads.jsonl"), "wb") as f:
        f.write(b"\n".join(raws))
    if index is None:
        index = build_index(index_cfg, dim, metric, vectors, device, trained)
    index.save(os.path.join(tmp, "index.bin"))
    held = index_holds_vectors(index, vectors)
    vec_files, norms = ("vectors.npy",), None
    if held is None:  # the index keeps less than the vectors: keep them beside it
        np.save(os.path.join(tmp, "vectors.npy"), vectors)
    else:
        vec_files = ()
        if held:
            norms = held[0]
            np.save(os.path.join(tmp, NORMS_FILE), norms)
            vec_files = (NORMS_FILE,)
    fields = build_fields(schema, raws)
    names = vec_files + tuple("ids.npy" if (f == "ids.json" and int_ids is not None) else f
                              for f in SEGMENT_FILES if f != "vectors.npy")
    if fields:
        with open(os.path.join(tmp, FIELDS_FILE), "wb") as f:
            save_fields(f, fields, len(uids))
        names += (FIELDS_FILE,)
    files = {}
    for name in names:
        p = os.path.join(tmp, name)
        _fsync_file(p)
        files[name] = {"size": os.path.getsize(p), "crc32": file_crc32(p)}
    fsync_dir(tmp)
    if os.path.exists(final):
        shutil.rmtree(final)
    os.rename(tmp, final)
    fsync_dir(seg_root)
    entry = {"id": seg_id, "rows": len(uids), "index": index_cfg["kind"], "files": files}
    return SealedSegment(seg_id, vectors if held is None else None, uids, list(raws), index,
                         fields, entry, norms)


def verify_files(directory: str, entry: dict, what: str, size_only=()) -> None:
    """Checks the size and CRC-32 of every file named by a manifest entry (the size
    alone for the names in ``size_only``)."""
    for name, meta in entry["files"].items():
        p = os.path.join(directory, name)
        if not os.path.exists(p):
            raise CorruptionError(f"{what}: file {name} is missing")
        if os.path.getsize(p) != meta["size"] or \
                (name not in size_only and file_crc32(p) != meta["crc32"]):
            raise CorruptionError(f"{what}: file {name} is corrupt (size or checksum mismatch)")


def load_segment(seg_root: str, entry: dict, schema: dict, dim: int,
                 device="auto") -> SealedSegment:
    seg_id = entry["id"]
    d = os.path.join(seg_root, seg_dirname(seg_id))
    what = f"segment {seg_dirname(seg_id)}"
    verify_files(d, entry, what, size_only=_LAZY_FILES)
    try:
        vectors = norms = None
        if "vectors.npy" in entry["files"]:
            vectors = np.load(os.path.join(d, "vectors.npy"), mmap_mode="r")
        elif NORMS_FILE in entry["files"]:
            norms = np.load(os.path.join(d, NORMS_FILE), allow_pickle=False)
        if "ids.npy" in entry["files"]:
            uids = np.load(os.path.join(d, "ids.npy"), allow_pickle=False)
            if uids.dtype != np.int64 or uids.ndim != 1:
                raise ValueError("ids.npy is not a 1-D int64 array")
        else:  # str ids, or a segment from before ids.npy
            with open(os.path.join(d, "ids.json")) as f:
                uids = json.load(f)
            ints = _int_ids(uids)
            uids = ints if ints is not None else uids
        raws = Payloads(os.path.join(d, "payloads.jsonl"), entry["rows"])
        index = load_index(os.path.join(d, "index.bin"), mmap=True)
        if device != "auto":
            index.to(device)
        n = entry["rows"]
        fields = {}
        if FIELDS_FILE in entry["files"]:
            fields = load_fields(os.path.join(d, FIELDS_FILE), schema, n)
    except (ValueError, OSError, KeyError) as exc:
        raise CorruptionError(f"{what} cannot be loaded: {exc}") from None
    if ((vectors is not None and vectors.shape != (n, dim))
            or (norms is not None and norms.shape != (n,)) or index.dim != dim
            or len(uids) != n or len(raws) != n or len(index) != n):
        raise CorruptionError(f"{what}: files disagree on the number of rows")
    missing = {k: v for k, v in schema.items() if k not in fields}
    if missing:  # segments from before saved field indexes, or fields added since
        fields.update(build_fields(missing, raws))
        if FIELDS_FILE not in entry["files"]:
            _migrate_fields(d, entry, fields, n)
    fields = {k: fields[k] for k in schema}  # the schema's order
    return SealedSegment(seg_id, vectors, uids, raws, index, fields, entry, norms)


def _migrate_fields(d: str, entry: dict, fields: dict, n: int) -> None:
    """Saves the field indexes of a segment written before fields.npz (built from its
    payloads on this open) and names the file in its manifest entry, which the next
    checkpoint writes: later opens load them. A file written but not yet named by a
    manifest is ignored, and written again, by the next open. Nothing is written where
    the directory is read-only."""
    p = os.path.join(d, FIELDS_FILE)
    tmp = p + ".tmp"
    try:
        with open(tmp, "wb") as f:
            save_fields(f, fields, n)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
        fsync_dir(d)
        meta = {"size": os.path.getsize(p), "crc32": file_crc32(p)}
    except OSError:
        try:
            os.remove(tmp)
        except OSError:
            pass
        return
    entry["files"][FIELDS_FILE] = meta


def save_tombstones(directory: str, seg_id: int, tombs: np.ndarray, gen: int) -> dict:
    name = f"{seg_dirname(seg_id)}.{gen}.npy"
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        np.save(f, np.packbits(tombs))
        f.flush()
        os.fsync(f.fileno())
    return {"file": name, "size": os.path.getsize(path), "crc32": file_crc32(path)}


def load_tombstones(directory: str, meta: dict, n: int) -> np.ndarray:
    path = os.path.join(directory, meta["file"])
    if not os.path.exists(path) or os.path.getsize(path) != meta["size"] \
            or file_crc32(path) != meta["crc32"]:
        raise CorruptionError(f"tombstone file {meta['file']} is missing or corrupt")
    bits = np.load(path)
    return np.unpackbits(bits, count=n).astype(np.bool_)
