# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Single-query search throughput of ``warpsearch serve`` under concurrent clients,
with and without micro-batching, and the CPU cost of the online recall monitor.

Each configuration gets a fresh server (uvicorn on 127.0.0.1, an ephemeral port) over
the same database; ``--clients`` keep-alive connections of the standard library's
``http.client``, spread over ``--procs`` processes, send ``--requests`` Qdrant
``/points/search`` requests in all (after a warm-up). Reports QPS, latency
percentiles, the mean micro-batch size (from /metrics) and, for the recall monitor,
the CPU seconds of its exact re-runs against the process's CPU seconds.

    python benchmarks/serve_bench.py --n 100000 --dim 128 --clients 32 --requests 4000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time

import numpy as np


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _serve(app):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.01)
    return server, t, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


def _worker(url, bodies, k, threads, requests, seconds, start, out):
    """One load-generator process: ``threads`` threads, each with its own keep-alive
    ``http.client`` connection, sending prepared Qdrant ``/points/search`` bodies until
    the process has sent ``requests`` or ``seconds`` have passed; puts the latencies
    (seconds)."""
    import http.client

    host, port = url.rsplit("//", 1)[1].split(":")
    lat, lock, sent = [], threading.Lock(), [0]

    def run():
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        hdr = {"content-type": "application/json"}
        while True:
            with lock:
                i = sent[0]
                if i >= requests or time.monotonic() > deadline:
                    break
                sent[0] += 1
            t0 = time.perf_counter()
            conn.request("POST", "/collections/bench/points/search", body=bodies[i % len(bodies)],
                         headers=hdr)
            r = conn.getresponse()
            r.read()
            dt = time.perf_counter() - t0
            if r.status != 200:
                raise RuntimeError(f"status {r.status}")
            with lock:
                lat.append(dt)
        conn.close()

    start.wait()
    deadline = time.monotonic() + seconds
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put(lat)


def _load(url, Q, k, clients, requests, procs, seconds):
    """QPS and latencies (ms) of ``requests`` searches (at most ``seconds``) from
    ``clients`` concurrent
    connections spread over ``procs`` processes (the standard library's client:
    little CPU per request, so the load generator is not what is measured)."""
    import json
    import multiprocessing as mp

    bodies = [json.dumps({"vector": q.tolist(), "limit": k}).encode() for q in Q]
    ctx = mp.get_context("spawn")

    def phase(n):
        start, out = ctx.Event(), ctx.Queue()
        per = [clients // procs + (i < clients % procs) for i in range(procs)]
        ps = [ctx.Process(target=_worker, daemon=True,
                          args=(url, bodies, k, t, n // procs + (i < n % procs), seconds,
                                start, out))
              for i, t in enumerate(per)]
        for p in ps:
            p.start()
        time.sleep(1.0)  # imported and ready before the clock starts
        t0 = time.perf_counter()
        start.set()
        lat = [x for _ in ps for x in out.get(timeout=600)]
        wall = time.perf_counter() - t0
        for p in ps:
            p.join(30)
        return len(lat) / wall, np.array(lat) * 1e3

    phase(min(requests, 200))  # warm-up
    return phase(requests)


def _batch_mean(url):
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    s = {x.name: x.value for f in text_string_to_metric_families(httpx.get(url + "/metrics").text)
         for x in f.samples if x.name.startswith("warpsearch_search_batch_size_")}
    return s["warpsearch_search_batch_size_sum"] / max(1, s["warpsearch_search_batch_size_count"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="most seconds of load per measurement (with --requests, the "
                         "first limit reached ends it)")
    ap.add_argument("--threads", type=int, default=32, help="server worker threads")
    ap.add_argument("--procs", type=int, default=4,
                    help="load-generator processes the clients are spread over")
    args = ap.parse_args(argv)

    import warpsearch as ws
    from warpsearch.server import Settings, create_app

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((100, args.dim)).astype(np.float32) * 3
    X = centres[rng.integers(0, 100, args.n)] + rng.standard_normal((args.n, args.dim))
    Q = (centres[rng.integers(0, 100, 1000)] + rng.standard_normal((1000, args.dim)))
    with tempfile.TemporaryDirectory() as tmp:
        db = ws.connect(tmp + "/db", fsync="never")
        col = db.create_collection("bench", dim=args.dim, metric="l2",
                                   segment_size=max(args.n, 1000))
        col.upsert(list(range(args.n)), X.astype(np.float32), progress=False)
        col.flush()
        print(f"# n={args.n} dim={args.dim} k={args.k} clients={args.clients} "
              f"requests={args.requests} procs={args.procs} threads={args.threads} "
              f"cpus={ws.build_info().get('threads')}")
        print("| configuration | QPS | p50 ms | p99 ms | mean batch | recall-monitor CPU share |")
        print("|---|---|---|---|---|---|")
        configs = [("no batching, recall off", 0.0, 0.0),
                   ("micro-batching 1 ms / 64, recall off", 1.0, 0.0),
                   ("no batching, recall 1%", 0.0, 0.01),
                   ("micro-batching 1 ms / 64, recall 1%", 1.0, 0.01)]
        for name, window, sample in configs:
            app = create_app(db, Settings(threads=args.threads, close_db=False,
                                          slow_query_ms=None, recall_sample=sample,
                                          batch_window_ms=window, batch_max=64))
            server, t, url = _serve(app)
            c0 = _cpu()
            qps, lat = _load(url, Q, args.k, args.clients, args.requests, args.procs,
                             args.seconds)
            mon = app.state.observer.recall
            mon.wait_idle(60)
            cpu = _cpu() - c0
            snap = mon.snapshot()
            share = f"{snap['exact_cpu_seconds'] / cpu:.2%} ({snap['sampled']} samples)" \
                if sample else "-"
            print(f"| {name} | {qps:,.0f} | {np.percentile(lat, 50):.1f} | "
                  f"{np.percentile(lat, 99):.1f} | {_batch_mean(url):.2f} | {share} |")
            server.should_exit = True
            t.join(30)
            mon.close()
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
