# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A set larger than the RAM it is given: built out of core and searched under a
RAM budget, warpsearch (IVF-PQ codes in RAM, full vectors memory-mapped for the
re-rank) against DiskANN (``diskannpy``: a graph on SSD, PQ codes in RAM), the
on-SSD reference, on the same file and the same budget.

    python benchmarks/ooc_bench.py --n 10000000 --dim 96 --budget 2GB \\
        --workdir /data/ooc --diskann-python /path/to/venv/bin/python

The data is synthetic (clustered Gaussians with anisotropic spreads; the file names
say so), written in chunks to ``base.fbin`` (big-ann-benchmarks format, which is
also DiskANN's input format), with 1,000 queries and exact ground truth computed by
streaming the base. Each engine builds and searches in its own process, so the
peak RSS reported is its own. QPS (all cores) and recall@10 over a sweep of search
settings; QPS at recall 0.90 and 0.95 is interpolated between the settings that
bracket it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ann"))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_data(workdir, n, dim, nq, k, seed=0):
    import warpsearch as ws
    from warpsearch.contrib.evaluation import exact_knn_file

    base = os.path.join(workdir, f"synthetic-clustered-{n}x{dim}.fbin")
    qf = os.path.join(workdir, f"synthetic-clustered-{n}x{dim}.queries.fbin")
    gtf = os.path.join(workdir, f"synthetic-clustered-{n}x{dim}.gt{k}.ibin")
    if os.path.exists(gtf):
        return base, qf, gtf
    rng = np.random.default_rng(seed)
    c = 1024
    centres = (rng.standard_normal((c, dim)) * 2).astype(np.float32)
    spread = rng.lognormal(0, 0.5, (c, dim)).astype(np.float32)
    with open(base, "wb") as f:
        np.array([n, dim], np.uint32).tofile(f)
        for s in range(0, n, 500_000):
            m = min(500_000, n - s)
            lab = rng.integers(0, c, m)
            (centres[lab] + rng.standard_normal((m, dim)).astype(np.float32) * spread[lab]
             ).astype(np.float32).tofile(f)
    lab = rng.integers(0, c, nq)
    Q = centres[lab] + rng.standard_normal((nq, dim)).astype(np.float32) * spread[lab]
    ws.write_vectors(qf, Q.astype(np.float32))
    _, gt = exact_knn_file(base, Q, k, "l2", progress=False)
    ws.write_vectors(gtf, gt.astype(np.int32))
    return base, qf, gtf


def _sweep(search, Q, gt, settings, k):
    from warpsearch.contrib.evaluation import recall_at_k

    curve = []
    for s in settings:
        search(Q[:50], s)  # warm-up
        t0 = time.perf_counter()
        I = search(Q, s)
        dt = time.perf_counter() - t0
        curve.append({"setting": s, "recall": recall_at_k(I, gt, k), "qps": len(Q) / dt})
    return curve


def warpsearch_worker(args):
    import warpsearch as ws

    n, dim = args.n, args.dim
    out = os.path.join(args.workdir, "warpsearch.ws")
    nlist = int(2 ** round(np.log2(4 * np.sqrt(n))))
    t0 = time.perf_counter()
    if not os.path.exists(out):
        ws.build_index(args.base, out, index="ivf_pq", nlist=nlist, m=dim // 2, nbits=4,
                       refine="fp32", memory_budget=args.budget, progress=False)
    build_s = time.perf_counter() - t0
    build_rss = _peak_mib()
    try:
        idx = ws.load_index(out, mmap=True)
        mapped = True
    except TypeError:  # a build without memory-mapped loads
        idx = ws.load_index(out)
        mapped = False
    Q = ws.open_vectors(args.queries).read().astype(np.float32)
    gt = ws.open_vectors(args.gt).read()
    settings = [(p, r) for p in (4, 8, 16, 32, 64) for r in (2, 4)]
    curve = _sweep(lambda q, s: idx.search(q, k=args.k, nprobe=s[0], refine_factor=s[1])[1],
                   Q, gt, settings, args.k)
    return {"build_s": build_s, "build_peak_mib": build_rss, "search_peak_mib": _peak_mib(),
            "mapped": mapped, "disk_bytes": os.path.getsize(out), "curve": curve,
            "index": f"IVF-PQ nlist={nlist} m={dim // 2} nbits=4, fp32 re-rank"
                     f"{' (mapped)' if mapped else ''}"}


def diskann_worker(args):
    import diskannpy as dap

    budget_gb = _gib(args.budget)
    d = os.path.join(args.workdir, "diskann")
    t0 = time.perf_counter()
    if not os.path.exists(os.path.join(d, "ann_disk.index")):
        os.makedirs(d, exist_ok=True)
        dap.build_disk_index(data=args.base, distance_metric="l2", index_directory=d,
                             complexity=100, graph_degree=48,
                             search_memory_maximum=budget_gb * 0.5,
                             build_memory_maximum=budget_gb, num_threads=os.cpu_count(),
                             vector_dtype=np.float32)
    build_s = time.perf_counter() - t0
    build_rss = _peak_mib()
    import warpsearch as ws  # only to read the query files

    Q = ws.open_vectors(args.queries).read().astype(np.float32)
    gt = ws.open_vectors(args.gt).read()
    idx = dap.StaticDiskIndex(index_directory=d, num_threads=os.cpu_count(),
                              num_nodes_to_cache=min(args.n // 100, 100_000),
                              distance_metric="l2", vector_dtype=np.float32,
                              dimensions=args.dim)
    settings = [16, 24, 32, 48, 64, 96, 128, 192]
    curve = _sweep(lambda q, s: idx.batch_search(q, k_neighbors=args.k, complexity=max(s, args.k),
                                                 num_threads=os.cpu_count(),
                                                 beam_width=4).identifiers,
                   Q, gt, settings, args.k)
    disk = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    return {"build_s": build_s, "build_peak_mib": build_rss, "search_peak_mib": _peak_mib(),
            "disk_bytes": disk, "curve": curve,
            "index": "DiskANN R=48 L=100, PQ codes in RAM, beam width 4"}


def _gib(text):
    from warpsearch.build import parse_bytes

    return parse_bytes(text) / 2**30


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=96)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--budget", default="1GB", help="RAM for the build and the search")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--diskann-python", help="an interpreter with diskannpy (else skipped)")
    ap.add_argument("--worker", choices=["warpsearch", "diskann"], help=argparse.SUPPRESS)
    ap.add_argument("--base", help=argparse.SUPPRESS)
    ap.add_argument("--queries", help=argparse.SUPPRESS)
    ap.add_argument("--gt", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        fn = warpsearch_worker if args.worker == "warpsearch" else diskann_worker
        print(json.dumps(fn(args)))
        return 0
    from run import interpolate_qps

    os.makedirs(args.workdir, exist_ok=True)
    t0 = time.perf_counter()
    base, qf, gtf = make_data(args.workdir, args.n, args.dim, args.nq, args.k)
    print(f"# data ready in {time.perf_counter() - t0:.0f} s: {base}", flush=True)
    common = ["--n", str(args.n), "--dim", str(args.dim), "--k", str(args.k), "--budget",
              args.budget, "--workdir", args.workdir, "--base", base, "--queries", qf,
              "--gt", gtf]
    runs = {}
    for name, python in (("warpsearch", sys.executable), ("diskann", args.diskann_python)):
        if python is None:
            print(f"# {name}: skipped (no --diskann-python)")
            continue
        env = dict(os.environ)
        if name == "diskann":
            env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"),
                                                             os.path.dirname(os.path.dirname(
                                                                 __import__("warpsearch").__file__)))
                                                 if p)
        r = subprocess.run([python, os.path.abspath(__file__), "--worker", name] + common,
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            print(f"# {name} failed:\n{r.stderr[-2000:]}")
            continue
        runs[name] = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"# synthetic clustered Gaussians {args.n:,} x {args.dim}, RAM budget {args.budget}, "
          f"{os.cpu_count()} cores, k={args.k}")
    print("| engine | index | build s | peak RSS MiB after build | peak RSS MiB, build and search | disk MiB | "
          "QPS @0.90 | QPS @0.95 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        q = [interpolate_qps(r["curve"], t) for t in (0.90, 0.95)]
        cells = [("-" if x is None else f"{x['qps']:,.0f}") for x in q]
        print(f"| {name} | {r['index']} | {r['build_s']:.0f} | {r['build_peak_mib']:,.0f} | "
              f"{r['search_peak_mib']:,.0f} | {r['disk_bytes'] / 2**20:,.0f} | {cells[0]} | "
              f"{cells[1]} |")
    for name, r in runs.items():
        print(f"# {name} curve: " + ", ".join(f"{c['setting']}: {c['recall']:.3f} / "
                                            f"{c['qps']:,.0f}" for c in r["curve"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
