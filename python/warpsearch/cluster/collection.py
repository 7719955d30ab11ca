# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A collection sharded and replicated over the nodes of a Ray cluster, with the
methods of the embedded ``Collection``.

Writes are split by shard, sequenced per shard by this router and sent to every
active replica of the shard; the call returns once ``write_consistency`` of them
made it durable, with a token ``{shard: sequence number}``. Reads go to one replica
per shard (round robin, failing over to the next one on any error of a replica);
searches fan out to all shards and their top-k lists are merged.
"""

from __future__ import annotations

import time

import numpy as np

from .._progress import progress_bar
from .._validation import as_matrix, as_nonnegative_int, as_positive_int
from ..db.config import parse_schema
from ..db.filters import compile_filter
from ..db.payload import normalize_ids, payload_list
from .merge import merge_shards
from .router import (Gate, NoReplicaError, Rerouted, ShardMap, WriteConsistencyError,
                     key_hash, needed, wait_refs)

__all__ = ["ClusterCollection"]

_READ = ("one", "quorum", "all")


class ClusterCollection:
    """Created by ``ClusterDatabase.create_collection``; see the module docstring.

    Reads take ``read_consistency``: ``"one"`` (any active replica; it may miss the
    newest writes), ``"quorum"`` (a replica that has every write acknowledged before
    the read began) or ``"all"`` (a replica that has every write sequenced before the
    read began: linearizable). ``after=token`` (a write's return value) makes a read
    see that write.
    """

    def __init__(self, db, name: str, config: dict, shards: int, rf: int,
                 write_consistency: str, shard_key, opts: dict):
        self._db, self.name, self.config = db, name, config
        self.replication_factor = rf
        self.write_consistency = write_consistency
        self.shard_key = shard_key
        self.opts = opts
        self.shards = ShardMap(shards)
        self._schema = parse_schema(config["schema"])
        self._closed = False
        self._layout = 0  # incremented when shards are split: writes routed before re-route
        self._gate = Gate()  # reads share it; the last step of a split takes it alone

    dim = property(lambda self: self.config["dim"], doc="Vector dimension.")
    metric = property(lambda self: self.config["metric"], doc='"l2", "ip" or "cosine".')

    @property
    def schema(self) -> dict:
        return dict(self._schema)

    def _check(self):
        if self._closed:
            raise ValueError(f"collection {self.name!r} is closed")

    @property
    def _ray(self):
        return self._db._ray

    # -- routing helpers ----------------------------------------------------------------
    def _shard_of_point(self, uid, payload):
        if self.shard_key is None:
            return self.shards.of(key_hash(uid))
        if not isinstance(payload, dict) or self.shard_key not in payload:
            raise ValueError(f"collection {self.name!r}: point {uid!r} has no shard key "
                             f"field {self.shard_key!r} in its payload")
        return self.shards.of(key_hash(payload[self.shard_key]))

    def _id_shards(self, uids):
        """``{shard: [ids]}``; with a payload shard key, every shard may hold an id."""
        if self.shard_key is not None:
            return {sh: list(uids) for sh in self.shards}
        out: dict = {}
        for u in uids:
            out.setdefault(self.shards.of(key_hash(u)), []).append(u)
        return out

    def _mark_dead(self, r):
        self._db._mark_dead(self, r)

    def _min_seq(self, sh, consistency, after):
        if consistency not in _READ:
            raise ValueError(f"read_consistency must be one of {', '.join(_READ)}, "
                             f"got {consistency!r}")
        m = {"one": 0, "quorum": sh.acked, "all": sh.seq}[consistency]
        if after:
            m = max(m, int(after.get(sh.index, 0)))
        return m

    # -- writes -------------------------------------------------------------------------
    def _submit(self, sh, op, need, layout=None):
        with sh.lock:
            self._check()
            if layout is not None and layout != self._layout:
                raise Rerouted()
            targets = sh.active()
            if len(targets) < need:
                raise WriteConsistencyError(
                    f"collection {self.name!r} shard {sh.index}: {len(targets)} of "
                    f"{len(sh.replicas)} replicas are active; the write needs {need} "
                    f"durable copies")
            sh.seq += 1
            seq = sh.seq
            refs = {r.actor.apply.remote(seq, op, self.opts["apply_wait_s"]): r
                    for r in targets}
        return sh, seq, refs

    def _await(self, sh, seq, refs, need):
        ray = self._ray
        acks, result, rejected = 0, None, None
        pending = list(refs)
        end = time.monotonic() + self.opts["write_timeout_s"]
        while pending and acks < need:  # a failed replica does not count: wait for more
            done, pending = wait_refs(ray, pending, 1, end - time.monotonic())
            if not done:
                break
            r = refs[done[0]]
            try:
                res = ray.get(done[0])
            except ray.exceptions.RayError:
                self._mark_dead(r)
                continue
            if res[0] in ("ok", "rejected", "dup"):
                acks += 1
                r.seq = max(r.seq, seq)
                if res[0] == "ok":
                    result = res[2]
                elif res[0] == "rejected":
                    rejected = res[2]
            else:  # "gap": it missed writes
                self._db._mark_behind(self, r)
        if pending:  # outcomes the caller no longer waits for: checked in the background
            self._db._watch(self, {ref: refs[ref] for ref in pending})
        if acks < need:
            # more may still come in, but the caller is told now
            raise WriteConsistencyError(
                f"collection {self.name!r} shard {sh.index}: write {seq} made durable "
                f"by {acks} replica(s), {need} needed; it may be present on those")
        with sh.lock:
            sh.acked = max(sh.acked, seq)
        if rejected is not None:
            raise rejected
        return result

    def _write(self, ops, consistency, layout=None):
        """Sends ``[(shard, op)]`` (routed with the shard layout ``layout``) and waits for
        each; returns the token and results. Ops routed before a shard split are routed
        again."""
        self._check()
        c = self.write_consistency if consistency is None else consistency
        need = needed(c, self.replication_factor)
        subs, pending = [], list(ops)
        while pending:
            sh, op = pending.pop(0)
            try:
                subs.append(self._submit(sh, op, need, layout))
            except Rerouted:
                layout = self._layout
                sent = {id(s) for s, _, _ in subs}
                pending = self._route_again([(sh, op)] + pending, sent)
        token, results, first_err = {}, [], None
        for sh, seq, refs in subs:
            try:
                results.append(self._await(sh, seq, refs, need))
                token[sh.index] = seq
            except (WriteConsistencyError, ValueError, TypeError) as exc:
                first_err = first_err or exc
        if first_err is not None:
            raise first_err
        return token, results

    def _route_again(self, ops, sent):
        """``ops`` routed with the current shard layout (after a split)."""
        out = []
        for _, op in ops:
            if op[0] == "upsert":
                _, ids, V, pays = op
                groups: dict = {}
                for i, (u, p) in enumerate(zip(ids, pays)):
                    groups.setdefault(self._shard_of_point(u, p), []).append(i)
                out += [(sh, ("upsert", [ids[i] for i in rows], V[rows],
                              [pays[i] for i in rows])) for sh, rows in groups.items()]
            elif op[0] == "delete":
                out += [(sh, ("delete", us)) for sh, us in self._id_shards(op[1]).items()]
            else:  # sent to every shard: the ones not reached yet
                out += [(sh, op) for sh in self.shards if id(sh) not in sent]
        uniq, seen = [], set()
        for sh, op in out:  # a broadcast op once per shard
            key = (id(sh), id(op)) if op[0] not in ("upsert", "delete") else None
            if key is None or key not in seen:
                seen.add(key)
                uniq.append((sh, op))
        return uniq

    def upsert(self, ids, vectors, payloads=None, *, batch_size: int = 4096, progress=None,
               write_consistency=None) -> dict:
        """Inserts or replaces points; returns the write token ``{shard: sequence}``
        (pass it as ``after=`` to a read to see these points).

        Each shard's points go in writes of at most ``batch_size`` points (each one
        sequenced, replicated and durable on its own); ``progress`` shows a bar over
        them (default: where a person is watching, for more than one write).
        ``write_consistency`` overrides the collection's for this call."""
        uids = normalize_ids(ids)
        if len(set(uids)) != len(uids):
            raise ValueError(f"collection {self.name!r}: duplicate ids in one upsert call")
        V = as_matrix(vectors, self.dim, "vectors")
        if V.shape[0] != len(uids):
            raise ValueError(f"collection {self.name!r}: {V.shape[0]} vectors for "
                             f"{len(uids)} ids")
        if self.metric == "cosine" and len(uids) and \
                not np.all(np.einsum("ij,ij->i", V, V) > 0):
            raise ValueError(f"collection {self.name!r}: a zero vector has no direction "
                             "(metric cosine)")
        payloads = payload_list(payloads, len(uids), self.name)
        batch_size = as_positive_int(batch_size, "batch_size", maximum=None)
        layout = self._layout
        groups: dict = {}
        for i, (u, p) in enumerate(zip(uids, payloads)):
            groups.setdefault(self._shard_of_point(u, p), []).append(i)
        waves = []  # wave j: the j-th batch of every shard, written together
        for sh, rows in groups.items():
            for j, s in enumerate(range(0, len(rows), batch_size)):
                part = rows[s:s + batch_size]
                if j == len(waves):
                    waves.append([])
                waves[j].append((sh, ("upsert", [uids[i] for i in part], V[part],
                                      [payloads[i] for i in part])))
        token: dict = {}
        auto = progress if progress is not None or len(waves) > 1 else False
        with progress_bar(auto, len(uids), f"upsert {self.name}", "pt") as bar:
            for ops in waves:
                tok, _ = self._write(ops, write_consistency, layout)
                token.update(tok)
                bar.update(sum(len(op[1]) for _, op in ops))
        return token

    def delete(self, ids=None, *, filter=None, write_consistency=None) -> int:
        """Deletes points by id or by filter (not both); returns how many existed."""
        if (ids is None) == (filter is None):
            raise ValueError(f"collection {self.name!r}: give either ids or filter to delete")
        layout = self._layout
        if filter is not None:
            compile_filter(filter, self._schema)
            ops = [(sh, ("delete_filter", filter)) for sh in self.shards]
        else:
            uids = list(dict.fromkeys(normalize_ids(ids)))
            ops = [(sh, ("delete", us)) for sh, us in self._id_shards(uids).items()]
        _, results = self._write(ops, write_consistency, layout)
        return int(sum(r or 0 for r in results))

    def create_field_index(self, name: str, type: str) -> None:
        """Makes payload field ``name`` filterable on every shard (a write: sequenced
        and replicated like the others)."""
        spec = parse_schema({name: type})[name]
        layout = self._layout
        self._write([(sh, ("field_index", name, type)) for sh in self.shards], "all", layout)
        self._schema[name] = spec
        self.config["schema"][name] = spec.spelled

    # -- reads --------------------------------------------------------------------------
    def _scatter(self, shards, call, consistency="one", after=None):
        """``call(shard, actor, min_seq)`` on one replica of each shard (``shards``: a
        list, None for all, or a function giving them once reads are gated), in parallel,
        failing over to another replica on error or after ``read_timeout_s``;
        ``{shard: result}`` (results end with the replica's sequence number)."""
        self._check()
        with self._gate.reading():  # the shard layout stays as it is meanwhile
            if callable(shards):
                shards = shards()
            elif shards is None:
                shards = list(self.shards)
            return self._scatter_locked(shards, call, consistency, after)

    def _scatter_locked(self, shards, call, consistency, after):
        ray = self._ray
        out, tried, live = {}, {}, {}
        mins = {sh: self._min_seq(sh, consistency, after) for sh in shards}

        def send(sh):
            r = sh.pick(mins[sh], tried.setdefault(sh, set()))
            tried[sh].add(r.rid)
            live[call(sh, r.actor, mins[sh])] = (sh, r)

        for sh in shards:
            send(sh)
        while live:
            done, _ = ray.wait(list(live), num_returns=len(live),
                               timeout=self.opts["read_timeout_s"])
            answered = set(done)
            slow = [ref for ref in live if ref not in answered]
            for ref in slow:  # past read_timeout_s: asked again elsewhere, not marked dead
                sh, r = live.pop(ref)
                try:
                    send(sh)
                except NoReplicaError:
                    raise TimeoutError(f"collection {self.name!r} shard {sh.index}: no "
                                       f"replica answered within {self.opts['read_timeout_s']:g}"
                                       " s") from None
            for ref in done:
                sh, r = live.pop(ref)
                try:
                    res = ray.get(ref, timeout=0)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause
                    if isinstance(cause, LookupError) and not isinstance(cause, KeyError):
                        send(sh)  # this replica lags behind min_seq: another one
                        continue
                    raise cause from None
                except ray.exceptions.RayError:
                    self._mark_dead(r)
                    send(sh)
                    continue
                r.seq = max(r.seq, res[-1])
                out[sh] = res
        return out

    def search(self, vector, k: int = 10, filter=None, ef=None, with_payload: bool = True, *,
               nprobe=None, refine_factor=None, timeout=None, read_consistency="one",
               after=None, return_stats: bool = False) -> list:
        """The ``k`` nearest points over all shards: a list of ``Hit`` (with
        ``return_stats=True``: ``(hits, stats)``)."""
        Q = as_matrix(vector, self.dim, "vector")
        if Q.shape[0] != 1:
            raise ValueError(f"collection {self.name!r}: search takes one vector; use "
                             "search_batch for several")
        out = self.search_batch(Q, k, filter, ef, with_payload, nprobe=nprobe,
                                refine_factor=refine_factor, timeout=timeout,
                                read_consistency=read_consistency, after=after,
                                return_stats=return_stats)
        return (out[0][0], out[1]) if return_stats else out[0]

    def search_batch(self, vectors, k: int = 10, filter=None, ef=None,
                     with_payload: bool = True, *, nprobe=None, refine_factor=None,
                     timeout=None, read_consistency="one", after=None,
                     return_stats: bool = False):
        """``search`` for each row of ``vectors``: a ``BatchResults``. Every shard is
        searched (one replica each) and the per-shard top-k lists merged. With
        ``return_stats=True``: ``(results, stats)``, stats naming the plan
        (``"shards"``), the shards searched, the queries and the wall time."""
        t0 = time.perf_counter()
        Q = as_matrix(vectors, self.dim, "vectors")
        k = as_positive_int(k, "k")
        if self.metric == "cosine" and not np.all(np.einsum("ij,ij->i", Q, Q) > 0):
            raise ValueError(f"collection {self.name!r}: a zero query vector has no direction "
                             "(metric cosine)")
        if filter is not None:
            compile_filter(filter, self._schema)
        wp = bool(with_payload)
        # one copy in the object store for all shards, unless small enough to inline
        Qref = self._ray.put(Q) if Q.nbytes > 1 << 16 else Q
        res = self._scatter(
            None,
            lambda sh, a, m: a.search.remote(Qref, k, filter, ef, wp, nprobe, refine_factor,
                                         timeout, m, self.opts["read_wait_s"]),
            read_consistency, after)
        ordered = [res[sh] for sh in sorted(res, key=lambda s: s.lo)]  # ties: stable order
        merged = merge_shards(ordered, Q.shape[0], k, self.metric != "l2", wp)
        if not return_stats:
            return merged
        return merged, {"plan": "shards", "segments": [], "shards": len(ordered),
                        "nq": int(Q.shape[0]), "time_ms": (time.perf_counter() - t0) * 1e3}

    def search_exact(self, vectors, k: int = 10, filter=None, with_payload: bool = False, *,
                     read_consistency="one", after=None) -> list:
        """The exact ``k`` nearest points for each row of ``vectors`` (brute force on
        every shard, merged): one list of ``Hit`` per row."""
        Q = as_matrix(vectors, self.dim, "vectors")
        k = as_positive_int(k, "k")
        if filter is not None:
            compile_filter(filter, self._schema)
        wp = bool(with_payload)
        res = self._scatter(None, lambda sh, a, m: a.search_exact.remote(
            Q, k, filter, wp, m, self.opts["read_wait_s"]), read_consistency, after)
        ordered = [res[sh] for sh in sorted(res, key=lambda s: s.lo)]
        return list(merge_shards(ordered, Q.shape[0], k, self.metric != "l2", wp))

    def explain(self, vector, k: int = 10, filter=None, ef=None, *, nprobe=None,
                refine_factor=None) -> dict:
        """Runs the search on one replica of every shard and reports each shard's plan
        (as the embedded ``explain``) and the merged hits."""
        Q = as_matrix(vector, self.dim, "vector")[:1]
        if filter is not None:
            compile_filter(filter, self._schema)
        res = self._scatter(None, lambda sh, a, m: a.explain.remote(
            Q, k, filter, ef, nprobe, refine_factor), "one", None)
        shards = [dict(res[sh][0], shard=sh.index) for sh in sorted(res, key=lambda s: s.lo)]
        hits = sorted((h for s in shards for h in s["hits"]), key=lambda h: h[1],
                      reverse=self.metric != "l2")[:as_positive_int(k, "k")]
        return {"shards": shards, "hits": hits, "filter": filter,
                "time_ms": max((s["time_ms"] for s in shards), default=0.0),
                "live_points": sum(s["live_points"] for s in shards)}

    def get(self, ids, *, read_consistency="one", after=None) -> list:
        """Records of ``ids`` in the order asked, ``None`` where a point does not exist."""
        uids = normalize_ids(ids)
        groups: dict = {}

        def route():
            groups.update(self._id_shards(list(dict.fromkeys(uids))))
            return list(groups)

        res = self._scatter(route, lambda sh, a, m: a.get.remote(
            groups[sh], m, self.opts["read_wait_s"]), read_consistency, after)
        found = {}
        for sh, (recs, _) in res.items():
            for u, rec in zip(groups[sh], recs):
                if rec is not None:
                    found[u] = rec
        return [found.get(u) for u in uids]

    def __contains__(self, uid) -> bool:
        return self.get([uid])[0] is not None

    def count(self, filter=None, *, read_consistency="one", after=None) -> int:
        """Number of live points (that pass ``filter``) over all shards."""
        if filter is not None:
            compile_filter(filter, self._schema)
        res = self._scatter(None, lambda sh, a, m: a.count.remote(
            filter, m, self.opts["read_wait_s"]), read_consistency, after)
        return int(sum(c for c, _ in res.values()))

    def __len__(self) -> int:
        return self.count()

    def scroll(self, filter=None, limit: int = 100, offset: int = 0, with_vectors: bool = True,
               with_payload: bool = True, *, read_consistency="one", after=None) -> list:
        """Live points (that pass ``filter``), shard after shard in storage order:
        ``limit`` of them after skipping ``offset``. A list of ``Record``."""
        limit = as_nonnegative_int(limit, "limit", maximum=None)
        offset = as_nonnegative_int(offset, "offset", maximum=None)
        if filter is not None:
            compile_filter(filter, self._schema)
        out = []
        for sh in self.shards:
            if len(out) >= limit:
                break
            (n, _), = self._scatter([sh], lambda sh, a, m: a.count.remote(
                filter, m, self.opts["read_wait_s"]), read_consistency, after).values()
            if offset >= n:
                offset -= n
                continue
            want = limit - len(out)
            (recs, _), = self._scatter([sh], lambda sh, a, m: a.scroll.remote(
                filter, want, offset, with_vectors, with_payload, m,
                self.opts["read_wait_s"]), read_consistency, after).values()
            out += recs
            offset = 0
        return out

    # -- state ---------------------------------------------------------------------------
    def info(self) -> dict:
        """Settings, point count and per shard its replicas: ``replica`` id, Ray
        ``node_id`` (hex), ``state`` ("active", "recovering", "dead") and ``seq`` (the
        last sequence number it applied)."""
        self._check()
        ray = self._ray
        probes = {}
        for sh in self.shards:
            for r in sh.replicas:
                if r.state != "dead":
                    probes[r.actor.status.remote()] = r
        done, _ = ray.wait(list(probes), num_returns=len(probes), timeout=5.0)
        for ref in done:
            try:
                st = ray.get(ref)
            except ray.exceptions.RayError:
                continue
            probes[ref].seq = max(probes[ref].seq, st["seq"])
        shards = [sh.describe() for sh in self.shards]
        try:
            points = self.count()
        except NoReplicaError:
            points = None
        out = {"name": self.name, "points": points, "dim": self.dim, "metric": self.metric,
               "index": self.config["index"], "schema": dict(self.config["schema"]),
               "segment_size": self.segment_size,
               "replication_factor": self.replication_factor,
               "write_consistency": self.write_consistency, "shard_key": self.shard_key,
               "shards": shards}
        out.update(self._local_totals())
        return out

    def _local_totals(self) -> dict:
        """Rows, indexing and background state summed over one replica per shard (what a
        server's collection info shows); zeros where no replica answered in time."""
        ray = self._ray
        probes = {}
        for sh in self.shards:
            live = [r for r in sh.replicas if r.state == "active"]
            if live:
                probes[live[0].actor.local_info.remote()] = sh
        done, _ = ray.wait(list(probes), num_returns=len(probes), timeout=5.0)
        tot = {key: 0 for key in ("rows", "indexed_rows", "mutable_rows", "deleted_rows",
                                  "sealed_segments", "sealing", "wal_fsyncs")}
        bg: dict = {"error": None}
        for ref in done:
            try:
                local = ray.get(ref)
            except ray.exceptions.RayError:
                continue
            for key in tot:
                tot[key] += int(local.get(key, 0) or 0)
            for key, v in (local.get("background") or {}).items():
                if key == "error":
                    bg["error"] = bg["error"] or v
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    bg[key] = bg.get(key, 0) + v
        return {**tot, "background": bg}

    segment_size = property(lambda self: self.config["segment_size"],
                            doc="Rows of each replica's mutable segment before sealing.")

    @property
    def sequence(self) -> int:
        """A number that grows with every acknowledged write (the sum over shards of
        the highest sequence number a replica reported)."""
        return sum(max((r.seq for r in sh.replicas), default=0) for sh in self.shards)

    def snapshot(self, *args, **kwargs):
        """Not offered for a sharded collection: each replica's directory holds its
        shard (see ``checksums`` and the embedded ``snapshot`` of a replica)."""
        raise ValueError(f"collection {self.name!r} is sharded over a Ray cluster: "
                         "snapshots of a cluster collection are not supported")

    def checksums(self) -> list:
        """Per shard, the content checksum of each non-dead replica
        (``{"replica", "node_id", "sha256", "points", "seq"}``): equal checksums mean
        identical points, vectors and payloads."""
        self._check()
        ray = self._ray
        out = []
        for sh in self.shards:
            rows = []
            for r in list(sh.replicas):
                if r.state == "dead":
                    continue
                try:
                    c = ray.get(r.actor.checksum.remote(), timeout=60)
                except ray.exceptions.RayError:
                    continue
                rows.append(dict(c, replica=r.rid, node_id=r.node_id, state=r.state))
            out.append(rows)
        return out

    def _each_replica(self, method, *args, timeout=None):
        """``method(*args)`` on every non-dead replica: ``[(shard, replica, result)]``
        (replicas that fail meanwhile are left out)."""
        self._check()
        ray = self._ray
        calls = [(sh, r, getattr(r.actor, method).remote(*args))
                 for sh in self.shards for r in sh.replicas if r.state != "dead"]
        out = []
        for sh, r, ref in calls:
            try:
                out.append((sh, r, ray.get(ref, timeout=timeout)))
            except ray.exceptions.RayActorError:
                self._mark_dead(r)
        return out

    def memory_usage(self) -> dict:
        """Bytes held by all replicas together, by where (as the embedded
        ``memory_usage``: ``ram``, ``mapped``, ``device``, ``disk``)."""
        total = {"ram": 0, "mapped": 0, "device": 0, "disk": 0}
        for _, _, m in self._each_replica("memory_usage"):
            for key in total:
                total[key] += int(m[key])
        return total

    def compact(self, progress=None) -> dict:
        """Compacts every replica (as the embedded ``compact``); returns their reports
        by shard and replica."""
        out: dict = {}
        for sh, r, rep in self._each_replica("compact"):
            out.setdefault(sh.index, {})[r.rid] = rep
        return out

    def flush(self, timeout=None) -> None:
        """Flushes every non-dead replica (indexes built, checkpoint written)."""
        ray = self._ray
        refs = [r.actor.flush.remote(timeout) for sh in self.shards for r in sh.replicas
                if r.state != "dead"]
        for ref in refs:
            try:
                ray.get(ref)
            except ray.exceptions.RayActorError:
                pass

    # -- placement ------------------------------------------------------------------------
    def move_replica(self, shard: int, from_node: str, to_node=None) -> dict:
        """Moves a replica of ``shard`` from node ``from_node`` to ``to_node`` (default:
        the least loaded live node without one) while reads and writes continue; the
        new replica is caught up before the old one is removed."""
        from .reshard import move_replica

        self._check()
        return move_replica(self._db, self, shard, from_node, to_node)

    def rebalance(self) -> list:
        """Moves replicas until the live nodes hold about as many each (for instance
        after adding a node); returns the moves made."""
        from .reshard import rebalance

        self._check()
        return rebalance(self._db, self)

    def split_shard(self, shard: int) -> dict:
        """Splits shard ``shard`` in two (the upper half of its hash range moves to a new
        shard with its own replicas) while reads and writes go on; writes to the shard
        and reads pause for the final step only. Returns the new shard's description."""
        from .reshard import split_shard

        self._check()
        return split_shard(self._db, self, shard)

    def __repr__(self) -> str:
        return (f"ClusterCollection({self.name!r}, dim={self.dim}, metric={self.metric!r}, "
                f"shards={len(self.shards)}, replication_factor={self.replication_factor})")
