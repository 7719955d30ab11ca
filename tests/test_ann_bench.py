# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The recall/QPS harness of benchmarks/ann (run.py) on tiny datasets, and the optional
peer adapters (glass in run.py, ScaNN and faiss IVF-RaBitQ in ivf_bench.py), each test of
a peer skipped when its package is not importable."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from warpsearch.contrib.evaluation import exact_knn, recall_at_k

ANN = Path(__file__).resolve().parents[1] / "benchmarks" / "ann"
if not (ANN / "run.py").exists():
    pytest.skip("benchmarks/ is not next to the tests (installed tests only)",
                allow_module_level=True)


def _load_harness():
    sys.path.insert(0, str(ANN))  # run.py imports its sibling peers.py
    try:
        spec = importlib.util.spec_from_file_location("ann_run", ANN / "run.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod  # dataclasses look their module up
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(ANN))


harness = _load_harness()


def _tiny_dataset(path, metric="l2", n=600, nq=30, dim=16):
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((8, dim))
    base = (centres[rng.integers(0, 8, n)] + 0.3 * rng.standard_normal((n, dim)))
    queries = (centres[rng.integers(0, 8, nq)] + 0.3 * rng.standard_normal((nq, dim)))
    if metric == "ip":
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    base, queries = base.astype(np.float32), queries.astype(np.float32)
    gt = exact_knn(base, queries, 10, metric)[1]
    np.savez(path, base=base, queries=queries, gt_ids=gt.astype(np.int32),
             metric=np.array(metric))
    return base, queries, gt


def test_interpolate_qps():
    curve = [{"recall": 0.8, "qps": 1000.0}, {"recall": 0.9, "qps": 600.0},
             {"recall": 0.98, "qps": 200.0}]
    mid = harness.interpolate_qps(curve, 0.85)
    assert mid["bound"] == "interp" and mid["qps"] == pytest.approx(800.0)
    assert harness.interpolate_qps(curve, 0.9)["qps"] == pytest.approx(600.0)
    assert harness.interpolate_qps(curve, 0.99) is None
    assert harness.interpolate_qps(curve, 0.5) == {"qps": 1000.0, "bound": "lower"}


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_harness_on_tiny_dataset(tmp_path, capsys, metric):
    path = tmp_path / "tiny.npz"
    _tiny_dataset(path, metric)
    js, md = tmp_path / "r.json", tmp_path / "r.md"
    rc = harness.main([str(path), "--engines", "warpsearch,numpy", "--threads", "1",
               "--ef", "10,64", "--repeat", "1", "--limit", "500", "--json", str(js),
               "--markdown", str(md)])
    assert rc == 0
    out = capsys.readouterr().out
    res = json.loads(js.read_text())
    assert res["meta"]["dataset"]["subset"] is True and res["meta"]["dataset"]["n"] == 500
    assert res["meta"]["dataset"]["metric"] == metric
    graph = [r for r in res["runs"] if r["kind"] == "graph"]
    exact = {r["engine"]: r for r in res["runs"] if r["kind"] == "exact"}
    assert [r["engine"] for r in graph] == ["warpsearch"]
    assert [p["ef"] for p in graph[0]["curve"]] == [10, 64]
    assert graph[0]["curve"][-1]["recall"] >= 0.95
    assert exact["warpsearch-flat"]["recall"] == 1.0 and exact["numpy"]["recall"] == 1.0
    assert "SUBSET" in out and md.read_text().strip() == out.strip()


def test_bench_build_once_searched_at_each_thread_count(tmp_path, capsys):
    path = tmp_path / "tiny.npz"
    _tiny_dataset(path, "l2")
    js = tmp_path / "r.json"
    rc = harness.main([str(path), "--engines", "warpsearch", "--threads", "1,2",
               "--build-threads", "2", "--ef", "10,64", "--repeat", "1", "--limit", "500",
               "--json", str(js)])
    assert rc == 0
    res = json.loads(js.read_text())
    graph = [r for r in res["runs"] if r["kind"] == "graph"]
    assert [r["threads"] for r in graph] == [1, 2]
    assert graph[0]["build_s"] == graph[1]["build_s"]  # one build serves both
    assert res["meta"]["params"]["build_threads"] == 2
    assert all(r["curve"][-1]["recall"] >= 0.95 for r in graph)
    assert "built once with 2 threads" in capsys.readouterr().out


def test_bench_interleaved_rounds(tmp_path, capsys):
    path = tmp_path / "tiny.npz"
    _tiny_dataset(path, "l2")
    js = tmp_path / "r.json"
    rc = harness.main([str(path), "--engines", "warpsearch,numpy", "--threads", "1,2",
               "--build-threads", "2", "--interleave", "--ef", "10,64", "--repeat", "2",
               "--limit", "500", "--json", str(js)])
    assert rc == 0
    res = json.loads(js.read_text())
    graph = [r for r in res["runs"] if r["kind"] == "graph"]
    exact = [r for r in res["runs"] if r["kind"] == "exact"]
    assert [r["threads"] for r in graph] == [1, 2]
    assert sorted((r["threads"], r["engine"]) for r in exact) == [
        (1, "numpy"), (1, "warpsearch-flat"), (2, "numpy"), (2, "warpsearch-flat")]
    assert graph[0]["build_s"] == graph[1]["build_s"]
    assert [p["ef"] for p in graph[0]["curve"]] == [10, 64]
    assert all(r["curve"][-1]["recall"] >= 0.95 for r in graph)
    assert all(r["recall"] == 1.0 for r in exact)
    assert res["meta"]["params"]["interleave"] is True
    assert "Interleaved timing" in capsys.readouterr().out


@pytest.mark.parametrize("with_gt", [True, False])
def test_harness_reads_big_ann_files(tmp_path, capsys, with_gt):
    """BASE,QUERIES[,GT] files in the big-ann-benchmarks formats: the file ground
    truth is used as given, or computed exactly by streaming the base."""
    import warpsearch as ws

    rng = np.random.default_rng(4)
    base = rng.integers(0, 256, (600, 16)).astype(np.uint8)
    queries = rng.integers(0, 256, (20, 16)).astype(np.uint8)
    ws.write_vectors(tmp_path / "b.u8bin", base)
    ws.write_vectors(tmp_path / "q.u8bin", queries)
    gt = exact_knn(base.astype(np.float32), queries.astype(np.float32), 10)[1]
    spec = f"{tmp_path / 'b.u8bin'},{tmp_path / 'q.u8bin'}"
    if with_gt:
        ws.write_vectors(tmp_path / "gt.ibin", gt.astype(np.int32))
        spec += f",{tmp_path / 'gt.ibin'}"
    data = harness.load_dataset(spec, k=10)
    assert data.base.dtype == np.float32 and data.base.shape == (600, 16)
    np.testing.assert_array_equal(data.gt_ids, gt)
    js = tmp_path / "r.json"
    assert harness.main([spec, "--engines", "warpsearch", "--threads", "1", "--ef", "64",
                         "--repeat", "1", "--json", str(js)]) == 0
    res = json.loads(js.read_text())
    assert res["runs"][0]["curve"][0]["recall"] >= 0.9


@pytest.mark.parametrize("kind", ["mixture", "heavy", "lowrank", "sphere", "uint8"])
def test_synthetic_sets_load_in_the_harness(tmp_path, kind):
    """benchmarks/ann/synth.py writes sets the harness reads, with exact ground truth,
    queries apart from the base, and the distribution's own metric."""
    spec = importlib.util.spec_from_file_location("ann_synth", ANN / "synth.py")
    synth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synth)
    out = tmp_path / f"{kind}.npz"
    assert synth.main(["--kind", kind, "--n", "800", "--nq", "20", "--dim", "24",
                       "--k", "10", "--out", str(out)]) == 0
    data = harness.load_dataset(str(out), k=10)
    assert data.base.shape == (800, 24) and data.queries.shape == (20, 24)
    assert data.metric == ("ip" if kind == "sphere" else "l2")
    np.testing.assert_array_equal(data.gt_ids, exact_knn(data.base, data.queries, 10,
                                                         data.metric)[1])
    assert not (data.queries[:, None, :] == data.base[None, :, :]).all(-1).any()
    if kind == "uint8":
        assert (data.base == np.round(data.base)).all() and data.base.min() >= 0
    if kind == "sphere":
        np.testing.assert_allclose(np.linalg.norm(data.base, axis=1), 1, rtol=1e-5)


# -- optional peers: glass (benchmarks/ann/peers.py), ScaNN and faiss IVF-RaBitQ
# (benchmarks/ivf_bench.py); each test skips when its package is not importable.
@pytest.mark.parametrize("engine", ["glass-sq8", "glass-sq4", "glass-sq4-default"])
@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_glass_engines_reach_recall(tmp_path, engine, metric):
    pytest.importorskip("glass")
    path = tmp_path / "tiny.npz"
    _tiny_dataset(path, metric, n=2000, nq=50, dim=32)
    js = tmp_path / "r.json"
    assert harness.main([str(path), "--engines", engine, "--threads", "1", "--ef", "10,128",
                         "--repeat", "1", "--json", str(js)]) == 0
    res = json.loads(js.read_text())
    (run,) = res["runs"]
    assert run["engine"] == engine and run["kind"] == "graph"
    assert [p["ef"] for p in run["curve"]] == [10, 128]
    # glass' own re-rank depth (1.5 k candidates) on 4-bit codes caps recall (0.72 here
    # at any ef); re-ranking the whole pool of ef candidates lifts it
    floor = 0.6 if engine.endswith("-default") else 0.97
    assert run["curve"][-1]["recall"] >= floor
    assert res["meta"]["versions"]["pyglass-portable"] != "?"


def test_glass_search_returns_k_ids_best_first():
    pytest.importorskip("glass")
    rng = np.random.default_rng(2)
    base = rng.standard_normal((1500, 24)).astype(np.float32)
    queries = base[:20] + np.float32(1e-3)  # each query's nearest is its own row
    eng = harness.ENGINES["glass-sq4"][0](24, "l2", 16, 100)
    eng.build(base, threads=1)
    ids = eng.search(queries, 10, 200, threads=1)
    assert ids.shape == (20, 10) and ids.dtype == np.int64
    np.testing.assert_array_equal(ids[:, 0], np.arange(20))
    gt = exact_knn(base, queries, 10)[1]
    assert np.mean([len(set(a) & set(b)) for a, b in zip(ids, gt)]) / 10 >= 0.97


def test_missing_peer_is_skipped_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "glass", None)  # import glass -> ImportError
    path = tmp_path / "tiny.npz"
    _tiny_dataset(path, "l2")
    js = tmp_path / "r.json"
    assert harness.main([str(path), "--engines", "glass-sq8,numpy", "--threads", "1",
                         "--repeat", "1", "--json", str(js)]) == 0
    res = json.loads(js.read_text())
    assert [r["engine"] for r in res["runs"]] == ["numpy"]
    assert any(n.startswith("glass-sq8 skipped") for n in res["meta"]["notes"])


def _load_ivf_bench():
    env = dict(os.environ)  # the script sets OMP/OpenBLAS variables at import
    try:
        spec = importlib.util.spec_from_file_location("ivf_bench", ANN.parent / "ivf_bench.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        os.environ.clear()
        os.environ.update(env)


@pytest.mark.parametrize("key,module", [("scann", "scann"), ("faiss-rabitq", "faiss"),
                                        ("faiss-rabitq4", "faiss")])
@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_ivf_peer_engines_reach_recall(tmp_path, key, module, metric):
    pytest.importorskip(module)
    ivf = _load_ivf_bench()
    base, queries, gt = _tiny_dataset(tmp_path / "tiny.npz", metric, n=3000, nq=50, dim=32)
    eng = ivf.ENGINES[key]()
    eng.load()
    eng.build(base, metric, 16, 1)
    rec = {kf: recall_at_k(eng.search(queries, 10, 16, kf, 1), gt, 10) for kf in (1, 20)}
    assert rec[20] >= 0.97  # every leaf probed, 200 candidates re-ranked exactly
    assert rec[20] > rec[1]  # the re-rank depth is honoured
    ids = eng.search(queries, 10, 4, 20, 2)  # several threads: same shape and kind
    assert ids.shape == (50, 10) and ids.dtype == np.int64
    # a float32 re-rank copy plus some bytes of codes, ids and centroids a vector
    assert 4 * 32 <= eng.memory() / len(base) <= 4 * 32 + 64


def test_ivf_bench_runs_peers_and_skips_missing(tmp_path, capsys, monkeypatch):
    pytest.importorskip("faiss")
    ivf = _load_ivf_bench()
    path = tmp_path / "tiny.npz"
    _tiny_dataset(path, "l2", n=3000, nq=30, dim=32)
    monkeypatch.setitem(sys.modules, "scann", None)  # import scann -> ImportError
    ivf.main([str(path), "--engines", "faiss-fs,faiss-rabitq,scann", "--nlist", "16",
              "--threads", "1", "--nprobe", "16", "--kfactor", "1,20", "--repeat", "1"])
    out = capsys.readouterr().out
    assert "scann-tree,AH4,reorder skipped: scann is not importable" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("[faiss-IVF,RaBitQfs,RFlat] nprobe")]
    assert len(rows) == 2
    assert float(rows[-1].split("recall@10=")[1].split()[0]) >= 0.97
    assert "faiss-IVF,RaBitQfs,RFlat: best configuration" in out  # ratio to faiss-fs


def test_faiss_without_rabitq_is_skipped_not_crashed(monkeypatch):
    faiss = pytest.importorskip("faiss")
    ivf = _load_ivf_bench()
    monkeypatch.delattr(faiss, "IndexIVFRaBitQFastScan", raising=False)
    with pytest.raises(ImportError, match="no IndexIVFRaBitQFastScan"):
        ivf.ENGINES["faiss-rabitq"]().load()
    ivf.ENGINES["faiss-fs"]().load()  # the PQ fast scan needs no RaBitQ


def _load(name):
    sys.path.insert(0, str(ANN))  # memory_bound.py imports run.py
    try:
        spec = importlib.util.spec_from_file_location(f"ann_{name}", ANN / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(ANN))


@pytest.mark.parametrize("dim,bits,code_lines", [(40, 8, 1), (130, 8, 3), (384, 4, 3)])
def test_memory_bound_counts_the_lines_of_the_walk(dim, bits, code_lines):
    """memory_bound.py's traffic model: evaluations x lines per traversal code (the
    code row is dim rounded up to 64 entries of `bits`), expansions x the lines a
    (2M+1)-word link row spans on average, and the re-rank bytes, per query."""
    import warpsearch as ws

    mb = _load("memory_bound")
    rng = np.random.default_rng(dim)
    X = rng.standard_normal((1500, dim)).astype(np.float32)
    ix = ws.HNSWIndex(dim, metric="l2", M=8, ef_construction=32, sq_bits=bits)
    ix.add(X)
    Q = X[:20] + 0.01
    t = mb.walk_traffic(ix, Q, 10, 24)
    _, _, st = ix.search(Q, k=10, ef=24, return_stats=True)
    nq = st["nq"]
    assert t["evals"] == st["distance_evals"] / nq > 0
    assert t["code_lines"] == pytest.approx(t["evals"] * code_lines)
    # 17 words = 68 bytes from 4-byte aligned starts: 2 lines, 3 when it starts past 60
    span = np.mean([-(-((i * 68) % 64 + 68) // 64) for i in range(64)])
    assert t["row_lines"] == pytest.approx(st["nodes_visited"] / nq * span)
    assert t["lines"] == pytest.approx(t["code_lines"] + t["row_lines"]
                                       + st["refine_bytes"] / nq / 64)


def test_memory_bound_runs_on_a_small_set(tmp_path, capsys):
    mb = _load("memory_bound")
    synth = _load("synth")
    out = tmp_path / "s.npz"
    assert synth.main(["--kind", "mixture", "--n", "1000", "--nq", "30", "--dim", "16",
                       "--k", "10", "--out", str(out)]) == 0
    capsys.readouterr()
    assert mb.main([str(out), "--engines", "warpsearch", "--ef", "10,40", "--repeat", "1",
                    "--no-probe"]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith("| 10 |")
            or line.startswith("| 40 |")]
    assert len(rows) == 2 and all(float(r.split("|")[-2]) > 0 for r in rows)
    assert "| 0.9 | warpsearch " in text or "not reached" in text
