# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""IVF recall/QPS benchmark: warpsearch IVFPQIndex against faiss-cpu and ScaNN.

Sweeps nprobe x refine factor for each engine and reports, per recall target,
the best QPS among the configurations that reach it, and the ratio to faiss
fast-scan + RFlat. All engines are built first; each configuration is then timed
in rounds that run every engine once in turn (best of --repeat kept). With
``--passes N`` the whole grid is swept N times and each configuration keeps its best
over all passes, so a slow phase of a shared machine (seconds to minutes long) does
not fall on the same configurations of every engine, and the ratios at equal recall,
which compare different configurations, are not decided by when each one ran.

    python benchmarks/ivf_bench.py /path/sift-dev.npz --nlist 1024 --threads 2

Engines: ``ws4`` (nbits=4 fast scan, refine fp32, the analogue of faiss' RFlat),
``ws4-fp16`` / ``ws4-sq8`` (smaller refine copies; ``-noopq``: without the OPQ
rotation, which the others decide at training; ``-fixed``: exactly nprobe cells per
query instead of the adaptive default), ``ws8`` (nbits=8, no refine),
``faiss-fs`` (``IVF{nlist},PQ{d/2}x4fs,RFlat``, k_factor sweep), ``faiss-pq8``
(``IVF{nlist},PQ{d/2}``), ``faiss-rabitq`` / ``faiss-rabitq4`` (IVF-RaBitQ fast scan,
1 or 4 bits per dimension, with an exact float32 re-rank: ``IVF{nlist},RaBitQfs,RFlat`` /
``IVF{nlist},RaBitQfs4,RFlat``, k_factor sweep; a faiss-cpu with
``IndexIVFRaBitQFastScan``, as 1.15), ``scann`` (ScaNN,
PyPI ``scann``: a tree of nlist leaves, 4-bit asymmetric hashing on 2-dimension blocks,
the code size of ``PQ{d/2}x4fs``, with the anisotropic loss at threshold 0.2 for ip,
and an exact re-rank of the refine factor x k best; nprobe = leaves_to_search; see
:class:`ScannIVF`). An engine whose package is missing is skipped with a note::

    python benchmarks/ivf_bench.py sift-dev.npz --engines ws4,faiss-fs,faiss-rabitq,scann

Build time is reported as wall and process CPU time (train + add), memory as bytes
per base vector (faiss: its serialized size; ScaNN: its serialized size with the 4-bit
codes counted at 4 bits, see :meth:`ScannIVF.memory`). On a
shared machine, ``--threads 1 --cpu-time`` times by
process CPU time, which other processes disturb least. The dataset is an npz with
``base``, ``queries``, ``gt_ids`` and ``metric`` (see /work/shared/data/README.md);
with ``--limit`` the base is truncated and the ground truth recomputed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before faiss is imported
# NumPy's OpenBLAS threads spin after each call; under --cpu-time their spinning would be
# charged to whichever engine runs next. NumPy only loads data and scores recall here.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from warpsearch.contrib.evaluation import exact_knn, recall_at_k  # noqa: E402


def frontier_qps(pts, target):
    """QPS at a recall target on the recall/QPS frontier of (recall, qps, ...) points:
    linear in recall between the fastest point that reaches the target and the fastest
    faster point below it (None when no point reaches the target). Each engine's grid of
    configurations is discrete; this reads both curves at the same recall."""
    above = [p for p in pts if p[0] >= target]
    if not above:
        return None
    a = max(above, key=lambda p: p[1])
    below = [p for p in pts if p[0] < target and p[1] > a[1]]
    if not below:
        return a[1]
    b = max(below, key=lambda p: p[0])
    return a[1] + (b[1] - a[1]) * (a[0] - target) / (a[0] - b[0])


def best_time(fn, repeat: int, clock=time.perf_counter):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = clock()
        out = fn()
        best = min(best, clock() - t0)
    return best, out


class WsIVF:
    package = "warpsearch"

    def __init__(self, name, nbits, refine, m=None, opq=None, probe="adaptive"):
        self.name, self.nbits, self.refine, self.m, self.opq = name, nbits, refine, m, opq
        self.probe = probe

    def load(self):
        import warpsearch  # noqa: F401

    def build(self, base, metric, nlist, threads):
        import warpsearch as ws
        ws.set_num_threads(threads)
        m = self.m or base.shape[1] // 2
        self.idx = ws.IVFPQIndex(base.shape[1], metric, nlist=nlist, m=m, nbits=self.nbits,
                                 refine=self.refine, opq=self.opq)
        self.idx.train(base)
        self.idx.add(base)

    def factors(self, kfs):
        return kfs if (self.refine != "none" or self.nbits == 4) else [1]

    def search(self, q, k, nprobe, kf, threads):
        import warpsearch as ws
        ws.set_num_threads(threads)
        return self.idx.search(q, k=k, nprobe=nprobe, refine_factor=kf, probe=self.probe)[1]

    def memory(self):
        return self.idx.memory_usage()


class FaissIVF:
    package = "faiss-cpu"

    def __init__(self, name, spec):
        self.name, self.spec = name, spec

    def load(self):
        import faiss
        if "RaBitQ" in self.spec and not hasattr(faiss, "IndexIVFRaBitQFastScan"):
            raise ImportError(f"faiss {faiss.__version__} has no IndexIVFRaBitQFastScan")

    def build(self, base, metric, nlist, threads):
        import faiss
        faiss.omp_set_num_threads(threads)
        d = base.shape[1]
        spec = self.spec.format(nlist=nlist, m=d // 2)
        mt = faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2
        self.idx = faiss.index_factory(d, spec, mt)
        self.refined = "RFlat" in spec
        self.idx.train(base)
        self.idx.add(base)

    def factors(self, kfs):
        return kfs if self.refined else [1]

    def search(self, q, k, nprobe, kf, threads):
        import faiss
        faiss.omp_set_num_threads(threads)
        ivf = faiss.SearchParametersIVF(nprobe=nprobe)
        if self.refined:
            p = faiss.IndexRefineSearchParameters(k_factor=kf, base_index_params=ivf)
        else:
            p = ivf
        return self.idx.search(q, k, params=p)[1]

    def memory(self):
        import faiss
        return int(faiss.serialize_index(self.idx).nbytes)  # serialized size ~ memory


class ScannIVF:
    """ScaNN: a k-means tree of ``nlist`` leaves (trained on the whole base, centroids
    scored in int8 as in ann-benchmarks' ScaNN settings, spherical k-means for ip on unit
    vectors), asymmetric hashing on 2-dimension blocks of 16 centres (4-bit codes, LUT16
    scan), with the anisotropic loss at ScaNN's recommended threshold 0.2 for ip (none
    for l2, as ann-benchmarks' l2 settings), and an exact float32 re-rank (reorder) of the
    ``kf * k`` best. ``nprobe`` is ``leaves_to_search``."""

    package = "scann"

    def __init__(self, name):
        self.name = name

    def load(self):
        import scann  # noqa: F401

    def build(self, base, metric, nlist, threads):
        import scann
        ip = metric == "ip"
        unit = ip and bool(np.allclose(np.linalg.norm(base, axis=1), 1.0, atol=1e-3))
        b = scann.scann_ops_pybind.builder(base, 10, "dot_product" if ip else "squared_l2")
        b.set_n_training_threads(threads)
        self.idx = (b.tree(num_leaves=nlist, num_leaves_to_search=1,
                           training_sample_size=len(base), spherical=unit,
                           quantize_centroids=True)
                    .score_ah(2, anisotropic_quantization_threshold=0.2 if ip else float("nan"))
                    .reorder(10)  # the re-rank depth is given per search
                    .build())
        self.threads = None

    def factors(self, kfs):
        return kfs

    def search(self, q, k, nprobe, kf, threads):
        if threads != self.threads:
            self.idx.set_num_threads(threads)
            self.threads = threads
        fn = self.idx.search_batched_parallel if threads > 1 else self.idx.search_batched
        ids, _ = fn(q, final_num_neighbors=k, pre_reorder_num_neighbors=kf * k,
                    leaves_to_search=nprobe)
        return np.asarray(ids, np.int64)

    def memory(self):
        """Serialized size, except the codes: ``hashed_dataset.npy`` stores one byte
        per 4-bit code, while the searcher scans them packed two to a byte (LUT16), so
        they count half. The rest is the float32 re-rank copy, leaf ids, centroids and
        codebooks (ScaNN reports no memory use of its own)."""
        import tempfile
        with tempfile.TemporaryDirectory() as td:
            self.idx.serialize(td)
            sizes = {f: os.path.getsize(os.path.join(td, f)) for f in os.listdir(td)}
            codes = 0
            if "hashed_dataset.npy" in sizes:
                codes = np.load(os.path.join(td, "hashed_dataset.npy"), mmap_mode="r").nbytes
        return int(sum(sizes.values()) - codes // 2)


ENGINES = {
    "ws4": lambda: WsIVF("ws-ivfpq4-fp32", 4, "fp32"),
    "ws4-fp16": lambda: WsIVF("ws-ivfpq4-fp16", 4, "fp16"),
    "ws4-sq8": lambda: WsIVF("ws-ivfpq4-sq8", 4, "sq8"),
    "ws4-sq8-noopq": lambda: WsIVF("ws-ivfpq4-sq8-noopq", 4, "sq8", opq=False),
    "ws4-fp16-noopq": lambda: WsIVF("ws-ivfpq4-fp16-noopq", 4, "fp16", opq=False),
    "ws4-sq8-fixed": lambda: WsIVF("ws-ivfpq4-sq8-fixed", 4, "sq8", probe="fixed"),
    "ws4-fp16-fixed": lambda: WsIVF("ws-ivfpq4-fp16-fixed", 4, "fp16", probe="fixed"),
    "ws8": lambda: WsIVF("ws-ivfpq8", 8, "none"),
    "faiss-fs": lambda: FaissIVF("faiss-IVF,PQx4fs,RFlat", "IVF{nlist},PQ{m}x4fs,RFlat"),
    "faiss-pq8": lambda: FaissIVF("faiss-IVF,PQ8bit", "IVF{nlist},PQ{m}"),
    "faiss-rabitq": lambda: FaissIVF("faiss-IVF,RaBitQfs,RFlat", "IVF{nlist},RaBitQfs,RFlat"),
    "faiss-rabitq4": lambda: FaissIVF("faiss-IVF,RaBitQfs4,RFlat",
                                      "IVF{nlist},RaBitQfs4,RFlat"),
    "scann": lambda: ScannIVF("scann-tree,AH4,reorder"),
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", help="npz with base, queries, gt_ids, metric")
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--limit", type=int, default=None, help="use the first N base vectors")
    ap.add_argument("--nq", type=int, default=None, help="use the first N queries")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--nprobe", default="4,6,8,10,12,16,20,24,32,48,64")
    ap.add_argument("--kfactor", default="1,2,3,4,8")
    ap.add_argument("--engines", default="ws4,faiss-fs",
                    help=f"comma-separated, from: {', '.join(ENGINES)}")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--passes", type=int, default=1,
                    help="sweeps of the whole grid; each configuration keeps its best time")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time by process CPU time (meaningful with --threads 1)")
    a = ap.parse_args(argv)
    unknown = [e for e in a.engines.split(",") if e not in ENGINES]
    if unknown:
        ap.error(f"unknown engine(s) {unknown}; choose from {', '.join(ENGINES)}")
    if a.cpu_time and a.threads != 1:
        ap.error("--cpu-time needs --threads 1")
    clock = time.process_time if a.cpu_time else time.perf_counter

    z = np.load(a.dataset)
    metric = str(z["metric"])
    base = np.ascontiguousarray(z["base"][: a.limit], dtype=np.float32)
    queries = np.ascontiguousarray(z["queries"][: a.nq], dtype=np.float32)
    if a.limit is not None and a.limit < len(z["base"]):
        gt = exact_knn(base, queries, a.k, "ip" if metric == "ip" else "l2")[1]
    else:
        gt = np.asarray(z["gt_ids"][: len(queries)])
    nprobes = [int(v) for v in a.nprobe.split(",")]
    kfs = [int(v) for v in a.kfactor.split(",")]
    print(f"# {a.dataset}: base {base.shape}, queries {queries.shape}, metric {metric}, "
          f"nlist {a.nlist}, threads {a.threads}, k {a.k}")
    engines, builds = [], {}
    for key in a.engines.split(","):
        eng = ENGINES[key]()
        try:
            eng.load()
        except ImportError as e:
            print(f"# note: {eng.name} skipped: {eng.package} is not importable ({e})")
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        eng.build(base, metric, a.nlist, a.threads)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        mem = eng.memory()
        print(f"[{eng.name}] build {wall:.1f}s (cpu {cpu:.1f}s) memory {mem} "
              f"({mem / len(base):.1f} B/vector)")
        builds[eng.name] = (wall, cpu, mem / len(base))
        engines.append(eng)
    # Interleaved timing: every repeat of a configuration runs each engine once in turn,
    # so the slow phases of a shared machine fall on all engines alike.
    configs = [(npb, kf) for npb in nprobes for kf in kfs]
    best = {}  # (engine, nprobe, kf) -> (seconds, ids)
    summary = {eng.name: [] for eng in engines}
    for pas in range(a.passes):
        for npb, kf in configs:
            todo = [e for e in engines if kf in e.factors(kfs)]
            for _ in range(a.repeat):
                for eng in todo:
                    t0 = clock()
                    ids = eng.search(queries, a.k, npb, kf, a.threads)
                    secs = clock() - t0
                    key = (eng.name, npb, kf)
                    if secs < best.get(key, (float("inf"), None))[0]:
                        best[key] = (secs, ids)
            if pas == a.passes - 1:
                for eng in todo:
                    secs, ids = best[(eng.name, npb, kf)]
                    r, qps = recall_at_k(ids, gt, a.k), len(queries) / secs
                    summary[eng.name].append((r, qps, npb, kf))
                    print(f"[{eng.name}] nprobe={npb:4d} kf={kf:2d} recall@{a.k}={r:.4f} qps={qps:9.0f}")
            sys.stdout.flush()
    # The reference: faiss' PQ fast scan + RFlat, else any refined faiss engine.
    refined = [e for e in engines if isinstance(e, FaissIVF) and e.refined]
    ref = next((e.name for e in refined if "x4fs,RFlat" in e.spec),
               refined[0].name if refined else None)
    bests = {}
    print("\n| engine | QPS @ recall 0.90 | QPS @ recall 0.95 | build s (CPU s) | B/vector |\n"
          "|---|---|---|---|---|")
    for name, pts in summary.items():
        cells = []
        for target in (0.90, 0.95):
            ok = [p for p in pts if p[0] >= target]
            if ok:
                b = max(ok, key=lambda p: p[1])
                bests[(name, target)] = b[1]
                cells.append(f"{b[1]:.0f} (nprobe={b[2]}, kf={b[3]}, r={b[0]:.3f})")
            else:
                cells.append("not reached")
        wall, cpu, bpv = builds[name]
        print(f"| {name} | {cells[0]} | {cells[1]} | {wall:.1f} ({cpu:.1f}) | {bpv:.1f} |")
    if ref:
        print(f"\nQPS ratios against {ref} at equal recall:")
        for name in summary:
            if name == ref:
                continue
            rats = [f"{bests[(name, t)] / bests[(ref, t)]:.2f}x @{t:.2f}"
                    if (name, t) in bests and (ref, t) in bests else f"n/a @{t:.2f}"
                    for t in (0.90, 0.95)]
            interp = []
            for t in (0.90, 0.95):
                mine, theirs = frontier_qps(summary[name], t), frontier_qps(summary[ref], t)
                interp.append(f"{mine / theirs:.2f}x @{t:.2f}" if mine and theirs else f"n/a @{t:.2f}")
            print(f"  {name}: best configuration {', '.join(rats)}; "
                  f"interpolated on the frontier {', '.join(interp)}")

if __name__ == "__main__":
    main()
