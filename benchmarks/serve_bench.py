# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Single-query search throughput of ``warpsearch serve`` under concurrent clients,
with and without micro-batching, and the CPU cost of the online recall monitor.

Each configuration gets a fresh server (uvicorn on 127.0.0.1, an ephemeral port) over
the same database; ``--clients`` async httpx clients (another process) send ``--requests`` Qdrant
``/points/search`` requests in all (after a warm-up). Reports QPS, latency
percentiles, the mean micro-batch size (from /metrics) and, for the recall monitor,
the CPU seconds of its exact re-runs against the process's CPU seconds.

    python benchmarks/serve_bench.py --n 100000 --dim 128 --clients 32 --requests 4000
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor

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


async def _load(url, Q, k, clients, requests):
    import httpx

    lat = []
    sem = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(base_url=url, timeout=120,
                                 limits=httpx.Limits(max_connections=clients)) as c:
        async def one(i):
            async with sem:
                t0 = time.perf_counter()
                r = await c.post("/collections/bench/points/search",
                                 json={"vector": Q[i % len(Q)].tolist(), "limit": k})
                lat.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(r.text)
        await asyncio.gather(*(one(i) for i in range(min(requests, 200))))  # warm-up
        lat.clear()
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        return requests / (time.perf_counter() - t0), np.array(lat) * 1e3


def _client(url, Q, k, clients, requests):
    """The load, in its own process (the server's GIL is not the client's)."""
    return asyncio.run(_load(url, Q, k, clients, requests))


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
    ap.add_argument("--threads", type=int, default=32, help="server worker threads")
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
              f"requests={args.requests} threads={args.threads} "
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
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
                qps, lat = ex.submit(_client, url, Q, args.k, args.clients,
                                     args.requests).result()
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
