# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Payload indexes of one segment, one per schema field.

While a segment is mutable the indexes grow by appending (posting lists are
Python lists, numbers are scanned with vectorized comparisons); ``freeze()``
turns them into NumPy arrays: posting lists become sorted id arrays and
numbers (ints, floats, datetimes) become value-sorted arrays searched with
``np.searchsorted``. Every query returns the row numbers that match (possibly
repeated for arrays); the filter compiler turns them into a boolean mask.
"""

from __future__ import annotations

import numpy as np

from .payload import MISSING, NULL, PRESENT, field_values, tokenize

__all__ = ["make_field_index", "Grow", "EARTH_RADIUS_M"]

EARTH_RADIUS_M = 6_371_008.8
_EMPTY_ROWS = np.zeros(0, dtype=np.int64)


class Grow:
    """An append-only NumPy array with amortized doubling."""

    __slots__ = ("buf", "n")

    def __init__(self, dtype, tail=(), capacity: int = 64):
        self.buf = np.empty((capacity,) + tuple(tail), dtype=dtype)
        self.n = 0

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=self.buf.dtype)
        need = self.n + len(values)
        if need > len(self.buf):
            nb = np.empty((max(need, 2 * len(self.buf)),) + self.buf.shape[1:], self.buf.dtype)
            nb[: self.n] = self.buf[: self.n]
            self.buf = nb
        self.buf[self.n:need] = values
        self.n = need

    def view(self) -> np.ndarray:
        return self.buf[: self.n]


class _FieldIndex:
    """Shared part: the per-row state (missing / null / empty / present)."""

    def __init__(self, spec):
        self.spec = spec
        self.state = Grow(np.uint8)
        self.frozen = False

    def add(self, row: int, payload) -> None:
        self.add_parsed(row, *field_values(self.spec, payload))

    def add_parsed(self, row: int, state: int, values) -> None:
        """Adds row ``row`` (rows come in order) from ``field_values`` output."""
        self.state.extend((state,))
        if values:
            self._add_values(row, values)

    def freeze(self) -> None:
        self.state.buf = self.state.view().copy()
        self.frozen = True

    def null_or_missing(self) -> np.ndarray:
        s = self.state.view()
        return (s == MISSING) | (s == NULL)

    def empty(self) -> np.ndarray:
        return self.state.view() != PRESENT


class _Postings:
    """One posting list while the segment is mutable: rows in a doubling int64 buffer,
    so a query reads a view instead of converting a Python list."""

    __slots__ = ("buf", "n")

    def __init__(self, row: int):
        self.buf = np.empty(8, dtype=np.int64)
        self.buf[0] = row
        self.n = 1

    def append(self, row: int) -> None:
        if self.n == len(self.buf):
            nb = np.empty(2 * self.n, dtype=np.int64)
            nb[: self.n] = self.buf
            self.buf = nb
        self.buf[self.n] = row
        self.n += 1

    def __len__(self) -> int:
        return self.n

    def view(self) -> np.ndarray:
        return self.buf[: self.n]


class _PostingIndex(_FieldIndex):
    """value -> rows (keyword, bool) or token -> rows (text)."""

    def __init__(self, spec):
        super().__init__(spec)
        self.postings: dict = {}

    def _post(self, row, keys):
        for key in dict.fromkeys(keys):  # unique, in order
            lst = self.postings.get(key)
            if lst is None:
                self.postings[key] = _Postings(row)
            else:
                lst.append(row)

    def freeze(self) -> None:
        super().freeze()
        self.postings = {k: v.view().copy() for k, v in self.postings.items()}

    def rows_of(self, key) -> np.ndarray:
        v = self.postings.get(key)
        if v is None:
            return _EMPTY_ROWS
        return v if isinstance(v, np.ndarray) else v.view()


class KeywordIndex(_PostingIndex):
    """Keyword and bool fields (and arrays of them). A single-valued field also keeps
    one value code per row, so "not one of these values" is one vectorized compare
    instead of a union of every other posting list."""

    def __init__(self, spec):
        super().__init__(spec)
        self.codes = None if spec.is_array else Grow(np.int32)
        self.code_of: dict = {}

    def add_parsed(self, row: int, state: int, values) -> None:
        super().add_parsed(row, state, values)
        if self.codes is not None:
            if values:
                c = self.code_of.setdefault(values[0], len(self.code_of))
            else:
                c = -1
            self.codes.extend((c,))

    def freeze(self) -> None:
        super().freeze()
        if self.codes is not None:
            self.codes.buf = self.codes.view().copy()

    def _add_values(self, row, values):
        self._post(row, values)

    def match_any(self, values) -> np.ndarray:
        parts = [self.rows_of(v) for v in values]
        return np.concatenate(parts) if parts else _EMPTY_ROWS

    def except_mask(self, values, n: int):
        """Bool mask of the first ``n`` rows holding a value outside ``values``, or None
        when the field keeps no per-row codes (arrays)."""
        if self.codes is None:
            return None
        codes = self.codes.view()[:n]
        skip = [self.code_of[v] for v in values if v in self.code_of]
        keep = codes >= 0
        if skip:
            keep &= ~np.isin(codes, np.asarray(skip, dtype=np.int32))
        return keep

    def match_except(self, values) -> np.ndarray:
        skip = set(values)
        parts = [self.rows_of(k) for k in list(self.postings) if k not in skip]
        return np.concatenate(parts) if parts else _EMPTY_ROWS

    def cardinality(self, value) -> int:
        v = self.postings.get(value)
        return 0 if v is None else len(v)


class TextIndex(_PostingIndex):
    """Full-text: lowercase word token -> rows holding it."""

    def _add_values(self, row, values):
        self._post(row, tokenize(values[0]))

    def match_all_tokens(self, tokens, n: int) -> np.ndarray:
        mask = None
        for t in sorted(set(tokens), key=lambda t: len(self.postings.get(t, ()))):
            m = np.zeros(n, dtype=bool)
            m[self.rows_of(t)] = True
            mask = m if mask is None else (mask & m)
            if not mask.any():
                break
        return np.flatnonzero(mask) if mask is not None else _EMPTY_ROWS


class NumericIndex(_FieldIndex):
    """int, float and datetime (int64 microseconds) fields: (value, row) pairs."""

    def __init__(self, spec):
        super().__init__(spec)
        self.dtype = np.float64 if spec.type == "float" else np.int64
        self.vals = Grow(self.dtype)
        self.rows = Grow(np.int64)

    def _add_values(self, row, values):
        self.vals.extend(values)
        self.rows.extend([row] * len(values))

    def freeze(self) -> None:
        super().freeze()
        v, r = self.vals.view(), self.rows.view()
        order = np.argsort(v, kind="stable")
        self.vals.buf, self.rows.buf = v[order], r[order]

    def range(self, lo, lo_incl: bool, hi, hi_incl: bool) -> np.ndarray:
        v, r = self.vals.view(), self.rows.view()
        if self.frozen:
            a = 0 if lo is None else int(np.searchsorted(v, lo, "left" if lo_incl else "right"))
            b = len(v) if hi is None else \
                int(np.searchsorted(v, hi, "right" if hi_incl else "left"))
            return r[a:b] if b > a else _EMPTY_ROWS
        keep = np.ones(len(v), dtype=bool)
        if lo is not None:
            keep &= (v >= lo) if lo_incl else (v > lo)
        if hi is not None:
            keep &= (v <= hi) if hi_incl else (v < hi)
        return r[keep]

    def match_any(self, values) -> np.ndarray:
        parts = [self.range(x, True, x, True) for x in values]
        return np.concatenate(parts) if parts else _EMPTY_ROWS

    def match_except(self, values) -> np.ndarray:
        v, r = self.vals.view(), self.rows.view()
        return r[~np.isin(v, np.asarray(list(values), dtype=self.dtype))]


class GeoIndex(_FieldIndex):
    """Geo points: latitude / longitude arrays (degrees)."""

    def __init__(self, spec):
        super().__init__(spec)
        self.lat = Grow(np.float64)
        self.lon = Grow(np.float64)
        self.rows = Grow(np.int64)

    def _add_values(self, row, values):
        self.lat.extend([p[0] for p in values])
        self.lon.extend([p[1] for p in values])
        self.rows.extend([row] * len(values))

    def freeze(self) -> None:
        super().freeze()
        for g in (self.lat, self.lon, self.rows):
            g.buf = g.view().copy()

    def radius(self, lat: float, lon: float, meters: float) -> np.ndarray:
        la, lo = np.radians(self.lat.view()), np.radians(self.lon.view())
        la0, lo0 = np.radians(lat), np.radians(lon)
        h = (np.sin((la - la0) / 2) ** 2
             + np.cos(la) * np.cos(la0) * np.sin((lo - lo0) / 2) ** 2)
        dist = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        return self.rows.view()[dist <= meters]

    def bounding_box(self, top: float, left: float, bottom: float, right: float) -> np.ndarray:
        la, lo = self.lat.view(), self.lon.view()
        keep = (la <= top) & (la >= bottom)
        if left <= right:
            keep &= (lo >= left) & (lo <= right)
        else:  # the box crosses the antimeridian
            keep &= (lo >= left) | (lo <= right)
        return self.rows.view()[keep]


_KINDS = {"keyword": KeywordIndex, "bool": KeywordIndex, "text": TextIndex,
          "int": NumericIndex, "float": NumericIndex, "datetime": NumericIndex,
          "geo": GeoIndex}


def make_field_index(spec) -> _FieldIndex:
    return _KINDS[spec.type](spec)
