# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Stats of a search spread over several indexes (shards or replicas), merged."""

from __future__ import annotations

__all__ = ["merge_stats"]

# Counters of work done: the whole search did the sum of its parts' work.
_COUNTERS = ("distance_evals", "nodes_visited", "lists_probed", "allowed", "queries_widened",
             "cells_widened", "cells_exact", "queries_exact", "refine_bytes")


def merge_stats(parts: list, mode: str, nq: int) -> dict:
    """One stats dict for a search whose ``parts`` (each part's own stats) were shards
    (``mode="shard"``: every part saw every query) or replica slices
    (``"replicate"``: each part saw some queries).

    Counters (distance evaluations, nodes visited, lists probed, ...) are summed over
    the parts, except ``allowed`` of replicas, which each count the same points; any
    other entry keeps its value when every part agrees and becomes the list of the
    parts' values when they differ (``plan``, ``device``, ...). ``nq`` is the number of
    queries of the whole search; ``parts`` keeps each part's own stats.

    >>> s = merge_stats([{"nodes_visited": 3, "plan": "graph", "device": "cpu", "nq": 2},
    ...                  {"nodes_visited": 4, "plan": "brute_force", "device": "cpu", "nq": 2}],
    ...                 "shard", 2)
    >>> s["nodes_visited"], s["plan"], s["device"], s["shards"]
    (7, ['graph', 'brute_force'], 'cpu', 2)
    """
    out = {"mode": mode, ("shards" if mode == "shard" else "replicas"): len(parts), "nq": nq}
    keys = []
    for p in parts:
        keys.extend(key for key in p if key not in keys and key != "nq")
    for key in keys:
        vals = [p.get(key) for p in parts]
        numeric = all(isinstance(v, int) and not isinstance(v, bool) for v in vals)
        if key in _COUNTERS and numeric and not (mode == "replicate" and key == "allowed"):
            out[key] = sum(vals)
        elif all(v == vals[0] for v in vals):
            out[key] = vals[0]
        else:
            out[key] = vals
    out["parts"] = list(parts)
    return out
