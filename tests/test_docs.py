# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""The documentation runs: every Python example of every page under docs/ is
executed (a page's examples in order, in one namespace, in a fresh directory), and
the site builds with ``mkdocs build --strict`` where MkDocs is installed.

A fenced example may be preceded by one marker line:

- ``<!-- docs-test: server -->``: run against a real server (its URL in
  ``WARPSEARCH_URL``), in a namespace shared by the page's server examples;
- ``<!-- docs-test: keyed-server -->``: the same, on a server with API keys (an
  admin key and the tenants ``acme`` and ``beta`` in ``ADMIN_KEY``, ``ACME_KEY``,
  ``BETA_KEY``);
- ``<!-- docs-test: skip: REASON -->``: compiled only, never run (the reason is
  required).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.conftest import served, start_server  # noqa: F401  (the fixture, shared)

import warpsearch as ws

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"(?:<!-- docs-test: (?P<mark>[^>]*?) -->\n)?```python\n(?P<code>.*?)```",
                    re.S)


def _pages():
    return sorted(DOCS.rglob("*.md")) if DOCS.exists() else []


def _blocks(page):
    """``(kind, reason, code, line)`` of each Python example of ``page``."""
    text = page.read_text(encoding="utf-8")
    out = []
    for m in _BLOCK.finditer(text):
        mark = (m.group("mark") or "").strip()
        line = text.count("\n", 0, m.start("code")) + 1
        if mark.startswith("skip:"):
            kind, reason = "skip", mark[len("skip:"):].strip()
        elif mark in ("", "server", "keyed-server"):
            kind, reason = mark or "local", ""
        else:
            raise AssertionError(f"{page.name}:{line}: unknown docs-test marker {mark!r}")
        out.append((kind, reason, m.group("code"), line))
    return out


def _run(page, kinds, tmp_path, monkeypatch):
    blocks = [b for b in _blocks(page) if b[0] in kinds]
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "__docs__"}
    try:
        for _, _, code, line in blocks:
            # line numbers of tracebacks point into the page
            exec(compile("\n" * (line - 1) + code, str(page), "exec"), ns)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] != "warpsearch":
            pytest.skip(f"{page.name} needs {exc.name}")
        raise
    finally:  # close what the examples left open (a failed example would hold the lock)
        for v in ns.values():
            if isinstance(v, ws.Database):
                v.close()
    return ns


PAGES = [p for p in _pages() if _blocks(p)]


def _having(kind):
    pages = [p for p in PAGES if any(b[0] == kind for b in _blocks(p))]
    return pytest.mark.parametrize("page", pages, ids=[str(p.relative_to(DOCS)) for p in pages])


def test_docs_have_examples():
    if not DOCS.exists():
        pytest.skip("docs/ is not next to the tests (installed tests only)")
    kinds = [b[0] for p in PAGES for b in _blocks(p)]
    assert kinds.count("local") >= 15 and "server" in kinds and "keyed-server" in kinds


def test_skipped_examples_say_why_and_compile():
    for page in PAGES:
        for kind, reason, code, line in _blocks(page):
            if kind == "skip":
                assert len(reason) >= 10, f"{page.name}:{line}: a skip needs a reason"
            compile(code, f"{page}:{line}", "exec")  # every example is valid Python


@_having("local")
def test_page_examples_run(page, tmp_path, monkeypatch):
    _run(page, ("local",), tmp_path, monkeypatch)


@_having("server")
def test_page_server_examples_run(page, served, tmp_path, monkeypatch):  # noqa: F811
    pytest.importorskip("qdrant_client", reason="the examples use qdrant-client")
    monkeypatch.setenv("WARPSEARCH_URL", served.url)
    _run(page, ("server",), tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    """A server whose database has API keys: an admin, tenants acme and beta."""
    pytest.importorskip("fastapi", reason="needs the server extra")
    pytest.importorskip("httpx", reason="needs the server extra")
    from warpsearch.server import Settings, create_app
    from warpsearch.server.auth import KeyStore

    db = ws.connect(tmp_path_factory.mktemp("keyed") / "db", fsync="never")
    store = KeyStore(os.path.join(db.path, "api_keys.json"))
    keys = {"ADMIN_KEY": store.create("admin")[1],
            "ACME_KEY": store.create("write", tenant="acme")[1],
            "BETA_KEY": store.create("write", tenant="beta")[1]}
    server, thread, url = start_server(create_app(db, Settings(threads=2, close_db=True)))
    try:
        yield url, keys, db
    finally:
        server.should_exit = True
        thread.join(30)


@_having("keyed-server")
def test_page_keyed_server_examples_run(page, request, tmp_path, monkeypatch):
    url, keys, db = request.getfixturevalue("keyed_server")
    monkeypatch.setenv("WARPSEARCH_URL", url)
    for k, v in keys.items():
        monkeypatch.setenv(k, v)
    _run(page, ("keyed-server",), tmp_path, monkeypatch)
    assert db.has_collection("acme_notes")  # what the tenants page wrote


def test_site_builds_strict(tmp_path):
    if not (ROOT / "mkdocs.yml").exists():
        pytest.skip("mkdocs.yml is not next to the tests (installed tests only)")
    pytest.importorskip("mkdocs", reason="needs the docs extra")
    pytest.importorskip("mkdocstrings", reason="needs the docs extra")
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                          "-d", str(tmp_path / "site")], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "site" / "api" / "database" / "index.html").exists()
    bench = (tmp_path / "site" / "benchmarks" / "index.html").read_text(encoding="utf-8")
    first_line = (ROOT / "benchmarks" / "RESULTS.md").read_text().splitlines()[0].lstrip("# ")
    assert first_line in bench  # included, not copied
    shutil.rmtree(tmp_path / "site")
