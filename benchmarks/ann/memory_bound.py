# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""What bounds one thread's HNSW search on this machine: cache lines read per query
against the machine's cost of a random cache line, beside the peers at equal recall.

    python benchmarks/ann/memory_bound.py /path/sift-dev.npz --engines warpsearch,hnswlib,glass-sq8,glass-sq4

1. The machine (one thread, a C probe compiled here with ``cc``): the latency of a
   dependent random load (a pointer chase) over arrays of growing size, the cost per
   line of independent random loads from 1 GiB (plain loads, and with software
   prefetch 16 items ahead, for items of 1, 2 and 3 lines, the sizes of a code and
   a link row), and of sequential reads.
2. warpsearch's search at each ``ef`` (the harness's defaults, the same batch calls
   as ``run.py``): recall@k, microseconds per query, and the lines the walk reads per
   query from its own counters (``return_stats``): distance evaluations x lines per
   traversal code, nodes expanded x lines per level-0 link row, and the re-rank bytes.
   Dividing the time by those lines gives nanoseconds per line, to set beside the
   probe's.
3. The peers in the same run (timed in turns with warpsearch, as ``run.py
   --interleave``): QPS at recall 0.90/0.95/0.99, and the lines per query warpsearch
   would have to stay under, at its measured cost per line, to reach 2x the best
   Glass and 3x hnswlib there (the goals of the ANN issue).

The line counts are a model of what the walk touches (codes, link rows, exact
vectors), not hardware counters (this VM exposes none); the upper-level descent and
the visited table (a few KiB, in L1/L2) are left out.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

_PROBE_C = r"""
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec; }
/* ns per dependent load: next[i] holds the line of the next hop (one cycle). */
double chase(const uint64_t* a, uint64_t steps) {
  uint64_t p = 0; double t0 = now();
  for (uint64_t i = 0; i < steps; ++i) p = a[p * 8];
  double dt = now() - t0; volatile uint64_t sink = p; (void)sink;
  return dt * 1e9 / steps;
}
/* ns per line: items of `lines` lines at the line numbers idx[0..n), read
   independently; pf > 0 prefetches the item pf places ahead. */
double gather(const uint64_t* a, const uint32_t* idx, uint64_t n, int lines, int pf) {
  uint64_t s = 0; double t0 = now();
  for (uint64_t i = 0; i < n; ++i) {
    if (pf > 0 && i + pf < n) {
      const char* q = (const char*)(a + (uint64_t)idx[i + pf] * 8);
      for (int l = 0; l < lines; ++l) __builtin_prefetch(q + 64 * l);
    }
    const uint64_t* r = a + (uint64_t)idx[i] * 8;
    for (int l = 0; l < lines; ++l) s += r[8 * l];
  }
  double dt = now() - t0; volatile uint64_t sink = s; (void)sink;
  return dt * 1e9 / ((double)n * lines);
}
double sequential(const uint64_t* a, uint64_t nlines) {
  uint64_t s = 0; double t0 = now();
  for (uint64_t i = 0; i < nlines; ++i) s += a[i * 8];
  double dt = now() - t0; volatile uint64_t sink = s; (void)sink;
  return dt * 1e9 / nlines;
}
"""


def _probe_lib(tmp):
    src, lib = os.path.join(tmp, "probe.c"), os.path.join(tmp, "probe.so")
    with open(src, "w") as f:
        f.write(_PROBE_C)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", lib, src], check=True)
    so = ctypes.CDLL(lib)
    p = ctypes.c_void_p
    so.chase.argtypes = [p, ctypes.c_uint64]
    so.gather.argtypes = [p, p, ctypes.c_uint64, ctypes.c_int, ctypes.c_int]
    so.sequential.argtypes = [p, ctypes.c_uint64]
    for fn in (so.chase, so.gather, so.sequential):
        fn.restype = ctypes.c_double
    return so


def machine_probe(gib: float = 1.0, repeat: int = 3) -> dict:
    """The probe's numbers (best of ``repeat``), in ns."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        so = _probe_lib(tmp)
        out: dict = {"chase_ns": {}}
        for size in (256 << 10, 4 << 20, 64 << 20, int(gib * (1 << 30))):
            nl = size // 64
            perm = rng.permutation(nl).astype(np.uint64)
            a = np.zeros(nl * 8, dtype=np.uint64)
            a[perm * 8] = np.roll(perm, -1)  # one cycle through every line
            steps = min(2_000_000, 20 * nl)
            out["chase_ns"][size] = min(so.chase(a.ctypes.data, steps) for _ in range(repeat))
            del a
        nl = int(gib * (1 << 30)) // 64
        a = np.ones(nl * 8, dtype=np.uint64)
        n = 2_000_000
        for lines in (1, 2, 3):
            idx = rng.integers(0, nl - lines, n).astype(np.uint32)
            for pf in (0, 16):
                out[f"random_{lines}line{'_pf' if pf else ''}_ns"] = min(
                    so.gather(a.ctypes.data, idx.ctypes.data, n, lines, pf) for _ in range(repeat))
        out["sequential_ns"] = min(so.sequential(a.ctypes.data, nl) for _ in range(repeat))
    return out


def _lines(nbytes: int) -> int:
    return -(-int(nbytes) // 64)


def walk_traffic(index, queries, k, ef) -> dict:
    """Per-query counters of one batch search and the lines they imply."""
    _, _, st = index.search(queries, k=k, ef=ef, return_stats=True)
    nq = max(1, int(st.get("nq", len(queries))))
    dim = index.dim
    # codes: dim rounded up to 64 entries of sq_bits; an unquantized walk reads fp32 rows
    code_bytes = (-(-dim // 64) * 64) * index.sq_bits // 8 if index.sq_bits else dim * 4
    row_bytes = (2 * index.M + 1) * 4
    evals = st["distance_evals"] / nq
    visited = st["nodes_visited"] / nq
    refine = st.get("refine_bytes", 0) / nq
    code_lines = evals * _lines(code_bytes)
    # a 64-byte aligned array of rows of row_bytes: the lines a row spans, on average
    span = np.mean([_lines((i * row_bytes) % 64 + row_bytes) for i in range(64)])
    row_lines = visited * float(span)
    return {"evals": evals, "visited": visited, "code_lines": code_lines,
            "row_lines": row_lines, "refine_lines": refine / 64,
            "lines": code_lines + row_lines + refine / 64}


def main(argv=None) -> int:
    import run as harness

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--engines", default="warpsearch,hnswlib,glass-sq8,glass-sq4")
    ap.add_argument("--ef", default="16,24,32,48,64,96,128,192,256")
    ap.add_argument("--nq", type=int, default=None)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--probe-gib", type=float, default=1.0)
    ap.add_argument("--no-probe", action="store_true")
    args = ap.parse_args(argv)

    probe = None if args.no_probe else machine_probe(args.probe_gib)
    if probe:
        print("# machine probe, 1 thread (ns)")
        print("| measurement | ns |")
        print("|---|---|")
        for size, ns in probe["chase_ns"].items():
            print(f"| dependent load (pointer chase), {size / (1 << 20):g} MiB | {ns:.1f} |")
        for key, ns in probe.items():
            if key != "chase_ns":
                print(f"| {key.replace('_', ' ')} per line | {ns:.2f} |")

    harness._set_openmp_passive()
    efs = [int(x) for x in args.ef.split(",")]
    opt = harness.Options(k=args.k, efs=efs, repeat=args.repeat, threads=[1],
                          build_threads=args.build_threads, interleave=True,
                          engines=[e.strip() for e in args.engines.split(",")])
    data = harness.load_dataset(args.dataset, nq=args.nq, k=args.k)
    notes: list = []
    classes = [c for c in harness._available_engines(opt.engines, notes) if c.kind == "graph"]
    for n in notes:
        print("# " + n)
    built = [harness._build_engine(c, data, opt, args.build_threads) for c in classes]
    runs = harness._run_interleaved(built, data, opt, 1)
    ws_eng = next(e for e, _ in built if e.name == "warpsearch")
    ws_run = next(r for r in runs if r["engine"] == "warpsearch")
    print(f"\n# {data.name}: n={len(data.base)} dim={data.base.shape[1]} k={args.k} "
          f"nq={len(data.queries)}, 1 thread; warpsearch sq_bits={ws_eng.index.sq_bits}")
    print("| ef | recall | us/query | evals | expanded | code lines | row lines | "
          "re-rank lines | lines | ns/line |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    traffic = {}
    import warpsearch as ws
    ws.set_num_threads(1)
    for pt in ws_run["curve"]:
        t = walk_traffic(ws_eng.index, data.queries, args.k, max(pt["ef"], args.k))
        us = 1e6 / pt["qps"]
        traffic[pt["ef"]] = (pt, t, us)
        print(f"| {pt['ef']} | {pt['recall']:.3f} | {us:.1f} | {t['evals']:.0f} | "
              f"{t['visited']:.0f} | {t['code_lines']:.0f} | {t['row_lines']:.0f} | "
              f"{t['refine_lines']:.0f} | {t['lines']:.0f} | {us * 1e3 / t['lines']:.2f} |")

    print("\n| recall | engine QPS (interpolated) | warpsearch lines/query | ns/line | "
          "lines/query for 2x best Glass | for 3x hnswlib |")
    print("|---|---|---|---|---|---|")
    for target in (0.90, 0.95, 0.99):
        qps = {r["engine"]: harness.interpolate_qps(r["curve"], target) for r in runs}
        mine = qps.get("warpsearch")
        # the first ef reaching the target: its lines and cost per line
        at = next(((pt, t, us) for pt, t, us in traffic.values()
                   if pt["recall"] >= target), None)
        if mine is None or at is None:
            print(f"| {target} | not reached by warpsearch | | | | |")
            continue
        pt, t, us = at
        ns_line = us * 1e3 / t["lines"]
        glass = [q["qps"] for e, q in qps.items() if e.startswith("glass") and q]
        hnsw = qps.get("hnswlib")
        need_g = (1e9 / (2 * max(glass)) / ns_line) if glass else None
        need_h = (1e9 / (3 * hnsw["qps"]) / ns_line) if hnsw else None
        shown = ", ".join(f"{e} {q['qps']:,.0f}" if q else f"{e} -" for e, q in qps.items())
        print(f"| {target} | {shown} | {t['lines']:.0f} | {ns_line:.2f} | "
              f"{'-' if need_g is None else f'{need_g:.0f}'} | "
              f"{'-' if need_h is None else f'{need_h:.0f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
