# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The filter language: JSON-able dicts compiled once against the schema, then
evaluated per segment into a boolean mask over the segment's rows.

Grammar (``filter`` is any clause)::

    {"must": [c, ...], "should": [c, ...], "must_not": [c, ...]}  # all / any / none
    {"key": f, "match": v}                 # equality; arrays match if any element does
    {"key": f, "match": {"any": [v, ...]}} # one of
    {"key": f, "match": {"except": [...]}} # a value outside the list (absent never matches)
    {"key": f, "range": {"gte": a, "lt": b}}             # int, float, datetime
    {"key": f, "geo_radius": {"center": {"lat": .., "lon": ..}, "radius": meters}}
    {"key": f, "geo_bounding_box": {"top_left": {..}, "bottom_right": {..}}}
    {"key": f, "text": "some words"}       # every token present (text fields)
    {"is_null": f}                         # absent or null
    {"is_empty": f}                        # absent, null or []
    {"section": "python", ...}             # shorthand for must-match of each pair
    {"has_id": [id, ...]}                  # one of these point ids
    {"scan": c}   # c (match, range, is_null, is_empty) read from each row's stored
                  # payload: for keys without a field index ("meta.source" reaches
                  # into nested objects); costs a payload decode per row and search

Examples
--------
>>> from warpsearch.db.config import parse_schema
>>> node = compile_filter({"section": "python"}, parse_schema({"section": "keyword"}))
>>> type(node).__name__
'And'
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .payload import decode_payload, normalize_ids, to_datetime_us, to_geo, to_number, tokenize
from .segment import take_raws

__all__ = ["compile_filter", "Node"]

_BOOL_KEYS = {"must", "should", "must_not"}
_FIELD_OPS = ("match", "range", "geo_radius", "geo_bounding_box", "text")


class Node:
    """A compiled filter clause. ``mask(seg)`` -> bool array of ``seg.n`` rows."""

    def mask(self, seg) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} cannot be evaluated")


class And(Node):
    def __init__(self, children):
        self.children = children

    def mask(self, seg):
        out = np.ones(seg.n, dtype=bool)
        for c in self.children:
            out &= c.mask(seg)
            if not out.any():
                break
        return out


class Or(Node):
    def __init__(self, children):
        self.children = children

    def mask(self, seg):
        out = np.zeros(seg.n, dtype=bool)
        for c in self.children:
            out |= c.mask(seg)
        return out


class Not(Node):
    def __init__(self, child):
        self.child = child

    def mask(self, seg):
        return ~self.child.mask(seg)


class _Leaf(Node):
    def __init__(self, field, fn, *args):
        self.field, self.fn, self.args = field, fn, args

    def mask(self, seg):
        fi = seg.fields[self.field]
        if self.fn == "match_except" and hasattr(fi, "except_mask"):
            m = fi.except_mask(*self.args, seg.n)
            if m is not None:
                return m
        out = np.zeros(seg.n, dtype=bool)
        rows = getattr(fi, self.fn)(*self.args)
        out[rows[rows < seg.n]] = True
        return out


class _State(Node):
    def __init__(self, field, fn):
        self.field, self.fn = field, fn

    def mask(self, seg):
        return getattr(seg.fields[self.field], self.fn)()[: seg.n].copy()


class _Text(Node):
    def __init__(self, field, tokens):
        self.field, self.tokens = field, tokens

    def mask(self, seg):
        out = np.zeros(seg.n, dtype=bool)
        out[seg.fields[self.field].match_all_tokens(self.tokens, seg.n)] = True
        return out


_MISSING = object()


def _path(payload, key):
    """The value at ``key`` ("a.b": ``payload["a"]["b"]``), or _MISSING."""
    v = payload
    for part in key.split("."):
        if not isinstance(v, dict) or part not in v:
            return _MISSING
        v = v[part]
    return v


def _same(a, b) -> bool:
    """JSON equality that keeps bools apart from numbers (True is not 1)."""
    return (isinstance(a, bool) == isinstance(b, bool)) and a == b


def _number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


class _Scan(Node):
    """A condition read from each row's stored payload (see ``{"scan": ...}``)."""

    def __init__(self, test):
        self.test = test  # payload dict (or None) -> bool

    def mask(self, seg):
        done = getattr(seg, "scanned", None)  # masks the planner computed beforehand
        if done is not None and id(self) in done:
            return done[id(self)].copy()
        raws = take_raws(seg.raws, np.arange(seg.n, dtype=np.int64))
        test = self.test
        return np.fromiter((test(None if r is None else decode_payload(r)) for r in raws),
                           dtype=bool, count=seg.n)


class _HasId(Node):
    """Rows whose point id is one of ``ids``."""

    def __init__(self, ids):
        self.ids = set(ids)
        ints = [u for u in self.ids if isinstance(u, int)]
        self.int_ids = np.array(ints, dtype=np.int64)

    def mask(self, seg):
        uids = seg.uids[: seg.n]
        if uids.dtype == np.int64:
            return np.isin(uids, self.int_ids)
        ids = self.ids
        return np.fromiter((u in ids for u in uids), dtype=bool, count=len(uids))


def _has_id(ids, where):
    if not isinstance(ids, (list, tuple)):
        raise ValueError(f"{where}: has_id takes a list of point ids, got {ids!r}")
    try:
        return _HasId(normalize_ids(list(ids)) if ids else [])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: has_id: {exc}") from None


def scan_nodes(node) -> list:
    """The ``{"scan": ...}`` conditions of a compiled filter (read from payloads: the
    planner evaluates them before taking the lock the field indexes need)."""
    if isinstance(node, _Scan):
        return [node]
    kids = getattr(node, "children", None)
    if kids is None:
        kid = getattr(node, "child", None)
        kids = [] if kid is None else [kid]
    return [s for k in kids for s in scan_nodes(k)]


def _scan_clause(c, where):
    """The predicate of a ``{"scan": c}`` condition (payload -> bool)."""
    if not isinstance(c, dict):
        raise ValueError(f"{where}: scan takes one condition (a dict), got {c!r}")
    keys = set(c)
    if keys in ({"is_null"}, {"is_empty"}):
        (op,) = keys
        ref = c[op]
        key = ref.get("key") if isinstance(ref, dict) else ref
        if not isinstance(key, str) or not key:
            raise ValueError(f"{where}: {op} needs a field name, got {ref!r}")
        if op == "is_null":
            return lambda p: p is None or _path(p, key) in (_MISSING, None)
        return lambda p: p is None or _path(p, key) in (_MISSING, None) or \
            _path(p, key) == []
    key = c.get("key")
    ops = keys - {"key"}
    if not isinstance(key, str) or not key or len(ops) != 1 or \
            not ops <= {"match", "range"}:
        raise ValueError(f"{where}: scan takes {{'key': name, 'match' | 'range': ...}}, "
                         f"{{'is_null': name}} or {{'is_empty': name}}; got {c!r}")
    (op,) = ops
    arg = c[op]

    def values(p):  # the stored value, each element of an array
        v = _MISSING if p is None else _path(p, key)
        return () if v in (_MISSING, None) else (v if isinstance(v, list) else (v,))

    if op == "range":
        if not isinstance(arg, dict) or not arg or set(arg) - {"gt", "gte", "lt", "lte"} \
                or not all(_number(b) and not math.isnan(b) for b in arg.values()):
            raise ValueError(f"{where}: range on {key!r} must be a dict of numeric gt/gte/"
                             f"lt/lte, got {arg!r}")
        lo_x, lo_i, hi_x, hi_i = arg.get("gt"), arg.get("gte"), arg.get("lt"), arg.get("lte")

        def in_range(x):
            return _number(x) and (lo_x is None or x > lo_x) and (lo_i is None or x >= lo_i) \
                and (hi_x is None or x < hi_x) and (hi_i is None or x <= hi_i)
        return lambda p: any(in_range(x) for x in values(p))
    kind, want = "value", arg
    if isinstance(arg, dict):
        if len(arg) != 1 or next(iter(arg)) not in ("value", "any", "except"):
            raise ValueError(f"{where}: match on {key!r} must be a value, {{'value': v}}, "
                             f"{{'any': [...]}} or {{'except': [...]}}; got {arg!r}")
        (kind, want), = arg.items()
    scalar = (str, bool, numbers.Real)
    if kind == "value":
        if not isinstance(want, scalar):
            raise ValueError(f"{where}: match on {key!r} needs a string, number or bool, "
                             f"got {want!r}")
        return lambda p: any(_same(x, want) for x in values(p))
    if not isinstance(want, (list, tuple)) or not all(isinstance(w, scalar) for w in want):
        raise ValueError(f"{where}: match {kind!r} on {key!r} needs a list of strings, "
                         f"numbers or bools, got {want!r}")
    want = list(want)
    if kind == "any":
        return lambda p: any(_same(x, w) for x in values(p) for w in want)
    # except: some stored value outside the list (an absent value never matches)
    return lambda p: any(not any(_same(x, w) for w in want) for x in values(p))


def compile_filter(filt, schema: dict):
    """Validates ``filt`` against ``schema`` and returns a ``Node`` (None for no filter).

    Unknown fields and values of the wrong type raise ``ValueError`` naming the field.
    """
    if filt is None:
        return None
    return _clause(filt, schema, "filter")


def _as_list(v, where):
    if v is None:
        return []
    if isinstance(v, dict):
        return [v]
    if isinstance(v, (list, tuple)):
        return list(v)
    raise ValueError(f"{where} must be a clause or a list of clauses, got {v!r}")


def _clause(d, schema, where):
    if not isinstance(d, dict):
        raise ValueError(f"{where}: a filter clause must be a dict, got {type(d).__name__}")
    keys = set(d)
    if keys & _BOOL_KEYS:
        extra = keys - _BOOL_KEYS
        if extra:
            raise ValueError(f"{where}: unexpected keys {sorted(extra)} next to "
                             "must/should/must_not")
        parts = [_clause(c, schema, f"{where}.must") for c in _as_list(d.get("must"), "must")]
        should = [_clause(c, schema, f"{where}.should")
                  for c in _as_list(d.get("should"), "should")]
        if should:
            parts.append(Or(should))
        parts += [Not(_clause(c, schema, f"{where}.must_not"))
                  for c in _as_list(d.get("must_not"), "must_not")]
        return And(parts)
    if keys == {"scan"}:
        return _Scan(_scan_clause(d["scan"], f"{where}.scan"))
    if keys == {"has_id"}:
        return _has_id(d["has_id"], where)
    if "key" in keys:
        return _field_clause(d, schema, where)
    if keys and keys <= {"is_null", "is_empty"}:
        if len(keys) != 1:
            raise ValueError(f"{where}: use one of is_null / is_empty per clause")
        (op,) = keys
        ref = d[op]
        key = ref.get("key") if isinstance(ref, dict) else ref
        _spec(key, schema)
        return _State(key, "null_or_missing" if op == "is_null" else "empty")
    # Shorthand: {"field": value, ...} means every field matches its value.
    parts = []
    for key, value in d.items():
        if key in _FIELD_OPS:
            raise ValueError(f"{where}: {key!r} needs a 'key' naming the field")
        if isinstance(value, (list, tuple)):
            value = {"any": list(value)}
        parts.append(_field_clause({"key": key, "match": value}, schema, where))
    return And(parts)


def _spec(key, schema):
    if not isinstance(key, str):
        raise ValueError(f"filter field names must be strings, got {key!r}")
    spec = schema.get(key)
    if spec is None:
        known = ", ".join(sorted(schema)) or "none"
        raise ValueError(f"unknown field {key!r} in filter: it is not in the collection's "
                         f"schema (filterable fields: {known}); index it, or read it from "
                         "each payload with {'scan': condition}")
    return spec


def _field_clause(d, schema, where):
    spec = _spec(d["key"], schema)
    ops = [k for k in d if k != "key"]
    if len(ops) != 1 or ops[0] not in _FIELD_OPS:
        raise ValueError(f"{where}: a condition on {spec.name!r} needs exactly one of "
                         f"{', '.join(_FIELD_OPS)}; got {ops}")
    op, arg = ops[0], d[ops[0]]
    if op == "match":
        return _match(spec, arg)
    if op == "range":
        return _range(spec, arg)
    if op == "text":
        if spec.type != "text":
            raise ValueError(f"field {spec.name!r} ({spec.spelled}): full-text match needs a "
                             "text field")
        if not isinstance(arg, str):
            raise ValueError(f"field {spec.name!r}: text query must be a string, got {arg!r}")
        tokens = tokenize(arg)
        if not tokens:
            raise ValueError(f"field {spec.name!r}: text query {arg!r} has no words")
        return _Text(spec.name, tokens)
    if spec.type != "geo":
        raise ValueError(f"field {spec.name!r} ({spec.spelled}): {op} needs a geo field")
    return _geo(spec, op, arg)


def _value(spec, v):
    t = spec.type
    if t == "keyword":
        if not isinstance(v, str):
            raise ValueError(f"field {spec.name!r} (keyword): match value must be a string, "
                             f"got {v!r}")
        return v
    if t == "bool":
        if not isinstance(v, (bool, np.bool_)):
            raise ValueError(f"field {spec.name!r} (bool): match value must be a bool, got {v!r}")
        return bool(v)
    if t in ("int", "float"):
        return to_number(spec.name, t, v)
    if t == "datetime":
        return to_datetime_us(spec.name, v)
    raise ValueError(f"field {spec.name!r} ({spec.spelled}): match is not supported; use "
                     + ("'text'" if t == "text" else "geo_radius / geo_bounding_box"))


def _match(spec, arg):
    if isinstance(arg, dict):
        if len(arg) != 1 or next(iter(arg)) not in ("value", "any", "except"):
            raise ValueError(f"field {spec.name!r}: match must be a value, {{'value': v}}, "
                             f"{{'any': [...]}} or {{'except': [...]}}; got {arg!r}")
        (kind, vals), = arg.items()
        if kind == "value":
            return _Leaf(spec.name, "match_any", [_value(spec, vals)])
        if not isinstance(vals, (list, tuple)):
            raise ValueError(f"field {spec.name!r}: match {kind!r} needs a list, got {vals!r}")
        vals = [_value(spec, v) for v in vals]
        return _Leaf(spec.name, "match_any" if kind == "any" else "match_except", vals)
    return _Leaf(spec.name, "match_any", [_value(spec, arg)])


def _bound(spec, v):
    if spec.type == "datetime":
        return to_datetime_us(spec.name, v)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or math.isnan(v):
        raise ValueError(f"field {spec.name!r} ({spec.spelled}): range bounds must be numbers, "
                         f"got {v!r}")
    return v


def _range(spec, arg):
    if spec.type not in ("int", "float", "datetime"):
        raise ValueError(f"field {spec.name!r} ({spec.spelled}): range needs an int, float or "
                         "datetime field")
    if not isinstance(arg, dict) or not arg or set(arg) - {"gt", "gte", "lt", "lte"}:
        raise ValueError(f"field {spec.name!r}: range must be a dict of gt/gte/lt/lte, got {arg!r}")
    if "gt" in arg and "gte" in arg or "lt" in arg and "lte" in arg:
        raise ValueError(f"field {spec.name!r}: give at most one lower and one upper bound")
    lo_key = "gte" if "gte" in arg else ("gt" if "gt" in arg else None)
    hi_key = "lte" if "lte" in arg else ("lt" if "lt" in arg else None)
    lo = None if lo_key is None else _bound(spec, arg[lo_key])
    hi = None if hi_key is None else _bound(spec, arg[hi_key])
    return _Leaf(spec.name, "range", lo, lo_key == "gte", hi, hi_key == "lte")


def _point(spec, v, what):
    try:
        return to_geo(spec.name, v)
    except ValueError as exc:
        raise ValueError(f"{exc} (in {what})") from None


def _geo(spec, op, arg):
    if not isinstance(arg, dict):
        raise ValueError(f"field {spec.name!r}: {op} must be a dict, got {arg!r}")
    if op == "geo_radius":
        if set(arg) != {"center", "radius"}:
            raise ValueError(f"field {spec.name!r}: geo_radius needs 'center' and 'radius'")
        lat, lon = _point(spec, arg["center"], "geo_radius.center")
        r = arg["radius"]
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or not r >= 0:
            raise ValueError(f"field {spec.name!r}: radius must be meters >= 0, got {r!r}")
        return _Leaf(spec.name, "radius", lat, lon, float(r))
    if set(arg) != {"top_left", "bottom_right"}:
        raise ValueError(f"field {spec.name!r}: geo_bounding_box needs 'top_left' and "
                         "'bottom_right'")
    top, left = _point(spec, arg["top_left"], "top_left")
    bottom, right = _point(spec, arg["bottom_right"], "bottom_right")
    if bottom > top:
        raise ValueError(f"field {spec.name!r}: bounding box top_left.lat must be >= "
                         "bottom_right.lat")
    return _Leaf(spec.name, "bounding_box", top, left, bottom, right)
