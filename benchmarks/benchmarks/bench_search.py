# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Batch search: HNSW at several ``ef`` (each time paired with its recall) and exact."""

import os

import numpy as np

import warpsearch as ws

from .common import (DEVICES, DIM, EF_CONSTRUCTION, EF_SEARCH, K, M, dataset, device_kwargs,
                     exact_ids, recall)


def _cached_hnsw():
    """Built once per benchmark run (asv ``setup_cache``): the index is saved to a file
    in asv's working directory and the data and ground truth next to it."""
    base, queries = dataset()
    idx = ws.HNSWIndex(dim=DIM, metric="l2", M=M, ef_construction=EF_CONSTRUCTION)
    idx.add(base)
    path = os.path.abspath("hnsw_bench.ws")
    idx.save(path)
    np.savez(os.path.abspath("hnsw_bench_data.npz"), base=base, queries=queries,
             gt=exact_ids(base, queries))
    return path


class SearchHNSW:
    """HNSW batch search of ``N_QUERIES`` queries, k=10, over ``N_BASE`` vectors."""

    params = [DEVICES, EF_SEARCH]
    param_names = ["device", "ef"]
    timeout = 300

    def setup_cache(self):
        return _cached_hnsw()

    def setup(self, path, device, ef):
        kwargs = device_kwargs(ws.HNSWIndex, device)
        with np.load(os.path.join(os.path.dirname(path), "hnsw_bench_data.npz")) as data:
            base, self.queries, self.gt = data["base"], data["queries"], data["gt"]
        if kwargs.get("device", "cpu") == "cpu":
            self.index = ws.load_index(path)
        else:
            # The file holds a CPU index: a device index is built from the same data.
            self.index = ws.HNSWIndex(dim=DIM, metric="l2", M=M,
                                      ef_construction=EF_CONSTRUCTION, **kwargs)
            self.index.add(base)
        self.index.search(self.queries, k=K, ef=ef)  # warm-up

    def time_search_hnsw(self, path, device, ef):
        # Results come back as NumPy arrays, so the call is synchronous on every device.
        self.index.search(self.queries, k=K, ef=ef)

    def track_recall_hnsw(self, path, device, ef):
        _, ids = self.index.search(self.queries, k=K, ef=ef)
        return recall(ids, self.gt)

    track_recall_hnsw.unit = "recall@10"


class SearchFlat:
    """Exact batch search of ``N_QUERIES`` queries, k=10, over ``N_BASE`` vectors."""

    params = [DEVICES]
    param_names = ["device"]

    def setup(self, device):
        kwargs = device_kwargs(ws.FlatIndex, device)
        base, self.queries = dataset()
        self.gt = exact_ids(base, self.queries)
        self.index = ws.FlatIndex(dim=DIM, metric="l2", **kwargs)
        self.index.add(base)
        self.index.search(self.queries, k=K)  # warm-up

    def time_search_flat(self, device):
        self.index.search(self.queries, k=K)

    def track_recall_flat(self, device):
        _, ids = self.index.search(self.queries, k=K)
        return recall(ids, self.gt)

    track_recall_flat.unit = "recall@10"
