# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""``warpsearch serve``: flags and their environment variables, the missing-extra
message, the non-loopback warning, and a real process stopped by SIGTERM (the
database is closed: its lock is free and its data is there)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import warpsearch as ws
from warpsearch import cli

from .conftest import serve_process



def test_help_names_every_flag_and_variable():
    text = cli.build_parser()._subparsers._group_actions[0].choices["serve"].format_help()
    for flag, env, default, _, _ in cli.SERVE_FLAGS:
        assert flag in text and env in text, flag
    assert "warpsearch[server]" in text


def test_flags_from_environment(monkeypatch):
    ap = cli.build_parser
    monkeypatch.setenv("WARPSEARCH_PORT", "7000")
    monkeypatch.setenv("WARPSEARCH_PATH", "/tmp/somewhere")
    args = ap().parse_args(["serve"])
    assert args.port == 7000 and args.path == "/tmp/somewhere" and args.host == "127.0.0.1"
    assert ap().parse_args(["serve", "--port", "7001"]).port == 7001  # the flag wins
    monkeypatch.setenv("WARPSEARCH_PORT", "http")
    with pytest.raises(SystemExit) as e:
        ap().parse_args(["serve"])
    assert e.value.code == 2
    monkeypatch.delenv("WARPSEARCH_PORT")
    monkeypatch.delenv("WARPSEARCH_PATH")
    args = ap().parse_args(["serve"])
    assert (args.port, args.path, args.threads) == (6333, "./warpsearch_data", 8)


def test_missing_extra_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    err = io.StringIO()
    args = cli.build_parser().parse_args(["serve", "--path", "unused"])
    assert cli.run_serve(args, out=err) == 2
    assert "pip install 'warpsearch[server]'" in err.getvalue()
    assert not os.path.exists("unused")


def test_package_imports_without_the_extra():
    code = ("import sys; sys.modules['fastapi'] = None\n"
            "import warpsearch.server as s\n"
            "try:\n    s.create_app(None)\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert "pip install 'warpsearch[server]'" in out.stdout


def test_locked_database_is_a_message_not_a_traceback(tmp_path):
    pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    with ws.connect(tmp_path / "db"):
        err = io.StringIO()
        args = cli.build_parser().parse_args(["serve", "--path", str(tmp_path / "db")])
        assert cli.run_serve(args, out=err) == 1
    assert "cannot open" in err.getvalue() and "lock" in err.getvalue().lower()


def test_non_loopback_warning():
    assert cli.host_warning("127.0.0.1") is None and cli.host_warning("::1") is None
    assert cli.host_warning("localhost") is None
    assert "no API keys" in cli.host_warning("0.0.0.0")
    assert "no API keys" in cli.host_warning("10.1.2.3")
    assert cli.host_warning("0.0.0.0", has_keys=True) is None


def test_sigterm_lets_an_in_flight_search_finish(tmp_path):
    """SIGTERM while a long search runs: the server stops taking connections, the
    search is answered in full, then the database is closed and the process ends."""
    import threading
    import time

    for dep in ("fastapi", "uvicorn", "httpx", "orjson"):
        pytest.importorskip(dep, reason="needs the server extra")
    path = tmp_path / "data"
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 128)).astype(np.float32)
    Q = rng.standard_normal((4000, 128)).astype(np.float32)
    with ws.connect(path, fsync="never") as db:  # an exact scan: seconds for 4,000 queries
        col = db.create_collection("big", dim=128, metric="l2", index=ws.FlatConfig(),
                                   segment_size=100_000)
        col.upsert(np.arange(len(X)), X, progress=False)
        col.flush()
        want = col.search_batch(Q[:50], k=5).ids
        t0 = time.monotonic()
        col.search_batch(Q, k=5)
        alone = time.monotonic() - t0  # the signal goes in early in the served search
    proc, url, _ = serve_process(["--fsync", "never"],
                                 dict(os.environ, WARPSEARCH_PATH=str(path)))
    got = {}

    def search():
        with ws.connect(url, timeout=300, retries=0) as rdb:
            t0 = time.monotonic()
            got["res"] = rdb.get_collection("big").search_batch(Q, k=5)
            got["s"] = time.monotonic() - t0

    try:
        t = threading.Thread(target=search)
        t.start()
        time.sleep(min(max(alone / 8, 0.05), 0.25))
        assert t.is_alive(), "the search ended before SIGTERM"
        proc.send_signal(signal.SIGTERM)
        t.join(300)
        assert proc.wait(120) in (0, -signal.SIGTERM)
        rest = proc.stderr.read()
        assert "res" in got, rest[-3000:]
        np.testing.assert_array_equal(got["res"].ids[:50], want)
        assert got["res"].ids.shape == (4000, 5) and (got["res"].ids >= 0).all()
        assert "Waiting for application shutdown" in rest and "closed" in rest, rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    with ws.connect(path) as db:  # released: the lock is free
        assert db.get_collection("big").count() == len(X)


def test_serve_process_stops_on_sigterm_and_closes_the_database(tmp_path):
    for dep in ("fastapi", "uvicorn", "httpx", "orjson"):
        pytest.importorskip(dep, reason="needs the server extra")
    path = tmp_path / "data"
    proc, url, lines = serve_process(["--fsync", "never"],
                                     dict(os.environ, WARPSEARCH_PATH=str(path)))
    try:
        # no key configured: the server says it serves loopback clients only
        assert any("no API keys configured: serving keyless requests from loopback "
                   "clients only" in x for x in lines), lines
        with ws.connect(url) as rdb:
            rc = rdb.create_collection("c", dim=4, metric="l2")
            rc.upsert([1, 2, 3], np.eye(4)[:3])
        proc.send_signal(signal.SIGTERM)
        # uvicorn drains, the app's shutdown closes the database, then the signal ends it
        assert proc.wait(60) in (0, -signal.SIGTERM)
        rest = proc.stderr.read()
        assert "Waiting for application shutdown" in rest and "closed" in rest, rest
        # the access log (written by its own thread) has every request, the last included
        logged = [json.loads(x) for x in "".join(lines[1:]).splitlines() + rest.splitlines()
                  if x.startswith("{")]
        assert [(e["method"], e["path"], e["status"]) for e in logged][-1] == \
            ("POST", "/warpsearch/collections/c/upsert", 200), logged
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    with ws.connect(path) as db:  # the lock is free and the points are there
        assert db.get_collection("c").count() == 3
