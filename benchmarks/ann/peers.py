# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The engines of the recall/QPS harness: warpsearch and its peers (hnswlib, faiss,
usearch, glass, NumPy brute force) behind one build/search interface. Peer packages are
imported lazily; a missing one raises ImportError from ``Engine.load``.

Optional engines (not in the default ``--engines`` list):

- ``glass-sq8`` / ``glass-sq4``: glass (PyPI ``pyglass-portable``, imported as
  ``glass``), its HNSW graph walked on 8-bit / 4-bit uniform scalar codes (``SQ8U`` /
  ``SQ4U``) and re-ranked with float32 vectors, every candidate of the walk re-ranked;
  ``glass-sq8-default`` / ``glass-sq4-default``: the same with glass' own re-rank
  depth (1.5 k candidates). ``python benchmarks/ann/run.py DATA.npz --engines
  warpsearch,glass-sq8,glass-sq4``. See :class:`Glass`.
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np
from warpsearch.contrib.evaluation import exact_knn

__all__ = ["Engine", "ENGINES"]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Engine:
    """One library behind a common build/search interface.

    ``kind`` is ``"graph"`` (searched at several ``ef``) or ``"exact"``.
    Subclasses import their package in :meth:`load` and raise ``ImportError``
    when it is missing.
    """

    name = "?"
    package = "?"
    kind = "graph"

    def __init__(self, dim: int, metric: str, M: int, ef_construction: int):
        self.dim, self.metric, self.M, self.efc = dim, metric, M, ef_construction

    @classmethod
    def load(cls):
        """Imports the package (``ImportError`` when missing)."""

    @classmethod
    def version(cls) -> str:
        return "?"

    def build(self, base: np.ndarray, threads: int) -> None:
        raise NotImplementedError

    def search(self, queries: np.ndarray, k: int, ef: int, threads: int) -> np.ndarray:
        """Ids ``(nq, k)`` int64 of a batch search."""
        raise NotImplementedError

    def device(self) -> str:
        return "cpu"


def _pkg_version(dist: str) -> str:
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


class WarpsearchHNSW(Engine):
    name = "warpsearch"
    package = "warpsearch"
    quantized = True
    storage = "fp32"

    @classmethod
    def load(cls):
        import warpsearch  # noqa: F401

    @classmethod
    def version(cls) -> str:
        import warpsearch as ws
        info = ws.build_info()
        return f"{ws.__version__ or 'dev'} (simd {info['simd_level']}, " \
               f"cuda {'on' if info['cuda_compiled'] else 'off'})"

    def build(self, base, threads):
        import warpsearch as ws
        ws.set_num_threads(threads)
        self.index = ws.HNSWIndex(dim=self.dim, metric=self.metric, M=self.M,
                                  ef_construction=self.efc, quantized=self.quantized,
                                  storage=self.storage)
        self.index.add(base)
        _log(f"  {self.name}: {self.index.memory_usage() / max(1, len(self.index)):.0f} B/vector")

    def search(self, queries, k, ef, threads):
        import warpsearch as ws
        ws.set_num_threads(threads)
        return self.index.search(queries, k=k, ef=ef)[1]

    def device(self):
        idx = getattr(self, "index", None)
        return "cpu" if idx is None else str(idx.last_search_info.get("device", "cpu"))


class WarpsearchHNSWf32(WarpsearchHNSW):
    name = "warpsearch-f32"
    quantized = False


class WarpsearchHNSWfp16(WarpsearchHNSW):
    name = "warpsearch-fp16"
    storage = "fp16"


class WarpsearchHNSWsq8(WarpsearchHNSW):
    name = "warpsearch-sq8"
    storage = "sq8"


class WarpsearchFlat(WarpsearchHNSW):
    name = "warpsearch-flat"
    kind = "exact"

    def build(self, base, threads):
        import warpsearch as ws
        ws.set_num_threads(threads)
        self.index = ws.FlatIndex(dim=self.dim, metric=self.metric)
        self.index.add(base)

    def search(self, queries, k, ef, threads):
        import warpsearch as ws
        ws.set_num_threads(threads)
        return self.index.search(queries, k=k)[1]


class Hnswlib(Engine):
    name = package = "hnswlib"

    @classmethod
    def load(cls):
        import hnswlib  # noqa: F401

    @classmethod
    def version(cls):
        return _pkg_version("hnswlib")

    def build(self, base, threads):
        import hnswlib
        self.index = hnswlib.Index(space="l2" if self.metric == "l2" else "ip", dim=self.dim)
        self.index.init_index(max_elements=len(base), ef_construction=self.efc, M=self.M,
                              random_seed=42)
        self.index.set_num_threads(threads)
        self.index.add_items(base, np.arange(len(base)), num_threads=threads)

    def search(self, queries, k, ef, threads):
        self.index.set_ef(ef)
        labels, _ = self.index.knn_query(queries, k=k, num_threads=threads)
        return labels.astype(np.int64)


class FaissHNSW(Engine):
    name = "faiss"
    package = "faiss-cpu"

    @classmethod
    def load(cls):
        import faiss  # noqa: F401

    @classmethod
    def version(cls):
        import faiss
        return getattr(faiss, "__version__", None) or _pkg_version("faiss-cpu")

    def build(self, base, threads):
        import faiss
        faiss.omp_set_num_threads(threads)
        metric = faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT
        self.index = faiss.IndexHNSWFlat(self.dim, self.M, metric)
        self.index.hnsw.efConstruction = self.efc
        self.index.add(base)

    def search(self, queries, k, ef, threads):
        import faiss
        faiss.omp_set_num_threads(threads)
        self.index.hnsw.efSearch = ef
        return self.index.search(queries, k)[1].astype(np.int64)


class Usearch(Engine):
    name = package = "usearch"

    @classmethod
    def load(cls):
        import usearch.index  # noqa: F401

    @classmethod
    def version(cls):
        import usearch
        return getattr(usearch, "__version__", None) or _pkg_version("usearch")

    def build(self, base, threads):
        from usearch.index import Index
        # dtype f32 explicitly: left unset, usearch may store f16 on CPUs with f16 SIMD.
        self.index = Index(ndim=self.dim, metric="l2sq" if self.metric == "l2" else "ip",
                           dtype="f32", connectivity=self.M, expansion_add=self.efc)
        self.index.add(np.arange(len(base), dtype=np.uint64), base, threads=threads)

    def search(self, queries, k, ef, threads):
        self.index.expansion_search = ef
        return np.asarray(self.index.search(queries, k, threads=threads).keys, np.int64)


@contextlib.contextmanager
def _c_stdout_to_stderr():
    """Sends what C/C++ code prints to stdout (file descriptor 1) to stderr meanwhile,
    so a library's progress lines do not mix with the harness' Markdown on stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class Glass(Engine):
    """glass (zilliztech/pyglass; PyPI ``pyglass-portable``, imported as ``glass``).

    Built with glass' HNSW builder (hnswlib's algorithm on float32 distances) at
    ``R = 2 * M`` (its maximum level-0 degree, as in hnswlib) and ``L =
    ef_construction``. The searcher walks the graph on ``quant`` codes (``SQ8U`` or
    ``SQ4U``: 8 or 4 bits per dimension, one range for all dimensions; glass' per-dimension
    ``SQ4`` has no re-rank in glass, and ``SQ8U`` was as accurate as per-dimension ``SQ8``
    with the re-rank and faster on the sets we tried) and re-ranks with float32 vectors
    (``refine_quant="FP32"``). ``Searcher.optimize`` (its tuning of prefetch depths on
    sampled base vectors) runs in the build, as glass' examples do.

    Re-rank depth: glass re-ranks a fixed ``int(1.5 * k)`` best candidates of the walk.
    On 4-bit codes that caps recall@10 (0.90 at any ef on a 20k x 96 set), so by default
    the engine asks glass for ``max(k, int(ef / 1.5))`` results, which makes the
    re-rank cover the whole pool of ``ef`` candidates, and keeps the first ``k``
    (sorted by the exact distance). warpsearch likewise re-ranks from its whole pool.
    ``rerank_pool = False`` (the ``-default`` engines) keeps glass' own depth.

    The wheels of ``pyglass-portable`` are compiled for AVX2 (no AVX-512 kernels); the
    upstream ``glassppy`` wheels are AVX-512 builds.
    """

    name = "glass-sq8"
    package = "pyglass-portable"
    quant = "SQ8U"
    code_bits = 8
    rerank_pool = True
    refine_factor = 1.5  # glass' get_refine_factor for SQ8U and SQ4U

    @classmethod
    def load(cls):
        import glass  # noqa: F401

    @classmethod
    def version(cls):
        v = _pkg_version("pyglass-portable")
        return f"{v} (AVX2 build)" if v != "?" else _pkg_version("glassppy")

    def build(self, base, threads):
        import glass
        glass.set_num_threads(threads)
        metric = "L2" if self.metric == "l2" else "IP"
        self._base = base  # kept alive for as long as the searcher
        with _c_stdout_to_stderr():
            graph = glass.Index("HNSW", metric, "FP32", R=2 * self.M, L=self.efc).build(base)
            # The searcher takes the graph over: one Graph serves one Searcher.
            self.searcher = glass.Searcher(graph, base, metric, self.quant, "FP32")
            self.searcher.optimize(threads)
        d = base.shape[1]
        est = 2 * self.M * 4 + d * self.code_bits / 8 + 4 * d
        _log(f"  {self.name}: ~{est:.0f} B/vector (estimated: level-0 links 4 B x R "
             f"+ {self.code_bits}-bit codes + float32 re-rank copy)")

    def search(self, queries, k, ef, threads):
        self.searcher.set_ef(ef)
        want = max(k, int(ef / self.refine_factor)) if self.rerank_pool else k
        ids = self.searcher.batch_search(queries, want, threads)[0]
        return np.asarray(ids, np.int64).reshape(len(queries), want)[:, :k]


class GlassSQ4(Glass):
    name = "glass-sq4"
    quant = "SQ4U"
    code_bits = 4


class GlassSQ8Default(Glass):
    name = "glass-sq8-default"
    rerank_pool = False


class GlassSQ4Default(GlassSQ4):
    name = "glass-sq4-default"
    rerank_pool = False


class NumpyBrute(Engine):
    """Exact search with NumPy: ``q @ base.T`` through BLAS in blocks, then argpartition."""

    name = package = "numpy"
    kind = "exact"

    @classmethod
    def version(cls):
        try:
            from threadpoolctl import threadpool_info
        except ImportError:
            return f"{np.__version__} (threadpoolctl missing: BLAS threads not set)"
        blas = [f"{i.get('internal_api')} {i.get('version')}" for i in threadpool_info()
                if i.get("user_api") == "blas" and "numpy" in i.get("filepath", "")]
        return f"{np.__version__} ({', '.join(blas) or 'BLAS ?'})"

    def build(self, base, threads):
        self.base = base

    def search(self, queries, k, ef, threads):
        try:
            from threadpoolctl import threadpool_limits
            limit = threadpool_limits(limits=threads, user_api="blas")
        except ImportError:
            limit = contextlib.nullcontext()
        with limit:
            return exact_knn(self.base, queries, k, self.metric, dtype=np.float32)[1]


ENGINES = {
    "warpsearch": (WarpsearchHNSW, WarpsearchFlat),
    "warpsearch-f32": (WarpsearchHNSWf32,),
    "warpsearch-fp16": (WarpsearchHNSWfp16,),
    "warpsearch-sq8": (WarpsearchHNSWsq8,),
    "hnswlib": (Hnswlib,),
    "faiss": (FaissHNSW,),
    "usearch": (Usearch,),
    "glass-sq8": (Glass,),
    "glass-sq4": (GlassSQ4,),
    "glass-sq8-default": (GlassSQ8Default,),
    "glass-sq4-default": (GlassSQ4Default,),
    "numpy": (NumpyBrute,),
}


