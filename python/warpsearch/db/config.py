# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Collection settings: index configurations, payload schema and result types."""

from __future__ import annotations

import math
import operator
import re
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple, Optional, Union

import numpy as np

from .._validation import as_positive_int
from ..index import HNSW_STORAGE_MODES, REFINE_MODES, STORAGE_MODES
from .payload import decode_payload

__all__ = ["HNSWConfig", "FlatConfig", "IVFPQConfig", "Record", "Hit", "FieldSpec",
           "parse_schema", "index_config_from_dict", "FIELD_TYPES", "check_name"]

#: Payload field types a schema may name; ``T[]`` is an array of ``T`` (not for text).
FIELD_TYPES = ("keyword", "int", "float", "bool", "datetime", "geo", "text")

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


#: Endings of the database's own entries beside collections (in-progress creates,
#: drops and activations, offload records).
_RESERVED_ENDINGS = (".tmp", ".dropped", ".activating", ".offloaded.json")


def check_name(name, what: str = "collection name") -> str:
    """Returns ``name`` when it is a safe file-system name, else raises."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}")
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid {what} {name!r}: use 1-64 letters, digits, '_', '-', '.'")
    if name.endswith(_RESERVED_ENDINGS):
        raise ValueError(f"invalid {what} {name!r}: names ending in "
                         f"{', '.join(_RESERVED_ENDINGS)} are the database's own")
    return name


@dataclass(frozen=True)
class HNSWConfig:
    """Sealed segments get an HNSW graph index.

    Parameters
    ----------
    M : int
        Links per node on the upper levels (``2M`` on level 0).
    ef_construction : int
        Candidate list size while building.
    ef_search : int
        Default candidate list size of searches (raised to ``k`` when smaller).
    quantized : bool
        Traverse on int8 codes and re-rank exactly.
    storage : {"fp32", "fp16", "sq8"}
        How the graph's re-rank vectors are kept (``HNSWIndex(storage=...)``).

    Examples
    --------
    >>> import warpsearch as ws
    >>> ws.HNSWConfig(M=8).to_dict()["kind"]
    'hnsw'
    """

    M: int = 16
    ef_construction: int = 200
    ef_search: int = 64
    quantized: bool = True
    storage: str = "fp32"

    def __post_init__(self):
        as_positive_int(self.M, "M")
        if not 2 <= self.M <= 256:
            raise ValueError(f"M must be in [2, 256], got {self.M}")
        as_positive_int(self.ef_construction, "ef_construction")
        as_positive_int(self.ef_search, "ef_search")
        if not isinstance(self.quantized, (bool, np.bool_)):
            raise TypeError("quantized must be a bool")
        _choice(self.storage, "storage", HNSW_STORAGE_MODES)

    def to_dict(self) -> dict:
        return {"kind": "hnsw", **asdict(self)}


@dataclass(frozen=True)
class FlatConfig:
    """Sealed segments are searched by brute force, over the vectors as stored.

    Parameters
    ----------
    storage : {"fp32", "fp16", "sq8", "sq4", "binary"}
        How sealed segments keep their vectors (``FlatIndex(storage=...)``); fp32 is
        exact search.
    refine : {"none", "sq8", "fp16", "fp32"} or None
        A copy that re-ranks the candidates of a compressed storage (``None``: fp32
        for binary, none otherwise).

    Examples
    --------
    >>> import warpsearch as ws
    >>> ws.FlatConfig(storage="sq8").to_dict()
    {'kind': 'flat', 'storage': 'sq8', 'refine': None}
    """

    storage: str = "fp32"
    refine: Optional[str] = None

    def __post_init__(self):
        _choice(self.storage, "storage", STORAGE_MODES)
        if self.refine is not None:
            _choice(self.refine, "refine", REFINE_MODES)
            if self.storage == "fp32" and self.refine != "none":
                raise ValueError(f"refine={self.refine!r} needs a compressed storage")

    def to_dict(self) -> dict:
        return {"kind": "flat", **asdict(self)}


def _choice(value, name: str, choices) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


@dataclass(frozen=True)
class IVFPQConfig:
    """Segments get an IVF-PQ index (the memory-bound choice): a coarse quantizer and
    PQ codebooks trained once per collection, on its first ``train_size`` points (or
    on ``Collection.train(sample)``), and shared by all of its segments.

    Parameters
    ----------
    nlist : int or None
        Cells of the coarse quantizer; ``None`` chooses from the training sample
        (about ``4 * sqrt(n)``, a power of two, at most one cell per 39 points).
    m : int or None
        Sub-quantizers; ``None``: ``dim / 2`` for 4-bit codes, ``dim / 4`` for 8-bit
        (rounded to a divisor of ``dim``).
    nbits : {4, 8}
        Bits per code (4: fast-scan).
    refine : {"none", "sq8", "fp16", "fp32"}
        The re-rank copy (``IVFPQIndex(refine=...)``).
    opq : bool or None
        OPQ rotation (``None``: kept when it helps, decided at training).
    nprobe, refine_factor : int
        Search defaults (overridden per search).
    train_size : int
        Points gathered before training when no explicit ``train`` call came first.

    Examples
    --------
    >>> import warpsearch as ws
    >>> ws.IVFPQConfig(nbits=4).to_dict()["kind"]
    'ivf_pq'
    """

    nlist: Optional[int] = None
    m: Optional[int] = None
    nbits: int = 4
    refine: str = "fp16"
    opq: Optional[bool] = None
    nprobe: int = 16
    refine_factor: int = 4
    train_size: int = 20_000

    def __post_init__(self):
        if self.nlist is not None:
            as_positive_int(self.nlist, "nlist")
        if self.m is not None:
            as_positive_int(self.m, "m")
        if self.nbits not in (4, 8) or isinstance(self.nbits, bool):
            raise ValueError(f"nbits must be 4 or 8, got {self.nbits!r}")
        _choice(self.refine, "refine", REFINE_MODES)
        if self.opq is not None and not isinstance(self.opq, (bool, np.bool_)):
            raise TypeError("opq must be True, False or None")
        as_positive_int(self.nprobe, "nprobe")
        as_positive_int(self.refine_factor, "refine_factor")
        as_positive_int(self.train_size, "train_size")

    def resolved(self, dim: int, n_train: int) -> dict:
        """The index parameters for ``dim`` and a training sample of ``n_train`` points."""
        nlist = self.nlist
        if nlist is None:
            target = max(1.0, 4.0 * math.sqrt(n_train))
            nlist = 1 << max(0, int(round(math.log2(target))))
            while nlist > 1 and nlist * 39 > n_train:
                nlist //= 2
        m = self.m
        if m is None:
            m = max(1, dim // (2 if self.nbits == 4 else 4))
            while dim % m:
                m -= 1
        return {"nlist": int(nlist), "m": int(m), "nbits": int(self.nbits),
                "refine": self.refine, "opq": self.opq}

    def to_dict(self) -> dict:
        return {"kind": "ivf_pq", **asdict(self)}


def index_config_from_dict(d: dict) -> Union[HNSWConfig, FlatConfig, IVFPQConfig]:
    kind = d.get("kind")
    rest = {k: v for k, v in d.items() if k != "kind"}
    if kind == "hnsw":
        return HNSWConfig(**rest)
    if kind == "flat":
        return FlatConfig(**rest)
    if kind == "ivf_pq":
        return IVFPQConfig(**rest)
    raise ValueError(f"unknown index kind {kind!r}")


class Record(NamedTuple):
    """A stored point: its id, vector (float32) and payload dict."""

    id: Union[int, str]
    vector: np.ndarray
    payload: Optional[dict]


_hit_id = property(operator.itemgetter(0), doc="The point's id.")
_hit_score = property(operator.itemgetter(1), doc="Distance or similarity (see Hit).")


class Hit(tuple):
    """One search result ``(id, score, payload)``. ``score`` is the squared L2 distance
    (metric ``"l2"``, smaller is closer) or the similarity (``"ip"``/``"cosine"``,
    larger is closer). The payload is decoded when first read, so results whose
    payloads nobody reads cost no JSON parsing.

    Examples
    --------
    >>> from warpsearch import Hit
    >>> h = Hit(7, 0.5, {"lang": "en"})
    >>> h.id, h.score, h.payload
    (7, 0.5, {'lang': 'en'})
    >>> i, s, p = h
    """

    __slots__ = ()
    _fields = ("id", "score", "payload")

    def __new__(cls, id, score, payload=None):
        return tuple.__new__(cls, (id, score, payload))

    id = _hit_id
    score = _hit_score

    @property
    def payload(self) -> Optional[dict]:
        """The payload dict (``None`` when the point has none or it was not asked for)."""
        p = tuple.__getitem__(self, 2)
        return decode_payload(p) if type(p) is bytes else p

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self)[i]
        return self.payload if i in (2, -1) else tuple.__getitem__(self, i)

    def __iter__(self):
        yield tuple.__getitem__(self, 0)
        yield tuple.__getitem__(self, 1)
        yield self.payload

    def __eq__(self, other):
        return isinstance(other, tuple) and tuple(self) == tuple(other)

    def __ne__(self, other):
        return not self == other

    __hash__ = None  # payloads are dicts

    def __reduce__(self):
        return (Hit, tuple(self))

    def _asdict(self) -> dict:
        return dict(zip(self._fields, self))

    def __repr__(self) -> str:
        return f"Hit(id={self[0]!r}, score={self[1]!r}, payload={self.payload!r})"


class FieldSpec(NamedTuple):
    """A schema entry: base type and whether values are arrays."""

    name: str
    type: str
    is_array: bool

    @property
    def spelled(self) -> str:
        return self.type + ("[]" if self.is_array else "")


def parse_schema(schema: Any) -> dict:
    """Validates ``{"field": "type"}`` and returns ``{name: FieldSpec}``."""
    if schema is None:
        return {}
    if not isinstance(schema, dict):
        raise TypeError(f"schema must be a dict of field name -> type, got {type(schema).__name__}")
    out = {}
    for name, spelled in schema.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"schema field names must be non-empty strings, got {name!r}")
        if not isinstance(spelled, str):
            raise TypeError(f"schema type of field {name!r} must be a string, got {spelled!r}")
        base = spelled[:-2] if spelled.endswith("[]") else spelled
        if base not in FIELD_TYPES:
            raise ValueError(f"field {name!r}: unknown type {spelled!r}; expected one of "
                             f"{', '.join(FIELD_TYPES)} (optionally with [] for arrays)")
        if base == "text" and spelled.endswith("[]"):
            raise ValueError(f"field {name!r}: text fields cannot be arrays")
        out[name] = FieldSpec(name, base, spelled.endswith("[]"))
    return out
