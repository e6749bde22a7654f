"""Replay simulators: a device's power, or the grid's voltage and frequency, from a CSV.

Signs and units as the other simulators (DESIGN.md §3): load ``ActivePower`` >= 0
consumed, PV ``ActivePower`` >= 0 produced, grid ``ActivePower`` > 0 importing;
W, Wh, V, Hz; time in UTC epoch seconds. Like them, ``ActiveEnergy`` integrates
the power of the interval that just ended (the power chosen at the previous
step), so energy = Σ power × step whatever the step.

One registered type, ``replay``, plays whichever profile the device has: the
runtime calls :meth:`ReplaySimulator.create` with it, which picks the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from ems.dal import Sample, Value
from ems.devices.base import (
    BalanceRole,
    GridSimulator,
    MeterEnergy,
    Simulator,
    SimulatorConfig,
    SiteContext,
    balance_role_of,
    register_simulator,
    setpoint_timeout_s,
)
from ems.devices.pv_inverter.model import limit_w
from ems.devices.replay.config import ReplayConfig
from ems.errors import ConfigError
from ems.timeseries import Series, read_csv_series, resolve_path

__all__ = [
    "ReplayGridSimulator",
    "ReplayLoadSimulator",
    "ReplayPvSimulator",
    "ReplaySimulator",
]


@register_simulator
class ReplaySimulator(Simulator):
    """Plays a CSV for a ``load_meter``, ``pv_inverter`` or ``grid_meter`` device."""

    type_name: ClassVar[str] = "replay"
    config_model: ClassVar[type[SimulatorConfig]] = ReplayConfig

    @classmethod
    def create(
        cls, device_id: str, config: SimulatorConfig, site: SiteContext, profile: str
    ) -> Simulator:
        assert isinstance(config, ReplayConfig)
        model = _MODELS.get(profile)
        if model is None:
            raise ConfigError(
                f"profile: a replay device plays {', '.join(sorted(_MODELS))}, not {profile!r}"
            )
        return model(device_id, config, site)


def _path(config: ReplayConfig, site: SiteContext) -> Path:
    return resolve_path(config.csv, site.config_dir)


def _read(config: ReplayConfig, site: SiteContext, columns: Mapping[str, str]) -> dict[str, Series]:
    """The series of ``columns`` (param name -> column), errors prefixed with ``params.csv``."""
    try:
        return read_csv_series(
            _path(config, site), list(columns.values()), dict.fromkeys(columns.values(), 0.0)
        )
    except ConfigError as exc:
        raise ConfigError(f"params.csv: {exc}") from None


def _power_series(config: ReplayConfig, site: SiteContext, profile: str) -> Series:
    for name in ("voltage_column", "frequency_column"):
        if getattr(config, name) is not None:
            raise ConfigError(f"params.{name}: only a grid_meter replay plays it, not a {profile}")
    if config.column is None:
        raise ConfigError(f"params.column: a {profile} replay needs its power column (W)")
    return _read(config, site, {"column": config.column})[config.column]


class _PowerReplay(ReplaySimulator):
    """A load or PV power played from the CSV (scaled), integrated into ``ActiveEnergy``."""

    profile: ClassVar[str]

    def __init__(self, device_id: str, config: ReplayConfig, site: SiteContext) -> None:
        super().__init__(device_id, config, site)
        self.config = config
        self._series = _power_series(config, site, self.profile)
        self._power_w = 0.0  # chosen at the last step, flows until the next one
        self._energy_wh = 0.0

    def recorded_w(self, now_s: float) -> float:
        """The recorded power at ``now_s`` (W, >= 0), scaled."""
        return self._series.linear(now_s) * self.config.scale

    def _integrate(self, dt_s: float) -> None:
        if dt_s > 0:
            self._energy_wh += self._power_w * dt_s / 3600.0


class ReplayLoadSimulator(_PowerReplay):
    profile: ClassVar[str] = "load_meter"
    balance_role: ClassVar[BalanceRole] = balance_role_of("load_meter")

    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        self._integrate(dt_s)
        self._power_w = self.recorded_w(now_s)
        return {"ActivePower": self._power_w, "ActiveEnergy": self._energy_wh}


class ReplayPvSimulator(_PowerReplay):
    """Recorded PV output as the available power; curtailed by ``SetActivePowerLimit``.

    A recording has no inverter model: it gives no reactive power (``MaxReactivePower``
    0 var, ``SetReactivePower`` ignored) and its rating is the recording's peak.
    """

    profile: ClassVar[str] = "pv_inverter"
    balance_role: ClassVar[BalanceRole] = balance_role_of("pv_inverter")

    def __init__(self, device_id: str, config: ReplayConfig, site: SiteContext) -> None:
        super().__init__(device_id, config, site)
        self._rated_va = max(self._series.values)

    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        self._integrate(dt_s)
        available = self.recorded_w(now_s)
        limit = limit_w(setpoints, now_s, setpoint_timeout_s(self.config.setpoint_timeout_s, dt_s))
        self._power_w = available if limit is None else min(available, limit)
        voltage = self.config.nominal_voltage_v
        return {
            "ActivePower": self._power_w,
            "ActiveEnergy": self._energy_wh,
            "Voltage": voltage,
            "Current": self._power_w / voltage,
            "AvailablePower": available,
            "ReactivePower": 0.0,
            "MaxReactivePower": 0.0,
            "RatedApparentPower": self._rated_va,
        }


class ReplayGridSimulator(ReplaySimulator, GridSimulator):
    """Grid voltage and frequency played from the CSV; the power closes the site balance."""

    profile: ClassVar[str] = "grid_meter"

    def __init__(self, device_id: str, config: ReplayConfig, site: SiteContext) -> None:
        super().__init__(device_id, config, site)
        self.config = config
        if config.column is not None:
            raise ConfigError(
                "params.column: a grid_meter's power closes the site balance; "
                "replay voltage_column and/or frequency_column"
            )
        columns = {
            name: column
            for name in ("voltage_column", "frequency_column")
            if (column := getattr(config, name)) is not None
        }
        if not columns:
            raise ConfigError(
                "params.voltage_column: a grid_meter replay needs voltage_column "
                "and/or frequency_column"
            )
        series = _read(config, site, columns)
        self._voltage = series.get(config.voltage_column or "")
        self._frequency = series.get(config.frequency_column or "")
        self._held_w = 0.0  # ActivePower at the last step, flows until the next one
        self._net_w = 0.0
        self._energy = MeterEnergy()

    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        if dt_s > 0:
            self._energy.add(self._held_w, dt_s)
        channels = self.close_balance(now_s, self._net_w)
        self._held_w = self._net_w
        frequency = self._frequency
        channels["Frequency"] = (
            self.config.nominal_frequency_hz if frequency is None else frequency.linear(now_s)
        )
        channels["ActiveEnergyImport"] = self._energy.import_wh
        channels["ActiveEnergyExport"] = self._energy.export_wh
        return channels

    def close_balance(self, now_s: float, net_site_w: float) -> dict[str, Value]:
        self._net_w = net_site_w
        voltage = self._voltage
        return {
            "ActivePower": net_site_w,
            "Voltage": self.config.nominal_voltage_v if voltage is None else voltage.linear(now_s),
        }


_MODELS: dict[str, type[ReplaySimulator]] = {
    m.profile: m for m in (ReplayLoadSimulator, ReplayPvSimulator, ReplayGridSimulator)
}
