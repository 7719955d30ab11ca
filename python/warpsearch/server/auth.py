# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""API keys: a JSON file of hashed keys (default ``<database>/api_keys.json``).

A key is ``ws_<id>_<secret>``: a 12-hex-digit id, then 32 random bytes in URL-safe
base64. The file keeps the id, the SHA-256 of the whole key, the role, the tenant,
the collections the key is limited to, its quotas and when it was created; never
the key. A request's key is hashed and compared with ``hmac.compare_digest``; the
file is re-read when it changes, so ``warpsearch keys revoke`` takes effect on a
running server at its next request.

Roles: ``read`` (searches, reads), ``write`` (+ point writes, creating and deleting
collections, payload indexes), ``admin`` (+ snapshots, usage; an admin key with no
tenant may do everything, including snapshot recovery).

No web framework here, so the ``keys`` command runs without the server extra.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass, field

from .._validation import as_positive_int

__all__ = ["ROLES", "KEYS_FILE", "KeyStore", "Principal", "ANONYMOUS", "parse_rate",
           "check_tenant", "LIMIT_NAMES"]

#: Role -> rank (a route needing ``write`` accepts ``write`` and ``admin``).
ROLES = {"read": 1, "write": 2, "admin": 3}
#: The keys file's name inside the database directory.
KEYS_FILE = "api_keys.json"
#: Per-key quotas (``None``: no limit).
LIMIT_NAMES = ("rate", "max_points", "max_collections", "max_batch", "max_k")

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_ID_RE = re.compile(r"^[0-9a-f]{12}$")
_DUMMY = hashlib.sha256(b"no such key").hexdigest()
_RATE_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def check_tenant(name) -> str:
    """A tenant name: 1-64 letters, digits, ``_``, ``-``, ``.``."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"tenant must be 1-64 letters, digits, '_', '-' or '.', got {name!r}")
    return name


def parse_rate(text) -> float:
    """Requests per second of ``"N/s"``, ``"N/m"``, ``"N/h"`` (or a bare ``N``: per second).

    Examples
    --------
    >>> parse_rate("10/s"), parse_rate("120/m"), parse_rate(5)
    (10.0, 2.0, 5.0)
    """
    if isinstance(text, bool):
        raise ValueError(f"rate must be N/s, N/m or N/h, got {text!r}")
    if isinstance(text, (int, float)):
        n, unit = float(text), "s"
    elif isinstance(text, str):
        n_text, _, unit = text.strip().partition("/")
        unit = unit.strip() or "s"
        try:
            n = float(n_text)
        except ValueError:
            raise ValueError(f"rate must be N/s, N/m or N/h, got {text!r}") from None
    else:
        raise ValueError(f"rate must be N/s, N/m or N/h, got {text!r}")
    if unit not in _RATE_UNITS or not (n > 0 and n < float("inf")):
        raise ValueError(f"rate must be a positive N/s, N/m or N/h, got {text!r}")
    return n / _RATE_UNITS[unit]


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a key's rights (``key_id`` None: keyless loopback)."""

    key_id: str | None
    role: str
    tenant: str | None = None
    collections: frozenset | None = None
    limits: dict = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return ROLES[self.role]

    @property
    def scope(self) -> str:
        """What quotas and usage are counted against: the tenant, else the key."""
        return f"tenant:{self.tenant}" if self.tenant is not None else f"key:{self.key_id}"

    @property
    def is_global_admin(self) -> bool:
        return self.role == "admin" and self.tenant is None and self.collections is None

    def limit(self, name: str):
        return self.limits.get(name)


#: Keyless requests from loopback clients when no key is configured.
ANONYMOUS = Principal(key_id=None, role="admin")


def _check_record(rec, path) -> dict:
    ok = (isinstance(rec, dict) and isinstance(rec.get("id"), str) and _ID_RE.match(rec["id"])
          and isinstance(rec.get("hash"), str) and len(rec["hash"]) == 64
          and rec.get("role") in ROLES)
    if not ok:
        raise ValueError(f"{path}: malformed key record {str(rec)[:80]!r}")
    return rec


class KeyStore:
    """The keys file at ``path`` (created by the first ``create``).

    Parameters
    ----------
    path : str or os.PathLike
        The JSON file (``<database>/api_keys.json`` by default).
    """

    def __init__(self, path):
        self.path = os.path.abspath(os.fspath(path))
        self._mu = threading.Lock()
        self._stamp = None
        self._records: list = []
        self._by_id: dict = {}
        self._principals: dict = {}
        self._refresh()

    # -- reading ------------------------------------------------------------------------
    def _read(self) -> list:
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the API keys file {self.path}: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise ValueError(f"{self.path}: not an API keys file (expected {{'keys': [...]}})")
        return [_check_record(r, self.path) for r in data["keys"]]

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._mu:
            if stamp is not None and stamp == self._stamp:
                return
            if stamp is None:  # no file: no keys
                self._records, self._by_id, self._principals, self._stamp = [], {}, {}, None
                return
            try:
                records = self._read()
            except ValueError:
                if self._stamp is None:
                    raise
                return  # a file being replaced by hand: keep the keys last read
            self._records = records
            self._by_id = {r["id"]: r for r in records}
            self._principals = {r["id"]: self._principal(r) for r in records}
            self._stamp = stamp

    @staticmethod
    def _principal(rec) -> Principal:
        cols = rec.get("collections")
        return Principal(key_id=rec["id"], role=rec["role"], tenant=rec.get("tenant"),
                         collections=None if cols is None else frozenset(cols),
                         limits={k: v for k, v in (rec.get("limits") or {}).items()
                                 if v is not None})

    @property
    def has_keys(self) -> bool:
        self._refresh()
        return bool(self._records)

    def records(self) -> list:
        """The key records without their hashes (what ``keys list`` shows)."""
        self._refresh()
        return [{k: v for k, v in r.items() if k != "hash"} for r in self._records]

    def authenticate(self, key):
        """The ``Principal`` of ``key``, or None for an unknown or malformed key
        (the comparison of hashes takes the same time either way)."""
        self._refresh()
        key_id = None
        if isinstance(key, str) and key.startswith("ws_") and len(key) < 200:
            key_id = key[3:].split("_", 1)[0]
        rec = self._by_id.get(key_id)
        given = _hash(key) if isinstance(key, str) else _DUMMY
        if hmac.compare_digest(given, rec["hash"] if rec is not None else _DUMMY) \
                and rec is not None:
            return self._principals[key_id]
        return None

    # -- writing ------------------------------------------------------------------------
    def _write(self, records: list) -> None:
        folder = os.path.dirname(self.path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".api_keys-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": 1, "keys": records}, fh, indent=2, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        self._stamp = None
        self._refresh()

    def create(self, role: str, tenant=None, collections=None, **limits) -> tuple:
        """Adds a key; returns ``(record without hash, key)``. The key is not kept."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if tenant is not None:
            check_tenant(tenant)
        if collections is not None:
            collections = sorted(set(collections))
            for c in collections:
                if not isinstance(c, str) or not _NAME_RE.match(c):
                    raise ValueError(f"collection names are 1-64 letters, digits, '_', '-', "
                                     f"'.'; got {c!r}")
        unknown = set(limits) - set(LIMIT_NAMES)
        if unknown:
            raise ValueError(f"unknown limits {sorted(unknown)}")
        clean = {}
        for name in LIMIT_NAMES:
            v = limits.get(name)
            if v is None:
                continue
            if name == "rate":
                v = parse_rate(v)
            else:
                v = as_positive_int(v, name, maximum=None)
            clean[name] = v
        key_id = secrets.token_hex(6)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        key = f"ws_{key_id}_{secret}"
        rec = {"id": key_id, "hash": _hash(key), "role": role, "tenant": tenant,
               "collections": collections, "limits": clean,
               "created": datetime.datetime.now(datetime.timezone.utc)
               .isoformat(timespec="seconds")}
        self._refresh()
        self._write(self._records + [rec])
        return {k: v for k, v in rec.items() if k != "hash"}, key

    def revoke(self, key_id: str) -> None:
        """Removes key ``key_id``; ``KeyError`` if there is none."""
        self._refresh()
        if key_id not in self._by_id:
            raise KeyError(f"no API key with id {key_id!r}")
        self._write([r for r in self._records if r["id"] != key_id])
