# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A database whose collections are sharded and replicated over a Ray cluster.

``ws.connect("ray://HOST:PORT")`` (the GCS address of a running cluster) or
``ws.connect("ray://auto")`` returns a ``ClusterDatabase``. The router and the
collections' layout live in this process; each shard replica is a Ray actor holding
an embedded collection in ``data_dir`` on its node's local disk.

A background thread keeps the replicas healthy: a replica whose actor or node failed
is marked dead (reads and writes go to the others); when its node is back (or its
actor can be started there again) it is restarted on its files and caught up from a
peer before it serves again; when its node stays gone ``node_loss_timeout`` seconds,
the replica is re-created on another live node (from a peer's snapshot or op log).
"""

from __future__ import annotations

import collections
import json
import os
import tempfile
import threading
import time
import uuid

from .._validation import as_positive_int
from ..db.config import FlatConfig, HNSWConfig, IVFPQConfig, check_name, parse_schema
from ..db.storage import atomic_write
from .collection import ClusterCollection
from .replica import ShardReplica
from .router import Replica, Shard, needed

__all__ = ["ClusterDatabase", "require_ray"]

_METRICS = ("l2", "ip", "cosine")


def require_ray():
    """The ``ray`` module, or an ImportError naming the extra that installs it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError("a ray:// database needs Ray: pip install 'warpsearch[distributed]' "
                          f"(ray[default]>=2.9) ({exc})") from None
    return ray


class ClusterDatabase:
    """Collections over a Ray cluster; see the module docstring.

    Parameters
    ----------
    address : str
        ``"auto"`` or ``"HOST:PORT"`` of the cluster's GCS; ignored when this process
        is already connected to a cluster (``ray.is_initialized()``).
    data_dir : str, optional
        Where replicas keep their files on each node (default:
        ``<tmp>/warpsearch-cluster``), one sub-folder per node, and where this driver
        keeps the catalog of its collections (``catalog.json``): a database connected
        later on the same ``data_dir`` (after this driver is gone) reattaches them,
        starting each replica again on its node from its own files.
    node_loss_timeout : float
        Seconds a node may stay gone before its replicas are re-created elsewhere.
    monitor_interval : float or None
        Seconds between health checks of the replicas (in a background thread);
        ``None``: no background checks, only those ``repair()`` runs.
    fsync : {"always", "interval", "never"}
        The replicas' log policy (as ``ws.connect``).
    """

    def __init__(self, address: str = "auto", data_dir=None, node_loss_timeout: float = 60.0,
                 monitor_interval: float = 0.5, fsync: str = "always"):
        ray = require_ray()
        self._ray = ray
        self._owns_ray = False
        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False)
            self._owns_ray = True
        self.data_dir = os.path.abspath(data_dir or os.path.join(tempfile.gettempdir(),
                                                                 "warpsearch-cluster"))
        self.node_loss_timeout = float(node_loss_timeout)
        self.monitor_interval = None if monitor_interval is None else float(monitor_interval)
        self.fsync = fsync
        #: What the monitor and the router did (the newest 10,000): dicts with "event"
        #: ("replica_dead", "replica_restarted", "replica_recreated", "replica_caught_up",
        #: "replica_moved", "shard_split", ...), "time" (epoch seconds) and details.
        self.events = collections.deque(maxlen=10_000)
        self._cols: dict = {}
        self._mu = threading.RLock()
        self._watched: list = []
        self._closed = False
        self._stop = threading.Event()
        self._tick_mu = threading.Lock()  # one repair pass at a time
        self._cat_mu = threading.Lock()  # one catalog write at a time
        self._thread = None
        self._load_catalog()
        if self.monitor_interval is not None:
            self._thread = threading.Thread(target=self._monitor, name="warpsearch-cluster",
                                            daemon=True)
            self._thread.start()

    # -- nodes and placement ---------------------------------------------------------
    def nodes(self) -> dict:
        """Alive nodes: ``{node_id: resources}``."""
        return {n["NodeID"]: n.get("Resources", {}) for n in self._ray.nodes() if n["Alive"]}

    def _load(self) -> dict:
        out: dict = {}
        for col in list(self._cols.values()):
            for sh in col.shards:
                for r in sh.replicas:
                    if r.state != "dead":
                        out[r.node_id] = out.get(r.node_id, 0) + 1
        return out

    def _choose(self, col, sh, count, exclude=()):
        alive = self.nodes()
        load = self._load()
        taken = {r.node_id for r in sh.replicas if r.state != "dead"} | set(exclude)
        gpus = col.opts["num_gpus"]
        cands = [n for n, res in alive.items()
                 if n not in taken and res.get("GPU", 0) >= gpus]
        cands.sort(key=lambda n: (load.get(n, 0), list(alive).index(n)))
        return cands[:count]

    def _spawn(self, col, sh, node_id, rid=None) -> Replica:
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        rid = rid or uuid.uuid4().hex[:10]
        actor = ray.remote(ShardReplica).options(
            num_cpus=0, num_gpus=col.opts["num_gpus"], max_concurrency=16, max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
        ).remote(self.data_dir, col.name, sh.index, rid, col.config, self.fsync,
                 col.opts["oplog_retention"])
        r = Replica(rid, node_id, actor)
        r.busy = True  # the caller makes it active (or the monitor catches it up)
        return r

    # -- the catalog: collections and their layout, kept in data_dir ----------------
    @property
    def _catalog_path(self) -> str:
        return os.path.join(self.data_dir, "catalog.json")

    def _save_catalog(self) -> None:
        """Writes every collection's settings and layout (shard ranges, replica ids and
        nodes), so that a database connected later with the same ``data_dir`` finds
        them again. Called on every change of layout."""
        with self._mu:
            cat = {}
            for name, col in self._cols.items():
                cat[name] = {
                    "config": col.config, "opts": col.opts,
                    "replication_factor": col.replication_factor,
                    "write_consistency": col.write_consistency, "shard_key": col.shard_key,
                    "shards": [{"index": sh.index, "lo": sh.lo, "hi": sh.hi,
                                "replicas": [{"rid": r.rid, "node_id": r.node_id}
                                             for r in sh.replicas if r.state != "dead"]}
                               for sh in col.shards]}
            os.makedirs(self.data_dir, exist_ok=True)
            atomic_write(self._catalog_path, json.dumps({"version": 1, "collections": cat},
                                                        default=str).encode())

    def _load_catalog(self) -> None:
        """Reattaches the collections of an earlier database on this ``data_dir``: each
        replica is started again on its node from its own files (replicas on nodes that
        are gone are marked dead, and re-created by the monitor); a shard's sequence
        numbers continue from the highest its replicas report, and replicas behind it
        catch up before they serve."""
        if not os.path.exists(self._catalog_path):
            return
        with open(self._catalog_path) as f:
            cat = json.load(f)
        alive = set(self.nodes())
        for name, c in cat.get("collections", {}).items():
            col = ClusterCollection(self, name, c["config"], len(c["shards"]),
                                    c["replication_factor"], c["write_consistency"],
                                    c["shard_key"], c["opts"])
            col.shards.shards = [Shard(d["index"], d["lo"], d["hi"]) for d in c["shards"]]
            col.shards._los = [sh.lo for sh in col.shards.shards]
            started = []
            for sh, d in zip(col.shards, c["shards"]):
                for rd in d["replicas"]:
                    if rd["node_id"] in alive:
                        r = self._spawn(col, sh, rd["node_id"], rd["rid"])
                        started.append((sh, r))
                    else:
                        r = Replica(rd["rid"], rd["node_id"], None)
                        r.state, r.dead_since = "dead", time.monotonic()
                    sh.replicas.append(r)
            self._cols[name] = col
            statuses = {}
            for sh, r in started:
                try:
                    statuses[r.rid] = self._ray.get(r.actor.status.remote(), timeout=120)
                except Exception:  # noqa: BLE001 - cannot start on its files: the monitor
                    r.state, r.dead_since = "dead", time.monotonic()  # re-creates it
            for sh in col.shards:
                seqs = [statuses[r.rid]["seq"] for r in sh.replicas if r.rid in statuses]
                top = max(seqs, default=0)
                sh.seq = sh.acked = top
                for r in sh.replicas:
                    if r.rid in statuses:
                        r.seq, r.busy = statuses[r.rid]["seq"], False
                        r.state = "active" if r.seq == top else "recovering"
            self._event("collection_reattached", col)

    def _event(self, event, col=None, sh=None, r=None, **kw):
        e = {"event": event, "time": time.time()}
        if col is not None:
            e["collection"] = col.name
        if sh is not None:
            e["shard"] = sh.index
        if r is not None:
            e.update(replica=r.rid, node_id=r.node_id)
        e.update(kw)
        self.events.append(e)
        if event.startswith(("replica_", "shard_")) and event != "replica_behind":
            self._save_catalog()  # the layout changed

    # -- collections -------------------------------------------------------------------
    def create_collection(self, name: str, dim: int, metric: str = "cosine", index=None,
                          schema=None, segment_size: int = 100_000, device: str = "auto", *,
                          shards: int = 1, replication_factor: int = 1,
                          write_consistency: str = "quorum", shard_key=None,
                          num_gpus: float = 0, oplog_retention: int = 10_000,
                          write_timeout_s: float = 30.0, read_timeout_s: float = 30.0):
        """Creates a collection of ``shards`` shards with ``replication_factor`` replicas
        each, on different nodes; the other parameters are those of the embedded
        ``create_collection``.

        ``write_consistency``: how many replicas of a shard must make a write durable
        before it returns: ``"one"``, ``"quorum"`` (a majority) or ``"all"``.
        ``shard_key``: ``None`` (a hash of the point id) or a payload field whose value
        picks the shard (every point must then have it; it must not change).
        ``num_gpus``: what each replica actor reserves. ``oplog_retention``: writes a
        replica keeps for peers that fall behind (older ones need a snapshot).
        """
        self._check()
        check_name(name)
        dim = as_positive_int(dim, "dim")
        if not isinstance(metric, str) or metric.lower() not in _METRICS:
            raise ValueError(f"metric must be one of {', '.join(_METRICS)}, got {metric!r}")
        index = HNSWConfig() if index is None else index
        if not isinstance(index, (HNSWConfig, FlatConfig, IVFPQConfig)):
            raise TypeError("index must be a HNSWConfig, FlatConfig or IVFPQConfig")
        if not isinstance(device, str):
            raise TypeError(f"device must be a str, got {type(device).__name__}")
        specs = parse_schema(schema)
        shards = as_positive_int(shards, "shards", maximum=4096)
        rf = as_positive_int(replication_factor, "replication_factor", maximum=64)
        needed(write_consistency, rf)
        if shard_key is not None and not isinstance(shard_key, str):
            raise TypeError(f"shard_key must be None or a payload field name, "
                            f"got {type(shard_key).__name__}")
        if not isinstance(num_gpus, (int, float)) or num_gpus < 0:
            raise ValueError(f"num_gpus must be a non-negative number, got {num_gpus!r}")
        config = {"dim": dim, "metric": metric.lower(), "index": index.to_dict(),
                  "schema": {k: v.spelled for k, v in specs.items()},
                  "segment_size": as_positive_int(segment_size, "segment_size"),
                  "device": device.strip().lower()}
        opts = {"num_gpus": num_gpus,
                "oplog_retention": as_positive_int(oplog_retention, "oplog_retention",
                                                   maximum=None),
                "write_timeout_s": float(write_timeout_s), "read_timeout_s": float(read_timeout_s),
                "apply_wait_s": 10.0, "read_wait_s": 5.0}
        with self._mu:
            if name in self._cols:
                raise ValueError(f"collection {name!r} already exists")
            col = ClusterCollection(self, name, config, shards, rf, write_consistency,
                                    shard_key, opts)
            alive = len(self.nodes())
            if rf > alive:
                raise ValueError(f"replication_factor {rf} needs {rf} nodes; the cluster has "
                                 f"{alive} alive")
            spawned = []
            try:
                for sh in col.shards:
                    for node in self._choose(col, sh, rf):
                        r = self._spawn(col, sh, node)
                        sh.replicas.append(r)
                        spawned.append(r)
                    self._cols[name] = col  # counted in the load of the next shard
                self._ray.get([r.actor.status.remote() for r in spawned], timeout=120)
            except BaseException:
                self._cols.pop(name, None)
                for r in spawned:
                    self._ray.kill(r.actor)
                raise
            for r in spawned:
                r.state, r.busy = "active", False
            self._save_catalog()
            return col

    def get_collection(self, name: str) -> ClusterCollection:
        self._check()
        try:
            return self._cols[name]
        except KeyError:
            raise KeyError(f"no collection named {name!r}") from None

    def __getitem__(self, name: str) -> ClusterCollection:
        return self.get_collection(name)

    def has_collection(self, name: str) -> bool:
        return name in self._cols

    def list_collections(self) -> list:
        return sorted(self._cols)

    def open_collections(self) -> list:
        """The collections of this database, by name (every one is held by its actors)."""
        return [self._cols[k] for k in sorted(self._cols)]

    #: What a server in front of this database checks (``warpsearch.server.create_app``).
    is_cluster = True

    @property
    def path(self) -> str:
        """The local directory of this driver's files (a server keeps its API keys and
        its state there); the replicas' files are under it on each node."""
        return self.data_dir

    def tier(self, name: str) -> str:
        """``"ram"``: a cluster collection is always held by its replicas' actors."""
        self.get_collection(name)
        return "ram"

    def offload(self, name: str, to=None, progress=None):
        """Not offered: a cluster collection lives in its actors (drop it, or snapshot
        the replicas' directories)."""
        self.get_collection(name)
        raise ValueError(f"collection {name!r} is sharded over a Ray cluster: offloading "
                         "is offered for embedded collections only")

    def drop_collection(self, name: str) -> None:
        """Stops the collection's replicas and deletes their files."""
        self._check()
        with self._mu:
            col = self.get_collection(name)
            del self._cols[name]
            self._save_catalog()
        col._closed = True
        self._stop_replicas(col, destroy=True)

    def _stop_replicas(self, col, destroy):
        ray = self._ray
        refs = []
        for sh in col.shards:
            for r in sh.replicas:
                if r.state != "dead":
                    refs.append((r, (r.actor.destroy if destroy else r.actor.close).remote()))
        for r, ref in refs:
            try:
                ray.get(ref, timeout=60)
            except ray.exceptions.RayError:
                pass
            ray.kill(r.actor)

    def close(self) -> None:
        """Stops the monitor, closes every replica (checkpointing it) and stops them."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for col in list(self._cols.values()):
            col._closed = True
            self._stop_replicas(col, destroy=False)
        self._cols.clear()
        if self._owns_ray:
            self._ray.shutdown()

    def _check(self):
        if self._closed:
            raise ValueError("database is closed")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"ClusterDatabase({len(self._cols)} collections, data_dir={self.data_dir!r})"

    # -- failure handling (called by collections and the monitor) -------------------------
    def _mark_dead(self, col, r):
        if r.state == "dead":
            return
        r.state, r.dead_since = "dead", time.monotonic()
        self._event("replica_dead", col, None, r)
        try:
            self._ray.kill(r.actor)  # a replica believed dead must not write its files on
        except Exception:  # noqa: BLE001 - already gone
            pass

    def _mark_behind(self, col, r):
        if r.state == "active":
            r.state = "recovering"
            self._event("replica_behind", col, None, r)

    def _watch(self, col, refs):
        """Write outcomes nobody waits for: the monitor reaps them."""
        with self._mu:
            self._watched.append((col, refs))

    def repair(self) -> None:
        """One pass of the health checks the monitor runs every ``monitor_interval``:
        failed replicas marked dead, restarted or re-created, recovering ones caught
        up (see ``warpsearch.cluster.repair``)."""
        from . import repair

        self._check()
        with self._tick_mu:
            repair.tick(self)

    def _monitor(self):
        while not self._stop.wait(self.monitor_interval):
            try:
                self.repair()
            except Exception as exc:  # noqa: BLE001 - the monitor must keep running
                if self._closed:
                    return
                self._event("monitor_error", error=repr(exc))

