"""What a report needs to know about a site besides its telemetry: time zone, tariff, grid
carbon intensity, and a flat import threshold for the savings baseline.

The edge's tariff lives in its YAML (DESIGN 13), which the cloud does not receive.
So ``ems report`` reads the edge YAML itself, and the cloud reads a sites file
(``EMS_REPORT_SITES``)::

    site-1:
      timezone: Europe/Berlin
      tariff: {currency: EUR, import: {price_per_kwh: 0.30}, export: {price_per_kwh: 0.08}}
      carbon: {g_per_kwh: 380}          # or {csv: grid_mix.csv, column: g_per_kwh}
      baseline_threshold_w: 5000        # optional
      power_quality: {nominal_voltage_v: 230, voltage_channels: [grid/Voltage]}  # optional
      battery: {capacity_wh: 10000, soh_channel: battery/SohEstimate}            # optional

Power quality is reported for every site (defaults: 230 V, ``grid/Voltage`` and
``grid/Frequency``); battery health only for a site with a ``battery`` entry,
whose nominal capacity it needs.

An edge without an entry is reported in UTC, without cost or carbon.
Relative CSV paths are relative to the file's folder.
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ems.errors import ConfigError
from ems.reports.battery_health import BatteryHealthConfig
from ems.reports.power_quality import PowerQualityConfig
from ems.tariff import Tariff, TariffConfig
from ems.timeseries import read_csv_series, resolve_path

__all__ = ["CarbonConfig", "ReportSite", "SiteEntry", "load_sites_file"]

#: gCO2 per kWh of grid energy at a UTC epoch second.
CarbonAt = Callable[[float], float]


_DEFAULT_POWER_QUALITY = PowerQualityConfig()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CarbonConfig(_Strict):
    """Grid-mix emission factor: a constant, or an hourly CSV column (each row holds
    until the next), in gCO2/kWh."""

    g_per_kwh: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    csv: str | None = Field(default=None, min_length=1)
    column: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.g_per_kwh is None) == (self.csv is None):
            raise ValueError("give exactly one of g_per_kwh or csv")
        if (self.csv is None) != (self.column is None):
            raise ValueError("csv and column go together")
        return self


class SiteEntry(_Strict):
    timezone: str = "UTC"
    tariff: TariffConfig | None = None
    carbon: CarbonConfig | None = None
    baseline_threshold_w: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    power_quality: PowerQualityConfig = PowerQualityConfig()
    battery: BatteryHealthConfig | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


@dataclass(frozen=True, slots=True)
class ReportSite:
    """A site entry made ready: prices and carbon factors as functions of time."""

    name: str
    timezone: zoneinfo.ZoneInfo
    tariff: Tariff | None
    carbon_g_per_kwh: CarbonAt | None
    carbon_source: str | None  # "constant 380 g/kWh" or the CSV's file name
    baseline_threshold_w: float | None
    power_quality: PowerQualityConfig = _DEFAULT_POWER_QUALITY
    battery: BatteryHealthConfig | None = None

    @classmethod
    def build(cls, name: str, entry: SiteEntry, base_dir: Path | str) -> ReportSite:
        """Read price and carbon CSVs now; errors name the site and the field."""
        try:
            tariff = (
                None
                if entry.tariff is None
                else Tariff.from_config(entry.tariff, entry.timezone, base_dir)
            )
            carbon, source = _carbon(entry.carbon, base_dir)
        except ConfigError as exc:
            raise ConfigError(f"site {name}: {exc}") from None
        return cls(
            name,
            zoneinfo.ZoneInfo(entry.timezone),
            tariff,
            carbon,
            source,
            entry.baseline_threshold_w,
            entry.power_quality,
            entry.battery,
        )

    def with_overrides(
        self, carbon: CarbonConfig | None, baseline_threshold_w: float | None, base_dir: Path
    ) -> ReportSite:
        """The same site with the carbon source or threshold given on a command line."""
        at, source = self.carbon_g_per_kwh, self.carbon_source
        if carbon is not None:
            at, source = _carbon(carbon, base_dir)
        threshold = (
            self.baseline_threshold_w if baseline_threshold_w is None else baseline_threshold_w
        )
        return dataclasses.replace(
            self, carbon_g_per_kwh=at, carbon_source=source, baseline_threshold_w=threshold
        )


def _carbon(
    config: CarbonConfig | None, base_dir: Path | str
) -> tuple[CarbonAt | None, str | None]:
    if config is None:
        return None, None
    if config.g_per_kwh is not None:
        constant = config.g_per_kwh
        return (lambda _t: constant), f"constant {constant:g} gCO2/kWh"
    assert config.csv is not None
    assert config.column is not None
    path = resolve_path(config.csv, base_dir)
    try:
        series = read_csv_series(path, [config.column], {config.column: 0.0})
    except ConfigError as exc:
        raise ConfigError(f"carbon.csv: {exc}") from None
    return series[config.column].step, f"{path.name} ({config.column}, gCO2/kWh)"


def load_sites_file(path: Path) -> dict[str, ReportSite]:
    """The cloud's sites file (module docstring); ``ConfigError`` names what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of edge ids to sites")
    sites: dict[str, ReportSite] = {}
    for edge_id, body in raw.items():
        try:
            entry = SiteEntry.model_validate(body or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{path}: site {edge_id}: {where}: {first['msg']}") from None
        sites[str(edge_id)] = ReportSite.build(str(edge_id), entry, path.parent)
    return sites
