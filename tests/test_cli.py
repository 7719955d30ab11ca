# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The ``warpsearch`` command: demo on the packaged data, info, bench forwarding."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import warpsearch as ws
from warpsearch import bench
from warpsearch.cli import load_demo_data, main


def test_demo_data_is_packaged_real_sift():
    data = load_demo_data()
    base, queries = data["base"], data["queries"]
    assert base.dtype == np.uint8 and queries.dtype == np.uint8
    assert base.shape[1] == queries.shape[1] == 128
    assert len(base) >= 5000 and len(queries) >= 100
    assert data["metric"] == "l2"
    # Queries are held out: none of them is a base vector.
    assert not (base[None, :50] == queries[:20, None]).all(axis=2).any()


def test_demo_reports_recall_speed_and_device(capsys):
    assert main(["demo", "--quick", "--ef", "16,64"]) == 0
    out = capsys.readouterr().out
    for key in ("warpsearch demo:", "build: warpsearch", "building HNSW: 2,000/2,000",
                "build time:", "exact (FlatIndex):"):
        assert key in out, out
    rows = re.findall(r"HNSW ef=(\d+): recall@10=([0-9.]+)\s+QPS=([0-9,]+)\s+device=(\w+)", out)
    assert [int(r[0]) for r in rows] == [16, 64], out
    recalls = [float(r[1]) for r in rows]
    assert all(0.0 <= r <= 1.0 for r in recalls)
    assert recalls[-1] >= 0.9, out
    assert all(int(r[2].replace(",", "")) > 0 for r in rows)
    assert {r[3] for r in rows} <= {"cpu", "cuda"}


def test_demo_rejects_bad_options(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--n", "0"])
    with pytest.raises(SystemExit):
        main(["nosuchcommand"])
    capsys.readouterr()


def test_info_prints_build_info_as_json(capsys):
    assert main(["info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info == json.loads(json.dumps(ws.build_info()))
    assert {"simd_level", "cuda_compiled", "cuda_devices", "threads"} <= set(info)


def _tiny_dataset(path, metric="l2", n=600, nq=30, dim=16):
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((8, dim))
    base = (centres[rng.integers(0, 8, n)] + 0.3 * rng.standard_normal((n, dim)))
    queries = (centres[rng.integers(0, 8, nq)] + 0.3 * rng.standard_normal((nq, dim)))
    if metric == "ip":
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    base, queries = base.astype(np.float32), queries.astype(np.float32)
    gt = bench.exact_knn(base, queries, 10, metric)
    np.savez(path, base=base, queries=queries, gt_ids=gt.astype(np.int32),
             metric=np.array(metric))
    return base, queries, gt


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_exact_knn_matches_float64_sort(metric):
    rng = np.random.default_rng(1)
    b = rng.standard_normal((300, 8))
    q = rng.standard_normal((7, 8))
    s = ((q[:, None] - b[None]) ** 2).sum(-1) if metric == "l2" else -(q @ b.T)
    np.testing.assert_array_equal(bench.exact_knn(b, q, 5, metric, block_bytes=4096),
                                  np.argsort(s, axis=1)[:, :5])


def test_interpolate_qps():
    curve = [{"recall": 0.8, "qps": 1000.0}, {"recall": 0.9, "qps": 600.0},
             {"recall": 0.98, "qps": 200.0}]
    mid = bench.interpolate_qps(curve, 0.85)
    assert mid["bound"] == "interp" and mid["qps"] == pytest.approx(800.0)
    assert bench.interpolate_qps(curve, 0.9)["qps"] == pytest.approx(600.0)
    assert bench.interpolate_qps(curve, 0.99) is None
    assert bench.interpolate_qps(curve, 0.5) == {"qps": 1000.0, "bound": "lower"}


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_bench_forwarded_on_tiny_dataset(tmp_path, capsys, metric):
    path = tmp_path / "tiny.npz"
    _tiny_dataset(path, metric)
    js, md = tmp_path / "r.json", tmp_path / "r.md"
    rc = main(["bench", str(path), "--engines", "warpsearch,numpy", "--threads", "1",
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
    rc = main(["bench", str(path), "--engines", "warpsearch", "--threads", "1,2",
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
    rc = main(["bench", str(path), "--engines", "warpsearch,numpy", "--threads", "1,2",
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
