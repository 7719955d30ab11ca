# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Prometheus metrics of one app, in its own ``CollectorRegistry`` (never the
process-wide one, so two apps in one process do not mix their numbers).

Requests and searches are counted as they happen; the per-collection numbers
(points, segments, bytes, seals, merges, back-pressure, WAL fsyncs, recall, and the
histograms of fsync, seal and merge durations) are read
from the open collections when ``/metrics`` is scraped.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, \
    generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, \
    HistogramMetricFamily

__all__ = ["Metrics", "CONTENT_TYPE_LATEST"]

_REQ_LABELS = ("route", "method", "status", "collection", "tenant")
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0, float("inf"))
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, float("inf"))

# (info key, metric name, help) of the per-collection gauges
_GAUGES = (
    ("points", "warpsearch_collection_points", "Live points."),
    ("sealed_segments", "warpsearch_collection_sealed_segments", "Sealed segments."),
    ("sealing", "warpsearch_collection_segments_waiting_seal",
     "Full segments waiting to be sealed."),
    ("rows", "warpsearch_collection_rows", "Rows stored (deleted rows included)."),
    ("indexed_rows", "warpsearch_collection_indexed_rows", "Rows served by an index."),
    ("deleted_rows", "warpsearch_collection_deleted_rows", "Deleted rows not yet purged."),
)
# (background key, metric name, help) of the per-collection counters
_COUNTERS = (
    ("seals", "warpsearch_collection_seals", "Segments sealed."),
    ("seal_seconds", "warpsearch_collection_seal_seconds", "Seconds spent sealing."),
    ("merges", "warpsearch_collection_merges", "Segment merges."),
    ("merge_seconds", "warpsearch_collection_merge_seconds", "Seconds spent merging."),
    ("backpressure_waits", "warpsearch_collection_backpressure_waits",
     "Writes held back while too many segments waited to be sealed."),
    ("backpressure_seconds", "warpsearch_collection_backpressure_seconds",
     "Seconds writers were held back."),
    ("failures", "warpsearch_collection_background_failures",
     "Failed background seal or merge attempts (retried)."),
)

# (durations key, metric name, help) of the per-collection duration histograms
_HISTOGRAMS = (
    ("wal_fsync", "warpsearch_collection_wal_fsync_seconds",
     "Seconds per fsync of the write-ahead log."),
    ("seal", "warpsearch_collection_seal_duration_seconds",
     "Seconds per segment seal (index build and files)."),
    ("merge", "warpsearch_collection_merge_duration_seconds",
     "Seconds per segment merge (compaction)."),
)


class _DatabaseCollector:
    """Reads the open collections at scrape time."""

    def __init__(self, db, recall):
        self.db = db
        self.recall = recall

    def describe(self):
        return []

    def collect(self):
        g = {key: GaugeMetricFamily(name, doc, labels=["collection"])
             for key, name, doc in _GAUGES}
        c = {key: CounterMetricFamily(name, doc, labels=["collection"])
             for key, name, doc in _COUNTERS}
        fsyncs = CounterMetricFamily("warpsearch_collection_wal_fsyncs",
                                     "fsync calls of the write-ahead log.", labels=["collection"])
        mem = GaugeMetricFamily("warpsearch_collection_bytes",
                                "Bytes held: ram (indexes, unsealed vectors), mapped (sealed "
                                "vectors, memory-mapped), device (GPU copies), disk (files).",
                                labels=["collection", "where"])
        recall = GaugeMetricFamily("warpsearch_recall",
                                   "Running mean of the recall@k of sampled live searches "
                                   "against an exact re-run.", labels=["collection"])
        samples = CounterMetricFamily("warpsearch_recall_samples",
                                      "Sampled searches measured.", labels=["collection"])
        hists = {key: HistogramMetricFamily(name, doc, labels=["collection"])
                 for key, name, doc in _HISTOGRAMS}
        pending = GaugeMetricFamily("warpsearch_collection_merges_pending",
                                    "Segment merges automatic compaction would run now.",
                                    labels=["collection"])
        for col in self.db.open_collections():
            name = col.name
            durations = getattr(col, "durations", None)  # a cluster's collection has none
            try:
                info = col.info()
                mu = col.memory_usage()
                times = None if durations is None else durations()
            except ValueError:  # closed meanwhile
                continue
            if times is not None:
                for key, fam in hists.items():
                    h = times[key]
                    fam.add_metric([name], [("+Inf" if b == float("inf") else repr(b),
                                             float(n)) for b, n in h["buckets"]], h["sum"])
                pending.add_metric([name], float(times["merges_pending"]))
            for key, fam in g.items():
                fam.add_metric([name], float(info.get(key) or 0))
            bg = info["background"]
            for key, fam in c.items():
                fam.add_metric([name], float(bg.get(key, 0)))
            fsyncs.add_metric([name], float(info.get("wal_fsyncs", 0)))
            for where in ("ram", "mapped", "disk"):
                mem.add_metric([name, where], float(mu[where]))
            if mu["device"]:
                mem.add_metric([name, "device"], float(mu["device"]))
        snap = self.recall.snapshot()
        for name, (mean, n) in sorted(snap["collections"].items()):
            recall.add_metric([name], mean)
            samples.add_metric([name], float(n))
        yield from g.values()
        yield from c.values()
        yield fsyncs
        yield from hists.values()
        yield pending
        yield mem
        yield recall
        yield samples
        yield CounterMetricFamily("warpsearch_recall_dropped",
                                  "Sampled searches dropped (the re-run queue was full).",
                                  value=float(snap["dropped"]))
        yield CounterMetricFamily("warpsearch_recall_exact_seconds",
                                  "Wall seconds of the exact re-runs of the recall monitor.",
                                  value=snap["exact_seconds"])
        yield CounterMetricFamily("warpsearch_recall_exact_cpu_seconds",
                                  "CPU seconds of the recall monitor's thread.",
                                  value=snap["exact_cpu_seconds"])


class Metrics:
    """The app's registry and the metrics recorded as requests run."""

    def __init__(self, db, recall):
        r = self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter("warpsearch_http_requests", "HTTP requests.", _REQ_LABELS,
                                registry=r)
        self.latency = Histogram("warpsearch_http_request_duration_seconds",
                                 "HTTP request latency (seconds).", _REQ_LABELS,
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.search_latency = Histogram(
            "warpsearch_search_duration_seconds",
            "Latency of searches (seconds, batch included) by index kind and plan.",
            ("collection", "index", "plan"), buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("warpsearch_search_batch_size",
                                    "Queries per engine search call (micro-batches).",
                                    buckets=_BATCH_BUCKETS, registry=r)
        self.slow = Counter("warpsearch_slow_queries", "Searches over the slow-query threshold.",
                            ("collection",), registry=r)
        r.register(_DatabaseCollector(db, recall))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
