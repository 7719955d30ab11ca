# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""One Ray cluster on 127.0.0.1 for the whole session: a head and three worker nodes
(one CPU each, fast health checks), started with the loopback recipe of
``warpsearch.cluster.local``.

These tests run where nothing can leave loopback: inside a network namespace with
only ``lo`` up (``unshare -n -- sh -c 'ip link set lo up; exec python -m pytest
tests/distributed'``, as .ci/run does). Elsewhere they skip, unless
``WARPSEARCH_RAY_TESTS=1`` says the caller has made sure of it another way.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile

import pytest


def _isolated():
    """True when every network interface with an address is loopback."""
    import psutil

    for name, addrs in psutil.net_if_addrs().items():
        for a in addrs:
            if a.family.name in ("AF_INET", "AF_INET6") and not (
                    a.address.startswith("127.") or a.address.split("%")[0] == "::1"):
                return False
    return True


def _skip_reason():
    if importlib.util.find_spec("ray") is None:  # not imported: loopback_env comes first
        return "Ray is not installed (pip install 'warpsearch[distributed]')"
    if importlib.util.find_spec("psutil") is None:
        return "psutil is not installed (it comes with ray[default])"
    if os.environ.get("WARPSEARCH_RAY_TESTS") != "1" and not _isolated():
        return ("the distributed tests run only in a network namespace with loopback alone "
                "(unshare -n -- sh -c 'ip link set lo up; exec python -m pytest "
                "tests/distributed'), or with WARPSEARCH_RAY_TESTS=1")
    return None


_REASON = _skip_reason()
_BASE = None
if _REASON is None:  # before anything imports ray: some settings are read at import
    from warpsearch.cluster.local import loopback_env

    _BASE = tempfile.mkdtemp(prefix="wsray", dir="/tmp")
    loopback_env(_BASE)


@pytest.fixture(scope="session")
def local_cluster():
    """The session's LocalCluster; skips when Ray cannot start here."""
    if _REASON is not None:
        pytest.skip(_REASON)
    from warpsearch.cluster.local import LocalCluster

    try:
        lc = LocalCluster(nodes=3, num_cpus=1, base=_BASE)
    except Exception as exc:  # noqa: BLE001 - any failure to start means: skip
        shutil.rmtree(_BASE, ignore_errors=True)
        pytest.skip(f"a local Ray cluster could not start: {exc!r}")
    yield lc
    lc.shutdown()
    shutil.rmtree(_BASE, ignore_errors=True)


@pytest.fixture
def cluster_db(local_cluster, tmp_path):
    """A ClusterDatabase on the session's cluster (replica files under tmp_path)."""
    import warpsearch as ws

    db = ws.connect("ray://" + local_cluster.address, data_dir=str(tmp_path / "data"),
                    node_loss_timeout=2.0, monitor_interval=0.3)
    yield db
    db.close()
