// SPDX-FileCopyrightText: 2026 warpsearch contributors
// SPDX-License-Identifier: Apache-2.0
// The warpsearch dashboard: polls GET /warpsearch/stats and renders it. No build
// step, no dependencies. A server with API keys answers the stats to an admin key:
// give it in the page URL's fragment (/dashboard#api_key=...), which a browser never
// sends to the server (so no access log records it), or type it into the form the
// page shows when the server refuses. The key is kept in this tab's sessionStorage
// and sent in the api-key header; the fragment is removed from the address bar.
"use strict";

const POLL_MS = 2000;
const KEY_ITEM = "warpsearch-api-key";

(function keyFromFragment() {
  const key = new URLSearchParams(window.location.hash.slice(1)).get("api_key");
  if (key) {
    sessionStorage.setItem(KEY_ITEM, key);
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
})();

function apiKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

function fmt(x, digits) {
  if (x === null || x === undefined) return "\u2013";
  return Number(x).toLocaleString("en-US", {maximumFractionDigits: digits});
}

function cell(row, text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "num";
  row.appendChild(td);
}

function fill(tableId, rows, columns, emptyText) {
  const body = document.querySelector("#" + tableId + " tbody");
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = document.createElement("td");
    td.colSpan = columns;
    td.textContent = emptyText;
    tr.appendChild(td);
    body.appendChild(tr);
    return;
  }
  for (const cells of rows) {
    const tr = document.createElement("tr");
    for (const [text, numeric] of cells) cell(tr, text, numeric);
    body.appendChild(tr);
  }
}

function latency(s) {
  return [s.p50_ms, s.p95_ms, s.p99_ms].map((v) => fmt(v, 1)).join(" / ");
}

function duration(s) {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return (h ? h + " h " : "") + (h || m ? m + " min " : "") + Math.floor(s % 60) + " s";
}

function planText(plan) {
  if (!plan) return "";
  const p = Array.isArray(plan.plan) ? plan.plan.join("+") : plan.plan;
  const segs = (plan.segments || []).length;
  return p + " (" + segs + " segment" + (segs === 1 ? "" : "s") + ")";
}

function render(s) {
  document.getElementById("qps").textContent = fmt(s.requests.qps, 1);
  document.getElementById("search-qps").textContent = fmt(s.searches.qps, 1);
  document.getElementById("latency").textContent = latency(s.requests);
  document.getElementById("search-latency").textContent = latency(s.searches);
  document.getElementById("uptime").textContent = duration(s.uptime_s);
  fill("collections", s.collections.map((c) => [
    [c.name], [fmt(c.points, 0), true], [c.dim, true], [c.metric], [c.index],
    [c.segments, true], [fmt(c.indexed_rows, 0), true],
    [c.recall.recall === null ? "\u2013" : fmt(c.recall.recall, 4), true],
    [fmt(c.recall.count, 0), true],
  ]), 9, "no open collections");
  fill("slow", s.slow_queries.map((q) => [
    [new Date(q.time).toLocaleTimeString()], [q.collection], [fmt(q.duration_ms, 1), true],
    [q.k, true], [q.batch, true], [planText(q.plan)], [q.request_id || ""],
  ]), 7, "no slow queries");
  const m = s.recall_monitor;
  document.getElementById("monitor").textContent =
    "Recall monitor: " + fmt(m.sample * 100, 2) + "% of searches sampled, " +
    fmt(m.sampled, 0) + " sampled, " + fmt(m.dropped, 0) + " dropped. Micro-batching: " +
    (s.batching.enabled ? s.batching.window_ms + " ms window, up to " +
      s.batching.max_batch + " queries" : "off") + ".";
}

async function poll() {
  const status = document.getElementById("status");
  try {
    const key = apiKey();
    const res = await fetch("/warpsearch/stats", {headers: key ? {"api-key": key} : {}});
    const body = await res.json();
    // the key form: shown while the server wants a (different) key
    document.getElementById("key-form").hidden = res.status !== 401 && res.status !== 403;
    if (!res.ok) throw new Error((body.status && body.status.error) || res.statusText);
    render(body.result);
    status.className = "muted";
    status.textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    status.className = "error";
    status.textContent = "cannot load stats: " + err.message;
  }
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("key-input");
  if (input.value) sessionStorage.setItem(KEY_ITEM, input.value);
  input.value = "";
  poll();
});

poll();
setInterval(poll, POLL_MS);
