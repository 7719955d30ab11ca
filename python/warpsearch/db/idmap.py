# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The user id -> internal id map of a collection, compact for the points that were
sealed when it opened.

Two layers. The base is built in bulk from the sealed segments when a collection
opens and never changes: int ids as a sorted int64 array beside their internal ids
(16 bytes per point), string ids (strings, UUIDs) as one UTF-8 buffer in sorted
order with int64 offsets and internal ids (16 bytes plus the string). The overlay is
a dict of what changed since (``None``: removed from the base). A lookup checks the
overlay, then the base (binary search). A dict per point costs about 100 bytes more.
"""

from __future__ import annotations

import numpy as np

__all__ = ["IdMap"]

_ABSENT = object()
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_EMPTY = np.zeros(0, dtype=np.int64)


class IdMap:
    """A mapping uid -> internal id with the dict methods the collection uses (``get``,
    ``in``, ``[uid] = iid``, ``pop``, ``len``)."""

    __slots__ = ("_ikeys", "_ivals", "_sbuf", "_soff", "_svals", "_over", "_n")

    def __init__(self):
        self._ikeys = self._ivals = self._svals = _EMPTY
        self._sbuf = b""
        self._soff = np.zeros(1, dtype=np.int64)
        self._over: dict = {}
        self._n = 0

    # -- bulk build -------------------------------------------------------------------
    def build(self, parts) -> np.ndarray:
        """Makes the base from ``parts``, a sequence of ``(uids, iids)`` (uids: a 1-D
        array of int / str ids; iids: int64), in order: when an id occurs twice, the
        later one wins. Returns the internal ids that lost (to be marked deleted). Only
        on an empty map."""
        if self._n:
            raise ValueError("IdMap.build needs an empty map")
        ik, iv, sk, sv = [], [], [], []
        for uids, iids in parts:
            uids = np.asarray(uids)
            iids = np.asarray(iids, dtype=np.int64)
            if uids.dtype != object:
                ik.append(uids.astype(np.int64, copy=False))
                iv.append(iids)
                continue
            is_int = np.fromiter((type(u) is int for u in uids.tolist()), dtype=bool,
                                 count=len(uids))
            if is_int.all():
                ik.append(uids.astype(np.int64))
                iv.append(iids)
            else:
                ik.append(uids[is_int].astype(np.int64))
                iv.append(iids[is_int])
                sk.extend(uids[~is_int].tolist())
                sv.append(iids[~is_int])
        lost = []
        keys = np.concatenate(ik) if ik else _EMPTY
        vals = np.concatenate(iv) if iv else _EMPTY
        if len(keys):
            # stable by key, then the last of equal keys wins
            order = np.argsort(keys, kind="stable")
            keys, vals = keys[order], vals[order]
            last = np.ones(len(keys), dtype=bool)
            last[:-1] = keys[1:] != keys[:-1]
            lost.append(vals[~last])
            keys, vals = keys[last], vals[last]
        self._ikeys, self._ivals = keys, vals
        if sk:
            svals = np.concatenate(sv)
            enc = [s.encode() for s in sk]
            latest = {}
            for i, b in enumerate(enc):
                if b in latest:
                    lost.append(svals[latest[b]:latest[b] + 1])
                latest[b] = i
            order = sorted(latest)
            self._sbuf = b"".join(order)
            self._soff = np.cumsum([0] + [len(b) for b in order], dtype=np.int64)
            self._svals = svals[[latest[b] for b in order]]
        self._n = len(self._ikeys) + len(self._svals)
        return np.concatenate(lost) if lost else _EMPTY

    # -- lookups ----------------------------------------------------------------------
    def _base(self, uid):
        if type(uid) is int:
            if not (_I64_MIN <= uid <= _I64_MAX) or not len(self._ikeys):
                return None
            i = int(np.searchsorted(self._ikeys, uid))
            if i < len(self._ikeys) and self._ikeys[i] == uid:
                return int(self._ivals[i])
            return None
        if isinstance(uid, str) and len(self._svals):
            b, buf, off = uid.encode(), self._sbuf, self._soff
            lo, hi = 0, len(self._svals)
            while lo < hi:  # the first key >= b
                mid = (lo + hi) // 2
                if buf[off[mid]:off[mid + 1]] < b:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < len(self._svals) and buf[off[lo]:off[lo + 1]] == b:
                return int(self._svals[lo])
        return None

    def get(self, uid, default=None):
        v = self._over.get(uid, _ABSENT)
        if v is _ABSENT:
            v = self._base(uid)
        return default if v is None else v

    def __contains__(self, uid) -> bool:
        return self.get(uid) is not None

    def __setitem__(self, uid, iid: int) -> None:
        if self.get(uid) is None:
            self._n += 1
        self._over[uid] = iid

    def pop(self, uid, default=None):
        found = self.pop_many((uid,))
        return found[0] if found else default

    def pop_many(self, uids) -> list:
        """``pop`` of each of ``uids``: the internal ids of those that were present."""
        over, out = self._over, []
        has_base = bool(len(self._ikeys) or len(self._svals))
        for uid in uids:
            v = over.get(uid, _ABSENT)
            if v is _ABSENT:
                if not has_base:
                    continue
                v = self._base(uid)
                if v is None:
                    continue
                over[uid] = None
            elif v is None:
                continue
            elif has_base and self._base(uid) is not None:
                over[uid] = None
            else:
                del over[uid]
            self._n -= 1
            out.append(v)
        return out

    def add_absent(self, uids, first_iid: int) -> None:
        """Maps ``uids`` (none of them present) to ``first_iid, first_iid + 1, ...``."""
        self._over.update(zip(uids, range(first_iid, first_iid + len(uids))))
        self._n += len(uids)

    def __len__(self) -> int:
        return self._n

    def nbytes(self) -> int:
        """Bytes of the base arrays (the overlay is a dict)."""
        return (self._ikeys.nbytes + self._ivals.nbytes + len(self._sbuf) + self._soff.nbytes
                + self._svals.nbytes)
