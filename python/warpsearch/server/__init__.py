# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Serving: an HTTP server over the embedded database speaking Qdrant's REST API
(the subset real clients use) plus warpsearch's own endpoints under
``/warpsearch/``, and the native client behind ``warpsearch.connect("http://...")``.

The server needs the ``server`` extra (``pip install 'warpsearch[server]'``); this
package imports without it and says so when an app is created.
"""

from __future__ import annotations

from .settings import Settings

__all__ = ["Settings", "create_app", "MISSING_EXTRA"]

#: What to install when the server's dependencies are missing.
MISSING_EXTRA = ("the server needs FastAPI, uvicorn, orjson and prometheus-client: "
                 "pip install 'warpsearch[server]'")


def create_app(db, settings: Settings | None = None):
    """The ASGI app serving ``db`` (a ``warpsearch.db.Database``); see ``app.create_app``."""
    try:
        from .app import create_app as _create
    except ImportError as exc:  # fastapi / orjson / prometheus_client missing
        raise ImportError(f"{MISSING_EXTRA} ({exc})") from exc
    return _create(db, settings)
