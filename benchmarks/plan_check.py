# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The planner's memory against ``memory_usage()`` of indexes built as it says.

    python benchmarks/plan_check.py --n 1000000 --dim 128 --recall 0.95,0.9 --ram 4GB
    python benchmarks/plan_check.py --index-file big.ws   # an IVF-PQ index built already

For each recall target, ``ws.plan`` picks an index under ``--ram``; the index is then
built with the plan's parameters on synthetic data (clustered Gaussians, labelled as
such) in chunks of 200,000, saved and loaded again, and the ``memory_usage()`` of the
loaded index (what a server holds) compared with the plan's bytes (target: within
10%). The in-process figure after the chunked adds is shown beside it: growing an
index in chunks keeps spare capacity until it is saved and loaded. With
``--index-file``, an IVF-PQ index built already (e.g. by ``ooc_bench.py`` at 10M) is
loaded into RAM and its ``memory_usage()`` compared with the planner's arithmetic
(``estimate_memory``) for its size and parameters.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--recall", default="0.95,0.9")
    ap.add_argument("--ram", default="4GB")
    ap.add_argument("--index-file", help="check this built IVF-PQ index instead")
    args = ap.parse_args(argv)
    import warpsearch as ws

    if args.index_file:
        from warpsearch.planner import estimate_memory

        t0 = time.perf_counter()
        idx = ws.load_index(args.index_file)
        params = {"nlist": idx.nlist, "m": idx.m, "nbits": idx.nbits, "refine": idx.refine}
        est = estimate_memory(len(idx), idx.dim, index="ivf_pq", metric=idx.metric, **params)
        used = idx.memory_usage()
        print(f"# {args.index_file}: {len(idx):,} x {idx.dim}, loaded in "
              f"{time.perf_counter() - t0:.1f} s")
        print("| index | planned bytes | memory_usage() loaded | error |")
        print("|---|---|---|---|")
        print(f"| ivf_pq {params} | {est['bytes']:,} | {used:,} | "
              f"{(est['bytes'] - used) / used:+.1%} |")
        return 0

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, args.dim)).astype(np.float32) * 2
    print(f"# synthetic clustered Gaussians, n={args.n:,} dim={args.dim} ram={args.ram}")
    print("| recall target | planned index | planned bytes | memory_usage() loaded | error | "
          "after chunked adds | build s |")
    print("|---|---|---|---|---|---|---|")
    for r in (float(x) for x in args.recall.split(",")):
        p = ws.plan(args.n, args.dim, recall=r, ram=args.ram)
        t0 = time.perf_counter()
        if p.index == "hnsw":
            idx = ws.HNSWIndex(args.dim, **p.params)
        else:
            idx = ws.IVFPQIndex(args.dim, **p.params)
            idx.train(centres[rng.integers(0, 1000, 100_000)]
                      + rng.standard_normal((100_000, args.dim)).astype(np.float32))
        for s in range(0, args.n, 200_000):
            m = min(200_000, args.n - s)
            idx.add(centres[rng.integers(0, 1000, m)]
                    + rng.standard_normal((m, args.dim)).astype(np.float32))
        grown = idx.memory_usage()
        build_s = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            idx.save(os.path.join(tmp, "i.ws"))
            del idx
            used = ws.load_index(os.path.join(tmp, "i.ws")).memory_usage()
        print(f"| {r} | {p.index} {p.params} | {p.bytes:,} | {used:,} | "
              f"{(p.bytes - used) / used:+.1%} | {grown:,} | {build_s:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
