# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""``warpsearch keys create | list | revoke``: the API keys of a database directory.

``create`` prints the new key once, as the last line of its output (the file keeps
only its hash); ``list`` shows ids, roles, tenants, limits and creation times,
never keys; ``revoke ID`` removes a key (a running server stops accepting it at
its next request).
"""

from __future__ import annotations

import json
import os
import sys

from .auth import KEYS_FILE, KeyStore, parse_rate

__all__ = ["add_parser", "run_keys", "keys_path"]


def keys_path(path: str, api_keys) -> str:
    """The keys file: ``api_keys`` if given, else ``<path>/api_keys.json``."""
    return api_keys or os.path.join(path, KEYS_FILE)


def _positive(s: str) -> int:
    import argparse

    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def _rate(s: str) -> float:
    import argparse

    try:
        return parse_rate(s)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _collections(s: str) -> list:
    return [c.strip() for c in s.split(",") if c.strip()]


def add_parser(sub) -> None:
    """Adds ``keys`` and its subcommands to the ``warpsearch`` parser."""
    keys = sub.add_parser("keys", help="create, list and revoke API keys of a database",
                          description="API keys of the database in --path, kept hashed in "
                                      "<path>/api_keys.json (or --api-keys FILE).")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    ksub.required = True

    def common(p):
        p.add_argument("--path", default=os.environ.get("WARPSEARCH_PATH") or
                       "./warpsearch_data",
                       help="database directory (env WARPSEARCH_PATH; default "
                            "./warpsearch_data)")
        p.add_argument("--api-keys", default=os.environ.get("WARPSEARCH_API_KEYS"),
                       help="keys file (env WARPSEARCH_API_KEYS; default "
                            "<path>/api_keys.json)")

    create = ksub.add_parser("create", help="create a key and print it (once, last line)")
    common(create)
    create.add_argument("--role", required=True, choices=("read", "write", "admin"),
                        help="read: searches and reads; write: + writes and collections; "
                             "admin: + snapshots and usage")
    create.add_argument("--tenant", help="the tenant the key acts for")
    create.add_argument("--collections", type=_collections,
                        help="comma-separated collections the key is limited to")
    create.add_argument("--rate", type=_rate, help="request rate, N/s (or N/m, N/h)")
    create.add_argument("--max-points", type=_positive, help="points of the tenant (or key)")
    create.add_argument("--max-collections", type=_positive,
                        help="collections of the tenant (or key)")
    create.add_argument("--max-batch", type=_positive,
                        help="points per upsert and queries per batch")
    create.add_argument("--max-k", type=_positive, help="largest k (limit + offset)")
    lst = ksub.add_parser("list", help="list keys (never the keys themselves)")
    common(lst)
    lst.add_argument("--json", action="store_true", help="print JSON")
    revoke = ksub.add_parser("revoke", help="revoke a key by id")
    common(revoke)
    revoke.add_argument("id", help="the key's id (see list)")


def _limits_text(limits: dict) -> str:
    if not limits:
        return "-"
    parts = []
    for k, v in sorted(limits.items()):
        parts.append(f"{k.replace('_', '-')}={v:g}/s" if k == "rate"
                     else f"{k.replace('_', '-')}={v}")
    return ",".join(parts)


def run_keys(args, out=None) -> int:
    out = sys.stdout if out is None else out
    err = sys.stderr if out is sys.stdout else out
    try:
        store = KeyStore(keys_path(args.path, args.api_keys))
        if args.keys_command == "create":
            rec, key = store.create(args.role, tenant=args.tenant, collections=args.collections,
                                    rate=args.rate, max_points=args.max_points,
                                    max_collections=args.max_collections,
                                    max_batch=args.max_batch, max_k=args.max_k)
            print(f"created key {rec['id']}: role {rec['role']}, tenant {rec['tenant'] or '-'}, "
                  f"collections {','.join(rec['collections'] or []) or '-'}, "
                  f"limits {_limits_text(rec['limits'])} (in {store.path})", file=out)
            print("the key is shown once, on the next line; only its hash is stored:",
                  file=out)
            print(key, file=out)
        elif args.keys_command == "list":
            recs = store.records()
            if args.json:
                print(json.dumps(recs, indent=2, sort_keys=True), file=out)
            else:
                print(f"{'ID':<12}  {'ROLE':<5}  {'TENANT':<16}  {'COLLECTIONS':<20}  "
                      f"{'LIMITS':<30}  CREATED", file=out)
                for r in recs:
                    print(f"{r['id']:<12}  {r['role']:<5}  {r.get('tenant') or '-':<16}  "
                          f"{','.join(r.get('collections') or []) or '-':<20}  "
                          f"{_limits_text(r.get('limits') or {}):<30}  {r['created']}",
                          file=out)
        else:
            store.revoke(args.id)
            print(f"revoked key {args.id}", file=out)
    except KeyError as exc:
        print(f"warpsearch keys: {exc.args[0]}", file=err)
        return 1
    except (ValueError, OSError) as exc:
        print(f"warpsearch keys: {exc}", file=err)
        return 1
    return 0
