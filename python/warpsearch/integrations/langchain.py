# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A LangChain vector store over a warpsearch collection
(``pip install 'warpsearch[langchain]'``).

Each document is one point: its id (LangChain's string id, kept as the point's
string id), its embedding, and a payload made of the document's metadata plus
its text under ``text_key`` (``"page_content"``). Filters are LangChain's dict
form (``{"source": "a.md"}``, ``{"year": {"$gte": 2020}}``, ``{"$or": [...]}``),
translated to warpsearch filters; a native warpsearch filter may be given as
``ws_filter=`` instead. Scores from ``similarity_search_with_score`` are
warpsearch's: the similarity for ``"cosine"`` and ``"ip"`` (larger is closer), the
squared distance for ``"l2"``.

Examples
--------
>>> from langchain_core.embeddings import DeterministicFakeEmbedding
>>> store = WarpsearchVectorStore(DeterministicFakeEmbedding(size=8))
>>> ids = store.add_texts(["apples", "pears"], [{"kind": "fruit"}, {"kind": "fruit"}])
>>> store.similarity_search("apples", k=1, filter={"kind": "fruit"})[0].page_content
'apples'
>>> store.close()
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

try:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import VectorStore
    from langchain_core.vectorstores.utils import maximal_marginal_relevance
except ModuleNotFoundError as exc:  # without the extra
    raise ModuleNotFoundError("warpsearch.integrations.langchain needs langchain-core: "
                              f"pip install 'warpsearch[langchain]' ({exc})",
                              name=exc.name) from exc

from ._store import CollectionHolder

__all__ = ["WarpsearchVectorStore", "translate_filter"]

_COMPARISONS = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}


def translate_filter(filter: Optional[dict]):
    """A LangChain metadata filter as a warpsearch filter, with the fields it names.

    Returns ``(ws_filter, fields)``: ``fields`` maps each field to a value compared
    with it (its type makes the field filterable). Supported: ``{"f": v}`` (equal;
    several keys: all of them), ``{"f": {"$eq" | "$ne" | "$gt" | "$gte" | "$lt" |
    "$lte": v}}``, ``{"f": {"$in" | "$nin": [...]}}``, ``{"f": {"$exists": bool}}``,
    ``{"$and": [...]}``, ``{"$or": [...]}``, ``{"$not": {...}}``. ``$ne`` and
    ``$nin`` match points that have the field with another value.

    Examples
    --------
    >>> translate_filter({"year": {"$gte": 2020}, "lang": {"$in": ["en", "fr"]}})[0]
    {'must': [{'key': 'year', 'range': {'gte': 2020}}, {'key': 'lang', 'match': {'any': ['en', 'fr']}}]}
    """
    if filter is None:
        return None, {}
    fields: dict = {}
    return _clause(filter, fields), fields


def _clause(d, fields):
    if not isinstance(d, dict) or not d:
        raise ValueError(f"a metadata filter must be a non-empty dict, got {d!r}")
    parts = []
    for key, value in d.items():
        if not isinstance(key, str):
            raise ValueError(f"filter keys must be strings, got {key!r}")
        if key in ("$and", "$or"):
            if not isinstance(value, (list, tuple)) or not value:
                raise ValueError(f"{key} needs a non-empty list of filters, got {value!r}")
            subs = [_clause(v, fields) for v in value]
            parts.append({"must" if key == "$and" else "should": subs})
        elif key == "$not":
            parts.append({"must_not": [_clause(value, fields)]})
        elif key.startswith("$"):
            raise ValueError(f"unknown filter operator {key!r} (supported: $and, $or, $not "
                             "and, on a field, $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, "
                             "$exists)")
        else:
            parts.extend(_field(key, value, fields))
    return parts[0] if len(parts) == 1 else {"must": parts}


def _field(key, value, fields):
    if not isinstance(value, dict):
        fields.setdefault(key, value)
        return [{"key": key, "match": {"any": list(value)} if isinstance(value, (list, tuple))
                 else value}]
    if not value:
        raise ValueError(f"filter on {key!r}: an empty operator dict")
    out = []
    for op, arg in value.items():
        if op == "$exists":
            if not isinstance(arg, bool):
                raise ValueError(f"filter on {key!r}: $exists needs True or False, got {arg!r}")
            fields.setdefault(key, None)
            out.append({"must_not": [{"is_null": key}]} if arg else {"is_null": key})
            continue
        if op in _COMPARISONS:
            fields[key] = arg
            out.append({"key": key, "range": {_COMPARISONS[op]: arg}})
        elif op in ("$eq", "$ne"):
            fields.setdefault(key, arg)
            out.append({"key": key, "match": arg if op == "$eq" else {"except": [arg]}})
        elif op in ("$in", "$nin"):
            if not isinstance(arg, (list, tuple)) or not arg:
                raise ValueError(f"filter on {key!r}: {op} needs a non-empty list, got {arg!r}")
            fields.setdefault(key, arg)
            out.append({"key": key, "match": {"any" if op == "$in" else "except": list(arg)}})
        else:
            raise ValueError(f"filter on {key!r}: unknown operator {op!r} (supported: $eq, "
                             "$ne, $gt, $gte, $lt, $lte, $in, $nin, $exists)")
    return out


class WarpsearchVectorStore(VectorStore):
    """A LangChain ``VectorStore`` keeping documents in a warpsearch collection.

    Parameters
    ----------
    embedding : langchain_core.embeddings.Embeddings
        Turns texts into vectors (documents and queries).
    connection : None, str, os.PathLike, Database or RemoteDatabase
        Where the collection lives: ``None`` (an embedded database in a temporary
        directory, removed by ``close``), a directory (an embedded database, created
        if missing), ``"http://host:port"`` (a ``warpsearch serve`` server) or an open
        database (left open by ``close``).
    collection_name : str
        The collection; created at the first write, with the dimension of the first
        embeddings.
    metric : {"cosine", "ip", "l2"}
        Metric of a collection created here.
    text_key : str
        Payload key holding the document's text (a metadata key of that name is
        refused).
    create_options : dict, optional
        More ``create_collection`` arguments (``index=``, ``schema=``, ...).
    """

    def __init__(self, embedding: Embeddings, connection=None,
                 collection_name: str = "langchain", *, metric: str = "cosine",
                 text_key: str = "page_content", create_options: Optional[dict] = None):
        if not isinstance(text_key, str) or not text_key:
            raise TypeError(f"text_key must be a non-empty str, got {text_key!r}")
        self._embedding = embedding
        self.text_key = text_key
        self._holder = CollectionHolder(connection, collection_name, metric, create_options)

    # -- plumbing ---------------------------------------------------------------------
    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @property
    def collection(self):
        """The warpsearch collection (``None`` until the first write)."""
        return self._holder.get()

    @property
    def database(self):
        """The database (embedded ``Database`` or ``RemoteDatabase``) of the collection."""
        return self._holder.db

    def close(self) -> None:
        """Closes the database if this store opened it."""
        self._holder.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _payloads(self, texts, metadatas):
        out = []
        for text, meta in zip(texts, metadatas):
            meta = dict(meta or {})
            if self.text_key in meta:
                raise ValueError(f"metadata key {self.text_key!r} is where the text is kept; "
                                 "rename it or choose another text_key")
            meta[self.text_key] = text
            out.append(meta)
        return out

    def _document(self, uid, payload) -> Document:
        meta = dict(payload or {})
        text = meta.pop(self.text_key, "")
        return Document(page_content=text, metadata=meta, id=str(uid))

    def _prepare_add(self, texts, metadatas, ids):
        texts = list(texts)
        if metadatas is None:
            metadatas = [{}] * len(texts)
        if len(metadatas) != len(texts):
            raise ValueError(f"{len(metadatas)} metadatas for {len(texts)} texts")
        if ids is None:
            ids = [None] * len(texts)
        ids = list(ids)
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        ids = [str(uuid.uuid4()) if i is None else i for i in ids]
        for i in ids:
            if not isinstance(i, str) or not i:
                raise TypeError(f"LangChain ids must be non-empty strings, got {i!r}")
        return texts, self._payloads(texts, metadatas), ids

    def _upsert(self, ids, vectors, payloads):
        if not ids:
            return ids
        X = np.asarray(vectors, dtype=np.float32)
        col = self._holder.get_or_create(int(X.shape[1]))
        col.upsert(ids, X, payloads, progress=False)
        return ids

    def _filter(self, col, filter, ws_filter):
        if filter is not None and ws_filter is not None:
            raise ValueError("give filter (LangChain's dict form) or ws_filter (a warpsearch "
                             "filter), not both")
        if ws_filter is not None:
            return ws_filter
        out, fields = translate_filter(filter)
        self._holder.ensure_fields(col, fields)
        return out

    def _search(self, vector, k, filter=None, ws_filter=None, **search_kw):
        col = self._holder.get()
        if col is None:
            return []
        flt = self._filter(col, filter, ws_filter)
        hits = col.search(np.asarray(vector, dtype=np.float32), k=k, filter=flt, **search_kw)
        return [(self._document(h.id, h.payload), float(h.score)) for h in hits]

    # -- writes -----------------------------------------------------------------------
    def add_texts(self, texts: Iterable[str], metadatas: Optional[list] = None, *,
                  ids: Optional[list] = None, **kwargs: Any) -> list:
        """Embeds ``texts`` and upserts them (a point per text; an existing id is
        replaced). Returns the ids (new UUID strings where none were given)."""
        texts, payloads, ids = self._prepare_add(texts, metadatas, ids)
        if not texts:
            return []
        return self._upsert(ids, self._embedding.embed_documents(texts), payloads)

    async def aadd_texts(self, texts: Iterable[str], metadatas: Optional[list] = None, *,
                         ids: Optional[list] = None, **kwargs: Any) -> list:
        texts, payloads, ids = self._prepare_add(texts, metadatas, ids)
        if not texts:
            return []
        vectors = await self._embedding.aembed_documents(texts)
        return await asyncio.to_thread(self._upsert, ids, vectors, payloads)

    def delete(self, ids: Optional[list] = None, **kwargs: Any) -> Optional[bool]:
        """Deletes the documents of ``ids`` (missing ids are ignored), or those passing
        ``filter=`` / ``ws_filter=``; with neither, every document (the collection
        is dropped and created again by the next write). Returns True."""
        flt, ws_flt = kwargs.pop("filter", None), kwargs.pop("ws_filter", None)
        if kwargs:
            raise TypeError(f"unexpected arguments to delete: {sorted(kwargs)}")
        if ids is None and flt is None and ws_flt is None:
            self._holder.drop()
            return True
        col = self._holder.get()
        if col is None:
            return True
        if ids is not None:
            if flt is not None or ws_flt is not None:
                raise ValueError("give ids or a filter to delete, not both")
            ids = list(ids)
            if ids:
                col.delete(ids)
            return True
        col.delete(filter=self._filter(col, flt, ws_flt))
        return True

    async def adelete(self, ids: Optional[list] = None, **kwargs: Any) -> Optional[bool]:
        return await asyncio.to_thread(self.delete, ids, **kwargs)

    def get_by_ids(self, ids: Sequence[str], /) -> list:
        """The documents of ``ids`` that exist, in the order asked."""
        col = self._holder.get()
        ids = list(ids)
        if col is None or not ids:
            return []
        return [self._document(r.id, r.payload) for r in col.get(ids) if r is not None]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list:
        return await asyncio.to_thread(self.get_by_ids, ids)

    # -- searches ---------------------------------------------------------------------
    def similarity_search_with_score_by_vector(self, embedding: list, k: int = 4,
                                               filter: Optional[dict] = None,
                                               **kwargs: Any) -> list:
        """``(Document, score)`` of the ``k`` nearest documents to ``embedding``.

        ``kwargs``: ``ws_filter`` (a warpsearch filter), ``ef``, ``nprobe``,
        ``refine_factor``, ``timeout`` (as ``Collection.search``).
        """
        return self._search(embedding, k, filter, **kwargs)

    def similarity_search_with_score(self, query: str, k: int = 4,
                                     filter: Optional[dict] = None, **kwargs: Any) -> list:
        """``(Document, score)`` of the ``k`` documents nearest to ``query``."""
        return self._search(self._embedding.embed_query(query), k, filter, **kwargs)

    def similarity_search(self, query: str, k: int = 4, filter: Optional[dict] = None,
                          **kwargs: Any) -> list:
        """The ``k`` documents nearest to ``query`` (that pass ``filter``)."""
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_by_vector(self, embedding: list, k: int = 4,
                                    filter: Optional[dict] = None, **kwargs: Any) -> list:
        return [d for d, _ in self._search(embedding, k, filter, **kwargs)]

    async def asimilarity_search_with_score(self, query: str, k: int = 4,
                                            filter: Optional[dict] = None,
                                            **kwargs: Any) -> list:
        vector = await self._embedding.aembed_query(query)
        return await asyncio.to_thread(self._search, vector, k, filter, **kwargs)

    async def asimilarity_search(self, query: str, k: int = 4, filter: Optional[dict] = None,
                                 **kwargs: Any) -> list:
        pairs = await self.asimilarity_search_with_score(query, k, filter, **kwargs)
        return [d for d, _ in pairs]

    async def asimilarity_search_by_vector(self, embedding: list, k: int = 4,
                                           filter: Optional[dict] = None,
                                           **kwargs: Any) -> list:
        pairs = await asyncio.to_thread(self._search, embedding, k, filter, **kwargs)
        return [d for d, _ in pairs]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Scores to [0, 1] relevance (1 closest): ``(1 + s) / 2`` of a cosine or inner
        product similarity (unit vectors), ``1 - sqrt(d) / 2`` of a squared distance;
        clipped to [0, 1] (float32 rounding puts a vector's similarity to itself a
        hair above 1)."""
        if self._holder.metric == "l2":
            return lambda d: min(1.0, max(0.0, 1.0 - float(np.sqrt(max(d, 0.0))) / 2.0))
        return lambda s: min(1.0, max(0.0, (1.0 + float(s)) / 2.0))

    def max_marginal_relevance_search_by_vector(self, embedding: list, k: int = 4,
                                                fetch_k: int = 20, lambda_mult: float = 0.5,
                                                filter: Optional[dict] = None,
                                                **kwargs: Any) -> list:
        """``k`` documents among the ``fetch_k`` nearest, chosen for relevance and
        diversity (``lambda_mult``: 1 relevance only, 0 diversity only)."""
        col = self._holder.get()
        if col is None:
            return []
        flt = self._filter(col, filter, kwargs.pop("ws_filter", None))
        hits = col.search(np.asarray(embedding, dtype=np.float32), k=fetch_k, filter=flt,
                          **kwargs)
        if not hits:
            return []
        records = col.get([h.id for h in hits])
        keep = [(h, r) for h, r in zip(hits, records) if r is not None]
        chosen = maximal_marginal_relevance(np.asarray(embedding, dtype=np.float32),
                                            [r.vector for _, r in keep], lambda_mult, k)
        return [self._document(keep[i][0].id, keep[i][0].payload) for i in chosen]

    def max_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int = 20,
                                      lambda_mult: float = 0.5, filter: Optional[dict] = None,
                                      **kwargs: Any) -> list:
        return self.max_marginal_relevance_search_by_vector(
            self._embedding.embed_query(query), k, fetch_k, lambda_mult, filter, **kwargs)

    async def amax_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int = 20,
                                             lambda_mult: float = 0.5,
                                             filter: Optional[dict] = None,
                                             **kwargs: Any) -> list:
        vector = await self._embedding.aembed_query(query)
        return await asyncio.to_thread(self.max_marginal_relevance_search_by_vector, vector,
                                       k, fetch_k, lambda_mult, filter, **kwargs)

    async def amax_marginal_relevance_search_by_vector(self, embedding: list, k: int = 4,
                                                       fetch_k: int = 20,
                                                       lambda_mult: float = 0.5,
                                                       filter: Optional[dict] = None,
                                                       **kwargs: Any) -> list:
        return await asyncio.to_thread(self.max_marginal_relevance_search_by_vector,
                                       embedding, k, fetch_k, lambda_mult, filter, **kwargs)

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def from_texts(cls, texts: list, embedding: Embeddings, metadatas: Optional[list] = None,
                   *, ids: Optional[list] = None, connection=None,
                   collection_name: str = "langchain", **kwargs: Any):
        """A store over ``connection`` / ``collection_name`` holding ``texts``."""
        store = cls(embedding, connection, collection_name, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(cls, texts: list, embedding: Embeddings,
                          metadatas: Optional[list] = None, *, ids: Optional[list] = None,
                          connection=None, collection_name: str = "langchain",
                          **kwargs: Any):
        store = await asyncio.to_thread(cls, embedding, connection, collection_name, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    def __repr__(self) -> str:
        return (f"WarpsearchVectorStore(collection={self._holder.name!r}, "
                f"database={self._holder.db!r})")
