# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""File helpers: atomic replace, directory fsync, checksums, the writer lock and
the collection manifest."""

from __future__ import annotations

import errno
import json
import os
import zlib

from .._core import CorruptionError

__all__ = ["CorruptionError", "DatabaseLockedError", "atomic_write", "fsync_dir", "file_crc32",
           "DirLock", "write_manifest", "read_manifest", "MANIFEST"]

MANIFEST = "MANIFEST.json"


# CorruptionError (a ValueError): a stored file failed its checksum or could not be
# parsed; it is never served. One type with the engine's: a damaged index file raises it
# too, also from the first search of a memory-mapped index.
class DatabaseLockedError(RuntimeError):
    """Another process (or connection) holds the database's writer lock."""


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, durable: bool = True) -> None:
    """Writes ``data`` to ``path`` via a temporary file, fsync, rename, fsync of the directory."""
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if durable:
        fsync_dir(os.path.dirname(os.path.abspath(path)))


def file_crc32(path: str, chunk: int = 1 << 22) -> int:
    crc = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                return crc
            crc = zlib.crc32(b, crc)


class DirLock:
    """An exclusive ``flock`` on ``<dir>/LOCK`` held while a database is open.

    ``flock`` locks belong to an open file, so a second connection in the same
    process is refused as well as one in another process.
    """

    def __init__(self, directory: str):
        import fcntl

        self.path = os.path.join(directory, "LOCK")
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._fd)
            self._fd = None
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise DatabaseLockedError(
                    f"database {directory!r} is already open for writing by another process "
                    "or connection (one writer at a time); close it first") from None
            raise
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _manifest_body_crc(body: dict) -> int:
    return zlib.crc32(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def write_manifest(directory: str, body: dict, durable: bool = True) -> None:
    doc = {"body": body, "crc32": _manifest_body_crc(body)}
    atomic_write(os.path.join(directory, MANIFEST),
                 json.dumps(doc, indent=1, sort_keys=True).encode(), durable)


def read_manifest(directory: str) -> dict:
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
        body = doc["body"]
        ok = doc["crc32"] == _manifest_body_crc(body)
    except FileNotFoundError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptionError(f"manifest {path!r} cannot be parsed: {exc}") from None
    if not ok:
        raise CorruptionError(f"manifest {path!r} failed its checksum")
    return body
