# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Every input rule, once: a bad input becomes a clear ``TypeError`` (wrong type)
or ``ValueError`` (right type, bad value) naming the parameter, before anything
reaches the engine. The indexes, the database and the command line use these."""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

__all__ = [
    "as_matrix",
    "as_ids",
    "as_int",
    "as_positive_int",
    "as_nonnegative_int",
    "as_timeout",
    "as_filter",
    "as_path",
    "METRICS",
]

METRICS = ("l2", "ip", "cosine")


def check_choice(value, name: str, choices) -> str:
    """Returns ``value`` lower-cased when it is one of ``choices`` (a str option)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    v = value.lower()
    if v not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(choices)}")
    return v


def check_metric(metric) -> str:
    return check_choice(metric, "metric", METRICS)


INT32_MAX = 2**31 - 1


def as_int(value, name: str, minimum: int | None = None, maximum: int | None = INT32_MAX) -> int:
    """``value`` as an int: ``TypeError`` unless it is an integer (bools and floats are
    not), ``ValueError`` outside ``[minimum, maximum]`` (``None``: unbounded)."""
    if type(value) is not int:  # the common case skips the abstract-class checks
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
        value = int(value)
    if minimum is not None and value < minimum:
        if minimum == 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
        if minimum == 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value}")
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} is too large: {value} (at most {maximum})")
    return value


def as_positive_int(value, name: str, maximum: int | None = INT32_MAX) -> int:
    """An integer ``>= 1`` (``TypeError`` for a non-integer, ``ValueError`` otherwise)."""
    return as_int(value, name, 1, maximum)


def as_nonnegative_int(value, name: str, maximum: int | None = INT32_MAX) -> int:
    """An integer ``>= 0`` (``TypeError`` for a non-integer, ``ValueError`` otherwise)."""
    return as_int(value, name, 0, maximum)


def as_timeout(value, name: str = "timeout") -> float | None:
    """Seconds a call may take: ``None`` (no limit) or a positive real number
    (``TypeError`` for a non-number, bools included; ``ValueError`` for zero, a negative
    number or NaN). ``inf`` means no limit and is returned as ``None``."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds or None, got {type(value).__name__}")
    t = float(value)
    if not t > 0:  # NaN fails too
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return None if math.isinf(t) else t


def check_sq_bits(sq_bits) -> int:
    """HNSW code width: 4 or 8, or None (chosen from the data), returned as 0."""
    if sq_bits is None:
        return 0
    if isinstance(sq_bits, (bool, np.bool_)) or not isinstance(sq_bits, numbers.Integral):
        raise TypeError(f"sq_bits must be 4, 8 or None, got {sq_bits!r}")
    if sq_bits not in (4, 8):
        raise ValueError(f"sq_bits must be 4, 8 or None, got {sq_bits}")
    return int(sq_bits)


def _numeric_array(x, name: str) -> np.ndarray:
    if hasattr(x, "__cuda_array_interface__") and not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: device arrays need a CUDA build of warpsearch with a GPU; "
                        "pass a NumPy array")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    if arr.dtype.kind not in "fiu":  # floats and (unsigned) integers; not bool
        raise TypeError(f"{name} must have a numeric dtype (float32, float16, uint8, ...), "
                        f"got {arr.dtype}")
    return arr


def as_matrix(x, dim: int, name: str = "vectors", allow_empty: bool = True) -> np.ndarray:
    """Returns a C-contiguous float32 (n, dim) array; a 1-D input is one row."""
    arr = _numeric_array(x, name)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[1] != dim:
        raise ValueError(f"{name} have dimension {arr.shape[1]}, expected dim={dim}")
    if arr.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty")
    if arr.dtype == np.float32:
        out = np.ascontiguousarray(arr)
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # out-of-range: reported below
            out = np.ascontiguousarray(arr, dtype=np.float32)
    if out.size and not np.isfinite(out).all():
        bad = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(f"{name} contain NaN or inf (first at row {bad[0]}, column {bad[1]}; "
                         "float64 values beyond float32 range count as inf)")
    return out


def as_ids(ids, n: int | None, name: str = "ids", unique: bool = True,
           allow_negative: bool = False) -> np.ndarray:
    """Returns a C-contiguous int64 1-D array of ids.

    Ids of new vectors are ``>= 0`` (``-1`` pads short result rows, so a stored -1
    could not be told from a missing result); ``allow_negative`` is for ids that are
    only looked up (remove, ``in``, filters), where a negative id just matches nothing.
    """
    if isinstance(ids, numbers.Integral) and not isinstance(ids, (bool, np.bool_)):
        ids = [ids]
    try:
        arr = np.asarray(ids)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be integers: {exc}") from None
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries for {n} vectors")
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} must fit in int64")
    out = np.ascontiguousarray(arr, dtype=np.int64)
    if not allow_negative and out.size and out.min() < 0:
        bad = int(out[np.argmax(out < 0)])
        raise ValueError(f"{name} must be >= 0, got {bad}"
                         + (" (-1 is the id of missing results)" if bad == -1 else ""))
    if unique and out.size > 1:
        s = np.sort(out)
        dup = s[1:][s[1:] == s[:-1]]
        if dup.size:
            raise ValueError(f"duplicate id {int(dup[0])} in {name}")
    return out


def as_filter(filter):
    """Returns (allow_ids, mask) with exactly one set, or (None, None)."""
    if filter is None:
        return None, None
    if callable(filter) and not isinstance(filter, np.ndarray):
        raise TypeError("filter must be a boolean mask over ids or an array of allowed ids, "
                        "not a callable")
    arr = np.asarray(filter)
    if arr.dtype == np.bool_:
        if arr.ndim != 1:
            raise ValueError(f"filter mask must be 1-D, got shape {arr.shape}")
        # a bool is one byte of 0 or 1: a contiguous mask is read in place, not copied
        return None, np.ascontiguousarray(arr).view(np.uint8)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64), None
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"filter must be a boolean mask or integer ids, got dtype {arr.dtype}")
    return as_ids(arr, None, name="filter ids", unique=False, allow_negative=True), None


def as_path(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)
