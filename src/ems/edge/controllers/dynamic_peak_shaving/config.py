"""Parameters of the dynamic peak-shaving controller (units in the names)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ems.edge.controllers.base import ControllerParams

__all__ = ["DynamicPeakShavingParams"]


class DynamicPeakShavingParams(ControllerParams):
    battery: str | None = Field(
        default=None, description="Battery device id; default: the site's only battery"
    )
    grid: str | None = Field(
        default=None, description="Grid meter device id; default: the site's only grid meter"
    )
    initial_peak_import_w: float = Field(
        gt=0,
        allow_inf_nan=False,
        description="Threshold used until a day of history makes a forecast possible [W]",
    )
    min_peak_import_w: float = Field(
        default=0.0,
        ge=0,
        allow_inf_nan=False,
        description="The threshold never goes below this [W]",
    )
    forecast_margin_pct: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="The load forecast is raised by this much before planning, for its error [%]",
    )
    recharge_gap_pct: float = Field(
        default=40.0,
        gt=0,
        lt=100,
        description="The battery recharges only while import is this far below the "
        "threshold [% of the threshold]",
    )
    peak_hold_margin_pct: float = Field(
        default=2.0,
        ge=0,
        le=20,
        description="The threshold may sit this far below the month's billed peak: the "
        "battery follows a cycle late, so holding exactly at the peak would raise it a little "
        "at every load step [%]",
    )
    horizon_h: float = Field(
        default=24.0, ge=1, le=48, description="How far ahead the threshold is planned [h]"
    )
    min_soc_pct: float = Field(
        default=5.0,
        ge=0,
        lt=100,
        description="Energy below this SOC is not counted on when planning [%]",
    )
    efficiency_pct: float = Field(
        default=95.0,
        gt=0,
        le=100,
        description="Battery efficiency each way (charge, discharge) when planning [%]",
    )
    forecast_mode: Literal["yesterday", "last_week", "blend", "best_recent"] = Field(
        default="best_recent",
        description="Persistence forecast of the net load (see ems.forecast.persistence)",
    )
    history_days: int = Field(
        default=8, ge=1, le=60, description="Days of net-load history kept for the forecast"
    )
    history_csv: str | None = Field(
        default=None,
        min_length=1,
        description="CSV of the site's measured load and PV before the run (e.g. exported "
        "from the cloud's telemetry), relative to the config file's folder: its net load "
        "(load − PV) seeds the history, so the threshold is planned from the first cycle",
    )
    load_column: str = Field(default="load_w", min_length=1, description="history_csv's load [W]")
    pv_column: str = Field(default="pv_w", min_length=1, description="history_csv's PV [W]")
    max_input_age_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="Inputs older than this are stale: the controller stands aside [s]",
    )
