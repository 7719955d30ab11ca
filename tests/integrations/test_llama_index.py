# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The LlamaIndex vector store, through LlamaIndex's own abstractions (a
VectorStoreIndex and its retriever) with a tiny deterministic embedding, embedded
and served; then filters, deletes, node ids, MMR and async."""

from __future__ import annotations

import asyncio
import hashlib
import itertools

import numpy as np
import pytest

pytest.importorskip("llama_index.core", reason="needs the llama-index extra")

from llama_index.core import Document, StorageContext, VectorStoreIndex  # noqa: E402
from llama_index.core.base.embeddings.base import BaseEmbedding  # noqa: E402
from llama_index.core.schema import TextNode  # noqa: E402
from llama_index.core.vector_stores import (  # noqa: E402
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

import warpsearch as ws  # noqa: E402
from warpsearch.integrations.llama_index import WarpsearchVectorStore  # noqa: E402

DIM = 16
_names = itertools.count()


def _word_vector(word):
    seed = int.from_bytes(hashlib.sha256(word.lower().encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(DIM)


class WordEmbedding(BaseEmbedding):
    """Deterministic, no downloads: a text is the sum of its words' random directions."""

    def _vec(self, text):
        v = sum((_word_vector(w) for w in text.split()), np.zeros(DIM))
        v[0] += 1e-3
        return v.tolist()

    def _get_query_embedding(self, query):
        return self._vec(query)

    def _get_text_embedding(self, text):
        return self._vec(text)

    async def _aget_query_embedding(self, query):
        return self._vec(query)


CORPUS = {
    "fruit": ("apples pears plums", {"topic": "food", "year": 2020}),
    "space": ("rockets orbit moon", {"topic": "science", "year": 2022}),
    "sea": ("whales coral reef", {"topic": "science", "year": 2018}),
}


def _index(store):
    docs = [Document(text=t, metadata=m, doc_id=d) for d, (t, m) in CORPUS.items()]
    ctx = StorageContext.from_defaults(vector_store=store)
    return VectorStoreIndex.from_documents(docs, storage_context=ctx,
                                           embed_model=WordEmbedding())


@pytest.fixture(params=["embedded", "served"])
def store(request, tmp_path):
    if request.param == "embedded":
        s = WarpsearchVectorStore(tmp_path / "db", "li")
        yield s
        s.close()
        return
    served = request.getfixturevalue("served")
    name = f"li_{next(_names)}"
    s = WarpsearchVectorStore(served.url, name)
    assert isinstance(s.client, ws.remote.RemoteDatabase)
    yield s
    s.clear()
    s.close()


def test_index_retrieval_round_trip(store):
    index = _index(store)
    retriever = index.as_retriever(similarity_top_k=1)
    for doc_id, (text, meta) in CORPUS.items():
        (hit,) = retriever.retrieve(text.split()[1])  # one word of the document
        assert hit.node.ref_doc_id == doc_id
        assert hit.node.get_content() == text and hit.node.metadata == meta
        assert 0 < hit.score <= 1
    assert store.collection.count() == 3


def test_filters_through_the_retriever(store):
    index = _index(store)
    science = MetadataFilters(filters=[MetadataFilter(key="topic", value="science")])
    got = index.as_retriever(similarity_top_k=3, filters=science).retrieve("apples")
    assert sorted(h.node.ref_doc_id for h in got) == ["sea", "space"]
    recent = MetadataFilters(filters=[
        MetadataFilter(key="year", value=2019, operator=FilterOperator.GT),
        MetadataFilter(key="topic", value=["food"], operator=FilterOperator.NIN)])
    got = index.as_retriever(similarity_top_k=3, filters=recent).retrieve("orbit")
    assert [h.node.ref_doc_id for h in got] == ["space"]
    either = MetadataFilters(condition=FilterCondition.OR, filters=[
        MetadataFilter(key="year", value=2018, operator=FilterOperator.LTE),
        MetadataFilter(key="topic", value="food")])
    got = index.as_retriever(similarity_top_k=3, filters=either).retrieve("moon")
    assert sorted(h.node.ref_doc_id for h in got) == ["fruit", "sea"]
    not_science = MetadataFilters(condition=FilterCondition.NOT, filters=[
        MetadataFilter(key="topic", value="science")])
    got = index.as_retriever(similarity_top_k=3, filters=not_science).retrieve("moon")
    assert [h.node.ref_doc_id for h in got] == ["fruit"]
    with pytest.raises(ValueError, match="not supported"):
        index.as_retriever(filters=MetadataFilters(filters=[MetadataFilter(
            key="topic", value="x", operator=FilterOperator.TEXT_MATCH)])).retrieve("x")


def test_delete_by_ref_doc_id(store):
    index = _index(store)
    index.delete_ref_doc("space")
    assert store.collection.count() == 2
    hits = index.as_retriever(similarity_top_k=3).retrieve("rockets")
    assert sorted(h.node.ref_doc_id for h in hits) == ["fruit", "sea"]
    store.delete("never-there")
    assert store.collection.count() == 2


def _nodes():
    out = []
    for i, (x, tag) in enumerate([([1, 0, 0], "a"), ([0.9, 0.1, 0], "a"), ([0, 1, 0], "b"),
                                  ([0, 0, 1], "b")]):
        out.append(TextNode(id_=f"n{i}", text=f"node {i}", embedding=x, metadata={"tag": tag}))
    return out


def test_nodes_ids_mmr_and_deletes(store):
    store.add(_nodes())
    q = VectorStoreQuery(query_embedding=[1, 0, 0], similarity_top_k=2)
    res = store.query(q)
    assert res.ids == ["n0", "n1"] and res.similarities[0] == pytest.approx(1.0, abs=1e-5)
    among = store.query(VectorStoreQuery(query_embedding=[1, 0, 0], similarity_top_k=2,
                                         node_ids=["n2", "n3", "n1", "zz"]))
    assert among.ids == ["n1", "n2"]
    mmr = store.query(VectorStoreQuery(query_embedding=[1, 0, 0], similarity_top_k=2,
                                       mode="mmr", mmr_threshold=0.2))
    assert mmr.ids[0] == "n0" and mmr.ids[1] != "n1"
    tag_b = MetadataFilters(filters=[MetadataFilter(key="tag", value="b")])
    assert sorted(n.node_id for n in store.get_nodes(filters=tag_b)) == ["n2", "n3"]
    assert [n.node_id for n in store.get_nodes(["n3", "n0", "zz"])] == ["n3", "n0"]
    assert [n.node_id for n in store.get_nodes(["n3", "n0"], filters=tag_b)] == ["n3"]
    store.delete_nodes(["n0", "n2"], filters=tag_b)  # only n2 is both
    assert sorted(n.node_id for n in store.get_nodes(["n0", "n1", "n2", "n3"])) == \
        ["n0", "n1", "n3"]
    store.delete_nodes(filters=tag_b)
    assert store.collection.count() == 2
    with pytest.raises(ValueError, match="node_ids or filters"):
        store.delete_nodes()
    store.clear()
    assert store.collection is None and store.query(q).ids == []


def test_async_variants(store):
    async def run():
        await store.async_add(_nodes())
        res = await store.aquery(VectorStoreQuery(query_embedding=[0, 1, 0],
                                                  similarity_top_k=1))
        await store.adelete_nodes(["n2"])
        got = await store.aget_nodes(["n2", "n3"])
        await store.aclear()
        return res, got

    res, got = asyncio.run(run())
    assert res.ids == ["n2"] and [n.node_id for n in got] == ["n3"]
    assert store.collection is None


def test_l2_similarities_grow_with_closeness(tmp_path):
    store = WarpsearchVectorStore(tmp_path / "db", metric="l2")
    store.add(_nodes())
    res = store.query(VectorStoreQuery(query_embedding=[1, 0, 0], similarity_top_k=3))
    assert res.ids[0] == "n0" and res.similarities[0] == pytest.approx(1.0)
    assert res.similarities == sorted(res.similarities, reverse=True)
    assert res.similarities[1] == pytest.approx(1 / (1 + 0.02), rel=1e-4)
    store.close()
