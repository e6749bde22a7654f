"""The ``estimator:`` block of a battery device in the edge YAML (units in the names)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

__all__ = ["EkfConfig", "EstimatorConfig", "LearnedConfig"]


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


class LearnedConfig(EkfConfig):
    """A small GRU trained on the site's own history (:mod:`ems.estimation.learned`).

    The EKF (every field above) runs beside it: it is the fallback whenever the
    learned model has too little data or validates worse than the filter, and
    its estimate is what the learned one is compared against.
    """

    type: Literal["learned"] = "learned"  # type: ignore[assignment]
    hidden_units: int = Field(default=16, ge=2, le=64, description="GRU state size.")
    window_min: int = Field(
        default=90, ge=5, le=240, description="History one estimate looks at (minutes)."
    )
    retrain_every_s: float = Field(
        default=7 * 86_400.0, ge=3600.0, description="How often the model is retrained (s)."
    )
    history_days: float = Field(
        default=60.0, gt=0, le=365, description="Minute history kept for training (days)."
    )
    rest_s: float = Field(
        default=1800.0, ge=300.0, description="A rest this long reads as OCV (s)."
    )
    rest_current_c: float = Field(
        default=0.02, gt=0, le=0.2, description="At most this current is a rest (C-rate)."
    )
    anchor_max_std_pct: float = Field(
        default=2.0,
        gt=0,
        le=20,
        description="A rest is a reference SOC only where the OCV curve is steep enough "
        "that the voltage's error means at most this much SOC (%, 1 sigma).",
    )
    cell_voltage_error_v: float = Field(
        default=0.003, gt=0, description="A resting cell's voltage off the OCV curve (V)."
    )
    full_soc_pct: float = Field(
        default=100.0,
        gt=0,
        le=100,
        description="True SOC when the BMS closes its charge limit after a charge (%).",
    )
    max_segment_s: float = Field(
        default=4 * 86_400.0,
        gt=0,
        description="Labels are reconstructed only between references this close (s).",
    )
    min_segments: int = Field(
        default=4, ge=2, description="Training needs at least this many reference segments."
    )
    validation_fraction: float = Field(
        default=0.25, gt=0, lt=1, description="The latest segments held out for validation."
    )
    min_windows: int = Field(
        default=200, ge=10, description="Training needs at least this many labelled windows."
    )
    window_stride_min: int = Field(
        default=5, ge=1, description="Training windows start this far apart (minutes)."
    )
    training_iterations: int = Field(default=600, ge=1, le=100_000)
    batch_windows: int = Field(default=64, ge=1, le=4096)
    learning_rate: float = Field(default=0.01, gt=0, le=1)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _stride_within_window(self) -> LearnedConfig:
        if self.window_stride_min > self.window_min:
            raise ValueError("window_stride_min must not exceed window_min")
        return self


def _by_type(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A wrap rather than a tagged union: errors keep the field's own path
    # (``estimator.hidden_units``), without the tag pydantic would insert.
    if isinstance(value, dict) and value.get("type") == "learned":
        return handler(LearnedConfig.model_validate(value))
    return handler(value)


#: Every kind of estimator: ``type: ekf`` (the default) or ``type: learned``.
EstimatorConfig = Annotated[EkfConfig, WrapValidator(_by_type)]
