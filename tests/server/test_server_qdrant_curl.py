# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The requests of Qdrant's quickstart, as its documentation sends them with curl
(raw JSON bodies, `?wait=true`, the universal query endpoint, a payload filter, a
payload index), against warpsearch serve on 127.0.0.1: same status codes and the
answers Qdrant gives for that data. Sent by curl when it is installed, else by httpx
with the same bytes."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

httpx = pytest.importorskip("httpx", reason="needs the server extra")

POINTS = [(1, [0.05, 0.61, 0.76, 0.74], "Berlin"), (2, [0.19, 0.81, 0.75, 0.11], "London"),
          (3, [0.36, 0.55, 0.47, 0.94], "Moscow"), (4, [0.18, 0.01, 0.85, 0.80], "New York"),
          (5, [0.24, 0.18, 0.22, 0.44], "Beijing"), (6, [0.35, 0.08, 0.11, 0.44], "Mumbai")]


def _send(url, method, path, body=None):
    """``(status, parsed JSON)`` of one request."""
    data = None if body is None else json.dumps(body)
    curl = shutil.which("curl")
    if curl:
        cmd = [curl, "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, url + path,
               "-H", "Content-Type: application/json"]
        if data is not None:
            cmd += ["--data-raw", data]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
        text, code = out.rsplit("\n", 1)
        return int(code), json.loads(text)
    r = httpx.request(method, url + path, content=data,
                      headers={"Content-Type": "application/json"})
    return r.status_code, r.json()


def _dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def test_qdrant_quickstart_requests(served):
    url = served.url
    assert _send(url, "PUT", "/collections/test_collection",
                 {"vectors": {"size": 4, "distance": "Dot"}}) == \
        (200, {"result": True, "status": "ok", "time": pytest.approx(0, abs=10)})
    code, out = _send(url, "PUT", "/collections/test_collection/points?wait=true", {
        "points": [{"id": i, "vector": v, "payload": {"city": c}} for i, v, c in POINTS]})
    assert code == 200 and out["result"]["status"] == "completed"
    q = [0.2, 0.1, 0.9, 0.7]
    code, out = _send(url, "POST", "/collections/test_collection/points/query",
                      {"query": q, "limit": 3})
    by_score = sorted(POINTS, key=lambda p: -_dot(q, p[1]))[:3]
    assert code == 200 and [p["id"] for p in out["result"]["points"]] == \
        [p[0] for p in by_score] == [4, 1, 3]
    assert [p["score"] for p in out["result"]["points"]] == \
        pytest.approx([_dot(q, p[1]) for p in by_score], abs=1e-5)
    assert all(p.get("payload") is None for p in out["result"]["points"])
    code, out = _send(url, "POST", "/collections/test_collection/points/query", {
        "query": q, "filter": {"must": [{"key": "city", "match": {"value": "London"}}]},
        "with_payload": True, "limit": 3})
    assert code == 200 and out["result"]["points"][0]["id"] == 2
    assert out["result"]["points"][0]["payload"] == {"city": "London"}
    assert len(out["result"]["points"]) == 1
    code, out = _send(url, "PUT", "/collections/test_collection/index",
                      {"field_name": "city", "field_schema": "keyword"})
    assert code == 200
    code, out = _send(url, "POST", "/collections/test_collection/points/count",
                      {"filter": {"must": [{"key": "city", "match": {"any": ["London",
                                                                             "Mumbai"]}}]},
                       "exact": True})
    assert code == 200 and out["result"]["count"] == 2
    code, out = _send(url, "GET", "/collections/test_collection")
    assert code == 200 and out["result"]["points_count"] == 6
    assert out["result"]["config"]["params"]["vectors"] == {"size": 4, "distance": "Dot"}
    code, out = _send(url, "POST", "/collections/test_collection/points/query",
                      {"query": [0.2, 0.1], "limit": 3})
    assert code == 400 and "status" in out and "error" in out["status"]
    assert _send(url, "DELETE", "/collections/test_collection")[0] == 200
