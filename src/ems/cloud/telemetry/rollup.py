"""Rollups: 15-min and 1-h aggregates of every power channel, kept up to date on ingest.

A power channel is a numeric channel whose name ends in ``ActivePower`` (device
channels such as ``grid/ActivePower`` and the site totals ``_sum/GridActivePower``).
For each (edge, channel, width, bucket) the stores keep additive sums, so a row
that arrives late (a backfilled frame) is simply added to its bucket, and a
restart loses nothing: the rollup table is as durable as the history it comes
from, updated in the same transaction.

- ``n``: samples in the bucket; ``sum_w``: their sum (mean = ``sum_w / n``);
- ``sum_in_w`` / ``sum_out_w``: the sums of the positive parts and of the
  negated negative parts (``max(v, 0)``, ``max(-v, 0)``), so that energy flowing
  in and out of a channel is kept apart even when a bucket holds both;
- ``min_w`` / ``max_w``.

Energy assumes the samples are evenly spaced over the bucket (the edge sends
one frame per cycle): ``energy_in_wh = sum_in_w / n × width_s / 3600``. A bucket
with a gap is filled at its mean power; buckets without any sample are absent.
Only rows the history actually took are rolled up: a re-sent duplicate is
dropped by the history key and adds nothing.

SQLite and plain PostgreSQL keep these sums in a rollup table the store updates
on write; on a TimescaleDB hypertable, continuous aggregates compute the same
sums from the same expressions (:mod:`ems.cloud.telemetry.continuous`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = [
    "POWER_SUFFIX",
    "ROLLUP_FILTER_SQL",
    "ROLLUP_SUMS_SQL",
    "ROLLUP_WIDTHS_S",
    "RollupPoint",
    "RollupReader",
    "RollupSums",
    "aggregate",
    "check_width",
    "is_power_channel",
]

#: The rollup widths in seconds: quarter hours (demand intervals, tariff windows) and hours.
ROLLUP_WIDTHS_S = (900, 3600)
POWER_SUFFIX = "ActivePower"

#: Which telemetry rows PostgreSQL rolls up (plain rollup table and continuous aggregates).
ROLLUP_FILTER_SQL = f"value IS NOT NULL AND channel LIKE '%{POWER_SUFFIX}'"
#: n, sum_w, sum_in_w, sum_out_w, min_w, max_w of the rolled-up rows, as PostgreSQL
#: computes them in both modes (energy in and out are one expression wherever kept).
ROLLUP_SUMS_SQL = (
    "count(*) AS n, sum(value) AS sum_w, sum(greatest(value, 0)) AS sum_in_w,"
    " sum(greatest(-value, 0)) AS sum_out_w, min(value) AS min_w, max(value) AS max_w"
)


def is_power_channel(channel: str) -> bool:
    return channel.endswith(POWER_SUFFIX)


class RollupSums(NamedTuple):
    """One bucket's additive sums, as stored (see the module docstring)."""

    edge_id: str
    channel: str
    width_s: int
    bucket_s: int  # start, UTC epoch seconds, a multiple of width_s
    n: int
    sum_w: float
    sum_in_w: float
    sum_out_w: float
    min_w: float
    max_w: float


class RollupPoint(NamedTuple):
    """One bucket of one power channel, as read: powers in W, energies in Wh."""

    bucket_s: int
    n: int
    mean_w: float
    min_w: float
    max_w: float
    energy_in_wh: float  # value > 0 (import, discharge, production)
    energy_out_wh: float  # value < 0 (export, charge), as a positive number

    @classmethod
    def from_sums(
        cls,
        bucket_s: int,
        width_s: int,
        n: int,
        s: float,
        s_in: float,
        s_out: float,
        lo: float,
        hi: float,
    ) -> RollupPoint:
        hours = width_s / 3600.0
        return cls(bucket_s, n, s / n, lo, hi, s_in / n * hours, s_out / n * hours)


@runtime_checkable
class RollupReader(Protocol):
    """What reports read: a store that keeps rollups."""

    async def rollups(
        self, edge_id: str, channels: Sequence[str], width_s: int, start_s: float, end_s: float
    ) -> dict[str, list[RollupPoint]]:
        """Buckets of ``width_s`` (one of :data:`ROLLUP_WIDTHS_S`) starting in
        ``[start_s, end_s)``, in time order; every requested channel is a key."""
        ...


def aggregate(rows: Iterable[tuple[float, str, str, float | None]]) -> list[RollupSums]:
    """Sums of ``(time_s, edge_id, channel, value)`` rows for every width; rows that are
    not power channels or carry no number are left out. Sorted by key, so concurrent
    writers update rollup rows in the same order."""
    acc: dict[tuple[str, str, int, int], list[float]] = {}
    for time_s, edge_id, channel, value in rows:
        if value is None or not is_power_channel(channel):
            continue
        for width in ROLLUP_WIDTHS_S:
            key = (edge_id, channel, width, math.floor(time_s / width) * width)
            a = acc.get(key)
            if a is None:
                acc[key] = [1, value, max(value, 0.0), max(-value, 0.0), value, value]
            else:
                a[0] += 1
                a[1] += value
                a[2] += max(value, 0.0)
                a[3] += max(-value, 0.0)
                a[4] = min(a[4], value)
                a[5] = max(a[5], value)
    return [
        RollupSums(*key, int(a[0]), a[1], a[2], a[3], a[4], a[5]) for key, a in sorted(acc.items())
    ]


def check_width(width_s: int) -> None:
    if width_s not in ROLLUP_WIDTHS_S:
        raise ValueError(f"rollup width must be one of {ROLLUP_WIDTHS_S}, got {width_s}")
