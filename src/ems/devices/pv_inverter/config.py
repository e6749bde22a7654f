"""Parameters of the simulated PV system (power in W, angles in degrees, fractions 0..1)."""

from __future__ import annotations

from pydantic import Field

from ems.devices.apparent_power import ReactiveConfig

__all__ = ["PvInverterConfig"]


class PvInverterConfig(ReactiveConfig):
    """A PV array and its inverter; defaults describe 8 kWp facing south at 30° tilt.

    The inverter's rated apparent power defaults to ``inverter_max_power_w``
    (see :class:`~ems.devices.apparent_power.ReactiveConfig`).
    """

    peak_power_w: float = Field(default=8_000.0, gt=0, description="DC peak power at STC (Wp).")
    tilt_deg: float = Field(default=30.0, ge=0, le=90, description="Module tilt from horizontal.")
    azimuth_deg: float = Field(
        default=180.0,
        ge=0,
        lt=360,
        description="Direction the modules face (0 = N, 90 = E, 180 = S).",
    )
    inverter_max_power_w: float = Field(default=8_000.0, gt=0, description="AC clipping limit (W).")
    inverter_efficiency: float = Field(default=0.96, gt=0, le=1, description="DC -> AC efficiency.")
    system_losses: float = Field(
        default=0.05,
        ge=0,
        lt=1,
        description="DC losses before the inverter (wiring, soiling, mismatch).",
    )
    albedo: float = Field(default=0.2, ge=0, le=1, description="Ground reflectance.")
    ambient_temp_c: float = Field(
        default=20.0, ge=-50, le=60, description="Ambient air temperature."
    )
    noct_c: float = Field(
        default=45.0, gt=20, le=80, description="Nominal operating cell temperature."
    )
    temp_coefficient_per_k: float = Field(
        default=-0.004, ge=-0.02, le=0, description="Relative power change per K above 25 °C cell."
    )
    cloudiness: float = Field(
        default=0.0, ge=0, le=1, description="Share of time under clouds; 0 = always clear sky."
    )
    nominal_voltage_v: float = Field(
        default=230.0, gt=0, description="AC voltage at no output (V)."
    )
    voltage_rise_v_per_kw: float = Field(
        default=0.4, ge=0, description="Terminal voltage rise per kW fed in (V/kW)."
    )
    setpoint_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A SetActivePowerLimit older than this is ignored, a SetReactivePower "
        "falls back to 0 var (s).",
    )
