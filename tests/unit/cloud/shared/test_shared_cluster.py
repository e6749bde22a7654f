"""The edge registry, the pub/sub bus and the in-flight hand-over on the embedded store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from ems.cloud.shared import reset_embedded_server, shared_redis
from ems.cloud.shared.cluster_checks import CLUSTER_CHECKS
from ems.cloud.shared.testing import Check, Clients


@pytest_asyncio.fixture
async def clients() -> AsyncIterator[Clients]:
    reset_embedded_server()
    made = Clients(lambda: shared_redis(None))
    yield made
    await made.aclose()
    reset_embedded_server()


@pytest.mark.asyncio
@pytest.mark.parametrize("check", CLUSTER_CHECKS.values(), ids=list(CLUSTER_CHECKS))
async def test_cluster_parts(clients: Clients, check: Check) -> None:
    await check(clients)
