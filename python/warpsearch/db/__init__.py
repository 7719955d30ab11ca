# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Embedded vector database: collections of points (id, vector, payload) with
typed payload filters, a write-ahead log, background-indexed segments,
compaction and snapshots. Built on ``warpsearch.index``."""

from __future__ import annotations

from .collection import Collection
from .config import FlatConfig, Hit, HNSWConfig, IVFPQConfig, Record
from .query import BatchResults
from .database import Database, connect
from .ingest import ingest
from .snapshot import restore, verify_snapshot
from .storage import CorruptionError, DatabaseLockedError

__all__ = ["connect", "Database", "Collection", "HNSWConfig", "FlatConfig", "IVFPQConfig",
           "Record", "Hit", "BatchResults",
           "CorruptionError", "DatabaseLockedError", "ingest", "restore", "verify_snapshot"]
