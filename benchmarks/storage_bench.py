# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Flat storage benchmark: FlatIndex(storage=...) against faiss-cpu's equivalents.

For each storage the same data is searched by warpsearch and by faiss in alternating
rounds (best of --repeat), one query at a time (--single queries) and as one batch
(all queries), and the table reports recall@10, QPS, the warpsearch/faiss ratio and
bytes per vector:

- fp16 / sq8 / sq4: ``IndexScalarQuantizer`` (QT_fp16, QT_8bit, QT_4bit);
- binary + fp32 re-rank: ``IndexRefineFlat(IndexLSH(d, d, rotate_data=False,
  train_thresholds=True))``, sign bits with a per-dimension threshold and an
  exact re-rank of k * factor candidates (same factor for both);
- fp32: ``IndexFlat``.

    python benchmarks/storage_bench.py /path/text-dev.npz --threads 1
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from warpsearch.contrib.evaluation import recall_at_k

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before faiss is imported


def recall(ids: np.ndarray, gt: np.ndarray) -> float:
    return recall_at_k(ids, gt, 10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--single", type=int, default=100, help="queries timed one at a time")
    ap.add_argument("--factor", type=int, default=10, help="re-rank factor of binary storage")
    ap.add_argument("--storages", default="fp32,fp16,sq8,sq4,binary")
    args = ap.parse_args()

    import faiss
    import warpsearch as ws
    from warpsearch.contrib.timing import best_time as timed
    z = np.load(args.dataset)
    base = np.ascontiguousarray(z["base"], dtype=np.float32)
    q = np.ascontiguousarray(z["queries"], dtype=np.float32)
    gt, metric = z["gt_ids"], str(z["metric"])
    d, k = base.shape[1], 10
    ws.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    fmetric = faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2
    print(f"# {os.path.basename(args.dataset)}: n={len(base)} d={d} metric={metric} "
          f"threads={args.threads} simd={ws.build_info()['simd_level']} faiss={faiss.__version__}")
    print("| storage | warpsearch recall | faiss recall | B/vec ws / faiss | batch QPS ws / faiss (ratio) "
          "| single-query QPS ws / faiss (ratio) |")
    print("|---|---|---|---|---|---|")
    for st in args.storages.split(","):
        refine = "fp32" if st == "binary" else None
        w = ws.FlatIndex(d, metric, storage=st, refine=refine)
        w.add(base)
        qt = {"fp16": faiss.ScalarQuantizer.QT_fp16, "sq8": faiss.ScalarQuantizer.QT_8bit,
              "sq4": faiss.ScalarQuantizer.QT_4bit}
        if st == "fp32":
            f = faiss.IndexFlat(d, fmetric)
            fbytes = 4 * d
        elif st == "binary":
            lsh = faiss.IndexLSH(d, d, False, True)
            f = faiss.IndexRefineFlat(lsh)
            f.k_factor = args.factor
            fbytes = d // 8 + 4 * d
        else:
            f = faiss.IndexScalarQuantizer(d, qt[st], fmetric)
            fbytes = f.sa_code_size()
        f.train(base)
        f.add(base)
        rf = args.factor if st == "binary" else 4
        tw = tf = tws = tfs = float("inf")
        for _ in range(args.repeat):  # alternating rounds
            a, (_, Iw) = timed(lambda: w.search(q, k=k, refine_factor=rf), 1)
            b, (_, If) = timed(lambda: f.search(q, k), 1)
            c, _ = timed(lambda: [w.search(q[i], k=k, refine_factor=rf) for i in range(args.single)], 1)
            e, _ = timed(lambda: [f.search(q[i:i + 1], k) for i in range(args.single)], 1)
            tw, tf, tws, tfs = min(tw, a), min(tf, b), min(tws, c), min(tfs, e)
        nq, ns = len(q), args.single
        print(f"| {st}{' + fp32 re-rank x' + str(rf) if st == 'binary' else ''} | {recall(Iw, gt):.4f} "
              f"| {recall(If, gt):.4f} | {w.bytes_per_vector} / {fbytes} "
              f"| {nq / tw:,.0f} / {nq / tf:,.0f} ({tf / tw:.2f}x) "
              f"| {ns / tws:,.0f} / {ns / tfs:,.0f} ({tfs / tws:.2f}x) |", flush=True)


if __name__ == "__main__":
    main()
