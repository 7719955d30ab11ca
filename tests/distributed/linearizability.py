# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""A small linearizability checker for histories of single-key reads and writes
(registers), in the manner of Porcupine: the history is split by key (a history is
linearizable when each key's is), and each key's is searched with the Wing & Gong /
Lowe algorithm: linearize an operation whose call is pending as soon as the register
allows it, backtrack on a return that has not been linearized, and memoize
(set of linearized operations, register value) pairs already explored.

An operation whose outcome is unknown (the client saw an error) is given a return
time of +inf: it may take effect at any point after its call (or, for a write, be
put after everything else, which is the same as never).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

__all__ = ["Op", "check", "check_key"]


class Op(NamedTuple):
    client: int
    call: float
    ret: float          # math.inf: outcome unknown
    kind: str           # "write" or "read"
    key: Any
    value: Any          # written value, or value the read returned


class _Node:
    __slots__ = ("op", "is_call", "match", "prev", "next")

    def __init__(self, op, is_call):
        self.op, self.is_call = op, is_call
        self.match = self.prev = self.next = None


def check(history, init=None) -> bool:
    """True when ``history`` (a list of ``Op``) is linearizable, every key a register
    starting at ``init``."""
    by_key: dict = {}
    for op in history:
        if op.kind not in ("read", "write"):
            raise ValueError(f"unknown operation kind {op.kind!r}")
        if op.kind == "read" and math.isinf(op.ret):
            continue  # a read without an answer constrains nothing
        by_key.setdefault(op.key, []).append(op)
    return all(check_key(ops, init) for ops in by_key.values())


def check_key(ops, init=None) -> bool:
    """Linearizability of one register's operations."""
    events = []
    for i, op in enumerate(ops):
        if op.ret < op.call:
            raise ValueError(f"operation {op} returns before its call")
        events.append((op.call, 0, i))
        events.append((op.ret, 1, i))
    events.sort()  # at equal times calls come first: such operations overlap
    head = _Node(None, False)
    calls = {}
    prev = head
    for _, is_ret, i in events:
        node = _Node(i, not is_ret)
        if is_ret:
            calls[i].match = node
        else:
            calls[i] = node
        prev.next, node.prev = node, prev
        prev = node

    def lift(n):
        n.prev.next = n.next
        if n.next is not None:
            n.next.prev = n.prev
        m = n.match
        m.prev.next = m.next
        if m.next is not None:
            m.next.prev = m.prev

    def unlift(n):
        m = n.match
        m.prev.next = m
        if m.next is not None:
            m.next.prev = m
        n.prev.next = n
        if n.next is not None:
            n.next.prev = n

    state, lin = init, 0
    seen = set()
    stack = []
    entry = head.next
    while head.next is not None:
        if entry.is_call:
            op = ops[entry.op]
            if op.kind == "write":
                ok, new = True, op.value
            else:
                ok, new = op.value == state, state
            if ok:
                key = (lin | (1 << entry.op), _hashable(new))
                if key not in seen:
                    seen.add(key)
                    stack.append((entry, state))
                    state, lin = new, key[0]
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if not stack:
                return False
            entry, state = stack.pop()
            lin &= ~(1 << entry.op)
            unlift(entry)
            entry = entry.next
    return True


def _hashable(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    return v
