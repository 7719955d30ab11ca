# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""What serving costs over the embedded database, on the same points and queries.

The database is built and searched embedded, closed, then served by a
``warpsearch serve`` process (127.0.0.1, an ephemeral port) on the same directory,
and one sequential client (keep-alive) measures:

* one query: median latency of ``/points/search`` against the embedded
  ``search`` call (target: at most 1.5 ms above);
* a batch of 100 queries as JSON (``/points/search/batch``): QPS against the
  embedded ``search_batch`` (target: at least 0.5x);
* the same batch as one .npy body (``/warpsearch/.../search_npy``, what the native
  client's ``search_batch`` sends): QPS against the embedded ``search_batch``
  (target: at least 0.9x).

    python benchmarks/serve_overhead_bench.py --n 20000 --dim 128
    python benchmarks/serve_overhead_bench.py --vectors base.npy --queries q.npy
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np


def _median_s(fn, reps):
    from warpsearch.contrib.timing import median_time

    return median_time(fn, reps, warmup=max(3, reps // 10))


def _serve(path, threads):
    env = dict(os.environ, WARPSEARCH_PATH=str(path), WARPSEARCH_PORT="0",
               WARPSEARCH_LOG_LEVEL="info", WARPSEARCH_THREADS=str(threads))
    proc = subprocess.Popen([sys.executable, "-c",
                             "import sys; from warpsearch.cli import main; sys.exit(main())",
                             "serve", "--fsync", "never"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, m.group(1)
    proc.kill()
    proc.wait()
    raise RuntimeError("the server did not start")


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--reps", type=int, default=200, help="timed repetitions per measurement")
    ap.add_argument("--index", default="hnsw", choices=["hnsw", "flat"])
    ap.add_argument("--threads", type=int, default=8, help="server worker threads")
    ap.add_argument("--vectors", help=".npy (n, dim) float32 base vectors instead of random")
    ap.add_argument("--queries", help=".npy (nq, dim) float32 queries (with --vectors)")
    args = ap.parse_args(argv)

    import httpx

    import warpsearch as ws

    if args.vectors:
        X = np.ascontiguousarray(np.load(args.vectors)[: args.n], dtype=np.float32)
        Q = (np.ascontiguousarray(np.load(args.queries), dtype=np.float32) if args.queries
             else X[np.random.default_rng(1).integers(0, len(X), 1000)] + 0.01)
        source = os.path.basename(args.vectors)
    else:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((args.n, args.dim)).astype(np.float32)
        Q = rng.standard_normal((1000, args.dim)).astype(np.float32)
        source = "random normal"
    n, dim = X.shape
    QB = Q[: args.batch]
    k = args.k
    index = ws.HNSWConfig() if args.index == "hnsw" else ws.FlatConfig()

    with tempfile.TemporaryDirectory() as tmp:
        path = tmp + "/db"
        with ws.connect(path, fsync="never") as db:
            col = db.create_collection("bench", dim=dim, metric="l2", index=index,
                                       segment_size=max(n, 1000))
            col.upsert(list(range(n)), X, progress=False)
            col.flush()
            col.compact(progress=False)
            i = iter(range(10**9))
            emb_one = _median_s(lambda: col.search(Q[next(i) % len(Q)], k=k), args.reps)
            emb_batch = _median_s(lambda: col.search_batch(QB, k=k), max(20, args.reps // 5))
            ref = col.search_batch(QB, k=k)

        proc, url = _serve(path, args.threads)
        try:
            with httpx.Client(base_url=url, timeout=120) as c:
                base = "/collections/bench/points"
                j = iter(range(10**9))
                # request bodies are encoded before the timed loops (a load generator
                # sends prepared requests): what is timed is the request, the server
                # and the answer's transfer, not the client's json.dumps
                hdr = {"content-type": "application/json"}
                ones = [json.dumps({"vector": q.tolist(), "limit": k}).encode() for q in Q]

                def one():
                    r = c.post(base + "/search", content=ones[next(j) % len(ones)], headers=hdr)
                    r.raise_for_status()

                http_one = _median_s(one, args.reps)
                # the same requests from the standard library's http.client on one
                # keep-alive connection: less client time per request than httpx
                host, port = url.rsplit("//", 1)[1].split(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=120)

                def one_raw():
                    conn.request("POST", base + "/search", body=ones[next(j) % len(ones)],
                                 headers=hdr)
                    r = conn.getresponse()
                    r.read()
                    if r.status != 200:
                        raise RuntimeError(f"status {r.status}")

                raw_one = _median_s(one_raw, args.reps)
                conn.close()
                body = json.dumps({"searches": [{"vector": q.tolist(), "limit": k}
                                                for q in QB]}).encode()

                def batch_json():
                    r = c.post(base + "/search/batch", content=body, headers=hdr)
                    r.raise_for_status()
                    return r

                http_batch = _median_s(batch_json, max(20, args.reps // 5))
                got = [[p["id"] for p in row] for row in batch_json().json()["result"]]
                assert got == [[h.id for h in hits] for hits in ref], "JSON batch differs"

            with ws.connect(url, timeout=120) as rdb:
                rc = rdb.get_collection("bench")
                npy_batch = _median_s(lambda: rc.search_batch(QB, k=k), max(20, args.reps // 5))
                assert rc.search_batch(QB, k=k) == ref, "search_npy batch differs"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)

    nb = len(QB)
    print(f"# {source}: n={n} dim={dim} k={k} index={args.index} batch={nb} "
          f"reps={args.reps} server threads={args.threads} cpus={os.cpu_count()}")
    print("| measurement | embedded | served | served vs embedded | target | met |")
    print("|---|---|---|---|---|---|")
    for name, served in (("one query, median latency (httpx client)", http_one),
                         ("one query, median latency (http.client)", raw_one)):
        d_ms = (served - emb_one) * 1e3
        print(f"| {name} | {emb_one * 1e3:.3f} ms | {served * 1e3:.3f} ms | +{d_ms:.3f} ms | "
              f"<= +1.5 ms | {'yes' if d_ms <= 1.5 else 'no'} |")
    for name, served, target in ((f"batch of {nb}, JSON /search/batch", http_batch, 0.5),
                                 (f"batch of {nb}, .npy /search_npy", npy_batch, 0.9)):
        ratio = emb_batch / served
        print(f"| {name}, QPS | {nb / emb_batch:,.0f} | {nb / served:,.0f} | {ratio:.2f}x | "
              f">= {target}x | {'yes' if ratio >= target else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
