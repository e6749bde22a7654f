"""CSV time series: RFC 3339 or ISO UTC timestamps, lookups, bad files refused by name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ems.errors import ConfigError
from ems.timeseries import read_csv_series, resolve_path

T0 = dt.datetime(2026, 6, 21, tzinfo=dt.UTC).timestamp()
T0_TEXT = "2026-06-21T00:00:00Z"


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_timestamps_with_an_offset_or_without_one_mean_utc_instants(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "timestamp,load_w\n"
        "2026-06-21T00:00:00Z,100\n"
        "2026-06-21T02:30:00+02:00,150\n"  # 00:30Z
        "2026-06-21 01:00:00,200\n",  # ISO with a space and no offset: UTC, not the host's zone
    )
    series = read_csv_series(path, ["load_w"])["load_w"]
    assert list(series.times_s) == [T0, T0 + 1800, T0 + 3600]
    assert list(series.values) == [100.0, 150.0, 200.0]


def test_linear_between_rows_and_held_past_the_ends(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"timestamp,a,b\n{T0_TEXT},100,1\n2026-06-21T00:01:00Z,200,2\n2026-06-21T00:03:00Z,0,3\n",
    )
    series = read_csv_series(path, ["a", "b"])
    a = series["a"]
    t0 = T0
    assert a.linear(t0 - 3600) == 100.0, "held before the first row"
    assert a.linear(t0) == 100.0
    assert a.linear(t0 + 30) == pytest.approx(150.0)
    assert a.linear(t0 + 120) == pytest.approx(100.0)
    assert a.linear(t0 + 180) == 0.0
    assert a.linear(t0 + 86_400) == 0.0, "held after the last row"
    assert a.step(t0 + 59) == 100.0 and a.step(t0 + 60) == 200.0 and a.step(t0 - 1) == 100.0
    assert series["b"].linear(t0 + 120) == pytest.approx(2.5)


def test_blank_lines_and_a_byte_order_mark_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftimestamp,x\r\n2026-06-21T00:00:00Z,1\r\n\r\n")
    assert list(read_csv_series(path, ["x"])["x"].values) == [1.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "time,x\n2026-06-21T00:00:00Z,1\n",
            r"bad.csv line 1: no 'timestamp' column \(has: time, x\)",
        ),
        (
            "timestamp,y\n2026-06-21T00:00:00Z,1\n",
            r"bad.csv line 1: no column 'x' \(has: timestamp, y\)",
        ),
        ("timestamp,x\n", r"bad.csv: no data rows"),
        ("", r"bad.csv line 1: no 'timestamp' column"),
        (
            "timestamp,x\n2026-06-21T00:00:00Z,1\n2026-06-21T00:00:00Z,2\n",
            r"bad.csv line 3, column 'timestamp': '2026-06-21T00:00:00Z' is not after",
        ),
        (
            "timestamp,x\n2026-06-21T00:01:00Z,1\n2026-06-21T00:00:00Z,2\n",
            r"bad.csv line 3, column 'timestamp'.*increase strictly",
        ),
        ("timestamp,x\nyesterday,1\n", r"bad.csv line 2, column 'timestamp': 'yesterday' is not"),
        (
            "timestamp,x\n2026-06-21T00:00:00Z,lots\n",
            r"bad.csv line 2, column 'x': 'lots' is not a finite",
        ),
        ("timestamp,x\n2026-06-21T00:00:00Z,\n", r"bad.csv line 2, column 'x': '' is not a finite"),
        ("timestamp,x\n2026-06-21T00:00:00Z,nan\n", r"line 2, column 'x': 'nan' is not a finite"),
        ("timestamp,x\n2026-06-21T00:00:00Z,-5\n", r"bad.csv line 2, column 'x': -5 is below 0"),
        ("timestamp,x\n2026-06-21T00:00:00Z\n", r"bad.csv line 2: 1 fields, the header has 2"),
    ],
)
def test_bad_files_are_refused_naming_file_line_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text, "bad.csv")
    with pytest.raises(ConfigError, match=message):
        read_csv_series(path, ["x"], {"x": 0.0})


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing.csv: cannot read: No such file"):
        read_csv_series(tmp_path / "missing.csv", ["x"])


def test_relative_names_start_from_the_config_folder(tmp_path: Path) -> None:
    assert resolve_path("load.csv", tmp_path) == tmp_path / "load.csv"
    assert resolve_path(str(tmp_path / "x.csv"), "/elsewhere") == tmp_path / "x.csv"
