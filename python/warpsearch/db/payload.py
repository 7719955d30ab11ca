# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Point ids and payload values: validation, normalization and JSON encoding.

Typed fields are normalized once at write time: datetimes to integer
microseconds since the epoch (UTC; naive times are taken as UTC), geo points to
``(lat, lon)`` and text to its set of lowercase word tokens.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import numbers
import operator
import re

import numpy as np

from .. import _core

try:  # optional: a faster JSON codec (the server and test extras bring it)
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is missing
    _orjson = None

__all__ = ["normalize_id", "normalize_ids", "payload_list", "encode_payload", "encode_payloads",
           "decode_payload",
           "field_values", "parse_column", "Column", "to_number", "to_datetime_us", "to_geo", "tokenize",
           "MISSING", "NULL", "EMPTY", "PRESENT"]

# Per-row state of a schema field (kept by every field index for is_null / is_empty).
MISSING, NULL, EMPTY, PRESENT = 0, 1, 2, 3

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_TOKEN_RE = re.compile(r"\w+")


def _negative(v):
    return ValueError(f"integer ids must be >= 0 (-1 pads result rows that have fewer "
                      f"than k hits, and the wire's integer ids are unsigned), got {v}")


def normalize_id(value, writing: bool = False):
    """A point id: a Python int within int64 or a non-empty str; ``writing``: an id a
    point is stored under, where integers must be >= 0 (a lookup of a negative id
    finds nothing)."""
    if isinstance(value, str):
        if not value:
            raise ValueError("string ids must be non-empty")
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"ids must be int or str, got {type(value).__name__} ({value!r})")
    v = int(value)
    if not _INT64_MIN <= v <= _INT64_MAX:
        raise ValueError(f"integer id {v} does not fit in int64")
    if writing and v < 0:
        raise _negative(v)
    return v


def normalize_ids(ids, writing: bool = False) -> list:
    """A list of ids from one id, a sequence or an integer array (``writing``: see
    ``normalize_id``)."""
    if isinstance(ids, (str, numbers.Integral)) and not isinstance(ids, (bool, np.bool_)):
        return [normalize_id(ids, writing)]
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
        if np.issubdtype(ids.dtype, np.integer) and ids.dtype != np.uint64:
            a = ids.astype(np.int64)
            if writing and len(a) and a.min() < 0:
                raise _negative(int(a.min()))
            return a.tolist()
    if type(ids) is list and ids and set(map(type, ids)) == {int} \
            and (0 if writing else _INT64_MIN) <= min(ids) and max(ids) <= _INT64_MAX:
        return list(ids)  # plain ints in range: nothing to normalize
    try:
        return [normalize_id(v, writing) for v in ids]
    except TypeError as exc:
        if "int or str" in str(exc):
            raise
        raise TypeError(f"ids must be an id or a sequence of ids, got {type(ids).__name__}") \
            from None


def payload_list(payloads, n: int, name: str) -> list:
    """The payloads of an upsert of ``n`` points as a list of ``n`` (``None``: none;
    one dict: one point's); a ValueError naming collection ``name`` on a count
    mismatch."""
    if payloads is None:
        return [None] * n
    if isinstance(payloads, dict):
        payloads = [payloads]
    payloads = list(payloads)
    if len(payloads) != n:
        raise ValueError(f"collection {name!r}: {len(payloads)} payloads for {n} ids")
    return payloads


def _json_default(obj):
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"payload value of type {type(obj).__name__} is not JSON-serializable")


def _plain(v) -> bool:
    """Whether ``v`` is made only of JSON's own types (exactly: dict with str keys,
    list, str, int, finite float, bool, None), which every JSON encoder writes alike."""
    t = type(v)
    if t is str or t is int or t is bool or v is None:
        return True
    if t is float:
        return math.isfinite(v)
    if t is dict:
        return all(type(k) is str and _plain(x) for k, x in v.items())
    if t is list:
        return all(_plain(x) for x in v)
    return False


def _not_plain(obj):
    raise TypeError("not a JSON type")


_PASSTHROUGH = 0 if _orjson is None else (_orjson.OPT_PASSTHROUGH_DATETIME
                                          | _orjson.OPT_PASSTHROUGH_SUBCLASS
                                          | _orjson.OPT_PASSTHROUGH_DATACLASS)


def _exact(out: bytes) -> bytes:
    """``out`` in a block of its own size: orjson's result keeps the encoder's whole
    buffer (4 KiB), and a stored payload lives as long as its segment."""
    return memoryview(out).tobytes() if len(out) < 2048 else out


def _fast_json(payload):
    """The fast encoder's JSON of a payload of JSON's own types (which it writes with
    the values json writes), or None: any other type (numpy scalars, datetimes,
    subclasses) reaches ``_not_plain``, and an int past 64 bits or a key that is not a
    string raises. orjson writes NaN and inf as null: an answer without "null" cannot
    hold one; one with it is the caller's to check (``_plain``)."""
    try:
        return _orjson.dumps(payload, default=_not_plain, option=_PASSTHROUGH)
    except _orjson.JSONEncodeError:
        return None


def _fast_json_batch(payloads):
    """The fast encoder's JSON of each payload of a batch of plain dicts, encoded in one
    call and split into one bytes per payload (equal to encoding each alone), or None
    where one call cannot stand for the per-payload rules: a payload that is not a
    dict, a value of another type, or a null anywhere (NaN and inf are written as null,
    see ``_fast_json``)."""
    if _orjson is None or not payloads or set(map(type, payloads)) != {dict}:
        return None
    try:
        blob = _orjson.dumps(payloads, default=_not_plain, option=_PASSTHROUGH)
    except _orjson.JSONEncodeError:
        return None
    if b"null" in blob:
        return None
    return _core.split_json_array(blob)


def encode_payloads(payloads) -> list:
    """``encode_payload`` of each payload (the checks of plain dicts left to the fast
    encoder, in one call for the batch where it can; anything it does not take goes
    through ``encode_payload``)."""
    out = _fast_json_batch(payloads)
    if out is not None:
        return out
    out = []
    for p in payloads:
        b = _fast_json(p) if _orjson is not None and type(p) is dict else None
        out.append(_exact(b) if b is not None and b"null" not in b else encode_payload(p))
    return out


def encode_payload(payload) -> bytes:
    """Compact UTF-8 JSON of a payload dict (``b""`` for no payload)."""
    if payload is None:
        return b""
    if not isinstance(payload, dict):
        raise TypeError(f"a payload must be a dict or None, got {type(payload).__name__}")
    for key in payload:
        if not isinstance(key, str):
            raise TypeError(f"payload keys must be strings, got {key!r}")
    if _orjson is not None:  # the fast encoder where it writes what json would
        out = _fast_json(payload)
        if out is not None and (b"null" not in out or _plain(payload)):
            return _exact(out)
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False, default=_json_default).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"payload cannot be stored as JSON: {exc}") from None


_LONG_DIGITS = re.compile(rb"[0-9]{19}")


def decode_payload(raw: bytes):
    if not raw:
        return None
    if _orjson is not None and _LONG_DIGITS.search(raw) is None:
        # the fast decoder reads ints past 64 bits as floats: those (any run of 19
        # digits) go to json
        try:
            return _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def to_number(field: str, kind: str, v):
    """An int (int64) or float value of ``field``; raises on a wrong type."""
    if isinstance(v, (bool, np.bool_)):
        raise ValueError(f"field {field!r} ({kind}): expected a number, got a bool")
    if kind == "int":
        if not isinstance(v, numbers.Integral):
            raise ValueError(f"field {field!r} (int): expected an integer, got {v!r}")
        v = int(v)
        if not _INT64_MIN <= v <= _INT64_MAX:
            raise ValueError(f"field {field!r} (int): {v} does not fit in int64")
        return v
    if not isinstance(v, numbers.Real):
        raise ValueError(f"field {field!r} (float): expected a number, got {v!r}")
    v = float(v)
    if math.isnan(v):
        raise ValueError(f"field {field!r} (float): NaN is not allowed")
    return v


def to_datetime_us(field: str, v) -> int:
    """Microseconds since the epoch (UTC) of a datetime, date or ISO-8601 string."""
    if isinstance(v, str):
        s = v.strip()
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        try:
            d = _dt.datetime.fromisoformat(s)
        except ValueError:
            raise ValueError(f"field {field!r} (datetime): {v!r} is not an ISO-8601 "
                             "date/time") from None
    elif isinstance(v, _dt.datetime):
        d = v
    elif isinstance(v, _dt.date):
        d = _dt.datetime(v.year, v.month, v.day)
    else:
        raise ValueError(f"field {field!r} (datetime): expected a datetime or ISO string, "
                         f"got {v!r}")
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    delta = d - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_geo(field: str, v):
    """``(lat, lon)`` of ``{"lat": .., "lon": ..}``."""
    if not isinstance(v, dict) or set(v) != {"lat", "lon"}:
        raise ValueError(f"field {field!r} (geo): expected {{'lat': .., 'lon': ..}}, got {v!r}")
    lat, lon = v["lat"], v["lon"]
    for name, x, lim in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        if isinstance(x, bool) or not isinstance(x, numbers.Real) or not -lim <= x <= lim:
            raise ValueError(f"field {field!r} (geo): {name} must be a number in "
                             f"[-{lim:g}, {lim:g}], got {x!r}")
    return float(lat), float(lon)


def tokenize(text: str) -> list:
    """Lowercase word tokens (``\\w+``) of a text, in order."""
    return _TOKEN_RE.findall(text.lower())


def _scalar(field: str, kind: str, v):
    if kind == "keyword":
        if not isinstance(v, str):
            raise ValueError(f"field {field!r} (keyword): expected a string, got {v!r}")
        return v
    if kind in ("int", "float"):
        return to_number(field, kind, v)
    if kind == "bool":
        if not isinstance(v, (bool, np.bool_)):
            raise ValueError(f"field {field!r} (bool): expected True or False, got {v!r}")
        return bool(v)
    if kind == "datetime":
        return to_datetime_us(field, v)
    if kind == "geo":
        return to_geo(field, v)
    if kind == "text":
        if not isinstance(v, str):
            raise ValueError(f"field {field!r} (text): expected a string, got {v!r}")
        return v
    raise ValueError(f"field {field!r}: unknown type {kind!r}")


def field_values(spec, payload):
    """``(state, values)`` of one schema field in one payload.

    ``values`` is a list of normalized values (one for scalars, the elements for
    arrays); ``state`` is MISSING, NULL, EMPTY or PRESENT. A value of the wrong
    type is a ``ValueError`` naming the field.
    """
    if payload is None or spec.name not in payload:
        return MISSING, ()
    v = payload[spec.name]
    if v is None:
        return NULL, ()
    if isinstance(v, (list, tuple, np.ndarray)):
        if not spec.is_array:
            raise ValueError(f"field {spec.name!r} ({spec.spelled}): expected one value, "
                             "got an array (declare the field as "
                             f"'{spec.type}[]' to store arrays)")
        vals = [_scalar(spec.name, spec.type, x) for x in v]
        return (PRESENT if vals else EMPTY), vals
    return PRESENT, [_scalar(spec.name, spec.type, v)]


class Column:
    """One schema field over a batch of rows: ``states`` (uint8, one per row) and the
    normalized values in row order, ``vals`` (a list, or an array for numbers),
    with ``rows`` (int64, ascending) the batch row each value belongs to."""

    __slots__ = ("states", "vals", "rows")

    def __init__(self, states: np.ndarray, vals, rows: np.ndarray):
        self.states, self.vals, self.rows = states, vals, rows

    def __len__(self) -> int:
        return len(self.states)

    def slice(self, a: int, b: int) -> "Column":
        """Rows ``[a, b)``, renumbered from 0."""
        if a == 0 and b >= len(self.states):
            return self
        lo, hi = np.searchsorted(self.rows, (a, b))
        return Column(self.states[a:b], self.vals[lo:hi], self.rows[lo:hi] - a)


_NUMERIC_DTYPES = {"int": np.int64, "float": np.float64, "datetime": np.int64}
_PLAIN_TYPES = {"keyword": (str,), "bool": (bool,), "int": (int,), "float": (float, int)}


def _plain_column(spec, payloads, n: int):
    """The column of a single-valued keyword, bool, int or float field present in every
    payload with a value of its plain Python type, or None (then the per-row rules
    apply, with their errors)."""
    name = spec.name
    try:
        vals = list(map(operator.itemgetter(name), payloads))
    except (KeyError, TypeError):  # a payload without the field, or no payload
        return None
    if not set(map(type, vals)) <= set(_PLAIN_TYPES[spec.type]):  # exact types
        return None
    dtype = _NUMERIC_DTYPES.get(spec.type)
    if dtype is not None:
        try:
            arr = np.array(vals, dtype=dtype)
        except OverflowError:  # an int past int64: the per-row rule names it
            return None
        if dtype is np.float64 and np.isnan(arr).any():
            return None
        vals = arr
    return Column(np.full(n, PRESENT, dtype=np.uint8), vals, np.arange(n, dtype=np.int64))


def parse_column(spec, payloads) -> Column:
    """Field ``spec`` of every payload of a batch (``field_values`` per row, with a
    vectorized path for the common case); raises ValueError on a wrong type."""
    n = len(payloads)
    if not spec.is_array and spec.type in _PLAIN_TYPES and n:
        col = _plain_column(spec, payloads, n)
        if col is not None:
            return col
    states = np.empty(n, dtype=np.uint8)
    vals, rows = [], []
    for i, p in enumerate(payloads):
        st, vs = field_values(spec, p)
        states[i] = st
        if vs:
            vals.extend(vs)
            rows.extend([i] * len(vs))
    dtype = _NUMERIC_DTYPES.get(spec.type)
    if dtype is not None:
        vals = np.array(vals, dtype=dtype)
    return Column(states, vals, np.array(rows, dtype=np.int64))
