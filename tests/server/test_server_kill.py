# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A ``warpsearch serve`` process killed with SIGKILL in the middle of concurrent
upserts loses nothing it acknowledged: after a restart on the same directory every
point whose upsert got ``200 {"status": "ok"}`` is there with its payload."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

for _dep in ("fastapi", "uvicorn", "httpx", "orjson"):
    pytest.importorskip(_dep, reason="needs the server extra")
import httpx  # noqa: E402

DIM = 8
THREADS = 4
BATCH = 4
MAX_BATCHES = 250  # per thread: at most THREADS * MAX_BATCHES * BATCH = 4000 points
KILL_AT = 1500  # acknowledged points, or RUN_S seconds, whichever comes first
RUN_S = 1.5


def _start(path):
    env = dict(os.environ, WARPSEARCH_PATH=str(path), WARPSEARCH_PORT="0",
               WARPSEARCH_LOG_LEVEL="info")
    proc = subprocess.Popen([sys.executable, "-c",
                             "import sys; from warpsearch.cli import main; sys.exit(main())",
                             "serve"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
        if m:
            # keep draining stderr so the server never blocks on a full pipe
            proc.drain = threading.Thread(target=_drain, args=(proc.stderr,), daemon=True)
            proc.drain.start()
            return proc, m.group(1)
    _stop(proc, signal.SIGKILL)
    proc.stderr.close()
    raise AssertionError("the server did not start:\n" + "".join(lines))


def _drain(stream):
    for _ in stream:
        pass
    stream.close()


def _stop(proc, sig):
    if proc.poll() is None:
        proc.send_signal(sig)
    proc.wait(60)
    if getattr(proc, "drain", None) is not None:
        proc.drain.join(30)


def _vec(i):
    return [float(i % 97), float(i // 97), 1.0] + [0.5] * (DIM - 3)


def test_sigkill_keeps_every_acknowledged_upsert(tmp_path):
    path = tmp_path / "data"
    proc, url = _start(path)
    acked: dict[int, dict] = {}
    lock = threading.Lock()
    stop = threading.Event()
    errors = []

    def writer(t):
        with httpx.Client(base_url=url, timeout=10) as c:
            for b in range(MAX_BATCHES):
                if stop.is_set():
                    return
                ids = [(t * MAX_BATCHES + b) * BATCH + j for j in range(BATCH)]
                pts = [{"id": i, "vector": _vec(i), "payload": {"w": t, "i": i}} for i in ids]
                try:
                    r = c.put("/collections/k/points", params={"wait": "true"},
                              json={"points": pts})
                except httpx.HTTPError:
                    return  # the server died with this request in flight: not acknowledged
                if r.status_code == 200 and r.json().get("status") == "ok":
                    with lock:
                        acked.update({p["id"]: p["payload"] for p in pts})
                else:
                    errors.append(r.text)
                    return

    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            r = c.put("/collections/k", json={"vectors": {"size": DIM, "distance": "Euclid"}})
            assert r.status_code == 200, r.text
        threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
        for th in threads:
            th.start()
        deadline = time.monotonic() + RUN_S
        while time.monotonic() < deadline and len(acked) < KILL_AT \
                and any(th.is_alive() for th in threads):
            time.sleep(0.01)
        killed_while_running = any(th.is_alive() for th in threads)
        _stop(proc, signal.SIGKILL)  # no shutdown hook runs: the database is not closed
        assert proc.returncode == -signal.SIGKILL
        stop.set()
        for th in threads:
            th.join(30)
    finally:
        stop.set()
        if proc.poll() is None:
            _stop(proc, signal.SIGKILL)
    assert not errors, errors[:3]
    assert acked, "no upsert was acknowledged before the kill"
    assert killed_while_running, "the writers finished before the kill"

    proc, url = _start(path)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            ids = sorted(acked)
            got = {}
            for s in range(0, len(ids), 500):
                r = c.post("/collections/k/points",
                           json={"ids": ids[s:s + 500], "with_payload": True,
                                 "with_vector": True})
                assert r.status_code == 200, r.text
                got.update({p["id"]: p for p in r.json()["result"]})
            missing = [i for i in ids if i not in got]
            assert not missing, f"{len(missing)} acknowledged points lost, e.g. {missing[:5]}"
            for i in ids:
                assert got[i]["payload"] == acked[i], i
                assert got[i]["vector"] == pytest.approx(_vec(i)), i
            r = c.post("/collections/k/points/count", json={"exact": True})
            assert r.status_code == 200, r.text
            assert r.json()["result"]["count"] >= len(acked)
    finally:
        _stop(proc, signal.SIGTERM)
