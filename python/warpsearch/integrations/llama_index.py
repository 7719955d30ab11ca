# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A LlamaIndex vector store over a warpsearch collection
(``pip install 'warpsearch[llama-index]'``).

Each node is one point: its node id (a string id), its embedding, and a payload
made of the node's metadata (filterable), its serialized content and its
reference document id (``ref_doc_id``, indexed, so ``delete(ref_doc_id)`` is one
filtered delete). ``MetadataFilters`` are translated to warpsearch filters; the
metadata fields they name are indexed on first use (see
``warpsearch.integrations._store``).

Similarities are warpsearch's scores for ``"cosine"`` and ``"ip"``; for ``"l2"``
they are ``1 / (1 + squared distance)``, so larger is closer for every metric.

Examples
--------
>>> from llama_index.core.schema import TextNode
>>> from llama_index.core.vector_stores import VectorStoreQuery
>>> store = WarpsearchVectorStore()
>>> ids = store.add([TextNode(id_="a", text="apples", embedding=[1.0, 0.0]),
...                  TextNode(id_="b", text="pears", embedding=[0.0, 1.0])])
>>> res = store.query(VectorStoreQuery(query_embedding=[0.9, 0.1], similarity_top_k=1))
>>> res.ids, res.nodes[0].get_content()
(['a'], 'apples')
>>> store.close()
"""

from __future__ import annotations

import asyncio
from typing import Any, List, Optional, Sequence

import numpy as np

try:
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.indices.query.embedding_utils import get_top_k_mmr_embeddings
    from llama_index.core.schema import BaseNode
    from llama_index.core.vector_stores.types import (
        BasePydanticVectorStore,
        FilterCondition,
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
        VectorStoreQuery,
        VectorStoreQueryMode,
        VectorStoreQueryResult,
    )
    from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
except ModuleNotFoundError as exc:  # without the extra
    raise ModuleNotFoundError("warpsearch.integrations.llama_index needs llama-index-core: "
                              f"pip install 'warpsearch[llama-index]' ({exc})",
                              name=exc.name) from exc

from ._store import CollectionHolder

__all__ = ["WarpsearchVectorStore", "translate_filters"]

_REF = "ref_doc_id"
_RANGE = {FilterOperator.GT: "gt", FilterOperator.GTE: "gte", FilterOperator.LT: "lt",
          FilterOperator.LTE: "lte"}


def translate_filters(filters: Optional[MetadataFilters]):
    """``MetadataFilters`` as a warpsearch filter, with the fields it names (and a
    value of each). Operators: ``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``in``,
    ``nin``, ``any``, ``all``, ``contains``, ``is_empty``; conditions ``and``,
    ``or``, ``not``. ``!=`` and ``nin`` match points that have the field with
    another value."""
    if filters is None:
        return None, {}
    fields: dict = {}
    return _filters(filters, fields), fields


def _filters(mf, fields):
    parts = []
    for f in mf.filters:
        parts.append(_filters(f, fields) if isinstance(f, MetadataFilters) else _one(f, fields))
    cond = mf.condition or FilterCondition.AND
    if cond == FilterCondition.AND:
        return {"must": parts}
    if cond == FilterCondition.OR:
        return {"should": parts}
    if cond == FilterCondition.NOT:
        return {"must_not": [{"must": parts}]}
    raise ValueError(f"unsupported filter condition {cond!r}")


def _one(f: MetadataFilter, fields):
    key, op, v = f.key, f.operator, f.value
    if op == FilterOperator.IS_EMPTY:
        fields.setdefault(key, None)
        return {"is_empty": key}
    if v is None:
        raise ValueError(f"filter on {key!r}: operator {op.value!r} needs a value")
    fields[key] = v
    if op in (FilterOperator.EQ, FilterOperator.CONTAINS):
        return {"key": key, "match": v}
    if op == FilterOperator.NE:
        return {"key": key, "match": {"except": [v]}}
    if op in _RANGE:
        return {"key": key, "range": {_RANGE[op]: v}}
    vals = v if isinstance(v, list) else [v]
    if not vals:
        raise ValueError(f"filter on {key!r}: operator {op.value!r} needs a non-empty list")
    if op in (FilterOperator.IN, FilterOperator.ANY):
        return {"key": key, "match": {"any": vals}}
    if op == FilterOperator.NIN:
        return {"key": key, "match": {"except": vals}}
    if op == FilterOperator.ALL:
        return {"must": [{"key": key, "match": x} for x in vals]}
    raise ValueError(f"filter on {key!r}: operator {op.value!r} is not supported (supported: "
                     "==, !=, >, >=, <, <=, in, nin, any, all, contains, is_empty)")


class WarpsearchVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store keeping nodes in a warpsearch collection.

    Parameters
    ----------
    connection : None, str, os.PathLike, Database or RemoteDatabase
        Where the collection lives: ``None`` (an embedded database in a temporary
        directory, removed by ``close``), a directory (an embedded database, created
        if missing), ``"http://host:port"`` (a ``warpsearch serve`` server) or an open
        database (left open by ``close``).
    collection_name : str
        The collection; created at the first ``add``, with the dimension of the
        first embeddings.
    metric : {"cosine", "ip", "l2"}
        Metric of a collection created here.
    create_options : dict, optional
        More ``create_collection`` arguments (``index=``, ``schema=``, ...).
    """

    stores_text: bool = True
    flat_metadata: bool = False
    collection_name: str = "llama_index"
    metric: str = "cosine"

    _holder: CollectionHolder = PrivateAttr()

    def __init__(self, connection=None, collection_name: str = "llama_index", *,
                 metric: str = "cosine", create_options: Optional[dict] = None,
                 **kwargs: Any):
        super().__init__(collection_name=collection_name, metric=metric, **kwargs)
        self._holder = CollectionHolder(connection, collection_name, metric, create_options)

    @classmethod
    def class_name(cls) -> str:
        return "WarpsearchVectorStore"

    @property
    def client(self) -> Any:
        """The database (embedded ``Database`` or ``RemoteDatabase``)."""
        return self._holder.db

    @property
    def collection(self):
        """The warpsearch collection (``None`` until the first ``add``)."""
        return self._holder.get()

    def close(self) -> None:
        """Closes the database if this store opened it."""
        self._holder.close()

    def _where(self, col, filters=None, doc_ids=None):
        flt, fields = translate_filters(filters)
        if doc_ids:
            fields.setdefault(_REF, doc_ids[0])
            ref = {"key": _REF, "match": {"any": list(doc_ids)}}
            flt = ref if flt is None else {"must": [flt, ref]}
        self._holder.ensure_fields(col, fields)
        return flt

    def _node(self, uid, payload):
        node = metadata_dict_to_node(payload)
        node.embedding = None
        return node

    # -- writes -----------------------------------------------------------------------
    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> List[str]:
        """Upserts ``nodes`` (each with its embedding); returns their ids."""
        nodes = list(nodes)
        if not nodes:
            return []
        ids, vectors, payloads = [], [], []
        for node in nodes:
            emb = node.get_embedding()  # raises when the node has none
            ids.append(node.node_id)
            vectors.append(emb)
            payloads.append(node_to_metadata_dict(node, remove_text=False,
                                                  flat_metadata=self.flat_metadata))
        X = np.asarray(vectors, dtype=np.float32)
        col = self._holder.get_or_create(int(X.shape[1]))
        self._holder.ensure_fields(col, {_REF: "x"})
        col.upsert(ids, X, payloads, progress=False)
        return ids

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Deletes every node of the document ``ref_doc_id``."""
        col = self._holder.get()
        if col is not None:
            col.delete(filter=self._where(col, doc_ids=[ref_doc_id]))

    def delete_nodes(self, node_ids: Optional[List[str]] = None,
                     filters: Optional[MetadataFilters] = None, **delete_kwargs: Any) -> None:
        """Deletes the nodes of ``node_ids`` that also pass ``filters`` (either may be
        left out, not both)."""
        if node_ids is None and filters is None:
            raise ValueError("give node_ids or filters to delete_nodes (clear() deletes all)")
        col = self._holder.get()
        if col is None:
            return
        if filters is None:
            if node_ids:
                col.delete(list(node_ids))
            return
        ids = [n.node_id for n in self.get_nodes(node_ids, filters)] if node_ids is not None \
            else None
        if ids is None:
            col.delete(filter=self._where(col, filters))
        elif ids:
            col.delete(ids)

    def clear(self) -> None:
        """Deletes every node (the collection is dropped; the next ``add`` makes it)."""
        self._holder.drop()

    # -- reads --------------------------------------------------------------------------
    def get_nodes(self, node_ids: Optional[List[str]] = None,
                  filters: Optional[MetadataFilters] = None) -> List[BaseNode]:
        """The nodes of ``node_ids`` (those that exist) and/or those passing
        ``filters``."""
        col = self._holder.get()
        if col is None:
            return []
        if node_ids is not None:
            recs = [r for r in col.get(list(node_ids)) if r is not None] if node_ids else []
            if filters is not None:
                keep = {r.id for r in col.scroll(filter=self._where(col, filters),
                                                 limit=col.count(), with_vectors=False,
                                                 with_payload=False)}
                recs = [r for r in recs if r.id in keep]
            return [self._node(r.id, r.payload) for r in recs]
        flt = self._where(col, filters)
        return [self._node(r.id, r.payload)
                for r in col.scroll(filter=flt, limit=col.count(), with_vectors=False)]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nodes nearest to ``query.query_embedding`` that pass
        ``query.filters`` (and belong to ``query.doc_ids`` / are among
        ``query.node_ids`` when these lists are not empty). Modes: default and MMR
        (``mmr_threshold``, the weight of relevance against diversity)."""
        if query.mode not in (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR):
            raise ValueError(f"query mode {query.mode.value!r} is not supported (default, mmr)")
        if query.query_embedding is None:
            raise ValueError("the query has no embedding")
        col = self._holder.get()
        if col is None:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        flt = self._where(col, query.filters, query.doc_ids)
        q = np.asarray(query.query_embedding, dtype=np.float32)
        k = query.similarity_top_k
        mmr = query.mode == VectorStoreQueryMode.MMR
        fetch = max(k, kwargs.get("mmr_prefetch_k", 4 * k)) if mmr else k
        if query.node_ids:  # LlamaIndex passes [] for "no restriction"
            hits = self._exact_among(col, q, list(query.node_ids), flt, fetch)
        else:
            hits = [(h.id, float(h.score), h.payload)
                    for h in col.search(q, k=fetch, filter=flt)]
        if mmr and hits:
            vecs = [r.vector.tolist() for r in col.get([h[0] for h in hits])]
            _, chosen = get_top_k_mmr_embeddings(
                q.tolist(), vecs, similarity_top_k=k, embedding_ids=list(range(len(hits))),
                mmr_threshold=query.mmr_threshold)
            hits = [hits[i] for i in chosen]
        sims = [self._similarity(s) for _, s, _ in hits]
        return VectorStoreQueryResult(nodes=[self._node(i, p) for i, _, p in hits],
                                      similarities=sims, ids=[str(i) for i, _, _ in hits])

    def _similarity(self, score: float) -> float:
        return 1.0 / (1.0 + score) if self.metric == "l2" else score

    def _exact_among(self, col, q, node_ids, flt, k):
        """Exact search restricted to ``node_ids`` (filters have no id condition)."""
        recs = [r for r in col.get(node_ids) if r is not None]
        if flt is not None and recs:
            keep = {r.id for r in col.scroll(filter=flt, limit=col.count(),
                                             with_vectors=False, with_payload=False)}
            recs = [r for r in recs if r.id in keep]
        if not recs:
            return []
        X = np.stack([r.vector for r in recs]).astype(np.float64)
        qd = q.astype(np.float64)
        if self.metric == "l2":
            s = ((X - qd) ** 2).sum(1)
            order = np.argsort(s, kind="stable")
        else:
            if self.metric == "cosine":
                X = X / np.linalg.norm(X, axis=1, keepdims=True)
                qd = qd / np.linalg.norm(qd)
            s = X @ qd
            order = np.argsort(-s, kind="stable")
        return [(recs[i].id, float(s[i]), recs[i].payload) for i in order[:k]]

    # -- async --------------------------------------------------------------------------
    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> List[str]:
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    async def adelete_nodes(self, node_ids: Optional[List[str]] = None,
                            filters: Optional[MetadataFilters] = None,
                            **delete_kwargs: Any) -> None:
        await asyncio.to_thread(self.delete_nodes, node_ids, filters, **delete_kwargs)

    async def aclear(self) -> None:
        await asyncio.to_thread(self.clear)

    async def aget_nodes(self, node_ids: Optional[List[str]] = None,
                         filters: Optional[MetadataFilters] = None) -> List[BaseNode]:
        return await asyncio.to_thread(self.get_nodes, node_ids, filters)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        return await asyncio.to_thread(self.query, query, **kwargs)
