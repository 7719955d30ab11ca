# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Memory-mapped index files: open time and resident memory, full load against
``load_index(path, mmap=True)``.

Each index is built once (fixed seeds, clustered random data) and saved under --dir;
every measurement then runs in a fresh Python process, so that resident memory starts
from the same baseline (numpy and warpsearch imported). Per index and mode it reports:

- open: wall time of ``load_index`` (best of --repeat processes);
- peak RSS growth during the open (VmHWM after - VmRSS before);
- RSS growth after the open, after one query and after --queries queries
  (k=10, one at a time);
- whether the results equal the full load's (ids and distances).

The files are in the page cache (just written or read): the times are those of a warm
open. A cold open of a mapped file costs the same few page reads; its first searches
read from disk what they touch.

    python benchmarks/mmap_bench.py --dir /tmp/mmap_bench
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

CHILD = r"""
import json, sys, time
import numpy as np
import warpsearch as ws

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
path, mmap, nq, kind = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), sys.argv[4]
q = np.load(path + ".queries.npy")
ws.FlatIndex(dim=2).search(np.zeros((1, 2), np.float32), k=1)  # first-call setup out of the timing
rss0 = status("VmRSS")
t = time.perf_counter()
idx = ws.load_index(path, mmap=mmap)
open_s = time.perf_counter() - t
peak = status("VmHWM") - rss0
after_open = status("VmRSS") - rss0
kw = {"ef": 64} if kind == "hnsw" else ({"nprobe": 16} if kind == "ivf_pq" else {})
D, I = idx.search(q[:1], k=10, **kw)
after_one = status("VmRSS") - rss0
Ds, Is = [D], [I]
t = time.perf_counter()
for i in range(1, nq):
    D, I = idx.search(q[i:i + 1], k=10, **kw)
    Ds.append(D); Is.append(I)
search_s = time.perf_counter() - t
after_all = status("VmRSS") - rss0
np.save(path + (".mm" if mmap else ".full") + ".ids.npy", np.vstack(Is))
np.save(path + (".mm" if mmap else ".full") + ".d.npy", np.vstack(Ds))
print(json.dumps(dict(open_s=open_s, peak=peak, after_open=after_open, after_one=after_one,
                      after_all=after_all, search_s=search_s)))
"""


def build(kind: str, n: int, dim: int, path: str, nq: int) -> None:
    import warpsearch as ws
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((256, dim)).astype(np.float32) * 2
    x = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        x[s:e] = centers[rng.integers(0, 256, e - s)] + rng.standard_normal((e - s, dim))
    q = (centers[rng.integers(0, 256, nq)] + rng.standard_normal((nq, dim))).astype(np.float32)
    if kind == "flat":
        idx = ws.FlatIndex(dim=dim)
    elif kind == "hnsw":
        idx = ws.HNSWIndex(dim=dim, M=16, ef_construction=100)
    else:
        idx = ws.IVFPQIndex(dim=dim, nlist=1024, m=dim // 4, nbits=4, refine="sq8")
        idx.train(x[:100_000])
    idx.add(x)
    idx.save(path)
    np.save(path + ".queries.npy", q)


def measure(path: str, mmap: bool, nq: int, kind: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, path, "1" if mmap else "0", str(nq), kind],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def mb(b: float) -> str:
    return f"{b / 2**20:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="/tmp/mmap_bench")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--cases", default="flat:57000:128,flat:500000:128,hnsw:200000:64,ivf_pq:1000000:128",
                    help="kind:n:dim, comma separated")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    rows = []
    for case in args.cases.split(","):
        kind, n, dim = case.split(":")
        n, dim = int(n), int(dim)
        path = os.path.join(args.dir, f"{kind}_{n}_{dim}.ws")
        if not os.path.exists(path):
            t = time.perf_counter()
            build(kind, n, dim, path, args.queries)
            print(f"built {path} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        res = {}
        for mmap in (False, True):
            runs = [measure(path, mmap, args.queries, kind) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["open_s"])
            best["open_s"] = min(r["open_s"] for r in runs)
            res[mmap] = best
        same = all(np.array_equal(np.load(path + ".mm" + s), np.load(path + ".full" + s))
                   for s in (".ids.npy", ".d.npy"))
        size = os.path.getsize(path)
        for mmap in (False, True):
            r = res[mmap]
            rows.append((f"{kind} {n:,} x {dim}", mb(size), "mmap" if mmap else "full",
                         f"{r['open_s'] * 1e3:.1f}", mb(r["peak"]), mb(r["after_open"]),
                         mb(r["after_one"]), mb(r["after_all"]),
                         f"{r['search_s'] / max(1, args.queries - 1) * 1e3:.2f}",
                         "yes" if same else "NO"))
    head = ("index", "file MB", "load", "open ms", "peak RSS +MB", "RSS +MB open",
            "+MB 1 query", f"+MB {args.queries} queries", "ms/query", "same results")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
