"""The behaviours every :class:`TelemetryStore` must show, as checks each backend's tests run.

Each check receives a started store on an empty database and a factory for a
second, unstarted store on the same database. The SQLite unit tests and the
PostgreSQL integration tests parametrize over :data:`CHECKS`, so both
backends are held to one contract. Times are whole milliseconds, which both
backends keep exactly (PostgreSQL stores microseconds).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Callable

from ems.cloud.telemetry.buckets import bucket_count, bucket_width_s
from ems.cloud.telemetry.model import HistoryPoint, LatestValue, TelemetryRow, TelemetryStore
from ems.cloud.telemetry.rollup import RollupReader

__all__ = ["CHECKS", "DAY_S", "T0", "Check", "StoreFactory"]

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY_S = 86_400
EDGE = "site-1"
SOC = "battery_1/SetActivePower"
POWER = "battery_1/ActivePower"
MODE = "battery_1/Mode"

StoreFactory = Callable[[], TelemetryStore]
Check = Callable[[TelemetryStore, StoreFactory], Awaitable[None]]


def _num(t: float, channel: str, value: float, edge: str = EDGE) -> TelemetryRow:
    return TelemetryRow(t, edge, channel, value, None)


def _txt(t: float, channel: str, text: str, edge: str = EDGE) -> TelemetryRow:
    return TelemetryRow(t, edge, channel, None, text)


async def _raw(store: TelemetryStore, channel: str, start: float, end: float) -> list[HistoryPoint]:
    """Every sample as its own 1 s bucket (the window is short enough)."""
    points = await store.history(EDGE, [channel], start, end, max_points=int(end - start) + 2)
    return points[channel]


async def check_write_read_back(store: TelemetryStore, _: StoreFactory) -> None:
    await store.write(
        [
            _num(T0 + 0.125, POWER, -2500.5),
            _num(T0 + 1.250, POWER, 1200.0),
            _txt(T0 + 1.0, MODE, "auto"),
            _num(T0 + 2.0, "grid/ActivePower", 300.0, edge="site-2"),
        ]
    )
    assert await store.latest(EDGE) == {
        POWER: LatestValue(T0 + 1.25, 1200.0, None),
        MODE: LatestValue(T0 + 1.0, None, "auto"),
    }
    assert await store.latest("site-2") == {"grid/ActivePower": LatestValue(T0 + 2.0, 300.0, None)}
    assert await store.latest("nobody") == {}
    assert await _raw(store, POWER, T0, T0 + 10) == [
        HistoryPoint(T0, -2500.5, -2500.5, -2500.5, None),
        HistoryPoint(T0 + 1, 1200.0, 1200.0, 1200.0, None),
    ]
    assert await store.edges() == ["site-1", "site-2"]


async def check_latest_only_moves_forward(store: TelemetryStore, _: StoreFactory) -> None:
    await store.write([_num(T0 + 10, POWER, 1.0)])
    await store.write([_num(T0 + 5, POWER, 2.0)])  # late: history only
    assert (await store.latest(EDGE))[POWER] == LatestValue(T0 + 10, 1.0, None)
    # Within one batch too, and whatever the order of the rows.
    await store.write([_num(T0 + 30, POWER, 4.0), _num(T0 + 20, POWER, 3.0)])
    assert (await store.latest(EDGE))[POWER] == LatestValue(T0 + 30, 4.0, None)
    values = [p.avg for p in await _raw(store, POWER, T0, T0 + 40)]
    assert values == [2.0, 1.0, 3.0, 4.0]


async def check_duplicates_ignored(store: TelemetryStore, _: StoreFactory) -> None:
    frame = [_num(T0 + 1, POWER, 10.0), _num(T0 + 2, POWER, 20.0), _txt(T0 + 2, MODE, "auto")]
    await store.write(frame)
    await store.write(frame)  # re-sent after a reconnect
    await store.write(frame[:1] + frame[:1])  # and duplicated within a batch
    # A duplicate that disagrees changes neither history nor the latest value.
    await store.write([_num(T0 + 2, POWER, 99.0), _txt(T0 + 2, MODE, "manual")])
    points = await store.history(EDGE, [POWER, MODE], T0, T0 + 10, max_points=5)
    # 2 s buckets: [T0, T0+2) holds the sample at +1, [T0+2, T0+4) the one at +2.
    assert points[POWER] == [
        HistoryPoint(T0, 10.0, 10.0, 10.0, None),
        HistoryPoint(T0 + 2, 20.0, 20.0, 20.0, None),
    ]
    assert points[MODE] == [HistoryPoint(T0 + 2, None, None, None, "auto")]
    latest = await store.latest(EDGE)
    assert latest == {
        POWER: LatestValue(T0 + 2, 20.0, None),
        MODE: LatestValue(T0 + 2, None, "auto"),
    }


async def check_history_day_bucketing(store: TelemetryStore, _: StoreFactory) -> None:
    def value(i: int) -> float:
        return float((i * 7) % 101) - 50.0 + i / 1000

    await store.write([_num(T0 + i, POWER, value(i)) for i in range(DAY_S)])
    start, end, max_points = T0 + 3600.5, T0 + DAY_S - 1800, 300
    width = bucket_width_s(start, end, max_points)
    got = (await store.history(EDGE, [POWER], start, end, max_points))[POWER]
    assert 0 < len(got) <= max_points
    assert len(got) == bucket_count(start, end, width)
    buckets: dict[float, list[float]] = {}
    for i in range(DAY_S):
        if start <= T0 + i < end:
            buckets.setdefault(math.floor((T0 + i) / width) * width, []).append(value(i))
    assert [p.time_s for p in got] == sorted(buckets)
    for point in got:
        samples = buckets[point.time_s]
        assert point.avg is not None
        assert math.isclose(point.avg, sum(samples) / len(samples), rel_tol=1e-9, abs_tol=1e-9)
        assert (point.min, point.max, point.last_text) == (min(samples), max(samples), None)


async def check_text_values(store: TelemetryStore, _: StoreFactory) -> None:
    await store.write(
        [
            _txt(T0 + 1, MODE, "auto"),
            _txt(T0 + 3, MODE, "manual"),  # newest in bucket [T0, T0+10)
            _txt(T0 + 2, MODE, "idle"),
            _txt(T0 + 12, MODE, "auto"),
            _num(T0 + 15, MODE, 1.0),  # a mixed bucket carries both
        ]
    )
    points = (await store.history(EDGE, [MODE], T0, T0 + 20, max_points=2))[MODE]
    assert points == [
        HistoryPoint(T0, None, None, None, "manual"),
        HistoryPoint(T0 + 10, 1.0, 1.0, 1.0, "auto"),
    ]
    assert (await store.latest(EDGE, [MODE]))[MODE] == LatestValue(T0 + 15, 1.0, None)


async def check_channels_filter(store: TelemetryStore, _: StoreFactory) -> None:
    await store.write([_num(T0, POWER, 1.0), _num(T0, SOC, 2.0), _txt(T0, MODE, "auto")])
    latest = await store.latest(EDGE, [POWER, MODE, "pv_1/ActivePower"])
    assert set(latest) == {POWER, MODE}
    assert await store.latest(EDGE, []) == {}
    history = await store.history(EDGE, [SOC, "pv_1/ActivePower", SOC], T0, T0 + 60)
    assert list(history) == [SOC, "pv_1/ActivePower"]
    assert [p.avg for p in history[SOC]] == [2.0]
    assert history["pv_1/ActivePower"] == []


async def check_window_is_half_open(store: TelemetryStore, _: StoreFactory) -> None:
    await store.write([_num(T0 + t, POWER, t) for t in (9.0, 10.0, 19.999, 20.0)])
    points = (await store.history(EDGE, [POWER], T0 + 10, T0 + 20, max_points=10))[POWER]
    assert [(p.time_s, p.avg) for p in points] == [(T0 + 10, 10.0), (T0 + 19, 19.999)]
    assert await store.history(EDGE, [POWER], T0 + 20, T0 + 10) == {POWER: []}
    assert await store.history(EDGE, [], T0, T0 + 20) == {}


async def check_start_is_idempotent(store: TelemetryStore, reopen: StoreFactory) -> None:
    await store.write([_num(T0, POWER, 1.0)])
    await store.start()  # again, on the same store
    other = reopen()
    await other.start()  # and a second store on the same database (a restart)
    try:
        await other.write([_num(T0 + 1, POWER, 2.0)])
        assert (await other.latest(EDGE))[POWER] == LatestValue(T0 + 1, 2.0, None)
        assert [p.avg for p in await _raw(store, POWER, T0, T0 + 5)] == [1.0, 2.0]
    finally:
        await other.close()


async def check_empty_write(store: TelemetryStore, _: StoreFactory) -> None:
    await store.write([])
    assert await store.edges() == []


async def check_rollups(store: TelemetryStore, reopen: StoreFactory) -> None:
    """Rollups follow ingest, late rows and duplicates, and survive a restart."""
    assert isinstance(store, RollupReader)
    grid = "_sum/GridActivePower"
    # A quarter hour at 1 Hz: import 1000 W for 600 s, then export 500 W for 300 s.
    rows = [_num(T0 + i, grid, 1000.0 if i < 600 else -500.0) for i in range(900)]
    await store.write(rows[:450])
    await store.write(rows[500:])  # 450..499 come late, below
    await store.write(rows[600:610])  # re-sent: adds nothing
    await store.write([_num(T0 + 5, MODE, 3.0), _txt(T0 + 6, POWER, "x")])  # not rolled up
    before = (await store.rollups(EDGE, [grid], 900, T0, T0 + 900))[grid]
    assert [p.n for p in before] == [850]
    await store.write(rows[450:500])  # backfilled
    other = reopen()
    await other.start()  # a restart finds the same rollups
    try:
        assert isinstance(other, RollupReader)
        quarter = await other.rollups(EDGE, [grid, POWER], 900, T0, T0 + 900)
        hour = (await other.rollups(EDGE, [grid], 3600, T0, T0 + 3600))[grid]
    finally:
        await other.close()
    assert quarter[POWER] == []
    (q,) = quarter[grid]
    assert (q.bucket_s, q.n, q.min_w, q.max_w) == (T0, 900, -500.0, 1000.0)
    assert math.isclose(q.mean_w, (600 * 1000 - 300 * 500) / 900)
    assert math.isclose(q.energy_in_wh, 1000 * 600 / 3600)
    assert math.isclose(q.energy_out_wh, 500 * 300 / 3600)
    (h,) = hour
    assert (h.bucket_s, h.n) == (T0, 900)
    # the hour holds one quarter's samples; energy is spread over the hour at their mean
    assert math.isclose(h.energy_in_wh, 1000 * 600 / 900)
    with contextlib.suppress(ValueError):
        await store.rollups(EDGE, [grid], 60, T0, T0 + 900)
        raise AssertionError("a width without rollups must be refused")


CHECKS: dict[str, Check] = {
    "rollups": check_rollups,
    "write_read_back": check_write_read_back,
    "latest_only_moves_forward": check_latest_only_moves_forward,
    "duplicates_ignored": check_duplicates_ignored,
    "history_day_bucketing": check_history_day_bucketing,
    "text_values": check_text_values,
    "channels_filter": check_channels_filter,
    "window_is_half_open": check_window_is_half_open,
    "start_is_idempotent": check_start_is_idempotent,
    "empty_write": check_empty_write,
}
