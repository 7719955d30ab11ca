# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Synthetic datasets unlike the dev sets, for checking that defaults tuned at build
time hold on data the code was never run on (other dimensions, other distributions).

    python benchmarks/ann/synth.py --kind lowrank --n 100000 --dim 256 --out lowrank.npz
    python benchmarks/ann/run.py lowrank.npz --ef 16,32,64,128,256

Kinds (every set is labelled synthetic in its file name and its ``kind`` key):

* ``mixture``: anisotropic Gaussian clusters of unequal sizes and spreads;
* ``heavy``: Student-t (3 degrees of freedom) clusters, heavy-tailed coordinates;
* ``lowrank``: points on a 16-dimensional subspace embedded in ``dim`` with noise
  (intrinsic dimension far below the ambient one, like many embeddings);
* ``sphere``: unit vectors in clustered directions, searched by inner product;
* ``uint8``: non-negative integer histograms (as image descriptors are), l2.

Queries are drawn from the same distribution (not from the base); the exact
neighbours are computed in float64.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

KINDS = ("mixture", "heavy", "lowrank", "sphere", "uint8")


def generate(kind: str, n: int, nq: int, dim: int, seed: int = 0):
    """``(base, queries, metric)`` of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    total = n + nq
    if kind in ("mixture", "heavy", "sphere", "uint8"):
        c = max(8, int(np.sqrt(total) / 4))
        weights = rng.dirichlet(np.full(c, 0.5))
        labels = rng.choice(c, total, p=weights)
        centres = rng.standard_normal((c, dim)) * 3
        if kind == "heavy":
            noise = rng.standard_t(3, (total, dim))
        else:
            scales = rng.lognormal(0, 0.7, (c, dim))  # anisotropic, per cluster
            noise = rng.standard_normal((total, dim)) * scales[labels]
        X = centres[labels] + noise
        metric = "l2"
        if kind == "sphere":
            X /= np.linalg.norm(X, axis=1, keepdims=True)
            metric = "ip"
        elif kind == "uint8":
            X = np.clip(np.round(np.abs(X) * 12), 0, 255)
    else:  # lowrank
        basis = np.linalg.qr(rng.standard_normal((dim, 16)))[0].T
        Z = rng.standard_normal((total, 16)) * rng.lognormal(0, 0.5, 16)
        X = Z @ basis * 4 + 0.05 * rng.standard_normal((total, dim))
        metric = "l2"
    X = X.astype(np.float32)
    perm = rng.permutation(total)
    return X[perm[:n]], X[perm[n:]], metric


def main(argv=None) -> int:
    from warpsearch.contrib.evaluation import exact_knn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=KINDS, required=True)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="the .npz to write")
    args = ap.parse_args(argv)
    base, queries, metric = generate(args.kind, args.n, args.nq, args.dim, args.seed)
    gt = exact_knn(base, queries, args.k, metric)[1]
    np.savez(args.out, base=base, queries=queries, gt_ids=gt, metric=np.array(metric),
             kind=np.array(f"synthetic-{args.kind}"))
    print(f"{args.out}: synthetic {args.kind}, {args.n:,} x {args.dim}, {args.nq} queries, "
          f"metric {metric}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
