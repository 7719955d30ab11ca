# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The in-memory state of a collection: its segments, the id map and the live view.

Internal ids are ``segment id << 32 | row``. Every change goes through this object
under its lock (``mu``); readers take ``view`` (a tuple of segments, replaced, never
changed in place) and the row counts they need, and search without the lock.
"""

from __future__ import annotations

import json
import os
import shutil
import threading

import numpy as np

from .config import index_config_from_dict, parse_schema
from .idmap import IdMap
from .payload import decode_payload
from .segment import MutableSegment, build_field, parse_columns, seg_dirname

__all__ = ["CollectionState", "ROW_BITS", "ROW_MASK"]

ROW_BITS = 32
ROW_MASK = (1 << ROW_BITS) - 1


class CollectionState:
    """Segments (sealed, frozen, mutable) and the user id -> internal id map."""

    def __init__(self, name: str, path: str, body: dict):
        cfg = body["config"]
        self.name = name
        self.path = path
        self.config = cfg
        self.uid = body.get("uid", "")
        self.dim = int(cfg["dim"])
        self.metric = cfg["metric"]
        self.index_config = index_config_from_dict(cfg["index"])
        self.index_cfg = self.index_config.to_dict()
        self.schema = parse_schema(cfg["schema"])
        self.segment_size = int(cfg["segment_size"])
        self.device = cfg.get("device", "auto")
        self.mu = threading.RLock()
        self.ckpt_mu = threading.Lock()
        self.sealed: dict = {}
        self.frozen: list = []
        self.idmap = IdMap()  # uid -> internal id of every live point
        self.pins: dict = {}
        self.garbage: list = []
        self.tomb_gen = int(body.get("tomb_gen", 0))
        # Sealed segments hold every record up to seq "covered", plus the first
        # "covered_rows" rows of the next one when a record larger than a segment was
        # split across segments; replay skips exactly those rows.
        self.covered = int(body["seq"])
        self.covered_rows = int(body.get("seq_rows", 0))
        self.next_seg = int(body["next_segment_id"])
        self.trained = body.get("trained")  # file name of the trained IVF-PQ quantizer
        self.mutable = None
        self.view: tuple = ()
        self.by_id: dict = {}

    # -- segments ----------------------------------------------------------------
    def new_mutable(self) -> None:
        self.mutable = MutableSegment(self.next_seg, self.dim, self.metric, self.schema)
        self.next_seg += 1
        self.refresh_view()

    def refresh_view(self) -> None:
        view = tuple(self.sealed[k] for k in sorted(self.sealed)) + tuple(self.frozen)
        if self.mutable is not None:
            view += (self.mutable,)
        self.by_id = {s.seg_id: s for s in view}
        self.view = view

    def by_iid(self, iid: int):
        return self.by_id[iid >> ROW_BITS]

    def map_sealed(self) -> None:
        """Maps the live rows of every sealed segment in one pass into the compact base of
        the (empty) id map: the way a collection opens (see ``add_sealed``)."""
        parts = []
        for sid in sorted(self.sealed):
            seg = self.sealed[sid]
            alive = np.flatnonzero(~seg.tombs()[: seg.n])
            parts.append((seg.uids[alive], (sid << ROW_BITS) | alive))
        for iid in self.idmap.build(parts).tolist():  # never written that way; repair
            self.by_id_any(iid).mark_deleted(iid & ROW_MASK)

    def add_sealed(self, seg, map_rows: bool = True) -> None:
        """Registers a loaded sealed segment and maps its live rows (``map_rows=False``:
        the caller maps every segment at once with ``map_sealed``)."""
        self.sealed[seg.seg_id] = seg
        if not map_rows:
            return
        alive = np.flatnonzero(~seg.tombs()[: seg.n])
        base = seg.seg_id << ROW_BITS
        idmap = self.idmap
        for row, uid in zip(alive.tolist(), seg.uids[alive].tolist()):
            prev = idmap.get(uid)
            if prev is not None:  # never written that way; repair defensively
                self.by_id_any(prev).mark_deleted(prev & ROW_MASK)
            idmap[uid] = base | row

    def add_field(self, spec) -> None:
        """Adds payload field ``spec`` to the schema, indexing it over every segment
        (caller holds ``mu`` and has stopped writes). A live point whose value has the
        wrong type raises ``ValueError`` and changes nothing. The schema is replaced
        last, so a filter on the field only compiles once every segment has it."""
        built = [(seg, build_field(spec, seg)) for seg in self.view]
        for seg, fi in built:
            seg.fields[spec.name] = fi  # after the existing fields: the schema's order
        self.schema = {**self.schema, spec.name: spec}
        self.config = {**self.config,
                       "schema": {k: v.spelled for k, v in self.schema.items()}}

    def ensure_fields(self, seg) -> None:
        """Indexes on ``seg`` the schema fields it lacks (a segment written while a field
        was being added); caller holds ``mu``."""
        for name, spec in self.schema.items():
            if name not in seg.fields:
                seg.fields[name] = build_field(spec, seg, strict=False)

    def by_id_any(self, iid: int):
        seg = self.sealed.get(iid >> ROW_BITS)
        return seg if seg is not None else self.by_iid(iid)

    # -- writes ---------------------------------------------------------------------
    def apply(self, rec, seq: int, first_row: int = 0) -> bool:
        """Applies a logged record (caller holds ``mu`` or is opening); returns whether
        the mutable segment filled up and was frozen."""
        if rec[0] == "delete":
            for uid in rec[1]:
                iid = self.idmap.pop(uid, None)
                if iid is not None:
                    self.by_iid(iid).mark_deleted(iid & ROW_MASK)
            return False
        _, uids, vecs, raws = rec[:4]
        parsed = rec[4] if len(rec) > 4 else \
            parse_columns(self.schema, [decode_payload(r) for r in raws])
        # Tombstone old versions first: a concurrent search may miss a point being
        # replaced, but never sees its stale version.
        for iid in self.idmap.pop_many(uids):
            self.by_iid(iid).mark_deleted(iid & ROW_MASK)
        off, m, froze = 0, len(uids), False
        while off < m:
            mut = self.mutable
            take = min(m - off, self.segment_size - mut.n)
            base = mut.n
            mut.append(uids[off:off + take], vecs[off:off + take], raws[off:off + take],
                       [c.slice(off, off + take) for c in parsed])
            # rows base .. base + take - 1 of the segment (row numbers fit below ROW_BITS)
            self.idmap.add_absent(uids[off:off + take], (mut.seg_id << ROW_BITS) | base)
            off += take
            if mut.n >= self.segment_size:
                # A segment ending inside the record covers its first rows only.
                if off == m:
                    self.freeze(seq, 0)
                else:
                    self.freeze(seq - 1, first_row + off)
                froze = True
        return froze

    def freeze(self, covered_seq: int, covered_rows: int) -> None:
        mut = self.mutable
        mut.covered_seq = covered_seq
        mut.covered_rows = covered_rows
        mut.frozen = True
        self.frozen.append(mut)
        self.new_mutable()

    def install_sealed(self, frozen, sealed) -> None:
        """Replaces a frozen segment by its sealed files (caller holds ``mu``)."""
        # Deletes made while the segment was written went to frozen's tombstones.
        sealed.set_tombs(frozen.tombs()[: frozen.n].copy())
        sealed.tomb_dirty = sealed.n_deleted > 0
        self.ensure_fields(sealed)
        self.sealed[sealed.seg_id] = sealed
        self.frozen.remove(frozen)
        self.refresh_view()
        if (frozen.covered_seq, frozen.covered_rows) > (self.covered, self.covered_rows):
            self.covered, self.covered_rows = frozen.covered_seq, frozen.covered_rows

    def replace(self, victims, snap_alive, new) -> None:
        """Swaps merged segments ``victims`` for ``new`` (rows in victim/alive order):
        points deleted or replaced meanwhile stay so (caller holds ``mu``)."""
        row = 0
        hi = new.seg_id << ROW_BITS if new is not None else 0
        for s, a in zip(victims, snap_alive):
            now_dead = s.tombs()[a]
            old_hi = s.seg_id << ROW_BITS
            for j, (r, uid) in enumerate(zip(a.tolist(), s.uids[a].tolist())):
                if now_dead[j]:
                    new.mark_deleted(row)
                elif self.idmap.get(uid) == old_hi | r:
                    self.idmap[uid] = hi | row
                row += 1
            del self.sealed[s.seg_id]
            self.garbage.append(s.seg_id)
        if new is not None:
            self.ensure_fields(new)
            self.sealed[new.seg_id] = new
        self.refresh_view()

    def unsealed_rows(self):
        """Live rows of the frozen and mutable segments: ``(ids, raws, vectors)``."""
        ids, raws, vecs = [], [], []
        for seg in self.frozen + [self.mutable]:
            alive = np.flatnonzero(~seg.tombs()[: seg.n])
            ids += seg.uids[alive].tolist()
            raws += [seg.raws[r] for r in alive.tolist()]
            vecs.append(seg.vectors(alive))
        return ids, raws, np.concatenate(vecs) if vecs else np.zeros((0, self.dim), np.float32)

    # -- snapshots ------------------------------------------------------------------------
    def info(self, wal, sealer) -> dict:
        """``Collection.info``: counts and layout, background work and its failures."""
        with self.mu:
            view = self.view
            return {"name": self.name, "points": len(self.idmap), "dim": self.dim,
                    "metric": self.metric, "index": self.index_cfg, "device": self.device,
                    "schema": {k: v.spelled for k, v in self.schema.items()},
                    "sealed_segments": len(self.sealed), "sealing": len(self.frozen),
                    "mutable_rows": self.mutable.n,
                    "indexed_rows": sum(min(s.indexed, s.n) if s.index is not None else 0
                                        for s in view),
                    "rows": sum(s.n for s in view),
                    "trained": self.trained is not None
                    if self.index_cfg["kind"] == "ivf_pq" else None,
                    "covered_seq": self.covered, "sequence": wal.last_seq,
                    "deleted_rows": sum(s.n_deleted for s in view),
                    "background": dict(sealer.stats, failures=sealer.failures,
                                       error=None if sealer.error is None
                                       else repr(sealer.error)),
                    "wal_fsyncs": wal.fsyncs}

    def memory_usage(self) -> dict:
        """``Collection.memory_usage``: bytes in RAM, mapped, on a device and on disk."""
        ram = mapped = device = 0
        for seg in self.view:
            if seg.index is not None:
                ram += seg.index.memory_usage()
                gpu = getattr(seg.index, "_gpu", None)
                if gpu is not None:
                    device += int(gpu.memory_usage())
            if seg.kind == "mutable":
                ram += seg.vecs.nbytes
            else:
                mapped += seg.vector_file_bytes + seg.index.mapped_bytes
        disk = 0
        for root, _, files in os.walk(self.path):
            for f in files:
                try:
                    disk += os.stat(os.path.join(root, f)).st_size
                except FileNotFoundError:  # removed by a merge meanwhile
                    pass
        return {"ram": int(ram), "mapped": int(mapped), "device": int(device),
                "disk": int(disk)}

    def capture(self, wal) -> dict:
        """A point-in-time view for a snapshot: sealed segment files (pinned until
        ``release``) with their tombstones, plus the unsealed rows."""
        with self.mu:
            wal.sync()
            segs = []
            for k in sorted(self.sealed):
                seg = self.sealed[k]
                self.pins[k] = self.pins.get(k, 0) + 1
                segs.append((json.loads(json.dumps(seg.entry)),
                             os.path.join(self.path, "segments", seg_dirname(k)),
                             seg.tombs()[: seg.n].copy()))
            ids, raws, vecs = self.unsealed_rows()
            return {"uid": self.uid, "config": self.config, "seq": wal.last_seq,
                    "segments": segs, "tail": {"ids": ids, "raws": raws, "vectors": vecs}}

    def release(self, captured: dict) -> None:
        with self.mu:
            for entry, _, _ in captured["segments"]:
                k = entry["id"]
                self.pins[k] -= 1
                if not self.pins[k]:
                    del self.pins[k]
            self.collect_garbage()

    def collect_garbage(self) -> None:
        """Removes the files of replaced segments that no snapshot still reads."""
        keep = []
        for seg_id in self.garbage:
            if self.pins.get(seg_id):
                keep.append(seg_id)
            else:
                shutil.rmtree(os.path.join(self.path, "segments", seg_dirname(seg_id)),
                              ignore_errors=True)
        self.garbage = keep
