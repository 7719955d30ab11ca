# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Tenants: who owns a collection, which collections are shared, and the view of a
collection a request gets.

- A collection created with a tenant's key belongs to that tenant: other tenants
  do not see it (listing hides it, any access is a 404, creating one of the same
  name a 403). The owners are kept in ``<database>/tenancy.json``.
- A collection with no owner whose payload index marks a keyword field as the
  tenant key (Qdrant's ``{"type": "keyword", "is_tenant": true}``) is shared:
  a tenant's key reads and writes only the points whose field holds its tenant.
  Every search, query, recommend, scroll, count, retrieve and delete gets
  ``{"key": field, "match": tenant}`` added to its filter; retrieving ids of
  other tenants' points finds nothing; every upsert is stamped with the tenant
  (a point naming another tenant, or replacing another tenant's point, is a 403).
  Dropping it, changing its payload indexes and its snapshots need a key
  without a tenant (403).
- Other collections with no owner are invisible to tenant keys.
- Keys without a tenant see every collection (within the key's collection list).
"""

from __future__ import annotations

import contextvars
import json
import os
import tempfile
import threading

import numpy as np

from ..db.payload import normalize_ids
from .qdrant import ApiError
from .quotas import check_batch, check_k, quota_error

__all__ = ["Registry", "Guard", "TenantView", "current_principal", "REGISTRY_FILE"]

REGISTRY_FILE = "tenancy.json"

#: The principal of the request being served (None: a call from inside the server).
current_principal: contextvars.ContextVar = contextvars.ContextVar("warpsearch_principal",
                                                                   default=None)


def _not_found(name):
    return ApiError(404, f"Not found: Collection `{name}` doesn't exist!")


class Registry:
    """``{collection: {"owner": tenant | None, "creator": key id | None,
    "tenant_field": field | None}}``, persisted in ``path``."""

    def __init__(self, path):
        self.path = path
        self._mu = threading.Lock()
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            data = {"collections": {}}
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("collections"), dict):
            raise ValueError(f"{path}: not a tenancy file")
        self._table = data["collections"]

    def get(self, name) -> dict:
        return self._table.get(name) or {}

    def items(self) -> list:
        with self._mu:
            return list(self._table.items())

    def _save(self) -> None:
        folder = os.path.dirname(self.path)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tenancy-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"version": 1, "collections": self._table}, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def update(self, name, **fields) -> None:
        with self._mu:
            entry = dict(self._table.get(name) or {})
            entry.update(fields)
            self._table[name] = entry
            self._save()

    def forget(self, name) -> None:
        with self._mu:
            if self._table.pop(name, None) is not None:
                self._save()


def _and(cond, filt):
    if filt is None:
        return {"must": [cond]}
    if isinstance(filt, list):
        return {"must": [cond] + filt}
    return {"must": [cond, filt]}


class TenantView:
    """A collection as one request's key may use it: the tenant filter (``field``
    set: a shared collection seen by a tenant), the key's batch / k / points limits.
    Everything else passes through to the collection."""

    def __init__(self, guard, col, principal, field=None):
        self._guard, self._col, self._p = guard, col, principal
        self._field = field
        self._tenant = principal.tenant

    def __getattr__(self, attr):
        return getattr(self._col, attr)

    def __len__(self):
        return self.count()

    def _f(self, filt):
        return filt if self._field is None else _and({"key": self._field,
                                                      "match": self._tenant}, filt)

    def _mine(self, rec) -> bool:
        if self._field is None:
            return True
        v = (rec.payload or {}).get(self._field)
        return v == self._tenant or v == [self._tenant]

    # -- reads --------------------------------------------------------------------------
    def search(self, vector, k=10, filter=None, *args, **kw):
        check_k(self._p, k)
        return self._col.search(vector, k, self._f(filter), *args, **kw)

    def search_batch(self, vectors, k=10, filter=None, *args, **kw):
        check_k(self._p, k)
        check_batch(self._p, int(np.shape(vectors)[0]) if np.ndim(vectors) == 2 else 1,
                    "queries in one batch")
        return self._col.search_batch(vectors, k, self._f(filter), *args, **kw)

    def search_exact(self, vectors, k=10, filter=None, *args, **kw):
        # the recall monitor re-runs a tenant's sampled search through the same view
        check_k(self._p, k)
        return self._col.search_exact(vectors, k, self._f(filter), *args, **kw)

    def batch_target(self, k, filter):
        """``(collection, filter)`` on which a micro-batch may run this view's
        one-query search with ``filter``: this key's limits checked here (a batch the
        server coalesces is not the caller's batch), the tenant filter added, so
        searches of different tenants never share a batch."""
        check_k(self._p, k)
        return self._col, self._f(filter)

    def explain(self, vector, k=10, filter=None, *args, **kw):
        check_k(self._p, k)
        out = self._col.explain(vector, k, self._f(filter), *args, **kw)
        if self._field is not None:
            out["filter"] = filter
        return out

    def count(self, filter=None):
        return self._col.count(self._f(filter))

    def scroll(self, filter=None, *args, **kw):
        return self._col.scroll(self._f(filter), *args, **kw)

    def get(self, ids):
        recs = self._col.get(ids)
        return [r if r is not None and self._mine(r) else None for r in recs]

    def info(self):
        info = self._col.info()
        if self._field is not None:  # counts of this tenant only
            n = self.count()
            info = dict(info, points=n, rows=n, indexed_rows=n, mutable_rows=0,
                        deleted_rows=0)
        return info

    # -- writes -------------------------------------------------------------------------
    def delete(self, ids=None, *, filter=None):
        if self._field is None or (ids is None) == (filter is None):
            return self._col.delete(ids, filter=filter)
        if filter is not None:
            return self._col.delete(filter=self._f(filter))
        own = [r.id for r in self.get(ids) if r is not None]
        return self._col.delete(own) if own else 0

    def upsert(self, ids, vectors, payloads=None, **kw):
        try:
            uids = normalize_ids(ids)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"collection {self._col.name!r}: {exc}") from None
        check_batch(self._p, len(uids), "points in one upsert")
        if self._field is not None:
            payloads = self._stamp(uids, payloads)
        cap = self._p.limit("max_points")
        if cap is None:
            return self._col.upsert(ids, vectors, payloads, **kw)
        with self._guard.scope_lock(self._p.scope):
            new = sum(r is None for r in self._col.get(uids)) if uids else 0
            have = self._guard.points_of(self._p)
            if have + new > cap:
                raise quota_error("max_points", cap, self._p, have, new)
            return self._col.upsert(ids, vectors, payloads, **kw)

    def _stamp(self, uids, payloads):
        if payloads is None:
            payloads = [None] * len(uids)
        if not isinstance(payloads, (list, tuple)) or len(payloads) != len(uids):
            return payloads  # the collection says what is wrong
        out = []
        for p in payloads:
            if p is None:
                p = {}
            if not isinstance(p, dict):
                return payloads
            v = p.get(self._field, self._tenant)
            if v != self._tenant and v != [self._tenant]:
                raise ApiError(403, f"Forbidden: a point's {self._field!r} names another "
                                    "tenant; this key writes only its own tenant's points")
            out.append({**p, self._field: self._tenant})
        if uids and any(r is not None and not self._mine(r) for r in self._col.get(uids)):
            raise ApiError(403, "Forbidden: a point id belongs to another tenant")
        return out

    def create_field_index(self, *args, **kw):
        if self._field is not None:
            raise ApiError(403, "Forbidden: the payload indexes of a shared collection are "
                                "changed with a key without a tenant")
        return self._col.create_field_index(*args, **kw)


class Guard:
    """Access decisions for the request in ``current_principal``."""

    def __init__(self, db, keys, registry: Registry):
        self.db, self.keys, self.registry = db, keys, registry
        self._locks: dict = {}
        self._mu = threading.Lock()

    def scope_lock(self, scope) -> threading.Lock:
        with self._mu:
            return self._locks.setdefault(scope, threading.Lock())

    def _exists(self, name) -> bool:
        try:
            return self.db.has_collection(name)
        except ValueError:  # not a valid name
            return False

    def access(self, p, name) -> str:
        """``"full"``, ``"shared"`` (tenant filter), ``"hidden"`` (404) or ``"absent"``."""
        if p is None or p.tenant is None:
            return "full"
        e = self.registry.get(name)
        if e.get("owner") is not None:
            return "full" if e["owner"] == p.tenant else "hidden"
        if not self._exists(name):
            return "absent"
        return "shared" if e.get("tenant_field") else "hidden"

    def visible(self, name) -> bool:
        p = current_principal.get()
        if p is None:
            return True
        if p.collections is not None and name not in p.collections:
            return False
        return self.access(p, name) in ("full", "shared")

    def view(self, col):
        """``col`` as the current request may use it (called by ``Context.collection``)."""
        p = current_principal.get()
        if p is None or (p.tenant is None and not p.limits):
            return col
        how = self.access(p, col.name)
        if how == "hidden":
            raise _not_found(col.name)
        field = self.registry.get(col.name).get("tenant_field") if how == "shared" else None
        return TenantView(self, col, p, field)

    def check_batch(self, n: int, what: str) -> None:
        """400 when ``n`` passes the request key's ``max_batch``."""
        check_batch(current_principal.get(), n, what)

    # -- collection lifecycle -----------------------------------------------------------
    def before_create(self, name) -> None:
        """Refuses a create the key's ``max_collections`` does not allow."""
        p = current_principal.get()
        cap = None if p is None else p.limit("max_collections")
        if cap is not None:
            have = len(self.owned_by(p))
            if have + 1 > cap:
                raise quota_error("max_collections", cap, p, have, 1)

    def created(self, name) -> None:
        p = current_principal.get()
        self.registry.update(name, owner=None if p is None else p.tenant,
                             creator=None if p is None else p.key_id, tenant_field=None)

    def dropped(self, name) -> None:
        self.registry.forget(name)

    def field_indexed(self, name, field, schema) -> None:
        """Records (or clears) ``field`` as the tenant key of ``name`` from Qdrant's
        ``field_schema`` (``{"type": "keyword", "is_tenant": true}``)."""
        if not isinstance(schema, dict) or "is_tenant" not in schema:
            return
        self.check_field_schema(schema)
        flag = schema["is_tenant"]
        current = self.registry.get(name).get("tenant_field")
        if flag:
            self.registry.update(name, tenant_field=field)
        elif current == field:
            self.registry.update(name, tenant_field=None)

    def check_field_schema(self, schema) -> None:
        """Validates ``is_tenant`` before the index is built."""
        if not isinstance(schema, dict) or "is_tenant" not in schema:
            return
        if not isinstance(schema["is_tenant"], bool):
            raise ApiError(400, "field_schema.is_tenant must be a bool, got "
                                f"{schema['is_tenant']!r}")
        if schema["is_tenant"]:
            if schema.get("type") not in ("keyword", "uuid"):
                raise ApiError(400, "is_tenant needs a keyword (or uuid) field: "
                                    "tenants are names")

    # -- accounting ---------------------------------------------------------------------
    def owned_by(self, p) -> list:
        """Collections counted against ``p``'s scope (its tenant's, else its own)."""
        out = []
        for name, e in self.registry.items():
            mine = (e.get("owner") == p.tenant) if p.tenant is not None \
                else (e.get("owner") is None and e.get("creator") == p.key_id)
            if mine and self._exists(name):
                out.append(name)
        return out

    def _scope_collections(self, p):
        """``(collection, filter)`` of what counts against ``p``'s scope: its own
        collections (filter None) and, for a tenant, its points in the shared ones."""
        for name in self.owned_by(p):
            yield self.db.get_collection(name), None
        if p.tenant is not None:
            for name, e in self.registry.items():
                if e.get("owner") is None and e.get("tenant_field") and self._exists(name):
                    yield (self.db.get_collection(name),
                           {"key": e["tenant_field"], "match": p.tenant})

    def stored_bytes_of(self, p) -> int:
        """Bytes on disk of ``p``'s scope: its own collections' files, and its share
        (by points) of the shared collections'."""
        n = 0
        for col, flt in self._scope_collections(p):
            disk = col.memory_usage()["disk"]
            if flt is None:
                n += int(disk)
            else:
                total = col.count()
                n += int(disk * col.count(flt) / total) if total else 0
        return n

    def points_of(self, p) -> int:
        return sum(col.count(flt) for col, flt in self._scope_collections(p))
