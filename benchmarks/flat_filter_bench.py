# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Filtered exact search benchmark: FlatIndex QPS by allowed fraction.

Random masks allow a fraction of the rows spread over the data; each (storage, nq,
fraction) is searched --repeat times and the best CPU time (process time, steadier
than wall time on a shared machine) gives the QPS. Run it on two builds to compare.

    python benchmarks/flat_filter_bench.py --storage fp32,sq8 --nq 1,10,100 --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import warpsearch as ws


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--storage", default="fp32,sq8")
    ap.add_argument("--metric", default="l2")
    ap.add_argument("--nq", default="100")
    ap.add_argument("--fractions", default="0.01,0.08,0.3,1.0")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    ws.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((a.n, a.dim), dtype=np.float32)
    nqs = [int(v) for v in a.nq.split(",")]
    xq = rng.standard_normal((max(nqs), a.dim), dtype=np.float32)
    print(f"{'storage':8s} {'nq':>5s} {'allowed':>8s} {'QPS':>10s} {'ms':>9s}")
    for storage in a.storage.split(","):
        idx = ws.FlatIndex(dim=a.dim, metric=a.metric, storage=storage)
        idx.add(xb)
        for nq in nqs:
            for f in (float(v) for v in a.fractions.split(",")):
                mask = rng.random(a.n) < f if f < 1 else None
                idx.search(xq[:nq], k=a.k, filter=mask)
                best = np.inf
                for _ in range(a.repeat):
                    t = time.process_time()
                    idx.search(xq[:nq], k=a.k, filter=mask)
                    best = min(best, time.process_time() - t)
                print(f"{storage:8s} {nq:5d} {f * 100:7.1f}% {nq / best:10.1f} {best * 1e3:9.2f}", flush=True)


if __name__ == "__main__":
    main()
