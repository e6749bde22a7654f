"""Parameters of a replayed device (power in W, voltage in V, frequency in Hz)."""

from __future__ import annotations

from pydantic import Field

from ems.devices.base import SimulatorConfig

__all__ = ["ReplayConfig"]


class ReplayConfig(SimulatorConfig):
    """A CSV with a ``timestamp`` column (RFC 3339, or ISO 8601 read as UTC) and value columns.

    A ``load_meter`` or ``pv_inverter`` plays ``column`` (W, >= 0); a
    ``grid_meter`` plays ``voltage_column`` and/or ``frequency_column`` while
    its power still closes the site balance. Values are linear between rows
    and held before the first row and after the last.
    """

    csv: str = Field(min_length=1, description="CSV file; relative to the config file's folder.")
    column: str | None = Field(default=None, description="Power column (W), load or PV.")
    scale: float = Field(
        default=1.0, gt=0, description="Multiplies the power column (e.g. kW data: 1000)."
    )
    voltage_column: str | None = Field(default=None, description="Grid voltage column (V).")
    frequency_column: str | None = Field(default=None, description="Grid frequency column (Hz).")
    nominal_voltage_v: float = Field(
        default=230.0, gt=0, description="Voltage reported when no voltage column is played (V)."
    )
    nominal_frequency_hz: float = Field(
        default=50.0, gt=0, description="Frequency reported when none is played (Hz)."
    )
    setpoint_timeout_s: float = Field(
        default=10.0, gt=0, description="PV: a SetActivePowerLimit older than this is ignored (s)."
    )
