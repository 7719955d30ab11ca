# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Tiered collections: offloaded to local disk or to object storage (a directory or
an fsspec URL) and activated on demand with the same points and search results; an
offload or activation cut short loses nothing."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import warpsearch as ws

RNG = np.random.default_rng(9)
X = RNG.standard_normal((3000, 16)).astype(np.float32)
Q = RNG.standard_normal((20, 16)).astype(np.float32)


def _fill(db, name="docs"):
    col = db.create_collection(name, dim=16, metric="l2", segment_size=1000,
                               schema={"lang": "keyword"})
    col.upsert(list(range(3000)), X, [{"lang": ("en", "fr")[i % 2], "i": i}
                                      for i in range(3000)])
    col.delete([5, 6, 7])
    col.flush()
    return col


def _answers(col):
    res = col.search_batch(Q, k=10, filter={"lang": "fr"})
    recs = [None if r is None else (r.id, r.vector.tolist(), r.payload)
            for r in col.get([1, 5, 2999])]
    return res.ids.tolist(), np.round(res.scores, 5).tolist(), col.count(), recs


@pytest.mark.parametrize("target", ["dir", "memory"])
def test_offload_to_object_storage_and_activate_round_trip(tmp_path, target):
    if target == "memory":
        pytest.importorskip("fsspec")
    to = str(tmp_path / "cold" / "docs") if target == "dir" else "memory://cold/docs-tiers"
    db = ws.connect(tmp_path / "db")
    before = _answers(_fill(db))
    out = db.offload("docs", to=to)
    assert out["tier"] == "object" and out["points"] == 2997
    assert db.tier("docs") == "object" and db.list_collections() == ["docs"]
    assert db.has_collection("docs")
    assert not os.path.exists(tmp_path / "db" / "collections" / "docs")  # RAM and disk freed
    with pytest.raises(ValueError, match="already offloaded"):
        db.offload("docs", to=to)
    with pytest.raises(ValueError, match="already exists"):
        db.create_collection("docs", dim=4)
    db.close()
    db = ws.connect(tmp_path / "db")  # the record survives a restart
    assert db.tier("docs") == "object"
    col = db.get_collection("docs")  # activated on first use
    assert db.tier("docs") == "ram"
    assert _answers(col) == before
    col.upsert([5000], X[:1])  # writable again, and durable
    db.close()
    db = ws.connect(tmp_path / "db")
    assert db.tier("docs") == "disk" and db.get_collection("docs").count() == 2998
    db.close()


def test_offload_to_disk_frees_ram_and_reopens(tmp_path):
    db = ws.connect(tmp_path / "db")
    col = _fill(db)
    before = _answers(col)
    assert db.tier("docs") == "ram"
    assert db.offload("docs")["tier"] == "disk"
    assert db.tier("docs") == "disk" and db.open_collections() == []
    with pytest.raises(ValueError, match="closed"):
        col.search(Q[0])  # handles taken before are closed
    assert _answers(db.activate("docs")) == before
    with pytest.raises(KeyError):
        db.offload("nope")
    with pytest.raises(KeyError):
        db.tier("nope")
    db.close()


def test_drop_of_an_offloaded_collection_keeps_its_snapshot(tmp_path):
    db = ws.connect(tmp_path / "db")
    _fill(db)
    db.offload("docs", to=str(tmp_path / "cold"))
    db.drop_collection("docs")
    assert db.list_collections() == [] and not db.has_collection("docs")
    assert ws.verify_snapshot(str(tmp_path / "cold"))
    again = ws.restore(str(tmp_path / "cold"), db, "back")
    assert again.count() == 2997
    db.close()


def test_interrupted_offload_or_activation_loses_nothing(tmp_path):
    db = ws.connect(tmp_path / "db")
    before = _answers(_fill(db))
    db.close()
    root = tmp_path / "db" / "collections"
    # an offload that wrote its record but died before deleting the local copy
    (root / "docs.offloaded.json").write_text(json.dumps({"name": "docs", "url": "gone"}))
    # an activation that died half way
    (root / "docs.activating").mkdir()
    (root / "docs.activating" / "junk").write_text("x")
    db = ws.connect(tmp_path / "db")
    assert sorted(os.listdir(root)) == ["docs"]
    assert db.tier("docs") == "disk" and _answers(db.get_collection("docs")) == before
    db.offload("docs", to=str(tmp_path / "cold"))
    db.close()
    (root / "docs.activating").mkdir()  # a restore cut short: the record still rules
    db = ws.connect(tmp_path / "db")
    assert db.tier("docs") == "object" and _answers(db.get_collection("docs")) == before
    db.close()


def test_reserved_names_are_refused(tmp_path):
    db = ws.connect(tmp_path / "db")
    for bad in ("a.dropped", "a.activating", "a.tmp", "a.offloaded.json"):
        with pytest.raises(ValueError, match="database's own|invalid"):
            db.create_collection(bad, dim=4)
    db.close()
