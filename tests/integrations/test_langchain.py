# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The LangChain vector store: LangChain's standard suite (sync and async) against an
embedded and a served database, then filters, scores, MMR, retrievers and ids."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

pytest.importorskip("langchain_core", reason="needs the langchain extra")
pytest.importorskip("langchain_tests", reason="needs langchain-tests (the test extra)")

from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings  # noqa: E402
from langchain_tests.integration_tests import VectorStoreIntegrationTests  # noqa: E402

import warpsearch as ws  # noqa: E402
from warpsearch.integrations.langchain import (  # noqa: E402
    WarpsearchVectorStore,
    translate_filter,
)

_names = itertools.count()
# The suite's async tests are plain coroutines: anyio's pytest plugin (anyio comes with
# httpx) runs them on asyncio; the mark leaves the sync tests alone.
pytestmark = pytest.mark.anyio


class TestEmbeddedStandard(VectorStoreIntegrationTests):
    """LangChain's own suite on an embedded database (a fresh directory per test)."""

    @pytest.fixture
    def vectorstore(self, tmp_path):
        store = WarpsearchVectorStore(self.get_embeddings(), str(tmp_path / "db"))
        try:
            yield store
        finally:
            store.close()


class TestServedStandard(VectorStoreIntegrationTests):
    """The same suite through ``ws.connect("http://...")`` on a real server."""

    @pytest.fixture
    def vectorstore(self, served):
        name = f"lc_{next(_names)}"
        store = WarpsearchVectorStore(self.get_embeddings(), served.url, name)
        assert isinstance(store.database, ws.remote.RemoteDatabase)
        try:
            yield store
        finally:
            store.delete()  # drops the collection
            store.close()
            assert not served.db.has_collection(name)


class AxisEmbedding(Embeddings):
    """Texts naming axes ("x", "y", "x y") map to those axes of a 4-D space."""

    AXES = {"x": 0, "y": 1, "z": 2, "w": 3}

    def _one(self, text):
        v = np.full(4, 1e-3)
        for word in text.split():
            v[self.AXES[word]] += 1.0
        return v.tolist()

    def embed_documents(self, texts):
        return [self._one(t) for t in texts]

    def embed_query(self, text):
        return self._one(text)


DOCS = [Document(page_content="x", metadata={"lang": "en", "year": 2019, "tags": ["a", "b"]}),
        Document(page_content="x y", metadata={"lang": "fr", "year": 2021, "tags": ["b"]}),
        Document(page_content="y", metadata={"lang": "en", "year": 2023, "draft": True}),
        Document(page_content="z", metadata={"lang": "de", "year": 2024}),
        Document(page_content="x z", metadata={"lang": "en"})]


@pytest.fixture
def store(tmp_path):
    s = WarpsearchVectorStore(AxisEmbedding(), tmp_path / "db", "docs")
    s.add_documents(DOCS, ids=[f"d{i}" for i in range(len(DOCS))])
    yield s
    s.close()


def _ids(docs):
    return [d.id for d in docs]


@pytest.mark.parametrize("flt, want", [
    ({"lang": "en"}, ["d0", "d2", "d4"]),
    ({"lang": "en", "year": {"$gte": 2020}}, ["d2"]),
    ({"year": {"$gt": 2019, "$lte": 2023}}, ["d1", "d2"]),
    ({"lang": {"$in": ["fr", "de"]}}, ["d1", "d3"]),
    ({"lang": {"$nin": ["en"]}}, ["d1", "d3"]),
    ({"lang": {"$ne": "en"}}, ["d1", "d3"]),
    ({"$or": [{"lang": "de"}, {"year": {"$lt": 2020}}]}, ["d0", "d3"]),
    ({"$and": [{"lang": "en"}, {"$not": {"year": 2019}}]}, ["d2", "d4"]),
    ({"tags": "b"}, ["d0", "d1"]),
    ({"tags": ["a", "c"]}, ["d0"]),
    ({"draft": True}, ["d2"]),
    ({"$or": [{"year": {"$lt": 2020}}, {"year": {"$exists": False}}]}, ["d0", "d4"]),
    ({"year": {"$exists": True, "$gte": 2021}, "lang": {"$ne": "de"}}, ["d1", "d2"]),
])
def test_metadata_filters_match_a_python_reference(store, flt, want):
    got = store.similarity_search("x", k=10, filter=flt)
    assert sorted(_ids(got)) == want
    # every document that passes, none that does not
    assert all(d.metadata == DOCS[int(d.id[1:])].metadata for d in got)


def test_filter_translation_and_errors(store):
    assert translate_filter({"a": 1}) == ({"key": "a", "match": 1}, {"a": 1})
    with pytest.raises(ValueError, match=r"unknown filter operator '\$nor'"):
        translate_filter({"$nor": [{"a": 1}]})
    with pytest.raises(ValueError, match=r"unknown operator '\$like'"):
        translate_filter({"a": {"$like": "x%"}})
    with pytest.raises(ValueError, match="non-empty list"):
        translate_filter({"a": {"$in": []}})
    with pytest.raises(ValueError, match="not indexed yet"):
        store.similarity_search("x", filter={"never_seen": {"$exists": True}})
    with pytest.raises(ValueError, match="not both"):
        store.similarity_search("x", filter={"lang": "en"}, ws_filter={"lang": "en"})
    # a native filter passes through as it is (on fields the schema has)
    store.collection.create_field_index("lang", "keyword")
    assert _ids(store.similarity_search("x", k=10, ws_filter={
        "must": [{"key": "lang", "match": "en"}]})) == ["d0", "d4", "d2"]


def test_scores_relevance_and_order(store):
    pairs = store.similarity_search_with_score("x", k=3)
    assert [d.id for d, _ in pairs] == ["d0", "d1", "d4"]
    assert pairs[0][1] == pytest.approx(1.0, abs=1e-5)  # cosine similarity
    assert pairs[1][1] == pytest.approx(1 / np.sqrt(2), abs=1e-2)
    rel = store.similarity_search_with_relevance_scores("x", k=2)
    assert rel[0][1] == pytest.approx(1.0, abs=1e-5) and 0 < rel[1][1] < 1
    assert _ids(store.similarity_search_by_vector([0, 1, 0, 0], k=1)) == ["d2"]


def test_max_marginal_relevance_prefers_diversity(store):
    plain = _ids(store.similarity_search("x", k=2))
    assert plain == ["d0", "d1"]
    mmr = _ids(store.max_marginal_relevance_search("x", k=2, fetch_k=5, lambda_mult=0.3))
    assert mmr[0] == "d0" and mmr[1] != "d1" and mmr[1] in {"d2", "d3", "d4"}
    only_relevance = store.max_marginal_relevance_search("x", k=2, fetch_k=5, lambda_mult=1.0)
    assert _ids(only_relevance) == plain
    assert _ids(store.max_marginal_relevance_search("x", k=3, filter={"lang": "en"})) \
        [0] == "d0"


def test_async_variants(store):
    async def run():
        docs = await store.asimilarity_search("y", k=1)
        pairs = await store.asimilarity_search_with_score("y", k=1, filter={"lang": "fr"})
        mmr = await store.amax_marginal_relevance_search("x", k=1)
        ids = await store.aadd_texts(["w"], [{"lang": "xx"}], ids=["new"])
        got = await store.aget_by_ids(["new", "nope"])
        await store.adelete(["new"])
        return docs, pairs, mmr, ids, got, await store.aget_by_ids(["new"])

    docs, pairs, mmr, ids, got, after = asyncio.run(run())
    assert _ids(docs) == ["d2"] and [d.id for d, _ in pairs] == ["d1"]
    assert _ids(mmr) == ["d0"] and ids == ["new"]
    assert got == [Document(id="new", page_content="w", metadata={"lang": "xx"})]
    assert after == []


def test_retriever_and_from_texts(tmp_path):
    store = WarpsearchVectorStore.from_texts(["x", "y", "z"], AxisEmbedding(),
                                             [{"n": 1}, {"n": 2}, {"n": 3}],
                                             ids=["a", "b", "c"], connection=tmp_path / "db")
    try:
        retriever = store.as_retriever(search_kwargs={"k": 1, "filter": {"n": {"$gte": 2}}})
        assert _ids(retriever.invoke("x y")) == ["b"]
        mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 2})
        assert len(mmr.invoke("z")) == 2
        # the points are warpsearch points: metadata and text are the payload
        rec = store.collection.get(["b"])[0]
        assert rec.payload == {"n": 2, "page_content": "y"}
    finally:
        store.close()
    with ws.connect(tmp_path / "db") as db:  # persisted, reopened as a plain collection
        assert db.get_collection("langchain").count() == 3


def test_ids_and_deletes(store):
    assert store.collection.count() == 5
    store.delete(filter={"lang": "en"})
    assert sorted(_ids(store.get_by_ids([f"d{i}" for i in range(5)]))) == ["d1", "d3"]
    store.delete(["d1", "missing"])
    assert _ids(store.get_by_ids(["d3", "d1"])) == ["d3"]
    store.delete()
    assert store.collection is None and store.similarity_search("x") == []
    assert store.add_texts(["x"]) and store.collection.count() == 1  # created again
    with pytest.raises(TypeError, match="non-empty strings"):
        store.add_texts(["x"], ids=[5])
    with pytest.raises(ValueError, match="where the text is kept"):
        store.add_texts(["x"], [{"page_content": "clash"}])


def test_temporary_database_is_removed():
    store = WarpsearchVectorStore(DeterministicFakeEmbedding(size=6))
    store.add_texts(["a", "b"])
    path = store.database.path
    assert store.collection.dim == 6
    store.close()
    import os
    assert not os.path.exists(path)


def test_an_open_database_is_left_open(tmp_path):
    db = ws.connect(tmp_path / "db")
    store = WarpsearchVectorStore(AxisEmbedding(), db, "mine", metric="l2")
    store.add_texts(["x"], ids=["1"])
    store.close()
    col = db.get_collection("mine")
    assert col.metric == "l2" and col.get(["1"])[0].payload == {"page_content": "x"}
    db.close()
    with pytest.raises(TypeError, match="connection must be"):
        WarpsearchVectorStore(AxisEmbedding(), 42)
