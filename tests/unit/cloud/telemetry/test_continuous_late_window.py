"""Which hours the hypertable store refreshes after a write (runs without TimescaleDB)."""

from __future__ import annotations

from ems.cloud.telemetry import TelemetryRow
from ems.cloud.telemetry.continuous import initial_window, late_window

NOW_S = 1_767_225_600.0 + 10 * 3600 + 1234  # 10:20:34 UTC on some day
HOUR_S = 3600
TEN_S = NOW_S - 1234  # 10:00:00


def power(t: float, value: float | None = 1.0) -> TelemetryRow:
    return TelemetryRow(t, "edge-1", "grid/ActivePower", value, None)


def test_live_rows_need_no_refresh() -> None:
    # Anything from the hour boundary one hour back (09:00) on is after every watermark.
    assert late_window([power(NOW_S - 5), power(TEN_S - HOUR_S)], NOW_S) is None


def test_late_rows_refresh_their_whole_hours_up_to_the_live_cutoff() -> None:
    rows = [power(TEN_S - 5 * HOUR_S + 17), power(TEN_S - HOUR_S - 1), power(NOW_S)]
    # 05:00 to 09:00: the hours of the late rows; the live one at 10:20 is left out
    assert late_window(rows, NOW_S) == (TEN_S - 5 * HOUR_S, TEN_S - HOUR_S)


def test_rows_that_are_not_rolled_up_need_no_refresh() -> None:
    old = TEN_S - 30 * HOUR_S
    rows = [
        power(old, None),
        TelemetryRow(old, "edge-1", "grid/Voltage", 230.0, None),
        TelemetryRow(old, "edge-1", "ess/ActivePower", None, "n/a"),
    ]
    assert late_window(rows, NOW_S) is None


def test_the_initial_refresh_covers_all_history_up_to_the_live_cutoff() -> None:
    assert initial_window(NOW_S) == (None, TEN_S - HOUR_S)
