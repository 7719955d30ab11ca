# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Qdrant's own LangChain and LlamaIndex integrations (``langchain-qdrant``,
``llama-index-vector-stores-qdrant``), unmodified, against warpsearch serve on
127.0.0.1: create, add, search (with scores, metadata filters on keys without a
payload index, maximal marginal relevance), retrieve by id, delete, and answers equal
to the embedded database's."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qdrant_client", reason="needs qdrant-client")

TEXTS = [f"note {i} on {'cats' if i % 2 else 'dogs'} and {'rain' if i % 3 else 'sun'}"
         for i in range(30)]
METAS = [{"source": "ab"[i % 2], "page": i} for i in range(30)]


class _Embed:
    """A deterministic text embedding (hashed word counts, 16-d)."""

    dim = 16

    def __call__(self, text):
        v = np.zeros(self.dim)
        for w in text.lower().split():
            v[sum(map(ord, w)) % self.dim] += 1.0
            v[(len(w) * 7) % self.dim] += 0.5
        return (v / max(np.linalg.norm(v), 1e-9)).tolist()


def test_langchain_qdrant_vector_store(served):
    lq = pytest.importorskip("langchain_qdrant", reason="needs langchain-qdrant")
    from langchain_core.embeddings import Embeddings
    from qdrant_client import models

    embed = _Embed()

    class Emb(Embeddings):
        def embed_documents(self, texts):
            return [embed(t) for t in texts]

        def embed_query(self, text):
            return embed(text)

    store = lq.QdrantVectorStore.from_texts(TEXTS, Emb(), metadatas=METAS, url=served.url,
                                            collection_name="lc_docs", prefer_grpc=False)
    col = served.db.get_collection("lc_docs")
    assert col.count() == len(TEXTS)
    q = "cats and rain"
    docs = store.similarity_search_with_score(q, k=5)
    want = col.search(embed(q), k=5)
    assert [d.metadata["page"] for d, _ in docs] == [h.payload["metadata"]["page"] for h in want]
    assert np.allclose([s for _, s in docs], [h.score for h in want], atol=1e-5)
    only_a = models.Filter(must=[models.FieldCondition(
        key="metadata.source", match=models.MatchValue(value="a"))])
    docs = store.similarity_search(q, k=6, filter=only_a)
    assert len(docs) == 6 and all(d.metadata["source"] == "a" for d in docs)
    mmr = store.max_marginal_relevance_search(q, k=4, fetch_k=12, lambda_mult=0.3)
    assert len({d.metadata["page"] for d in mmr}) == 4
    ids = store.add_texts(["a note on parrots"], metadatas=[{"source": "c", "page": 99}])
    assert [d.page_content for d in store.get_by_ids(ids)] == ["a note on parrots"]
    assert store.delete(ids) and col.count() == len(TEXTS)
    got = store.as_retriever(search_kwargs={"k": 3}).invoke("dogs and sun")
    assert len(got) == 3 and all(isinstance(d.page_content, str) for d in got)


def test_llama_index_qdrant_vector_store(served):
    lq = pytest.importorskip("llama_index.vector_stores.qdrant",
                             reason="needs llama-index-vector-stores-qdrant")
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.vector_stores import ExactMatchFilter, MetadataFilters
    from qdrant_client import QdrantClient

    embed = _Embed()

    class Emb(BaseEmbedding):
        def _get_query_embedding(self, query):
            return embed(query)

        async def _aget_query_embedding(self, query):
            return embed(query)

        def _get_text_embedding(self, text):
            return embed(text)

    client = QdrantClient(url=served.url, prefer_grpc=False, check_compatibility=False)
    store = lq.QdrantVectorStore(client=client, collection_name="li_docs")
    index = VectorStoreIndex.from_documents(
        [Document(text=t, metadata=m, id_=f"doc{i}") for i, (t, m) in
         enumerate(zip(TEXTS, METAS))],
        storage_context=StorageContext.from_defaults(vector_store=store), embed_model=Emb())
    assert client.count("li_docs").count == len(TEXTS)
    nodes = index.as_retriever(similarity_top_k=4).retrieve("cats and rain")
    col = served.db.get_collection("li_docs")
    want = col.search(embed("cats and rain"), k=4)
    assert [n.node.metadata["page"] for n in nodes] == [h.payload["page"] for h in want]
    only_a = MetadataFilters(filters=[ExactMatchFilter(key="source", value="a")])
    nodes = index.as_retriever(similarity_top_k=5, filters=only_a).retrieve("cats and rain")
    assert len(nodes) == 5 and all(n.node.metadata["source"] == "a" for n in nodes)
    index.delete_ref_doc("doc3", delete_from_docstore=True)
    assert client.count("li_docs").count == len(TEXTS) - 1
    assert all(n.node.ref_doc_id != "doc3" for n in
               index.as_retriever(similarity_top_k=30).retrieve("cats"))
