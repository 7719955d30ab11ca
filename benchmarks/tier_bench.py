# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Activation time of an offloaded collection, from local disk and from object
storage (a directory standing in for it, or any fsspec URL).

    python benchmarks/tier_bench.py --n 1000000 --dim 128 --index ivf_pq
    python benchmarks/tier_bench.py --n 200000 --to s3://bucket/prefix

Builds a collection of ``--n`` synthetic points (clustered Gaussians, labelled as such)
with three indexed payload fields, then for each tier: offload, and time
``get_collection`` plus the first search (what the first request after an idle
period pays), and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--index", default="ivf_pq", choices=["ivf_pq", "hnsw", "flat"])
    ap.add_argument("--to", help="object storage URL (default: a local directory)")
    args = ap.parse_args(argv)
    import warpsearch as ws

    cfg = {"ivf_pq": ws.IVFPQConfig(nbits=4, refine="fp16"), "hnsw": ws.HNSWConfig(),
           "flat": ws.FlatConfig()}[args.index]
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((256, args.dim)).astype(np.float32) * 2
    tmp = tempfile.mkdtemp()
    try:
        db = ws.connect(os.path.join(tmp, "db"), fsync="never")
        col = db.create_collection("c", dim=args.dim, metric="l2", index=cfg,
                                   segment_size=250_000,
                                   schema={"lang": "keyword", "year": "int", "tag": "keyword"})
        t0 = time.perf_counter()
        for s in range(0, args.n, 50_000):
            m = min(50_000, args.n - s)
            X = centres[rng.integers(0, 256, m)] + rng.standard_normal((m, args.dim))
            col.upsert(list(range(s, s + m)), X.astype(np.float32),
                       [{"lang": ("en", "fr", "de")[i % 3], "year": 2000 + i % 25,
                         "tag": f"t{i % 100}"} for i in range(s, s + m)], progress=False)
        col.flush()
        build = time.perf_counter() - t0
        q = centres[:1] + rng.standard_normal((1, args.dim)).astype(np.float32)
        ref = [h.id for h in col.search(q[0], k=10, filter={"lang": "fr"})]
        print(f"# synthetic clustered Gaussians: n={args.n:,} dim={args.dim} "
              f"index={args.index}; built and flushed in {build:.0f} s")
        print("| tier | offload s | activation (open + first search) s | same results |")
        print("|---|---|---|---|")
        to = args.to or os.path.join(tmp, "cold")
        for tier, dest in (("local disk", None), ("object storage", to)):
            out = db.offload("c", to=dest)
            t0 = time.perf_counter()
            col = db.get_collection("c")
            got = [h.id for h in col.search(q[0], k=10, filter={"lang": "fr"})]
            act = time.perf_counter() - t0
            print(f"| {tier} | {out['seconds']:.2f} | {act:.2f} | {got == ref} |")
        db.close()
        print(f"# peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
