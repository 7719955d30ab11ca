# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The ``warpsearch`` command.

Subcommands::

    warpsearch demo [--quick]   build and search an HNSW index on packaged SIFT data
    warpsearch info             print build information as JSON
    warpsearch serve [--path DIR] [--host H] [--port P]
                                serve a database over HTTP (Qdrant-compatible REST API)
    warpsearch keys create|list|revoke --path DIR
                                API keys of a database (hashed in DIR/api_keys.json)

The recall/QPS benchmark against peer libraries is not part of the package: run
``python benchmarks/ann/run.py DATASET.npz`` from a source checkout.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
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


def _port(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {s!r}") from None
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in [0, 65535], got {v}")
    return v


def _number(what: str, hi: float = float("inf")):
    """An argparse type: a float in [0, hi] named ``what`` in its error messages."""
    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {s!r}") from None
        if not 0 <= v <= hi:
            bound = f"in [0, {hi:g}]" if hi != float("inf") else ">= 0"
            raise argparse.ArgumentTypeError(f"expected {what} {bound}, got {s!r}")
        return v

    return parse


_seconds = _number("seconds")
_nonneg_ms = _number("milliseconds")
_fraction = _number("a fraction", 1.0)


def _budget(s: str) -> float:
    """An argparse type: a fraction in (0, 1]."""
    v = _fraction(s)
    if v == 0:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {s!r}")
    return v


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_warning(host: str, has_keys: bool = False):
    """Why ``warpsearch serve`` refuses to listen on ``host`` (a non-loopback address
    with no API key configured), else None."""
    if has_keys or _is_loopback(host):
        return None
    return (f"refusing to listen on {host}, not a loopback address, with no API keys "
            "configured: anyone who could reach it could read, write and delete every "
            "collection. Create a key first (warpsearch keys create --path DIR --role "
            "admin) or listen on 127.0.0.1.")


#: ``warpsearch serve`` flags: (flag, environment variable, default, type, help).
SERVE_FLAGS = (
    ("--path", "WARPSEARCH_PATH", "./warpsearch_data", str,
     "database directory, created if missing"),
    ("--host", "WARPSEARCH_HOST", "127.0.0.1", str,
     "address to listen on (a non-loopback address needs API keys: warpsearch keys create)"),
    ("--port", "WARPSEARCH_PORT", "6333", _port, "TCP port (0: any free port)"),
    ("--threads", "WARPSEARCH_THREADS", "8", _positive_int,
     "worker threads running database calls off the event loop"),
    ("--max-k", "WARPSEARCH_MAX_K", "10000", _positive_int,
     "largest limit (+ offset) of a search or scroll page"),
    ("--max-queries", "WARPSEARCH_MAX_QUERIES", "10000", _positive_int,
     "most queries in one batch request (JSON batch endpoints and search_npy)"),
    ("--max-results", "WARPSEARCH_MAX_RESULTS", "1000000", _positive_int,
     "most results one batch request may ask for (queries x limit)"),
    ("--fsync", "WARPSEARCH_FSYNC", "always", str,
     "when writes are forced to disk: always, interval or never"),
    ("--graceful-timeout", "WARPSEARCH_GRACEFUL_TIMEOUT", "30", _seconds,
     "on SIGTERM/SIGINT, seconds to let requests in flight finish"),
    ("--log-level", "WARPSEARCH_LOG_LEVEL", "info", str,
     "critical, error, warning, info or debug"),
    ("--cluster", "WARPSEARCH_CLUSTER", None, str,
     "serve a cluster on Ray (ray://HOST:PORT or ray://auto) instead of the embedded "
     "database; --path then holds this server's files (keys) and the replicas' data"),
    ("--api-keys", "WARPSEARCH_API_KEYS", None, str,
     "API keys file (warpsearch keys create); default <path>/api_keys.json"),
    ("--max-body-bytes", "WARPSEARCH_MAX_BODY_BYTES", str(32 << 20), _positive_int,
     "largest request body (413 past it)"),
    ("--ssl-certfile", "WARPSEARCH_SSL_CERTFILE", None, str,
     "TLS certificate (PEM) to serve https; needs --ssl-keyfile"),
    ("--ssl-keyfile", "WARPSEARCH_SSL_KEYFILE", None, str,
     "TLS private key (PEM) of --ssl-certfile"),
    ("--slow-query-ms", "WARPSEARCH_SLOW_QUERY_MS", "100", _nonneg_ms,
     "log searches taking at least this many milliseconds, with their plan"),
    ("--recall-sample", "WARPSEARCH_RECALL_SAMPLE", "0.01", _fraction,
     "fraction of searches re-run exactly in the background to measure recall (0: off)"),
    ("--recall-cpu-budget", "WARPSEARCH_RECALL_CPU_BUDGET", "0.05", _budget,
     "largest share of one core the recall re-runs take (samples beyond it are dropped)"),
    ("--batch-window-ms", "WARPSEARCH_BATCH_WINDOW_MS", "1", _nonneg_ms,
     "how long concurrent searches wait to be run as one batch (0: no micro-batching)"),
    ("--max-batch", "WARPSEARCH_MAX_BATCH", "64", _positive_int,
     "most searches coalesced into one micro-batch"),
)


def run_serve(args, out=None) -> int:
    """Serves the database at ``args.path`` until SIGTERM / SIGINT, then drains the
    requests in flight and closes the database. Stopped by a signal, the process
    ends by that signal once the database is closed (uvicorn re-raises it)."""
    err = sys.stderr if out is None else out
    try:
        import fastapi  # noqa: F401
        import orjson  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn
    except ImportError as exc:
        print(f"warpsearch serve: the server is not installed ({exc}); "
              "pip install 'warpsearch[server]'", file=err)
        return 2
    import warpsearch as ws

    from .server import Settings, create_app

    if args.fsync not in ("always", "interval", "never"):
        print(f"warpsearch serve: --fsync must be always, interval or never, got {args.fsync!r}",
              file=err)
        return 2
    import logging

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(message)s")
    from .server.auth import KeyStore
    from .server.keys_cli import keys_path

    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        print("warpsearch serve: --ssl-certfile and --ssl-keyfile go together", file=err)
        return 2
    try:
        has_keys = KeyStore(keys_path(args.path, args.api_keys)).has_keys
    except ValueError as exc:
        print(f"warpsearch serve: {exc}", file=err)
        return 1
    refusal = host_warning(args.host, has_keys)
    if refusal:
        print(f"warpsearch serve: {refusal}", file=err)
        return 2
    if not has_keys:
        print("warpsearch serve: no API keys configured: serving keyless requests from "
              "loopback clients only", file=err)
    try:
        if args.cluster:
            if not args.cluster.lower().startswith("ray://"):
                print(f"warpsearch serve: --cluster takes ray://HOST:PORT or ray://auto, got "
                      f"{args.cluster!r}", file=err)
                return 2
            db = ws.connect(args.cluster, data_dir=args.path)
        else:
            db = ws.connect(args.path, fsync=args.fsync)
    except (ws.DatabaseLockedError, OSError, ConnectionError) as exc:
        print(f"warpsearch serve: cannot open {args.cluster or args.path}: {exc}", file=err)
        return 1
    except ImportError as exc:
        print(f"warpsearch serve: {exc}", file=err)
        return 2
    try:
        app = create_app(db, Settings(threads=args.threads, max_k=args.max_k, close_db=True,
                                      max_batch=args.max_queries,
                                      max_results=args.max_results,
                                      api_keys=args.api_keys,
                                      max_body_bytes=args.max_body_bytes,
                                      slow_query_ms=args.slow_query_ms,
                                      recall_sample=args.recall_sample,
                                      recall_cpu_budget=args.recall_cpu_budget,
                                      batch_window_ms=args.batch_window_ms,
                                      batch_max=args.max_batch))
        from .server.observe import configure_logging

        log_writer = configure_logging(args.log_level)
        config = uvicorn.Config(app, host=args.host, port=args.port,
                                log_level=args.log_level.lower(),
                                timeout_graceful_shutdown=args.graceful_timeout,
                                ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile)
        print(f"warpsearch serve: database {db.path}", file=err)
        server = uvicorn.Server(config)
        try:
            server.run()
        finally:
            log_writer.stop()  # the last requests' log lines
        return 0 if server.started else 1
    finally:
        db.close()  # the app's shutdown closed it already unless startup failed


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
    serve = sub.add_parser(
        "serve", help="serve a database over HTTP (Qdrant-compatible REST API)",
        description="Serves the database in --path over HTTP: Qdrant's REST API (the subset "
                    "qdrant-client uses) plus warpsearch's own endpoints under /warpsearch/ "
                    "(OpenAPI at /docs). Every flag can also be set by the environment "
                    "variable named in its help; the flag wins. Needs "
                    "pip install 'warpsearch[server]'.")
    for flag, env, default, conv, text in SERVE_FLAGS:
        serve.add_argument(flag, type=conv, default=os.environ.get(env) or default,
                           help=f"{text} (env {env}" + ("" if default is None
                                                        else f"; default {default}") + ")")
    build = sub.add_parser(
        "build", help="build an index from a vector file larger than RAM",
        description="Builds an index over SOURCE (.npy, .fvecs/.bvecs/.ivecs, .fbin/.u8bin/"
                    ".i8bin/.ibin or .parquet), reading it in chunks within a memory budget, "
                    "and saves it at OUTPUT. Ids are the row numbers. An interrupted build "
                    "resumes from its last checkpoint (OUTPUT.partial) when run again.")
    build.add_argument("source", help="the vector file")
    build.add_argument("output", help="where to save the index")
    build.add_argument("--index", default="ivf_pq", choices=["ivf_pq", "hnsw", "flat"],
                       help="index type (default ivf_pq)")
    build.add_argument("--metric", default="l2", choices=["l2", "ip", "cosine"])
    build.add_argument("--memory-budget", help="e.g. 4GB: sizes the chunks and refuses an "
                                               "index that would not fit")
    build.add_argument("--chunk-rows", type=_positive_int, help="rows per chunk")
    build.add_argument("--train-rows", type=_positive_int, help="IVF-PQ training sample")
    build.add_argument("--checkpoint-rows", type=_positive_int,
                       help="rows between checkpoints (default: a tenth of the file)")
    build.add_argument("--no-resume", action="store_true",
                       help="start over even if a partial build is there")
    build.add_argument("--column", help="Parquet: the list column holding the vectors")
    build.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="an index parameter (nlist=4096, m=32, nbits=4, M=32, "
                            "storage=sq8, ...); repeatable")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    pl = sub.add_parser("plan", help="plan the index and hardware for a collection",
                        description="Which index and storage N vectors of DIM need for a "
                                    "recall target on the given hardware, bytes per device, "
                                    "and how many GPUs or machines, with the arithmetic.")
    pl.add_argument("--n", type=float, required=True, help="vectors (1e9 is accepted)")
    pl.add_argument("--dim", type=_positive_int, required=True)
    pl.add_argument("--recall", type=float, default=0.95)
    pl.add_argument("--qps", type=float, help="throughput target (needs --sample)")
    pl.add_argument("--metric", default="l2", choices=["l2", "ip", "cosine"])
    pl.add_argument("--ram", help="RAM per machine, e.g. 256GB (default: this machine's)")
    pl.add_argument("--disk", help="disk per machine, e.g. 2TB")
    pl.add_argument("--cores", type=_positive_int, help="CPU cores per machine")
    pl.add_argument("--gpus", type=int, default=0, help="GPUs per machine")
    pl.add_argument("--gpu-memory", help="per GPU: bytes, 80GB, or a model (H100, H200, ...)")
    pl.add_argument("--sample", help="a vector file like the collection's: calibrates QPS")
    pl.add_argument("--machine-hour", type=float, help="price of a machine-hour")
    pl.add_argument("--gpu-hour", type=float, help="price of a GPU-hour")
    pl.add_argument("--json", action="store_true", help="print the plan as JSON")
    from .server.keys_cli import add_parser as add_keys_parser

    add_keys_parser(sub)
    return ap


def run_plan(args, out=None) -> int:
    """``warpsearch plan``: prints the plan's arithmetic (or JSON); 2 on a bad input."""
    import json

    import warpsearch as ws

    out = sys.stdout if out is None else out
    prices = {k: v for k, v in (("machine_hour", args.machine_hour),
                                ("gpu_hour", args.gpu_hour)) if v is not None}
    try:
        if args.n != int(args.n):
            raise ValueError(f"--n must be a whole number, got {args.n}")
        sample = None
        if args.sample:
            f = ws.open_vectors(args.sample)
            sample = f.read(0, min(len(f), 50_000))
        p = ws.plan(int(args.n), args.dim, recall=args.recall, qps=args.qps,
                    metric=args.metric, ram=args.ram, disk=args.disk, cpu_cores=args.cores,
                    gpus=args.gpus, gpu_memory=args.gpu_memory, sample=sample,
                    prices=prices or None)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"warpsearch plan: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(p.to_dict(), default=str) if args.json else str(p), file=out)
    return 0


def _param_value(text: str):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def run_build(args, out=None) -> int:
    """``warpsearch build``: prints what was built as JSON; 2 on a bad input."""
    import json

    import warpsearch as ws

    out = sys.stdout if out is None else out
    params = {}
    for p in args.param:
        name, sep, value = p.partition("=")
        if not sep or not name.isidentifier():
            print(f"warpsearch build: --param takes NAME=VALUE, got {p!r}", file=sys.stderr)
            return 2
        params[name] = _param_value(value)
    try:
        idx = ws.build_index(args.source, args.output, index=args.index, metric=args.metric,
                             memory_budget=args.memory_budget, chunk_rows=args.chunk_rows,
                             train_rows=args.train_rows, checkpoint_rows=args.checkpoint_rows,
                             resume=not args.no_resume, column=args.column,
                             progress=False if args.quiet else None, **params)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        print(f"warpsearch build: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"output": os.path.abspath(args.output), "index": args.index,
                      "vectors": len(idx), "dim": idx.dim,
                      "bytes_on_disk": os.path.getsize(args.output)}), file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``warpsearch`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "bench":
        print("warpsearch bench: the peer benchmark is not installed with the package; "
              "run python benchmarks/ann/run.py DATASET.npz from a source checkout",
              file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    if args.command == "keys":
        from .server.keys_cli import run_keys

        return run_keys(args)
    return {"demo": run_demo, "info": run_info, "serve": run_serve,
            "build": run_build, "plan": run_plan}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
