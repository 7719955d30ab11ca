# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""GPU benchmark: exact search throughput, graph and IVF-PQ search QPS at a recall target.

    python benchmarks/gpu_bench.py [dataset.npz] [--n 1000000 --dim 128 --nq 10000]

Prints markdown. Exact search is timed with queries already on the device when
CuPy is installed (no transfers in the timing), else from host arrays, and is
compared with CuPy's matmul + argpartition top-k on the same card, and with the
card's fp32 roofline. Graph search runs 10,000 queries over an HNSW index at
increasing ef, next to the CPU walk, and reports the first ef with recall@10 >= 0.95.
IVF-PQ likewise: 10,000 queries at increasing nprobe, GPU next to CPU, for 8-bit codes
and 4-bit codes with an fp32 refine store.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import warpsearch as ws
from warpsearch.contrib.evaluation import recall_at_k

# Datasheet figures (dense fp32 FMA rate, HBM bandwidth) for the roofline column.
CARDS = {
    "H100 SXM": (66.9e12, 3.35e12),
    "H100 PCIe": (51.2e12, 2.0e12),
    "H100 NVL": (60.0e12, 3.9e12),
    "H200": (66.9e12, 4.8e12),
    "A100": (19.5e12, 2.0e12),
}


def card_figures(name: str):
    for key, fig in CARDS.items():
        parts = key.split()
        if all(p in name for p in parts):
            return key, fig
    if "H100" in name:
        return "H100 SXM", CARDS["H100 SXM"]
    return None, None


def load(args):
    if args.data:
        f = np.load(args.data)
        xb = np.ascontiguousarray(f["base"], dtype=np.float32)
        xq = np.ascontiguousarray(f["queries"], dtype=np.float32)
        metric = str(f["metric"])
        reps = -(-args.nq // len(xq))
        xq = np.tile(xq, (reps, 1))[: args.nq]  # repeat the queries up to nq
        return xb, xq, metric, args.data
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, args.dim)).astype(np.float32)
    noise = 0.5 * rng.standard_normal((args.n, args.dim)).astype(np.float32)
    xb = centres[rng.integers(0, 1000, args.n)] + noise
    noise = 0.5 * rng.standard_normal((args.nq, args.dim)).astype(np.float32)
    xq = centres[rng.integers(0, 1000, args.nq)] + noise
    return xb, xq, "l2", f"synthetic clustered n={args.n} d={args.dim}"


class Report(list):
    """Markdown lines, printed as they are added (a run cut short keeps what it measured)."""

    def __init__(self, lines):
        super().__init__()
        for line in lines:
            self.append(line)

    def append(self, line):
        super().append(line)
        print(line, flush=True)


def timeit(fn, reps: int, sync=lambda: None):
    fn()
    sync()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def recall(I, gt, k=10):
    return recall_at_k(np.asarray(I), np.asarray(gt), k)


def _reference_lib():
    """The exact-search reference on this card: PyTorch's matmul + topk where PyTorch sees
    the GPU, else CuPy's matmul + argpartition (a sort), else None."""
    try:
        import torch
        if torch.cuda.is_available():
            return "torch"
    except ImportError:
        pass
    try:
        import cupy  # noqa: F401
        return "cupy"
    except ImportError:
        return None


def _reference(lib, xb, xq, metric, k):
    """``(run, sync)``: matmul + top-k through ``lib`` on the same card, the score matrix
    kept under 2 GiB."""
    n, nq = len(xb), len(xq)
    chunk = max(1, min(nq, (2 << 30) // (4 * n)))
    if lib == "cupy":
        import cupy as cp
        xb_d, qd = cp.asarray(xb), cp.asarray(xq)
        norms = (xb_d * xb_d).sum(1)[None, :]

        def run():
            for c0 in range(0, nq, chunk):
                s = qd[c0:c0 + chunk] @ xb_d.T
                s = -2.0 * s + norms if metric == "l2" else -s
                part = cp.argpartition(s, k - 1, axis=1)[:, :k]
                vals = cp.take_along_axis(s, part, axis=1)
                cp.take_along_axis(part, cp.argsort(vals, axis=1), axis=1)

        return run, lambda: cp.cuda.Device(0).synchronize()
    import torch
    xb_t = torch.from_numpy(xb).cuda()
    q_t = torch.from_numpy(xq).cuda()
    norms = (xb_t * xb_t).sum(1)[None, :]

    def run():
        for c0 in range(0, nq, chunk):
            s = q_t[c0:c0 + chunk] @ xb_t.T
            s = norms - 2.0 * s if metric == "l2" else -s
            torch.topk(s, k, dim=1, largest=False, sorted=True)

    return run, torch.cuda.synchronize


def exact_section(xb, xq, metric, out):
    n, d = xb.shape
    nq = len(xq)
    name = ws._core.cuda_device_name(0)
    card, fig = card_figures(name)
    flat = ws.FlatIndex(dim=d, metric=metric, device="cuda")
    flat.add(xb)
    flat.to("cuda")
    try:
        import cupy as cp
    except ImportError:
        cp = None
    sync = (lambda: cp.cuda.Device(0).synchronize()) if cp else (lambda: None)
    q = cp.asarray(xq) if cp else xq
    out.append(f"## Exact search on {name}, {nq:,} queries x {n:,} vectors, d={d} "
               f"({'device' if cp else 'host'} queries)\n")
    flops = 2.0 * nq * n * d
    roof = "n/a"
    if fig:
        bytes_moved = 4.0 * (n * d + nq * d)
        roof = f"{min(fig[0], fig[1] * flops / bytes_moved) / 1e9:,.0f} ({card} fp32 datasheet)"
    out.append(f"fp32 roofline: {roof} GFLOP/s.\n")
    lib = _reference_lib()
    ref_name = {"torch": "torch matmul+topk", "cupy": "cupy matmul+argpartition"}.get(lib, "reference")
    out.append(f"| k | precision | warpsearch ms | GFLOP/s | recall@k vs fp32 | {ref_name} ms "
               "| ratio |")
    out.append("|---|---|---|---|---|---|---|")
    for k in (10, 100, 1000):
        t_ref = None
        if lib:
            run, sync_ref = _reference(lib, xb, xq, metric, k)
            t_ref = timeit(run, 3, sync_ref)
        exact_ids = None
        for prec in ("fp32", "bf16", "fp16"):
            flat.gpu_precision = prec
            t_ws = timeit(lambda: flat.search(q, k=k), 5, sync)
            _, ids = flat.search(q, k=k)
            ids = cp.asnumpy(ids) if cp is not None and not isinstance(ids, np.ndarray) else ids
            if exact_ids is None:
                exact_ids = ids
            rec = recall(ids, exact_ids, k)
            ref = "n/a | n/a" if t_ref is None else f"{t_ref * 1e3:.2f} | {t_ref / t_ws:.2f}x"
            out.append(f"| {k} | {prec} | {t_ws * 1e3:.2f} | {flops / t_ws / 1e9:,.0f} | "
                       f"{rec:.4f} | {ref} |")
    flat.gpu_precision = "fp32"
    out.append("")


def sweep(out, name, values, gt, nq, search):
    """CPU and GPU QPS/recall per value of a search parameter, up to the first value where
    both reach recall@10 0.95; ``search(value, device)`` returns ``(D, I)``."""
    out.append(f"| {name} | CPU QPS | CPU recall@10 | GPU QPS | GPU recall@10 |")
    out.append("|---|---|---|---|---|")
    best = {}
    for v in values:
        t_c = timeit(lambda: search(v, "cpu"), 1)
        _, Ic = search(v, "cpu")
        t_g = timeit(lambda: search(v, "cuda"), 3)
        _, Ig = search(v, "cuda")
        rc, rg = recall(Ic, gt), recall(Ig, gt)
        out.append(f"| {v} | {nq / t_c:,.0f} | {rc:.4f} | {nq / t_g:,.0f} | {rg:.4f} |")
        for dev, r, tt in (("cpu", rc, t_c), ("gpu", rg, t_g)):
            if r >= 0.95 and dev not in best:
                best[dev] = (v, nq / tt, r)
        if len(best) == 2:
            break
    out.append("")
    for dev in ("cpu", "gpu"):
        if dev in best:
            v, qps, r = best[dev]
            out.append(f"- {dev.upper()}: {qps:,.0f} QPS at recall@10 {r:.4f} ({name}={v})")
        else:
            out.append(f"- {dev.upper()}: recall@10 0.95 not reached")
    out.append("")


def graph_section(xb, xq, metric, gt, out, gflat):
    d = xb.shape[1]
    idx = ws.HNSWIndex(dim=d, metric=metric, M=16, ef_construction=100, device="cpu")
    t = time.perf_counter()
    idx.add(xb)
    build = time.perf_counter() - t
    out.append(f"## Graph search, {len(xq)} queries, k=10 (HNSW M=16, efc=100, "
               f"built in {build:.1f} s on {ws.get_num_threads()} CPU threads)\n")
    idx.search(xq[:100], k=10, ef=16, device="cuda")  # upload + warm-up
    sweep(out, "ef", (16, 32, 64, 128, 256, 512), gt, len(xq),
          lambda ef, dev: idx.search(xq, k=10, ef=ef, device=dev))
    # Filtered: a random 10% of the points, and the 30% above the 70th percentile of the
    # first coordinate (a filter correlated with position: the nearest points of many
    # queries are all filtered out).
    n = len(xb)
    filters = {
        "random 10%": np.flatnonzero(np.random.default_rng(1).random(n) < 0.1),
        "x[0] > 70th percentile": np.flatnonzero(xb[:, 0] > np.quantile(xb[:, 0], 0.7)),
    }
    out.append("| filter | allowed | ef | CPU QPS | CPU recall@10 | GPU QPS | GPU recall@10 |")
    out.append("|---|---|---|---|---|---|---|")
    for name, allowed in filters.items():
        _, fgt = gflat.search(xq, k=10, filter=allowed)
        for ef in (64, 128):
            def run(dev):
                return idx.search(xq, k=10, ef=ef, filter=allowed, device=dev)
            t_c = timeit(lambda: run("cpu"), 1)
            _, Ic = run("cpu")
            t_g = timeit(lambda: run("cuda"), 3)
            _, Ig = run("cuda")
            out.append(f"| {name} | {len(allowed):,} | {ef} | {len(xq) / t_c:,.0f} | "
                       f"{recall(Ic, fgt):.4f} | {len(xq) / t_g:,.0f} | {recall(Ig, fgt):.4f} |")
    out.append("")


def ivf_section(xb, xq, metric, gt, out, nlist):
    d = xb.shape[1]
    m = d // 2 if d % 2 == 0 else d
    for nbits, refine in ((8, "none"), (4, "fp32")):
        idx = ws.IVFPQIndex(dim=d, metric=metric, nlist=nlist, m=m, nbits=nbits, refine=refine,
                            device="cuda")
        t = time.perf_counter()
        idx.train(xb)  # coarse k-means assignment on the GPU
        train = time.perf_counter() - t
        idx.add(xb)
        out.append(f"## IVF-PQ search, {len(xq)} queries, k=10 (nlist={nlist}, m={m}, "
                   f"nbits={nbits}, refine={refine}, trained in {train:.1f} s)\n")
        idx.search(xq[:100], k=10, nprobe=1, device="cuda")  # upload + warm-up
        sweep(out, "nprobe", [p for p in (1, 2, 4, 8, 16, 32, 64, 128, 256) if p <= nlist], gt,
              len(xq), lambda nprobe, dev: idx.search(xq, k=10, nprobe=nprobe, device=dev))
        ivf_device_queries(idx, xq, out)


def ivf_device_queries(idx, xq, out):
    """GPU IVF-PQ QPS with the queries in host memory against the same queries already on
    the device (CuPy; results stay there), at nprobe 1 and 16."""
    try:
        import cupy as cp
    except ImportError:
        out.append("- device-array queries: not timed (no CuPy)\n")
        return
    qd = cp.asarray(xq)
    sync = cp.cuda.Device(0).synchronize
    out.append("| nprobe | host queries QPS | device queries QPS | same ids |")
    out.append("|---|---|---|---|")
    for nprobe in (1, 16):
        t_h = timeit(lambda: idx.search(xq, k=10, nprobe=nprobe, device="cuda"), 3)
        t_d = timeit(lambda: idx.search(qd, k=10, nprobe=nprobe, device="cuda"), 3, sync)
        same = np.array_equal(idx.search(xq, k=10, nprobe=nprobe, device="cuda")[1],
                              cp.asnumpy(idx.search(qd, k=10, nprobe=nprobe, device="cuda")[1]))
        out.append(f"| {nprobe} | {len(xq) / t_h:,.0f} | {len(xq) / t_d:,.0f} | {same} |")
    out.append("")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", nargs="?",
                   help="dataset .npz (base, queries, metric); default synthetic")
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--nq", type=int, default=10_000)
    p.add_argument("--graph-n", type=int, default=200_000, help="base size for the graph section")
    p.add_argument("--ivf-n", type=int, default=1_000_000, help="base size for the IVF-PQ section")
    p.add_argument("--nlist", type=int, default=1024, help="IVF-PQ cells")
    p.add_argument("--sections", default="exact,graph,ivf",
                   help="comma-separated subset of exact, graph, ivf")
    args = p.parse_args(argv)
    sections = {x.strip() for x in args.sections.split(",") if x.strip()}
    unknown = sections - {"exact", "graph", "ivf"}
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    info = ws.build_info()
    if not (info["cuda_compiled"] and info["cuda_devices"] > 0):
        print("gpu_bench: no GPU (cuda_compiled=%s, devices=%d); nothing to measure"
              % (info["cuda_compiled"], info["cuda_devices"]))
        return 0
    xb, xq, metric, what = load(args)
    out = Report(["# warpsearch GPU benchmark\n", f"Data: {what}; {len(xb):,} x {xb.shape[1]}, "
           f"{len(xq):,} queries, metric {metric}.\n"])
    if "exact" in sections:
        exact_section(xb, xq, metric, out)
    if "graph" in sections:
        gb = xb[: args.graph_n]
        gflat = ws.FlatIndex(dim=gb.shape[1], metric=metric, device="cuda")
        gflat.add(gb)
        _, gt = gflat.search(xq, k=10)  # exact ground truth on the GPU
        graph_section(gb, xq, metric, gt, out, gflat)
    if "ivf" in sections:
        ib = xb[: args.ivf_n]
        iflat = ws.FlatIndex(dim=ib.shape[1], metric=metric, device="cuda")
        iflat.add(ib)
        _, igt = iflat.search(xq, k=10)
        ivf_section(ib, xq, metric, igt, out, args.nlist)
    return 0


if __name__ == "__main__":
    sys.exit(main())
