# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Embedded database benchmark on real payloads: ingest throughput with the
write-ahead log fsynced, then recall@k and QPS of filtered search per
selectivity band, against exact ground truth computed with NumPy on the
allowed subset.

    python benchmarks/db_bench.py /path/text-dev.npz --limit 20000

The collection holds the real payloads of text-dev.npz (``section``,
``priority``, ``size_kb`` from ``payload_installed_size_kb``; -1 becomes null).
Bands: no filter (~100%), ``section == "libs"`` (~8-10%), a size range
(~1%), ``priority == "required"`` (<0.1%), plus a compound filter.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np
from warpsearch.contrib.evaluation import exact_knn, recall_at_k


def band_filters(section, priority, size):
    """(name, filter dict, allowed mask) per band; masks computed independently in NumPy."""
    big = int(np.percentile(size[size >= 0], 99)) if (size >= 0).any() else 0
    return [
        ("all (no filter)", None, np.ones(len(section), bool)),
        ('section == "libs"', {"section": "libs"}, section == "libs"),
        ('section in {"python","rust"} and size < 1000',
         {"must": [{"key": "section", "match": {"any": ["python", "rust"]}},
                   {"key": "size_kb", "range": {"gte": 0, "lt": 1000}}]},
         np.isin(section, ["python", "rust"]) & (size >= 0) & (size < 1000)),
        (f"size_kb >= {big}", {"key": "size_kb", "range": {"gte": big}}, size >= big),
        ('priority == "required"', {"priority": "required"}, priority == "required"),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="path of text-dev.npz")
    ap.add_argument("--limit", type=int, default=20000, help="first N base vectors (0: all)")
    ap.add_argument("--nq", type=int, default=200, help="queries")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ef", default="64,128", help="comma-separated ef values")
    ap.add_argument("--segment-size", type=int, default=8192)
    ap.add_argument("--batch", type=int, default=1000, help="points per upsert call")
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--fsync", default="always", choices=["always", "interval", "never"])
    ap.add_argument("--threads", type=int, default=0, help="engine threads (0: default)")
    ap.add_argument("--dir", default=None, help="database directory (default: a temp dir)")
    args = ap.parse_args(argv)

    import warpsearch as ws

    if args.threads:
        ws.set_num_threads(args.threads)
    d = np.load(args.dataset)
    n = args.limit or d["base"].shape[0]
    base = np.ascontiguousarray(d["base"][:n], dtype=np.float32)
    queries = np.ascontiguousarray(d["queries"][: args.nq], dtype=np.float32)
    section = d["payload_section"][:n].astype(str)
    priority = d["payload_priority"][:n].astype(str)
    size = d["payload_installed_size_kb"][:n].astype(np.int64)
    payloads = [{"section": s, "priority": p, "size_kb": (int(z) if z >= 0 else None)}
                for s, p, z in zip(section.tolist(), priority.tolist(), size.tolist())]
    metric = str(d["metric"])  # "ip" on normalized vectors

    root = args.dir or tempfile.mkdtemp(prefix="ws_db_bench_")
    db = ws.connect(root, fsync=args.fsync)
    try:
        col = db.create_collection("bench", dim=base.shape[1], metric=metric,
                                   index=ws.HNSWConfig(M=args.M, ef_construction=args.efc),
                                   schema={"section": "keyword", "priority": "keyword",
                                           "size_kb": "int"},
                                   segment_size=args.segment_size)
        t0 = time.perf_counter()
        for s in range(0, n, args.batch):
            e = min(n, s + args.batch)
            col.upsert(list(range(s, e)), base[s:e], payloads[s:e], progress=False)
        t_ack = time.perf_counter() - t0
        col.flush()  # wait for background sealing (index builds) and checkpoint
        t_all = time.perf_counter() - t0
        info = col.info()
        print(f"# warpsearch db benchmark: {n} points, dim {base.shape[1]}, metric {metric}, "
              f"threads {ws.get_num_threads()}")
        print(f"segments: {info['sealed_segments']} sealed (HNSW M={args.M}, "
              f"efc={args.efc}) + {info['mutable_rows']} rows mutable (exact)")
        print(f"ingest (fsync={args.fsync}, {args.batch} points per call): "
              f"{n / t_ack:,.0f} points/s acknowledged; "
              f"{n / t_all:,.0f} points/s including background index builds "
              f"({t_all:.1f} s)")
        print()
        print(f"| filter | selectivity | allowed | ef | recall@{args.k} | QPS (1 query/call) "
              f"| QPS (batch) | plan |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for name, flt, allowed in band_filters(section, priority, size):
            assert col.count(flt) == int(allowed.sum()), name
            truth = exact_knn(base, queries, args.k, metric, allowed=np.flatnonzero(allowed))[1]
            for ef in [int(v) for v in args.ef.split(",")]:
                col.search(queries[0], k=args.k, filter=flt, ef=ef)  # warm up
                t = time.perf_counter()
                res = [col.search(q, k=args.k, filter=flt, ef=ef, with_payload=False)
                       for q in queries]
                qps1 = len(queries) / (time.perf_counter() - t)
                t = time.perf_counter()
                col.search_batch(queries, k=args.k, filter=flt, ef=ef, with_payload=False)
                qpsb = len(queries) / (time.perf_counter() - t)
                got = np.full(truth.shape, -1, dtype=np.int64)
                for row, hits in zip(got, res):
                    row[:len(hits)] = [h.id for h in hits]
                rec = recall_at_k(got, truth)
                plan = col.explain(queries[0], k=args.k, filter=flt, ef=ef)["plan"]
                print(f"| {name} | {allowed.mean():.4%} | {int(allowed.sum())} | {ef} | "
                      f"{rec:.4f} | {qps1:,.0f} | {qpsb:,.0f} | {plan} |")
    finally:
        db.close()
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
