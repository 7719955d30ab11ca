# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Qdrant's collection snapshot endpoints: create, list, download, delete, recover
(archives as ``archive`` writes them). Recovery reads ``file://`` locations only:
the server never fetches URLs.
"""

from __future__ import annotations

import os
import tempfile
from urllib.parse import unquote, urlparse

from fastapi import Request
from fastapi.responses import FileResponse

from ..db import restore, verify_snapshot
from .app import JSON_BODY, read_json
from .archive import NAME_RE, describe, extract_archive, make_archive, sha256
from .qdrant import ApiError, as_dict

__all__ = ["register"]


def _location_path(location) -> str:
    if not isinstance(location, str) or not location:
        raise ApiError(400, "location must be a file:// URL of a snapshot archive")
    url = urlparse(location)
    if url.scheme != "file":
        raise ApiError(400, f"location {location!r}: only file:// locations are supported "
                            "(the server does not fetch URLs)")
    path = unquote(url.path)
    if not os.path.isfile(path):
        raise ApiError(404, f"Not found: snapshot file {path!r} does not exist")
    return path


def register(app, ctx) -> None:
    db = ctx.db
    base = "/collections/{name}/snapshots"

    def folder(name):
        return os.path.join(ctx.snapshot_dir, name)

    def snapshot_path(name, snap):
        if not NAME_RE.match(snap):
            raise ApiError(404, f"Not found: snapshot {snap!r}")
        path = os.path.join(folder(name), snap)
        if not os.path.isfile(path):
            raise ApiError(404, f"Not found: snapshot {snap!r} of collection {name!r}")
        return path

    @app.post(base, tags=["snapshots"])
    async def create_snapshot(request: Request, name: str):
        return await ctx.answer(request, lambda: describe(
            make_archive(ctx.collection(name), folder(name))))

    @app.get(base, tags=["snapshots"])
    async def list_snapshots(request: Request, name: str):
        def work():
            ctx.collection(name)
            d = folder(name)
            names = sorted(f for f in os.listdir(d) if NAME_RE.match(f)) \
                if os.path.isdir(d) else []
            return [describe(os.path.join(d, f)) for f in names]
        return await ctx.answer(request, work)

    @app.get(base + "/{snap}", tags=["snapshots"])
    async def download_snapshot(request: Request, name: str, snap: str):
        path = await ctx.run(snapshot_path, name, snap)
        return FileResponse(path, media_type="application/octet-stream", filename=snap)

    @app.delete(base + "/{snap}", tags=["snapshots"])
    async def delete_snapshot(request: Request, name: str, snap: str):
        def work():
            path = snapshot_path(name, snap)
            os.remove(path)
            if os.path.exists(path + ".sha256"):
                os.remove(path + ".sha256")
            return True
        return await ctx.answer(request, work)

    @app.put(base + "/recover", tags=["snapshots"], openapi_extra=JSON_BODY)
    async def recover_snapshot(request: Request, name: str):
        body = as_dict(await read_json(request))

        def work():
            path = _location_path(body.get("location"))
            want = body.get("checksum")
            if want is not None and sha256(path) != want:
                raise ApiError(400, "snapshot checksum mismatch")
            with tempfile.TemporaryDirectory(dir=db.path, prefix=".recover-") as tmp:
                snap = extract_archive(path, tmp)
                verify_snapshot(snap)  # before the collection it replaces is dropped
                with ctx.lock(name):
                    if db.has_collection(name):
                        db.drop_collection(name)
                    restore(snap, db, name)
            return True
        return await ctx.answer(request, work)
