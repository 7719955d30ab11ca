# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Opening a collection (manifest, sealed segments, log replay) and writing its
checkpoints (tombstones and a new manifest, replaced atomically).

Directory of a collection::

    MANIFEST.json        config + live segments + WAL sequence they cover (atomic)
    wal/                 write-ahead log files
    segments/seg-<id>/   sealed segment files
    tombstones/          deleted-row bitmaps of sealed segments
    trained/             the trained IVF-PQ quantizer shared by the segments
"""

from __future__ import annotations

import ctypes
import os
import shutil

from .segment import load_segment, load_tombstones, save_tombstones, seg_dirname
from .state import CollectionState
from .storage import fsync_dir, read_manifest, write_manifest
from .wal import decode_record, read_log

__all__ = ["open_state", "replay", "checkpoint", "create_collection_dir",
           "install_segments"]

_SUBDIRS = ("wal", "segments", "tombstones", "trained")


def open_state(path: str, name: str) -> CollectionState:
    """Reads the manifest and loads the sealed segments it names (checksums verified);
    removes what no manifest names (unfinished seals, replaced segments)."""
    body = read_manifest(path)
    st = CollectionState(name, path, body)
    for d in _SUBDIRS:
        os.makedirs(os.path.join(path, d), exist_ok=True)
    seg_root, tomb_root = os.path.join(path, "segments"), os.path.join(path, "tombstones")
    live_dirs, live_tombs = set(), set()
    for entry in body["segments"]:
        seg = load_segment(seg_root, entry, st.schema, st.dim, st.device)
        if entry.get("tombstones"):
            seg.set_tombs(load_tombstones(tomb_root, entry["tombstones"], seg.n))
            seg.tomb_file = entry["tombstones"]["file"]
            live_tombs.add(seg.tomb_file)
        st.add_sealed(seg, map_rows=False)
        live_dirs.add(seg_dirname(seg.seg_id))
    st.map_sealed()
    for f in os.listdir(seg_root):
        if f not in live_dirs:
            shutil.rmtree(os.path.join(seg_root, f), ignore_errors=True)
    for f in os.listdir(tomb_root):
        if f not in live_tombs:
            os.remove(os.path.join(tomb_root, f))
    trained_root = os.path.join(path, "trained")
    for f in os.listdir(trained_root):
        if f != st.trained:
            os.remove(os.path.join(trained_root, f))
    st.new_mutable()
    _trim_heap()
    return st


def _trim_heap() -> None:
    """Returns the heap freed by opening (transient arrays of the id map and the field
    indexes) to the OS. glibc keeps freed blocks below its dynamic mmap threshold in
    the heap; on 1M points that was ~50 MB of resident memory serving nothing."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def replay(st: CollectionState) -> int:
    """Applies the log records after the manifest's sequence; returns the last one."""
    last = st.covered
    for seq, payload in read_log(os.path.join(st.path, "wal"), st.covered):
        rec = decode_record(payload)
        skip = st.covered_rows if seq == st.covered + 1 else 0
        if skip and rec[0] == "upsert":
            rec = (rec[0],) + tuple(part[skip:] for part in rec[1:])
            st.apply(rec, seq, first_row=skip)
        else:
            st.apply(rec, seq)
        last = seq
    return last


def manifest_body(st: CollectionState) -> dict:
    body = {"format": 1, "uid": st.uid, "config": st.config, "seq": st.covered,
            "seq_rows": st.covered_rows, "next_segment_id": st.next_seg,
            "tomb_gen": st.tomb_gen,
            "segments": [st.sealed[k].entry for k in sorted(st.sealed)]}
    if st.trained:
        body["trained"] = st.trained
    return body


def checkpoint(st: CollectionState, wal) -> None:
    """Writes changed tombstones and a new manifest; frees what it no longer names.

    Called without the state lock held: the files are written from copies taken
    under it, so searches never wait for these writes and fsyncs.
    """
    with st.ckpt_mu:  # one checkpoint at a time: manifests never go back in time
        _checkpoint(st, wal)


def _checkpoint(st: CollectionState, wal) -> None:
    wal.sync()
    tomb_root = os.path.join(st.path, "tombstones")
    with st.mu:
        dirty = [(seg, seg.tombs()[: seg.n].copy()) for seg in st.sealed.values()
                 if seg.tomb_dirty]
        for seg, _ in dirty:
            seg.tomb_dirty = False
            st.tomb_gen += 1
        gens = list(range(st.tomb_gen - len(dirty) + 1, st.tomb_gen + 1))
    old_tombs = []
    for (seg, bits), gen in zip(dirty, gens):
        meta = save_tombstones(tomb_root, seg.seg_id, bits, gen)
        with st.mu:
            if seg.tomb_file:
                old_tombs.append(seg.tomb_file)
            seg.entry["tombstones"] = meta
            seg.tomb_file = meta["file"]
    fsync_dir(tomb_root)
    with st.mu:
        body = manifest_body(st)
        covered = st.covered
    write_manifest(st.path, body)
    for f in old_tombs:
        try:
            os.remove(os.path.join(tomb_root, f))
        except FileNotFoundError:
            pass
    with st.mu:
        st.collect_garbage()
    wal.drop_covered(covered)


def create_collection_dir(path: str, config: dict, uid: str) -> None:
    """Creates a collection directory atomically (temp dir + rename)."""
    tmp = path + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for d in _SUBDIRS:
        os.makedirs(os.path.join(tmp, d))
    write_manifest(tmp, {"format": 1, "uid": uid, "config": config, "seq": 0,
                         "next_segment_id": 0, "tomb_gen": 0, "segments": []})
    os.rename(tmp, path)
    fsync_dir(os.path.dirname(path))


def install_segments(st: CollectionState, wal, segs) -> None:
    """Adds sealed segments restored from a snapshot, ``(entry, copy_files, tombs)``,
    to an empty collection, then writes a checkpoint."""
    root = os.path.join(st.path, "segments")
    with st.mu:
        if st.idmap:
            raise ValueError(f"collection {st.name!r}: segments can only be restored into an "
                             "empty collection")
        for entry, copy_files, tomb in segs:
            seg_id = st.next_seg
            st.next_seg += 1
            final = os.path.join(root, seg_dirname(seg_id))
            os.makedirs(final + ".tmp")
            copy_files(final + ".tmp")
            fsync_dir(final + ".tmp")
            os.rename(final + ".tmp", final)
            e = {"id": seg_id, "rows": entry["rows"], "index": entry["index"],
                 "files": entry["files"]}
            seg = load_segment(root, e, st.schema, st.dim, st.device)
            seg.set_tombs(tomb)
            seg.tomb_dirty = True
            st.add_sealed(seg)
        fsync_dir(root)
        st.refresh_view()
    checkpoint(st, wal)
