"""Forecasters by name, with validated parameters: what a controller's config says.

``forecast: {load: learned, pv: pv_clearsky}`` in a controller's params becomes
``make_forecaster("learned", quantity="load", timezone=...)``. Each kind has a
pydantic model of its parameters that refuses unknown keys; a refusal is a
:class:`~ems.forecast.errors.ForecastParamsError` naming the field. Other
modules add kinds with :func:`register` (a perfect forecast for benchmarks).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ems.forecast.base import Forecaster
from ems.forecast.clearsky import ArrayGeometry, SiteLocation
from ems.forecast.errors import ForecastParamsError
from ems.forecast.learned import LearnedForecaster
from ems.forecast.persistence import PersistenceForecaster
from ems.forecast.pv import PvClearSkyForecaster

__all__ = [
    "LearnedParams",
    "PersistenceParams",
    "PvClearSkyParams",
    "kinds",
    "make_forecaster",
    "register",
]


def _known_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None
    return value


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersistenceParams(_Params):
    mode: Literal["yesterday", "last_week", "blend", "best_recent"] = "blend"
    yesterday_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    select_days: int = Field(default=7, ge=1, le=60)


class _SiteParams(_Params):
    """The edge config's ``site:`` block, and the array's plane."""

    latitude_deg: float = Field(ge=-90, le=90)
    longitude_deg: float = Field(ge=-180, le=180)
    altitude_m: float = 0.0
    timezone: str = "UTC"
    tilt_deg: float = Field(default=0.0, ge=0.0, le=90.0)
    azimuth_deg: float = Field(default=180.0, ge=0.0, le=360.0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _known_zone(value)

    def location(self) -> SiteLocation:
        return SiteLocation(self.latitude_deg, self.longitude_deg, self.altitude_m)

    def geometry(self) -> ArrayGeometry:
        return ArrayGeometry(self.tilt_deg, self.azimuth_deg)


class PvClearSkyParams(_SiteParams):
    window_days: float = Field(default=30.0, gt=0.0, le=366.0)
    scale_quantile: float = Field(default=0.9, gt=0.0, le=1.0)
    recent_daylight_steps: int = Field(default=8, ge=1)
    index_decay_h: float = Field(default=24.0, ge=0.0)
    peak_power_w: float | None = Field(default=None, gt=0.0)


class LearnedParams(_Params):
    quantity: Literal["load", "pv"]
    timezone: str = "UTC"
    # The site, required for PV (the clear-sky feature).
    latitude_deg: float | None = Field(default=None, ge=-90, le=90)
    longitude_deg: float | None = Field(default=None, ge=-180, le=180, validate_default=True)
    altitude_m: float = 0.0
    tilt_deg: float = Field(default=0.0, ge=0.0, le=90.0)
    azimuth_deg: float = Field(default=180.0, ge=0.0, le=360.0)
    min_days: float = Field(default=14.0, ge=2.0)
    holdout_days: float = Field(default=7.0, ge=1.0, validate_default=True)
    retrain_interval_h: float = Field(default=168.0, gt=0.0)
    max_train_days: float = Field(default=365.0, gt=0.0)
    num_boost_round: int = Field(default=200, ge=1, le=5000)
    learning_rate: float = Field(default=0.05, gt=0.0, le=1.0)
    num_leaves: int = Field(default=31, ge=2, le=1024)
    seed: int = 0
    # What forecasts while the model has not earned its place: persistence (its
    # params below), or for PV the clear-sky forecast of the same site and array.
    fallback_kind: Literal["persistence", "pv_clearsky"] = "persistence"
    fallback: PersistenceParams = PersistenceParams(mode="best_recent")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _known_zone(value)

    @field_validator("holdout_days")
    @classmethod
    def _holdout_below_min(cls, value: float, info: ValidationInfo) -> float:
        min_days = info.data.get("min_days")
        if min_days is not None and value >= min_days:
            raise ValueError(f"must be less than min_days ({min_days})")
        return value

    @field_validator("longitude_deg")
    @classmethod
    def _site_for_pv(cls, value: float | None, info: ValidationInfo) -> float | None:
        if info.data.get("quantity") == "pv" and (
            value is None or info.data.get("latitude_deg") is None
        ):
            raise ValueError("latitude_deg and longitude_deg are required for quantity pv")
        return value

    @field_validator("fallback_kind")
    @classmethod
    def _site_for_clearsky(cls, value: str, info: ValidationInfo) -> str:
        if value == "pv_clearsky" and info.data.get("quantity") != "pv":
            raise ValueError("pv_clearsky is a fallback for quantity pv only")
        return value


def _persistence(p: PersistenceParams) -> Forecaster:
    return PersistenceForecaster(p.mode, p.yesterday_weight, p.select_days)


def _pv_clearsky(p: PvClearSkyParams) -> Forecaster:
    return PvClearSkyForecaster(
        p.location(),
        p.geometry(),
        window_days=p.window_days,
        scale_quantile=p.scale_quantile,
        recent_daylight_steps=p.recent_daylight_steps,
        index_decay_h=p.index_decay_h,
        peak_power_w=p.peak_power_w,
    )


def _learned(p: LearnedParams) -> Forecaster:
    site = (
        SiteLocation(p.latitude_deg, p.longitude_deg, p.altitude_m)
        if p.latitude_deg is not None and p.longitude_deg is not None
        else None
    )
    return LearnedForecaster(
        p.quantity,
        p.timezone,
        site=site,
        array=ArrayGeometry(p.tilt_deg, p.azimuth_deg),
        min_days=p.min_days,
        holdout_days=p.holdout_days,
        retrain_interval_s=p.retrain_interval_h * 3600.0,
        max_train_days=p.max_train_days,
        num_boost_round=p.num_boost_round,
        learning_rate=p.learning_rate,
        num_leaves=p.num_leaves,
        seed=p.seed,
        fallback=(
            PvClearSkyForecaster(site, ArrayGeometry(p.tilt_deg, p.azimuth_deg))
            if p.fallback_kind == "pv_clearsky" and site is not None
            else _persistence(p.fallback)
        ),
    )


_KINDS: dict[str, tuple[type[BaseModel], Callable[[Any], Forecaster]]] = {
    "persistence": (PersistenceParams, _persistence),
    "pv_clearsky": (PvClearSkyParams, _pv_clearsky),
    "learned": (LearnedParams, _learned),
}


def register(kind: str, params: type[BaseModel], build: Callable[[Any], Forecaster]) -> None:
    """Add a kind; ``build`` receives a validated instance of ``params``."""
    if kind in _KINDS:
        raise ValueError(f"forecaster kind {kind!r} is already registered")
    _KINDS[kind] = (params, build)


def kinds() -> list[str]:
    return sorted(_KINDS)


def make_forecaster(kind: str, **params: Any) -> Forecaster:
    """A forecaster of ``kind`` with ``params``; raises :class:`ForecastParamsError`
    naming ``kind`` or the first refused ``params.<field>``."""
    if kind not in _KINDS:
        raise ForecastParamsError(
            "unknown_kind", "kind", f"unknown forecaster {kind!r}; known: {', '.join(kinds())}"
        )
    model, build = _KINDS[kind]
    try:
        validated = model.model_validate(params)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ForecastParamsError(
            "invalid_params",
            f"params.{where}" if where else "params",
            error["msg"].removeprefix("Value error, "),
        ) from None
    return build(validated)
