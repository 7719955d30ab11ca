# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The ``warpsearch`` command.

Subcommands::

    warpsearch demo [--quick]   build and search an HNSW index on packaged SIFT data
    warpsearch info             print build information as JSON

The recall/QPS benchmark against peer libraries is not part of the package: run
``python benchmarks/ann/run.py DATASET.npz`` from a source checkout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import resources

import numpy as np

from ._validation import as_positive_int

__all__ = ["main", "load_demo_data"]

DEMO_FILE = "sift_demo.npz"


def load_demo_data() -> dict:
    """The packaged demo data: real SIFT descriptors (uint8, 128-d).

    Returns a dict with ``base`` and ``queries`` (uint8 arrays), ``metric`` and
    ``source`` (a description of where the vectors come from).
    """
    ref = resources.files("warpsearch").joinpath("data", DEMO_FILE)
    with ref.open("rb") as fh, np.load(fh, allow_pickle=False) as f:
        return {"base": f["base"], "queries": f["queries"], "metric": str(f["metric"]),
                "source": str(f["source"]) if "source" in f.files else "sift_demo.npz"}


def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None
    try:
        return as_positive_int(v, "value")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _int_list(s: str) -> list[int]:
    return [_positive_int(x) for x in s.split(",") if x.strip()]


def _build_summary(info: dict) -> str:
    return (f"build: warpsearch {info['version'] or 'dev'}, simd {info['simd_level']} "
            f"(compiled: {', '.join(info['simd_compiled'])}), "
            f"cuda compiled: {'yes' if info['cuda_compiled'] else 'no'}, "
            f"cuda devices: {info['cuda_devices']}, threads: {info['threads']}")


def _progress(out, done: int, total: int, final: bool = False) -> None:
    msg = f"building HNSW: {done:,}/{total:,} vectors ({100 * done // total}%)"
    if out.isatty():
        out.write("\r" + msg + ("\n" if final else ""))
        out.flush()
    elif final:
        out.write(msg + "\n")


def run_demo(args, out=None) -> int:
    """Builds an HNSW index over the demo data, searches it and reports recall and speed."""
    import warpsearch as ws
    from warpsearch.contrib.evaluation import recall_at_k
    from warpsearch.contrib.timing import best_time

    out = sys.stdout if out is None else out
    if args.threads:
        ws.set_num_threads(args.threads)
    data = load_demo_data()
    base, queries = data["base"], data["queries"]
    if args.quick:
        base, queries = base[:2000], queries[:50]
    if args.n:
        base = base[:args.n]
    if args.nq:
        queries = queries[:args.nq]
    k = min(args.k, len(base))
    print(f"warpsearch demo: {len(base):,} base vectors, {len(queries):,} queries, "
          f"dim {base.shape[1]}, metric {data['metric']}, k={k}", file=out)
    print(f"data: {data['source']}", file=out)
    print(_build_summary(ws.build_info()), file=out)

    idx = ws.HNSWIndex(dim=base.shape[1], metric=data["metric"], M=args.M,
                       ef_construction=args.ef_construction)
    chunk = max(1, -(-len(base) // 10))
    t0 = time.perf_counter()
    for s in range(0, len(base), chunk):
        idx.add(base[s:s + chunk])
        _progress(out, min(s + chunk, len(base)), len(base))
    idx.reorder()  # added in chunks: renumber once for memory locality
    build_s = time.perf_counter() - t0
    _progress(out, len(base), len(base), final=True)
    print(f"build time: {build_s:.2f} s ({len(base) / build_s:,.0f} vectors/s; "
          f"M={args.M}, ef_construction={args.ef_construction})", file=out)

    flat = ws.FlatIndex(dim=base.shape[1], metric=data["metric"])
    flat.add(base)
    flat_s, (_, gt) = best_time(lambda: flat.search(queries, k=k), 3)
    print(f"exact (FlatIndex): {len(queries) / flat_s:,.0f} QPS, "
          f"device={flat.last_search_info.get('device', 'cpu')}", file=out)

    for ef in args.ef:
        best, (_, ids) = best_time(lambda ef=ef: idx.search(queries, k=k, ef=ef), 3)
        recall = recall_at_k(ids, gt, k)
        print(f"HNSW ef={ef}: recall@{k}={recall:.4f}  QPS={len(queries) / best:,.0f}  "
              f"device={idx.last_search_info.get('device', 'cpu')}", file=out)
    return 0


def run_info(args, out=None) -> int:
    """Prints :func:`warpsearch.build_info` as JSON."""
    import warpsearch as ws

    print(json.dumps(ws.build_info(), indent=2, sort_keys=True),
          file=sys.stdout if out is None else out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="warpsearch", description="warpsearch vector search")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    demo = sub.add_parser("demo", help="build and search an HNSW index on packaged SIFT data")
    demo.add_argument("--quick", action="store_true",
                      help="use 2,000 base vectors and 50 queries")
    demo.add_argument("--n", type=_positive_int, help="use only the first N base vectors")
    demo.add_argument("--nq", type=_positive_int, help="use only the first N queries")
    demo.add_argument("--k", type=_positive_int, default=10, help="neighbours (default 10)")
    demo.add_argument("--ef", type=_int_list, default=[16, 64],
                      help="comma-separated search ef values (default 16,64)")
    demo.add_argument("--M", type=_positive_int, default=16, help="graph degree (default 16)")
    demo.add_argument("--ef-construction", type=_positive_int, default=200,
                      help="build candidate list size (default 200)")
    demo.add_argument("--threads", type=_positive_int, help="threads (default: all cores)")
    sub.add_parser("info", help="print build information as JSON")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``warpsearch`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "bench":
        print("warpsearch bench: the peer benchmark is not installed with the package; "
              "run python benchmarks/ann/run.py DATASET.npz from a source checkout",
              file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    return {"demo": run_demo, "info": run_info}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
