"""The in-flight watchdog set on the embedded store (fakeredis): the shared checks."""

from __future__ import annotations

import pytest

from ems.cloud.shared import InFlight
from support.conformance.shared import INFLIGHT_CHECKS, T0, Check, Clients


@pytest.mark.asyncio
@pytest.mark.parametrize("check", INFLIGHT_CHECKS.values(), ids=list(INFLIGHT_CHECKS))
async def test_inflight(clients: Clients, check: Check) -> None:
    await check(clients)


@pytest.mark.asyncio
async def test_prefixes_keep_sets_apart(clients: Clients) -> None:
    client = clients()
    a, b = InFlight(client, "a"), InFlight(client, "b")
    await a.add("cmd-1", "edge-1", T0, b"p")
    assert (await a.count(), await b.count()) == (1, 0)
    assert await b.complete("cmd-1") is False
    assert await b.claim_expired(T0 + 1) == []
    assert sorted(await client.keys("*")) == [
        b"a:inflight:deadline",
        b"a:inflight:edge",
        b"a:inflight:payload",
    ]


@pytest.mark.asyncio
async def test_rejects_bad_arguments(clients: Clients) -> None:
    inflight = InFlight(clients())
    with pytest.raises(ValueError, match="finite"):
        await inflight.add("cmd-1", "edge-1", float("nan"), b"p")
    with pytest.raises(ValueError, match="limit"):
        await inflight.claim_expired(T0, limit=0)
    assert await inflight.count() == 0
