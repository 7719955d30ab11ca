# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The planner's memory against ``memory_usage()`` of indexes built as it says.

    python benchmarks/plan_check.py --n 1000000 --dim 128 --recall 0.95,0.9 --ram 4GB

For each recall target, ``ws.plan`` picks an index under ``--ram``; the index is then
built with the plan's parameters on synthetic data (clustered Gaussians, labelled as
such) in chunks of 200,000, saved and loaded again, and the ``memory_usage()`` of the
loaded index (what a server holds) compared with the plan's bytes (target: within
10%). The in-process figure after the chunked adds is shown beside it: growing an
index in chunks keeps spare capacity until it is saved and loaded.
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
    args = ap.parse_args(argv)
    import warpsearch as ws

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
