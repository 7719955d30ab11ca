# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The dashboard in a real headless browser (Debian's chromium): the page's
JavaScript fetches /warpsearch/stats from a server on 127.0.0.1 and the rendered DOM
shows the collections with their point counts."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import warpsearch as ws

from .conftest import start_server

pytest.importorskip("fastapi", reason="needs the server extra")
httpx = pytest.importorskip("httpx", reason="needs the server extra")


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = _chromium()
needs_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (CI installs Debian's chromium: "
                             "apt-get install -y chromium)")


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    from warpsearch.server import Settings, create_app

    db = ws.connect(tmp_path_factory.mktemp("dash") / "db", fsync="never")
    rng = np.random.default_rng(0)
    db.create_collection("articles", dim=8, metric="cosine").upsert(
        list(range(1234)), rng.standard_normal((1234, 8)))
    db.create_collection("images", dim=4, metric="l2").upsert(
        list(range(56)), rng.standard_normal((56, 4)))
    app = create_app(db, Settings(threads=4, close_db=True, slow_query_ms=0.0))
    server, thread, url = start_server(app)
    try:
        with httpx.Client(base_url=url) as c:  # a search: a slow query and QPS to show
            assert c.post("/collections/articles/points/search",
                          json={"vector": [1] * 8, "limit": 3}).status_code == 200
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


def _browser(*args, timeout=90):
    home = os.environ.get("TMPDIR", "/tmp")
    cmd = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
           "--no-first-run", "--disable-extensions", "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HOME": home})


def _cells(dom, table_id):
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', dom, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1], re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


def test_dashboard_is_served_without_external_resources(dash):
    page = httpx.get(dash + "/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    js = httpx.get(dash + "/dashboard/dashboard.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    for text in (page.text, js.text, httpx.get(dash + "/dashboard/dashboard.css").text):
        assert not re.search(r"(src|href)=\"https?://", text)  # no CDN
        assert "fetch(\"http" not in text
    assert httpx.get(dash + "/dashboard/../app.py").status_code == 404


@needs_browser
def test_dashboard_renders_collections_in_a_browser(dash, tmp_path):
    out = _browser("--dump-dom", dash + "/dashboard")
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    assert "cannot load stats" not in dom
    rows = {r[0]: r for r in _cells(dom, "collections")}
    assert set(rows) == {"articles", "images"}, rows
    assert rows["articles"][1] == "1,234" and rows["images"][1] == "56"
    assert rows["articles"][3] == "cosine" and rows["images"][2] == "4"
    slow = _cells(dom, "slow")
    assert slow and slow[0][1] == "articles"
    assert re.search(r'id="status" class="muted">updated ', dom)
    shot = tmp_path / "dashboard.png"
    out = _browser(f"--screenshot={shot}", "--window-size=1200,800", dash + "/dashboard")
    assert out.returncode == 0 and shot.stat().st_size > 10_000
    keep = os.environ.get("WARPSEARCH_DASHBOARD_SCREENSHOT")
    if keep:  # to look at it
        shutil.copy(shot, keep)


@pytest.fixture(scope="module")
def keyed_dash(tmp_path_factory):
    """A server with API keys: ``(url, admin key, read key)``."""
    from warpsearch.server import Settings, create_app
    from warpsearch.server.auth import KeyStore

    db = ws.connect(tmp_path_factory.mktemp("keyed_dash") / "db", fsync="never")
    db.create_collection("notes", dim=4, metric="l2").upsert(
        list(range(77)), np.random.default_rng(1).standard_normal((77, 4)))
    store = KeyStore(os.path.join(db.path, "api_keys.json"))
    admin, reader = store.create("admin")[1], store.create("read")[1]
    app = create_app(db, Settings(threads=4, close_db=True))
    server, thread, url = start_server(app)
    try:
        yield url, admin, reader
    finally:
        server.should_exit = True
        thread.join(30)


def _card(dom, card_id):
    return html.unescape(re.search(rf'id="{card_id}">(.*?)</div>', dom, re.S).group(1))


@needs_browser
def test_dashboard_on_a_server_with_keys_takes_the_key_from_the_fragment(keyed_dash):
    url, admin, reader = keyed_dash
    out = _browser("--dump-dom", f"{url}/dashboard#api_key={admin}")
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    assert "cannot load stats" not in dom
    assert {r[0]: r[1] for r in _cells(dom, "collections")} == {"notes": "77"}
    assert re.search(r'<form id="key-form" hidden', dom)  # no key asked for
    assert _card(dom, "uptime") != "\u2013" and _card(dom, "qps") != "\u2013"
    # no key, or a key that may not read the stats: the page asks for one
    for page in (f"{url}/dashboard", f"{url}/dashboard#api_key={reader}"):
        dom = _browser("--dump-dom", page).stdout
        assert "cannot load stats" in dom and _cells(dom, "collections") == []
        assert re.search(r'<form id="key-form">', dom), dom[:2000]
