"""What every device driver is: blocking I/O to one real device, run off the cycle.

A driver fills the same profile channels a simulator does, so controllers and
the cloud cannot tell them apart. It never touches the DAL, threads or the
clock itself: the :class:`~ems.drivers.host.DriverHost` runs each driver on its
own thread, calls :meth:`Driver.read` every ``poll_s``, publishes what it
returns, and hands it the cycle's setpoints through :meth:`Driver.write`.

A new protocol is a new folder under ``ems/drivers/`` whose ``__init__``
imports a class decorated with :func:`register_driver`; a new device type on an
existing protocol (Modbus) is a template file, no code.

Errors: a driver raises :class:`~ems.errors.DeviceTimeout` when the device
does not answer (the host retries with backoff, then marks the device
``CommunicationFailed``) and :class:`~ems.errors.DeviceRefused` when it
answers with an error. Errors of the vendor library are translated at this
boundary; nothing else escapes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ems.clock import Clock, RealClock
from ems.dal import Value
from ems.profiles import DeviceProfile
from ems.registry import Registry

__all__ = [
    "DRIVERS",
    "Driver",
    "DriverConfig",
    "DriverContext",
    "Reading",
    "register_driver",
]


class DriverConfig(BaseModel):
    """Parameters every driver takes; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    poll_s: float = Field(default=1.0, gt=0, le=3600, description="Read period [s]")
    timeout_s: float = Field(default=0.5, gt=0, le=60, description="Per request [s]")
    retries: int = Field(
        default=2, ge=0, le=10, description="Attempts after the first, per poll or write"
    )
    backoff_s: float = Field(
        default=0.05, ge=0, le=10, description="Wait before the first retry, doubled each [s]"
    )


@dataclass(frozen=True, slots=True)
class DriverContext:
    """Facts about the edge a driver may need."""

    # A user's own templates are looked up here (the folder of the edge YAML).
    config_dir: Path = Path()
    # The edge's clock, for drivers whose device talks unasked (a CAN BMS broadcasts):
    # they stamp what arrives and judge its age by it, so tests can drive time.
    clock: Clock = field(default_factory=RealClock)
    # The local address TCP connections to devices leave from (None: the OS picks). An HA
    # edge gives its own, so a device (and its write log) can tell the two edges apart.
    source_host: str | None = None


@dataclass(slots=True)
class Reading:
    """One poll: the input channels read (by channel name) and what could not be read."""

    values: dict[str, Value] = field(default_factory=dict)
    #: Channel name -> why it was not read (the device refused that register).
    refused: dict[str, str] = field(default_factory=dict)


class Driver(ABC):
    """One real device. Subclasses set ``type_name`` and ``config_model``.

    Every method is called from the driver's own thread only, never two at once.
    """

    type_name: ClassVar[str]
    config_model: ClassVar[type[DriverConfig]] = DriverConfig

    def __init__(
        self, device_id: str, config: DriverConfig, profile: DeviceProfile, context: DriverContext
    ) -> None:
        self.device_id = device_id
        self.config = config
        self.profile = profile
        self.context = context

    @classmethod
    def create(
        cls, device_id: str, config: DriverConfig, profile: DeviceProfile, context: DriverContext
    ) -> Driver:
        """The driver for a device; raises :class:`~ems.errors.ConfigError` or
        :class:`~ems.errors.TemplateError` when its params do not fit the profile."""
        return cls(device_id, config, profile, context)

    @abstractmethod
    def read(self) -> Reading:
        """Read every input channel once; connects first when not connected.

        Raises :class:`~ems.errors.DeviceTimeout` when the device does not answer.
        """

    @abstractmethod
    def write(self, channel: str, value: Value) -> None:
        """Write one output channel (e.g. ``SetActivePower`` in W); connects when needed.

        Raises :class:`~ems.errors.DeviceTimeout` or :class:`~ems.errors.DeviceRefused`.
        """

    def writable(self) -> frozenset[str]:
        """The output channels this device takes (others are never sent to it)."""
        return frozenset()

    def extra_channels(self) -> Mapping[str, str | None]:
        """Input channels (name -> unit) this driver publishes beyond its profile's.

        The host declares them, as it does ``CommunicationFailed``; a CAN BMS adds
        its pack ``Voltage`` and cell temperatures, which the profile does not have.
        """
        return {}

    def close(self) -> None:  # noqa: B027 - most drivers hold a connection; some do not
        """Drop the connection; the next read or write connects again."""

    def describe(self) -> Mapping[str, Value]:
        """What to log about this device (address, template), for operators."""
        return {}


DRIVERS: Registry[Driver] = Registry("driver", "ems.drivers")

D = TypeVar("D", bound=type[Driver])


def register_driver(cls: D) -> D:
    """Class decorator: make a driver available to the edge config by ``type_name``."""
    DRIVERS.add(cls.type_name, cls)
    return cls
