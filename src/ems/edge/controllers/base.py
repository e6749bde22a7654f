"""The controller interface and its registry.

Controllers are pure: they read the cycle's snapshot and write through the
cycle's context; no I/O, no sleeping, no clock reads of their own. They may keep
state between cycles (e.g. a held setpoint).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from ems.edge.context import CycleContext
from ems.profiles import DeviceProfile
from ems.registry import Registry

if TYPE_CHECKING:
    from ems.tariff import Tariff

__all__ = [
    "CONTROLLERS",
    "Controller",
    "ControllerParams",
    "ControllerSite",
    "SiteController",
    "register_controller",
]


@dataclass(frozen=True, slots=True)
class ControllerSite:
    """Facts about the site a controller may need beyond its devices."""

    timezone: str = "UTC"  # IANA name: local times in params are this zone's
    config_dir: Path = Path()  # relative file names in params are relative to it
    tariff: Tariff | None = None  # what energy costs here (None: no ``tariff:`` block)
    #: Heavy work a controller would do off the cycle's thread (the optimiser's solve)
    #: is done inline instead: set by ``ems simulate``, whose virtual clock must not
    #: depend on how fast a thread runs (the result is then a function of the inputs).
    inline_work: bool = False


class ControllerParams(BaseModel):
    """Base of every controller's parameters; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Controller(ABC):
    """Subclasses set ``type_name`` and ``config_model`` and implement :meth:`run`."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[ControllerParams]] = ControllerParams
    #: Parameters an operator may change at runtime (``set_controller``); none by default.
    settable_params: ClassVar[tuple[str, ...]] = ()
    #: Settable parameter -> the one it must stay strictly below (advertised to the cloud).
    settable_below: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: ControllerParams,
        devices: Mapping[str, DeviceProfile],
    ) -> None:
        self.id = controller_id
        self.priority = priority
        self.devices = devices
        self.params = params
        #: Parameters changed at runtime, by name: saved with the durable state.
        self.settings: dict[str, Any] = {}

    def close(self) -> None:
        """Release what the controller holds beyond the cycle (a thread, a connection):
        called when the edge stops and when a pushed config replaces the controller.
        Start such things in :meth:`run`, not in the constructor, so a controller built
        only to check a config never starts them. Default: nothing to release."""
        return  # deliberately empty: most controllers hold nothing

    def reconfigure(self, params: ControllerParams) -> None:
        """Take new, already validated parameters (from ``set_controller``); they apply
        from the next :meth:`run`. Override to reset state that depends on them."""
        self.params = params

    @classmethod
    def create(
        cls,
        controller_id: str,
        priority: int,
        params: ControllerParams,
        devices: Mapping[str, DeviceProfile],
        site: ControllerSite,
    ) -> Self:
        """Build it for the edge; ``site`` is ignored here. A controller that needs it
        (local times, files, the tariff) derives from :class:`SiteController`."""
        return cls(controller_id, priority, params, devices)

    def request_channels(self) -> Iterable[str]:
        """The ``ui_requests/…`` channels this controller serves (none by default).

        The cycle takes pending requests off these channels at its start and
        hands them to the controller in ``ctx.requests``.
        """
        return ()

    def status_channels(self) -> Mapping[str, str | None]:
        """This controller's own channels, name -> unit, declared as
        ``<controller id>/<name>`` (none by default); set with ``ctx.status``."""
        return {}

    def durable_state(self) -> Mapping[str, Any] | None:
        """JSON-able state that must survive an edge restart, or ``None`` (the default).

        The edge saves it whenever it changes, before the cycle's acks go out,
        and hands it back to :meth:`restore_state` at the next start.
        """
        return None

    def restore_state(self, state: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """Take back what :meth:`durable_state` returned before a restart."""

    def command_failed(self, command_id: str) -> None:  # noqa: B027 - optional hook
        """A command answered ``executed`` did not reach its device (the write failed).

        Its final status is ``failed``, and a failed command stays unexecuted: a
        controller that holds its value drops it here, so a device that comes
        back is never given it later.
        """

    @abstractmethod
    def run(self, ctx: CycleContext) -> None:
        """Decide this cycle's outputs from ``ctx.snapshot``."""


class SiteController(Controller):
    """A controller that needs the site beyond its devices (local time, files next to
    the config, the tariff): the edge builds it with the site, as ``self.site``."""

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: ControllerParams,
        devices: Mapping[str, DeviceProfile],
        site: ControllerSite | None = None,
    ) -> None:
        super().__init__(controller_id, priority, params, devices)
        self.site = ControllerSite() if site is None else site

    @classmethod
    def create(
        cls,
        controller_id: str,
        priority: int,
        params: ControllerParams,
        devices: Mapping[str, DeviceProfile],
        site: ControllerSite,
    ) -> Self:
        if not isinstance(params, cls.config_model):  # the edge validated them with it
            raise TypeError(
                f"{cls.type_name} takes {cls.config_model.__name__}, not {type(params).__name__}"
            )
        return cls(controller_id, priority, params, devices, site)


CONTROLLERS: Registry[Controller] = Registry("controller", "ems.edge.controllers")

C = TypeVar("C", bound=type[Controller])


def register_controller(cls: C) -> C:
    """Class decorator: make a controller available to the edge config by ``type_name``."""
    CONTROLLERS.add(cls.type_name, cls)
    return cls
