"""The embedded store for the shared-state checks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from ems.cloud.shared import reset_embedded_server, shared_redis
from support.conformance.shared import Clients


@pytest_asyncio.fixture
async def clients() -> AsyncIterator[Clients]:
    """Clients of a fresh embedded store, made the way the cloud makes them."""
    reset_embedded_server()
    made = Clients(lambda: shared_redis(None))
    yield made
    await made.aclose()
    reset_embedded_server()
