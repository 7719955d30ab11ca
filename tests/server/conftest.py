# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A real server for the server tests: uvicorn on 127.0.0.1, an ephemeral port
(0, read back once bound), in a background thread, stopped by the fixture."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

import warpsearch as ws


def start_server(app):
    uvicorn = pytest.importorskip("uvicorn", reason="needs the server extra")
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def serve_process(args, env=None):
    """``warpsearch serve ARGS`` in its own process (an ephemeral port, info logs):
    ``(proc, url, lines)``, ``lines`` the stderr read up to the address. The caller
    stops it (SIGTERM, or kill) and closes ``proc.stderr``."""
    import os
    import re
    import subprocess
    import sys

    env = dict(os.environ if env is None else env, WARPSEARCH_PORT="0",
               WARPSEARCH_LOG_LEVEL="info")
    proc = subprocess.Popen([sys.executable, "-c",
                             "import sys; from warpsearch.cli import main; sys.exit(main())",
                             "serve", *args],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    url, lines = None, []
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"running on (https?://127\.0\.0\.1:\d+)", line)
        url = m.group(1) if m else None
    if url is None:
        proc.kill()
        proc.wait()
        proc.stderr.close()
        raise AssertionError("warpsearch serve did not start:\n" + "".join(lines))
    return proc, url, lines


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A database served over HTTP: ``url``, and ``db`` (the same database, embedded,
    for comparing answers)."""
    pytest.importorskip("fastapi", reason="needs the server extra")
    pytest.importorskip("httpx", reason="needs the server extra")
    from warpsearch.server import Settings, create_app

    db = ws.connect(tmp_path_factory.mktemp("served") / "db", fsync="never")
    app = create_app(db, Settings(threads=4, close_db=True))
    server, thread, url = start_server(app)
    try:
        yield SimpleNamespace(url=url, db=db, app=app)
    finally:
        server.should_exit = True
        thread.join(30)
        if thread.is_alive():
            raise RuntimeError("the test server did not stop")
