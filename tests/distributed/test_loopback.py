# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Nothing of the test cluster leaves loopback: every socket of its processes (GCS,
raylets, workers and their children, and this driver) is bound to, and connected
to, loopback addresses only."""

from __future__ import annotations

import ipaddress
import os

import numpy as np


def _loopback(ip: str) -> bool:
    a = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return a.is_loopback


def test_cluster_sockets_stay_on_loopback(local_cluster, cluster_db):
    import psutil

    # some traffic first: replicas, writes, a search
    col = cluster_db.create_collection("net", dim=4, shards=2, replication_factor=2)
    col.upsert([1, 2, 3], np.eye(4)[:3] + 0.1)
    assert len(col.search(np.ones(4), k=2)) == 2
    procs = {}
    for pid in local_cluster.pids() + [os.getpid()]:
        try:
            p = psutil.Process(pid)
        except psutil.NoSuchProcess:
            continue
        procs[pid] = p
        for c in p.children(recursive=True):
            procs[c.pid] = c
    assert len(procs) >= 6  # GCS, raylets, workers ...
    checked, bad = 0, []
    for p in procs.values():
        try:
            conns = p.net_connections(kind="inet") if hasattr(p, "net_connections") \
                else p.connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for c in conns:
            checked += 1
            if c.laddr and not _loopback(c.laddr.ip):
                bad.append((p.pid, p.name(), "bound", c.laddr))
            if c.raddr and not _loopback(c.raddr.ip):
                bad.append((p.pid, p.name(), "connected", c.raddr))
    assert checked > 10
    assert bad == [], f"sockets off loopback: {bad}"
