# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Memory-mapped indexes (``load_index(path, mmap=True)``): the same results as a full
load for every index type and storage, the file really mapped, checksums verified on
first use (a damaged section is a CorruptionError, never a crash), copy-on-write on the
first change. Open time and resident memory are measured in benchmarks/mmap_bench.py."""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest
import warpsearch as ws

DIM = 24
N = 1500


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    centers = rng.standard_normal((12, DIM)).astype(np.float32) * 3
    x = (centers[rng.integers(0, 12, N)] + rng.standard_normal((N, DIM))).astype(np.float32)
    q = (centers[rng.integers(0, 12, 25)] + rng.standard_normal((25, DIM))).astype(np.float32)
    ids = rng.permutation(10 * N)[:N].astype(np.int64) * 7  # sparse, not in order
    return x, q, ids


def _flat(metric, storage, refine="none"):
    return ws.FlatIndex(dim=DIM, metric=metric, storage=storage, refine=refine)


CASES = {
    "flat-fp32-l2": lambda: _flat("l2", "fp32"),
    "flat-fp32-cosine": lambda: _flat("cosine", "fp32"),
    "flat-fp16-ip": lambda: _flat("ip", "fp16"),
    "flat-sq8-l2": lambda: _flat("l2", "sq8", "fp32"),
    "flat-sq4-l2": lambda: _flat("l2", "sq4"),
    "flat-binary-cosine": lambda: _flat("cosine", "binary", "fp16"),
    "hnsw-fp32-l2": lambda: ws.HNSWIndex(dim=DIM, metric="l2", quantized=False),
    "hnsw-sq8walk-l2": lambda: ws.HNSWIndex(dim=DIM, metric="l2", quantized=True, sq_bits=8),
    "hnsw-sq4walk-cosine": lambda: ws.HNSWIndex(dim=DIM, metric="cosine", quantized=True, sq_bits=4),
    "hnsw-fp16-ip": lambda: ws.HNSWIndex(dim=DIM, metric="ip", storage="fp16"),
    "hnsw-sq8store-ip": lambda: ws.HNSWIndex(dim=DIM, metric="ip", storage="sq8"),
    "ivfpq-8bit-l2": lambda: ws.IVFPQIndex(dim=DIM, nlist=16, m=8, nbits=8),
    "ivfpq-4bit-l2-sq8": lambda: ws.IVFPQIndex(dim=DIM, nlist=16, m=8, nbits=4, refine="sq8"),
    "ivfpq-4bit-ip-fp16": lambda: ws.IVFPQIndex(dim=DIM, metric="ip", nlist=16, m=6, nbits=4,
                                                refine="fp16"),
    "ivfpq-8bit-cosine-fp32": lambda: ws.IVFPQIndex(dim=DIM, metric="cosine", nlist=8, m=4,
                                                    refine="fp32"),
}


def _build(name, data):
    x, _, ids = data
    idx = CASES[name]()
    if isinstance(idx, ws.IVFPQIndex):
        idx.train(x)
    idx.add(x, ids=ids)
    idx.remove(ids[:40])  # holes: moved rows, tombstones, shorter lists
    return idx


def _search(idx, q, **kw):
    extra = {"ef": 48} if isinstance(idx, ws.HNSWIndex) else {}
    return idx.search(q, k=10, **extra, **kw)


def _mapped(path):
    with open("/proc/self/maps") as f:
        return any(line.rstrip("\n").endswith(" " + os.path.realpath(path)) for line in f)


def _sections(path):
    """name -> (offset, bytes) from the file header (see cpp/src/io/format.cpp)."""
    with open(path, "rb") as f:
        head = f.read(56)
        nsec = struct.unpack_from("<I", head, 48)[0]
        table = f.read(48 * nsec)
    out = {}
    for i in range(nsec):
        name = table[48 * i:48 * i + 24].rstrip(b"\0").decode()
        off, size = struct.unpack_from("<QQ", table, 48 * i + 24)
        out[name] = (off, size)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_mapped_results_identical(name, data, tmp_path):
    x, q, ids = data
    idx = _build(name, data)
    path = str(tmp_path / "i.ws")
    idx.save(path)
    full = ws.load_index(path)
    mm = ws.load_index(path, mmap=True)
    assert type(mm) is type(full) and len(mm) == len(full) == N - 40
    assert mm.mapped_bytes > 0 and full.mapped_bytes == 0
    D0, I0 = _search(full, q)
    D1, I1 = _search(mm, q)
    np.testing.assert_array_equal(I1, I0)
    np.testing.assert_array_equal(D1, D0)
    # filtered searches: an id list and a mask
    mask = np.zeros(70 * N, bool)
    mask[ids[ids >= 0][::3]] = True
    for flt in (ids[40:700], mask):
        D0, I0 = _search(full, q, filter=flt)
        D1, I1 = _search(mm, q, filter=flt)
        np.testing.assert_array_equal(I1, I0)
        np.testing.assert_array_equal(D1, D0)
    np.testing.assert_array_equal(np.sort(mm.ids), np.sort(full.ids))
    some = ids[100:130]
    np.testing.assert_array_equal(mm.get_vectors(some), full.get_vectors(some))
    assert ids[200] in mm and ids[0] not in mm


@pytest.mark.parametrize("name", ["flat-fp32-l2", "hnsw-sq8walk-l2", "ivfpq-4bit-l2-sq8"])
def test_file_is_mapped_while_the_index_lives(name, data, tmp_path):
    idx = _build(name, data)
    path = str(tmp_path / "m.ws")
    idx.save(path)
    full = ws.load_index(path)
    assert not _mapped(path)  # a full load reads the file and lets it go
    mm = ws.load_index(path, mmap=True)
    assert _mapped(path)
    assert mm.memory_usage() < full.memory_usage()
    del mm
    assert not _mapped(path)


@pytest.mark.parametrize("name", ["flat-fp32-l2", "flat-sq4-l2", "hnsw-fp32-l2",
                                  "hnsw-sq8store-ip", "ivfpq-8bit-l2", "ivfpq-4bit-l2-sq8"])
def test_writes_copy_a_mapped_index_into_ram(name, data, tmp_path):
    x, q, ids = data
    idx = _build(name, data)
    path = str(tmp_path / "w.ws")
    idx.save(path)
    with open(path, "rb") as f:
        before = f.read()
    full = ws.load_index(path)
    mm = ws.load_index(path, mmap=True)
    new_ids = np.arange(10**6, 10**6 + 50, dtype=np.int64)
    for ix in (full, mm):
        ix.add(x[:50] * 0.5, ids=new_ids)
        ix.remove(ids[50:60])
    assert mm.mapped_bytes == 0
    assert len(mm) == len(full)
    D0, I0 = _search(full, q)
    D1, I1 = _search(mm, q)
    np.testing.assert_array_equal(I1, I0)
    np.testing.assert_array_equal(D1, D0)
    with open(path, "rb") as f:
        assert f.read() == before  # the mapping is read-only: the file never changes
    assert not _mapped(path)  # the copy in RAM no longer reads the file


def test_saving_over_a_mapped_file_keeps_the_mapping(data, tmp_path):
    x, q, ids = data
    idx = _build("flat-fp32-l2", data)
    path = str(tmp_path / "s.ws")
    idx.save(path)
    mm = ws.load_index(path, mmap=True)
    D0, I0 = _search(mm, q)
    other = ws.FlatIndex(dim=DIM)
    other.add(x[:10] + 100)
    other.save(path)  # renamed into place: the mapping keeps the old file
    D1, I1 = _search(mm, q)
    np.testing.assert_array_equal(I1, I0)
    np.testing.assert_array_equal(D1, D0)
    mm.save(path)  # and a mapped index saves like any other
    again = ws.load_index(path)
    np.testing.assert_array_equal(_search(again, q)[1], I0)


# the big section of each type, damaged after save
_DAMAGE = {"flat-fp32-l2": "panels", "hnsw-fp32-l2": "links0", "hnsw-sq8walk-l2": "codes",
           "ivfpq-8bit-l2": "codes", "flat-sq8-l2": "rcodes"}


@pytest.mark.parametrize("name", sorted(_DAMAGE))
def test_damaged_section_is_detected_on_first_use(name, data, tmp_path):
    _, q, _ = data
    idx = _build(name, data)
    path = str(tmp_path / "c.ws")
    idx.save(path)
    off, size = _sections(path)[_DAMAGE[name]]
    with open(path, "r+b") as f:
        f.seek(off + size // 2)
        b = f.read(1)
        f.seek(off + size // 2)
        f.write(bytes([b[0] ^ 0x5A]))
    with pytest.raises(ws.CorruptionError, match="checksum"):
        ws.load_index(path)  # a full load checks everything
    with pytest.raises(ws.CorruptionError, match="checksum"):
        ws.load_index(path, mmap=True, verify=True)
    mm = ws.load_index(path, mmap=True)  # opening reads the header and small sections
    for _ in range(2):  # every use raises, not only the first
        with pytest.raises(ws.CorruptionError, match=_DAMAGE[name]):
            _search(mm, q)
    with pytest.raises(ws.CorruptionError):
        mm.verify()
    with pytest.raises(ws.CorruptionError):
        mm.add(q[:1])  # a write copies the mapping, which is checked first
    assert issubclass(ws.CorruptionError, ValueError)


def test_damaged_small_section_fails_the_open(data, tmp_path):
    idx = _build("hnsw-fp32-l2", data)
    path = str(tmp_path / "m.ws")
    idx.save(path)
    off, _ = _sections(path)["meta"]
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(b"\xff")
    with pytest.raises(ws.CorruptionError, match="meta"):
        ws.load_index(path, mmap=True)


def test_truncated_and_bad_files(data, tmp_path):
    idx = _build("flat-fp32-l2", data)
    path = str(tmp_path / "t.ws")
    idx.save(path)
    size = os.path.getsize(path)
    short = str(tmp_path / "short.ws")
    shutil.copyfile(path, short)
    os.truncate(short, size // 2)
    with pytest.raises(ws.CorruptionError, match="truncated"):
        ws.load_index(short, mmap=True)
    empty = str(tmp_path / "empty.ws")
    open(empty, "wb").close()
    with pytest.raises(ValueError, match="too short"):
        ws.load_index(empty, mmap=True)
    with pytest.raises(ValueError, match="directory"):
        ws.load_index(str(tmp_path), mmap=True)
    with pytest.raises(FileNotFoundError):
        ws.load_index(str(tmp_path / "missing.ws"), mmap=True)


def test_verify_checks_a_sound_mapped_index(data, tmp_path):
    _, q, _ = data
    idx = _build("ivfpq-4bit-l2-sq8", data)
    path = str(tmp_path / "v.ws")
    idx.save(path)
    mm = ws.load_index(path, mmap=True, verify=True)
    mm.verify()
    np.testing.assert_array_equal(_search(mm, q)[1], _search(idx, q)[1])


def test_empty_indexes_map(tmp_path):
    q = np.zeros((1, DIM), np.float32)
    for make in (lambda: ws.FlatIndex(dim=DIM), lambda: ws.HNSWIndex(dim=DIM)):
        path = str(tmp_path / "e.ws")
        make().save(path)
        mm = ws.load_index(path, mmap=True)
        assert len(mm) == 0
        D, I = mm.search(q, k=3)
        assert (I == -1).all()
        mm.add(np.ones((2, DIM), np.float32))
        assert mm.search(q, k=3)[1][0, :2].tolist() in ([0, 1], [1, 0])


def test_file_changed_in_place_after_open(data, tmp_path):
    # Documented: a mapped file must not be rewritten in place. A change made before a
    # section's first use is still caught by its checksum; a truncation makes reads past
    # the new end fault (SIGBUS), which no library can turn into an exception.
    _, q, _ = data
    idx = _build("flat-fp32-l2", data)
    path = str(tmp_path / "p.ws")
    idx.save(path)
    mm = ws.load_index(path, mmap=True)
    off, size = _sections(path)["panels"]
    with open(path, "r+b") as f:
        f.seek(off + size // 3)
        f.write(b"\x7f\x7f\x7f\x7f")
    with pytest.raises(ws.CorruptionError, match="panels"):
        _search(mm, q)
    code = (
        "import os, sys, numpy as np, warpsearch as ws\n"
        "p = sys.argv[1]\n"
        "mm = ws.load_index(p, mmap=True)\n"
        "os.truncate(p, 4096)\n"
        "mm.search(np.zeros((1, %d), np.float32), k=1)\n" % DIM)
    idx.save(path + ".t")
    res = subprocess.run([sys.executable, "-c", code, path + ".t"], capture_output=True)
    # killed by the signal (or, under AddressSanitizer, which catches it, a BUS report)
    assert res.returncode == -signal.SIGBUS or (res.returncode != 0 and b"BUS" in res.stderr)
