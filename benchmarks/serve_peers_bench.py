# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""``warpsearch serve`` against Milvus Lite, the one served peer installable here, at
equal recall@10 on the same points and queries.

    python benchmarks/serve_peers_bench.py --n 50000 --dim 128 \\
        --milvus-python /work/venv-peers/bin/python

Both are servers in their own processes reached by their own clients: warpsearch
through HTTP on 127.0.0.1 (an ephemeral port; Qdrant's JSON endpoints and the
native .npy batch endpoint), Milvus Lite through pymilvus (its server process on a
local socket). Both are asked for HNSW (M=16; Milvus Lite may search exhaustively
whatever it is asked: the output prints its recall per ef); for each, the smallest
search ``ef`` of ``--efs`` whose recall@10 against exact ground truth reaches
``--target`` is chosen, then one sequential client measures the median latency of one query and the QPS of
batches of ``--batch`` queries. Data: clustered Gaussians (``--n``, ``--dim``) or
``--vectors`` / ``--queries`` .npy files. Milvus runs under ``--milvus-python`` (an
interpreter with pymilvus and milvus-lite), in a subprocess that prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_overhead_bench import _median_s  # noqa: E402  (one timing rule for both)


def _recall(got, gt, k):
    # for the Milvus worker, which runs under the peers' interpreter (warpsearch need not
    # be importable there); this process uses warpsearch.contrib.evaluation
    return float(np.mean([len(set(g[:k]) & set(t[:k])) / k for g, t in zip(got, gt)]))


def _pick(efs, recall_of, target):
    """The first ef of ``efs`` whose recall reaches ``target`` (else the last),
    with the recalls seen."""
    seen = {}
    for ef in efs:
        seen[ef] = recall_of(ef)
        if seen[ef] >= target:
            return ef, seen
    return efs[-1], seen


def _data(args):
    if args.vectors:
        X = np.ascontiguousarray(np.load(args.vectors)[: args.n], dtype=np.float32)
        Q = np.ascontiguousarray(np.load(args.queries)[: args.nq], dtype=np.float32)
        return X, Q, os.path.basename(args.vectors)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((256, args.dim)).astype(np.float32) * 2
    X = centres[rng.integers(0, 256, args.n)] + rng.standard_normal((args.n, args.dim))
    Q = centres[rng.integers(0, 256, args.nq)] + rng.standard_normal((args.nq, args.dim))
    return X.astype(np.float32), Q.astype(np.float32), "clustered Gaussians"


def _ground_truth(X, Q, k):
    from warpsearch.contrib.evaluation import exact_knn

    return exact_knn(X, Q, k, "l2")[1]


# -- Milvus Lite (runs under --milvus-python) --------------------------------------
def milvus_worker(path, data_file, k, efs, target, batch, reps):
    from pymilvus import DataType, MilvusClient

    z = np.load(data_file)
    X, Q, gt = z["X"], z["Q"], z["gt"]
    cl = MilvusClient(os.path.join(path, "milvus.db"))
    s = MilvusClient.create_schema(auto_id=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=X.shape[1])
    ip = cl.prepare_index_params()
    ip.add_index("vector", index_type="HNSW", metric_type="L2",
                 params={"M": 16, "efConstruction": 200})
    cl.create_collection("bench", schema=s, index_params=ip)
    t0 = time.perf_counter()
    for s0 in range(0, len(X), 5000):
        cl.insert("bench", [{"id": s0 + i, "vector": v.tolist()}
                            for i, v in enumerate(X[s0:s0 + 5000])])
    cl.flush("bench")
    while cl.describe_index("bench", "vector").get("pending_index_rows", 0):
        time.sleep(0.2)
    cl.load_collection("bench")
    build_s = time.perf_counter() - t0

    def search(Qs, ef):
        r = cl.search("bench", data=[q.tolist() for q in Qs], limit=k, output_fields=["id"],
                      search_params={"metric_type": "L2", "params": {"ef": max(ef, k)}})
        return [[h["id"] for h in row] for row in r]

    ef, seen = _pick(efs, lambda ef: _recall(search(Q, ef), gt, k), target)
    i = iter(range(10**9))
    one = _median_s(lambda: search(Q[next(i) % len(Q)][None], ef), reps)
    QB = Q[:batch]
    many = _median_s(lambda: search(QB, ef), max(10, reps // 10))
    described = cl.describe_index("bench", "vector")
    cl.close()
    return {"ef": ef, "recalls": seen, "one_s": one, "batch_s": many, "build_s": build_s,
            "index": described.get("index_type")}


# -- warpsearch serve ---------------------------------------------------------------
def warpsearch_run(tmp, X, Q, gt, args):
    import httpx

    import warpsearch as ws
    from warpsearch.contrib.evaluation import recall_at_k
    from serve_overhead_bench import _serve

    path = os.path.join(tmp, "ws")
    t0 = time.perf_counter()
    with ws.connect(path, fsync="never") as db:
        col = db.create_collection("bench", dim=X.shape[1], metric="l2",
                                   index=ws.HNSWConfig(M=16, ef_construction=200))
        col.upsert(np.arange(len(X)), X, progress=False)
        col.flush()
    build_s = time.perf_counter() - t0
    proc, url = _serve(path, args.threads)
    k = args.k
    try:
        with httpx.Client(base_url=url, timeout=120) as c:
            base = "/collections/bench/points"

            with ws.connect(url, timeout=120) as rdb:
                rc = rdb.get_collection("bench")

                def recall_of(ef):
                    return recall_at_k(rc.search_batch(Q, k=k, ef=ef).int_ids(), gt, k)

                ef, seen = _pick(args.efs, recall_of, args.target)
                QB = Q[: args.batch]
                npy_s = _median_s(lambda: rc.search_batch(QB, k=k, ef=ef),
                                  max(10, args.reps // 10))
            i = iter(range(10**9))

            def one():
                c.post(base + "/search", json={"vector": Q[next(i) % len(Q)].tolist(),
                                               "limit": k, "params": {"hnsw_ef": ef}}
                       ).raise_for_status()

            one_s = _median_s(one, args.reps)
            body = {"searches": [{"vector": q.tolist(), "limit": k,
                                  "params": {"hnsw_ef": ef}} for q in QB]}
            json_s = _median_s(lambda: c.post(base + "/search/batch", json=body
                                              ).raise_for_status(), max(10, args.reps // 10))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return {"ef": ef, "recalls": seen, "one_s": one_s, "batch_s": npy_s,
            "json_batch_s": json_s, "build_s": build_s}


def _worker_env() -> dict:
    """The environment of the Milvus worker: its interpreter also finds this warpsearch
    (for the shared timing helper)."""
    import warpsearch

    here = os.path.dirname(os.path.dirname(os.path.abspath(warpsearch.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--nq", type=int, default=500)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--efs", type=lambda s: [int(x) for x in s.split(",")],
                    default=[16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512])
    ap.add_argument("--threads", type=int, default=8, help="warpsearch server threads")
    ap.add_argument("--vectors")
    ap.add_argument("--queries")
    ap.add_argument("--milvus-python", default=sys.executable)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        path, data_file = args.worker.split(",")
        print(json.dumps(milvus_worker(path, data_file, args.k, args.efs, args.target,
                                       args.batch, args.reps)))
        return 0

    X, Q, source = _data(args)
    gt = _ground_truth(X, Q, args.k)
    with tempfile.TemporaryDirectory() as tmp:
        data_file = os.path.join(tmp, "data.npz")
        np.savez(data_file, X=X, Q=Q, gt=gt)
        os.makedirs(os.path.join(tmp, "milvus"))
        out = subprocess.run([args.milvus_python, os.path.abspath(__file__), "--worker",
                              f"{tmp}/milvus,{data_file}", "--k", str(args.k),
                              "--efs", ",".join(map(str, args.efs)),
                              "--target", str(args.target), "--batch", str(args.batch),
                              "--reps", str(args.reps)],
                             capture_output=True, text=True, timeout=3600, env=_worker_env())
        if out.returncode != 0:
            raise SystemExit(f"the Milvus Lite worker failed:\n{out.stderr[-3000:]}")
        mv = json.loads(out.stdout.strip().splitlines()[-1])
        ws_ = warpsearch_run(tmp, X, Q, gt, args)

    nb = min(args.batch, len(Q))
    print(f"# {source}: n={len(X)} dim={X.shape[1]} nq={len(Q)} k={args.k} "
          f"target recall@10 {args.target} batch={nb} cpus={os.cpu_count()}")
    print(f"# chosen ef: warpsearch {ws_['ef']} (recall {ws_['recalls'][ws_['ef']]:.3f}), "
          f"Milvus Lite {mv['ef']} (recall {mv['recalls'][str(mv['ef'])]:.3f}; index "
          f"{mv['index']} as described; a recall of 1.000 at every ef means it searched "
          "exhaustively)")
    print("| measurement | warpsearch serve | Milvus Lite | warpsearch vs Milvus |")
    print("|---|---|---|---|")
    print(f"| one query, median latency | {ws_['one_s'] * 1e3:.2f} ms | "
          f"{mv['one_s'] * 1e3:.2f} ms | {mv['one_s'] / ws_['one_s']:.2f}x faster |")
    print(f"| batch of {nb}, QPS (warpsearch: native .npy) | {nb / ws_['batch_s']:,.0f} | "
          f"{nb / mv['batch_s']:,.0f} | {mv['batch_s'] / ws_['batch_s']:.2f}x |")
    print(f"| batch of {nb}, QPS (warpsearch: Qdrant JSON) | {nb / ws_['json_batch_s']:,.0f} | "
          f"{nb / mv['batch_s']:,.0f} | {mv['batch_s'] / ws_['json_batch_s']:.2f}x |")
    print(f"| insert + index until searchable | {ws_['build_s']:.1f} s | "
          f"{mv['build_s']:.1f} s | {mv['build_s'] / ws_['build_s']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
