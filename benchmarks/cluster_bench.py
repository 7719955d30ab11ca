# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""What the Ray cluster costs over the embedded database, on one machine.

A head and three worker nodes start on 127.0.0.1 (``warpsearch.cluster.local``),
and on the same points:

* scatter-gather overhead: ``search_batch`` of 1, 100 and 10,000 queries on a
  collection of ``--shards`` shards (one replica each) against the embedded
  database holding every point (median of a few runs each);
* throughput against the replica count: a collection of one shard with 1, 2 and 4
  replicas, ``--clients`` threads sending batches of ``--batch`` queries for
  ``--seconds`` seconds (reads are spread over the replicas), and upserts of 100
  points at write consistency "all" (every replica writes).

Run it where nothing can leave loopback, small and bounded:

    unshare -n -- sh -c 'ip link set lo up; exec python benchmarks/cluster_bench.py'
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time

import numpy as np


def _median(fn, reps):
    from warpsearch.contrib.timing import median_time

    return median_time(fn, reps)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args(argv)

    from warpsearch.cluster.local import LocalCluster, loopback_env

    base = tempfile.mkdtemp(prefix="wsray", dir="/tmp")
    loopback_env(base)  # before import ray
    import warpsearch as ws

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.dim)).astype(np.float32)
    Qall = rng.standard_normal((10_000, args.dim)).astype(np.float32)
    ids = list(range(args.n))
    work = tempfile.mkdtemp(prefix="wsbench")
    rows = []
    lc = LocalCluster(nodes=3, num_cpus=1, base=base)
    try:
        emb = ws.connect(f"{work}/emb").create_collection("e", dim=args.dim, metric="l2")
        emb.upsert(ids, X)
        emb.flush()
        db = ws.connect("ray://" + lc.address, data_dir=f"{work}/cluster")
        col = db.create_collection("c", dim=args.dim, metric="l2", shards=args.shards,
                                   replication_factor=1)
        col.upsert(ids, X)
        col.flush()
        print(f"# {args.n} x {args.dim} points (l2, HNSW), k={args.k}, {args.shards} shards "
              f"x 1 replica on {len(db.nodes())} Ray nodes (one machine)")
        print("| queries per batch | embedded ms | cluster ms | overhead ms | ratio |")
        print("|---:|---:|---:|---:|---:|")
        for nq in (1, 100, 10_000):
            Q = Qall[:nq]
            reps = 20 if nq < 10_000 else 3
            te = _median(lambda: emb.search_batch(Q, k=args.k, with_payload=False), reps)
            tc = _median(lambda: col.search_batch(Q, k=args.k, with_payload=False), reps)
            print(f"| {nq} | {te * 1e3:.2f} | {tc * 1e3:.2f} | {(tc - te) * 1e3:.2f} | "
                  f"{tc / te:.1f}x |", flush=True)
            rows.append(("overhead", nq, te, tc))
        db.drop_collection("c")

        print(f"\n# one shard, {args.clients} client threads, batches of {args.batch} "
              f"queries for {args.seconds:g} s; upserts of 100 points at consistency all")
        print("| replicas | search QPS | upsert points/s |")
        print("|---:|---:|---:|")
        sub = min(args.n, 10_000)
        for rf in (1, 2, 4):
            c = db.create_collection(f"r{rf}", dim=args.dim, metric="l2", shards=1,
                                     replication_factor=rf, write_consistency="all")
            c.upsert(ids[:sub], X[:sub])
            c.flush()
            done = [0] * args.clients
            stop = time.perf_counter() + args.seconds

            def client(j):
                r = np.random.default_rng(j)
                while time.perf_counter() < stop:
                    q = Qall[r.integers(0, 10_000 - args.batch):][:args.batch]
                    c.search_batch(q, k=args.k, with_payload=False)
                    done[j] += args.batch

            ts = [threading.Thread(target=client, args=(j,)) for j in range(args.clients)]
            t0 = time.perf_counter()
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            qps = sum(done) / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            nw = 0
            while time.perf_counter() - t0 < min(args.seconds, 3.0):
                c.upsert(list(range(10**7 + nw, 10**7 + nw + 100)),
                         rng.standard_normal((100, args.dim)).astype(np.float32))
                nw += 100
            wps = nw / (time.perf_counter() - t0)
            print(f"| {rf} | {qps:.0f} | {wps:.0f} |", flush=True)
            rows.append(("replicas", rf, qps, wps))
            db.drop_collection(f"r{rf}")
        db.close()
    finally:
        lc.shutdown()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main()
