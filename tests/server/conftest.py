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
