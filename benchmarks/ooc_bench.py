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


KINDS = ("clustered", "spectrum")


def _chunk(kind, rng, m, dim, model):
    if kind == "clustered":
        centres, spread = model
        lab = rng.integers(0, len(centres), m)
        return centres[lab] + rng.standard_normal((m, dim)).astype(np.float32) * spread[lab]
    basis, scales = model
    return (rng.standard_normal((m, dim)).astype(np.float32) * scales) @ basis


def make_data(workdir, n, dim, nq, k, seed=0, centre_scale=2.0, kind="clustered"):
    """Synthetic data of ``kind``, written in chunks, with queries and exact ground truth.

    * ``clustered``: 1,024 Gaussian clusters with anisotropic lognormal spreads.
      ``centre_scale`` sets how far apart the centres lie against the spreads: at
      2.0 the clusters are well separated and easy for IVF (a few probes reach
      recall 0.99).
    * ``spectrum``: one Gaussian with a power-law spectrum (the i-th principal axis
      has scale 1/i) in a random rotation: no clusters, a slowly decaying
      variance like the principal components of real embeddings, and no cell of a
      coarse quantizer that holds a query's neighbours alone.

    The file names carry the kind (and the scale when it is not 2.0)."""
    import warpsearch as ws
    from warpsearch.contrib.evaluation import exact_knn_file

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "clustered":
        tag = "clustered" + ("" if centre_scale == 2.0 else f"-s{centre_scale:g}")
    else:
        tag = kind
    stem = os.path.join(workdir, f"synthetic-{tag}-{n}x{dim}")
    base, qf, gtf = stem + ".fbin", stem + ".queries.fbin", stem + f".gt{k}.ibin"
    if os.path.exists(gtf):
        return base, qf, gtf
    rng = np.random.default_rng(seed)
    if kind == "clustered":
        c = 1024
        model = ((rng.standard_normal((c, dim)) * centre_scale).astype(np.float32),
                 rng.lognormal(0, 0.5, (c, dim)).astype(np.float32))
    else:
        basis = np.linalg.qr(rng.standard_normal((dim, dim)))[0].astype(np.float32)
        model = (basis, (np.arange(1, dim + 1) ** -1.0 * 10).astype(np.float32))
    # each file is written under a temporary name and renamed: an interrupted run
    # leaves no partial file that a later one would take for finished
    with open(base + ".tmp", "wb") as f:
        np.array([n, dim], np.uint32).tofile(f)
        for s in range(0, n, 500_000):
            _chunk(kind, rng, min(500_000, n - s), dim, model).astype(np.float32).tofile(f)
    os.replace(base + ".tmp", base)
    Q = _chunk(kind, rng, nq, dim, model)
    ws.write_vectors(qf, Q.astype(np.float32))
    _, gt = exact_knn_file(base, Q, k, "l2", progress=False)
    ws.write_vectors(gtf + ".tmp.ibin", gt.astype(np.int32))
    os.replace(gtf + ".tmp.ibin", gtf)
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


def _stem(args):
    return os.path.splitext(args.base)[0]


def _build_record(path, fn):
    """Run the build ``fn`` unless ``path`` (its record) exists; the record keeps the
    build's time and peak RSS for later search-only runs."""
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    t0 = time.perf_counter()
    fn()
    rec = {"build_s": time.perf_counter() - t0, "build_peak_mib": _peak_mib()}
    with open(path, "w") as f:
        json.dump(rec, f)
    return rec


def _ws_layout(args):
    nlist = int(2 ** round(np.log2(4 * np.sqrt(args.n))))
    return _stem(args) + ".warpsearch.ws", nlist, args.dim // 2


def warpsearch_build(args):
    import warpsearch as ws

    out, nlist, m = _ws_layout(args)
    return _build_record(out + ".build.json", lambda: ws.build_index(
        args.base, out, index="ivf_pq", nlist=nlist, m=m, nbits=4, refine="fp32",
        memory_budget=args.build_budget or args.budget, progress=False))


def warpsearch_search(args):
    import warpsearch as ws

    out, nlist, m = _ws_layout(args)
    idx = ws.load_index(out, mmap=True)
    Q = ws.open_vectors(args.queries).read().astype(np.float32)
    gt = ws.open_vectors(args.gt).read()
    settings = [(p, r) for p in (4, 8, 16, 32, 64, 128) for r in (2, 4, 8)]
    curve = _sweep(lambda q, s: idx.search(q, k=args.k, nprobe=s[0], refine_factor=s[1])[1],
                   Q, gt, settings, args.k)
    for c in curve:  # what each query read of the mapped re-rank vectors
        st = idx.search(Q[:100], k=args.k, nprobe=c["setting"][0], refine_factor=c["setting"][1],
                        return_stats=True)[2]
        c["refine_bytes_per_query"] = st["refine_bytes"] / 100
    return {"search_peak_mib": _peak_mib(), "disk_bytes": os.path.getsize(out),
            "curve": curve,
            "index": f"IVF-PQ nlist={nlist} m={m} nbits=4, fp32 re-rank (mapped)"}


def _diskann_dir(args):
    return _stem(args) + f".diskann-R{args.graph_degree}-L{args.complexity}"


def diskann_build(args):
    import diskannpy as dap

    d = _diskann_dir(args)
    os.makedirs(d, exist_ok=True)
    return _build_record(os.path.join(d, "build.json"), lambda: dap.build_disk_index(
        data=args.base, distance_metric="l2", index_directory=d,
        complexity=args.complexity, graph_degree=args.graph_degree,
        search_memory_maximum=_gib(args.budget) * 0.5,
        build_memory_maximum=_gib(args.build_budget or args.budget),
        num_threads=os.cpu_count(), vector_dtype=np.float32))


def diskann_search(args):
    import diskannpy as dap
    import warpsearch as ws  # only to read the query files

    d = _diskann_dir(args)
    Q = ws.open_vectors(args.queries).read().astype(np.float32)
    gt = ws.open_vectors(args.gt).read()
    idx = dap.StaticDiskIndex(index_directory=d, num_threads=os.cpu_count(),
                              num_nodes_to_cache=min(args.n // 100, 100_000),
                              distance_metric="l2", vector_dtype=np.float32,
                              dimensions=args.dim)
    settings = [16, 24, 32, 48, 64, 96, 128, 192, 256]
    curve = _sweep(lambda q, s: idx.batch_search(q, k_neighbors=args.k, complexity=max(s, args.k),
                                                 num_threads=os.cpu_count(),
                                                 beam_width=4).identifiers,
                   Q, gt, settings, args.k)
    disk = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    return {"search_peak_mib": _peak_mib(), "disk_bytes": disk, "curve": curve,
            "index": f"DiskANN R={args.graph_degree} L={args.complexity}, PQ codes in RAM, "
                     "beam width 4"}


WORKERS = {("warpsearch", "build"): warpsearch_build, ("warpsearch", "search"): warpsearch_search,
           ("diskann", "build"): diskann_build, ("diskann", "search"): diskann_search}


def _memory_cgroup(limit_bytes):
    """A cgroup (v1 memory controller) capped at ``limit_bytes``, page cache included,
    or ``None`` where none can be made (not root, no controller)."""
    root = "/sys/fs/cgroup/memory"
    path = os.path.join(root, f"warpsearch-ooc-{os.getpid()}")
    try:
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "memory.limit_in_bytes"), "w") as f:
            f.write(str(int(limit_bytes)))
    except OSError:
        return None
    return path


def _drop_page_cache():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1")
        return True
    except OSError:
        return False


def _gib(text):
    from warpsearch.build import parse_bytes

    return parse_bytes(text) / 2**30


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=96)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--kind", choices=KINDS, default="clustered")
    ap.add_argument("--centre-scale", type=float, default=2.0)
    ap.add_argument("--budget", default="1GB",
                    help="RAM for the searches (and the builds unless --build-budget)")
    ap.add_argument("--build-budget",
                    help="RAM for the builds (default: --budget). warpsearch streams the "
                         "data but holds the index it builds (codes and re-rank copy); "
                         "DiskANN past its data and graph builds in overlapping partitions")
    ap.add_argument("--enforce", action="store_true",
                    help="search inside a memory cgroup capped at --budget (page cache "
                         "included), after dropping the page cache: needs root")
    ap.add_argument("--engines", default="warpsearch,diskann")
    ap.add_argument("--phases", default="build,search",
                    help="data (only make the files), build, search")
    ap.add_argument("--graph-degree", type=int, default=48, help="DiskANN R")
    ap.add_argument("--complexity", type=int, default=100, help="DiskANN build L")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--diskann-python", help="an interpreter with diskannpy (else skipped)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--base", help=argparse.SUPPRESS)
    ap.add_argument("--queries", help=argparse.SUPPRESS)
    ap.add_argument("--gt", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker, args.phase](args)))
        return 0
    from run import interpolate_qps

    os.makedirs(args.workdir, exist_ok=True)
    t0 = time.perf_counter()
    base, qf, gtf = make_data(args.workdir, args.n, args.dim, args.nq, args.k,
                              centre_scale=args.centre_scale, kind=args.kind)
    print(f"# data ready in {time.perf_counter() - t0:.0f} s: {base}", flush=True)
    if args.phases == "data":
        return 0
    common = ["--n", str(args.n), "--dim", str(args.dim), "--k", str(args.k), "--budget",
              args.budget, "--workdir", args.workdir, "--base", base, "--queries", qf,
              "--gt", gtf, "--graph-degree", str(args.graph_degree), "--complexity",
              str(args.complexity)] + (["--build-budget", args.build_budget]
                                       if args.build_budget else [])
    cgroup = None
    if args.enforce and "search" in args.phases:
        cgroup = _memory_cgroup(_gib(args.budget) * 2**30)
        if cgroup is None:
            print("# --enforce: no memory cgroup could be made (root and the v1 memory "
                  "controller are needed); searches are not capped")
    pythons = {"warpsearch": sys.executable, "diskann": args.diskann_python}
    runs = {}
    for name in args.engines.split(","):
        python = pythons[name]
        if python is None:
            print(f"# {name}: skipped (no --diskann-python)")
            continue
        env = dict(os.environ)
        if name == "diskann":
            pkg = os.path.dirname(os.path.dirname(__import__("warpsearch").__file__))
            env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), pkg) if p)
        res = {}
        for phase in ("build", "search"):
            if phase not in args.phases and not (phase == "build" and "search" in args.phases):
                continue
            capped = phase == "search" and cgroup is not None
            if capped and not _drop_page_cache():
                print("# --enforce: the page cache could not be dropped")

            def enter(path=cgroup if capped else None):
                if path:
                    with open(os.path.join(path, "cgroup.procs"), "w") as f:
                        f.write(str(os.getpid()))

            t1 = time.perf_counter()
            r = subprocess.run([python, os.path.abspath(__file__), "--worker", name, "--phase",
                                phase] + common, capture_output=True, text=True, env=env,
                               preexec_fn=enter)
            if r.returncode != 0:
                print(f"# {name} {phase} failed (rc {r.returncode}):\n{r.stderr[-2000:]}")
                break
            res.update(json.loads(r.stdout.strip().splitlines()[-1]))
            print(f"# {name} {phase} done in {time.perf_counter() - t1:.0f} s", flush=True)
        if "curve" in res:
            res["capped"] = cgroup is not None
            runs[name] = res
    if cgroup:
        os.rmdir(cgroup)
    label = (f"centre scale {args.centre_scale:g}" if args.kind == "clustered"
             else "power-law spectrum")
    print(f"# synthetic {args.kind} ({label}) {args.n:,} x {args.dim}, search RAM budget "
          f"{args.budget}{' (enforced: memory cgroup, cold page cache)' if cgroup else ''}, "
          f"build budget {args.build_budget or args.budget}, {os.cpu_count()} cores, k={args.k}")
    print("| engine | index | build s | build peak RSS MiB | search peak RSS MiB | disk MiB | "
          "QPS @0.90 | QPS @0.95 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        q = [interpolate_qps(r["curve"], t) for t in (0.90, 0.95)]
        cells = [("-" if x is None else f"{x['qps']:,.0f}") for x in q]
        print(f"| {name} | {r['index']} | {r['build_s']:.0f} | {r['build_peak_mib']:,.0f} | "
              f"{r['search_peak_mib']:,.0f} | {r['disk_bytes'] / 2**20:,.0f} | {cells[0]} | "
              f"{cells[1]} |")
    for name, r in runs.items():
        print(f"# {name} curve (setting: recall / QPS [/ re-rank bytes read per query]): "
              + ", ".join(f"{c['setting']}: {c['recall']:.3f} / {c['qps']:,.0f}"
                          + (f" / {c['refine_bytes_per_query']:,.0f} B"
                             if "refine_bytes_per_query" in c else "") for c in r["curve"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
