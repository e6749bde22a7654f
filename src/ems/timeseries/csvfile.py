"""Read a CSV time series: a ``timestamp`` column and numeric value columns.

Every problem is refused at once with the file, line and column named, because
a replay or price file is checked at start and a bad row found hours into a
run would be found too late.

Timestamps are RFC 3339 (``2026-06-21T12:00:00Z``, ``…+02:00``) or ISO 8601
without an offset, which is read as UTC (never as the host's local time, so a
file means the same on every machine).
"""

from __future__ import annotations

import csv
import itertools
import math
from array import array
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ems.errors import ConfigError
from ems.timeseries.series import Series

__all__ = ["TIMESTAMP_COLUMN", "read_csv_series", "resolve_path"]

TIMESTAMP_COLUMN = "timestamp"


def resolve_path(name: str, base_dir: Path | str) -> Path:
    """``name`` as given if absolute, else relative to ``base_dir`` (the config file's folder)."""
    path = Path(name).expanduser()
    return path if path.is_absolute() else Path(base_dir) / path


def read_csv_series(
    path: Path, columns: Sequence[str], minimum: Mapping[str, float] | None = None
) -> dict[str, Series]:
    """The named ``columns`` of ``path`` as series sharing its timestamps.

    ``minimum`` maps a column to the least value it may hold (a load's power
    cannot be negative).

    Raises :class:`ConfigError` naming the file (and line and column where it
    applies) for a file that cannot be read, a missing column, a timestamp that
    cannot be parsed or does not increase strictly, a value that is not a
    finite number or one below its column's minimum.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets write a BOM
            return _read(path.name, csv.reader(f), columns, minimum or {})
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable CSV file: {exc}") from None


def _read(
    name: str,
    reader: Iterator[list[str]],
    columns: Sequence[str],
    minimum: Mapping[str, float],
) -> dict[str, Series]:
    header = [h.strip() for h in next(reader, [])]
    if TIMESTAMP_COLUMN not in header:
        raise ConfigError(f"{name} line 1: no {TIMESTAMP_COLUMN!r} column (has: {_list(header)})")
    for column in columns:
        if column not in header:
            raise ConfigError(f"{name} line 1: no column {column!r} (has: {_list(header)})")
    t_index = header.index(TIMESTAMP_COLUMN)
    indices = [header.index(c) for c in columns]
    floors = [minimum.get(c, -math.inf) for c in columns]
    times: array[float] = array("d")
    values: list[array[float]] = [array("d") for _ in columns]
    for line, row in zip(itertools.count(2), reader, strict=False):
        if not row or all(not cell.strip() for cell in row):
            continue  # a blank line (often the last one) carries nothing
        if len(row) < len(header):
            raise ConfigError(
                f"{name} line {line}: {len(row)} fields, the header has {len(header)}"
            )
        t_s = _timestamp(row[t_index], name, line)
        if times and t_s <= times[-1]:
            raise ConfigError(
                f"{name} line {line}, column {TIMESTAMP_COLUMN!r}: {row[t_index].strip()!r} "
                "is not after the previous row (timestamps must increase strictly)"
            )
        times.append(t_s)
        for out, column, i, floor in zip(values, columns, indices, floors, strict=True):
            value = _number(row[i], name, line, column)
            if value < floor:
                raise ConfigError(
                    f"{name} line {line}, column {column!r}: {value:g} is below {floor:g}"
                )
            out.append(value)
    if not times:
        raise ConfigError(f"{name}: no data rows")
    return {c: Series(times, v) for c, v in zip(columns, values, strict=True)}


def _timestamp(text: str, name: str, line: int) -> float:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{name} line {line}, column {TIMESTAMP_COLUMN!r}: {text!r} is not an RFC 3339 "
            "or ISO 8601 time"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _number(text: str, name: str, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError(f"{name} line {line}, column {column!r}: {text!r} is not a finite number")
    return value


def _list(header: Sequence[str]) -> str:
    return ", ".join(header) or "nothing"
