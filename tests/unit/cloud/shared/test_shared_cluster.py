"""The edge registry, the pub/sub bus and the in-flight hand-over on the embedded store."""

from __future__ import annotations

import pytest

from support.conformance.cluster import CLUSTER_CHECKS
from support.conformance.shared import Check, Clients


@pytest.mark.asyncio
@pytest.mark.parametrize("check", CLUSTER_CHECKS.values(), ids=list(CLUSTER_CHECKS))
async def test_cluster_parts(clients: Clients, check: Check) -> None:
    await check(clients)
