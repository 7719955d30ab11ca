# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Snapshot archives: one file, ``<collection>-<time>.snapshot``, a tar archive of
the database's snapshot directory (``Collection.snapshot``) under ``snapshot/``,
with its SHA-256 beside it (``.sha256``). No web framework needed (the native
client extracts downloads with it)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import tarfile
import tempfile

from .qdrant import ApiError

__all__ = ["make_archive", "describe", "extract_archive", "sha256", "NAME_RE"]

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+\.snapshot$")
_INNER = "snapshot"


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_archive(col, directory: str) -> str:
    """Snapshots ``col`` into a new archive in ``directory``; returns its path."""
    os.makedirs(directory, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S-%f")
    final = os.path.join(directory, f"{col.name}-{stamp}.snapshot")
    work = tempfile.mkdtemp(prefix=".snap-", dir=directory)
    try:
        col.snapshot(os.path.join(work, _INNER))
        tmp = os.path.join(work, "archive.tar")
        with tarfile.open(tmp, "w") as tar:
            tar.add(os.path.join(work, _INNER), arcname=_INNER)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        digest = sha256(tmp)
        with open(final + ".sha256", "w") as f:
            f.write(digest)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def describe(path: str) -> dict:
    st = os.stat(path)
    try:
        with open(path + ".sha256") as f:
            checksum = f.read().strip()
    except FileNotFoundError:
        checksum = None
    when = dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc).replace(tzinfo=None)
    return {"name": os.path.basename(path), "creation_time": when.isoformat(timespec="seconds"),
            "size": st.st_size, "checksum": checksum}


def extract_archive(archive: str, into: str) -> str:
    """Extracts a snapshot archive (plain files and folders under ``snapshot/`` only);
    returns the snapshot directory."""
    try:
        with tarfile.open(archive, "r") as tar:
            for m in tar.getmembers():
                parts = m.name.split("/")
                if m.name.startswith("/") or ".." in parts or parts[0] != _INNER \
                        or not (m.isfile() or m.isdir()):
                    raise ApiError(400, f"not a snapshot archive: unexpected entry {m.name!r}")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, filter="data")
            else:
                tar.extractall(into)
    except tarfile.TarError as exc:
        raise ApiError(400, f"not a snapshot archive: {exc}") from None
    return os.path.join(into, _INNER)


