"""Power quality (DESIGN 15, issue 19 item 6): minutes outside EN 50160's limits.

EN 50160 bounds the supply voltage to the nominal ±10 % and the frequency of an
interconnected 50 Hz system to 49.5–50.5 Hz. The standard judges averages
(10-min means of voltage, 10-s means of frequency); the report is stricter and
simpler to read: it counts **minutes** whose mean lies outside the band, from
one-minute buckets of the raw samples (the store's ``history``), and gives the
worst single sample on either side (the buckets' min and max).

Which channels carry grid voltage and frequency is per site
(:class:`PowerQualityConfig`): a battery's ``Voltage`` is its DC pack voltage
and must not be judged against 230 V. The default is the grid meter's
``grid/Voltage`` and ``grid/Frequency``.

Harmonics: no device profile or driver template of this repository publishes a
THD or harmonic channel yet (meters publish ``Voltage`` and ``Frequency`` only),
so ``thd_channels`` is empty by default; channels listed there are reported as
their worst and mean values in %, judged against EN 50160's 8 % voltage THD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ems.cloud.telemetry.model import HistoryPoint

__all__ = [
    "FREQUENCY_HIGH_HZ",
    "FREQUENCY_LOW_HZ",
    "MINUTE_S",
    "THD_LIMIT_PCT",
    "VOLTAGE_TOLERANCE_PCT",
    "PowerQualityConfig",
    "compute_power_quality",
]

MINUTE_S = 60
VOLTAGE_TOLERANCE_PCT = 10.0
FREQUENCY_LOW_HZ = 49.5
FREQUENCY_HIGH_HZ = 50.5
THD_LIMIT_PCT = 8.0


class PowerQualityConfig(BaseModel):
    """A site's grid-facing measurement channels and its nominal voltage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nominal_voltage_v: float = Field(default=230.0, gt=0, allow_inf_nan=False)
    voltage_channels: tuple[str, ...] = ("grid/Voltage",)
    frequency_channels: tuple[str, ...] = ("grid/Frequency",)
    thd_channels: tuple[str, ...] = ()

    @property
    def channels(self) -> tuple[str, ...]:
        return self.voltage_channels + self.frequency_channels + self.thd_channels


@dataclass(frozen=True, slots=True)
class _Band:
    low: float
    high: float


def compute_power_quality(
    config: PowerQualityConfig, minutes: Mapping[str, Sequence[HistoryPoint]]
) -> dict[str, Any]:
    """The power-quality section from one-minute buckets of ``config.channels``.

    A channel without samples in the period reports ``minutes_measured: 0`` and
    ``None`` worst values, so "no data" never reads as "all good"."""
    tolerance = config.nominal_voltage_v * VOLTAGE_TOLERANCE_PCT / 100.0
    voltage_band = _Band(config.nominal_voltage_v - tolerance, config.nominal_voltage_v + tolerance)
    frequency_band = _Band(FREQUENCY_LOW_HZ, FREQUENCY_HIGH_HZ)
    return {
        "standard": "EN 50160",
        "method": "minutes whose mean is outside the band; worst = extreme single sample",
        "voltage": {
            "nominal_v": config.nominal_voltage_v,
            "low_limit_v": voltage_band.low,
            "high_limit_v": voltage_band.high,
            "channels": [
                _channel(ch, minutes.get(ch, ()), voltage_band) for ch in config.voltage_channels
            ],
        },
        "frequency": {
            "low_limit_hz": frequency_band.low,
            "high_limit_hz": frequency_band.high,
            "channels": [
                _channel(ch, minutes.get(ch, ()), frequency_band)
                for ch in config.frequency_channels
            ],
        },
        "harmonics": {
            "thd_limit_pct": THD_LIMIT_PCT,
            "channels": [
                _channel(ch, minutes.get(ch, ()), _Band(0.0, THD_LIMIT_PCT))
                for ch in config.thd_channels
            ],
            "note": None
            if config.thd_channels
            else "no THD channel configured (no meter profile publishes harmonics)",
        },
    }


def _channel(channel: str, points: Sequence[HistoryPoint], band: _Band) -> dict[str, Any]:
    numeric = [p for p in points if p.avg is not None]
    below = sum(1 for p in numeric if p.avg is not None and p.avg < band.low)
    above = sum(1 for p in numeric if p.avg is not None and p.avg > band.high)
    lows = [p.min for p in numeric if p.min is not None]
    highs = [p.max for p in numeric if p.max is not None]
    means = [p.avg for p in numeric if p.avg is not None]
    return {
        "channel": channel,
        "minutes_measured": len(numeric),
        "minutes_below": below,
        "minutes_above": above,
        "minutes_outside": below + above,
        "worst_low": min(lows) if lows else None,
        "worst_high": max(highs) if highs else None,
        "mean": sum(means) / len(means) if means else None,
    }
