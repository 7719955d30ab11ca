# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Makes the demo data shipped in the package (python/warpsearch/data/sift_demo.npz).

A fixed random sample of real SIFT descriptors (uint8, 128-d) from the
development dataset ``sift-dev.npz``: base vectors and held-out queries, kept
as uint8 and compressed so the file stays well under 1 MB. Usage::

    python benchmarks/make_sift_demo.py /path/to/sift-dev.npz [--n 6000 --nq 200]
"""

import argparse
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "python", "warpsearch", "data",
                   "sift_demo.npz")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="sift-dev.npz")
    ap.add_argument("--n", type=int, default=6000, help="base vectors (default 6000)")
    ap.add_argument("--nq", type=int, default=200, help="queries (default 200)")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    rng = np.random.default_rng(2026)
    with np.load(args.source) as src:
        base, queries = src["base"], src["queries"]
        if str(src["metric"]) != "l2" or base.dtype != np.uint8:
            raise ValueError("expected the uint8 l2 SIFT dataset")
    b = base[np.sort(rng.choice(len(base), args.n, replace=False))]
    q = queries[np.sort(rng.choice(len(queries), args.nq, replace=False))]
    note = (f"{args.n} base and {args.nq} query SIFT descriptors (uint8, 128-d) sampled "
            "with seed 2026 from sift-dev (OpenCV SIFT on scikit-image sample images; "
            "queries from images not in the base)")
    np.savez_compressed(args.out, base=b, queries=q, metric=np.array("l2"),
                        source=np.array(note))
    print(f"{os.path.abspath(args.out)}: {os.path.getsize(args.out):,} bytes")


if __name__ == "__main__":
    main()
