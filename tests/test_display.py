# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""How collections, results and explain plans show in a terminal and a notebook."""

from __future__ import annotations

import html.parser

import numpy as np
import pytest

import warpsearch as ws
from warpsearch.db.display import ExplainPlan, Hits


class _Cells(html.parser.HTMLParser):
    """The text of every table cell, and whether the tags are balanced."""

    def __init__(self, text):
        super().__init__()
        self.cells, self.stack, self._in = [], [], False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        self._in = tag in ("td", "th")
        if self._in:
            self.cells.append("")

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            raise AssertionError(f"unbalanced </{tag}>")
        self._in = False

    def handle_data(self, data):
        if self._in:
            self.cells[-1] += data


@pytest.fixture
def col(tmp_path):
    db = ws.connect(tmp_path / "db", fsync="never")
    c = db.create_collection("docs", dim=4, metric="l2", schema={"lang": "keyword"})
    c.upsert(["a", "b", 3], np.eye(4)[:3],
             [{"lang": "en", "title": "<b>bold</b>"}, {"lang": "fr"}, None])
    yield c
    db.close()


def test_collection_repr_and_html(col):
    assert repr(col) == "Collection('docs', dim=4, metric='l2', points=3)"
    p = _Cells(col._repr_html_())
    assert not p.stack
    cells = dict(zip(p.cells[2::2], p.cells[3::2]))
    assert cells["points"] == "3" and cells["dim"] == "4" and cells["metric"] == "l2"
    assert cells["index"] == "hnsw"
    assert "keyword" in cells["schema"]


def test_hits_are_a_list_with_an_html_table(col):
    hits = col.search(np.eye(4)[0], k=2)
    assert isinstance(hits, Hits) and isinstance(hits, list)
    assert hits == [("a", 0.0, {"lang": "en", "title": "<b>bold</b>"}),
                    ("b", 2.0, {"lang": "fr"})]
    assert repr(hits).startswith("[Hit(id='a', score=0.0")
    text = hits._repr_html_()
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text  # escaped
    p = _Cells(text)
    assert not p.stack
    assert p.cells[:4] == ["rank", "id", "score", "payload"]
    assert p.cells[4:7] == ["0", "a", "0"] and p.cells[8:11] == ["1", "b", "2"]


def test_batch_results_repr_and_html(col):
    res = col.search_batch(np.eye(4)[:2], k=5)
    assert repr(res) == "BatchResults(queries=2, k=5, hits=6)"
    p = _Cells(res._repr_html_())
    assert not p.stack
    rows = [p.cells[i:i + 4] for i in range(4, len(p.cells), 4)]
    assert len(rows) == 6
    assert rows[0] == ["0", "0", "a", "0"] and rows[3] == ["1", "0", "b", "0"]
    many = col.search_batch(np.tile(np.eye(4)[:1], (12, 1)), k=1)
    assert "first 10 of 12 queries" in many._repr_html_()


def test_explain_plan_repr_and_html(col):
    ex = col.explain(np.eye(4)[1], k=2, filter={"lang": "fr"})
    assert isinstance(ex, ExplainPlan) and isinstance(ex, dict)
    assert ex["hits"] == [("b", 0.0)] and ex["live_points"] == 3
    r = repr(ex)
    assert r.startswith("ExplainPlan(plan=") and "live_points=3" in r
    assert "estimated_cardinality=1" in r and "hits=1" in r
    p = _Cells(ex._repr_html_())
    assert not p.stack
    assert "selectivity" in p.cells and "plan" in p.cells
    assert dict(ex) == ex  # still a plain dict of the same keys


def test_long_tables_are_cut(col):
    hits = Hits(ws.Hit(i, float(i), {"x": "y" * 500}) for i in range(80))
    text = hits._repr_html_()
    assert "30 more" in text
    assert "y" * 200 not in text
