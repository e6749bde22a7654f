"""Anomalies raised as alarms: the watch checks the hour just ended of every edge from the
store's hourly rollups; an injected unusual hour raises ``energy_anomaly`` (severity
low) in the alarm book, a normal hour clears it."""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ems.alarms import AlarmBook, AlarmState, Severity, SystemAlarmKind
from ems.clock import VirtualClock
from ems.cloud.anomaly_watch import AnomalyWatch
from ems.cloud.telemetry import SqliteTelemetryStore, TelemetryRow
from ems.reports import ReportSite, SiteEntry

BERLIN = ZoneInfo("Europe/Berlin")
EDGE = "site-1"
START_S = int(dt.datetime(2026, 3, 1, tzinfo=BERLIN).timestamp())
END_S = START_S + 35 * 86_400
NIGHT_S = int(dt.datetime(2026, 4, 1, 3, tzinfo=BERLIN).timestamp())


class BookAlarms:
    """The alarm service's ``energy_anomaly`` on a bare book (no Redis, no database)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.book = AlarmBook(clock)

    def energy_anomaly(self, edge_id: str, found: bool, score: float | None = None) -> None:
        kind = SystemAlarmKind.ENERGY_ANOMALY
        if found:
            self.book.raise_system(kind, edge_id, value=score)
        else:
            self.book.clear_system(kind, edge_id, value=score)


def rows() -> list[TelemetryRow]:
    """One sample per hour of a household load (so the hourly rollup is the sample)."""
    rng = random.Random(3)
    out = []
    for t in range(START_S, END_S, 3600):
        h = dt.datetime.fromtimestamp(t, BERLIN).hour
        w = 400 + 600 * math.exp(-((h - 19) ** 2) / 6) + 300 * math.exp(-((h - 7) ** 2) / 2)
        w = w * (1 + rng.gauss(0, 0.1)) + (2500.0 if t == NIGHT_S else 0.0)
        out.append(TelemetryRow(t, EDGE, "_sum/ConsumptionActivePower", w, None))
    return out


@pytest.mark.asyncio
async def test_an_unusual_hour_raises_and_a_normal_hour_clears(tmp_path: Path) -> None:
    store = SqliteTelemetryStore(tmp_path / "t.sqlite3")
    await store.start()
    try:
        await store.write(rows())
        clock = VirtualClock(NIGHT_S + 3600 + 120)
        alarms = BookAlarms(clock)
        site = ReportSite.build(EDGE, SiteEntry(timezone="Europe/Berlin"), tmp_path)
        watch = AnomalyWatch(store, store, {EDGE: site}, alarms, clock)

        assert await watch.check(NIGHT_S) == {EDGE: True}
        alarm = alarms.book.find(f"{EDGE}.energy_anomaly")
        assert alarm is not None
        assert alarm.severity is Severity.LOW
        assert alarm.state is AlarmState.ACTIVE_UNACKED

        clock.advance(3600)
        assert await watch.check(NIGHT_S + 3600) == {EDGE: False}
        assert alarm.state is AlarmState.CLEARED_UNACKED
    finally:
        await store.close()
