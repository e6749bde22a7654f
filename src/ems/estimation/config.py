"""The ``estimator:`` block of a battery device in the edge YAML (units in the names)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EkfConfig", "EstimatorConfig"]


class EkfConfig(BaseModel):
    """Extended Kalman filter over the pack's equivalent circuit.

    State: SOC, the two RC voltages and the current sensor's bias (a coulomb
    counter's drift comes from it, so the filter learns it from the voltage).
    Measurement: the terminal voltage. The pack (chemistry, cells, capacity)
    defaults to the ``battery_ecm`` simulator's defaults: describe the real pack.
    Noise densities are per second, so the tuning holds at any sample rate.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["ekf"] = "ekf"
    chemistry: Literal["lfp", "nmc"] = "lfp"
    capacity_wh: float = Field(default=10_000.0, gt=0, description="Nominal pack energy (Wh).")
    series_cells: int | None = Field(
        default=None, ge=1, le=1000, description="Cells in series (default: 16 LFP, 14 NMC)."
    )
    resistance_growth_pct: float = Field(
        default=0.0, ge=0, description="Pack resistance above new (%), if known."
    )
    initial_soc_pct: float | None = Field(
        default=None, ge=0, le=100, description="Start value (default: the BMS's first Soc)."
    )
    initial_soc_std_pct: float = Field(
        default=25.0, gt=0, le=100, description="How far off the start value may be, 1 sigma (%)."
    )
    initial_resistance_std_pct: float = Field(
        default=30.0, gt=0, description="How far the pack's resistance may be from the model's (%)."
    )
    resistance_walk_pct_per_sqrt_h: float = Field(
        default=1.0, ge=0, description="How fast the resistance may change (% per sqrt(hour))."
    )
    initial_capacity_std_pct: float = Field(
        default=5.0, gt=0, description="How far the capacity may be from capacity_wh (%)."
    )
    capacity_walk_pct_per_sqrt_day: float = Field(
        default=0.5, ge=0, description="How fast the capacity may change (% per sqrt(day))."
    )
    estimate_bias: bool = Field(default=True, description="Track the current sensor's bias.")
    initial_bias_std_a: float = Field(default=2.0, gt=0, description="Prior on the bias (A).")
    bias_walk_a2_per_s: float = Field(
        default=1e-7, ge=0, description="How fast the bias may wander (A²/s)."
    )
    soc_process_pct2_per_s: float = Field(
        default=1e-6, ge=0, description="Unmodelled SOC change, e.g. self-discharge (%²/s)."
    )
    rc_process_v2_per_s: float = Field(
        default=1e-6, ge=0, description="Unmodelled RC voltage change (V²/s)."
    )
    current_noise_a: float = Field(default=0.1, ge=0, description="Current noise, 1 sigma (A).")
    voltage_noise_v: float = Field(
        default=0.05,
        gt=0,
        description="Voltage noise plus model error (hysteresis, parameters), 1 sigma (V).",
    )
    gate_sigma: float = Field(
        default=6.0, gt=0, description="Reject a voltage this many sigma from the prediction."
    )
    max_rejections: int = Field(
        default=30,
        ge=1,
        description="After this many rejections in a row the voltage is believed again.",
    )
    max_gap_s: float = Field(
        default=300.0, gt=0, description="A longer gap between samples restarts the prediction (s)."
    )

    # -- health and predictions (ems.estimation.health) -----------------------
    eol_soh_pct: float = Field(default=80.0, gt=0, lt=100, description="End of life (SOH %).")
    health_sample_s: float = Field(
        default=3600.0, gt=0, description="How often SOH and resistance are sampled (s)."
    )
    health_window_days: float = Field(
        default=90.0, gt=0, description="The trend is fitted over this much history (days)."
    )
    health_settle_s: float = Field(
        default=172_800.0,
        ge=0,
        description="After a (re)start the filter learns the pack this long before its "
        "capacity and resistance join the ageing trends (s).",
    )
    min_history_days: float = Field(
        default=7.0, ge=0, description="No ageing prediction on less history (days)."
    )
    min_confidence: float = Field(
        default=0.99, gt=0, lt=1, description="A trend predicts only when this sure (0..1)."
    )
    eol_warning_days: float = Field(
        default=180.0, gt=0, description="Warn this long before end of life (days)."
    )
    max_temperature_c: float | None = Field(
        default=None, description="Cell temperature limit (°C; default: the chemistry's)."
    )
    temperature_window_s: float = Field(
        default=1800.0, gt=0, description="Temperature trend window (s)."
    )
    temperature_warning_s: float = Field(
        default=3600.0, gt=0, description="Warn this long before the limit (s)."
    )
    expected_resistance_growth_pct_per_year: float = Field(
        default=5.0, gt=0, description="Normal resistance growth (%/year)."
    )
    resistance_alarm_factor: float = Field(
        default=3.0, gt=1, description="Alarm when resistance grows this many times faster."
    )

    @property
    def cells_in_series(self) -> int:
        # Imported here: the edge's YAML schema stays free of the cell models.
        from ems.cells import chemistry

        return self.series_cells or chemistry(self.chemistry).default_series_cells


#: Every kind of estimator (one for now; a learned one would join this union).
EstimatorConfig = EkfConfig
