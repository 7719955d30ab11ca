# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Recall/QPS benchmark of warpsearch against other vector search libraries.

Run it as ``python benchmarks/ann/run.py DATASET.npz [options]`` from a source
checkout (older tables in RESULTS.md were made by it as ``python -m
warpsearch.bench``); the engines are in ``peers.py``. The dataset is an ``.npz``
file with the keys ``base``, ``queries``, ``gt_ids`` (exact neighbours, nearest first) and
``metric`` (``"l2"`` or ``"ip"``).

For every engine and thread count the harness measures the build time, then
for every ``ef`` the recall@k against the ground truth and the QPS of one batch
search of all queries (best of ``--repeat`` runs). It interpolates the QPS at
recall 0.90 / 0.95 / 0.99 (linearly in recall between the two points that
bracket the target) and compares exact search of ``FlatIndex`` with NumPy/BLAS
brute force. Every graph engine is built with the same ``M`` and
``ef_construction`` and stores float32 vectors (warpsearch walks the graph on
int8 codes and re-ranks with the float32 vectors, its default).

Peers (hnswlib, faiss-cpu, usearch; optionally glass) are imported lazily; an
engine whose package is missing is skipped with a note. The optional engines
``glass-sq8`` / ``glass-sq4`` (PyPI ``pyglass-portable``) walk glass' HNSW graph
(R = 2 M, L = ef_construction) on 8- / 4-bit scalar codes and re-rank with float32
vectors; ``glass-sq8-default`` / ``glass-sq4-default`` keep glass' own re-rank depth
(see ``peers.Glass``). threadpoolctl, when installed, sets
the BLAS threads of the NumPy baseline.

``OMP_WAIT_POLICY`` is set to ``PASSIVE`` (unless already set) before any peer
is imported: OpenMP threads that spin between calls (the default of the GNU
runtime) steal the cores from everything else and make faiss much slower on a
machine with few cores. Set it in the environment yourself if faiss (or
another OpenMP library) is imported before the harness runs.

Examples
--------
Quick run on a subset (ground truth recomputed exactly for the subset)::

    python benchmarks/ann/run.py sift-dev.npz --limit 20000 --ef 16,64,256 \\
        --threads 1,2 --markdown subset.md --json subset.json

warpsearch against glass, its best of 8- and 4-bit traversal with re-rank::

    python benchmarks/ann/run.py sift-dev.npz --engines warpsearch,hnswlib,glass-sq8,glass-sq4
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from peers import ENGINES, Engine, _log
from warpsearch.contrib.evaluation import exact_knn, recall_at_k
from warpsearch.contrib.timing import best_time

__all__ = ["Dataset", "load_dataset", "interpolate_qps", "run_benchmark", "to_markdown",
           "main"]

DEFAULT_EF = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
RECALL_TARGETS = (0.90, 0.95, 0.99)
ENGINE_GROUPS = ("warpsearch", "hnswlib", "faiss", "usearch", "numpy")
OPTIONAL_GROUPS = ("warpsearch-f32", "warpsearch-fp16", "warpsearch-sq8", "glass-sq8",
                   "glass-sq4", "glass-sq8-default", "glass-sq4-default")


# -- data -------------------------------------------------------------------
@dataclass
class Dataset:
    """Benchmark data: float32 vectors and the exact neighbour ids of each query."""

    name: str
    base: np.ndarray
    queries: np.ndarray
    gt_ids: np.ndarray
    metric: str
    n_total: int

    @property
    def subset(self) -> bool:
        """True when only the first ``len(base)`` of ``n_total`` base vectors are used."""
        return len(self.base) < self.n_total


def _load_files(spec: str, limit, nq, k, metric) -> Dataset:
    """``BASE,QUERIES[,GT]`` vector files (any format of ``ws.open_vectors``: .fbin,
    .u8bin, .i8bin, .fvecs, .bvecs, .npy, .parquet; ground truth .ibin / .ivecs).
    Without ground truth for the rows kept, it is computed exactly, streaming the
    base in chunks (on the GPU when one is there)."""
    import warpsearch as ws
    from warpsearch.contrib.evaluation import exact_knn_file

    parts = spec.split(",")
    if len(parts) not in (2, 3):
        raise ValueError(f"expected BASE,QUERIES[,GT] vector files, got {spec!r}")
    base_f = ws.open_vectors(parts[0])
    n_total = len(base_f)
    n = n_total if limit is None else min(limit, n_total)
    queries = np.ascontiguousarray(ws.open_vectors(parts[1]).read(0, nq), dtype=np.float32)
    gt = ws.open_vectors(parts[2]).read(0, nq) if len(parts) == 3 and n == n_total else None
    base = np.ascontiguousarray(base_f.read(0, n), dtype=np.float32)
    if gt is None or gt.shape[1] < k:
        gt = exact_knn_file(base_f if n == n_total else _Head(base_f, n), queries, k,
                            metric)[1]
    name = os.path.splitext(os.path.basename(parts[0]))[0]
    return Dataset(name, base, queries, np.asarray(gt[:, :k], np.int64), metric, n_total)


class _Head:
    """The first ``n`` rows of a vector file (for streamed ground truth)."""

    def __init__(self, f, n):
        self.f, self.n, self.dim, self.path = f, n, f.dim, f.path

    def chunks(self, rows):
        for s in range(0, self.n, rows):
            yield s, self.f.read(s, min(s + rows, self.n))


def load_dataset(path: str, limit: int | None = None, nq: int | None = None,
                 k: int = 10, metric: str = "l2") -> Dataset:
    """Loads an ``.npz`` dataset as float32, or ``BASE,QUERIES[,GT]`` vector files in
    the big-ann-benchmarks / TEXMEX formats (their ``metric`` given).

    With ``limit`` smaller than the base, only the first ``limit`` base vectors
    are kept and the ground truth is recomputed exactly (float64) for them.
    ``nq`` keeps only the first ``nq`` queries.
    """
    if not path.endswith(".npz"):
        return _load_files(path, limit, nq, k, metric)
    with np.load(path, allow_pickle=False) as f:
        missing = {"base", "queries", "metric"} - set(f.files)
        if missing:
            raise ValueError(f"{path}: missing keys {sorted(missing)}")
        metric = str(f["metric"])
        if metric not in ("l2", "ip"):
            raise ValueError(f"{path}: metric must be 'l2' or 'ip', got {metric!r}")
        base = f["base"]
        n_total = base.shape[0]
        queries = f["queries"]
        gt = f["gt_ids"] if "gt_ids" in f.files else None
    if nq is not None:
        queries = queries[:nq]
        gt = None if gt is None else gt[:nq]
    if limit is not None and limit < n_total:
        base = base[:limit]
        gt = None
    base = np.ascontiguousarray(base, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if gt is None or gt.shape[1] < k:
        gt = exact_knn(base, queries, k, metric)[1]
    name = os.path.splitext(os.path.basename(path))[0]
    return Dataset(name, base, queries, np.asarray(gt[:, :k], np.int64), metric, n_total)


# -- measuring ------------------------------------------------------------------
def interpolate_qps(curve: list[dict], target: float) -> dict | None:
    """QPS at ``target`` recall from ``curve`` (points ``{"recall", "qps"}`` in ef order).

    Linear in recall between the first two consecutive points that bracket the
    target. When the first point already reaches it, its QPS is returned as a
    lower bound (``"bound": "lower"``). ``None`` when the target is never reached.
    """
    if not curve:
        return None
    if curve[0]["recall"] >= target:
        return {"qps": curve[0]["qps"], "bound": "lower"}
    for a, b in zip(curve, curve[1:]):
        if a["recall"] < target <= b["recall"]:
            w = (target - a["recall"]) / (b["recall"] - a["recall"])
            return {"qps": a["qps"] + w * (b["qps"] - a["qps"]), "bound": "interp"}
    return None


@dataclass
class Options:
    threads: list[int]
    engines: list[str]
    M: int = 16
    efc: int = 200
    efs: list[int] = field(default_factory=lambda: list(DEFAULT_EF))
    k: int = 10
    repeat: int = 3
    build_threads: int | None = None  # build once with this many threads
    interleave: bool = False  # time graph engines in alternating rounds


def _set_openmp_passive() -> str:
    """Sets ``OMP_WAIT_POLICY=PASSIVE`` unless set; returns the value in effect."""
    if "OMP_WAIT_POLICY" not in os.environ:
        if "faiss" in sys.modules:
            _log("note: faiss was imported before the harness; OMP_WAIT_POLICY=PASSIVE "
                 "may not take effect (set it in the environment)")
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return os.environ["OMP_WAIT_POLICY"]


def _available_engines(groups: list[str], notes: list[str]) -> list[type[Engine]]:
    out = []
    for g in groups:
        for cls in ENGINES[g]:
            try:
                cls.load()
            except ImportError as e:
                notes.append(f"{cls.name} skipped: {e}")
                _log(f"note: {cls.name} skipped ({e})")
                continue
            out.append(cls)
    return out


def _build_engine(cls: type[Engine], data: Dataset, opt: Options, threads: int):
    eng = cls(data.base.shape[1], data.metric, opt.M, opt.efc)
    t0 = time.perf_counter()
    eng.build(data.base, threads)
    build_s = time.perf_counter() - t0
    _log(f"[{eng.name} t={threads}] build {build_s:.2f}s")
    return eng, build_s


def _run_engine(cls: type[Engine], data: Dataset, opt: Options, threads: int,
                built=None) -> dict:
    eng, build_s = built or _build_engine(cls, data, opt, threads)
    efs = opt.efs if eng.kind == "graph" else [0]
    points = []
    for ef in efs:
        secs, ids = best_time(
            lambda ef=ef: eng.search(data.queries, opt.k, max(ef, opt.k), threads), opt.repeat)
        points.append((ef, secs, ids))
    return _record(eng, build_s, threads, points, data, opt)


def _run_interleaved(built: list, data: Dataset, opt: Options, threads: int) -> list[dict]:
    """Times the graph engines in rounds: for each ef, each repeat runs every engine
    once, so slow phases of a shared machine fall on all engines alike."""
    graph = [(e, b) for e, b in built if e.kind == "graph"]
    best: dict = {}
    for ef in opt.efs:
        for _ in range(opt.repeat):
            for eng, _b in graph:
                t0 = time.perf_counter()
                ids = eng.search(data.queries, opt.k, max(ef, opt.k), threads)
                secs = time.perf_counter() - t0
                if secs < best.get((eng.name, ef), (float("inf"),))[0]:
                    best[(eng.name, ef)] = (secs, ids)
    runs = []
    for eng, build_s in built:
        if eng.kind == "graph":
            pts = [(ef, *best[(eng.name, ef)]) for ef in opt.efs]
            runs.append(_record(eng, build_s, threads, pts, data, opt))
        else:
            runs.append(_run_engine(type(eng), data, opt, threads, (eng, build_s)))
    return runs


def _record(eng, build_s: float, threads: int, points: list, data: Dataset,
            opt: Options) -> dict:
    """The result record of one engine at one thread count from (ef, secs, ids) points."""
    nq = len(data.queries)
    rec = {"engine": eng.name, "kind": eng.kind, "threads": threads, "build_s": build_s}
    curve = []
    for ef, secs, ids in points:
        pt = {"ef": ef, "recall": recall_at_k(ids, data.gt_ids, opt.k), "qps": nq / secs}
        curve.append(pt)
        where = f"ef={ef} " if eng.kind == "graph" else ""
        _log(f"[{eng.name} t={threads}] {where}recall@{opt.k}={pt['recall']:.4f} "
             f"qps={pt['qps']:.0f}")
    rec["device"] = eng.device()
    if eng.kind == "graph":
        rec["curve"] = curve
        rec["at_recall"] = {f"{t:.2f}": interpolate_qps(curve, t) for t in RECALL_TARGETS}
    else:
        rec.update(recall=curve[0]["recall"], qps=curve[0]["qps"])
    return rec


def _ratios(runs: list[dict], threads: list[int]) -> dict:
    """warpsearch / hnswlib per thread count: QPS ratio at each recall target
    (> 1: warpsearch faster) and build-time ratio (< 1: warpsearch builds faster)."""
    out = {}
    for t in threads:
        by = {r["engine"]: r for r in runs if r["threads"] == t and r["kind"] == "graph"}
        ws_, hl = by.get("warpsearch"), by.get("hnswlib")
        if not (ws_ and hl):
            continue
        row = {"build": ws_["build_s"] / hl["build_s"], "lower_bound": []}
        for key in ws_["at_recall"]:
            a, b = ws_["at_recall"][key], hl["at_recall"][key]
            row[key] = a["qps"] / b["qps"] if a and b else None
            if a and b and "lower" in (a["bound"], b["bound"]):
                row["lower_bound"].append(key)  # a ratio involving a lower bound
        out[str(t)] = row
    return out


def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "memory_gib": mem,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def run_benchmark(data: Dataset, opt: Options, command: str = "") -> dict:
    """Runs every engine at every thread count; returns a JSON-able result dict."""
    notes: list[str] = []
    omp = _set_openmp_passive()
    engines = _available_engines(opt.engines, notes)
    meta = {
        "command": command,
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": _machine(),
        "versions": {cls.package: cls.version() for cls in engines},
        "env": {"OMP_WAIT_POLICY": omp},
        "dataset": {"name": data.name, "n": len(data.base), "n_total": data.n_total,
                    "dim": int(data.base.shape[1]), "nq": len(data.queries),
                    "metric": data.metric, "subset": data.subset},
        "params": {"M": opt.M, "ef_construction": opt.efc, "k": opt.k, "ef": opt.efs,
                   "threads": opt.threads, "repeat": opt.repeat,
                   "build_threads": opt.build_threads, "interleave": opt.interleave},
        "notes": notes,
    }
    try:
        import warpsearch as ws
        meta["warpsearch_build_info"] = ws.build_info()
        threads_before = ws.get_num_threads()
    except ImportError:
        threads_before = None
    runs = []
    try:
        if opt.interleave:  # every index built once, kept, timed in alternating rounds
            built = [_build_engine(cls, data, opt, opt.build_threads or max(opt.threads))
                     for cls in engines]
            for t in opt.threads:
                runs += _run_interleaved(built, data, opt, t)
            del built
        elif opt.build_threads:  # one index per engine, searched at every thread count
            for cls in engines:
                built = _build_engine(cls, data, opt, opt.build_threads)
                runs += [_run_engine(cls, data, opt, t, built) for t in opt.threads]
                del built
        else:
            for t in opt.threads:
                for cls in engines:
                    runs.append(_run_engine(cls, data, opt, t))
    finally:
        if threads_before is not None:
            ws.set_num_threads(threads_before)
    return {"meta": meta, "runs": runs, "ratios": _ratios(runs, opt.threads)}


# -- reporting -------------------------------------------------------------------
def _fmt_qps(v: dict | None) -> str:
    if v is None:
        return "n/a"
    return (">=" if v["bound"] == "lower" else "") + f"{v['qps']:,.0f}"


def _fmt_ratio(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}x"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def to_markdown(res: dict) -> str:
    """Renders a result dict as Markdown (pasteable into benchmarks/RESULTS.md)."""
    m, ds, p = res["meta"], res["meta"]["dataset"], res["meta"]["params"]
    mach = m["machine"]
    title = f"### {ds['name']}: {ds['n']:,} x {ds['dim']} ({ds['metric']})"
    if ds["subset"]:
        title += f" -- SUBSET: first {ds['n']:,} of {ds['n_total']:,} base vectors"
    lines = [title, ""]
    lines += [
        f"- Command: `{m['command']}`",
        f"- Date: {m['date']}",
        f"- Machine: {mach['cpu']}, {mach['logical_cpus']} logical CPUs, "
        f"{mach['memory_gib']} GiB RAM, {mach['os']}, Python {mach['python']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- Data: {ds['n']:,} base vectors, {ds['nq']:,} queries, metric {ds['metric']}, "
        f"recall@{p['k']} against exact ground truth"
        + (" (recomputed for the subset)" if ds["subset"] else ""),
        f"- Graph engines: M={p['M']}, ef_construction={p['ef_construction']}, float32 vectors "
        "(warpsearch traverses 8- or 4-bit scalar codes, chosen from the data, and re-ranks exactly; usearch dtype f32)",
        f"- QPS: queries / best-of-{p['repeat']} wall time of one batch search of all "
        "queries; QPS at a recall target is interpolated linearly in recall "
        "(`>=` = reached at the smallest ef; n/a = never reached)",
        "- Ratio rows: warpsearch / hnswlib; QPS ratio > 1 means warpsearch is faster, "
        "build-time ratio < 1 means warpsearch builds faster (`*`: one side is a lower "
        "bound, so the ratio is only indicative)",
        f"- Environment: OMP_WAIT_POLICY={m['env']['OMP_WAIT_POLICY']}",
    ]
    if any(r["engine"].startswith("glass") for r in res["runs"]):
        lines.append(f"- glass: HNSW with R={2 * p['M']} (= 2 M, its level-0 degree), "
                     f"L={p['ef_construction']}, built on float32; walks SQ8U (glass-sq8) or "
                     "SQ4U (glass-sq4) codes and re-ranks with float32 vectors, the whole "
                     "pool of ef candidates (`-default`: glass' own 1.5 k)")
    if p.get("build_threads"):
        lines.append(f"- Each index built once with {p['build_threads']} threads (the build "
                     "time shown on every row) and searched at each thread count")
    if p.get("interleave"):
        lines.append("- Interleaved timing: for each ef, every repeat runs each graph engine "
                     "once in turn (all indexes in memory), so machine noise falls on all alike")
    devices = sorted({r["device"] for r in res["runs"] if r["engine"].startswith("warpsearch")})
    if devices:
        lines.append(f"- warpsearch device: {', '.join(devices)}")
    lines += [f"- Note: {n}" for n in m["notes"]] + [""]
    runs = res["runs"]
    graph = [r for r in runs if r["kind"] == "graph"]
    exact = [r for r in runs if r["kind"] == "exact"]
    targets = [f"{t:.2f}" for t in RECALL_TARGETS]
    if graph:
        lines += ["#### QPS at recall target and build time", ""]
        rows = [[r["engine"], str(r["threads"]), f"{r['build_s']:.2f}"]
                + [_fmt_qps(r["at_recall"][t]) for t in targets] for r in graph]
        for t, rat in res["ratios"].items():
            rows.append(["**warpsearch / hnswlib**", t, _fmt_ratio(rat["build"])]
                        + [_fmt_ratio(rat[x]) + ("*" if x in rat["lower_bound"] else "")
                           for x in targets])
        lines += _table(["engine", "threads", "build s"] + [f"QPS @ R={t}" for t in targets],
                        rows)
        for t in p["threads"]:
            sel = [r for r in graph if r["threads"] == t]
            if not sel:
                continue
            lines += [f"#### Recall@{p['k']} / QPS curve, {t} thread{'s' if t > 1 else ''}", ""]
            header = ["ef"] + [h for r in sel for h in (f"{r['engine']} R", f"{r['engine']} QPS")]
            rows = [[str(pt["ef"])] + [c for r in sel for c in
                                       (f"{r['curve'][i]['recall']:.4f}",
                                        f"{r['curve'][i]['qps']:,.0f}")]
                    for i, pt in enumerate(sel[0]["curve"])]
            lines += _table(header, rows)
    if exact:
        lines += ["#### Exact search", ""]
        base_qps = {r["threads"]: r["qps"] for r in exact if r["engine"] == "numpy"}
        rows = [[r["engine"], str(r["threads"]), f"{r['qps']:,.0f}", f"{r['recall']:.4f}",
                 _fmt_ratio(r["qps"] / base_qps[r["threads"]])
                 if r["threads"] in base_qps else "n/a"] for r in exact]
        lines += _table(["engine", "threads", "QPS", f"recall@{p['k']}", "QPS vs numpy"],
                        rows)
    return "\n".join(lines)


# -- command line ----------------------------------------------------------------
def _int_list(s: str) -> list[int]:
    try:
        vals = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of integers: {s!r}") from None
    if not vals or min(vals) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers: {s!r}")
    return vals


def _pos_int(s: str) -> int:
    vals = _int_list(s)
    if len(vals) != 1:
        raise argparse.ArgumentTypeError(f"expected one positive integer: {s!r}")
    return vals[0]


def _engine_list(s: str) -> list[str]:
    vals = [x.strip() for x in s.split(",") if x.strip()]
    bad = [v for v in vals if v not in ENGINES]
    if bad or not vals:
        raise argparse.ArgumentTypeError(
            f"unknown engine(s) {bad}; choose from {', '.join(ENGINES)}")
    return list(dict.fromkeys(vals))


def build_parser(prog: str = "python benchmarks/ann/run.py") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", help=".npz file with base, queries, gt_ids, metric; or "
                                    "BASE,QUERIES[,GT] vector files (.fbin, .u8bin, .i8bin, "
                                    ".fvecs, .bvecs, .npy, .parquet; GT .ibin / .ivecs)")
    ap.add_argument("--metric", default="l2", choices=["l2", "ip"],
                    help="metric of BASE,QUERIES files (an .npz names its own)")
    default_threads = sorted({1, os.cpu_count() or 1})
    ap.add_argument("--threads", type=_int_list, default=default_threads,
                    help="comma-separated thread counts (default: "
                         f"{','.join(map(str, default_threads))})")
    ap.add_argument("--engines", type=_engine_list, default=list(ENGINE_GROUPS),
                    help=f"comma-separated engines (default: {','.join(ENGINE_GROUPS)}; "
                         f"also: {','.join(OPTIONAL_GROUPS)})")
    ap.add_argument("--M", type=_pos_int, default=16, help="graph degree parameter (default 16)")
    ap.add_argument("--efc", type=_pos_int, default=200, help="ef_construction (default 200)")
    ap.add_argument("--ef", type=_int_list, default=list(DEFAULT_EF),
                    help="comma-separated search ef values (default "
                         f"{','.join(map(str, DEFAULT_EF))})")
    ap.add_argument("--k", type=_pos_int, default=10, help="neighbours per query (default 10)")
    ap.add_argument("--limit", type=_pos_int, default=None,
                    help="use only the first N base vectors (exact ground truth recomputed)")
    ap.add_argument("--nq", type=_pos_int, default=None, help="use only the first N queries")
    ap.add_argument("--repeat", type=_pos_int, default=3, help="timed runs per point (best kept)")
    ap.add_argument("--build-threads", type=_pos_int, default=None,
                    help="build each index once with N threads and search it at every "
                         "--threads count (default: one build per thread count)")
    ap.add_argument("--interleave", action="store_true",
                    help="build every index once (with --build-threads, else the largest "
                         "--threads), keep them all, and time the graph engines in "
                         "alternating rounds (for noisy shared machines)")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON")
    ap.add_argument("--markdown", metavar="PATH", help="write the results as Markdown")
    return ap


def main(argv: list[str] | None = None, prog: str = "python benchmarks/ann/run.py") -> int:
    """Command-line entry point; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(prog).parse_args(argv)
    _set_openmp_passive()
    data = load_dataset(args.dataset, limit=args.limit, nq=args.nq, k=args.k,
                        metric=args.metric)
    opt = Options(threads=args.threads, engines=args.engines, M=args.M, efc=args.efc,
                  efs=args.ef, k=args.k, repeat=args.repeat,
                  build_threads=args.build_threads, interleave=args.interleave)
    res = run_benchmark(data, opt, command=f"{prog} {shlex.join(argv)}")
    md = to_markdown(res)
    print(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
