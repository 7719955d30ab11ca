# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The capacity planner: its memory matches indexes built as it says, it picks what
fits, sizes shards and replicas, and its calibration measures the sample."""

from __future__ import annotations

import math

import numpy as np
import pytest

import warpsearch as ws
from warpsearch.cli import main as cli_main


def _built(p, X):
    if p.index == "hnsw":
        idx = ws.HNSWIndex(X.shape[1], **p.params)
    else:
        idx = ws.IVFPQIndex(X.shape[1], **p.params)
        idx.train(X[:20_000])
    idx.add(X)
    return idx


@pytest.mark.parametrize("n,recall,ram,kind", [(20_000, 0.95, "1GB", "hnsw"),
                                               (60_000, 0.96, "12MB", "ivf_pq"),
                                               (60_000, 0.9, "6MB", "ivf_pq")])
def test_planned_bytes_match_the_built_index_within_10_percent(n, recall, ram, kind):
    X = np.random.default_rng(0).standard_normal((n, 32)).astype(np.float32)
    p = ws.plan(len(X), 32, recall=recall, ram=ram)
    assert p.index == kind and p.machines == 1 and p.shards == 1
    assert p.bytes <= ws.planner.parse_bytes(ram) * ws.planner.RAM_USABLE
    used = _built(p, X).memory_usage()
    assert abs(p.bytes - used) <= 0.10 * used, (p.bytes, used, p.params)


def test_too_big_for_one_device_is_sharded_and_replicated_for_prices():
    p = ws.plan(10**9, 128, recall=0.95, ram="64GB", prices={"machine_hour": 2.0})
    assert p.target == "cpu" and p.shards > 1 and p.machines == p.shards
    assert p.bytes / p.shards <= (64 << 30) * ws.planner.RAM_USABLE
    assert p.cost_per_hour == pytest.approx(2.0 * p.machines)
    # fewest devices first when nothing fits one: no alternative needs fewer
    assert p.shards == min(a["devices_needed"] for a in p.alternatives)
    g = ws.plan(10**9, 128, recall=0.95, gpus=8, gpu_memory="H200",
                prices={"machine_hour": 1.0, "gpu_hour": 3.0})
    assert g.target == "gpu" and g.devices == g.shards and g.machines == math.ceil(g.devices / 8)
    assert g.bytes_per_device <= ws.planner.GPU_MEMORY["h200"] * ws.planner.GPU_USABLE
    assert g.cost_per_hour == pytest.approx(g.machines * 1.0 + g.devices * 3.0)
    assert "GPU" in str(g) and "shard" in str(g)


def test_exact_recall_plans_flat_and_lower_recall_plans_smaller_codes():
    assert ws.plan(10**5, 64, recall=1.0, ram="8GB").index == "flat"
    hi = ws.plan(10**8, 128, recall=0.95, ram="1TB")
    lo = ws.plan(10**8, 128, recall=0.9, ram="16GB")
    assert hi.index == "hnsw" and lo.bytes < hi.bytes


def test_calibration_measures_the_sample_and_sizes_replicas():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((50, 16)).astype(np.float32) * 4
    S = (centres[rng.integers(0, 50, 6000)] + rng.standard_normal((6000, 16))).astype(np.float32)
    p = ws.plan(10**6, 16, recall=0.9, ram="8GB", sample=S, qps=10**7, cpu_cores=4)
    cal = p.calibration
    assert cal is not None and cal["qps_per_core_sample"] > 0 and cal["sample_rows"] > 5000
    assert cal["qps_per_core"] < cal["qps_per_core_sample"]  # a bigger index is slower
    assert p.qps == pytest.approx(cal["qps_per_core"] * 4)
    assert p.replicas == math.ceil(10**7 / p.qps) and p.machines == p.replicas
    assert "estimate" in str(p)


def test_bad_inputs_are_refused():
    for kw in (dict(n=0, dim=8), dict(n=10, dim=0), dict(n=10, dim=8, recall=1.5),
               dict(n=10, dim=8, qps=-1), dict(n=10, dim=8, gpus=1),
               dict(n=10, dim=8, prices={"coffee": 1.0}),
               dict(n=10, dim=8, gpus=1, gpu_memory="H100", sample=np.zeros((10, 8)))):
        with pytest.raises(ValueError):
            ws.plan(**kw)
    with pytest.raises(ValueError, match="not a byte count"):
        ws.plan(10, 8, ram="lots")


def test_cli_plan(capsys):
    assert cli_main(["plan", "--n", "1e9", "--dim", "128", "--recall", "0.9", "--gpus", "1",
                     "--gpu-memory", "H100"]) == 0
    out = capsys.readouterr().out
    assert "IVF-PQ" in out and "1 GPU(s)" in out
    assert cli_main(["plan", "--n", "1.5", "--dim", "8"]) == 2
