# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Index construction: HNSW graph build and flat (exact) index add."""

import warpsearch as ws

from .common import DEVICES, DIM, EF_CONSTRUCTION, M, N_BASE, dataset, device_kwargs


class BuildHNSW:
    """Builds an HNSW graph over ``N_BASE`` clustered vectors (all threads)."""

    params = [DEVICES]
    param_names = ["device"]
    timeout = 300

    def setup(self, device):
        self.kwargs = device_kwargs(ws.HNSWIndex, device)
        self.base, _ = dataset()

    def time_build_hnsw(self, device):
        idx = ws.HNSWIndex(dim=DIM, metric="l2", M=M, ef_construction=EF_CONSTRUCTION,
                           **self.kwargs)
        idx.add(self.base)

    def peakmem_build_hnsw(self, device):
        idx = ws.HNSWIndex(dim=DIM, metric="l2", M=M, ef_construction=EF_CONSTRUCTION,
                           **self.kwargs)
        idx.add(self.base)


class AddFlat:
    """Adds ``5 * N_BASE`` vectors to a flat index (copy + bookkeeping)."""

    params = [DEVICES]
    param_names = ["device"]

    def setup(self, device):
        self.kwargs = device_kwargs(ws.FlatIndex, device)
        self.base, _ = dataset(n=5 * N_BASE)

    def time_add_flat(self, device):
        idx = ws.FlatIndex(dim=DIM, metric="l2", **self.kwargs)
        idx.add(self.base)
