"""Parameters of the simulated grid connection point (W, V, Hz; hours of local time)."""

from __future__ import annotations

import itertools

from pydantic import Field, field_validator

from ems.devices.base import SimulatorConfig
from ems.devices.grid_meter.events import GridEvent

__all__ = ["GridMeterConfig"]


class GridMeterConfig(SimulatorConfig):
    """The meter at the grid connection point of a low-voltage (230 V / 50 Hz) site."""

    nominal_frequency_hz: float = Field(default=50.0, gt=0, description="Nominal grid frequency.")
    frequency_band_hz: float = Field(
        default=0.05, ge=0, description="The frequency wanders at most this far from nominal (Hz)."
    )
    frequency_sd_hz: float = Field(
        default=0.02, ge=0, description="Standard deviation of the frequency wander (Hz)."
    )
    nominal_voltage_v: float = Field(
        default=230.0, gt=0, description="Line-to-neutral voltage at 0 W."
    )
    voltage_droop_v_per_kw: float = Field(
        default=0.5, ge=0, description="Voltage drop per kW imported (rise per kW exported), V/kW."
    )
    voltage_sd_v: float = Field(
        default=1.0,
        ge=0,
        description="Standard deviation of the voltage the rest of the feeder causes.",
    )
    unmetered_profile_w: list[tuple[float, float]] = Field(
        default_factory=list,
        description=(
            "Flows behind this meter no other meter sees, as (hour of local day, W) points,"
            " > 0 importing; linear between points and around midnight; empty = 0 W."
        ),
    )

    events: list[GridEvent] = Field(
        default_factory=list,
        description=(
            "Voltage sags and swells, frequency excursions: each holds voltage_v (the feeder"
            " voltage, before this site's droop and the noise) and/or frequency_hz (exact)"
            " for duration_s from start_s after the first step or from the time at."
        ),
    )

    @field_validator("unmetered_profile_w")
    @classmethod
    def _check_profile(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        hours = [h for h, _ in points]
        if any(not 0.0 <= h < 24.0 for h in hours):
            raise ValueError("hours must lie in [0, 24)")
        if any(b <= a for a, b in itertools.pairwise(hours)):
            raise ValueError("hours must be strictly increasing")
        return points
