# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Collections with an embedding: texts in, vectors computed by the collection."""

from __future__ import annotations

import hashlib
import importlib.util

import numpy as np
import pytest

import warpsearch as ws

DIM = 8


def toy_embedding(texts):
    """Deterministic: each word hashes to a random unit direction; a text is the sum."""
    out = np.zeros((len(texts), DIM))
    for i, t in enumerate(texts):
        for w in t.lower().split():
            seed = int.from_bytes(hashlib.sha256(w.encode()).digest()[:8], "little")
            out[i] += np.random.default_rng(seed).standard_normal(DIM)
        out[i, 0] += 1e-3  # never a zero vector
    return out


TEXTS = ["red apple pie", "green apple", "blue sky", "deep blue sea", "red wine"]


@pytest.fixture
def db(tmp_path):
    d = ws.connect(tmp_path / "db", fsync="never")
    yield d
    d.close()


def test_texts_upsert_and_search_equal_vectors(db):
    col = db.create_collection("t", dim=DIM, metric="cosine", embedding=toy_embedding)
    col.upsert(list(range(len(TEXTS))), texts=TEXTS, payloads=[{"t": t} for t in TEXTS])
    ref = db.create_collection("v", dim=DIM, metric="cosine")
    ref.upsert(list(range(len(TEXTS))), toy_embedding(TEXTS))
    for q in ("apple", "blue", "red wine"):
        got = col.search(text=q, k=3)
        want = ref.search(toy_embedding([q])[0], k=3)
        assert [h.id for h in got] == [h.id for h in want]
        np.testing.assert_allclose([h.score for h in got], [h.score for h in want], rtol=1e-6)
    assert col.search(text="deep blue sea", k=1)[0].payload == {"t": "deep blue sea"}
    res = col.search_batch(texts=["green apple", "blue sky"], k=1)
    assert res.ids[:, 0].tolist() == [1, 2]
    np.testing.assert_allclose(col.embed("blue sky"), toy_embedding(["blue sky"]), rtol=1e-6)


def test_vectors_or_texts_exactly_one(db):
    col = db.create_collection("t", dim=DIM, embedding=toy_embedding)
    with pytest.raises(ValueError, match="either vectors or texts"):
        col.upsert([1], np.ones((1, DIM)), texts=["x"])
    with pytest.raises(ValueError, match="either vectors or texts"):
        col.upsert([1])
    with pytest.raises(ValueError, match="either vector or text"):
        col.search(np.ones(DIM), text="x")
    with pytest.raises(ValueError, match="2 vectors for 1 ids"):
        col.upsert([1], texts=["a", "b"])
    with pytest.raises(TypeError, match="must be strings"):
        col.upsert([1], texts=[3])
    assert col.count() == 0


def test_no_embedding_is_a_clear_error(db):
    col = db.create_collection("plain", dim=DIM)
    with pytest.raises(ValueError, match="has no embedding"):
        col.search(text="x")
    with pytest.raises(TypeError, match="callable"):
        db.create_collection("bad", dim=DIM, embedding=42)
    assert not db.has_collection("bad")


def test_wrong_embedding_shape_names_it(db):
    col = db.create_collection("t", dim=DIM, embedding=lambda texts: np.ones((len(texts), 3)))
    with pytest.raises(ValueError, match=r"shape \(1, 3\).*expected \(1, 8\)"):
        col.upsert(["a"], texts=["x"])
    assert col.count() == 0


def test_model_name_is_kept_callable_is_not(tmp_path):
    with ws.connect(tmp_path / "db") as db:
        db.create_collection("named", dim=DIM, embedding="example/model-name")
        db.create_collection("fn", dim=DIM, embedding=toy_embedding)
        db.get_collection("fn").upsert(["a"], texts=["red apple"])
    with ws.connect(tmp_path / "db") as db:
        assert db.get_collection("named").embedding.name == "example/model-name"
        assert db.get_collection("fn").embedding is None
        col = db.get_collection("fn", embedding=toy_embedding)
        assert col.search(text="red apple", k=1)[0].id == "a"
        col.snapshot(tmp_path / "snap")
        db.get_collection("named").snapshot(tmp_path / "snap2")
        restored = ws.restore(tmp_path / "snap2", db, "named_copy")
        assert restored.embedding.name == "example/model-name"


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is not None,
                    reason="sentence-transformers is installed here")
def test_model_name_without_sentence_transformers(db):
    col = db.create_collection("named", dim=DIM, embedding="example/model-name")
    with pytest.raises(ImportError, match="'example/model-name' needs the "
                                          "sentence-transformers package"):
        col.search(text="x")
