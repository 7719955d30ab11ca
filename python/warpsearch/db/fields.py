# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Payload indexes of one segment, one per schema field.

While a segment is mutable the indexes grow by appending (posting lists are
doubling int64 buffers read as views, single-valued keyword fields also keep one value
code per row, numbers are scanned with vectorized comparisons); ``freeze()``
turns them into NumPy arrays: posting lists become sorted id arrays and
numbers (ints, floats, datetimes) become value-sorted arrays searched with
``np.searchsorted``. Every query returns the row numbers that match (possibly
repeated for arrays); the filter compiler turns them into a boolean mask.

A frozen index is saved with its segment (``save_fields``: one ``.npz`` of plain
arrays, no pickles) and loaded back as it was (``load_fields``), so opening a
collection does not parse its payloads again.
"""

from __future__ import annotations

import json

import numpy as np

from .payload import MISSING, NULL, PRESENT, field_values, tokenize

__all__ = ["make_field_index", "Grow", "EARTH_RADIUS_M", "save_fields", "load_fields"]

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

    def add_column(self, base: int, col) -> None:
        """Adds rows ``base, base + 1, ...`` (the next rows) from a ``Column``."""
        self.state.extend(col.states)
        if len(col.rows):
            self._add_column(base, col)

    def _add_column(self, base: int, col) -> None:
        """Per row holding values (the kinds without a vectorized path)."""
        rows, vals = col.rows.tolist(), col.vals
        i, m = 0, len(rows)
        while i < m:
            j = i + 1
            while j < m and rows[j] == rows[i]:
                j += 1
            self._add_values(base + rows[i], list(vals[i:j]))
            i = j

    def freeze(self) -> None:
        self.state.buf = self.state.view().copy()
        self.frozen = True

    # -- persistence (frozen indexes): arrays and JSON-able values ---------------------
    def _arrays(self) -> dict:
        return {"state": self.state.view()}

    def _set_arrays(self, arrays: dict, meta) -> None:
        self.state.buf = arrays["state"]
        self.state.n = len(arrays["state"])
        self.frozen = True

    def _meta(self):
        return None

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

    @classmethod
    def of(cls, rows: np.ndarray) -> "_Postings":
        p = cls.__new__(cls)
        p.buf = np.empty(max(8, len(rows)), dtype=np.int64)
        p.buf[: len(rows)] = rows
        p.n = len(rows)
        return p

    def extend(self, rows: np.ndarray) -> None:
        need = self.n + len(rows)
        if need > len(self.buf):
            nb = np.empty(max(need, 2 * len(self.buf)), dtype=np.int64)
            nb[: self.n] = self.buf[: self.n]
            self.buf = nb
        self.buf[self.n:need] = rows
        self.n = need

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

    def _arrays(self) -> dict:
        out = super()._arrays()
        lists = list(self.postings.values())
        out["post_off"] = np.cumsum([0] + [len(v) for v in lists], dtype=np.int64)
        out["post_rows"] = np.concatenate(lists) if lists else _EMPTY_ROWS
        return out

    def _meta(self):
        return {"keys": list(self.postings)}

    def _set_arrays(self, arrays: dict, meta) -> None:
        super()._set_arrays(arrays, meta)
        off, rows = arrays["post_off"], arrays["post_rows"]
        self.postings = {k: rows[off[i]:off[i + 1]] for i, k in enumerate(meta["keys"])}

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

    def add_column(self, base: int, col) -> None:
        if self.codes is None:  # arrays: per row (a row lists a value once)
            super().add_column(base, col)
            return
        self.state.extend(col.states)
        codes = np.full(len(col), -1, dtype=np.int32)
        vals = col.vals
        if len(vals):
            code_of = self.code_of
            for v in dict.fromkeys(vals):  # the batch's distinct values, in order
                if v not in code_of:
                    code_of[v] = len(code_of)
            cs = np.fromiter(map(code_of.__getitem__, vals), dtype=np.int32, count=len(vals))
            codes[col.rows] = cs
            # one extend per distinct value: group the rows by code (stable: in order)
            order = np.argsort(cs, kind="stable")
            rows = col.rows[order] + base
            cuts = np.flatnonzero(np.diff(cs[order])) + 1
            for a, b in zip(np.concatenate(([0], cuts)).tolist(),
                            np.concatenate((cuts, [len(order)])).tolist()):
                key = vals[int(order[a])]
                lst = self.postings.get(key)
                if lst is None:
                    self.postings[key] = _Postings.of(rows[a:b])
                else:
                    lst.extend(rows[a:b])
        self.codes.extend(codes)

    def freeze(self) -> None:
        super().freeze()
        if self.codes is not None:
            self.codes.buf = self.codes.view().copy()

    def _arrays(self) -> dict:
        out = super()._arrays()
        if self.codes is not None:
            out["codes"] = self.codes.view()
        return out

    def _meta(self):
        return {**super()._meta(), "code_of": list(self.code_of)}

    def _set_arrays(self, arrays: dict, meta) -> None:
        super()._set_arrays(arrays, meta)
        if self.codes is not None:
            self.codes.buf = arrays["codes"]
            self.codes.n = len(arrays["codes"])
        self.code_of = {v: i for i, v in enumerate(meta["code_of"])}

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

    def _add_column(self, base: int, col) -> None:
        self.vals.extend(col.vals)
        self.rows.extend(col.rows + base)

    def freeze(self) -> None:
        super().freeze()
        v, r = self.vals.view(), self.rows.view()
        order = np.argsort(v, kind="stable")
        self.vals.buf, self.rows.buf = v[order], r[order]

    def _arrays(self) -> dict:
        return {**super()._arrays(), "vals": self.vals.view(), "rows": self.rows.view()}

    def _set_arrays(self, arrays: dict, meta) -> None:
        super()._set_arrays(arrays, meta)
        for g, key in ((self.vals, "vals"), (self.rows, "rows")):
            g.buf, g.n = arrays[key], len(arrays[key])

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

    def _arrays(self) -> dict:
        return {**super()._arrays(), "lat": self.lat.view(), "lon": self.lon.view(),
                "rows": self.rows.view()}

    def _set_arrays(self, arrays: dict, meta) -> None:
        super()._set_arrays(arrays, meta)
        for g, key in ((self.lat, "lat"), (self.lon, "lon"), (self.rows, "rows")):
            g.buf, g.n = arrays[key], len(arrays[key])

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


# The dtype of every saved array, checked on load (a file is data, not code).
_DTYPES = {"state": np.uint8, "post_off": np.int64, "post_rows": np.int64, "codes": np.int32,
           "rows": np.int64, "lat": np.float64, "lon": np.float64}


def save_fields(f, fields: dict, n: int) -> None:
    """Writes the frozen field indexes of a segment of ``n`` rows to the open binary
    file ``f`` (an uncompressed ``.npz``: arrays, plus a JSON header naming each field,
    its spelled type and its keys)."""
    arrays, head = {}, {"rows": n, "fields": []}
    for i, (name, fi) in enumerate(fields.items()):
        head["fields"].append({"name": name, "type": fi.spec.spelled, "meta": fi._meta()})
        for key, arr in fi._arrays().items():
            arrays[f"{i}.{key}"] = np.ascontiguousarray(arr)
    arrays["header"] = np.frombuffer(json.dumps(head).encode(), dtype=np.uint8)
    np.savez(f, **arrays)


def load_fields(path: str, schema: dict, n: int) -> dict:
    """The field indexes saved by ``save_fields`` that match ``schema`` (same name and
    type), frozen; fields of the schema missing from the file are left out (the caller
    builds them). A file that does not parse or disagrees with itself raises
    ``ValueError``."""
    out = {}
    with np.load(path, allow_pickle=False) as z:
        head = json.loads(bytes(z["header"]).decode())
        if head.get("rows") != n:
            raise ValueError(f"{path}: field indexes for {head.get('rows')} rows, expected {n}")
        for i, f in enumerate(head["fields"]):
            spec = schema.get(f["name"])
            if spec is None or spec.spelled != f["type"]:
                continue  # dropped or retyped since: rebuilt by the caller
            fi = make_field_index(spec)
            arrays = {}
            for key in fi._arrays():
                arr = z[f"{i}.{key}"]
                want = fi.dtype if key == "vals" else _DTYPES[key]
                if arr.dtype != want or arr.ndim != 1:
                    raise ValueError(f"{path}: field {f['name']!r} array {key} is malformed")
                arrays[key] = arr
            if len(arrays["state"]) != n or ("codes" in arrays and len(arrays["codes"]) != n):
                raise ValueError(f"{path}: field {f['name']!r} does not cover {n} rows")
            for key in ("rows", "post_rows"):
                r = arrays.get(key)
                if r is not None and r.size and (r.min() < 0 or r.max() >= n):
                    raise ValueError(f"{path}: field {f['name']!r} names rows out of range")
            off = arrays.get("post_off")
            if off is not None and (len(off) != len(f["meta"]["keys"]) + 1 or
                                    (off.size and (off[0] != 0 or off[-1] != len(arrays["post_rows"])
                                                   or np.any(np.diff(off) < 0)))):
                raise ValueError(f"{path}: field {f['name']!r} posting lists are malformed")
            fi._set_arrays(arrays, f["meta"])
            out[f["name"]] = fi
    return out
