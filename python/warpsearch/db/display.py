# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""How results look in a terminal and a notebook: ``Hits`` (the list of one
search), ``ExplainPlan`` (the dict of ``explain``) and the HTML tables behind the
``_repr_html_`` of collections and batch results.

Examples
--------
>>> from warpsearch.db.config import Hit
>>> hits = Hits([Hit("a", 0.5, {"lang": "en"})])
>>> hits == [("a", 0.5, {"lang": "en"})]
True
>>> "<table" in hits._repr_html_()
True
"""

from __future__ import annotations

import html
import json

__all__ = ["Hits", "ExplainPlan", "html_table"]

_MAX_ROWS = 50  # rows shown; the rest are counted
_MAX_CELL = 120  # characters of a payload shown in a cell


def _cell(v) -> str:
    if isinstance(v, float):
        text = f"{v:.6g}"
    elif isinstance(v, (dict, list)):
        text = json.dumps(v, ensure_ascii=False, default=str)
    else:
        text = str(v)
    if len(text) > _MAX_CELL:
        text = text[:_MAX_CELL - 1] + "\u2026"
    return html.escape(text)


def html_table(headers, rows, caption=None, total=None) -> str:
    """An HTML table of ``rows`` (at most 50 shown; ``total`` rows in all)."""
    rows = list(rows)
    total = len(rows) if total is None else total
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers)
               + "</tr></thead><tbody>")
    for r in rows[:_MAX_ROWS]:
        out.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>")
    if total > min(len(rows), _MAX_ROWS):
        out.append(f'<tr><td colspan="{len(headers)}">\u2026 {total - min(len(rows), _MAX_ROWS)}'
                   " more</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def hits_table(hits, caption=None) -> str:
    return html_table(("rank", "id", "score", "payload"),
                      ((i, h.id, h.score, h.payload) for i, h in enumerate(hits)), caption,
                      total=len(hits))


class Hits(list):
    """The results of one search: a list of ``Hit``, best first (equal to a plain list
    of the same hits), shown as a table in notebooks."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        return hits_table(self, f"{len(self)} hits")


class ExplainPlan(dict):
    """What ``explain`` reports (a dict: plan, selectivity, segments, evaluations,
    times, hits), with a one-line summary as its repr and a table in notebooks."""

    _SUMMARY = ("plan", "live_points", "estimated_cardinality", "selectivity",
                "nodes_visited", "distance_evals", "exact_rows", "refine_bytes", "time_ms")

    def __repr__(self) -> str:
        parts = []
        for k in self._SUMMARY:
            if k in self:
                v = self[k]
                parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v!r}")
        segs = self.get("segments")
        if segs is not None:
            parts.append(f"segments={len(segs)}")
        hits = self.get("hits")
        if hits is not None:
            parts.append(f"hits={len(hits)}")
        return "ExplainPlan(" + ", ".join(parts) + ")"

    def _repr_html_(self) -> str:
        summary = html_table(("", "value"),
                             ((k, self[k]) for k in self if k not in ("segments", "hits")),
                             "explain")
        segs = self.get("segments") or []
        keys = sorted({k for s in segs for k in s})
        seg_table = html_table(keys, ([s.get(k, "") for k in keys] for s in segs),
                               f"{len(segs)} segments") if segs else ""
        hits = self.get("hits") or []
        hit_table = html_table(("rank", "id", "score"),
                               ((i, h[0], h[1]) for i, h in enumerate(hits)),
                               f"{len(hits)} hits") if hits else ""
        return summary + seg_table + hit_table
