# SPDX-FileCopyrightText: 2026 warpsearch contributors
# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the framework integration tests: the server tests' served database
(uvicorn on 127.0.0.1, an ephemeral port), reused here."""

from __future__ import annotations

from server.conftest import served  # noqa: F401  (the fixture, shared)

import pytest  # noqa: E402


@pytest.fixture
def anyio_backend():
    """Coroutine tests (marked ``anyio``) run on asyncio."""
    return "asyncio"
