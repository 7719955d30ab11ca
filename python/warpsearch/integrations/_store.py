# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""What the framework stores share: the connection (a path, a URL, an open
database or none), the collection created at the first write (its dimension is
that of the first vectors), metadata filters compiled to warpsearch filters, and
the payload fields those filters need, indexed on first use.

Metadata fields become filterable when a filter first names them: the field is
indexed with an array type inferred from the filter's value (a string:
``keyword[]``, a number: ``float[]``, a bool: ``bool[]``), so a field holding a
value or a list of values matches when any of them does. From then on every
point's value of that field must have that type (an upsert with another type is
a ``ValueError``); declare fields up front with ``create_field_index`` on
``store.collection`` to choose other types.
"""

from __future__ import annotations

import numbers
import os
import shutil
import tempfile
import threading

from ..db.database import Database, connect

__all__ = ["CollectionHolder", "field_type"]


def field_type(field: str, value) -> str:
    """The schema type that makes ``field`` filterable by ``value``."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"filter on {field!r}: an empty list says nothing about its type")
        value = value[0]
    if isinstance(value, bool):
        return "bool[]"
    if isinstance(value, numbers.Real):
        return "float[]"
    if isinstance(value, str):
        return "keyword[]"
    raise ValueError(f"filter on {field!r}: values must be str, int, float or bool, "
                     f"got {type(value).__name__} ({value!r})")


class CollectionHolder:
    """One collection of one database, opened or created when first needed.

    ``connection`` is ``None`` (an embedded database in a temporary directory,
    removed by ``close``), a directory path (an embedded database, created if
    missing), an ``http(s)://`` URL (a server, through ``warpsearch.connect``) or
    an open ``Database`` / ``RemoteDatabase`` (left open by ``close``).
    """

    def __init__(self, connection, name: str, metric: str, create_options=None):
        if not isinstance(name, str) or not name:
            raise TypeError(f"collection_name must be a non-empty str, got {name!r}")
        self._tmp = None
        if connection is None:
            self._tmp = tempfile.mkdtemp(prefix="warpsearch-")
            self.db, self.owned = Database(self._tmp), True
        elif isinstance(connection, (str, os.PathLike)):
            self.db, self.owned = connect(os.fspath(connection)), True
        elif hasattr(connection, "get_collection") and hasattr(connection, "create_collection"):
            self.db, self.owned = connection, False
        else:
            raise TypeError("connection must be None, a path, an http(s) URL or an open "
                            f"database, got {type(connection).__name__}")
        self.name = name
        self.metric = metric
        self.create_options = dict(create_options or {})
        self._col = None
        self._mu = threading.Lock()

    def get(self):
        """The collection, or ``None`` while it does not exist."""
        col = self._col
        if col is None:
            with self._mu:
                if self._col is None and self.db.has_collection(self.name):
                    self._col = self.db.get_collection(self.name)
                col = self._col
        return col

    def get_or_create(self, dim: int):
        """The collection, created with dimension ``dim`` when missing."""
        col = self.get()
        if col is None:
            with self._mu:
                if self._col is None:
                    if self.db.has_collection(self.name):
                        self._col = self.db.get_collection(self.name)
                    else:
                        try:
                            self._col = self.db.create_collection(
                                self.name, dim=dim, metric=self.metric,
                                **self.create_options)
                        except ValueError:  # created meanwhile by another client
                            if not self.db.has_collection(self.name):
                                raise
                            self._col = self.db.get_collection(self.name)
                col = self._col
        if col.dim != dim:
            raise ValueError(f"collection {self.name!r} holds {col.dim}-dimensional vectors; "
                             f"the embedding gave {dim}")
        return col

    def ensure_fields(self, col, fields: dict) -> None:
        """Indexes the payload fields of ``fields`` (name -> a value a filter compares
        with) that the collection's schema lacks."""
        if not fields:
            return
        schema = col.schema
        for name, value in fields.items():
            if name in schema:
                continue
            if value is None:
                raise ValueError(f"filter on {name!r}: the field is not indexed yet and the "
                                 "filter gives no value to tell its type; index it first "
                                 "(store.collection.create_field_index(name, type))")
            col.create_field_index(name, field_type(name, value))

    def drop(self) -> None:
        """Drops the collection (it is created again by the next write)."""
        with self._mu:
            self._col = None
            if self.db.has_collection(self.name):
                self.db.drop_collection(self.name)

    def close(self) -> None:
        """Closes the database if it was opened here (and removes a temporary one)."""
        with self._mu:
            self._col = None
        if self.owned:
            self.db.close()
            self.owned = False
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
