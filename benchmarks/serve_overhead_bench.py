# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""What serving costs over the embedded database, on the same points and queries.

The database is built, closed, reopened and searched embedded, closed, then served by
a ``warpsearch serve`` process (127.0.0.1, an ephemeral port) on the same directory.
One sequential client (keep-alive) measures:

* one query: median latency of ``/points/search`` (from httpx and from
  ``http.client``) and of the native client's ``search`` against the embedded
  ``search`` call (target: at most 1.5 ms above);
* a batch of ``--batch`` queries as JSON (``/points/search/batch``): QPS against the
  embedded ``search_batch`` (target: at least 0.5x);
* the same batch as one .npy body (``/warpsearch/.../search_npy``, what the native
  client's ``search_batch`` sends): QPS against the embedded ``search_batch``
  (target: at least 0.9x), and the binary path again at ``--big-batches`` queries a
  call (the endpoint is for callers sending thousands of queries a call).

Then ``--clients`` load-generator processes (the standard library's ``http.client``,
prepared bodies, keep-alive) send the JSON and the binary batch concurrently for
``--seconds`` each (bounded also by ``--max-requests``): served throughput against
the embedded ``search_batch`` called from as many threads (best of one thread and
``--clients`` threads). Every request goes to 127.0.0.1.

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
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np


def _alternating(timed, rounds) -> dict:
    """Median seconds per call of each ``(key, fn, reps)`` in ``timed``: the calls run
    in ``rounds`` rounds, each running every ``fn`` in turn (``reps / rounds`` timed
    calls after one untimed), so that a drift in the machine's speed reaches every
    measurement alike."""
    times: dict = {key: [] for key, _, _ in timed}
    for _ in range(rounds):
        for key, fn, reps in timed:
            fn()
            for _ in range(max(1, reps // rounds)):
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
    return {key: float(np.median(v)) for key, v in times.items()}


def _median_s(fn, reps):
    from warpsearch.contrib.timing import median_time

    return median_time(fn, reps, warmup=max(3, reps // 10))


def _serve(path, threads, max_queries=10_000):
    """``warpsearch serve`` on ``path`` (127.0.0.1, an ephemeral port): ``(proc, url)``.
    Its log goes to a file beside the database, not through a pipe this process would
    have to drain (a thread reading a line per request would take the client's time)."""
    env = dict(os.environ, WARPSEARCH_PATH=str(path), WARPSEARCH_PORT="0",
               WARPSEARCH_LOG_LEVEL="info", WARPSEARCH_THREADS=str(threads),
               WARPSEARCH_MAX_QUERIES=str(max_queries))
    log_path = f"{path}.serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-c",
                                 "import sys; from warpsearch.cli import main; sys.exit(main())",
                                 "serve", "--fsync", "never"],
                                stderr=log, stdout=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        with open(log_path) as f:
            m = re.search(r"running on (http://127\.0\.0\.1:\d+)", f.read())
        if m:
            return proc, m.group(1)
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    with open(log_path) as f:
        raise RuntimeError("the server did not start:\n" + f.read()[-2000:])


def _load_worker(url, path, body, ctype, seconds, max_requests, start, out):
    """One load-generator process: the prepared request on one keep-alive connection
    until ``seconds`` pass or ``max_requests`` are sent; puts how many were answered."""
    host, port = url.rsplit("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    hdr = {"content-type": ctype}
    start.wait()
    deadline, n = time.monotonic() + seconds, 0
    while n < max_requests and time.monotonic() < deadline:
        conn.request("POST", path, body=body, headers=hdr)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"status {r.status}")
        n += 1
    conn.close()
    out.put(n)


def _served_throughput(url, path, body, ctype, clients, seconds, max_requests) -> float:
    """Requests per second answered to ``clients`` concurrent processes."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_load_worker, daemon=True,
                         args=(url, path, body, ctype, seconds, max_requests, start, out))
             for _ in range(clients)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # the workers import and connect before the clock starts
    t0 = time.perf_counter()
    start.set()
    done = sum(out.get(timeout=seconds + 120) for _ in procs)
    wall = time.perf_counter() - t0
    for p in procs:
        p.join(30)
    return done / wall


def _embedded_throughput(fn, threads, seconds, max_calls) -> float:
    """Calls per second of ``fn`` from ``threads`` threads (the engine releases the
    GIL)."""
    counts = [0] * threads
    start = threading.Barrier(threads + 1)

    def run(i):
        start.wait()
        deadline = time.monotonic() + seconds
        while counts[i] < max_calls and time.monotonic() < deadline:
            fn()
            counts[i] += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


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
    ap.add_argument("--big-batches", default="1000,10000",
                    help="binary batch sizes also measured (comma-separated; '' for none)")
    ap.add_argument("--clients", type=int, default=4,
                    help="concurrent load-generator processes for the throughput rows (0: none)")
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="duration of each throughput measurement")
    ap.add_argument("--max-requests", type=int, default=20_000,
                    help="most requests per load-generator process and measurement")
    ap.add_argument("--rounds", type=int, default=5,
                    help="embedded and served measurements alternate this many times")
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
    big = [int(b) for b in args.big_batches.split(",") if b.strip()]
    if big and max(big) > len(Q):  # larger batches repeat the queries
        Q_big = np.ascontiguousarray(np.resize(Q, (max(big), Q.shape[1])))
    else:
        Q_big = Q
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
        # the embedded side opens a copy of the directory while the server holds it:
        # both search the data as opened from disk, at the same time, so their
        # measurements can alternate (this VM's speed drifts by a third over minutes)
        shutil.copytree(path, tmp + "/copy")
        proc, url = _serve(path, args.threads, max([10_000, *big]))
        try:
            with ws.connect(tmp + "/copy", fsync="never") as db, \
                    httpx.Client(base_url=url, timeout=120) as c, \
                    ws.connect(url, timeout=120) as rdb:
                col, rc = db.get_collection("bench"), rdb.get_collection("bench")
                base = "/collections/bench/points"
                # request bodies are encoded before the timed loops (a load generator
                # sends prepared requests): what is timed is the request, the server
                # and the answer's transfer, not the client's json.dumps
                hdr = {"content-type": "application/json"}
                ones = [json.dumps({"vector": q.tolist(), "limit": k}).encode() for q in Q]
                body = json.dumps({"searches": [{"vector": q.tolist(), "limit": k}
                                                for q in QB]}).encode()
                host, port = url.rsplit("//", 1)[1].split(":")
                # the standard library's http.client on one keep-alive connection: less
                # client time per request than httpx
                conn = http.client.HTTPConnection(host, int(port), timeout=120)
                j = iter(range(10**9))

                def one_httpx():
                    r = c.post(base + "/search", content=ones[next(j) % len(ones)], headers=hdr)
                    r.raise_for_status()

                def one_raw():
                    conn.request("POST", base + "/search", body=ones[next(j) % len(ones)],
                                 headers=hdr)
                    r = conn.getresponse()
                    r.read()
                    if r.status != 200:
                        raise RuntimeError(f"status {r.status}")

                def batch_json():
                    r = c.post(base + "/search/batch", content=body, headers=hdr)
                    r.raise_for_status()
                    return r

                def batch_json_raw():
                    conn.request("POST", base + "/search/batch", body=body, headers=hdr)
                    r = conn.getresponse()
                    r.read()
                    if r.status != 200:
                        raise RuntimeError(f"status {r.status}")

                ref = col.search_batch(QB, k=k)
                got = [[p["id"] for p in row] for row in batch_json().json()["result"]]
                assert got == [[h.id for h in hits] for hits in ref], "JSON batch differs"
                assert rc.search_batch(QB, k=k) == ref, "search_npy batch differs"
                nbatch = max(20, args.reps // 5)
                timed = [("emb_one", lambda: col.search(Q[next(j) % len(Q)], k=k), args.reps),
                         ("http_one", one_httpx, args.reps), ("raw_one", one_raw, args.reps),
                         ("native_one", lambda: rc.search(Q[next(j) % len(Q)], k=k), args.reps),
                         ("emb_batch", lambda: col.search_batch(QB, k=k), nbatch),
                         ("http_batch", batch_json, nbatch),
                         ("raw_batch", batch_json_raw, nbatch),
                         ("npy_batch", lambda: rc.search_batch(QB, k=k), nbatch)]
                for b in big:
                    timed += [(("emb_big", b), lambda b=b: col.search_batch(Q_big[:b], k=k), 6),
                              (("npy_big", b), lambda b=b: rc.search_batch(Q_big[:b], k=k), 6)]
                med = _alternating(timed, args.rounds)
                conn.close()
                tp = {}
                if args.clients:
                    npy_path = f"/warpsearch/collections/bench/search_npy?k={k}"
                    jobs = [("emb", lambda s: max(
                        _embedded_throughput(lambda: col.search_batch(QB, k=k), t, s,
                                             args.max_requests)
                        for t in sorted({1, args.clients})))]
                    for name, p, b, ct in (("JSON", base + "/search/batch", body,
                                            "application/json"),
                                           (".npy", npy_path, _npy(QB), "application/x-npy")):
                        jobs.append((name, lambda s, p=p, b=b, ct=ct: _served_throughput(
                            url, p, b, ct, args.clients, s, args.max_requests)))
                    rates: dict = {}
                    for _ in range(args.rounds):
                        for name, fn in jobs:
                            rates.setdefault(name, []).append(fn(args.seconds / args.rounds))
                    tp = {name: float(np.median(v)) for name, v in rates.items()}
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    emb_one, http_one, raw_one = med["emb_one"], med["http_one"], med["raw_one"]
    native_one = med["native_one"]
    emb_batch, http_batch, npy_batch = med["emb_batch"], med["http_batch"], med["npy_batch"]
    raw_batch = med["raw_batch"]
    emb_big = {b: med[("emb_big", b)] for b in big}
    npy_big = {b: med[("npy_big", b)] for b in big}
    emb_tp = tp.get("emb")
    served_tp = {name: v for name, v in tp.items() if name != "emb"}

    nb = len(QB)
    print(f"# {source}: n={n} dim={dim} k={k} index={args.index} batch={nb} "
          f"reps={args.reps} rounds={args.rounds} server threads={args.threads} "
          f"cpus={os.cpu_count()}")
    print("| measurement | embedded | served | served vs embedded | target | met |")
    print("|---|---|---|---|---|---|")
    for name, served in (("one query, median latency (httpx client)", http_one),
                         ("one query, median latency (http.client)", raw_one),
                         ("one query, median latency (native client)", native_one)):
        d_ms = (served - emb_one) * 1e3
        print(f"| {name} | {emb_one * 1e3:.3f} ms | {served * 1e3:.3f} ms | +{d_ms:.3f} ms | "
              f"<= +1.5 ms | {'yes' if d_ms <= 1.5 else 'no'} |")
    for name, served, target in ((f"batch of {nb}, JSON /search/batch (httpx)", http_batch, 0.5),
                                 (f"batch of {nb}, JSON /search/batch (http.client)", raw_batch,
                                  0.5),
                                 (f"batch of {nb}, .npy /search_npy (native client)", npy_batch,
                                  0.9)):
        ratio = emb_batch / served
        print(f"| {name}, QPS | {nb / emb_batch:,.0f} | {nb / served:,.0f} | {ratio:.2f}x | "
              f">= {target}x | {'yes' if ratio >= target else 'no'} |")
    for b in big:
        ratio = emb_big[b] / npy_big[b]
        print(f"| batch of {b:,}, .npy /search_npy (native client), QPS | {b / emb_big[b]:,.0f} | "
              f"{b / npy_big[b]:,.0f} | {ratio:.2f}x | >= 0.9x | "
              f"{'yes' if ratio >= 0.9 else 'no'} |")
    for name, target in (("JSON", 0.5), (".npy", 0.9)):
        if name in served_tp:
            ratio = served_tp[name] / emb_tp
            print(f"| batch of {nb}, {name}, {args.clients} concurrent clients, QPS | "
                  f"{nb * emb_tp:,.0f} | {nb * served_tp[name]:,.0f} | {ratio:.2f}x | "
                  f">= {target}x | {'yes' if ratio >= target else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
