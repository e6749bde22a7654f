"""Parameters of the optimiser (units in the names)."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ems.edge.controllers.grid_target import GridTargetParams
from ems.forecast.errors import ForecastParamsError
from ems.forecast.factory import make_forecaster

__all__ = ["ForecastKind", "OptimizerParams", "QuantityForecasts"]

ForecastKind = Literal["naive", "perfect"]

#: ``forecast: naive`` is shorthand for this forecaster of load and of PV.
NAIVE_SPEC: dict[str, Any] = {"kind": "persistence", "mode": "yesterday"}


class QuantityForecasts(BaseModel):
    """A forecaster of the factory (:func:`ems.forecast.factory.make_forecaster`) per
    quantity: ``{kind: <kind>, <its params>...}``, each checked when the config loads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    load: dict[str, Any] = Field(default_factory=lambda: dict(NAIVE_SPEC))
    pv: dict[str, Any] = Field(default_factory=lambda: dict(NAIVE_SPEC))

    @field_validator("load", "pv")
    @classmethod
    def _buildable(cls, spec: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = spec.get("kind")
        if not isinstance(kind, str):
            raise ValueError("kind: a forecaster kind is required (e.g. persistence)")
        params = {k: v for k, v in spec.items() if k != "kind"}
        if kind == "learned":  # the quantity is the key it sits under
            params.setdefault("quantity", info.field_name)
        try:
            make_forecaster(kind, **params)
        except ForecastParamsError as exc:
            # The factory names ``params.<field>``; in the config the field sits beside kind.
            raise ValueError(f"{exc.field.removeprefix('params.')}: {exc.detail}") from None
        return {"kind": kind, **params}

    def params_of(self, quantity: Literal["load", "pv"]) -> tuple[str, dict[str, Any]]:
        """The kind and the factory's parameters of ``quantity``'s forecaster."""
        spec = dict(self.load if quantity == "load" else self.pv)
        return str(spec.pop("kind")), spec


class OptimizerParams(GridTargetParams):
    """The battery as the plan sees it, the forecast, and how often and how far to plan.

    ``min_soc_pct`` and ``max_soc_pct`` (shared with self-consumption) bound the plan
    as well as the cycle; set them to the battery's own bounds."""

    #: 36 h, not 24: a 24-h plan made at 08:00 ends at 08:00 tomorrow, in the middle
    #: of tomorrow's morning, and values the energy left there at the night's price; from
    #: any time of day a 36-h plan sees the whole of the next morning.
    horizon_h: float = Field(
        default=36.0, gt=0, le=168, allow_inf_nan=False, description="Planning horizon [h]"
    )
    step_min: float = Field(
        default=15.0,
        gt=0,
        le=15,
        allow_inf_nan=False,
        description="Plan step, re-solved at each one (MPC); must divide 15 min [min]",
    )
    forecast: ForecastKind | QuantityForecasts = Field(
        default="naive",
        description="Per quantity a forecaster of ems.forecast's factory, e.g. {load: "
        "{kind: persistence, mode: best_recent}, pv: {kind: pv_clearsky, latitude_deg: "
        "..., longitude_deg: ...}}, learning from the load and PV this controller measured; "
        "naive: persistence yesterday for both; perfect: the future read from "
        "forecast_csv (benchmarks of a replayed data set)",
    )
    history_days: float = Field(
        default=21.0,
        ge=8.0,
        le=366.0,
        allow_inf_nan=False,
        description="Days of measured load and PV kept for the forecasters (persistence "
        "best_recent looks 7 + 7 days back; learned wants min_days and more) [d]",
    )
    forecast_csv: str | None = Field(
        default=None,
        min_length=1,
        description="With forecast perfect: CSV of the load and PV to come, relative to "
        "the config file's folder",
    )
    history_csv: str | None = Field(
        default=None,
        min_length=1,
        description="CSV of the site's measured load and PV before the run (e.g. exported "
        "from the cloud's telemetry), relative to the config file's folder: the forecasters "
        "learn from it as if the controller had measured it, so a (re)start or a simulated "
        "run does not begin with no history; steps the controller measures itself win",
    )
    weather_csv: str | None = Field(
        default=None,
        min_length=1,
        description="With pv kind pv_clearsky: CSV of a weather service's clear-sky index "
        "per time (timestamp, weather_column; 0 overcast .. 1 clear), relative to the config "
        "file's folder; the PV forecast's measured index decays toward it instead of "
        "toward the recent mean. Read at start",
    )
    weather_column: str = Field(
        default="clear_sky_index", min_length=1, description="weather_csv's clear-sky index"
    )
    load_column: str = Field(
        default="load_w", min_length=1, description="forecast_csv's or history_csv's load [W]"
    )
    pv_column: str = Field(
        default="pv_w", min_length=1, description="forecast_csv's or history_csv's PV [W]"
    )
    capacity_wh: float = Field(gt=0, allow_inf_nan=False, description="Battery capacity [Wh]")
    efficiency: float = Field(
        default=0.95, gt=0, le=1, description="One-way AC<->DC efficiency of the battery (0..1]"
    )
    max_charge_power_w: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Rated; default: the highest live limit seen [W]",
    )
    max_discharge_power_w: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Rated; default: the highest live limit seen [W]",
    )
    derate_band_pct: float = Field(
        default=0.0, ge=0, le=100, description="SOC band before a bound where power derates [%]"
    )
    derate_floor: float = Field(
        default=1.0, gt=0, le=1, description="Share of rated power left at a bound (0..1]"
    )
    cap_import_at_peak: bool = Field(
        default=True,
        description="With a demand charge, each cycle caps the import at the plan's peak "
        "for the month (or the month's peak so far, if higher) while the battery can "
        "discharge, and imports a load above the forecast up to it before the battery "
        "does more than planned",
    )
    peak_error_days: int = Field(
        default=7,
        ge=0,
        le=60,
        description="With a demand charge, the plan also holds its peak in a second "
        "scenario, the forecast plus the error the forecasters made over these last days "
        "at the same time of day, so the battery keeps energy for a peak that comes out "
        "higher than forecast; 0: the forecast alone (forecast perfect: always) [d]",
    )
    peak_error_quantile_pct: float = Field(
        default=90.0,
        ge=0,
        le=100,
        allow_inf_nan=False,
        description="Which quantile of those days' excess of the net load over its "
        "forecast, per step of the day, is planned for [%]",
    )
    peak_pv_low_days: int = Field(
        default=14,
        ge=0,
        le=60,
        description="With the error margin, the high scenario's margin is at least the PV "
        "forecast less a low PV measured over these last days (per time of day, the "
        "100 − peak_error_quantile_pct percentile): the plan keeps energy for a grey "
        "morning, which makes a month's peak; 0: the backtest's margin alone [d]",
    )
    month_rest_days: int = Field(
        default=14,
        ge=0,
        le=60,
        description="With a demand charge, the plan bills its last month's peak in "
        "expectation when the month goes on past the horizon: the days still to come make "
        "a peak of their own, each like one of these last days measured (the lowest peak "
        "the battery, half full at midnight, could have held that day), so the plan does "
        "not spend the battery to shave below a peak the month will likely bill anyway; "
        "0: the horizon's peak is billed whole; forecast perfect: never [d]",
    )
    error_carry_h: float = Field(
        default=1.0,
        ge=0,
        le=24,
        allow_inf_nan=False,
        description="The live net load's error against its forecast carries into the next "
        "steps of the plan, decaying with this time constant: a grey morning or a load "
        "above its forecast now is likely still there in the next hour; 0: only the step "
        "under way takes the live value [h]",
    )
    degradation_cost_per_kwh: float = Field(
        default=0.0,
        ge=0,
        allow_inf_nan=False,
        description="Wear cost of each kWh charged and each kWh discharged [currency/kWh]",
    )
    terminal_value_per_kwh: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="What a kWh left in the battery at the horizon's end is worth; "
        "default: the horizon's lowest import price × efficiency, less the wear "
        "[currency/kWh]",
    )
    solve_timeout_s: float = Field(
        default=30.0,
        gt=0,
        allow_inf_nan=False,
        description="A solve not done by then is given up: the last good plan stays [s]",
    )
    fallback_target_grid_w: float = Field(
        default=0.0,
        allow_inf_nan=False,
        description="With no plan, the grid is held here as self-consumption holds it [W]",
    )

    @model_validator(mode="after")
    def _forecast_source(self) -> Self:
        if self.forecast == "perfect" and self.forecast_csv is None:
            raise ValueError("forecast_csv: forecast perfect reads the future from a CSV")
        if self.forecast != "perfect" and self.forecast_csv is not None:
            raise ValueError("forecast_csv: only with forecast perfect")
        if self.forecast == "perfect" and self.history_csv is not None:
            raise ValueError("history_csv: forecast perfect learns from no history")
        if self.weather_csv is not None and (
            isinstance(self.forecast, str) or self.forecast.params_of("pv")[0] != "pv_clearsky"
        ):
            raise ValueError("weather_csv: needs forecast: {pv: {kind: pv_clearsky, ...}}")
        if abs(900.0 / (self.step_min * 60.0) - round(900.0 / (self.step_min * 60.0))) > 1e-9:
            raise ValueError("step_min: must divide 15 min")
        return self
