"""What every simulated device is: a pure model stepped by time.

A simulator never touches the DAL, threads or the clock itself: the
:class:`~ems.devices.host.SimulationHost` reads its setpoints, calls
:meth:`Simulator.step` with the current time, and publishes what it returns.
That keeps the physics testable as plain functions of time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from ems.dal import Sample, Value
from ems.registry import Registry

__all__ = [
    "SIMULATORS",
    "BalanceRole",
    "GridSimulator",
    "MeterEnergy",
    "Simulator",
    "SimulatorConfig",
    "SiteContext",
    "balance_role_of",
    "register_simulator",
    "setpoint_timeout_s",
]


class BalanceRole(StrEnum):
    """How a device's ``ActivePower`` enters the site balance ``load = grid + pv + battery``."""

    GENERATION = "generation"  # ActivePower >= 0 produced (PV)
    CONSUMPTION = "consumption"  # ActivePower >= 0 consumed (load)
    STORAGE = "storage"  # ActivePower > 0 discharging, < 0 charging (battery)
    GRID = "grid"  # the grid connection point closes the balance
    NONE = "none"  # not part of the balance


# The one place a device profile's role in the balance is stated: simulators take
# theirs from here, and the simulated grid meter counts a measured (driver) device
# of these profiles with the same role, so both enter the balance with one sign.
_PROFILE_ROLES: dict[str, BalanceRole] = {
    "battery": BalanceRole.STORAGE,
    "pv_inverter": BalanceRole.GENERATION,
    "load_meter": BalanceRole.CONSUMPTION,
    "grid_meter": BalanceRole.GRID,
}


def balance_role_of(profile: str) -> BalanceRole:
    """How a device of ``profile`` (its type name, e.g. ``battery``) enters the balance."""
    return _PROFILE_ROLES.get(profile, BalanceRole.NONE)


class SimulatorConfig(BaseModel):
    """Base of every simulator's parameters; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0


@dataclass(frozen=True, slots=True)
class SiteContext:
    """Facts about the site every simulator may need."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    timezone: str  # IANA name, e.g. "Europe/Berlin"
    # Run heavy model computations (PV's pvlib day profile) in a short-lived
    # child process, so a long-running edge never holds pvlib, pandas and
    # numpy in memory (about 120 MB). Off for ``ems simulate``, where speed counts.
    isolate_models: bool = False
    # Relative file names in a device's params (a replay CSV) are relative to
    # the folder of the config file that named them, not to the working directory.
    config_dir: str = "."


class Simulator(ABC):
    """A device model. Subclasses set ``type_name``, ``config_model`` and ``balance_role``."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[SimulatorConfig]]
    balance_role: ClassVar[BalanceRole] = BalanceRole.NONE

    def __init__(self, device_id: str, config: SimulatorConfig, site: SiteContext) -> None:
        self.device_id = device_id
        self.site = site

    @classmethod
    def create(
        cls, device_id: str, config: SimulatorConfig, site: SiteContext, profile: str
    ) -> Simulator:
        """The simulator of a device with ``profile`` (its type name, e.g. ``load_meter``).

        Most simulators model one kind of device and ignore ``profile``; one whose
        model depends on it (``replay`` plays load, PV or grid data) overrides
        this, raising :class:`~ems.errors.ConfigError` for a profile it cannot play.
        """
        return cls(device_id, config, site)

    @abstractmethod
    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        """Advance the model to ``now_s`` (UTC epoch s) after ``dt_s`` seconds.

        ``setpoints`` holds the device's output channels by channel name (e.g.
        ``SetActivePower``), as last written by the control cycle. Returns the
        device's input channels by channel name (e.g. ``{"Soc": 55.0}``).
        """


class GridSimulator(Simulator):
    """The grid connection point: it also closes the site balance."""

    balance_role: ClassVar[BalanceRole] = balance_role_of("grid_meter")

    @abstractmethod
    def close_balance(self, now_s: float, net_site_w: float) -> dict[str, Value]:
        """Channels (at least ``ActivePower``) for a net site demand of ``net_site_w``.

        ``net_site_w`` = consumption - generation - storage discharge, in W, so
        the grid imports (> 0) what the site needs and exports (< 0) its surplus.
        Called after every publish of a balance device (a simulator's step or a
        driver's poll, on that device's thread, one at a time), so it must be
        cheap and must not advance any random state.
        """


@dataclass(slots=True)
class MeterEnergy:
    """A grid meter's energy counters [Wh], both positive and cumulative."""

    import_wh: float = 0.0
    export_wh: float = 0.0

    def add(self, power_w: float, dt_s: float) -> None:
        """Count ``power_w`` (> 0 import, < 0 export) flowing for ``dt_s``."""
        energy_wh = power_w * dt_s / 3600.0
        if energy_wh > 0:
            self.import_wh += energy_wh
        else:
            self.export_wh -= energy_wh


SIMULATORS: Registry[Simulator] = Registry("simulator", "ems.devices")

S = TypeVar("S", bound=type[Simulator])


def register_simulator(cls: S) -> S:
    """Class decorator: make a simulator available to the edge config by ``type_name``."""
    SIMULATORS.add(cls.type_name, cls)
    return cls


def setpoint_timeout_s(configured_s: float, step_s: float) -> float:
    """How old a setpoint may be before a device stepped every ``step_s`` falls back.

    A device stepped once a minute (``ems simulate`` at a 60 s cycle) first sees a
    setpoint a minute after the cycle wrote it, so a 10 s watchdog would drop every
    command; as a real inverter's watchdog is set above its controller's write
    interval, the timeout is at least two steps.
    """
    return max(configured_s, 2.0 * step_s)
