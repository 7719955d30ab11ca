# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Vector files (every format, read in row ranges) and out-of-core builds: chunked
builds equal in-memory ones, an interrupted build resumes from its checkpoint, the
memory budget refuses what would not fit, streamed ground truth equals exact."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import warpsearch as ws
from warpsearch.build import parse_bytes
from warpsearch.cli import main as cli_main
from warpsearch.contrib.evaluation import exact_knn, exact_knn_file, recall_at_k
from warpsearch.formats import VectorFile

RNG = np.random.default_rng(3)
X = RNG.standard_normal((2500, 24)).astype(np.float32)
Q = RNG.standard_normal((40, 24)).astype(np.float32)


@pytest.mark.parametrize("ext,data", [
    (".npy", X), (".fbin", X), (".fvecs", X),
    (".u8bin", RNG.integers(0, 256, (300, 16)).astype(np.uint8)),
    (".bvecs", RNG.integers(0, 256, (300, 16)).astype(np.uint8)),
    (".i8bin", RNG.integers(-128, 128, (300, 16)).astype(np.int8)),
    (".ibin", RNG.integers(0, 10**6, (300, 16)).astype(np.int32)),
    (".ivecs", RNG.integers(0, 10**6, (300, 16)).astype(np.int32))])
def test_every_format_round_trips_in_row_ranges(tmp_path, ext, data):
    path = tmp_path / f"v{ext}"
    ws.write_vectors(path, data)
    f = ws.open_vectors(path)
    assert (len(f), f.dim, f.dtype) == (len(data), data.shape[1], data.dtype)
    np.testing.assert_array_equal(f.read(), data)
    np.testing.assert_array_equal(f.read(7, 123), data[7:123])
    assert f.read(len(data), len(data) + 5).shape == (0, data.shape[1])
    got = np.concatenate([c for _, c in f.chunks(97)])
    np.testing.assert_array_equal(got, data)
    assert [s for s, _ in f.chunks(100, start=50)] == list(range(50, len(data), 100))
    rows = np.array([0, 3, 99, len(data) - 1])
    np.testing.assert_array_equal(f.take(rows), data[rows])


def test_parquet_list_columns_read_by_row_group(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    emb = pa.FixedSizeListArray.from_arrays(pa.array(X[:1000].ravel()), X.shape[1])
    table = pa.table({"id": np.arange(1000), "emb": emb,
                      "other": pa.array([[1.0, 2.0]] * 1000)})
    path = tmp_path / "v.parquet"
    pq.write_table(table, path, row_group_size=128)
    with pytest.raises(ValueError, match="name one with column="):
        ws.open_vectors(path)
    f = ws.open_vectors(path, column="emb")
    assert (len(f), f.dim) == (1000, X.shape[1])
    np.testing.assert_array_equal(f.read(100, 300), X[100:300])  # spans row groups
    np.testing.assert_array_equal(f.take([5, 500, 999]), X[[5, 500, 999]])
    pq.write_table(pa.table({"v": pa.array([list(r) for r in X[:50]])}), tmp_path / "l.parquet")
    np.testing.assert_array_equal(ws.open_vectors(tmp_path / "l.parquet").read(), X[:50])


def test_bad_files_are_refused_with_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown vector file format"):
        ws.open_vectors(__file__)
    with pytest.raises(FileNotFoundError):
        ws.open_vectors(tmp_path / "missing.fbin")
    p = tmp_path / "short.fbin"
    ws.write_vectors(p, X[:10])
    with open(p, "ab") as fh:
        fh.write(b"\0" * 3)
    with pytest.raises(ValueError, match="header says 10 x 24"):
        ws.open_vectors(p)
    p = tmp_path / "ragged.fvecs"
    ws.write_vectors(p, X[:10])
    raw = bytearray(p.read_bytes())
    raw[5 * (4 + 24 * 4):5 * (4 + 24 * 4) + 4] = np.int32(23).tobytes()
    p.write_bytes(bytes(raw))
    f = ws.open_vectors(p)
    np.testing.assert_array_equal(f.read(0, 5), X[:5])
    with pytest.raises(ValueError, match="row 5 has dimension 23"):
        f.read()
    with pytest.raises(ValueError, match="would change"):
        ws.write_vectors(tmp_path / "x.u8bin", X[:3])


def test_parse_bytes():
    assert parse_bytes("512MB") == 512 << 20 and parse_bytes("2 GiB") == 2 << 30
    assert parse_bytes(1000) == 1000
    for bad in ("lots", "-1GB", "0", ""):
        with pytest.raises(ValueError):
            parse_bytes(bad)
    with pytest.raises(TypeError):
        parse_bytes(True)


def test_chunked_flat_build_equals_one_add(tmp_path):
    ws.write_vectors(tmp_path / "b.fvecs", X)
    idx = ws.build_index(tmp_path / "b.fvecs", tmp_path / "flat.ws", index="flat",
                         chunk_rows=333, progress=False)
    ref = ws.FlatIndex(X.shape[1])
    ref.add(X)
    D, I = idx.search(Q, k=10)
    Dr, Ir = ref.search(Q, k=10)
    np.testing.assert_array_equal(I, Ir)
    np.testing.assert_allclose(D, Dr, rtol=1e-6)
    again = ws.load_index(tmp_path / "flat.ws")
    np.testing.assert_array_equal(again.search(Q, k=10)[1], Ir)
    assert not os.path.exists(tmp_path / "flat.ws.partial")


def test_chunked_ivf_pq_build_equals_training_on_the_same_sample(tmp_path):
    ws.write_vectors(tmp_path / "b.fbin", X)
    idx = ws.build_index(tmp_path / "b.fbin", tmp_path / "ivf.ws", index="ivf_pq",
                         nlist=16, m=8, train_rows=1200, chunk_rows=700, seed=5,
                         progress=False)
    ref = ws.IVFPQIndex(X.shape[1], nlist=16, m=8)
    rows = np.sort(np.random.default_rng(5).choice(len(X), 1200, replace=False))
    ref.train(X[rows])
    ref.add(X)
    np.testing.assert_array_equal(idx.search(Q, k=10, nprobe=16)[1],
                                  ref.search(Q, k=10, nprobe=16)[1])
    gt = exact_knn(X, Q, 10)[1]
    assert recall_at_k(idx.search(Q, k=10, nprobe=16, refine_factor=8)[1], gt) >= 0.5


def test_hnsw_build_from_a_file_finds_the_true_neighbours(tmp_path):
    ws.write_vectors(tmp_path / "b.npy", X)
    idx = ws.build_index(tmp_path / "b.npy", tmp_path / "h.ws", index="hnsw",
                         chunk_rows=600, progress=False, M=16)
    gt = exact_knn(X, Q, 10)[1]
    assert recall_at_k(idx.search(Q, k=10, ef=128)[1], gt) >= 0.95


class _Interrupting(VectorFile):
    """A vector file whose reads fail from row ``fail_at`` on (an interrupted build),
    counting the rows read."""

    def __init__(self, path, fail_at):
        super().__init__(path)
        self.fail_at, self.starts = fail_at, []

    def read(self, start=0, stop=None):
        self.starts.append(start)
        if self.fail_at is not None and start >= self.fail_at:
            raise KeyboardInterrupt("stopped")
        return super().read(start, stop)


@pytest.mark.parametrize("kind,params", [("flat", {}), ("ivf_pq", {"nlist": 16, "m": 8})])
def test_an_interrupted_build_resumes_from_its_checkpoint(tmp_path, kind, params):
    src = tmp_path / "b.fbin"
    ws.write_vectors(src, X)
    out = tmp_path / "i.ws"
    common = dict(index=kind, chunk_rows=250, checkpoint_rows=500, progress=False,
                  train_rows=1000, **params)
    with pytest.raises(KeyboardInterrupt):
        ws.build_index(_Interrupting(src, 1750), out, **common)
    state = json.loads((tmp_path / "i.ws.partial" / "state.json").read_text())
    assert state["rows_done"] == 1500 and not out.exists()
    # other parameters: refused, not mixed in
    with pytest.raises(ValueError, match="another source or other parameters"):
        ws.build_index(src, out, **dict(common, train_rows=999))
    again = _Interrupting(src, None)
    idx = ws.build_index(again, out, **common)
    assert [s for s in again.starts if s >= 1500] == list(range(1500, 2500, 250))
    assert min(again.starts) == 1500  # nothing before the checkpoint read again
    ref = ws.build_index(src, tmp_path / "ref.ws", **common)
    assert len(idx) == len(X)
    np.testing.assert_array_equal(idx.search(Q, k=10)[1], ref.search(Q, k=10)[1])
    assert not (tmp_path / "i.ws.partial").exists()
    # resume=False starts over even with a partial build there
    with pytest.raises(KeyboardInterrupt):
        ws.build_index(_Interrupting(src, 750), out, **common)
    fresh = _Interrupting(src, None)
    ws.build_index(fresh, out, resume=False, **common)
    assert 0 in fresh.starts


def test_memory_budget_refuses_what_would_not_fit_and_names_an_alternative(tmp_path):
    ws.write_vectors(tmp_path / "b.fbin", X)
    with pytest.raises(ValueError, match="memory budget.*storage='sq8'"):
        ws.build_index(tmp_path / "b.fbin", tmp_path / "f.ws", index="flat",
                       memory_budget=100_000, progress=False)
    assert not os.path.exists(tmp_path / "f.ws.partial")
    idx = ws.build_index(tmp_path / "b.fbin", tmp_path / "f.ws", index="flat",
                         memory_budget="64MB", progress=False)
    assert len(idx) == len(X)
    with pytest.raises(ValueError, match="unknown index"):
        ws.build_index(tmp_path / "b.fbin", tmp_path / "f.ws", index="lsh")


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_streamed_ground_truth_equals_exact(tmp_path, metric):
    ws.write_vectors(tmp_path / "b.fbin", X)
    D, I = exact_knn_file(tmp_path / "b.fbin", Q, k=20, metric=metric, chunk_rows=7 * 13,
                          device="cpu")
    Dr, Ir = exact_knn(X, Q, 20, metric)
    np.testing.assert_allclose(D, Dr, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(I, Ir)
    # k larger than a chunk
    D, I = exact_knn_file(tmp_path / "b.fbin", Q[:3], k=50, metric=metric, chunk_rows=16,
                          device="cpu")
    np.testing.assert_array_equal(I, exact_knn(X, Q[:3], 50, metric)[1])


def test_cli_build(tmp_path, capsys):
    ws.write_vectors(tmp_path / "b.u8bin", (np.abs(X[:1000]) * 40).astype(np.uint8))
    out = tmp_path / "cli.ws"
    assert cli_main(["build", str(tmp_path / "b.u8bin"), str(out), "--index", "hnsw",
                     "--chunk-rows", "300", "--param", "M=8", "--quiet"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["vectors"] == 1000 and info["dim"] == 24 and out.exists()
    assert len(ws.load_index(out)) == 1000
    assert cli_main(["build", str(tmp_path / "b.u8bin"), str(out), "--param", "nope"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert cli_main(["build", str(tmp_path / "none.fbin"), str(out)]) == 2
