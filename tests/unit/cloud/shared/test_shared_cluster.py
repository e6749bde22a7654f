"""The edge registry, the pub/sub bus and the in-flight hand-over on the embedded store."""

from __future__ import annotations

import pytest

from ems.cloud.shared.cluster_checks import CLUSTER_CHECKS
from ems.cloud.shared.testing import Check, Clients


@pytest.mark.asyncio
@pytest.mark.parametrize("check", CLUSTER_CHECKS.values(), ids=list(CLUSTER_CHECKS))
async def test_cluster_parts(clients: Clients, check: Check) -> None:
    await check(clients)
