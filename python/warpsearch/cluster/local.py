# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A Ray cluster of several nodes on this machine, kept on the loopback interface
(for trying the cluster, tests and benchmarks).

Ray started the documented way does not stay on 127.0.0.1: it rewrites a loopback
node address to the machine's routed one, and its dashboard probes cloud metadata
addresses and posts usage reports. ``loopback_env`` sets what keeps every process on
loopback (the variables must be set before ``import ray``); ``LocalCluster`` starts a
head and ``nodes`` worker nodes on 127.0.0.1 with fast health checks, so a killed
node is declared dead in seconds.

For a second guard, run inside a network namespace with only loopback up
(``unshare -n -- sh -c 'ip link set lo up; exec python ...'``).
"""

from __future__ import annotations

import json
import os
import tempfile

__all__ = ["loopback_env", "LocalCluster", "FAST_HEALTH_CHECKS"]

#: Health-check settings that declare a dead node in 1.5-4 s instead of about 15 s.
FAST_HEALTH_CHECKS = {"health_check_initial_delay_ms": 1000, "health_check_period_ms": 500,
                      "health_check_timeout_ms": 500, "health_check_failure_threshold": 3}


def loopback_env(base=None) -> str:
    """Sets the environment that keeps Ray on loopback and returns Ray's temp dir.

    ``base`` (default: a new folder under ``/tmp``) holds a private ``HOME`` with an
    empty ``ray_bootstrap_config.yaml`` (so usage stats read no cloud metadata) and
    the short temp dir Ray puts its unix sockets in. Call it before ``import ray``.
    """
    if "ray" in __import__("sys").modules:
        import warnings

        warnings.warn("loopback_env() called after `import ray`: some settings are read "
                      "at import", RuntimeWarning, stacklevel=2)
    base = base or tempfile.mkdtemp(prefix="wsray", dir="/tmp")
    home = os.path.join(base, "home")
    tmp = os.path.join(base, "t")
    os.makedirs(home, exist_ok=True)
    os.makedirs(os.path.join(tmp, "ray"), exist_ok=True)
    with open(os.path.join(home, "ray_bootstrap_config.yaml"), "w") as f:
        json.dump({}, f)
    os.environ.update({
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:9/",
        "HOME": home,
        "RAY_TMPDIR": tmp,
        "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
        "no_proxy": "localhost,127.0.0.1,::1",
    })
    return os.path.join(tmp, "ray")


class LocalCluster:
    """A head and ``nodes`` worker nodes (``num_cpus`` each) on 127.0.0.1, and the
    driver connected to it. ``add_node`` / ``kill_node`` change it while it runs;
    ``shutdown`` (or leaving the ``with`` block) stops every process it started.

    Each worker node gets a custom resource ``"ws-node-<i>": 1`` naming it.
    """

    def __init__(self, nodes: int = 3, num_cpus: int = 1, base=None, system_config=None):
        if not isinstance(nodes, int) or nodes < 0:
            raise ValueError(f"nodes must be a non-negative int, got {nodes!r}")
        self._own_base = base is None  # a folder made here is removed at shutdown
        self.temp_dir = loopback_env(base)
        self._base = os.path.dirname(os.path.dirname(self.temp_dir))
        import ray
        from ray.cluster_utils import Cluster

        self._ray = ray
        self._num_cpus = num_cpus
        self._count = 0
        cfg = dict(FAST_HEALTH_CHECKS, **(system_config or {}))
        self.cluster = Cluster(initialize_head=True, head_node_args=dict(
            node_ip_address="127.0.0.1", include_dashboard=False, temp_dir=self.temp_dir,
            num_cpus=num_cpus, _system_config=cfg))
        self.workers = []
        try:
            for _ in range(nodes):
                self.add_node(wait=False)
            self.cluster.wait_for_nodes()
            ray.init(address=self.cluster.address, log_to_driver=False)
        except BaseException:
            self.shutdown()
            raise

    @property
    def address(self) -> str:
        """The GCS address (``host:port``): ``ws.connect("ray://" + address)``."""
        return self.cluster.address

    def add_node(self, wait: bool = True):
        """Starts one more worker node; returns its handle (``.node_id``: the hex id)."""
        self._count += 1
        node = self.cluster.add_node(node_ip_address="127.0.0.1", num_cpus=self._num_cpus,
                                     resources={f"ws-node-{self._count}": 1})
        self.workers.append(node)
        if wait:
            self.cluster.wait_for_nodes()
        return node

    def kill_node(self, node) -> None:
        """Kills a worker node at once (no graceful drain), as a crashed machine."""
        self.cluster.remove_node(node, allow_graceful=False)
        self.workers.remove(node)

    def pids(self) -> list:
        """PIDs of the processes of every node (raylets, GCS, workers are their children)."""
        out = []
        for node in [self.cluster.head_node] + list(self.cluster.worker_nodes):
            for procs in node.all_processes.values():
                out += [p.process.pid for p in procs]
        return out

    def shutdown(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            ray.shutdown()
        self.cluster.shutdown()
        if self._own_base:
            import shutil

            shutil.rmtree(self._base, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
