"""``GET /api/sites/summary``: one answer for the dashboard's multi-site overview (issue 17).

For each edge granted to the user that the cloud knows: online / stale / offline,
when it was last seen, the newest site totals the telemetry store keeps (PV,
battery SOC and power, grid, consumption) and its active alarms. One request for
the whole fleet instead of one telemetry stream per site, so 500 sites cost one
round trip and one latest-value read per edge, all from what the cloud already keeps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from fastapi import APIRouter, Depends

from ems.alarms import Alarm, AlarmState
from ems.cloud.api import bearer_auth, no_unknown_query_params
from ems.cloud.auth.jwt import Claims
from ems.cloud.telemetry.model import LatestValue
from ems.protocol import EdgeStatus

__all__ = ["SUMMARY_CHANNELS", "build_sites_summary_router"]

#: The site totals a card shows (``ems.edge.site_totals``), by their key in the answer.
SUMMARY_CHANNELS = {
    "pv_w": "_sum/ProductionActivePower",
    "grid_w": "_sum/GridActivePower",
    "battery_w": "_sum/EssActivePower",
    "soc_pct": "_sum/EssSoc",
    "load_w": "_sum/ConsumptionActivePower",
}
_ACTIVE = frozenset({AlarmState.ACTIVE_UNACKED, AlarmState.ACTIVE_ACKED})


class FleetView(Protocol):
    """What the summary reads of the cluster (``ems.cloud.cluster.Cluster``)."""

    async def known_edges(self) -> list[str]: ...

    async def statuses(self, edge_ids: Sequence[str]) -> dict[str, EdgeStatus]: ...


def build_sites_summary_router(
    fleet: FleetView,
    latest: Callable[[str, Sequence[str]], Awaitable[dict[str, LatestValue]]],
    alarms: Callable[[], Awaitable[list[Alarm]]],
    verify: Callable[[str], Awaitable[Claims]],
) -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(no_unknown_query_params)])
    signed_in = Depends(bearer_auth(verify))

    @router.get("/sites/summary", summary="Every granted site's status, key values and alarms")
    async def summary(user: Claims = signed_in) -> dict[str, Any]:
        """``values``: each key's newest number and its time (epoch s), or null when the
        site never sent it; ``active_alarms``: alarms active (acknowledged or not)."""
        known = [e for e in await fleet.known_edges() if user.may_access(e)]
        statuses = await fleet.statuses(known)
        active: dict[str, list[dict[str, Any]]] = {}
        for alarm in await alarms():
            if alarm.state in _ACTIVE and alarm.edge_id in statuses:
                active.setdefault(alarm.edge_id, []).append(
                    {
                        "alarm_id": alarm.alarm_id,
                        "rule": alarm.rule,
                        "severity": alarm.severity.value,
                        "state": alarm.state.value,
                    }
                )
        sites = []
        for edge_id in known:
            status = statuses[edge_id]
            found = await latest(edge_id, list(SUMMARY_CHANNELS.values()))
            values: dict[str, Any] = {}
            for key, channel in SUMMARY_CHANNELS.items():
                v = found.get(channel)
                values[key] = (
                    None if v is None or v.value is None else {"value": v.value, "time_s": v.time_s}
                )
            sites.append(
                {
                    "edge_id": edge_id,
                    "online": status.online,
                    "stale": status.stale,
                    "last_seen": status.last_seen,
                    "values": values,
                    "active_alarms": active.get(edge_id, []),
                }
            )
        return {"sites": sites}

    return router
