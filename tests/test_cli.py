# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The ``warpsearch`` command: demo on the packaged data and info."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import warpsearch as ws
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


def test_bench_points_at_the_source_checkout(capsys):
    # the peer benchmark left the package (benchmarks/ann/run.py)
    assert main(["bench", "data.npz"]) == 2
    assert "benchmarks/ann/run.py" in capsys.readouterr().err

