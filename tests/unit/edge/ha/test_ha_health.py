"""A node's HA endpoints: status as JSON, Prometheus gauges, and the switchover."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ems.clock import VirtualClock
from ems.edge.ha.agent import HaAgent
from ems.edge.ha.health import serve_health
from ems.edge.ha.lease import LocalLease
from ems.edge.ha.replica import LocalReplica
from ems.edge.ha.table import LeaseTable


async def _nothing(*_: object) -> None:
    return None


def _agent(name: str, table: LeaseTable, clock: VirtualClock) -> HaAgent:
    return HaAgent(
        name,
        LocalReplica(table),
        clock,
        LocalLease(clock.monotonic, 1.0, 0.3),
        lease_s=1.0,
        renew_s=0.2,
        on_gain=_nothing,
        on_loss=_nothing,
    )


@pytest.mark.asyncio
async def test_status_metrics_and_switchover_over_http() -> None:
    clock = VirtualClock()
    table = LeaseTable()
    a, b = _agent("a", table, clock), _agent("b", table, clock)
    await a.step()
    await b.step()
    loop = asyncio.get_running_loop()
    with serve_health(a, "b", loop, "127.0.0.1", 0) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            status = (await client.get("/ha")).json()
            assert status["role"] == "leader" and status["token"] == 1
            assert status["holder"] == "a" and status["has_quorum"] is True
            metrics = (await client.get("/metrics")).text
            assert "ems_edge_ha_leader 1.0" in metrics
            assert "ems_edge_ha_token 1.0" in metrics
            response = await client.post("/ha/switchover")
            assert response.status_code == 200, response.text
            assert response.json() == {"handed_over": "a", "to": "b"}
            await b.step()
            assert b.controlling and not a.controlling
            again = await client.post("/ha/switchover")
            assert again.status_code == 409 and again.json()["error"] == "not_leader"
            assert (await client.get("/nope")).status_code == 404
