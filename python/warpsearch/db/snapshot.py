# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Snapshots: consistent point-in-time archives of a collection.

An archive is a directory (a local path, or a ``file://`` / ``memory://`` ...
URL through fsspec when it is installed)::

    SNAPSHOT.json       config, segments (with their file checksums), tombstones,
                        tail, and for an incremental snapshot the base it extends
    segments/seg-<id>/  sealed segment files (absent for segments kept in the base)
    tombstones/         deleted-row bitmaps of every segment
    tail/               live points that were not yet in a sealed segment
    CHECKSUMS.json      SHA-256 of every file above, written last

The collection is held under its lock only while the state is captured (segment
files are immutable; tombstones and unsealed points are copied in memory), so
writes continue while the archive is written.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid

import numpy as np

from .._progress import progress_bar, show_progress
from .recovery import install_segments

__all__ = ["take_snapshot", "restore", "verify_snapshot"]

FORMAT = 1
_META = "SNAPSHOT.json"
_SUMS = "CHECKSUMS.json"
_CHUNK = 1 << 22


# -- storage back ends ---------------------------------------------------------------

class _LocalStore:
    def __init__(self, root: str):
        self.root = root

    def url(self, rel=""):
        return os.path.join(self.root, rel) if rel else self.root

    def exists(self, rel=""):
        return os.path.exists(self.url(rel))

    def open(self, rel, mode):
        if "w" in mode:
            os.makedirs(os.path.dirname(self.url(rel)), exist_ok=True)
        return open(self.url(rel), mode)

    def files(self):
        out = []
        for d, _, fs in os.walk(self.root):
            out += [os.path.relpath(os.path.join(d, f), self.root).replace(os.sep, "/")
                    for f in fs]
        return sorted(out)


class _FsspecStore:
    def __init__(self, fs, root: str, protocol: str):
        self.fs, self.root, self.protocol = fs, root.rstrip("/"), protocol

    def url(self, rel=""):
        p = f"{self.root}/{rel}" if rel else self.root
        return f"{self.protocol}://{p}" if self.protocol != "file" else f"file://{p}"

    def _p(self, rel):
        return f"{self.root}/{rel}" if rel else self.root

    def exists(self, rel=""):
        return self.fs.exists(self._p(rel))

    def open(self, rel, mode):
        if "w" in mode:
            self.fs.makedirs(self._p(rel).rsplit("/", 1)[0], exist_ok=True)
        return self.fs.open(self._p(rel), mode)

    def files(self):
        if not self.fs.exists(self.root):
            return []
        n = len(self.root.rstrip("/")) + 1
        out = [p[n:] if p.startswith(self.root) else p[n - 1:]
               for p in self.fs.find(self.root)]
        return sorted(out)


def _store(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"snapshot path must be str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if "://" not in path:
        return _LocalStore(os.path.abspath(path))
    try:
        import fsspec
    except ImportError:
        raise ImportError(f"snapshot URL {path!r} needs fsspec: pip install fsspec "
                          "(or warpsearch[db]); local paths work without it") from None
    fs, root = fsspec.core.url_to_fs(path)
    protocol = path.split("://", 1)[0]
    return _FsspecStore(fs, root, protocol)


def _sha256_stream(src, dst=None):
    h = hashlib.sha256()
    while True:
        b = src.read(_CHUNK)
        if not b:
            return h.hexdigest()
        h.update(b)
        if dst is not None:
            dst.write(b)


# -- taking a snapshot ---------------------------------------------------------------

def _read_meta(store, what="snapshot"):
    if not store.exists(_META):
        raise ValueError(f"{store.url()!r} is not a snapshot ({_META} is missing)")
    try:
        with store.open(_META, "rb") as f:
            return json.loads(f.read())
    except ValueError as exc:
        raise ValueError(f"{what} {store.url()!r}: {_META} cannot be parsed: {exc}") from None


def _segment_key(entry):
    return (entry["id"], tuple(sorted((k, v["crc32"], v["size"])
                                      for k, v in entry["files"].items())))


def take_snapshot(col, path, base=None, progress=None) -> str:
    """Writes a snapshot of ``col`` to ``path``; returns the path (see ``Collection.snapshot``)."""
    show_progress(progress)  # a bad value is a TypeError before anything is written
    store = _store(path)
    if store.exists() and store.files():
        raise ValueError(f"snapshot destination {store.url()!r} already exists")
    base_meta, base_ref = None, None
    if base is not None:
        bstore = _store(base)
        base_meta = _read_meta(bstore, "base snapshot")
        base_ref = bstore.url()
    state = col.state.capture(col.wal)
    local = isinstance(store, _LocalStore)
    if local:
        final = store.root
        if os.path.exists(final):
            os.rmdir(final)  # empty (checked above)
        store = _LocalStore(final + f".tmp-{uuid.uuid4().hex[:8]}")
    try:
        sums = {}
        in_base = set()
        if base_meta is not None and base_meta.get("collection_uid") == state["uid"]:
            in_base = {_segment_key(e) for e in base_meta["segments"]}
        segs = []
        bar = progress_bar(progress if progress is not None or len(state["segments"]) > 1
                           else False, len(state["segments"]), f"snapshot {col.name}", "segment")
        for entry, seg_dir, tomb in state["segments"]:
            bar.update(1)
            e = {k: v for k, v in entry.items() if k != "tombstones"}
            sub = f"segments/seg-{entry['id']:08d}"
            if _segment_key(entry) in in_base:
                e["location"] = "base"
            else:
                e["location"] = "here"
                for name in entry["files"]:
                    with open(os.path.join(seg_dir, name), "rb") as src, \
                            store.open(f"{sub}/{name}", "wb") as dst:
                        sums[f"{sub}/{name}"] = _sha256_stream(src, dst)
            trel = f"tombstones/seg-{entry['id']:08d}.npy"
            sums[trel] = _write_array(store, trel, np.packbits(tomb))
            e["tombstones"] = trel
            segs.append(e)
        bar.close()
        tail = state["tail"]
        tail_meta = {"rows": len(tail["ids"])}
        if tail["ids"]:
            sums["tail/vectors.npy"] = _write_array(store, "tail/vectors.npy", tail["vectors"])
            sums["tail/ids.json"] = _write_bytes(store, "tail/ids.json",
                                                 json.dumps(tail["ids"]).encode())
            sums["tail/payloads.jsonl"] = _write_bytes(store, "tail/payloads.jsonl",
                                                       b"\n".join(tail["raws"]))
        meta = {"format": FORMAT, "snapshot_id": uuid.uuid4().hex, "collection": col.name,
                "collection_uid": state["uid"], "config": state["config"],
                "sequence": state["seq"], "segments": segs, "tail": tail_meta,
                "base": None if base_meta is None else
                {"path": base_ref, "snapshot_id": base_meta["snapshot_id"]}}
        sums[_META] = _write_bytes(store, _META, json.dumps(meta, indent=1).encode())
        _write_bytes(store, _SUMS, json.dumps({"algorithm": "sha256", "files": sums},
                                              indent=1, sort_keys=True).encode())
        if local:
            _fsync_tree(store.root)
            os.rename(store.root, final)
            return final
        return store.url()
    except BaseException:
        if local:
            shutil.rmtree(store.root, ignore_errors=True)
        raise
    finally:
        col.state.release(state)


def _fsync_tree(root):
    for d, _, fs in os.walk(root):
        for f in fs:
            with open(os.path.join(d, f), "rb") as fh:
                os.fsync(fh.fileno())


def _write_bytes(store, rel, data: bytes) -> str:
    with store.open(rel, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def _write_array(store, rel, arr) -> str:
    buf = io.BytesIO()
    np.save(buf, arr)
    return _write_bytes(store, rel, buf.getvalue())


# -- verifying ------------------------------------------------------------------------------

def verify_snapshot(path) -> bool:
    """Checks every file of a snapshot (and of its base chain) against its checksum.

    Returns True; raises ``ValueError`` naming the first file that is missing,
    altered or unexpected.
    """
    _verify(_store(path), set())
    return True


def _verify(store, seen):
    if store.url() in seen:
        raise ValueError(f"snapshot {store.url()!r}: base chain loops")
    seen.add(store.url())
    if not store.exists(_SUMS):
        raise ValueError(f"{store.url()!r}: {_SUMS} is missing (not a complete snapshot)")
    try:
        with store.open(_SUMS, "rb") as f:
            sums = json.loads(f.read())["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{store.url()!r}: {_SUMS} cannot be parsed: {exc}") from None
    present = set(store.files()) - {_SUMS}
    for rel in sorted(present - set(sums)):
        raise ValueError(f"snapshot {store.url()!r}: unexpected file {rel}")
    for rel, digest in sorted(sums.items()):
        if rel not in present:
            raise ValueError(f"snapshot {store.url()!r}: file {rel} is missing")
        with store.open(rel, "rb") as f:
            if _sha256_stream(f) != digest:
                raise ValueError(f"snapshot {store.url()!r}: file {rel} was altered "
                                 "(checksum mismatch)")
    meta = _read_meta(store)
    if meta.get("format") != FORMAT:
        raise ValueError(f"snapshot {store.url()!r}: unknown format {meta.get('format')!r}")
    base_keys = None
    for e in meta["segments"]:
        if e["location"] == "base":
            if base_keys is None:
                bstore = _base_store(store, meta)
                _verify(bstore, seen)
                base_keys = {_segment_key(b) for b in _read_meta(bstore)["segments"]}
            if _segment_key(e) not in base_keys:
                raise ValueError(f"snapshot {store.url()!r}: segment {e['id']} is not in its base")
        else:
            for name in e["files"]:
                if f"segments/seg-{e['id']:08d}/{name}" not in sums:
                    raise ValueError(f"snapshot {store.url()!r}: segment {e['id']} file "
                                     f"{name} is not listed")
        if e["tombstones"] not in sums:
            raise ValueError(f"snapshot {store.url()!r}: tombstones of {e['id']} are missing")
    return meta


def _base_store(store, meta):
    ref = meta.get("base")
    if not ref:
        raise ValueError(f"snapshot {store.url()!r} refers to a base but names none")
    bstore = _store(ref["path"])
    bmeta = _read_meta(bstore, "base snapshot")
    if bmeta.get("snapshot_id") != ref["snapshot_id"]:
        raise ValueError(f"snapshot {store.url()!r}: base {ref['path']!r} is a different "
                         "snapshot than the one it was taken against")
    return bstore


# -- restoring --------------------------------------------------------------------------------

def _segment_source(store, meta, entry):
    """The store holding the files of ``entry`` (following the base chain)."""
    while entry["location"] == "base":
        store = _base_store(store, meta)
        meta = _read_meta(store)
        entry = next(e for e in meta["segments"] if _segment_key(e) == _segment_key(entry))
    return store, f"segments/seg-{entry['id']:08d}"


def _load_array(store, rel):
    with store.open(rel, "rb") as f:
        return np.load(io.BytesIO(f.read()))


def restore(path, db, name: str, *, progress=None):
    """Restores a snapshot (verified first) into a new collection ``name`` of ``db``.

    Returns the new collection: same points, payloads and (for segments copied
    as they were) the same index files, so searches return the same results.
    """
    from .config import index_config_from_dict

    show_progress(progress)  # a bad value is a TypeError before anything is created
    store = _store(path)
    meta = _verify(store, set())
    cfg = meta["config"]
    col = db.create_collection(name, dim=cfg["dim"], metric=cfg["metric"],
                               index=index_config_from_dict(cfg["index"]),
                               schema=cfg["schema"], segment_size=cfg["segment_size"],
                               embedding=cfg.get("embedding"))
    # the segments' files are copied as install_segments asks for each one: a bar of
    # segments (automatic: shown where a person watches, when there are several)
    bar = progress_bar(progress if progress is not None or len(meta["segments"]) > 1
                       else False, len(meta["segments"]), f"restore {name}", "segment")
    try:
        segs = []
        for e in meta["segments"]:
            src, sub = _segment_source(store, meta, e)

            def copy(dst_dir, src=src, sub=sub, e=e):
                for fname in e["files"]:
                    with src.open(f"{sub}/{fname}", "rb") as fi, \
                            open(os.path.join(dst_dir, fname), "wb") as fo:
                        shutil.copyfileobj(fi, fo, _CHUNK)
                        fo.flush()
                        os.fsync(fo.fileno())
                bar.update(1)

            tomb = np.unpackbits(_load_array(store, e["tombstones"]),
                                 count=e["rows"]).astype(bool)
            segs.append((e, copy, tomb))
        install_segments(col.state, col.wal, segs)
        bar.close()
        if meta["tail"]["rows"]:
            vecs = _load_array(store, "tail/vectors.npy")
            with store.open("tail/ids.json", "rb") as f:
                ids = json.loads(f.read())
            with store.open("tail/payloads.jsonl", "rb") as f:
                raws = f.read().split(b"\n")
            pays = [json.loads(r) if r else None for r in raws]
            col.upsert(ids, vecs, pays, progress=progress)
    except BaseException:
        bar.close()
        db.drop_collection(name)
        raise
    return col
