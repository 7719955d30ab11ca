# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""One index against N shards (and N replicas) of it, on the CPU: build time, search QPS
and recall@k at equal parameters.

Each kind (flat, HNSW, IVF-PQ) is built once as one index and once per shard count as a
:func:`warpsearch.shard_index` over ``["cpu"] * N``; replicas share the one index (no
build). Searches are timed in rounds that run every layout once in turn (best of
``--repeat`` kept), so a slow phase of a shared machine falls on all layouts alike; the
table gives ratios to the one index. On a CPU the shards compete for the same cores:
the numbers show what sharding costs or gains there (the merge, one thread per part,
smaller graphs), not what more devices give.

    python benchmarks/shard_bench.py                      # synthetic clustered data
    python benchmarks/shard_bench.py /path/sift-dev.npz --limit 100000

The dataset is an npz with ``base``, ``queries``, ``gt_ids`` and ``metric`` (see
/work/shared/data/README.md); with ``--limit`` the base is truncated and the ground
truth recomputed.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # NumPy only scores recall here

import numpy as np  # noqa: E402
import warpsearch as ws  # noqa: E402
from warpsearch.contrib.evaluation import exact_knn, recall_at_k  # noqa: E402


def synthetic(n, dim, nq, seed=0, clusters=64):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    base = centres[rng.integers(0, clusters, n)] + 0.35 * rng.standard_normal((n, dim))
    qs = centres[rng.integers(0, clusters, nq)] + 0.35 * rng.standard_normal((nq, dim))
    return base.astype(np.float32), qs.astype(np.float32), "l2"


def load(path, limit, nq):
    z = np.load(path)
    base = np.asarray(z["base"][:limit] if limit else z["base"], dtype=np.float32)
    queries = np.asarray(z["queries"][:nq], dtype=np.float32)
    return base, queries, str(z["metric"])


KINDS = {
    "flat": ({}, {}),
    "hnsw": ({"M": 16, "ef_construction": 100}, {"ef": 64}),
    "ivf_pq": ({"nlist": 256, "nbits": 4, "refine": "fp32", "seed": 0},
               {"nprobe": 8, "refine_factor": 4}),
}


def build(kind, parts, base, metric, build_params):
    dim = base.shape[1]
    params = dict(build_params)
    if kind == "ivf_pq":
        params["m"] = dim // 2  # 2 dimensions per 4-bit code, as faiss PQ{d/2}x4fs
    t0 = time.perf_counter()
    if parts == 0:  # one plain index
        cls = {"flat": ws.FlatIndex, "hnsw": ws.HNSWIndex, "ivf_pq": ws.IVFPQIndex}[kind]
        idx = cls(dim=dim, metric=metric, device="cpu", **params)
    else:
        idx = ws.shard_index(kind, devices=["cpu"] * parts, dim=dim, metric=metric, **params)
    if kind == "ivf_pq":
        idx.train(base)
    idx.add(base)
    return idx, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", nargs="?", help="npz with base, queries, metric (default: synthetic)")
    ap.add_argument("--n", type=int, default=50_000, help="synthetic base size")
    ap.add_argument("--dim", type=int, default=64, help="synthetic dimension")
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--limit", type=int, default=0, help="first LIMIT base vectors of a dataset")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    ws.set_num_threads(a.threads)
    if a.dataset:
        base, queries, metric = load(a.dataset, a.limit, a.nq)
        name = os.path.basename(a.dataset)
    else:
        base, queries, metric = synthetic(a.n, a.dim, a.nq)
        name = "synthetic clustered"
    gt = exact_knn(base, queries, a.k, metric)[1]
    print(f"# {name}: base {base.shape}, queries {queries.shape}, metric {metric}, k={a.k}, "
          f"threads={a.threads}, simd={ws.build_info()['simd_level']}, repeat={a.repeat}")
    print("| index | layout | parts | build s | build / one | QPS | QPS / one | recall@%d |"
          % a.k)
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for kind in a.kinds:
        build_params, search_params = KINDS[kind]
        build(kind, 0, base[:5000], metric, build_params)  # warm-up: threads, allocator
        one, t_one = build(kind, 0, base, metric, build_params)
        layouts = [("one index", 1, one, t_one)]
        for s in a.shards:
            idx, t = build(kind, s, base, metric, build_params)
            layouts.append(("shards", s, idx, t))
        for s in a.shards:
            if s > 1:
                rep = ws.shard_index(one, devices=["cpu"] * s, mode="replicate")
                layouts.append(("replicas", s, rep, None))
        best = [float("inf")] * len(layouts)
        recall = [0.0] * len(layouts)
        for _, _, idx, _ in layouts:
            idx.search(queries[:50], k=a.k, **search_params)  # warm-up (threads, pages)
        for _ in range(a.repeat):
            for j, (_, _, idx, _) in enumerate(layouts):
                t0 = time.perf_counter()
                _, I = idx.search(queries, k=a.k, **search_params)
                best[j] = min(best[j], time.perf_counter() - t0)
                recall[j] = recall_at_k(I, gt, a.k)
        qps_one = len(queries) / best[0]
        for j, (layout, parts, _, t) in enumerate(layouts):
            qps = len(queries) / best[j]
            bt = "-" if t is None else f"{t:.2f}"
            br = "-" if t is None else f"{t / t_one:.2f}"
            print(f"| {kind} | {layout} | {parts} | {bt} | {br} | {qps:,.0f} | "
                  f"{qps / qps_one:.2f} | {recall[j]:.4f} |")


if __name__ == "__main__":
    main()
