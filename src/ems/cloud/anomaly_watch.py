"""Raising anomalies as alarms: after each whole hour, the hour just ended of every edge is
checked by the report's anomaly model (:mod:`ems.reports.anomalies`), fitted on the
``history_days`` before it, and the ``energy_anomaly`` system alarm (severity low)
is raised while the hour was unusual and cleared when the next one is not.

It runs in one process (``EMS_ANOMALY_ALARMS``, off by default: a site needs two
weeks of history before the model says anything). Times are in each site's
zone (``EMS_REPORT_SITES``), UTC without an entry.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Mapping
from typing import Protocol

from ems.clock import Clock
from ems.cloud.background import BackgroundLoop
from ems.cloud.telemetry.rollup import RollupReader
from ems.reports.anomalies import ANOMALY_CHANNELS, HOUR_S, find_anomalies
from ems.reports.site import ReportSite

__all__ = ["AnomalyAlarms", "AnomalyWatch"]

log = logging.getLogger(__name__)

_UTC = zoneinfo.ZoneInfo("UTC")


class AnomalyAlarms(Protocol):
    """What the watch tells: :meth:`ems.cloud.alarms.service.AlarmService.energy_anomaly`."""

    def energy_anomaly(self, edge_id: str, found: bool, score: float | None = None) -> None: ...


class EdgeLister(Protocol):
    async def edges(self) -> list[str]: ...


class AnomalyWatch:
    def __init__(
        self,
        store: RollupReader,
        edges: EdgeLister,
        sites: Mapping[str, ReportSite],
        alarms: AnomalyAlarms,
        clock: Clock,
        *,
        history_days: int = 28,
        settle_s: float = 120.0,
    ) -> None:
        self._store = store
        self._edges = edges
        self._sites = sites
        self._alarms = alarms
        self._clock = clock
        self._history_s = history_days * 86_400
        self._settle_s = settle_s
        self._loop = BackgroundLoop("anomaly-watch", self._run)

    async def check(self, hour_start_s: float) -> dict[str, bool]:
        """Check the hour starting ``hour_start_s`` of every edge; returns edge → anomalous."""
        verdicts: dict[str, bool] = {}
        end_s = hour_start_s + HOUR_S
        for edge_id in await self._edges.edges():
            site = self._sites.get(edge_id)
            zone = site.timezone if site is not None else _UTC
            hours = await self._store.rollups(
                edge_id, ANOMALY_CHANNELS, HOUR_S, end_s - self._history_s, end_s
            )
            found = find_anomalies(hours, zone, hour_start_s, end_s)["anomalies"]
            score = max((a["score"] for a in found), default=None)
            self._alarms.energy_anomaly(edge_id, bool(found), score)
            verdicts[edge_id] = bool(found)
        return verdicts

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        while True:
            now = self._clock.time()
            hour_end_s = now - now % HOUR_S + HOUR_S
            # A little after the hour, so its last frames (and short backfills) are in.
            await self._clock.sleep_until(hour_end_s + self._settle_s)
            try:
                await self.check(hour_end_s - HOUR_S)
            except Exception:
                log.exception("anomaly watch: the hour ending %s was not checked", hour_end_s)
