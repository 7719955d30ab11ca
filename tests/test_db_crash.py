# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Crash safety: a writer process is SIGKILLed at random moments; after reopening,
every acknowledged write is there, nothing is duplicated and searches are right."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import warpsearch as ws

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

# Shared by the child (which runs it) and the parent (which recomputes the operations).
OPS = '''
import numpy as np
NIDS, DIM = 300, 8

def op(seed, step):
    rng = np.random.default_rng([seed, step])
    if rng.random() < 0.25:
        return "delete", rng.choice(NIDS, size=3, replace=False).tolist(), None
    ids = rng.choice(NIDS, size=int(rng.integers(1, 8)), replace=False).tolist()
    return "upsert", ids, rng.standard_normal((len(ids), DIM)).astype(np.float32)
'''

CHILD = OPS + '''
import sys
import warpsearch as ws
path, step, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = ws.connect(path, fsync="always")
if db.has_collection("c"):
    col = db.get_collection("c")
else:
    col = db.create_collection("c", dim=DIM, metric="l2", schema={"step": "int"},
                               index=ws.HNSWConfig(M=8, ef_construction=32), segment_size=48)
print("READY", flush=True)
while True:
    kind, ids, vecs = op(seed, step)
    if kind == "upsert":
        col.upsert(ids, vecs, [{"step": step}] * len(ids))
    else:
        col.delete(ids)
    print(step, flush=True)
    step += 1
'''

ns: dict = {}
exec(OPS, ns)
op, NIDS, DIM = ns["op"], ns["NIDS"], ns["DIM"]


def _apply(model, seed, step):
    kind, ids, vecs = op(seed, step)
    for j, i in enumerate(ids):
        if kind == "upsert":
            model[i] = (vecs[j], step)
        else:
            model.pop(i, None)


def _state(col):
    out = {}
    for rec in col.get(list(range(NIDS))):
        if rec is not None:
            out[rec.id] = (rec.vector, rec.payload["step"])
    return out


def _same(state, model):
    return state.keys() == model.keys() and all(
        state[i][1] == model[i][1] and np.array_equal(state[i][0], model[i][0]) for i in model)


def _run_child(script, path, start, seed, kill_after):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, script, str(path), str(start), str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines, ready = [], threading.Event()

    def read():
        for line in proc.stdout:
            if line.strip() == "READY":
                ready.set()
            else:
                lines.append(int(line))

    t = threading.Thread(target=read)
    t.start()
    if not ready.wait(60):
        proc.kill()
        raise AssertionError("child did not start: " + proc.stderr.read())
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    t.join()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return lines


def test_sigkill_keeps_acknowledged_writes(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(CHILD)
    path = tmp_path / "db"
    seed, start, model = 11, 0, {}
    rnd = random.Random(5)
    for _ in range(4):
        acked = _run_child(script, path, start, seed, rnd.uniform(0.3, 1.2))
        assert acked == list(range(start, start + len(acked)))
        assert len(acked) > 0
        for s in acked:
            _apply(model, seed, s)
        inflight = start + len(acked)
        with_inflight = {k: v for k, v in model.items()}
        _apply(with_inflight, seed, inflight)
        with ws.connect(path) as db:
            col = db.get_collection("c")
            state = _state(col)
            ids = [r.id for r in col.scroll(limit=10**6, with_vectors=False)]
            assert len(ids) == len(set(ids)) == col.count() == len(state)
        if _same(state, with_inflight):  # the write in flight reached the log: it counts
            model, start = with_inflight, inflight + 1
        else:
            assert _same(state, model), "acknowledged writes are missing or wrong"
            start = inflight
    # Searches on the recovered collection agree with exact search over the model.
    with ws.connect(path) as db:
        col = db.get_collection("c")
        col.flush()
        assert col.info()["sealed_segments"] >= 2
        keys = sorted(model)
        x = np.stack([model[k][0] for k in keys])
        q = np.random.default_rng(1).standard_normal((20, DIM)).astype(np.float32)
        d = ((q[:, None, :] - x[None]) ** 2).sum(-1)
        truth = [set(np.array(keys)[np.argsort(r)[:5]].tolist()) for r in d]
        res = col.search_batch(q, k=5, ef=64)
        recall = np.mean([len({h.id for h in hits} & t) / 5 for hits, t in zip(res, truth)])
        assert recall >= 0.95
        assert all(h.id in model and h.payload["step"] == model[h.id][1]
                   for hits in res for h in hits)
