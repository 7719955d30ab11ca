# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The embedded database: a directory of collections, opened by one writer."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid

from .._validation import as_positive_int
from ..index._device import resolve_device
from .collection import Collection
from .embedding import as_embedding
from .config import FlatConfig, HNSWConfig, IVFPQConfig, check_name, parse_schema
from .recovery import create_collection_dir
from .storage import MANIFEST, DirLock, fsync_dir
from .wal import FSYNC_POLICIES

__all__ = ["Database", "connect"]

_METRICS = ("l2", "ip", "cosine")
_OFFLOADED = ".offloaded.json"  # <name>.offloaded.json: a collection kept as a snapshot
_ACTIVATING = ".activating"  # <name>.activating/: a restore in progress


class Database:
    """A directory holding collections. Use ``warpsearch.connect(path)``.

    Parameters
    ----------
    path : str or os.PathLike
        Created when missing.
    fsync : {"always", "interval", "never"}
        When log records are forced to disk: before each write is acknowledged
        (default), every ``fsync_interval_ms`` milliseconds, or never (the OS decides;
        a process crash loses nothing, a power loss may).
    fsync_interval_ms : int
        Period of the ``"interval"`` policy.

    Notes
    -----
    Only one ``Database`` may have a directory open at a time (an exclusive lock
    on ``<path>/LOCK``); a second one raises ``DatabaseLockedError``.
    """

    def __init__(self, path, fsync: str = "always", fsync_interval_ms: int = 100):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be str or os.PathLike, got {type(path).__name__}")
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, got {fsync!r}")
        fsync_interval_ms = as_positive_int(fsync_interval_ms, "fsync_interval_ms")
        self.path = os.path.abspath(os.fspath(path))
        os.makedirs(self.path, exist_ok=True)
        self._lockfile = DirLock(self.path)
        self._fsync = fsync
        self._interval = fsync_interval_ms
        self._root = os.path.join(self.path, "collections")
        os.makedirs(self._root, exist_ok=True)
        self._mu = threading.Lock()
        self._open: dict = {}
        self._closed = False
        for f in os.listdir(self._root):  # leftovers of interrupted create / drop / activate
            if f.endswith((".tmp", ".dropped", _ACTIVATING)):
                shutil.rmtree(os.path.join(self._root, f), ignore_errors=True)
            elif f.endswith(_OFFLOADED) and os.path.exists(
                    os.path.join(self._root, f[: -len(_OFFLOADED)], MANIFEST)):
                # an offload stopped before the local copy went, or an activation after
                # it was complete: the local collection is the one
                os.remove(os.path.join(self._root, f))

    def _check(self):
        if self._closed:
            raise ValueError("database is closed")

    def _coll_path(self, name):
        return os.path.join(self._root, check_name(name))

    def create_collection(self, name: str, dim: int, metric: str = "cosine", index=None,
                          schema=None, segment_size: int = 100_000,
                          device: str = "auto", embedding=None) -> Collection:
        """Creates a collection and returns it.

        Parameters
        ----------
        name : str
            1-64 letters, digits, ``_``, ``-``, ``.``.
        dim : int
            Vector dimension.
        metric : {"cosine", "ip", "l2"}
        index : HNSWConfig or FlatConfig, optional
            Index of sealed segments (default ``HNSWConfig()``).
        schema : dict, optional
            Filterable payload fields: ``{"name": "keyword" | "int" | "float" | "bool" |
            "datetime" | "geo" | "text"}``, ``"[]"`` suffix for arrays. Other payload
            fields are stored but cannot be filtered on.
        segment_size : int
            Rows of the mutable segment before it is sealed. The mutable segment is
            indexed as it grows (in the background), so every size is served by an
            index soon after the writes.
        device : {"auto", "cpu", "cuda", "cuda:N"}
            Where sealed segments search (``"auto"``: a GPU when there is one). The
            mutable segment always searches on the CPU, so writes never re-upload it.
        embedding : callable or str, optional
            Text to vectors, for ``upsert(ids, texts=...)`` and ``search(text=...)``: a
            callable (list of str -> ``(n, dim)`` array) or the name of a
            sentence-transformers model (loaded on first use; that package is then
            needed). A name is kept in the collection's config and used again when it
            is reopened; a callable is not kept (give it to ``get_collection``).
        """
        self._check()
        path = self._coll_path(name)
        dim = as_positive_int(dim, "dim")
        if not isinstance(metric, str) or metric.lower() not in _METRICS:
            raise ValueError(f"metric must be one of {', '.join(_METRICS)}, got {metric!r}")
        if index is None:
            index = HNSWConfig()
        if not isinstance(index, (HNSWConfig, FlatConfig, IVFPQConfig)):
            raise TypeError("index must be a HNSWConfig, FlatConfig or IVFPQConfig")
        if isinstance(index, FlatConfig) and index.storage == "binary" \
                and metric.lower() == "l2":  # else every seal would fail on it
            raise ValueError(f"collection {name!r}: storage='binary' ranks by angle (the "
                             "sign of each component) and is meant for metric 'cosine' or "
                             "'ip'; for 'l2' use 'sq8', 'sq4' or 'fp16'")
        if not isinstance(device, str):
            raise TypeError(f"device must be a str, got {type(device).__name__}")
        dev = device.strip().lower()
        if dev != "auto":
            resolve_device(dev)  # "cuda" without a GPU raises here, not at the first seal
        specs = parse_schema(schema)
        segment_size = as_positive_int(segment_size, "segment_size")
        embedding = as_embedding(embedding)
        config = {"dim": dim, "metric": metric.lower(), "index": index.to_dict(),
                  "schema": {k: v.spelled for k, v in specs.items()},
                  "segment_size": segment_size, "device": dev}
        if embedding is not None and embedding.name is not None:
            config["embedding"] = embedding.name
        with self._mu:
            if os.path.exists(path) or os.path.exists(path + _OFFLOADED):
                raise ValueError(f"collection {name!r} already exists")
            create_collection_dir(path, config, uuid.uuid4().hex)
            col = Collection(path, name, self._fsync, self._interval, embedding)
            self._open[name] = col
            return col

    def get_collection(self, name: str, embedding=None) -> Collection:
        """Opens (once) and returns an existing collection; ``KeyError`` if there is none.
        A collection offloaded to object storage is restored first (see ``offload``).

        ``embedding`` (a callable or model name, as in ``create_collection``) replaces
        the collection's embedding for this process; without it, a model name kept in
        its config is used.
        """
        self._check()
        embedding = as_embedding(embedding)
        path = self._coll_path(name)
        with self._mu:
            col = self._open.get(name)
            if col is None:
                if not os.path.exists(os.path.join(path, MANIFEST)):
                    if not os.path.exists(path + _OFFLOADED):
                        raise KeyError(f"no collection named {name!r}")
                    self._restore_offloaded(name)
                col = Collection(path, name, self._fsync, self._interval, embedding)
                self._open[name] = col
            elif embedding is not None:
                col.embedding = embedding
            return col

    def __getitem__(self, name: str) -> Collection:
        return self.get_collection(name)

    def has_collection(self, name: str) -> bool:
        self._check()
        path = self._coll_path(name)
        return os.path.exists(os.path.join(path, MANIFEST)) or os.path.exists(path + _OFFLOADED)

    def list_collections(self) -> list:
        """Names of the collections (offloaded ones included), sorted."""
        self._check()
        names = {f for f in os.listdir(self._root)
                 if os.path.exists(os.path.join(self._root, f, MANIFEST))}
        names |= {f[: -len(_OFFLOADED)] for f in os.listdir(self._root)
                  if f.endswith(_OFFLOADED)}
        return sorted(names)

    def open_collections(self) -> list:
        """The collections opened so far (and not dropped), by name; opens none."""
        self._check()
        with self._mu:
            return [self._open[k] for k in sorted(self._open)]

    def drop_collection(self, name: str) -> None:
        """Deletes a collection and its files; ``KeyError`` if there is none. For an
        offloaded collection, its record here goes; its snapshot is left in place."""
        self._check()
        path = self._coll_path(name)
        with self._mu:
            if not os.path.exists(os.path.join(path, MANIFEST)):
                if os.path.exists(path + _OFFLOADED):  # its snapshot stays where it is
                    os.remove(path + _OFFLOADED)
                    return
                raise KeyError(f"no collection named {name!r}")
            col = self._open.pop(name, None)
            if col is not None:
                col.close()
            trash = path + ".dropped"
            os.rename(path, trash)
            shutil.rmtree(trash, ignore_errors=True)

    # -- tiers: RAM, local disk, object storage ------------------------------------
    def tier(self, name: str) -> str:
        """Where collection ``name`` is: ``"ram"`` (open), ``"disk"`` (its files here,
        not loaded) or ``"object"`` (a snapshot elsewhere; see ``offload``)."""
        self._check()
        path = self._coll_path(name)
        with self._mu:
            if name in self._open:
                return "ram"
            if os.path.exists(os.path.join(path, MANIFEST)):
                return "disk"
            if os.path.exists(path + _OFFLOADED):
                return "object"
        raise KeyError(f"no collection named {name!r}")

    def offload(self, name: str, to=None, progress=None) -> dict:
        """Frees the memory of collection ``name``.

        Without ``to`` the collection is closed (checkpointed) and stays on local disk.
        With ``to`` (a directory, or an fsspec URL such as ``s3://bucket/prefix``) a
        snapshot is written there and verified, then the local files are deleted; the
        database keeps a record of where it went. Either way the next
        ``get_collection(name)`` (or ``activate``) brings it back, with the same points
        and search results. Handles to the collection taken before are closed. Returns
        ``{"name", "tier", "url", "points", "seconds"}``.
        """
        from .snapshot import _store, take_snapshot, verify_snapshot

        self._check()
        t0 = time.perf_counter()
        path = self._coll_path(name)
        with self._mu:
            if not os.path.exists(os.path.join(path, MANIFEST)):
                if os.path.exists(path + _OFFLOADED):
                    raise ValueError(f"collection {name!r} is already offloaded")
                raise KeyError(f"no collection named {name!r}")
            col = self._open.pop(name, None)
            if col is not None:
                col.close()  # no write lands after this: the snapshot below has them all
            if to is None:
                return {"name": name, "tier": "disk", "url": None, "points": None,
                        "seconds": time.perf_counter() - t0}
            url = _store(to).url()
            col = Collection(path, name, self._fsync, self._interval)
            try:
                points = col.count()
                take_snapshot(col, to, progress=progress)
            finally:
                col.close()
            verify_snapshot(to)
            record = {"name": name, "url": url, "points": points,
                      "offloaded_at": time.time()}
            tmp = path + _OFFLOADED + ".tmp"
            with open(tmp, "w") as f:
                json.dump(record, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path + _OFFLOADED)
            fsync_dir(self._root)
            trash = path + ".dropped"  # the record is durable: the local copy may go
            os.rename(path, trash)
            fsync_dir(self._root)
            shutil.rmtree(trash, ignore_errors=True)
        return {"name": name, "tier": "object", "url": url, "points": points,
                "seconds": time.perf_counter() - t0}

    def activate(self, name: str, embedding=None) -> Collection:
        """Loads collection ``name`` into memory from wherever it is (restoring an
        offloaded one from its snapshot) and returns it: ``get_collection``, by name."""
        return self.get_collection(name, embedding)

    def _restore_offloaded(self, name: str) -> None:
        """Restores an offloaded collection into its directory (``_mu`` held): into a
        side database first, whose collection directory is renamed into place only
        once it is complete."""
        from .snapshot import restore

        path = self._coll_path(name)
        with open(path + _OFFLOADED) as f:
            record = json.load(f)
        side = path + _ACTIVATING
        shutil.rmtree(side, ignore_errors=True)
        with Database(side, fsync=self._fsync, fsync_interval_ms=self._interval) as tmp:
            restore(record["url"], tmp, name)
        os.rename(tmp._coll_path(name), path)
        fsync_dir(self._root)
        os.remove(path + _OFFLOADED)
        fsync_dir(self._root)
        shutil.rmtree(side, ignore_errors=True)

    def close(self) -> None:
        """Closes every open collection (checkpointing them) and releases the lock."""
        if self._closed:
            return
        with self._mu:
            try:
                for col in self._open.values():
                    col.close()
            finally:
                self._open.clear()
                self._closed = True
                self._lockfile.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Database({self.path!r}, {state})"


def connect(path, fsync: str = "always", fsync_interval_ms: int = 100, **remote_options):
    """Opens (creating if needed) the database in directory ``path``.

    A URL (``http://host:port`` or ``https://...``) connects to a ``warpsearch serve``
    server instead and returns a ``warpsearch.remote.RemoteDatabase``, whose
    collections have the same methods and return types; ``remote_options``
    (``timeout``, ``retries``, ``api_key``, ``verify``) go to it, and ``fsync`` is the
    server's business. ``ray://HOST:PORT`` or ``ray://auto`` returns a
    ``warpsearch.cluster.ClusterDatabase`` over a running Ray cluster (the
    ``distributed`` extra); ``remote_options`` go to it.

    Examples
    --------
    >>> import warpsearch as ws
    >>> with ws.connect("example_db") as db:
    ...     _ = db.create_collection("a", dim=8)
    ...     db.list_collections()
    ['a']
    """
    if isinstance(path, str) and path.lower().startswith(("http://", "https://")):
        from ..remote import RemoteDatabase  # lazy: the client has dependencies of its own

        return RemoteDatabase(path, **remote_options)
    if isinstance(path, str) and path.lower().startswith("ray://"):
        from ..cluster import connect as cluster_connect  # lazy: needs ray

        return cluster_connect(path, fsync=fsync, **remote_options)
    if remote_options:
        raise TypeError(f"unexpected options for a local database: {sorted(remote_options)}")
    return Database(path, fsync=fsync, fsync_interval_ms=fsync_interval_ms)
