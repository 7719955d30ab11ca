# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The native client's retries and timeouts against a scripted stand-in server on
127.0.0.1: idempotent calls are retried after a 503 or a dropped connection (up to
``retries`` extra attempts, then the error), calls that change state are sent once,
and an answer slower than ``timeout`` raises TimeoutError."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
import time

import pytest

import warpsearch as ws

pytest.importorskip("orjson", reason="needs the server extra (the client's JSON codec)")

_OK = json.dumps({"result": {"collections": [{"name": "b"}, {"name": "a"}]},
                  "status": "ok", "time": 0.0}).encode()
_CREATED = json.dumps({"result": True, "status": "ok", "time": 0.0}).encode()


class _Script:
    """What the stand-in answers, request after request: "503", "drop" (close the
    connection without an answer), "slow" (answer after 1.5 s) or "ok"."""

    def __init__(self, steps):
        self.steps = list(steps)
        self.seen: list = []
        self.mu = threading.Lock()

    def next(self, method, path):
        with self.mu:
            self.seen.append((method, path))
            return self.steps.pop(0) if self.steps else "ok"


@pytest.fixture
def stub():
    script = _Script([])

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _answer(self):
            n = int(self.headers.get("content-length") or 0)
            if n:
                self.rfile.read(n)
            step = script.next(self.command, self.path)
            if step == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if step == "slow":
                time.sleep(1.5)
            if step == "503":
                body = json.dumps({"status": {"error": "busy"}, "time": 0.0}).encode()
                self.send_response(503)
            else:
                body = _CREATED if self.command == "PUT" else _OK
                self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = _answer

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_idempotent_calls_are_retried_after_a_503_or_a_dropped_connection(stub):
    url, script = stub
    with ws.connect(url, retries=3, timeout=10) as rdb:
        script.steps = ["503", "drop", "503"]
        assert rdb.list_collections() == ["a", "b"]
        assert len(script.seen) == 4  # three failed attempts, then the answer
        script.seen.clear()
        script.steps = ["503"] * 4  # more failures than retries: the server's error
        with pytest.raises(RuntimeError, match="503.*busy"):
            rdb.list_collections()
        assert len(script.seen) == 4
        script.seen.clear()
        script.steps = ["drop"] * 4
        with pytest.raises(ConnectionError, match="/collections"):
            rdb.list_collections()
        assert len(script.seen) == 4


def test_calls_that_change_state_are_sent_once(stub):
    url, script = stub
    with ws.connect(url, retries=3, timeout=10) as rdb:
        script.steps = ["503"]
        with pytest.raises(RuntimeError, match="503"):
            rdb.create_collection("c", dim=4)
        assert [m for m, _ in script.seen] == ["PUT"]
        script.seen.clear()
        script.steps = ["drop"]
        with pytest.raises(ConnectionError):
            rdb.create_collection("c", dim=4)
        assert [m for m, _ in script.seen] == ["PUT"]


def test_an_answer_slower_than_the_timeout_raises_timeout_error(stub):
    url, script = stub
    with ws.connect(url, retries=3, timeout=0.3) as rdb:
        script.steps = ["slow"]
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match="no answer in time"):
            rdb.list_collections()
        assert time.monotonic() - t0 < 1.4 and len(script.seen) == 1  # not retried
        time.sleep(1.5)  # the stand-in finishes its slow answer
        assert rdb.list_collections() == ["a", "b"]  # the client still works
