# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The native client: ``warpsearch.connect("http://host:port")`` returns a
``RemoteDatabase`` whose collections have the embedded API and return types
(``Hit``, ``Record``, ``BatchResults``), over a ``warpsearch serve`` server.

Needs ``orjson`` (and ``httpx`` where a proxy is configured): ``pip install
'warpsearch[server]'``. One pool of keep-alive connections per database (the
standard library's ``http.client``: a request costs about 0.7 ms less client time
than through httpx); reads (and upserts, which are idempotent) are
retried on connection failures and 503 answers; errors carry the server's
message: ``KeyError`` for an unknown collection, ``PermissionError`` for a
missing, invalid or refused API key, ``ValueError`` for other bad
input, ``TimeoutError`` for a search past its timeout, ``RuntimeError`` for a
fault of the server.
"""

from __future__ import annotations

import http.client
import io
import os
import select
import ssl
import tempfile
import threading
import time
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import numpy as np

from ._validation import as_matrix, as_positive_int
from .db.config import Hit, Record, parse_schema
from .db.display import ExplainPlan, Hits
from .db.embedding import as_embedding, as_texts
from .db.payload import normalize_ids
from .db.query import BatchResults

__all__ = ["RemoteDatabase", "RemoteCollection"]

_METRIC_NAMES = {"cosine": "Cosine", "l2": "Euclid", "ip": "Dot"}
_PAGE = 1000  # scroll page size (the server's max_k is at least this by default)


def _deps():
    try:
        import orjson
    except ImportError as exc:
        raise ImportError("the remote client needs orjson: "
                          f"pip install 'warpsearch[server]' ({exc})") from exc
    return orjson


class _Answer:
    """An HTTP answer: status, reason and body."""

    __slots__ = ("status_code", "reason_phrase", "content")

    def __init__(self, status_code, reason_phrase, content):
        self.status_code, self.reason_phrase, self.content = status_code, reason_phrase, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class _Connections:
    """Keep-alive HTTP/1.1 connections to one server (``http.client``), each used by one
    request at a time: a request takes an idle connection (one the server has closed
    meanwhile is dropped, not used) or opens one, and gives it back after reading the
    whole answer. Failures raise ``ConnectionError`` (refused, reset, closed) or
    ``TimeoutError``."""

    def __init__(self, url: str, timeout: float, headers: dict, context, max_idle: int = 16):
        u = urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"url must be http://host[:port] or https://..., got {url!r}")
        self._https = u.scheme == "https"
        self._host, self._port = u.hostname, u.port
        self._prefix = u.path.rstrip("/")
        self._timeout, self._headers, self._context = timeout, headers, context
        self._idle: list = []
        self._lock = threading.Lock()
        self._max_idle = max_idle

    def _take(self):
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                sock = conn.sock
                # readable while idle: the server closed it (or sent what nobody asked)
                if sock is not None and not select.select([sock], [], [], 0)[0]:
                    return conn
                conn.close()
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                               context=self._context)
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def request(self, method, path, content=None, params=None, headers=None,
                timeout=None) -> _Answer:
        target = self._prefix + path + ("?" + urlencode(params) if params else "")
        conn = self._take()
        wait = self._timeout if timeout is None else float(timeout)
        conn.timeout = wait
        if conn.sock is not None:
            conn.sock.settimeout(wait)
        try:
            conn.request(method, target, body=content, headers={**self._headers, **(headers or {})})
            r = conn.getresponse()
            data = r.read()
        except TimeoutError:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ConnectionError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            conn.close()
            raise
        if r.will_close:
            conn.close()
        else:
            with self._lock:
                if len(self._idle) < self._max_idle:
                    self._idle.append(conn)
                    conn = None
            if conn is not None:
                conn.close()
        return _Answer(r.status, r.reason, data)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _HttpxConnections:
    """The same through httpx, for a server reached through a proxy (httpx reads the
    proxy environment variables)."""

    def __init__(self, url, timeout, headers, verify):
        import httpx

        self._httpx = httpx
        self._client = httpx.Client(base_url=url, timeout=httpx.Timeout(timeout),
                                    headers=headers, verify=verify,
                                    limits=httpx.Limits(max_connections=32,
                                                        max_keepalive_connections=16))

    def request(self, method, path, content=None, params=None, headers=None,
                timeout=None) -> _Answer:
        httpx = self._httpx
        kw = {} if timeout is None else {"timeout": timeout}
        try:
            r = self._client.request(method, path, content=content, params=params,
                                     headers=headers, **kw)
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise ConnectionError(str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise TimeoutError(str(exc)) from exc
        return _Answer(r.status_code, r.reason_phrase, r.content)

    def close(self) -> None:
        self._client.close()


def _proxied(url: str) -> bool:
    """Whether the environment sends requests to ``url`` through a proxy."""
    u = urlsplit(url)
    proxies = getproxies()
    if not (proxies.get(u.scheme) or proxies.get("all")):
        return False
    return not proxy_bypass(u.hostname or "")


def _tls_context(verify):
    """The TLS context of ``verify``: a context, a CA bundle file, True or False."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, (str, os.PathLike)):  # a CA bundle file
        return ssl.create_default_context(cafile=os.fspath(verify))
    if verify:
        return ssl.create_default_context()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class RemoteDatabase:
    """A database served by ``warpsearch serve`` at ``url``.

    Parameters
    ----------
    url : str
        ``http://host:port`` (or https).
    timeout : float
        Seconds to wait for a connection and for each answer.
    retries : int
        Extra attempts of idempotent calls after a connection failure or a 503.
    api_key : str, optional
        The server's API key (sent in the ``api-key`` header).
    verify : bool, str or ssl.SSLContext
        TLS certificate verification for https: True, False, a CA bundle file or a
        context.
    """

    def __init__(self, url: str, timeout: float = 30.0, retries: int = 3, api_key=None,
                 verify=True):
        self._orjson = _deps()
        self.url = url.rstrip("/")
        self.retries = int(retries)
        if api_key is not None and not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
        headers = {} if api_key is None else {"api-key": api_key}
        tls = _tls_context(verify) if self.url.startswith("https") else None
        if _proxied(self.url):
            self._http = _HttpxConnections(self.url, float(timeout), headers,
                                           True if tls is None else tls)
        else:
            self._http = _Connections(self.url, float(timeout), headers, tls)
        self._closed = False

    # -- transport ----------------------------------------------------------------------
    def _request(self, method, path, body=None, *, content=None, params=None,
                 idempotent=True, raw=False, timeout=None):
        if self._closed:
            raise ValueError("database is closed")
        headers = {}
        if body is not None:
            content = self._orjson.dumps(body, option=self._orjson.OPT_SERIALIZE_NUMPY)
            headers["content-type"] = "application/json"
        elif content is not None:
            headers["content-type"] = "application/x-npy"
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            try:
                r = self._http.request(method, path, content=content, params=params,
                                       headers=headers, timeout=timeout)
            except ConnectionError as exc:
                if attempt + 1 < attempts:
                    time.sleep(0.05 * 2 ** attempt)
                    continue
                raise ConnectionError(f"{method} {self.url}{path}: {exc}") from exc
            except TimeoutError as exc:
                raise TimeoutError(f"{method} {self.url}{path}: no answer in time") from exc
            if r.status_code == 503 and attempt + 1 < attempts:
                time.sleep(0.05 * 2 ** attempt)
                continue
            break
        if r.status_code >= 400:
            raise self._error(r)
        if raw:
            return r.content
        return self._orjson.loads(r.content)["result"]

    def _error(self, r):
        try:
            msg = self._orjson.loads(r.content)["status"]["error"]
        except (ValueError, KeyError, TypeError):
            msg = r.text or r.reason_phrase
        code = r.status_code
        if code in (401, 403):
            return PermissionError(msg)
        if code == 404:
            return KeyError(msg)
        if code == 408:
            return TimeoutError(msg)
        if code < 500:
            return ValueError(msg)
        return RuntimeError(f"server error {code}: {msg}")

    # -- collections ----------------------------------------------------------------------
    def create_collection(self, name: str, dim: int, metric: str = "cosine", index=None,
                          schema=None, segment_size: int = 100_000,
                          device: str = "auto", embedding=None) -> "RemoteCollection":
        """Creates a collection on the server (the embedded arguments) and returns it.

        ``embedding`` (a callable or a sentence-transformers model name) runs here, in
        the client, for ``texts=`` / ``text=``; the server does not keep it, so give
        it again to ``get_collection``."""
        embedding = as_embedding(embedding)
        if not isinstance(metric, str) or metric.lower() not in _METRIC_NAMES:
            raise ValueError(f"metric must be one of {', '.join(_METRIC_NAMES)}, got {metric!r}")
        dim = as_positive_int(dim, "dim")
        body = {"vectors": {"size": dim, "distance": _METRIC_NAMES[metric.lower()]},
                "warpsearch": {"index": None if index is None else index.to_dict(),
                               "schema": schema, "segment_size": segment_size,
                               "device": device}}
        self._request("PUT", f"/collections/{quote(name, safe='')}", body, idempotent=False)
        return self.get_collection(name, embedding)

    def get_collection(self, name: str, embedding=None) -> "RemoteCollection":
        """The collection ``name``; ``KeyError`` if there is none. ``embedding``: as in
        ``create_collection`` (client-side)."""
        info = self._request("GET", f"/warpsearch/collections/{quote(name, safe='')}/info")
        return RemoteCollection(self, name, info, embedding)

    def __getitem__(self, name: str) -> "RemoteCollection":
        return self.get_collection(name)

    def has_collection(self, name: str) -> bool:
        return self._request("GET", f"/collections/{quote(name, safe='')}/exists")["exists"]

    def list_collections(self) -> list:
        """Names of the collections, sorted."""
        return sorted(c["name"] for c in self._request("GET", "/collections")["collections"])

    def drop_collection(self, name: str) -> None:
        """Deletes a collection; ``KeyError`` if there is none."""
        if not self._request("DELETE", f"/collections/{quote(name, safe='')}",
                             idempotent=False):
            raise KeyError(f"no collection named {name!r}")

    def offload(self, name: str, to=None) -> dict:
        """``Database.offload`` on the server (an admin key): frees the collection's
        memory there, to the server's local disk or (``to``) object storage."""
        return self._request("POST", f"/warpsearch/collections/{quote(name, safe='')}/offload",
                             {"to": to}, idempotent=False)

    def tier(self, name: str) -> str:
        """``Database.tier`` on the server: ``"ram"``, ``"disk"`` or ``"object"``."""
        return self._request("GET", f"/warpsearch/collections/{quote(name, safe='')}/tier")["tier"]

    def activate(self, name: str, embedding=None) -> "RemoteCollection":
        """Loads the collection on the server and returns it (``get_collection``)."""
        return self.get_collection(name, embedding)

    def close(self) -> None:
        """Closes the connection pool (the server keeps running)."""
        if not self._closed:
            self._http.close()
            self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"RemoteDatabase({self.url!r}, {'closed' if self._closed else 'open'})"


class RemoteCollection:
    """A collection on a server: the embedded ``Collection`` API over HTTP."""

    def __init__(self, db: RemoteDatabase, name: str, info: dict, embedding=None):
        self._db = db
        self.name = name
        #: Text to vectors for ``texts=`` / ``text=``, run in this client (or None).
        self.embedding = as_embedding(embedding)
        self.dim = int(info["dim"])
        self.metric = info["metric"]
        self._base = f"/warpsearch/collections/{quote(name, safe='')}"

    def _call(self, op, body=None, **kw):
        return self._db._request("POST", f"{self._base}/{op}", {} if body is None else body,
                                 **kw)

    @property
    def schema(self) -> dict:
        """Payload schema (as the server has it now)."""
        return parse_schema(self.info()["schema"])

    def embed(self, texts) -> np.ndarray:
        """Vectors of ``texts`` by the collection's (client-side) embedding."""
        if self.embedding is None:
            raise ValueError(f"collection {self.name!r} has no embedding: give embedding= "
                             "to create_collection or get_collection, or pass vectors")
        texts = as_texts(texts)
        return self.embedding(texts, self.dim) if texts else np.empty((0, self.dim), np.float32)

    def _vectors_or_texts(self, vectors, texts, what):
        if (vectors is None) == (texts is None):
            raise ValueError(f"collection {self.name!r}: give either {what} or "
                             f"{'text' if what == 'vector' else 'texts'}")
        return self.embed(texts) if vectors is None else vectors

    # -- writes ---------------------------------------------------------------------------
    def upsert(self, ids, vectors=None, payloads=None, *, texts=None, batch_size: int = 4096,
               progress=None) -> int:
        """Inserts or replaces points, ``batch_size`` per request; returns the log
        sequence number of the last batch. ``texts`` instead of ``vectors``: as in
        ``Collection.upsert``."""
        uids = normalize_ids(ids, writing=True)
        X = as_matrix(self._vectors_or_texts(vectors, texts, "vectors"), self.dim, "vectors")
        if payloads is None:
            payloads = [None] * len(uids)
        elif isinstance(payloads, dict):
            payloads = [payloads]
        payloads = list(payloads)
        if len(payloads) != len(uids) or len(X) != len(uids):
            raise ValueError(f"collection {self.name!r}: {len(X)} vectors and {len(payloads)} "
                             f"payloads for {len(uids)} ids")
        if len(set(uids)) != len(uids):
            raise ValueError(f"collection {self.name!r}: duplicate ids in one upsert call")
        batch_size = as_positive_int(batch_size, "batch_size", maximum=None)
        seq = None
        for s in range(0, max(len(uids), 1), batch_size):
            e = s + batch_size
            seq = self._call("upsert", {"ids": uids[s:e], "vectors": X[s:e],
                                        "payloads": payloads[s:e]})["sequence"]
        return seq

    def delete(self, ids=None, *, filter=None) -> int:
        """Deletes points by id or by filter (not both); returns how many existed."""
        if (ids is None) == (filter is None):
            raise ValueError(f"collection {self.name!r}: give either ids or filter to delete")
        body = {"filter": filter} if ids is None else {"ids": normalize_ids(ids)}
        return self._call("delete", body, idempotent=False)["deleted"]

    def create_field_index(self, name: str, type: str) -> None:
        self._call("create_field_index", {"name": name, "type": type}, idempotent=False)

    # -- reads --------------------------------------------------------------------------------
    def _vector(self, v):
        return as_matrix(v, self.dim, "vector")

    def search(self, vector=None, k: int = 10, filter=None, ef=None,
               with_payload: bool = True, *, text=None, nprobe=None, refine_factor=None,
               timeout=None, return_stats: bool = False):
        """The ``k`` nearest points (a list of ``Hit``; with ``return_stats``: and the
        stats of the call), as ``Collection.search``."""
        Q = self._vector(self._vectors_or_texts(vector, text, "vector"))
        if Q.shape[0] != 1:
            raise ValueError(f"collection {self.name!r}: search takes one vector; use "
                             "search_batch for several")
        out = self._call("search", {"vector": Q[0], "k": k, "filter": filter, "ef": ef,
                                    "with_payload": with_payload, "nprobe": nprobe,
                                    "refine_factor": refine_factor, "timeout": timeout,
                                    "return_stats": return_stats})
        hits = Hits(Hit(i, s, p) for i, s, p in out["hits"])
        return (hits, out["stats"]) if return_stats else hits

    def search_batch(self, vectors=None, k: int = 10, filter=None, ef=None,
                     with_payload: bool = True, *, texts=None, nprobe=None,
                     refine_factor=None, timeout=None,
                     return_stats: bool = False) -> BatchResults:
        """``search`` for each row, through the binary endpoint (``search_npy``)."""
        if return_stats:
            raise ValueError("return_stats is not available for a remote search_batch; "
                             "use search(..., return_stats=True) or explain")
        Q = as_matrix(self._vectors_or_texts(vectors, texts, "vectors"), self.dim, "vectors")
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(Q, dtype=np.float32))
        params = {"k": str(as_positive_int(k, "k")), "with_payload": str(bool(with_payload))}
        for key, v in (("ef", ef), ("nprobe", nprobe), ("refine_factor", refine_factor),
                       ("timeout", timeout)):
            if v is not None:
                params[key] = str(v)
        if filter is not None:
            params["filter"] = self._db._orjson.dumps(filter).decode()
        data = self._db._request("POST", f"{self._base}/search_npy", content=buf.getvalue(),
                                 params=params, raw=True)
        return _decode_batch(data, self._db._orjson)

    def get(self, ids) -> list:
        """Records of ``ids`` in the order asked, ``None`` where a point does not exist."""
        return [None if r is None else _record(r)
                for r in self._call("get", {"ids": normalize_ids(ids)})]

    def __contains__(self, uid) -> bool:
        return self.get([uid])[0] is not None

    def scroll(self, filter=None, limit: int = 100, offset: int = 0, with_vectors: bool = True,
               with_payload: bool = True) -> list:
        """Live points in storage order (``limit`` after skipping ``offset``), fetched
        in pages."""
        out: list = []
        while len(out) < limit:
            n = min(_PAGE, limit - len(out))
            page = self._call("scroll", {"filter": filter, "limit": n, "offset": offset + len(out),
                                         "with_vectors": with_vectors,
                                         "with_payload": with_payload})
            out += [_record(r) for r in page]
            if len(page) < n:
                break
        return out

    def count(self, filter=None) -> int:
        return self._call("count", {"filter": filter})

    def __len__(self) -> int:
        return self.count()

    def explain(self, vector, k: int = 10, filter=None, ef=None, *, nprobe=None,
                refine_factor=None) -> dict:
        out = self._call("explain", {"vector": self._vector(vector)[0], "k": k, "filter": filter,
                                     "ef": ef, "nprobe": nprobe, "refine_factor": refine_factor})
        out["hits"] = [tuple(h) for h in out["hits"]]
        return ExplainPlan(out)

    def info(self) -> dict:
        return self._db._request("GET", f"{self._base}/info")

    # -- maintenance ----------------------------------------------------------------------
    def flush(self, timeout=None) -> None:
        """Waits on the server until every point is indexed, then checkpoints."""
        wait = None if timeout is None else float(timeout) + 30.0
        self._call("flush", {"timeout": timeout}, timeout=wait)

    def compact(self, progress=None) -> dict:
        return self._call("compact", idempotent=False, timeout=None)

    def snapshot(self, path) -> str:
        """Snapshots the collection on the server, downloads the archive and extracts it
        as a snapshot directory at local ``path`` (for ``warpsearch.restore``)."""
        from .server.archive import extract_archive
        from .server.qdrant import ApiError

        db = self._db
        col = quote(self.name, safe="")
        desc = db._request("POST", f"/collections/{col}/snapshots", idempotent=False)
        data = db._request("GET", f"/collections/{col}/snapshots/{desc['name']}", raw=True)
        path = os.path.abspath(os.fspath(path))
        if os.path.exists(path):
            raise ValueError(f"snapshot path {path!r} already exists")
        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=parent, prefix=".download-") as tmp:
            archive = os.path.join(tmp, desc["name"])
            with open(archive, "wb") as f:
                f.write(data)
            try:
                inner = extract_archive(archive, tmp)
            except ApiError as exc:
                raise ValueError(exc.message) from None
            os.rename(inner, path)
        return path

    def __repr__(self) -> str:
        return f"RemoteCollection({self.name!r}, dim={self.dim}, metric={self.metric!r}, " \
               f"url={self._db.url!r})"

    def _repr_html_(self) -> str:
        from .db.display import html_table

        info = self.info()
        rows = [("url", self._db.url)] + [(k, info[k]) for k in (
            "name", "points", "dim", "metric", "device", "sealed_segments", "indexed_rows")]
        return html_table(("", "value"), rows, f"RemoteCollection {self.name!r}")


def _record(r) -> Record:
    v = r["vector"]
    return Record(r["id"], None if v is None else np.asarray(v, dtype=np.float32), r["payload"])


def _decode_batch(data: bytes, orjson) -> BatchResults:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        D = z["scores"]
        ids = z["ids"]
        valid = ~np.isnan(D)
        if ids.dtype.kind == "i":  # results make Python ints as they are read
            U = np.ascontiguousarray(ids, dtype=np.int64).reshape(ids.shape)
        else:
            U = np.empty(ids.shape, dtype=object)
            is_int = z["id_is_int"]
            U[...] = [[int(s) if b else s for s, b in zip(row, brow)]
                      for row, brow in zip(ids.tolist(), is_int.tolist())] if ids.size else U
        raws = None
        if "payloads" in z.files:
            rows = orjson.loads(z["payloads"].tobytes())
            k = ids.shape[1] if ids.ndim == 2 else 0
            if all(len(row) == k for row in rows):  # every query found k hits
                raws = [p for row in rows for p in row]
            else:
                pad = [None] * k
                raws = [p for row in rows for p in (row + pad[len(row):])]
    rows = np.where(valid, np.arange(valid.size, dtype=np.int64).reshape(valid.shape), -1)
    return BatchResults(U.ravel(), raws, np.ascontiguousarray(D, dtype=np.float32), rows)
