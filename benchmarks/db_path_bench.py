# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The collection path against the index inside it: QPS of ``col.search`` (one query
per call) and ``col.search_batch`` beside the same index type searched directly, on
the same data with the same parameters, at several ``ef`` (recall@k beside each).

    python benchmarks/db_path_bench.py /path/text-dev.npz --limit 58000 --k 10,100

The collection holds the real payloads of the dataset (``section``, ``priority``,
``size_kb``) and uses its defaults (``segment_size`` included) unless told otherwise;
it is measured after ``flush()``. The bare index is an ``HNSWIndex`` built with the
collection's ``M`` / ``ef_construction`` over the same vectors.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time

import numpy as np


def _qps(fn, n, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def _qps_interleaved(fns, n, repeat):
    """Best QPS of each of ``fns``, timed in turns (one pass of each per round), so a
    drift of the machine's speed during the run reaches them all alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return [n / b for b in best]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="path of an .npz with base, queries, gt_ids, metric")
    ap.add_argument("--limit", type=int, default=0, help="first N base vectors (0: all)")
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--k", default="10,100", help="comma-separated k values")
    ap.add_argument("--ef", default="", help="comma-separated ef values (default: by k)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--segment-size", type=int, default=0, help="0: the default")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import warpsearch as ws
    from warpsearch.contrib.evaluation import recall_at_k

    ws.set_num_threads(args.threads)
    d = np.load(args.dataset)
    n = args.limit or d["base"].shape[0]
    base = np.ascontiguousarray(d["base"][:n], dtype=np.float32)
    queries = np.ascontiguousarray(d["queries"][: args.nq], dtype=np.float32)
    metric = "cosine" if str(d["metric"]) == "ip" else "l2"
    payloads = None
    if "payload_section" in d.files:
        sec, pri = d["payload_section"][:n].tolist(), d["payload_priority"][:n].tolist()
        size = d["payload_installed_size_kb"][:n].tolist()
        payloads = [{"section": s, "priority": p, "size_kb": z if z >= 0 else None}
                    for s, p, z in zip(sec, pri, size)]
    ks = [int(v) for v in args.k.split(",")]
    kmax = max(ks)
    # exact ground truth over the first n rows (the file's covers the whole base)
    gt = ws.FlatIndex(base.shape[1], metric)
    gt.add(base)
    _, gt_ids = gt.search(queries, k=kmax)

    cfg = ws.HNSWConfig()
    root = tempfile.mkdtemp(prefix="ws_db_path_")
    db = ws.connect(root, fsync="never")
    rows = []
    try:
        kw = {"segment_size": args.segment_size} if args.segment_size else {}
        col = db.create_collection("bench", dim=base.shape[1], metric=metric, index=cfg,
                                   schema={"section": "keyword", "priority": "keyword",
                                           "size_kb": "int"}, **kw)
        t0 = time.perf_counter()
        for s in range(0, n, 4096):
            col.upsert(list(range(s, min(n, s + 4096))), base[s:s + 4096],
                       None if payloads is None else payloads[s:s + 4096], progress=False)
        t_ack = time.perf_counter() - t0
        col.flush()
        t_flush = time.perf_counter() - t0
        info = col.info()
        t0 = time.perf_counter()
        idx = ws.HNSWIndex(base.shape[1], metric, M=cfg.M, ef_construction=cfg.ef_construction)
        idx.add(base)
        t_index = time.perf_counter() - t0
        print(f"# {n} points, dim {base.shape[1]}, {metric}, {args.threads} thread(s); "
              f"collection: upserts {t_ack:.1f} s, flushed {t_flush:.1f} s; bare index "
              f"build {t_index:.1f} s; info {json.dumps({k: info[k] for k in info if k in ('sealed_segments', 'mutable_rows', 'indexed_rows', 'segments')})}")
        print("| k | ef | recall col / index | one query: col / index QPS | ratio "
              "| batch: col / index QPS | ratio | batch, every Hit and payload read "
              "| one query: col / its own segment's index | batch: col / its own index |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for k in ks:
            efs = [int(v) for v in args.ef.split(",")] if args.ef else \
                sorted({max(k, e) for e in (32, 64, 128, 256)})
            for ef in efs:
                hits = col.search_batch(queries, k=k, ef=ef)
                col_ids = np.array([[h.id for h in r] + [-1] * (k - len(r)) for r in hits])
                _, I = idx.search(queries, k=k, ef=ef)
                rc, ri = recall_at_k(col_ids, gt_ids, k), recall_at_k(I, gt_ids, k)
                segs = [s for s in col.state.view if s.n]
                own = segs[0].index if len(segs) == 1 else None
                one = [lambda: [col.search(q, k=k, ef=ef) for q in queries],
                       lambda: [idx.search(q, k=k, ef=ef) for q in queries]]
                if own is not None:  # the collection's own index (same graph)
                    one.append(lambda: [own.search(q, k=k, ef=ef) for q in queries])
                one_c, one_i, *rest = _qps_interleaved(one, len(queries), args.repeat)
                one_o = rest[0] if rest else float("nan")
                bat = [lambda: col.search_batch(queries, k=k, ef=ef),
                       lambda: idx.search(queries, k=k, ef=ef)]
                if own is not None:
                    bat.append(lambda: own.search(queries, k=k, ef=ef))
                bat_c, bat_i, *rest = _qps_interleaved(bat, len(queries), args.repeat)
                bat_o = rest[0] if rest else float("nan")
                # every Hit of the batch made and its payload decoded
                bat_m = _qps(lambda: [[h.payload for h in r]
                                      for r in col.search_batch(queries, k=k, ef=ef)],
                             len(queries), args.repeat)
                row = dict(k=k, ef=ef, recall_col=rc, recall_index=ri, one_col=one_c,
                           one_index=one_i, batch_col=bat_c, batch_index=bat_i,
                           batch_col_materialized=bat_m, one_own_index=one_o,
                           batch_own_index=bat_o)
                rows.append(row)
                print(f"| {k} | {ef} | {rc:.3f} / {ri:.3f} | {one_c:,.0f} / {one_i:,.0f} | "
                      f"{one_c / one_i:.2f}x | {bat_c:,.0f} / {bat_i:,.0f} | "
                      f"{bat_c / bat_i:.2f}x | {bat_m / bat_i:.2f}x | {one_c / one_o:.2f}x | "
                      f"{bat_c / bat_o:.2f}x |",
                      flush=True)
    finally:
        db.close()
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": " ".join(__import__("sys").argv), "n": n, "rows": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
