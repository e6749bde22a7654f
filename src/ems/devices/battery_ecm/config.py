"""Parameters of the cell-level battery (units in the names; SOC in %)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ems.cells import chemistry
from ems.devices.battery.config import BatteryConfig

__all__ = ["BmsErrorConfig", "EcmBatteryConfig"]


class BmsErrorConfig(BaseModel):
    """How the BMS's sensors and its coulomb counter err."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    current_bias_a: float = Field(
        default=0.0, description="Offset of the current sensor (A, added to the true current)."
    )
    initial_soc_error_pct: float = Field(
        default=0.0, ge=-100, le=100, description="BMS Soc minus true SOC at start (% points)."
    )
    current_noise_a: float = Field(default=0.05, ge=0, description="Current noise, 1 sigma (A).")
    voltage_noise_v: float = Field(
        default=0.005, ge=0, description="Pack voltage noise, 1 sigma (V)."
    )
    temperature_noise_c: float = Field(
        default=0.1, ge=0, description="Temperature noise, 1 sigma (°C)."
    )


class EcmBatteryConfig(BatteryConfig):
    """A battery of cells in series with a lumped thermal model, ageing and a BMS.

    ``capacity_wh`` is the nominal energy of the new pack; its charge capacity
    is ``capacity_wh / (series_cells · nominal cell voltage)``. ``initial_soc_pct``
    is the true SOC at start; the BMS starts off by ``bms_error.initial_soc_error_pct``.
    """

    chemistry: Literal["lfp", "nmc"] = Field(default="lfp", description="Cell chemistry.")
    series_cells: int | None = Field(
        default=None, ge=1, le=1000, description="Cells in series (default: 16 LFP, 14 NMC)."
    )
    ambient_c: float = Field(default=20.0, description="Mean ambient temperature (°C).")
    ambient_swing_c: float = Field(
        default=5.0, ge=0, description="Daily ambient amplitude, warmest at 15:00 UTC (°C)."
    )
    initial_temperature_c: float | None = Field(
        default=None, description="Cell temperature at start (°C; default: ambient)."
    )
    heat_capacity_j_per_k: float = Field(default=60_000.0, gt=0, description="Pack (J/K).")
    conductance_w_per_k: float = Field(
        default=10.0, gt=0, description="Heat transfer pack -> ambient (W/K)."
    )
    capacity_deviation_pct: float = Field(
        default=-2.0,
        ge=-50,
        le=50,
        description="Real capacity of the new cells against the nameplate (%): the spread "
        "an estimator built from the datasheet does not know of.",
    )
    resistance_deviation_pct: float = Field(
        default=10.0, ge=-50, le=200, description="Real resistance against the datasheet (%)."
    )
    ocv_deviation_mv: float = Field(
        default=2.0,
        ge=0,
        le=100,
        description="How far the cells' OCV strays from the datasheet curve, per cell (mV): "
        "a smooth wave over SOC, zero at empty and full.",
    )
    ageing_acceleration: float = Field(
        default=1.0, ge=0, description="Multiplies the rate of ageing (1: real time)."
    )
    bms_error: BmsErrorConfig = BmsErrorConfig()
    publish_true_soc: bool = Field(
        default=True, description="Publish SocTrue (simulation only, for scoring)."
    )

    @property
    def cells_in_series(self) -> int:
        return self.series_cells or chemistry(self.chemistry).default_series_cells
