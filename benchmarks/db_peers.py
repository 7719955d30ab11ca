# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The embedded database against the embedded databases users would otherwise
pick (Qdrant local mode, Chroma, LanceDB, Milvus Lite), on the same data and
the same payload filters.

    python benchmarks/db_peers.py --data /path/text-dev.npz --limit 20000 --nq 200 \\
        --python-for '*=/work/venv-peers/bin/python' --json out.json

Per engine (each in its own subprocess, so peak RSS is its own and a crash
stops only that engine): ingest rate until searchable and until indexed,
bytes on disk, peak RSS (VmHWM of the process and its children), and for
single queries and batches, unfiltered and under each filter, the fastest
search-time setting of a small grid that reaches recall@k >= --target
against exact filtered ground truth (float32 inner product over the allowed
rows), with filter violations counted against the payload arrays. Search
loops stop after --max-seconds; the JSON then says how many queries ran.
The peers need ``pip install .[bench-db]``; ``--python-for ENGINE=PATH``
(``*`` for every peer) runs an engine under another interpreter, e.g. a
virtual environment holding the peers apart from the main one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

SCHEMA = {"section": "keyword", "priority": "keyword", "arch": "keyword",
          "installed_size_kb": "int"}
# Each filter is a conjunction of (op, key, value), op in eq / ne / gte / lt;
# every engine gets the same conjunction in its own filter language.
FILTERS = {
    "none": [],
    "section=libs": [("eq", "section", "libs")],
    "priority!=optional": [("ne", "priority", "optional")],
    "arch=all,0<=size<1000": [("eq", "arch", "all"), ("gte", "installed_size_kb", 0),
                              ("lt", "installed_size_kb", 1000)],
    "priority=required": [("eq", "priority", "required")],
}
ENGINES = ["warpsearch", "warpsearch-seg20k", "qdrant", "chroma", "lancedb", "milvus"]
LABELS = {"qdrant": "Qdrant local mode (qdrant-client, in-process)",
          "warpsearch-seg20k": "warpsearch (segment_size=20000)",
          "milvus": "Milvus Lite (milvus-lite)", "lancedb": "LanceDB (IVF_PQ + refine)",
          "chroma": "Chroma (PersistentClient)", "warpsearch": "warpsearch (defaults)"}


def filter_mask(conds, cols):
    """Allowed rows of a conjunction, from the payload arrays."""
    m = np.ones(len(cols["section"]), bool)
    for op, key, val in conds:
        col = cols[key]
        m &= {"eq": col == val, "ne": col != val, "gte": col >= val, "lt": col < val}[op]
    return m


def exact_topk(base, queries, allowed, k, block=8192):
    """Exact top-k by float32 inner product over the allowed rows, in blocks (-1 pads).
    For the engine workers, which run under the peers' interpreters (warpsearch need
    not be importable there); this process uses warpsearch.contrib.evaluation."""
    idx = np.flatnonzero(allowed)
    out = np.full((len(queries), k), -1, np.int64)
    if len(idx) == 0:
        return out
    best_s = np.full((len(queries), 0), -np.inf, np.float32)
    best_i = np.zeros((len(queries), 0), np.int64)
    for s in range(0, len(idx), block):
        rows = idx[s:s + block]
        sc = np.concatenate([best_s, queries @ base[rows].T], axis=1)
        ids = np.concatenate([best_i, np.broadcast_to(rows, (len(queries), len(rows)))], axis=1)
        kk = min(k, sc.shape[1])
        part = np.argpartition(-sc, kk - 1, axis=1)[:, :kk]
        best_s, best_i = np.take_along_axis(sc, part, 1), np.take_along_axis(ids, part, 1)
    order = np.argsort(-best_s, axis=1)
    top = np.take_along_axis(best_i, order, 1)
    out[:, :top.shape[1]] = top
    return out


# -- engine adapters: create, ingest, probe, wait_indexed, search, search_batch ----
class Engine:
    knobs: list = [None]
    has_batch = True

    def __init__(self, path, dim, args):
        self.path, self.dim, self.args = path, dim, args
        self.notes = []

    def knob_name(self, knob):
        return str(knob)

    def close(self):
        pass


class WarpSearch(Engine):
    knobs = [16, 32, 64, 128, 256, 512]

    def __init__(self, path, dim, args, segment_size=None):
        super().__init__(path, dim, args)
        import warpsearch as ws
        self.db = ws.connect(path)
        kw = {} if segment_size is None else {"segment_size": segment_size}
        self.col = self.db.create_collection("bench", dim=dim, metric="cosine",
                                             schema=SCHEMA, **kw)
        self.notes.append(f"fsync=always (default); create_collection kwargs {kw}")

    def ingest(self, ids, vecs, payloads):
        self.col.upsert(ids.tolist(), vecs, payloads, progress=False)

    def wait_indexed(self):
        self.col.flush()
        info = self.col.info()
        return {k: info[k] for k in ("points", "sealed_segments", "sealing", "mutable_rows")}

    @staticmethod
    def _flt(conds):
        if not conds:
            return None
        must, must_not = [], []
        for op, key, val in conds:
            if op == "eq":
                must.append({"key": key, "match": val})
            elif op == "ne":
                must_not.append({"key": key, "match": val})
            else:
                must.append({"key": key, "range": {op: val}})
        return {"must": must, "must_not": must_not}

    def search(self, q, k, conds, knob):
        hits = self.col.search(q, k=k, filter=self._flt(conds), ef=knob, with_payload=False)
        return [h.id for h in hits]

    def search_batch(self, Q, k, conds, knob):
        res = self.col.search_batch(Q, k=k, filter=self._flt(conds), ef=knob,
                                    with_payload=False)
        return [[h.id for h in hits] for hits in res]

    def close(self):
        self.db.close()


class Qdrant(Engine):
    has_batch = True

    def __init__(self, path, dim, args):
        super().__init__(path, dim, args)
        from qdrant_client import QdrantClient, models
        self.m = models
        self.cl = QdrantClient(path=path)
        self.cl.create_collection("bench", vectors_config=models.VectorParams(
            size=dim, distance=models.Distance.COSINE))
        self.notes.append("local mode searches exactly in Python/NumPy: no HNSW, hnsw_ef "
                          "has no effect, so the grid is the default only")

    def ingest(self, ids, vecs, payloads):
        self.cl.upsert("bench", points=self.m.Batch(ids=ids.tolist(), vectors=vecs.tolist(),
                                                   payloads=payloads), wait=True)

    def wait_indexed(self):
        return {"status": str(self.cl.get_collection("bench").status)}

    def _flt(self, conds):
        if not conds:
            return None
        m = self.m
        must, must_not, rng = [], [], {}
        for op, key, val in conds:
            if op == "eq":
                must.append(m.FieldCondition(key=key, match=m.MatchValue(value=val)))
            elif op == "ne":
                must_not.append(m.FieldCondition(key=key, match=m.MatchValue(value=val)))
            else:
                rng.setdefault(key, {})[op] = val
        must += [m.FieldCondition(key=key, range=m.Range(**r)) for key, r in rng.items()]
        return m.Filter(must=must or None, must_not=must_not or None)

    def search(self, q, k, conds, knob):
        r = self.cl.query_points("bench", query=q.tolist(), query_filter=self._flt(conds),
                                 limit=k, with_payload=False)
        return [p.id for p in r.points]

    def search_batch(self, Q, k, conds, knob):
        f = self._flt(conds)
        reqs = [self.m.QueryRequest(query=q.tolist(), filter=f, limit=k, with_payload=False)
                for q in Q]
        return [[p.id for p in r.points] for r in self.cl.query_batch_points("bench", reqs)]

    def close(self):
        self.cl.close()


class Chroma(Engine):
    knobs = [16, 32, 64, 128, 256, 512]

    def __init__(self, path, dim, args):
        super().__init__(path, dim, args)
        import chromadb
        self.cl = chromadb.PersistentClient(path=path)
        self.col = self.cl.create_collection("bench", embedding_function=None,
                                             configuration={"hnsw": {"space": "cosine"}})
        self.cur = None
        self.notes.append("ef_search set with collection.modify(configuration=...); "
                          "index built during add (documented synchronous)")

    def ingest(self, ids, vecs, payloads):
        self.col.add(ids=[str(i) for i in ids.tolist()], embeddings=vecs, metadatas=payloads)

    def wait_indexed(self):
        return {"count": self.col.count()}

    def _set(self, knob):
        if knob is not None and knob != self.cur:
            self.col.modify(configuration={"hnsw": {"ef_search": knob}})
            self.cur = knob

    @staticmethod
    def _flt(conds):
        parts = []
        for op, key, val in conds:
            parts.append({key: val} if op == "eq" else {key: {"$" + op: val}})
        return None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}

    def search_batch(self, Q, k, conds, knob):
        self._set(knob)
        r = self.col.query(query_embeddings=Q, n_results=k, where=self._flt(conds),
                           include=["distances"])
        return [[int(i) for i in row] for row in r["ids"]]

    def search(self, q, k, conds, knob):
        return self.search_batch(q[None], k, conds, knob)[0]


class Lance(Engine):
    # (nprobes, refine_factor), in rising cost.
    knobs = [(10, 5), (20, 10), (50, 10), (50, 20), (100, 30), (300, 50)]

    def __init__(self, path, dim, args):
        super().__init__(path, dim, args)
        import lancedb
        import pyarrow as pa
        self.pa = pa
        self.db = lancedb.connect(path)
        self.tbl = None
        self.notes.append("IVF_PQ (the default vector index, default parameters) + "
                          "refine_factor; Bitmap indexes on keywords, BTree on the int; "
                          "filters as prefilter SQL")

    def ingest(self, ids, vecs, payloads):
        pa = self.pa
        cols = {"id": pa.array(ids, pa.int64()),
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vecs.ravel(), pa.float32()), self.dim)}
        for key in SCHEMA:
            cols[key] = pa.array([p[key] for p in payloads])
        t = pa.table(cols)
        if self.tbl is None:
            self.tbl = self.db.create_table("bench", t)
        else:
            self.tbl.add(t)

    def wait_indexed(self):
        from lancedb.index import Bitmap, BTree, IvfPq
        self.tbl.create_index("vector", config=IvfPq(distance_type="cosine"))
        for key, kind in SCHEMA.items():
            self.tbl.create_index(key, config=Bitmap() if kind == "keyword" else BTree())
        return {i.name: i.index_type for i in self.tbl.list_indices()}

    def knob_name(self, knob):
        return "probe" if knob is None else f"nprobes={knob[0]},refine={knob[1]}"

    @staticmethod
    def _flt(conds):
        sym = {"eq": "=", "ne": "!=", "gte": ">=", "lt": "<"}
        return " AND ".join(f"{key} {sym[op]} " + (f"'{val}'" if isinstance(val, str) else str(val))
                            for op, key, val in conds) or None

    def _query(self, Q, k, conds, knob):
        qb = self.tbl.search(Q).limit(k).select(["id"])
        if knob is not None:
            qb = qb.nprobes(knob[0]).refine_factor(knob[1])
        f = self._flt(conds)
        if f:
            qb = qb.where(f, prefilter=True)
        return qb.to_arrow()

    def search(self, q, k, conds, knob):
        return self._query(q, k, conds, knob).column("id").to_pylist()

    def search_batch(self, Q, k, conds, knob):
        t = self._query(list(Q), k, conds, knob)
        out = [[] for _ in range(len(Q))]
        qis = t.column("query_index").to_pylist() if "query_index" in t.column_names \
            else [0] * t.num_rows  # one query: no query_index column
        for qi, i in zip(qis, t.column("id").to_pylist()):
            out[qi].append(i)
        return out


class Milvus(Engine):
    knobs = [16, 32, 64, 128, 256, 512]

    def __init__(self, path, dim, args):
        super().__init__(path, dim, args)
        from pymilvus import DataType, MilvusClient
        os.makedirs(path, exist_ok=True)
        self.cl = MilvusClient(os.path.join(path, "milvus.db"))
        s = MilvusClient.create_schema(auto_id=False)
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        for key, kind in SCHEMA.items():
            if kind == "keyword":
                s.add_field(key, DataType.VARCHAR, max_length=64)
            else:
                s.add_field(key, DataType.INT32)
        ip = self.cl.prepare_index_params()
        ip.add_index("vector", index_type="HNSW", metric_type="COSINE",
                     params={"M": 16, "efConstruction": 200})
        self.cl.create_collection("bench", schema=s, index_params=ip)
        self.notes.append("HNSW M=16 efConstruction=200; indexed = flush + "
                          "describe_index pending_index_rows == 0 + load")

    def ingest(self, ids, vecs, payloads):
        self.cl.insert("bench", [dict(p, id=int(i), vector=v)
                                 for i, v, p in zip(ids.tolist(), vecs, payloads)])

    def wait_indexed(self):
        self.cl.flush("bench")
        t0 = time.perf_counter()
        while True:
            d = self.cl.describe_index("bench", "vector")
            if d.get("pending_index_rows", 0) == 0 or time.perf_counter() - t0 > 600:
                break
            time.sleep(0.2)
        self.cl.load_collection("bench")
        return {k: d.get(k) for k in ("total_rows", "indexed_rows", "pending_index_rows",
                                      "state")}

    @staticmethod
    def _flt(conds):
        sym = {"eq": "==", "ne": "!=", "gte": ">=", "lt": "<"}
        return " and ".join(f"{key} {sym[op]} {json.dumps(val)}" for op, key, val in conds)

    def search_batch(self, Q, k, conds, knob):
        sp = {"metric_type": "COSINE", "params": {"ef": max(knob or 64, k)}}
        r = self.cl.search("bench", data=[q.tolist() for q in Q], limit=k,
                           filter=self._flt(conds), search_params=sp, output_fields=["id"])
        return [[h["id"] for h in row] for row in r]

    def search(self, q, k, conds, knob):
        return self.search_batch(q[None], k, conds, knob)[0]

    def close(self):
        self.cl.close()


def make_engine(name, path, dim, args):
    if name == "warpsearch":
        return WarpSearch(path, dim, args)
    if name == "warpsearch-seg20k":
        return WarpSearch(path, dim, args, segment_size=20000)
    return {"qdrant": Qdrant, "chroma": Chroma, "lancedb": Lance, "milvus": Milvus}[name](
        path, dim, args)


# -- worker: one engine, in its own process ------------------------------------
def peak_rss_kib():
    """VmHWM of this process plus the current VmHWM of its descendants (KiB)."""
    def hwm(pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))
        except (OSError, StopIteration):
            return 0
    kids, parent = {}, {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    parent[int(p)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    for pid, pp in parent.items():
        kids.setdefault(pp, []).append(pid)
    todo, total = [os.getpid()], 0
    while todo:
        pid = todo.pop()
        total += hwm(pid)
        todo += kids.get(pid, [])
    return total


def disk_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total


def run_queries(eng, Q, gt, conds, mask, k, knob, batch, max_s):
    """Runs the queries (one per call, or `batch` per call) until done or max_s."""
    fn = (lambda s: eng.search_batch(Q[s:s + batch], k, conds, knob)) if batch else \
        (lambda s: [eng.search(Q[s], k, conds, knob)])
    step = batch or 1
    (eng.search_batch(Q[:1], k, conds, knob) if batch else fn(0))  # warm-up
    res, t0 = [], time.perf_counter()
    for s in range(0, len(Q), step):
        res += fn(s)
        if time.perf_counter() - t0 > max_s:
            break
    dt = time.perf_counter() - t0
    rec, viol = [], 0
    for ids, row in zip(res, gt):
        want = set(row[row >= 0].tolist())
        got = [int(i) for i in ids[:k]]
        viol += sum(1 for i in got if not (0 <= i < len(mask)) or not mask[i])
        rec.append(len(want & set(got)) / len(want) if want else 1.0)
    return {"qps": len(res) / dt, "recall": float(np.mean(rec)), "violations": viol,
            "nq": len(res), "seconds": dt}


def worker(args):
    w = np.load(args.work, allow_pickle=False)
    base, Q = w["base"], w["queries"]
    cols = {"section": w["section"], "priority": w["priority"], "arch": w["arch"],
            "installed_size_kb": w["size"]}
    n, dim = base.shape
    out = {"engine": args.worker, "label": LABELS[args.worker], "n": n, "nq": len(Q),
           "python": sys.executable}
    path = os.path.join(args.dir, args.worker)
    t0 = time.perf_counter()
    eng = make_engine(args.worker, path, dim, args)
    out["create_s"] = time.perf_counter() - t0
    lists = {key: cols[key].tolist() for key in SCHEMA}
    payloads = [dict(zip(SCHEMA, vals)) for vals in zip(*(lists[key] for key in SCHEMA))]
    ids = np.arange(n, dtype=np.int64)
    t0, m = time.perf_counter(), 0
    while m < n and time.perf_counter() - t0 < args.max_ingest_seconds:
        e = min(n, m + args.ingest_batch)
        eng.ingest(ids[m:e], base[m:e], payloads[m:e])
        m = e
    t_ack = time.perf_counter() - t0
    if m < n:  # ingest time limit: search what was ingested, against its own truth
        out["partial_rows"] = m
    while m - 1 not in eng.search(base[m - 1], args.k, [], None):  # searchable
        if time.perf_counter() - t0 > t_ack + 120:
            out["searchable_timeout"] = True
            break
        time.sleep(0.05)
    t_search = time.perf_counter() - t0
    out["index_info"] = eng.wait_indexed()
    t_index = time.perf_counter() - t0
    out.update(ingested=m, ingest_ack_s=t_ack, searchable_s=t_search, indexed_s=t_index,
               ingest_searchable_pps=m / t_search, ingest_indexed_pps=m / t_index,
               rss_after_ingest_kib=peak_rss_kib())
    out["results"] = {}
    for fname, conds in FILTERS.items():
        mask = filter_mask(conds, cols)
        gt = w["gt_" + fname]
        if m < n:
            mask[m:] = False
            gt = exact_topk(base, Q, mask, args.k)
        entry = {"allowed": int(mask.sum()), "selectivity": float(mask.mean())}
        sweep, chosen, best = [], None, None
        for knob in eng.knobs:  # each point bounded by max_seconds, the sweep by the grid
            r = run_queries(eng, Q, gt, conds, mask, args.k, knob, 0, args.max_seconds)
            r["setting"] = eng.knob_name(knob)
            sweep.append(r)
            if best is None or r["recall"] > best[1]["recall"]:
                best = (knob, r)
            if r["recall"] >= args.target:
                chosen = (knob, r)
                break
        knob, single = chosen or best
        entry["single"] = dict(single, reached=chosen is not None)
        entry["sweep"] = sweep
        if eng.has_batch:  # sweep on from the single-query setting (recall may differ)
            # A batch call cannot stop midway: slow engines get smaller batches.
            bsize = int(min(args.batch, max(1, single["qps"] * args.max_seconds / 4)))
            bbest = None
            for knob in eng.knobs[eng.knobs.index(knob):]:
                b = run_queries(eng, Q, gt, conds, mask, args.k, knob, bsize, args.max_seconds)
                b.update(setting=eng.knob_name(knob), reached=b["recall"] >= args.target,
                         batch=bsize)
                if bbest is None or b["recall"] > bbest["recall"] or b["reached"]:
                    bbest = b
                if b["reached"]:
                    break
            entry["batch"] = bbest
        out["results"][fname] = entry
        print(f"[{args.worker}] {fname}: {json.dumps(entry['single'])}", file=sys.stderr,
              flush=True)
    out["peak_rss_kib"] = peak_rss_kib()
    eng.close()
    out["disk_bytes"] = disk_bytes(path)
    out["notes"] = eng.notes
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


# -- driver --------------------------------------------------------------------
def fmt(x, nd=0):
    return "-" if x is None else f"{x:,.{nd}f}"


def ratio(a, b):
    return "-" if not a or not b else f"{a / b:.2f}x"


def report(results, args):
    ok = {r["engine"]: r for r in results if "results" in r}
    ref = ok.get(args.ref)
    lines = [f"recall@{args.k} target {args.target}; QPS = queries/s; ratio = {args.ref} QPS "
             f"/ engine QPS (same mode and filter, both at target)", "",
             "| engine | mode | filter | allowed | QPS at target | recall | setting | "
             "violations | queries run | ratio |", "|---|---|---|---:|---:|---:|---|---:|---:|---:|"]
    for eng, r in ok.items():
        part = "partial_rows" in r
        for fname, e in r["results"].items():
            for mode in ("single", "batch"):
                m = e.get(mode)
                if m is None:
                    lines.append(f"| {r['label']} | {mode} | {fname} | {e['allowed']} | "
                                 f"no batch API | | | | | |")
                    continue
                qps = m["qps"] if m["reached"] else None
                rq = ref and ref["results"][fname].get(mode)
                rr = rq["qps"] if rq and rq["reached"] and not part else None
                note = "" if m["reached"] else f" (never reached; best {m['qps']:,.0f} QPS)"
                if m.get("batch", args.batch) != args.batch:
                    m = dict(m, setting=f"{m['setting']} (batch {m['batch']})")
                lines.append(f"| {r['label']} | {mode} | {fname} | {e['allowed']} | "
                             f"{fmt(qps)}{note} | {m['recall']:.3f} | {m['setting']} | "
                             f"{m['violations']} | {m['nq']} | "
                             f"{ratio(rr, qps) if eng != args.ref else '1.00x'} |")
    lines += ["", "| engine | points | ingest pts/s (searchable) | ingest pts/s (indexed) | indexed after s "
              "| peak RSS MiB | disk MiB | ratios vs " + args.ref + " (searchable, indexed, RSS, "
              "disk) |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for eng, r in ok.items():
        keys = ("ingest_searchable_pps", "ingest_indexed_pps") + (
            () if "partial_rows" in r else ("peak_rss_kib", "disk_bytes"))
        rs = [ratio(ref[k], r[k]) if ref else "-" for k in keys]
        lines.append(f"| {r['label']} | {r['ingested']} | {fmt(r['ingest_searchable_pps'])} | "
                     f"{fmt(r['ingest_indexed_pps'])} | {fmt(r['indexed_s'], 1)} | "
                     f"{fmt(r['peak_rss_kib'] / 1024)} | {fmt(r['disk_bytes'] / 2**20, 1)} | "
                     f"{', '.join(rs)} |")
    for r in results:
        if "results" not in r:
            lines.append(f"\n{r['engine']}: FAILED ({r.get('error', '')[-300:]})")
        else:
            lines.append(f"\n{r['engine']}: index {json.dumps(r['index_info'])}; "
                         f"{'; '.join(r['notes'])}" + (
                             f"; PARTIAL: ingest stopped by --max-ingest-seconds after "
                             f"{r['ingested']} of {r['n']} points, searched against the "
                             f"exact truth of those (no QPS ratio)" if "partial_rows" in r
                             else ""))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="text-dev.npz")
    ap.add_argument("--limit", type=int, default=0, help="first N base rows (0: all)")
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--batch", type=int, default=500, help="queries per batch call")
    ap.add_argument("--ingest-batch", type=int, default=1000, help="points per insert call")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--max-seconds", type=float, default=60.0,
                    help="limit of each search loop (one grid point of one filter and mode)")
    ap.add_argument("--max-ingest-seconds", type=float, default=300.0,
                    help="stop inserting after this; the engine is then searched on the "
                         "rows it holds, against their own exact truth, and marked partial")
    ap.add_argument("--engine-timeout", type=float, default=1800.0,
                    help="kill an engine's subprocess after this many seconds")
    ap.add_argument("--python-for", action="append", default=[],
                    help="ENGINE=PATH interpreter for an engine ('*' = every peer)")
    ap.add_argument("--ref", default="warpsearch", help="engine the ratios refer to")
    ap.add_argument("--json", help="write all results here")
    ap.add_argument("--keep-dir", help="keep engine directories here (default: a temp dir)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    if not args.data:
        ap.error("--data is required")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    bad = [e for e in engines if e not in ENGINES]
    if bad:
        ap.error(f"unknown engines {bad}; choose from {ENGINES}")
    pyfor = dict(p.split("=", 1) for p in args.python_for)
    t_start = time.perf_counter()
    d = np.load(args.data)
    n = args.limit or d["base"].shape[0]
    base = np.ascontiguousarray(d["base"][:n], dtype=np.float32)
    Q = np.ascontiguousarray(d["queries"][:args.nq], dtype=np.float32)
    cols = {"section": d["payload_section"][:n].astype(str),
            "priority": d["payload_priority"][:n].astype(str),
            "arch": d["payload_arch"][:n].astype(str),
            "installed_size_kb": d["payload_installed_size_kb"][:n].astype(np.int64)}
    root = args.keep_dir or tempfile.mkdtemp(prefix="ws_db_peers_")
    os.makedirs(root, exist_ok=True)
    from warpsearch.contrib.evaluation import exact_knn

    gts = {f"gt_{f}": exact_knn(base, Q, args.k, "ip",
                                allowed=np.flatnonzero(filter_mask(c, cols)))[1]
           for f, c in FILTERS.items()}
    work = os.path.join(root, "work.npz")
    np.savez(work, base=base, queries=Q, section=cols["section"], priority=cols["priority"],
             arch=cols["arch"], size=cols["installed_size_kb"], **gts)
    print(f"# {n} points, {len(Q)} queries, dim {base.shape[1]}; ground truth in "
          f"{time.perf_counter() - t_start:.1f} s", file=sys.stderr)
    results = []
    for eng in engines:
        py = pyfor.get(eng) or (pyfor.get("*") if not eng.startswith("warpsearch") else None) \
            or sys.executable
        out = os.path.join(root, f"{eng}.json")
        cmd = [py, os.path.abspath(__file__), "--worker", eng, "--work", work, "--out", out,
               "--dir", root, "--k", str(args.k), "--batch", str(args.batch),
               "--ingest-batch", str(args.ingest_batch), "--target", str(args.target),
               "--max-seconds", str(args.max_seconds),
               "--max-ingest-seconds", str(args.max_ingest_seconds)]
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, timeout=args.engine_timeout, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            sys.stderr.write(p.stdout[-4000:])
            if p.returncode != 0 or not os.path.exists(out):
                raise RuntimeError(f"exit {p.returncode}: {p.stdout[-2000:]}")
            with open(out) as f:
                r = json.load(f)
        except (subprocess.TimeoutExpired, RuntimeError) as exc:
            r = {"engine": eng, "error": str(exc)}
        r["wall_s"] = time.perf_counter() - t0
        results.append(r)
        shutil.rmtree(os.path.join(root, eng), ignore_errors=True)
        print(f"# {eng}: {r['wall_s']:.0f} s{' FAILED' if 'error' in r else ''}",
              file=sys.stderr, flush=True)
    table = report(results, args)
    print(table)
    total = time.perf_counter() - t_start
    print(f"\nwall time {total:.0f} s", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": [sys.executable] + sys.argv, "n": n, "nq": len(Q),
                       "k": args.k, "target": args.target, "wall_s": total,
                       "filters": {f: [list(c) for c in cs] for f, cs in FILTERS.items()},
                       "engines": results, "table": table}, f, indent=1)
    if not args.keep_dir:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
